package mailparse

import (
	"regexp"
	"strings"
)

// What marks the start of the message a reply quotes. Mail clients write
// these in the sender's language; Italian and English come first here,
// then the languages an Italian office also receives.
var (
	// "-----Original Message-----", "----Messaggio originale----"
	originalSepRE = regexp.MustCompile(`(?i)^\s*-{2,}\s*(original message|messaggio originale|ursprüngliche nachricht|message d'origine|mensaje original|oorspronkelijk bericht)\s*-{2,}\s*$`)
	// "---------- Forwarded message ---------", "Inizio messaggio inoltrato:"
	forwardSepRE = regexp.MustCompile(`(?i)^\s*(-{2,}\s*(forwarded message|messaggio inoltrato|weitergeleitete nachricht|message transféré|mensaje reenviado)\s*-{2,}|(begin forwarded message|inizio messaggio inoltrato|messaggio inoltrato)\s*:)\s*$`)
	// "Il giorno lun 2 mar 2026 alle ore 10:00 Mario Rossi <...> ha scritto:"
	attributionEndRE   = regexp.MustCompile(`(?i)(wrote|ha scritto|hanno scritto|a écrit|schrieb|escribió|escreveu|skrev|schreef|napisał)\s*:\s*$`)
	attributionStartRE = regexp.MustCompile(`(?i)^\s*(on|il|am|le|el|em|op|den|w dniu)\s`)
	// An Outlook header block: "Da: ... / Inviato: ... / A: ... / Oggetto: ...".
	headerFromRE    = regexp.MustCompile(`(?i)^\s*\*?\s*(from|da|von|de|van)\s*:\*?\s*\S`)
	headerDateRE    = regexp.MustCompile(`(?i)^\s*\*?\s*(sent|inviato|date|data|gesendet|envoyé|enviado|datum)\s*:`)
	headerSubjectRE = regexp.MustCompile(`(?i)^\s*\*?\s*(subject|oggetto|ogg|betreff|objet|asunto|onderwerp)\s*:`)
	underscoresRE   = regexp.MustCompile(`^\s*_{10,}\s*$`)
	// "Inviato da iPhone", "Sent from my Android", "Scarica Outlook per iOS".
	mobileSigRE      = regexp.MustCompile(`(?i)^\s*(inviato da|inviato dal mio|sent from|sent with|get outlook for|scarica outlook per|ottieni outlook per|von meinem|envoyé de mon|enviado desde)\b.{0,80}$`)
	forwardSubjectRE = regexp.MustCompile(`(?i)^\s*(\[[^\]]*\]\s*)*(fwd?|fw|i|inoltro|inoltrato|tr|wg|rv|enc)\s*:`)
)

// isForward reports whether a subject says the message forwards another
// ("I: ...", "Fwd: ..."): a forward's quoted part is its content.
func isForward(subject string) bool { return forwardSubjectRE.MatchString(subject) }

// trimReply returns what the author of a message wrote: text without the
// message it replies to and without the signature. It handles top posting
// (the original after an attribution line or an Outlook header block,
// quoted or not) and bottom or interleaved posting (quoted lines among the
// author's). A forward is left whole. When nothing would be left, the
// whole text is returned: trimming must never lose a message.
func trimReply(text string, forward bool) string {
	text = strings.TrimSpace(text)
	if forward || text == "" {
		return text
	}
	lines := strings.Split(text, "\n")
	head := lines
	quoteMode := false
	attrStart, attrEnd := -1, -1
scan:
	for i, line := range lines {
		if isQuoted(line) {
			continue
		}
		switch {
		case forwardSepRE.MatchString(line):
			return text // forwarded content is what was sent
		case originalSepRE.MatchString(line):
			head = lines[:i]
			break scan
		case headerFromRE.MatchString(line) && outlookBlock(lines, i):
			cut := i
			for j := i - 1; j >= 0; j-- {
				if strings.TrimSpace(lines[j]) == "" {
					continue
				}
				if underscoresRE.MatchString(lines[j]) {
					cut = j
				}
				break
			}
			head = lines[:cut]
			break scan
		case len(line) < 300 && attributionEndRE.MatchString(line):
			start := i
			for j := i; j >= 0 && j >= i-2; j-- {
				if j < i && (strings.TrimSpace(lines[j]) == "" || isQuoted(lines[j])) {
					break
				}
				if attributionStartRE.MatchString(lines[j]) {
					start = j
					break
				}
			}
			if next := nextNonBlank(lines, i+1); next >= 0 && isQuoted(lines[next]) {
				quoteMode, attrStart, attrEnd = true, start, i
			} else {
				head = lines[:start]
			}
			break scan
		}
	}
	head = dropQuoted(head, quoteMode || hasQuoted(head), attrStart, attrEnd)
	head = dropSignature(head)
	out := strings.TrimSpace(collapseBlank(head))
	if out == "" {
		return text
	}
	return out
}

func isQuoted(line string) bool { return strings.HasPrefix(strings.TrimLeft(line, " \t"), ">") }

func hasQuoted(lines []string) bool {
	for _, l := range lines {
		if isQuoted(l) {
			return true
		}
	}
	return false
}

func nextNonBlank(lines []string, from int) int {
	for j := from; j < len(lines); j++ {
		if strings.TrimSpace(lines[j]) != "" {
			return j
		}
	}
	return -1
}

// outlookBlock reports whether the lines after a "From:" line are the rest
// of a header block: a date and a subject within the next few lines.
func outlookBlock(lines []string, i int) bool {
	date, subject := false, false
	for j := i + 1; j < len(lines) && j <= i+6; j++ {
		date = date || headerDateRE.MatchString(lines[j])
		subject = subject || headerSubjectRE.MatchString(lines[j])
	}
	return date && subject
}

// dropQuoted removes quoted lines, and the attribution lines from
// attrStart to attrEnd, when quoted is set.
func dropQuoted(lines []string, quoted bool, attrStart, attrEnd int) []string {
	if !quoted {
		return lines
	}
	out := make([]string, 0, len(lines))
	for i, l := range lines {
		if isQuoted(l) || (i >= attrStart && i <= attrEnd) {
			continue
		}
		out = append(out, l)
	}
	return out
}

// dropSignature cuts at the signature separator ("-- ") or at a mobile
// client's "Sent from" line among the last few lines.
func dropSignature(lines []string) []string {
	for i, l := range lines {
		if l == "-- " || l == "--" {
			return lines[:i]
		}
	}
	cut, nonBlank := len(lines), 0
	for i := len(lines) - 1; i >= 0 && nonBlank <= 3; i-- {
		if strings.TrimSpace(lines[i]) == "" {
			continue
		}
		nonBlank++
		if mobileSigRE.MatchString(lines[i]) {
			cut = i
		}
	}
	return lines[:cut]
}

// collapseBlank joins lines, right-trimmed, with at most one blank line
// in a row.
func collapseBlank(lines []string) string {
	var b strings.Builder
	blank := 0
	for _, l := range lines {
		l = strings.TrimRight(l, " \t")
		if l == "" {
			blank++
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('\n')
			if blank > 0 {
				b.WriteByte('\n')
			}
		}
		blank = 0
		b.WriteString(l)
	}
	return b.String()
}
