package attachments

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/gabriel-vasile/mimetype"
)

// MaxFileNameBytes caps a stored file name (the common file-system limit).
const MaxFileNameBytes = 255

// SanitizeFileName turns the name a client gave into one safe to store and
// to offer back for download: only the last path element (of either
// separator), no control or invisible formatting characters (such as the
// right-to-left override that makes "exe.pdf" read as "fdp.exe"), none of
// the characters Windows reserves, no leading or trailing dots and spaces,
// valid UTF-8, at most MaxFileNameBytes bytes with the extension kept. It
// returns "" when nothing usable is left.
func SanitizeFileName(name string) string {
	name = strings.ToValidUTF8(name, "")
	if i := strings.LastIndexAny(name, `/\`); i >= 0 {
		name = name[i+1:]
	}
	name = strings.Map(func(r rune) rune {
		switch {
		case unicode.IsControl(r), unicode.Is(unicode.Cf, r), r == utf8.RuneError:
			return -1
		case strings.ContainsRune(`<>:"|?*`, r):
			return '_'
		case unicode.IsSpace(r):
			return ' '
		}
		return r
	}, name)
	name = strings.Trim(name, ". ")
	if len(name) <= MaxFileNameBytes {
		return name
	}
	ext := ""
	if i := strings.LastIndexByte(name, '.'); i > 0 && len(name)-i <= 16 {
		ext = name[i:]
	}
	stem := name[:len(name)-len(ext)]
	cut := MaxFileNameBytes - len(ext)
	for cut > 0 && !utf8.RuneStart(stem[cut]) {
		cut--
	}
	return strings.TrimRight(stem[:cut], ". ") + ext
}

// ContentDisposition is the header value that makes a browser save the
// file as name: a quoted ASCII fallback for old clients and the exact name
// as RFC 8187 UTF-8 percent-encoding in filename*.
func ContentDisposition(name string) string {
	var ascii, enc strings.Builder
	for _, r := range name {
		switch {
		case r < 0x20 || r == 0x7f || r == '"' || r == '\\' || r > 0x7e:
			ascii.WriteByte('_')
		default:
			ascii.WriteRune(r)
		}
	}
	const hex = "0123456789ABCDEF"
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c < 0x80 && (c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("!#$&+-.^_`|~", c) >= 0) {
			enc.WriteByte(c)
			continue
		}
		enc.WriteByte('%')
		enc.WriteByte(hex[c>>4])
		enc.WriteByte(hex[c&15])
	}
	return `attachment; filename="` + ascii.String() + `"; filename*=UTF-8''` + enc.String()
}

// DefaultFileName names a file that came without a usable name after its
// content type: "attachment.pdf".
func DefaultFileName(contentType string) string {
	if m := mimetype.Lookup(strings.TrimSpace(strings.Split(contentType, ";")[0])); m != nil {
		return "attachment" + m.Extension()
	}
	return "attachment"
}
