package email

import (
	"github.com/sportello/sportello/channels/clip"
	"strings"
	"text/template"
	"unicode"
)

// AckData is what an acknowledgement template is given.
type AckData struct {
	Reference  string // "2026-000123"
	Subject    string // the case's subject
	Name       string // the citizen's name, "" when unknown
	Department string // department id
}

// defaultAcks are the built-in acknowledgements by language.
var defaultAcks = map[string]string{
	"it": `{{if .Name}}Gentile {{.Name}},{{else}}Gentile utente,{{end}}

abbiamo ricevuto la sua richiesta "{{.Subject}}" e le abbiamo assegnato il numero di pratica {{.Reference}}.
Le risponderemo al più presto. Per aggiungere informazioni risponda a questo messaggio lasciando invariato il numero [{{.Reference}}] nell'oggetto.

Questo è un messaggio automatico.`,
	"en": `{{if .Name}}Dear {{.Name}},{{else}}Dear citizen,{{end}}

we have received your request "{{.Subject}}" and registered it as case {{.Reference}}.
We will answer as soon as possible. To add information, reply to this message and keep [{{.Reference}}] in the subject.

This is an automatic message.`,
}

// RenderAck writes the acknowledgement of a new case of mailbox for
// department in lang ("it" unless "en"); ok false when the mailbox does not
// acknowledge or the template fails.
func (c Config) RenderAck(mailbox, department, lang string, d AckData) (string, bool) {
	var mb *Mailbox
	for i := range c.Mailboxes {
		if c.Mailboxes[i].Name == mailbox {
			mb = &c.Mailboxes[i]
		}
	}
	if mb == nil || !mb.Acknowledges() {
		return "", false
	}
	if lang != "en" {
		lang = "it"
	}
	text := defaultAcks[lang]
	for _, key := range []string{"default", department} {
		if t, ok := c.Acknowledgement.Templates[key][lang]; ok {
			text = t
		}
	}
	t, err := template.New("ack").Option("missingkey=error").Parse(text)
	if err != nil {
		return "", false
	}
	var b strings.Builder
	if err := t.Execute(&b, d); err != nil {
		return "", false
	}
	return b.String(), true
}

// Function words that tell Italian from English in a short text.
var (
	italianWords = words("il lo la le gli un una di del della dei delle che per con non sono è ho vorrei grazie buongiorno salve gentile cordiali saluti richiesta dati come quando dove mi ci si al alla nel nella")
	englishWords = words("the a an of to and for with not is are i would like thanks thank you hello dear regards request data how when where my me please could this that")
)

func words(s string) map[string]bool {
	m := map[string]bool{}
	for _, w := range strings.Fields(s) {
		m[w] = true
	}
	return m
}

// guessLanguage says "en" when a text reads as English rather than
// Italian, "" (Italian, the default) otherwise. It counts function words
// of the first 2,000 bytes.
func guessLanguage(text string) string {
	if len(text) > 2000 {
		text = clip.Bytes(text, 2000)
	}
	it, en := 0, 0
	for _, w := range strings.FieldsFunc(strings.ToLower(text), func(r rune) bool { return !unicode.IsLetter(r) && r != '\'' }) {
		if italianWords[w] {
			it++
		}
		if englishWords[w] {
			en++
		}
	}
	if en >= 3 && en > 2*it {
		return "en"
	}
	return ""
}
