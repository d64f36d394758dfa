package surveys

import (
	"fmt"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"
)

// Text is a text in Italian (required) and English.
type Text struct {
	IT string `json:"it"`
	EN string `json:"en"`
}

// In returns the text in lang ("it" or "en"), Italian when there is no
// English.
func (t Text) In(lang string) string {
	if lang == "en" && t.EN != "" {
		return t.EN
	}
	return t.IT
}

// Option is one choice of a question.
type Option struct {
	Code  string `json:"code"`
	Label Text   `json:"label"`
}

// Questionnaire is one version of the questionnaire. Its shape is fixed
// (the Designers Italia rating plus "was your request resolved?"); an
// administrator's new version changes the texts and the options.
type Questionnaire struct {
	Version   int       `json:"-"`
	CreatedAt time.Time `json:"-"`
	CreatedBy string    `json:"-"`

	EaseQuestion         Text     `json:"ease_question"`
	DifficultiesQuestion Text     `json:"difficulties_question"`
	Difficulties         []Option `json:"difficulties"`
	PreferredQuestion    Text     `json:"preferred_question"`
	Preferred            []Option `json:"preferred"`
	CommentQuestion      Text     `json:"comment_question"`
	ResolvedQuestion     Text     `json:"resolved_question"`
}

// Default is version 1: the Designers Italia rating component's wording
// (designers.italia.it, "rating" in the UI kit for public services).
var Default = Questionnaire{
	EaseQuestion:         Text{"Quanto è stato facile usare questo servizio?", "How easy was it to use this service?"},
	DifficultiesQuestion: Text{"Dove hai incontrato le maggiori difficoltà?", "Where did you find the greatest difficulties?"},
	Difficulties: []Option{
		{"unclear_instructions", Text{"A volte le indicazioni non erano chiare", "Sometimes the instructions were not clear"}},
		{"incomplete_instructions", Text{"A volte le indicazioni non erano complete", "Sometimes the instructions were not complete"}},
		{"unsure_progress", Text{"A volte non capivo se stavo procedendo correttamente", "Sometimes I could not tell whether I was proceeding correctly"}},
		{"technical_problems", Text{"Ho avuto problemi tecnici", "I had technical problems"}},
		{"other", Text{"Altro", "Other"}},
	},
	PreferredQuestion: Text{"Quali sono stati gli aspetti che hai preferito?", "What did you like best?"},
	Preferred: []Option{
		{"clear_instructions", Text{"Le indicazioni erano chiare", "The instructions were clear"}},
		{"complete_instructions", Text{"Le indicazioni erano complete", "The instructions were complete"}},
		{"sure_progress", Text{"Capivo sempre che stavo procedendo correttamente", "I always knew I was proceeding correctly"}},
		{"no_technical_problems", Text{"Non ho avuto problemi tecnici", "I had no technical problems"}},
		{"other", Text{"Altro", "Other"}},
	},
	CommentQuestion:  Text{"Vuoi aggiungere altri dettagli?", "Would you like to add any details?"},
	ResolvedQuestion: Text{"La tua richiesta è stata risolta?", "Was your request resolved?"},
}

var codeRE = regexp.MustCompile(`^[a-z0-9_]{1,40}$`)

// MaxOptions bounds each option list.
const MaxOptions = 10

// Validate reports every problem of q at once.
func (q Questionnaire) Validate() error {
	var probs []string
	text := func(name string, t Text) {
		if strings.TrimSpace(t.IT) == "" {
			probs = append(probs, name+".it is required")
		}
		for _, s := range []string{t.IT, t.EN} {
			if !utf8.ValidString(s) || utf8.RuneCountInString(s) > 300 {
				probs = append(probs, name+" must be valid UTF-8 of at most 300 characters")
			}
		}
	}
	options := func(name string, os []Option) {
		if len(os) == 0 || len(os) > MaxOptions {
			probs = append(probs, fmt.Sprintf("%s needs 1 to %d options", name, MaxOptions))
		}
		seen := map[string]bool{}
		for i, o := range os {
			if !codeRE.MatchString(o.Code) {
				probs = append(probs, fmt.Sprintf("%s[%d].code must match [a-z0-9_]{1,40}", name, i))
			}
			if seen[o.Code] {
				probs = append(probs, fmt.Sprintf("%s[%d].code %q is repeated", name, i, o.Code))
			}
			seen[o.Code] = true
			text(fmt.Sprintf("%s[%d].label", name, i), o.Label)
		}
	}
	text("ease_question", q.EaseQuestion)
	text("difficulties_question", q.DifficultiesQuestion)
	options("difficulties", q.Difficulties)
	text("preferred_question", q.PreferredQuestion)
	options("preferred", q.Preferred)
	text("comment_question", q.CommentQuestion)
	text("resolved_question", q.ResolvedQuestion)
	if len(probs) > 0 {
		return fmt.Errorf("%w: %s", ErrInvalidArgument, strings.Join(probs, "; "))
	}
	return nil
}

// AspectOptions are the follow-up options shown for an ease rating.
func (q Questionnaire) AspectOptions(ease int) []Option {
	if ease >= 4 {
		return q.Preferred
	}
	return q.Difficulties
}
