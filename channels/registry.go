package channels

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"regexp"
	"slices"
	"strings"

	outboundv1 "github.com/sportello/sportello/api/sportello/outbound/v1"
)

// Entry is one configured channel instance: {type, id, config}.
type Entry struct {
	Type string
	ID   string
	// Decode reads the entry's config section into the adapter's own
	// configuration struct, rejecting unknown fields.
	Decode func(v any) error
}

// Blob is a file the blob store kept.
type Blob struct {
	SHA256      string // hex
	Size        int64
	ContentType string // detected from the content
}

// Blobs stores files under the attachments policy (size, media types):
// Put refuses what the policy does not allow.
type Blobs interface {
	Put(ctx context.Context, r io.Reader) (Blob, error)
}

// Deps is what adapters are opened with.
type Deps struct {
	Sink     Sink
	Statuses StatusSink
	Blobs    Blobs
	Log      *slog.Logger
	// Client makes the adapter's calls to its provider.
	Client *http.Client
}

// Factory opens an adapter of one kind from its configuration entry.
type Factory func(e Entry, deps Deps) (Adapter, error)

// idRE is what a channel id may look like: it appears in URLs and NATS
// subjects.
var idRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)

// ValidID reports whether id may name a channel instance.
func ValidID(id string) bool { return idRE.MatchString(id) }

// Set is the open channel instances.
type Set struct {
	adapters []Adapter
}

// Open opens every entry with the factory of its type. All problems are
// reported together; on error nothing stays open.
func Open(entries []Entry, kinds map[string]Factory, deps Deps) (*Set, error) {
	var errs []error
	s := &Set{}
	seen := map[string]bool{}
	for i, e := range entries {
		f, ok := kinds[e.Type]
		switch {
		case !ok:
			known := make([]string, 0, len(kinds))
			for k := range kinds {
				known = append(known, k)
			}
			slices.Sort(known)
			errs = append(errs, fmt.Errorf("channels[%d]: type %q: want one of %s", i, e.Type, strings.Join(known, ", ")))
			continue
		case !ValidID(e.ID):
			errs = append(errs, fmt.Errorf("channels[%d]: id %q: want 1 to 63 lower-case letters, digits, '-' or '_'", i, e.ID))
			continue
		case seen[e.ID]:
			errs = append(errs, fmt.Errorf("channels[%d]: id %q is used twice", i, e.ID))
			continue
		}
		seen[e.ID] = true
		a, err := f(e, deps)
		if err != nil {
			errs = append(errs, fmt.Errorf("channels[%d] (%s %s): %w", i, e.Type, e.ID, err))
			continue
		}
		s.adapters = append(s.adapters, a)
	}
	if len(errs) > 0 {
		_ = s.Close()
		return nil, errors.Join(errs...)
	}
	return s, nil
}

// Add adds adapters opened elsewhere (the e-mail and web-form channels).
func (s *Set) Add(a ...Adapter) { s.adapters = append(s.adapters, a...) }

// Adapters returns the instances ordered by kind, then id.
func (s *Set) Adapters() []Adapter {
	if s == nil {
		return nil
	}
	out := slices.Clone(s.adapters)
	slices.SortFunc(out, func(a, b Adapter) int {
		if c := strings.Compare(a.Kind(), b.Kind()); c != 0 {
			return c
		}
		return strings.Compare(a.ID(), b.ID())
	})
	return out
}

// Repliers returns the instances that reply, by kind.
func (s *Set) Repliers() map[string][]Replier {
	out := map[string][]Replier{}
	for _, a := range s.Adapters() {
		if r, ok := a.(Replier); ok {
			out[a.Kind()] = append(out[a.Kind()], r)
		}
	}
	return out
}

// Close closes every instance.
func (s *Set) Close() error {
	if s == nil {
		return nil
	}
	var errs []error
	for _, a := range s.adapters {
		errs = append(errs, a.Close())
	}
	return errors.Join(errs...)
}

// Capabilities names what a does: "webhook", "poller", "replier".
func Capabilities(a Adapter) []string {
	if l, ok := a.(interface{ Capabilities() []string }); ok {
		return l.Capabilities()
	}
	var out []string
	if _, ok := a.(WebhookReceiver); ok {
		out = append(out, "webhook")
	}
	if _, ok := a.(Poller); ok {
		out = append(out, "poller")
	}
	if _, ok := a.(Replier); ok {
		out = append(out, "replier")
	}
	return out
}

// Dispatch is the Replier of one channel kind with several instances: it
// hands each message to the instance named by its channel_id.
type Dispatch map[string]Replier

var _ ReceiptReplier = Dispatch(nil)

func (d Dispatch) ExternalID(m *outboundv1.OutboundMessage) string {
	if r, ok := d[m.GetChannelId()]; ok {
		return r.ExternalID(m)
	}
	return ""
}

func (d Dispatch) Send(ctx context.Context, m *outboundv1.OutboundMessage) error {
	_, err := d.SendReceipt(ctx, m)
	return err
}

// SendReceipt sends through the instance; a channel id no instance has
// fails permanently (it was removed from the configuration).
func (d Dispatch) SendReceipt(ctx context.Context, m *outboundv1.OutboundMessage) (Receipt, error) {
	r, ok := d[m.GetChannelId()]
	if !ok {
		return Receipt{}, Permanent(fmt.Errorf("no %s channel %q is configured", m.GetChannelKind(), m.GetChannelId()))
	}
	if rr, ok := r.(ReceiptReplier); ok {
		return rr.SendReceipt(ctx, m)
	}
	return Receipt{}, r.Send(ctx, m)
}

var _ PartSender = Dispatch(nil)

// Parts asks the instance; an instance that does not split sends m as one
// part (SendReceipt).
func (d Dispatch) Parts(m *outboundv1.OutboundMessage) (int, error) {
	r, ok := d[m.GetChannelId()]
	if !ok {
		return 0, Permanent(fmt.Errorf("no %s channel %q is configured", m.GetChannelKind(), m.GetChannelId()))
	}
	if ps, ok := r.(PartSender); ok {
		return ps.Parts(m)
	}
	return 1, nil
}

func (d Dispatch) SendPart(ctx context.Context, m *outboundv1.OutboundMessage, i int) (Receipt, error) {
	if ps, ok := d[m.GetChannelId()].(PartSender); ok {
		return ps.SendPart(ctx, m, i)
	}
	if i != 0 {
		return Receipt{}, Permanent(fmt.Errorf("part %d of a message sent as one", i))
	}
	return d.SendReceipt(ctx, m)
}
