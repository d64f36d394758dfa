package cases

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// pageToken is the opaque next_page_token. It binds the cursor to the filter
// and order it was issued for, so a token cannot be replayed against another
// query (AIP-158).
type pageToken struct {
	ID       string    `json:"i"`
	Priority Priority  `json:"p,omitempty"`
	Due      time.Time `json:"d,omitzero"`
	Query    string    `json:"q"`
}

func queryFingerprint(q Query) string {
	parts := []string{strings.Join(q.Departments, ","), string(q.Status), q.Assignee, string(q.Order), q.Text,
		q.Priority.String(), q.ChannelKind, q.Category, q.Tag, string(q.SLAState)}
	if q.ContactID != "" {
		parts = append(parts, "contact="+q.ContactID)
	}
	h := sha256.Sum256([]byte(strings.Join(parts, "\x00")))
	return base64.RawURLEncoding.EncodeToString(h[:9])
}

func encodePageToken(q Query, last Case) string {
	b, _ := json.Marshal(pageToken{ID: last.ID, Priority: last.Priority, Due: last.SLADueAt, Query: queryFingerprint(q)})
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodePageToken(q Query, s string) (*Cursor, error) {
	if s == "" {
		return nil, nil
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	var t pageToken
	if err == nil {
		err = json.Unmarshal(b, &t)
	}
	if err != nil || t.ID == "" {
		return nil, fmt.Errorf("%w: malformed page_token", ErrInvalidArgument)
	}
	if t.Query != queryFingerprint(q) {
		return nil, fmt.Errorf("%w: page_token was issued for different filters or order", ErrInvalidArgument)
	}
	return &Cursor{ID: t.ID, Priority: t.Priority, SLADueAt: t.Due}, nil
}

// EncodePageToken is the next_page_token after last for query q, for other
// services that page through cases (a contact's cases).
func EncodePageToken(q Query, last Case) string { return encodePageToken(q, last) }

// DecodePageToken reads a token EncodePageToken issued for the same q.
func DecodePageToken(q Query, s string) (*Cursor, error) { return decodePageToken(q, s) }
