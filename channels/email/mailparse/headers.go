package mailparse

import (
	"fmt"
	"io"
	"mime"
	"net/mail"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/emersion/go-message"
	"github.com/emersion/go-message/textproto"
	"golang.org/x/text/encoding/charmap"

	"github.com/sportello/sportello/services/attachments"
)

// maxSubjectBytes caps a subject; a real one is a line.
const maxSubjectBytes = 1000

// envelope is what the header of a message (the top one or a forwarded
// one) says about it.
type envelope struct {
	messageID      string
	inReplyTo      []string
	references     []string
	from           Address
	to, cc         []Address
	replyTo        []Address
	deliveredTo    []Address
	xOriginalTo    []Address
	returnPath     string
	nullReturnPath bool
	date           time.Time
	subject        string
}

// envelope reads the header fields Sportello uses. prefix names the
// message in problems ("" for the top one).
func (p *parser) envelope(h textproto.Header, prefix string) envelope {
	var env envelope
	if v := h.Get("Message-Id"); v != "" {
		ids, bad := msgIDs(v)
		if len(ids) > 0 {
			env.messageID = ids[0]
		} else if bad {
			p.problem(fmt.Sprintf("%sthe Message-ID %q is not usable; the message is treated as having none", prefix, clean(v, 80)))
		}
	}
	env.inReplyTo, _ = msgIDs(strings.Join(h.Values("In-Reply-To"), " "))
	refs, _ := msgIDs(strings.Join(h.Values("References"), " "))
	env.references = keepReferences(refs)

	if from := p.addresses(h, "From", prefix); len(from) > 0 {
		env.from = from[0]
	}
	env.to = p.addresses(h, "To", prefix)
	env.cc = p.addresses(h, "Cc", prefix)
	env.replyTo = p.addresses(h, "Reply-To", prefix)
	env.deliveredTo = p.addresses(h, "Delivered-To", prefix)
	env.xOriginalTo = p.addresses(h, "X-Original-To", prefix)

	// The final MTA adds Return-Path at the top; a message relayed again
	// may carry older ones below it.
	if h.Has("Return-Path") {
		rp := strings.TrimSpace(h.Get("Return-Path"))
		addr := strings.TrimSpace(strings.Trim(rp, "<>"))
		if addr == "" {
			env.nullReturnPath = true
		} else {
			env.returnPath = normalAddress(addr)
		}
	}
	if v := h.Get("Date"); v != "" {
		if t, ok := parseDate(v); ok {
			env.date = t
		} else {
			p.problem(fmt.Sprintf("%sthe Date %q could not be read", prefix, clean(v, 80)))
		}
	}
	env.subject = headerText(h.Get("Subject"), maxSubjectBytes)
	return env
}

// addresses reads every field named key (a message may repeat To) as one
// address list, within MaxAddresses.
func (p *parser) addresses(h textproto.Header, key, prefix string) []Address {
	values := h.Values(key)
	if len(values) == 0 {
		return nil
	}
	list := ParseAddressList(strings.Join(values, ", "), p.lim.MaxAddresses)
	if list.Total > p.lim.MaxAddresses {
		p.truncated(fmt.Sprintf("%sthe %s field lists %s addresses; the limit is %s: the addresses after the %s were ignored",
			prefix, key, count(list.Total), count(p.lim.MaxAddresses), ordinal(p.lim.MaxAddresses)))
	}
	if list.Malformed {
		if len(list.Addresses) > 0 {
			p.problem(fmt.Sprintf("%sthe %s field %q is malformed; the addresses in it were salvaged", prefix, key, clean(strings.Join(values, ", "), 80)))
		} else {
			p.problem(fmt.Sprintf("%sthe %s field %q holds no readable address", prefix, key, clean(strings.Join(values, ", "), 80)))
		}
	}
	return list.Addresses
}

// wordDecoder decodes RFC 2047 encoded words in any charset go-message's
// charset package knows. A word in a charset nobody knows keeps its bytes
// (headerText then reads them as UTF-8 or Windows-1252): "Oggetto strano"
// is a better subject than "=?x-unknown?Q?Oggetto_strano?=".
var wordDecoder = mime.WordDecoder{CharsetReader: func(cs string, r io.Reader) (io.Reader, error) {
	if message.CharsetReader != nil {
		if dr, err := message.CharsetReader(strings.ToLower(cs), r); err == nil {
			return dr, nil
		}
	}
	return r, nil
}}

// headerText decodes an unstructured header value: RFC 2047 encoded words
// (B and Q, any mix of charsets), and raw 8-bit text, which old or broken
// mailers send in UTF-8 or, when it is not valid UTF-8, in Windows-1252.
func headerText(v string, max int) string {
	if v == "" {
		return ""
	}
	if d, err := wordDecoder.DecodeHeader(v); err == nil {
		v = d
	}
	if !utf8.ValidString(v) {
		v = decodeWindows1252([]byte(v))
	}
	return clean(v, max)
}

func decodeWindows1252(b []byte) string {
	s, err := charmap.Windows1252.NewDecoder().Bytes(b)
	if err != nil {
		return strings.ToValidUTF8(string(b), "\uFFFD")
	}
	return string(s)
}

