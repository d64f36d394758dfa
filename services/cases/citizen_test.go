package cases

import (
	"errors"
	"testing"
	"time"

	"github.com/sportello/sportello/auth"
)

func TestCitizenReplied(t *testing.T) {
	now := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	window := 14 * 24 * time.Hour
	msg := Message{ID: "m1", Direction: Inbound, Body: "ancora io"}
	tests := []struct {
		name    string
		status  Status
		settled time.Time
		m       Message
		want    Status
		err     error
	}{
		{"waiting for the citizen resumes", StatusPendingCitizen, time.Time{}, msg, StatusOpen, nil},
		{"open stays open", StatusOpen, time.Time{}, msg, StatusOpen, nil},
		{"resolved within the window reopens", StatusResolved, now.Add(-13 * 24 * time.Hour), msg, StatusOpen, nil},
		{"resolved before the window is refused", StatusResolved, now.Add(-15 * 24 * time.Hour), msg, StatusResolved, ErrFailedPrecondition},
		{"resolved with no settle time is refused", StatusResolved, time.Time{}, msg, StatusResolved, ErrFailedPrecondition},
		{"closed is refused", StatusClosed, now.Add(-time.Hour), msg, StatusClosed, ErrFailedPrecondition},
		{"a citizen cannot write outbound", StatusOpen, time.Time{}, Message{ID: "m2", Direction: Outbound, Body: "x"}, StatusOpen, ErrInvalidArgument},
		{"empty message", StatusOpen, time.Time{}, Message{ID: "m3", Direction: Inbound}, StatusOpen, ErrInvalidArgument},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &Case{ID: "c1", Reference: "2026-000001", Status: tt.status, SettledAt: tt.settled}
			evs, err := CitizenReplied("citizen:x", tt.m, now, nil, window)(c)
			if !errors.Is(err, tt.err) {
				t.Fatalf("err = %v, want %v", err, tt.err)
			}
			if c.Status != tt.want {
				t.Fatalf("status = %s, want %s", c.Status, tt.want)
			}
			if err == nil && (len(evs) == 0 || evs[0].Type != EventMessageAdded) {
				t.Fatalf("events = %+v", evs)
			}
		})
	}
}

// TestMayReadFollowLink: a follow link's holder reads its case only.
func TestMayReadFollowLink(t *testing.T) {
	p := auth.FollowPrincipal("c1")
	for _, tt := range []struct {
		c    Case
		want bool
	}{
		{Case{ID: "c1", ContactID: "k1"}, true},
		{Case{ID: "c2", ContactID: "k1"}, false},
		{Case{ID: "c2", ContactID: ""}, false},
		{Case{ID: "", ContactID: ""}, false},
	} {
		if got := mayRead(p, tt.c); got != tt.want {
			t.Errorf("mayRead(%+v) = %v", tt.c, got)
		}
	}
	if mayRead(auth.Principal{Role: auth.RoleCitizen}, Case{ID: "", ContactID: ""}) {
		t.Error("a citizen without contact or case reads a case without contact")
	}
}

func TestMaskFollowLink(t *testing.T) {
	body := "Link:\n\nhttps://x.example/follow/fl1_AbC-_9?lang=en\n"
	if got := maskFollowLink(Message{Kind: FollowLinkKind, Body: body}); got != "Link:\n\nhttps://x.example/follow/…?lang=en\n" {
		t.Errorf("masked = %q", got)
	}
	if got := maskFollowLink(Message{Kind: AckKind, Body: body}); got != "Link:\n\nhttps://x.example/follow/…?lang=en\n" {
		t.Errorf("acknowledgement masked = %q", got)
	}
	if got := maskFollowLink(Message{Body: body}); got != body {
		t.Errorf("a citizen's message was changed: %q", got)
	}
}
