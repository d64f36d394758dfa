// Package threadkey defines the thread keys channels put in
// InboundContact.thread_keys and intake matches to cases. It is the one
// place their format lives; it imports nothing of Sportello, so channel
// adapters and services/intake can both use it.
package threadkey

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
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
//	subj:<N>d:<subject> a normalised subject (channels/email/threading): a
//	                    case of the same citizen opened with that subject
//	                    and active in the last N days; weaker than the
//	                    others, so it counts only when they match nothing
//
// Build keys with Ref, Message, Subject and InSubject, never by hand.
const (
	refPrefix  = "ref:"
	msgPrefix  = "msg:"
	subjPrefix = "subj:"
)

// Kind says what a thread key names.
type Kind string

const (
	KindRef Kind = "ref" // a case reference
	KindMsg Kind = "msg" // the external id of a stored message
	// KindSubject is a normalised subject, matched within Key.Within.
	KindSubject Kind = "subj"
)

// Key is a parsed thread key.
type Key struct {
	Kind  Kind
	Value string // the reference, the external id, or the normalised subject
	// Within is how recently a case matched by subject must have been
	// active (KindSubject only).
	Within time.Duration
}

// String is the key's wire form.
func (k Key) String() string {
	if k.Kind == KindSubject {
		return fmt.Sprintf("%s%dd:%s", subjPrefix, k.Within/(24*time.Hour), k.Value)
	}
	return string(k.Kind) + ":" + k.Value
}

// MaxSubjectBytes bounds the subject of a subject key.
const MaxSubjectBytes = 300

// maxSubjectDays bounds the window of a subject key.
const maxSubjectDays = 365

// Subject is the thread key of a normalised subject matched within the
// last days; "" when the subject is empty or too long, or days is not 1
// to 365.
func Subject(normalised string, days int) string {
	normalised = strings.TrimSpace(normalised)
	if normalised == "" || len(normalised) > MaxSubjectBytes || !utf8.ValidString(normalised) ||
		strings.ContainsRune(normalised, 0) || days < 1 || days > maxSubjectDays {
		return ""
	}
	return fmt.Sprintf("%s%dd:%s", subjPrefix, days, normalised)
}

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
	case strings.HasPrefix(s, subjPrefix):
		days, subject, ok := strings.Cut(s[len(subjPrefix):], "d:")
		n, err := strconv.Atoi(days)
		subject = strings.TrimSpace(subject)
		if !ok || err != nil || n < 1 || n > maxSubjectDays || subject == "" || len(subject) > MaxSubjectBytes {
			return Key{}, fmt.Errorf("thread key %q: want subj:<1 to %d>d:<normalised subject of at most %d bytes>", s, maxSubjectDays, MaxSubjectBytes)
		}
		return Key{Kind: KindSubject, Value: subject, Within: time.Duration(n) * 24 * time.Hour}, nil
	}
	return Key{}, fmt.Errorf("thread key %q: want ref:<reference>, msg:<external id> or subj:<N>d:<subject>", s)
}