// dateLayouts are the forms of Date net/mail refuses that mailers use.
var dateLayouts = []string{
	"Mon, 2 Jan 2006 15:04:05 -0700 MST",
	"Mon, 2 Jan 2006 15:04 -0700",
	"Mon, 2 Jan 2006 15:04:05 MST",
	"2 Jan 2006 15:04:05 -0700",
	"Mon, 2 Jan 06 15:04:05 -0700",
	"Mon Jan 2 15:04:05 2006",
	"Mon Jan 2 15:04:05 -0700 2006",
	"Monday, January 2, 2006 3:04 PM",
	"2006-01-02 15:04:05 -0700",
	time.RFC3339,
}

var dateCommentRE = regexp.MustCompile(`\s*\([^()]*\)\s*$`)

func parseDate(v string) (time.Time, bool) {
	v = clean(v, 200)
	if t, err := mail.ParseDate(v); err == nil {
		return t, true
	}
	v = dateCommentRE.ReplaceAllString(v, "")
	v = strings.ReplaceAll(v, ",  ", ", ")
	for _, l := range dateLayouts {
		if t, err := time.Parse(l, v); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

// lenientParamRE finds a parameter in a Content-Type or
// Content-Disposition that mime.ParseMediaType refused.
var lenientParamRE = regexp.MustCompile(`(?i)(?:^|;)\s*(boundary|charset|name|filename|format|delsp|report-type)\s*=\s*("[^"]*"|[^;]*)`)

// contentType reads the Content-Type of a part: lower-case media type and
// parameters (RFC 2231 continuations joined, RFC 2047 words in names
// decoded). A broken one is read leniently, since a lost boundary loses
// every part after it; a missing one is text/plain (RFC 2045 §5.2).
func (p *parser) contentType(h textproto.Header, path string) (string, map[string]string) {
	v := h.Get("Content-Type")
	if strings.TrimSpace(v) == "" {
		return "text/plain", map[string]string{}
	}
	mt, params, err := parseParams(v)
	if err != nil && !strings.Contains(mt, "/") {
		p.problem(fmt.Sprintf("%s has the malformed Content-Type %q; it was read as text/plain", partName(path), clean(v, 80)))
		return "text/plain", params
	}
	return mt, params
}

func (p *parser) disposition(h textproto.Header, path string) (string, map[string]string) {
	v := h.Get("Content-Disposition")
	if strings.TrimSpace(v) == "" {
		return "", map[string]string{}
	}
	d, params, _ := parseParams(v)
	return d, params
}

// parseParams is mime.ParseMediaType made lenient: when it fails, the
// value before the first ";" is the type and the parameters that matter
// are picked out one by one.
func parseParams(v string) (string, map[string]string, error) {
	mt, params, err := mime.ParseMediaType(v)
	if err != nil {
		mt = strings.ToLower(strings.TrimSpace(strings.SplitN(v, ";", 2)[0]))
		params = map[string]string{}
		for _, m := range lenientParamRE.FindAllStringSubmatch(v, 20) {
			k := strings.ToLower(m[1])
			if _, ok := params[k]; !ok {
				params[k] = strings.Trim(strings.TrimSpace(m[2]), `"`)
			}
		}
	}
	for _, k := range []string{"name", "filename"} {
		if n, ok := params[k]; ok {
			params[k] = headerText(n, 1024)
		}
	}
	return mt, params, err
}

func contentID(h textproto.Header) string {
	v := strings.TrimSpace(h.Get("Content-Id"))
	if v == "" {
		return ""
	}
	return clean(strings.Trim(v, "<>"), 256)
}

// fileName is the sanitised name of an attachment, or one made from its
// type when the sender gave none.
func fileName(name, mt string) string {
	if n := attachments.SanitizeFileName(name); n != "" {
		return n
	}
	switch mt {
	case "text/calendar":
		return "invite.ics"
	case "message/rfc822", "message/global":
		return "message.eml"
	case "application/ms-tnef":
		return "winmail.dat"
	}
	return attachments.DefaultFileName(mt)
}

// toUTF8 finishes the charset conversion go-message started. Text that
// declares UTF-8 or ASCII (or nothing, or a charset nobody knows) is kept
// when it is valid UTF-8; otherwise it is the Windows-1252 of old Italian
// mailers (a superset of ISO-8859-1's printable range), or, for HTML that
// declares nothing, whatever its <meta charset> says. mislabelled is set
// when a declared UTF-8 or ASCII body was not.
func toUTF8(data []byte, declared string, unknown bool, mt string) (s string, mislabelled bool) {
	cs := strings.ToLower(strings.TrimSpace(declared))
	switch {
	case cs != "" && cs != "utf-8" && cs != "us-ascii" && !unknown:
		// go-message converted it.
		return string(data), false
	case utf8.Valid(data):
		return string(data), false
	case cs == "" && mt == "text/html":
		return htmlToUTF8(data), false
	}
	return decodeWindows1252(data), cs == "utf-8" || cs == "us-ascii"
}
