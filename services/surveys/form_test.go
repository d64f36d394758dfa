package surveys

import (
	"net/url"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestParseForm(t *testing.T) {
	q := Default
	q.Version = 3
	tests := []struct {
		name string
		form url.Values
		want Answer
		errs []FieldError
	}{
		{"minimal", url.Values{"ease": {"4"}}, Answer{Version: 3, Ease: 4}, nil},
		{"low with difficulty", url.Values{"ease": {"2"}, "difficulty": {"technical_problems"}, "preferred": {"clear_instructions"}, "resolved": {"no"}},
			Answer{Version: 3, Ease: 2, Aspect: "technical_problems", Resolved: "no"}, nil},
		{"high with preferred, difficulty dropped", url.Values{"ease": {"5"}, "difficulty": {"other"}, "preferred": {"sure_progress"}, "comment": {" ok \r\n grazie "}},
			Answer{Version: 3, Ease: 5, Aspect: "sure_progress", Comment: "ok \n grazie"}, nil},
		{"missing ease", url.Values{"resolved": {"yes"}}, Answer{Version: 3, Resolved: "yes"}, []FieldError{{FieldEase, ReasonRequired}}},
		{"everything wrong", url.Values{"ease": {"6"}, "comment": {"a\x00b"}, "resolved": {"forse"}}, Answer{Version: 3},
			[]FieldError{{FieldEase, ReasonInvalid}, {FieldComment, ReasonControlCharacters}, {FieldResolved, ReasonInvalid}}},
		{"unknown option", url.Values{"ease": {"1"}, "difficulty": {"clear_instructions"}}, Answer{Version: 3, Ease: 1}, []FieldError{{FieldDifficulty, ReasonInvalid}}},
		{"too long", url.Values{"ease": {"3"}, "comment": {strings.Repeat("è", MaxCommentRunes+1)}}, Answer{Version: 3, Ease: 3}, []FieldError{{FieldComment, ReasonTooLong}}},
		{"not a number", url.Values{"ease": {"tre"}}, Answer{Version: 3}, []FieldError{{FieldEase, ReasonInvalid}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, errs := ParseForm(tt.form, q)
			if got != tt.want || !slices.Equal(errs, tt.errs) {
				t.Fatalf("ParseForm = %+v %v, want %+v %v", got, errs, tt.want, tt.errs)
			}
		})
	}
}

// FuzzParseForm: any urlencoded body either yields field errors or an
// answer within the questionnaire's bounds; it never panics.
func FuzzParseForm(f *testing.F) {
	for _, s := range []string{"ease=2&difficulty=other&comment=ciao&resolved=yes", "ease=5&preferred=clear_instructions",
		"ease=%00&comment=%ff%fe", "ease=3&ease=4", "version=99&ease=-1", ""} {
		f.Add(s)
	}
	q := Default
	q.Version = 1
	f.Fuzz(func(t *testing.T, body string) {
		v, err := url.ParseQuery(body)
		if err != nil {
			return
		}
		a, errs := ParseForm(v, q)
		_ = ParseVersion(v)
		if len(errs) > 0 {
			return
		}
		if a.Ease < 1 || a.Ease > 5 || a.Version != 1 {
			t.Fatalf("answer %+v out of bounds for %q", a, body)
		}
		if a.Aspect != "" && !slices.ContainsFunc(q.AspectOptions(a.Ease), func(o Option) bool { return o.Code == a.Aspect }) {
			t.Fatalf("aspect %q does not belong to ease %d", a.Aspect, a.Ease)
		}
		if !utf8.ValidString(a.Comment) || utf8.RuneCountInString(a.Comment) > MaxCommentRunes {
			t.Fatalf("comment %q out of bounds", a.Comment)
		}
		switch a.Resolved {
		case "", ResolvedYes, ResolvedPartly, ResolvedNo:
		default:
			t.Fatalf("resolved %q", a.Resolved)
		}
	})
}
