package events

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// ViewingBucket is the KV bucket of who has which case open in the
// console: key "<case id>.<hex of the viewer id>", value a JSON
// ViewingEntry. Entries expire ViewingTTL after their last refresh, so a
// closed page drops out without a goodbye; every replica sees the same.
const ViewingBucket = "CONSOLE_VIEWING"

// ViewingTTL is how long a viewer stays listed after their page last said
// it was open (the console page refreshes every 20 s).
const ViewingTTL = 45 * time.Second

// ViewingEntry is one viewer of a case.
type ViewingEntry struct {
	ID    string    `json:"id"`
	Name  string    `json:"name"`
	Since time.Time `json:"since"`
}

// Viewing records case viewers in ViewingBucket.
type Viewing struct{ kv jetstream.KeyValue }

// NewViewing creates or opens the bucket.
func NewViewing(ctx context.Context, js jetstream.JetStream, replicas int) (*Viewing, error) {
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: ViewingBucket, TTL: ViewingTTL, History: 1,
		Replicas: max(replicas, 1), Storage: jetstream.MemoryStorage,
		Description: "who has which case open in the operator console"})
	if err != nil {
		return nil, fmt.Errorf("viewing bucket: %w", err)
	}
	return &Viewing{kv: kv}, nil
}

var caseKey = regexp.MustCompile(`^[A-Za-z0-9_-]{1,100}$`)

// ErrBadCaseID refuses a case id that cannot be a key token.
var ErrBadCaseID = errors.New("case id not usable as a key")

// Put says that e is looking at the case now.
func (v *Viewing) Put(ctx context.Context, caseID string, e ViewingEntry) error {
	if !caseKey.MatchString(caseID) {
		return ErrBadCaseID
	}
	e.Since = time.Now().UTC()
	b, _ := json.Marshal(e)
	_, err := v.kv.Put(ctx, caseID+"."+hex.EncodeToString([]byte(e.ID)), b)
	return err
}

// List returns who looked at the case within ViewingTTL.
func (v *Viewing) List(ctx context.Context, caseID string) ([]ViewingEntry, error) {
	if !caseKey.MatchString(caseID) {
		return nil, ErrBadCaseID
	}
	w, err := v.kv.WatchFiltered(ctx, []string{caseID + ".*"}, jetstream.IgnoreDeletes())
	if err != nil {
		return nil, err
	}
	defer func() { _ = w.Stop() }()
	var out []ViewingEntry
	cutoff := time.Now().Add(-ViewingTTL)
	for {
		select {
		case e, ok := <-w.Updates():
			if !ok {
				return out, nil
			}
			if e == nil { // the current values have all been delivered
				return out, nil
			}
			var ve ViewingEntry
			if json.Unmarshal(e.Value(), &ve) == nil && ve.Since.After(cutoff) {
				out = append(out, ve)
			}
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}
