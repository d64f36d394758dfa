// Package threading holds the subject rules of e-mail threading: the
// normalised subject that "same sender, same subject within N days"
// matching compares, and the case reference tag Sportello puts in the
// subjects of its replies. The format of a reference is channels/threadkey's;
// this package only finds it in, and adds it to, subject lines.
package threading

import (
	"regexp"
	"strings"
	"unicode"

	"github.com/sportello/sportello/channels/threadkey"
	"golang.org/x/text/cases"
	"golang.org/x/text/unicode/norm"
)

// replyPrefixRE matches one reply or forward marker at the start of a
// subject, as the clients Sportello meets write them: English and Italian
// (Re, R, Fwd, Fw, I, Inoltro, Rif), German (AW, WG), Scandinavian (SV,
// VS), French (TR, Réf), Spanish (RV), with a counter ("Re[2]:",
// "Re(3):"), a space before the colon, or a full-width colon; and the
// subject prefixes of PEC envelopes and receipts and of Outlook's
// automatic replies, which carry the subject they are about.
var replyPrefixRE = regexp.MustCompile(`(?i)^\s*(re|r|rif|ref|réf|aw|sv|vs|antw|fwd?|fw|i|inoltro|inoltrato|wg|tr|rv|enc|posta certificata|anomalia messaggio|accettazione|avvenuta consegna|consegna|mancata consegna|risposta automatica|automatic reply|auto(?:matische)? ?(?:reply|antwort))\s*(\[\d+\]|\(\d+\))?\s*[:：]`)

// bracketRE matches one bracketed marker: "[EXT]", "[SPAM]", a list's
// "[lista-ufficio]", our "[2026-000123]".
var bracketRE = regexp.MustCompile(`^\s*\[([^\[\]]{0,64})\]`)

// anyBracketRE finds bracketed groups anywhere, to remove the case
// reference tags that are not at the start.
var anyBracketRE = regexp.MustCompile(`\[([^\[\]]{0,64})\]`)

// maxSubjectBytes caps what is normalised: no real subject is longer, and
// the work stays bounded.
const maxSubjectBytes = 2048

// NormalizeSubject folds a subject into the form two messages of one
// conversation share: without reply and forward markers (repeated, in any
// language Sportello meets), without leading bracketed markers ("[EXT]",
// a mailing list's tag) and case reference tags wherever they are, with
// white space collapsed and case folded. An empty result means the
// subject says nothing, and must not be matched on. Normalising a
// normalised subject changes nothing.
func NormalizeSubject(subject string) string {
	s := strings.ToValidUTF8(subject, "")
	if len(s) > maxSubjectBytes {
		s = strings.ToValidUTF8(s[:maxSubjectBytes], "")
	}
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) {
			return ' '
		}
		return r
	}, s)
	// Fold first, so that what is stripped is judged on the final text.
	// Folding handles ß and the like; lower-casing after it makes the
	// result stable (x/text folds Cherokee lower case to upper and back),
	// and NFC after both recomposes what folding decomposed (ΐ).
	s = norm.NFC.String(strings.ToLower(cases.Fold().String(norm.NFC.String(s))))
	s = strings.Join(strings.Fields(s), " ")
	// Each pass strips at least one marker, or ends: removing a tag from
	// the middle can bring a marker to the start ("[ [2026-000123] ] Re:").
	for {
		before := s
		for {
			if loc := replyPrefixRE.FindStringIndex(s); loc != nil {
				s = s[loc[1]:]
				continue
			}
			if loc := bracketRE.FindStringIndex(s); loc != nil {
				s = s[loc[1]:]
				continue
			}
			break
		}
		s = anyBracketRE.ReplaceAllStringFunc(s, func(m string) string {
			if threadkey.Ref(m[1:len(m)-1]) != "" {
				return " "
			}
			return m
		})
		s = strings.Join(strings.Fields(s), " ")
		if s == before {
			return s
		}
	}
}

// Reference is the first case reference tagged in a subject
// ("Re: [2026-000123] Microdati" → "2026-000123"), "" when there is none.
func Reference(subject string) string {
	for _, k := range threadkey.InSubject(subject) {
		if key, err := threadkey.Parse(k); err == nil && key.Kind == threadkey.KindRef {
			return key.Value
		}
	}
	return ""
}

// TagSubject puts the case reference tag in a reply's subject, once:
// "Microdati" → "[2026-000123] Microdati". A subject already tagged with
// this reference is returned as it is.
func TagSubject(subject, reference string) string {
	if threadkey.Ref(reference) == "" {
		return subject
	}
	for _, k := range threadkey.InSubject(subject) {
		if k == threadkey.Ref(reference) {
			return subject
		}
	}
	return strings.TrimSpace("[" + reference + "] " + subject)
}
