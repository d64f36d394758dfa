package surveys

import "regexp"

// Placeholders that replace personal data in free text.
const (
	MaskFiscalCode = "[CF]"
	MaskEmail      = "[EMAIL]"
	MaskPhone      = "[PHONE]"
	MaskIBAN       = "[IBAN]"
)

var (
	// IBAN: country, check digits, then groups of four alphanumerics
	// (spaces allowed between groups: IT60 X054 2811 1010 0000 0123 456).
	ibanRE  = regexp.MustCompile(`(?i)\b[a-z]{2}[0-9]{2}(?:[ ]?[a-z0-9]{4}){2,7}(?:[ ]?[a-z0-9]{1,4})?\b`)
	emailRE = regexp.MustCompile(`(?i)[a-z0-9._%+\-]+@[a-z0-9\-]+(?:\.[a-z0-9\-]+)*\.[a-z]{2,}`)
	// Italian personal fiscal code, including omocodia substitutions.
	fiscalRE = regexp.MustCompile(`(?i)\b[a-z]{6}[0-9lmnpqrstuv]{2}[abcdehlmprst][0-9lmnpqrstuv]{2}[a-z][0-9lmnpqrstuv]{3}[a-z]\b`)
	// A run of digits with the separators phone numbers are written with.
	phoneRE = regexp.MustCompile(`\+?[0-9](?:[0-9 .\-/()]*[0-9])?`)
)

// minPhoneDigits: a digit run this long is treated as a phone number (or
// another identifier: fiscal codes of companies, card numbers, case
// references such as 2026-000123, which would tie the answer to its case);
// shorter numbers ("3 giorni", "2026") stay.
const minPhoneDigits = 7

// Mask replaces fiscal codes, e-mail addresses, IBANs and phone numbers in
// s with placeholders. It errs on the side of masking.
func Mask(s string) string {
	for i := 0; i < 3; i++ {
		out := maskOnce(s)
		if out == s {
			break
		}
		s = out
	}
	return s
}

func maskOnce(s string) string {
	s = ibanRE.ReplaceAllStringFunc(s, func(m string) string {
		// An IBAN has digits after its check digits; "IT12 ordinary words" has
		// no run of them.
		if countDigits(m[4:]) < 6 {
			return m
		}
		return MaskIBAN
	})
	s = emailRE.ReplaceAllString(s, MaskEmail)
	s = fiscalRE.ReplaceAllString(s, MaskFiscalCode)
	s = phoneRE.ReplaceAllStringFunc(s, func(m string) string {
		if countDigits(m) < minPhoneDigits {
			return m
		}
		return MaskPhone
	})
	return s
}

func countDigits(s string) int {
	n := 0
	for _, r := range s {
		if r >= '0' && r <= '9' {
			n++
		}
	}
	return n
}

// containsPersonalData reports whether s still holds something Mask would
// mask: the fuzz tests' oracle.
func containsPersonalData(s string) bool {
	if emailRE.MatchString(s) || fiscalRE.MatchString(s) {
		return true
	}
	for _, m := range phoneRE.FindAllString(s, -1) {
		if countDigits(m) >= minPhoneDigits {
			return true
		}
	}
	for _, m := range ibanRE.FindAllString(s, -1) {
		if countDigits(m[4:]) >= 6 {
			return true
		}
	}
	return false
}
