package mailparse

import (
	"regexp"
	"strings"
	"unicode"

	"github.com/emersion/go-message/mail"
)

// AddressList is what ParseAddressList read of one address field.
type AddressList struct {
	Addresses []Address // at most the max asked for
	Total     int       // addresses found, those past max included
	// Malformed is set when some of the field could not be read as
	// RFC 5322 addresses and was salvaged or skipped.
	Malformed bool
}

// maxAddressBytes bounds one address (RFC 5321 allows 64+1+255).
const maxAddressBytes = 320

// ParseAddressList reads an address field (From, To, Cc, Reply-To, ...)
// as mail clients write it, which is often not as RFC 5322 says: a bad
// entry does not lose the good ones. It keeps at most max addresses; RFC
// 2047 encoded names are decoded. Groups ("undisclosed-recipients:;")
// give their members, or nothing.
func ParseAddressList(field string, max int) AddressList {
	var out AddressList
	field = strings.TrimSpace(field)
	if field == "" {
		return out
	}
	add := func(name, addr string) {
		addr = normalAddress(addr)
		if addr == "" {
			return
		}
		out.Total++
		if len(out.Addresses) < max {
			out.Addresses = append(out.Addresses, Address{Name: cleanName(name), Address: addr})
		}
	}
	if list, err := mail.ParseAddressList(field); err == nil {
		for _, a := range list {
			add(a.Name, a.Address)
		}
		return out
	}
	// One bad entry makes the standard parser refuse the whole list:
	// read the entries one by one, and take what looks like an address
	// out of those that still fail.
	out.Malformed = true
	for _, entry := range splitAddressList(field) {
		if strings.TrimSpace(entry) == "" {
			continue
		}
		if a, err := mail.ParseAddress(entry); err == nil {
			add(a.Name, a.Address)
			continue
		}
		addrs := looseAddressRE.FindAllString(entry, -1)
		for _, addr := range addrs {
			name := ""
			if len(addrs) == 1 {
				name = strings.TrimSpace(strings.NewReplacer(addr, "", "<", "", ">", "", `"`, "").Replace(entry))
			}
			add(name, addr)
		}
	}
	return out
}

// looseAddressRE finds something shaped like local@domain in text that is
// not a valid address list.
var looseAddressRE = regexp.MustCompile(`[^\s<>()\[\]"',;:@]+@[^\s<>()\[\]"',;:@]+`)

// splitAddressList splits an address field at the commas and semicolons
// that are outside quotes, angle brackets and comments.
func splitAddressList(s string) []string {
	var out []string
	quoted, angle, comment, escaped := false, false, 0, false
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case escaped:
			escaped = false
		case c == '\\':
			escaped = true
		case quoted:
			quoted = c != '"'
		case c == '"':
			quoted = true
		case c == '(':
			comment++
		case c == ')' && comment > 0:
			comment--
		case comment > 0:
		case c == '<':
			angle = true
		case c == '>':
			angle = false
		case (c == ',' || c == ';') && !angle:
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}

// normalAddress lower-cases the domain (the local part is the receiving
// server's business) and refuses what cannot be an address. A quoted
// local part with spaces ("a b"@example.org) is valid RFC 5322 that no
// citizen uses, and net/mail returns it unquoted: it is refused too.
func normalAddress(addr string) string {
	addr = strings.Trim(strings.TrimSpace(addr), "<>")
	at := strings.LastIndexByte(addr, '@')
	if at <= 0 || at == len(addr)-1 || len(addr) > maxAddressBytes || strings.ContainsFunc(addr, unicode.IsSpace) || clean(addr, maxAddressBytes) != addr {
		return ""
	}
	return addr[:at+1] + strings.ToLower(addr[at+1:])
}

// cleanName tidies a display name: no quotes around it, no control
// characters, and nothing when it only repeats the address.
func cleanName(name string) string {
	name = clean(name, 256)
	name = strings.TrimSpace(strings.Trim(name, `"'`))
	if strings.Contains(name, "@") && !strings.Contains(name, " ") {
		return ""
	}
	return name
}
