// Package threadkey defines the thread keys channels put in
// InboundContact.thread_keys and intake matches to cases. It is the one
// place their format lives; it imports nothing of Sportello, so channel
// adapters and services/intake can both use it.
package threadkey

import (
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"
)

// A thread key ties an inbound contact to an earlier conversation. Intake
// looks the keys up and, when one names a case of the same citizen,
// appends the contact to that case instead of opening a new one. Two
// forms exist:
//
//	ref:2026-000123     a case reference, as channels find it in a subject
//	                    tag "[2026-000123]" or a portal's "follow up" form
//	msg:<external id>   the external id of a message stored on a case: the
//	                    Message-ID of an e-mail (In-Reply-To, References),
//	                    of one of our replies, a social conversation id
//
// Build keys with Ref, Message and InSubject, never by hand.
const (
	refPrefix = "ref:"
	msgPrefix = "msg:"
)

// Kind says what a thread key names.
type Kind string

const (
	KindRef Kind = "ref" // a case reference
	KindMsg Kind = "msg" // the external id of a stored message
)

// Key is a parsed thread key.
type Key struct {
	Kind  Kind
	Value string // the reference, or the external id
}

// String is the key's wire form.
func (k Key) String() string { return string(k.Kind) + ":" + k.Value }

// MaxIDBytes bounds the external id in a message key (intake stores
// external ids of at most this size).
const MaxIDBytes = 512

// referenceRE is a case reference: the year, a dash, the per-year number
// of at least six digits.
var referenceRE = regexp.MustCompile(`^[0-9]{4}-[0-9]{6,9}$`)

// referenceTagRE finds "[2026-000123]" in a subject line.
var referenceTagRE = regexp.MustCompile(`\[([0-9]{4}-[0-9]{6,9})\]`)

// Ref is the thread key of a case reference ("2026-000123"); "" when
// ref is not one.
func Ref(ref string) string {
	ref = strings.TrimSpace(ref)
	if !referenceRE.MatchString(ref) {
		return ""
	}
	return refPrefix + ref
}

// Message is the thread key of a message's external id (an e-mail
// Message-ID with or without its angle brackets, a chat message id); ""
// when the id is empty, too long or not text.
func Message(externalID string) string {
	id := strings.TrimSpace(externalID)
	if id == "" || len(id) > MaxIDBytes || !utf8.ValidString(id) || strings.ContainsRune(id, 0) {
		return ""
	}
	return msgPrefix + id
}

// InSubject returns the thread keys of the case references
// tagged in a subject line ("Re: [2026-000123] Microdati").
func InSubject(subject string) []string {
	var keys []string
	for _, m := range referenceTagRE.FindAllStringSubmatch(subject, 5) {
		keys = append(keys, refPrefix+m[1])
	}
	return keys
}

// Parse reads one thread key. A "msg:" key keeps its id as sent
// (external ids are compared exactly), apart from surrounding spaces.
func Parse(s string) (Key, error) {
	s = strings.TrimSpace(s)
	switch {
	case !utf8.ValidString(s) || strings.ContainsRune(s, 0):
		return Key{}, fmt.Errorf("thread key %q: not valid UTF-8 text", s)
	case strings.HasPrefix(s, refPrefix):
		ref := strings.TrimSpace(s[len(refPrefix):])
		if !referenceRE.MatchString(ref) {
			return Key{}, fmt.Errorf("thread key %q: a reference looks like 2026-000123", s)
		}
		return Key{Kind: KindRef, Value: ref}, nil
	case strings.HasPrefix(s, msgPrefix):
		id := strings.TrimSpace(s[len(msgPrefix):])
		if id == "" || len(id) > MaxIDBytes {
			return Key{}, fmt.Errorf("thread key %q: the message id must be 1 to %d bytes", s, MaxIDBytes)
		}
		return Key{Kind: KindMsg, Value: id}, nil
	}
	return Key{}, fmt.Errorf("thread key %q: want ref:<reference> or msg:<external id>", s)
}
