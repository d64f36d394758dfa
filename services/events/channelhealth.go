package events

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/sportello/sportello/channels"
	"github.com/sportello/sportello/services/channeladmin"
)

// ChannelHealthBucket is the KV bucket where every replica publishes what
// it saw of its channel instances: key "<hex of the replica
// name>.<kind>.<channel id>", value a JSON channeladmin.Report. Entries
// expire ChannelHealthTTL after their last refresh, so a replica that
// stopped drops out.
const ChannelHealthBucket = "CHANNEL_HEALTH"

// ChannelHealthTTL is how long a replica's report stays listed.
const ChannelHealthTTL = 45 * time.Second

// ChannelHealth is channeladmin.Board on ChannelHealthBucket.
type ChannelHealth struct{ kv jetstream.KeyValue }

var _ channeladmin.Board = (*ChannelHealth)(nil)

// NewChannelHealth creates or opens the bucket.
func NewChannelHealth(ctx context.Context, js jetstream.JetStream, replicas int) (*ChannelHealth, error) {
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: ChannelHealthBucket, TTL: ChannelHealthTTL, History: 1,
		Replicas: max(replicas, 1), Storage: jetstream.MemoryStorage,
		Description: "each replica's view of the health of its channel instances"})
	if err != nil {
		return nil, fmt.Errorf("channel health bucket: %w", err)
	}
	return &ChannelHealth{kv: kv}, nil
}

// reportJSON is a Report as stored.
type reportJSON struct {
	Replica      string    `json:"replica"`
	Kind         string    `json:"kind"`
	ID           string    `json:"id"`
	Capabilities []string  `json:"capabilities,omitempty"`
	WebhookPath  string    `json:"webhook_path,omitempty"`
	At           time.Time `json:"at"`
	LastSuccess  time.Time `json:"last_success"`
	LastError    time.Time `json:"last_error"`
	LastErr      string    `json:"last_err,omitempty"`
	Backlog      int64     `json:"backlog"`
	Received     int64     `json:"received"`
	Sent         int64     `json:"sent"`
	Errors       int64     `json:"errors"`
}

// Publish implements channeladmin.Board.
func (c *ChannelHealth) Publish(ctx context.Context, reports []channeladmin.Report) error {
	var errs []error
	for _, r := range reports {
		if !channels.ValidID(r.ID) || !channels.ValidID(r.Kind) || r.Replica == "" {
			errs = append(errs, fmt.Errorf("channel health: unusable key %q/%q/%q", r.Replica, r.Kind, r.ID))
			continue
		}
		h := r.Health
		b, _ := json.Marshal(reportJSON{Replica: r.Replica, Kind: r.Kind, ID: r.ID, Capabilities: r.Capabilities, WebhookPath: r.WebhookPath,
			At: r.At.UTC(), LastSuccess: h.LastSuccess, LastError: h.LastError, LastErr: h.LastErr, Backlog: h.Backlog,
			Received: h.Received, Sent: h.Sent, Errors: h.ErrorsCounted})
		if _, err := c.kv.Put(ctx, hex.EncodeToString([]byte(r.Replica))+"."+r.Kind+"."+r.ID, b); err != nil {
			errs = append(errs, fmt.Errorf("channel health: %w", err))
		}
	}
	return errors.Join(errs...)
}

// Withdraw implements channeladmin.Board.
func (c *ChannelHealth) Withdraw(ctx context.Context, reports []channeladmin.Report) error {
	var errs []error
	for _, r := range reports {
		if !channels.ValidID(r.ID) || !channels.ValidID(r.Kind) || r.Replica == "" {
			continue
		}
		if err := c.kv.Delete(ctx, hex.EncodeToString([]byte(r.Replica))+"."+r.Kind+"."+r.ID); err != nil {
			errs = append(errs, fmt.Errorf("channel health: %w", err))
		}
	}
	return errors.Join(errs...)
}

// List implements channeladmin.Board: the reports published within
// ChannelHealthTTL.
func (c *ChannelHealth) List(ctx context.Context) ([]channeladmin.Report, error) {
	w, err := c.kv.WatchAll(ctx, jetstream.IgnoreDeletes())
	if err != nil {
		return nil, fmt.Errorf("channel health: %w", err)
	}
	defer func() { _ = w.Stop() }()
	var out []channeladmin.Report
	cutoff := time.Now().Add(-ChannelHealthTTL)
	for {
		select {
		case e, ok := <-w.Updates():
			if !ok || e == nil { // nil: the current values have all been delivered
				return out, nil
			}
			var r reportJSON
			if json.Unmarshal(e.Value(), &r) != nil || e.Created().Before(cutoff) {
				continue
			}
			out = append(out, channeladmin.Report{Replica: r.Replica, Kind: r.Kind, ID: r.ID, Capabilities: r.Capabilities,
				WebhookPath: r.WebhookPath, At: r.At, Health: channels.Health{LastSuccess: r.LastSuccess, LastError: r.LastError,
					LastErr: r.LastErr, Backlog: r.Backlog, Received: r.Received, Sent: r.Sent, ErrorsCounted: r.Errors}})
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}
