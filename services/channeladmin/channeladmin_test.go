package channeladmin

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	adminv1 "github.com/sportello/sportello/api/sportello/admin/v1"
	"github.com/sportello/sportello/channels"
)

type adapter struct {
	kind, id string
	h        channels.Health
}

func (a adapter) Kind() string            { return a.kind }
func (a adapter) ID() string              { return a.id }
func (a adapter) Health() channels.Health { return a.h }
func (a adapter) Close() error            { return nil }

type board struct {
	reports   []Report
	withdrawn []Report
	err       error
}

func (b *board) Publish(_ context.Context, rs []Report) error {
	b.reports = append(b.reports, rs...)
	return nil
}
func (b *board) List(context.Context) ([]Report, error) { return b.reports, b.err }
func (b *board) Withdraw(_ context.Context, rs []Report) error {
	b.withdrawn = append(b.withdrawn, rs...)
	return nil
}

func TestListChannelsAcrossReplicas(t *testing.T) {
	t0 := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	local := []channels.Adapter{adapter{"whatsapp", "wa", channels.Health{Received: 2, LastSuccess: t0, Backlog: 1}}}
	tests := []struct {
		name     string
		board    *board
		replicas int
		want     channels.Health
		channels int
	}{
		{"no board", nil, 0, channels.Health{Received: 2, LastSuccess: t0, Backlog: 1}, 1},
		{"alone", &board{}, 1, channels.Health{Received: 2, LastSuccess: t0, Backlog: 1}, 1},
		{"two replicas", &board{reports: []Report{
			{Replica: "b", Kind: "whatsapp", ID: "wa", At: t0, Health: channels.Health{Received: 3, Sent: 4, ErrorsCounted: 1,
				LastError: t0.Add(time.Minute), LastErr: "forged", LastSuccess: t0.Add(-time.Hour), Backlog: 2}},
			// this replica's stale published report is replaced by its live view
			{Replica: "a", Kind: "whatsapp", ID: "wa", At: t0, Health: channels.Health{Received: 99}},
			{Replica: "b", Kind: "telegram", ID: "tg", At: t0, Health: channels.Health{Sent: 1}},
		}}, 2, channels.Health{Received: 5, Sent: 4, ErrorsCounted: 1, Backlog: 3, LastSuccess: t0, LastError: t0.Add(time.Minute), LastErr: "forged"}, 2},
		{"board down", &board{err: errors.New("nats: timeout")}, 1, channels.Health{Received: 2, LastSuccess: t0, Backlog: 1}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &Server{List: func() []channels.Adapter { return local }, Replica: "a"}
			if tt.board != nil {
				s.Board = tt.board
			}
			out, err := s.ListChannels(context.Background(), &adminv1.ListChannelsRequest{})
			if err != nil || len(out.Channels) != tt.channels {
				t.Fatalf("%d channels, %v", len(out.GetChannels()), err)
			}
			var wa *adminv1.Channel
			for _, c := range out.Channels {
				if c.Kind == "whatsapp" {
					wa = c
				}
			}
			if len(wa.Replicas) != tt.replicas {
				t.Errorf("%d replicas, want %d", len(wa.Replicas), tt.replicas)
			}
			h := wa.Health
			if h.ReceivedTotal != tt.want.Received || h.SentTotal != tt.want.Sent || h.ErrorTotal != tt.want.ErrorsCounted || h.Backlog != tt.want.Backlog ||
				h.LastError != tt.want.LastErr || !h.LastSuccessTime.AsTime().Equal(tt.want.LastSuccess) {
				t.Errorf("health %+v, want %+v", h, tt.want)
			}
		})
	}
}

// lockedBoard is a board Share may use from its goroutine.
type lockedBoard struct {
	mu sync.Mutex
	board
}

func (b *lockedBoard) Publish(ctx context.Context, rs []Report) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.board.Publish(ctx, rs)
}

func (b *lockedBoard) Withdraw(ctx context.Context, rs []Report) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.board.Withdraw(ctx, rs)
}

// TestShareWithdrawsOnStop: a replica that stops withdraws its last
// reports, so the others stop counting it at once.
func TestShareWithdrawsOnStop(t *testing.T) {
	b := &lockedBoard{}
	local := []channels.Adapter{adapter{"whatsapp", "wa", channels.Health{Received: 2}}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		Share(ctx, b, "r1", func() []channels.Adapter { return local }, time.Hour, slog.New(slog.NewTextHandler(io.Discard, nil)))
	}()
	for {
		b.mu.Lock()
		n := len(b.reports)
		b.mu.Unlock()
		if n > 0 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	cancel()
	<-done
	if len(b.withdrawn) != 1 || b.withdrawn[0].Replica != "r1" || b.withdrawn[0].Kind != "whatsapp" || b.withdrawn[0].ID != "wa" {
		t.Fatalf("withdrawn on stop: %+v", b.withdrawn)
	}
}
