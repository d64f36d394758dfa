// Package phone writes telephone numbers one way, so that the same person
// is found whichever channel gave the number: a PBX's caller id
// ("0646731", "3331234567"), a web form ("+39 333 123 4567",
// "0039 333..."), WhatsApp's wa_id ("393331234567") or Telegram's shared
// contact. Numbers become E.164-like strings: "+" and digits, with the
// Italian country code for national numbers.
package phone

import "strings"

// Normalise returns "+<digits>" for s, or "" when s holds no usable number.
// Spaces, dots, dashes, slashes and parentheses are dropped; a leading
// "00" is the international prefix; a number without one that looks
// Italian (starting with 0 or 3, at most 11 digits) gets +39; any other
// run of digits is taken as already international (WhatsApp and Telegram
// give numbers that way, without the "+"). Letters make it unusable ("",
// as for "anonymous" caller ids), and so do fewer than 6 digits (an
// extension, a short code).
func Normalise(s string) string {
	s = strings.TrimSpace(s)
	plus := strings.HasPrefix(s, "+")
	var b strings.Builder
	for i, r := range s {
		switch {
		case r >= '0' && r <= '9':
			b.WriteRune(r)
		case r == '+' && i == 0:
		case r == ' ' || r == '.' || r == '-' || r == '/' || r == '(' || r == ')' || r == '\u00a0':
		default:
			return ""
		}
	}
	d := b.String()
	switch {
	case len(d) < 6 || len(d) > 17: // shorter: an extension or a short code
		return ""
	case plus:
		return "+" + d
	case strings.HasPrefix(d, "00"):
		if len(d) < 8 {
			return ""
		}
		return "+" + d[2:]
	case (d[0] == '0' || d[0] == '3') && len(d) <= 11:
		return "+39" + d
	}
	return "+" + d
}
