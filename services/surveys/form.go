package surveys

import (
	"net/url"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Form field names of the survey page (web/): part of the page's contract.
const (
	FieldVersion    = "version"
	FieldEase       = "ease"
	FieldDifficulty = "difficulty" // asked for ease 1-3
	FieldPreferred  = "preferred"  // asked for ease 4-5
	FieldComment    = "comment"
	FieldResolved   = "resolved"
)

// MaxCommentRunes bounds the free-text comment.
const MaxCommentRunes = 2000

// Reasons a field is refused (web/ shows a translated text for each).
const (
	ReasonRequired          = "REQUIRED"
	ReasonInvalid           = "INVALID"
	ReasonTooLong           = "TOO_LONG"
	ReasonControlCharacters = "CONTROL_CHARACTERS"
)

// FieldError is one refused field.
type FieldError struct{ Field, Reason string }

// ParseForm reads a submitted survey form against questionnaire q (the
// version the page showed). The follow-up that does not apply to the
// chosen ease (a difficulty with 4-5, a preferred aspect with 1-3: the page
// shows both without JavaScript) is dropped. The comment is returned
// unmasked: Respond masks it. Every problem is reported at once.
func ParseForm(v url.Values, q Questionnaire) (Answer, []FieldError) {
	var errs []FieldError
	a := Answer{Version: q.Version}
	ease := strings.TrimSpace(v.Get(FieldEase))
	switch n, err := strconv.Atoi(ease); {
	case ease == "":
		errs = append(errs, FieldError{FieldEase, ReasonRequired})
	case err != nil || n < 1 || n > 5:
		errs = append(errs, FieldError{FieldEase, ReasonInvalid})
	default:
		a.Ease = n
	}
	if a.Ease > 0 {
		field := FieldDifficulty
		if a.Ease >= 4 {
			field = FieldPreferred
		}
		if code := strings.TrimSpace(v.Get(field)); code != "" {
			if !slices.ContainsFunc(q.AspectOptions(a.Ease), func(o Option) bool { return o.Code == code }) {
				errs = append(errs, FieldError{field, ReasonInvalid})
			} else {
				a.Aspect = code
			}
		}
	}
	comment := strings.TrimSpace(strings.ReplaceAll(v.Get(FieldComment), "\r\n", "\n"))
	switch {
	case !utf8.ValidString(comment):
		errs = append(errs, FieldError{FieldComment, ReasonInvalid})
	case utf8.RuneCountInString(comment) > MaxCommentRunes:
		errs = append(errs, FieldError{FieldComment, ReasonTooLong})
	case strings.ContainsFunc(comment, func(r rune) bool { return unicode.IsControl(r) && r != '\n' && r != '\t' }):
		errs = append(errs, FieldError{FieldComment, ReasonControlCharacters})
	default:
		a.Comment = comment
	}
	switch r := strings.TrimSpace(v.Get(FieldResolved)); r {
	case "", ResolvedYes, ResolvedPartly, ResolvedNo:
		a.Resolved = r
	default:
		errs = append(errs, FieldError{FieldResolved, ReasonInvalid})
	}
	return a, errs
}

// ParseVersion reads the hidden version field; 0 when absent or malformed.
func ParseVersion(v url.Values) int {
	n, err := strconv.Atoi(strings.TrimSpace(v.Get(FieldVersion)))
	if err != nil || n < 1 {
		return 0
	}
	return n
}
