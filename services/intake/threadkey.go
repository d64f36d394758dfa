package intake

import (
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"
)

// Thread keys tie an inbound contact to an earlier conversation. Channels
// put them in InboundContact.thread_keys; intake looks them up and, when
// one names a case of the same contact, appends the contact to that case
// instead of opening a new one. Two forms exist:
//
//	ref:2026-000123     a case reference, as channels find it in a subject
//	                    tag "[2026-000123]" or a portal's "follow up" form
//	msg:<external id>   the external id of a message stored on a case: the
//	                    Message-ID of an e-mail (In-Reply-To, References),
//	                    of one of our replies, a social conversation id
//
// Build keys with RefKey and MessageKey, never by hand.
const (
	refPrefix = "ref:"
	msgPrefix = "msg:"
)

// ThreadKeyKind says what a thread key names.
type ThreadKeyKind string

const (
	KeyReference ThreadKeyKind = "ref" // a case reference
	KeyMessage   ThreadKeyKind = "msg" // the external id of a stored message
)

// ThreadKey is a parsed thread key.
type ThreadKey struct {
	Kind  ThreadKeyKind
	Value string // the reference, or the external id
}

// String is the key's wire form.
func (k ThreadKey) String() string { return string(k.Kind) + ":" + k.Value }

// referenceRE is a case reference: the year, a dash, the per-year number
// of at least six digits.
var referenceRE = regexp.MustCompile(`^[0-9]{4}-[0-9]{6,9}$`)

// referenceTagRE finds "[2026-000123]" in a subject line.
var referenceTagRE = regexp.MustCompile(`\[([0-9]{4}-[0-9]{6,9})\]`)

// maxThreadKeys bounds the keys of one contact intake looks at: an e-mail's
// References header can be long, and the newest ids come last.
const maxThreadKeys = 20

// RefKey is the thread key of a case reference ("2026-000123"); "" when
// ref is not one.
func RefKey(ref string) string {
	ref = strings.TrimSpace(ref)
	if !referenceRE.MatchString(ref) {
		return ""
	}
	return refPrefix + ref
}

// MessageKey is the thread key of a message's external id (an e-mail
// Message-ID with or without its angle brackets, a chat message id); ""
// when the id is empty or too long.
func MessageKey(externalID string) string {
	id := strings.TrimSpace(externalID)
	if id == "" || len(id) > maxIDBytes {
		return ""
	}
	return msgPrefix + id
}

// ReferencesInSubject returns the thread keys of the case references
// tagged in a subject line ("Re: [2026-000123] Microdati").
func ReferencesInSubject(subject string) []string {
	var keys []string
	for _, m := range referenceTagRE.FindAllStringSubmatch(subject, 5) {
		keys = append(keys, refPrefix+m[1])
	}
	return keys
}

// ParseThreadKey reads one thread key. A "msg:" key keeps its id as sent
// (external ids are compared exactly), apart from surrounding spaces.
func ParseThreadKey(s string) (ThreadKey, error) {
	s = strings.TrimSpace(s)
	switch {
	case !utf8.ValidString(s) || strings.ContainsRune(s, 0):
		return ThreadKey{}, fmt.Errorf("thread key %q: not valid UTF-8 text", s)
	case strings.HasPrefix(s, refPrefix):
		ref := strings.TrimSpace(s[len(refPrefix):])
		if !referenceRE.MatchString(ref) {
			return ThreadKey{}, fmt.Errorf("thread key %q: a reference looks like 2026-000123", s)
		}
		return ThreadKey{Kind: KeyReference, Value: ref}, nil
	case strings.HasPrefix(s, msgPrefix):
		id := strings.TrimSpace(s[len(msgPrefix):])
		if id == "" || len(id) > maxIDBytes {
			return ThreadKey{}, fmt.Errorf("thread key %q: the message id must be 1 to %d bytes", s, maxIDBytes)
		}
		return ThreadKey{Kind: KeyMessage, Value: id}, nil
	}
	return ThreadKey{}, fmt.Errorf("thread key %q: want ref:<reference> or msg:<external id>", s)
}

// parseThreadKeys keeps the valid, distinct keys of a contact, the last
// maxThreadKeys of them. Unknown or malformed keys are ignored: a channel
// may send keys a later version understands.
func parseThreadKeys(raw []string) []ThreadKey {
	if len(raw) > maxThreadKeys {
		raw = raw[len(raw)-maxThreadKeys:]
	}
	var out []ThreadKey
	seen := map[ThreadKey]bool{}
	for _, s := range raw {
		k, err := ParseThreadKey(s)
		if err != nil || seen[k] {
			continue
		}
		seen[k] = true
		out = append(out, k)
	}
	return out
}
