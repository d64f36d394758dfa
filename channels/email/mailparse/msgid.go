package mailparse

import (
	"strings"

	"github.com/sportello/sportello/channels/threadkey"
)

// maxReferences caps the References kept. A long thread keeps its root
// (the first) and the most recent ones, which are what threading matches.
const maxReferences = 100

// msgIDs reads the message ids of a Message-ID, In-Reply-To or References
// field, without their angle brackets. Real mail has ids without brackets,
// ids with spaces or without "@", comments and stray text: an id is what
// is between "<" and ">", or, when the field has no brackets at all, each
// word. Ids that cannot be thread keys are dropped and reported as
// malformed.
func msgIDs(v string) (ids []string, malformed bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return nil, false
	}
	var words []string
	if strings.ContainsAny(v, "<>") {
		for {
			i := strings.IndexByte(v, '<')
			if i < 0 {
				break
			}
			j := strings.IndexByte(v[i+1:], '>')
			if j < 0 {
				malformed = true
				words = append(words, v[i+1:])
				break
			}
			words = append(words, v[i+1:i+1+j])
			v = v[i+1+j+1:]
		}
	} else {
		words = strings.FieldsFunc(v, func(r rune) bool { return r == ' ' || r == '\t' || r == ',' })
	}
	for _, w := range words {
		w = strings.TrimSpace(w)
		// An id with spaces inside its brackets is broken folding more
		// often than not: the spaces are not part of it.
		w = strings.Join(strings.Fields(w), "")
		if w == "" || len(w) > threadkey.MaxIDBytes || clean(w, threadkey.MaxIDBytes) != w || threadkey.Message(w) == "" {
			malformed = true
			continue
		}
		ids = append(ids, w)
	}
	return ids, malformed
}

// keepReferences keeps the root and the newest references when there are
// more than maxReferences.
func keepReferences(ids []string) []string {
	if len(ids) <= maxReferences {
		return ids
	}
	out := append([]string{ids[0]}, ids[len(ids)-(maxReferences-1):]...)
	return out
}
