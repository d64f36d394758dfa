package email

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"

	inboundv1 "github.com/sportello/sportello/api/sportello/inbound/v1"
)

func plainMail(n int) string {
	return fmt.Sprintf("From: Citizen %d <c%d@example.it>\nTo: contatti@example.gov.it\nSubject: Richiesta %d\nMessage-ID: <imap-%d@example.it>\nDate: Mon, 2 Nov 2026 10:00:00 +0100\n\nTesto della richiesta %d.\n", n, n, n, n, n)
}

// TestIntegrationIMAP polls a real IMAP server (Dovecot when installed)
// over STARTTLS: every message is stored exactly once and flagged only
// after the sink stored it; a message the sink failed to store stays
// unflagged and is read again; a message arriving later is seen through
// IDLE well before the poll interval; a mailbox whose login fails keeps
// retrying with backoff without holding up the healthy one; a mailbox
// configured to move stored messages moves them.
func TestIntegrationIMAP(t *testing.T) {
	srv := startIMAP(t)
	t.Logf("IMAP server: %s on port %d", srv.kind, srv.port)
	for i := 1; i <= 3; i++ {
		srv.appendMsg(t, "alice", "INBOX", plainMail(i))
	}
	srv.appendMsg(t, "bob", "INBOX", plainMail(100))
	// Over the 64 KiB limit of testConfig: only its header is fetched.
	srv.appendMsg(t, "bob", "INBOX", plainMail(101)+strings.Repeat(strings.Repeat("x", 99)+"\n", 1000))
	if err := srv.client(t, "bob").Create("Archivio", nil).Wait(); err != nil {
		t.Fatal(err)
	}

	cfg := testConfig()
	cfg.Mailboxes[0].IMAP = srv.config(t, "alice")
	broken := srv.config(t, "alice")
	broken.PasswordFile = broken.PasswordFile + ".missing"
	cfg.Mailboxes[1].IMAP = broken
	cfg.Mailboxes[2].IMAP = srv.config(t, "bob")
	cfg.Mailboxes[2].IMAP.MoveTo = "Archivio"

	watcher := srv.client(t, "alice")
	var watchMu sync.Mutex
	s := &checkingSink{before: func(c *inboundv1.InboundContact, stored int) {
		if c.ChannelId != "contatti" {
			return
		}
		// Nothing is flagged before the sink has stored it.
		watchMu.Lock()
		defer watchMu.Unlock()
		flagged := 0
		for _, f := range srv.flags(t, watcher, "INBOX") {
			if slices.Contains(f, imap.FlagSeen) {
				flagged++
			}
		}
		if flagged != stored {
			t.Errorf("%d messages flagged with %d stored", flagged, stored)
		}
	}}
	s.failNext(1)
	store, _ := testStore(t)
	p := NewPoller(NewReceiver(cfg, s, store, testLog()), testLog())
	p.MinBackoff, p.MaxBackoff = 20*time.Millisecond, 200*time.Millisecond
	var statusMu sync.Mutex
	failures := map[string]int{}
	p.Status = func(mb string, err error) {
		statusMu.Lock()
		defer statusMu.Unlock()
		if err != nil {
			failures[mb]++
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { p.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	eventually(t, "three messages of alice and two of bob", func() bool { return len(s.ids("contatti")) == 3 && len(s.ids("stampa")) == 2 })
	for _, c := range s.all() {
		if c.ExternalId == "imap-101@example.it" {
			mustContain(t, "note of the oversized message", strings.Join(c.Notes, " "), "was not downloaded and stays on the mail server")
			if c.Subject != "Richiesta 101" || c.Sender.Email != "c101@example.it" || len(c.Attachments) != 1 {
				t.Errorf("oversized message contact = %+v", c)
			}
		}
	}
	start := time.Now()
	srv.appendMsg(t, "alice", "INBOX", plainMail(4))
	eventually(t, "the fourth message", func() bool { return len(s.ids("contatti")) == 4 })
	if d := time.Since(start); d > 20*time.Second {
		t.Errorf("the new message took %v (IDLE should wake the poller long before the 1m interval)", d)
	}
	got := s.ids("contatti")
	if fmt.Sprint(got) != "[imap-1@example.it imap-2@example.it imap-3@example.it imap-4@example.it]" {
		t.Fatalf("stored %v: want each message once, in order", got)
	}
	if s.calls() != 7 { // 4 + bob's 2 + the failed first attempt
		t.Errorf("%d deliveries, want 7", s.calls())
	}
	eventually(t, "the fourth message flagged", func() bool {
		watchMu.Lock()
		defer watchMu.Unlock()
		fl := srv.flags(t, watcher, "INBOX")
		return len(fl) == 4 && slices.Contains(fl[3], imap.FlagSeen)
	})
	watchMu.Lock()
	for i, f := range srv.flags(t, watcher, "INBOX") {
		if !slices.Contains(f, imap.FlagSeen) || (srv.kind == "dovecot" && !slices.Contains(f, ProcessedFlag)) {
			t.Errorf("message %d flags %v", i+1, f)
		}
	}
	watchMu.Unlock()
	bob := srv.client(t, "bob")
	if n := len(srv.flags(t, bob, "INBOX")); n != 0 {
		t.Errorf("bob's INBOX still has %d messages; want them moved", n)
	}
	if n := len(srv.flags(t, bob, "Archivio")); n != 2 {
		t.Errorf("bob's Archivio has %d messages, want 2", n)
	}
	statusMu.Lock()
	if failures["dati"] < 2 {
		t.Errorf("the broken mailbox failed %d times; want it retried", failures["dati"])
	}
	statusMu.Unlock()
	if len(s.ids("dati")) != 0 {
		t.Error("the broken mailbox stored something")
	}
}

// checkingSink is a sink that calls before ahead of storing each contact,
// with how many contacts of its channel it stored so far.
type checkingSink struct {
	sink
	before func(c *inboundv1.InboundContact, stored int)
}

func (s *checkingSink) Deliver(ctx context.Context, c *inboundv1.InboundContact) error {
	if s.before != nil {
		s.before(c, len(s.ids(c.ChannelId)))
	}
	return s.sink.Deliver(ctx, c)
}

func (s *sink) ids(channel string) []string {
	var out []string
	for _, c := range s.all() {
		if c.ChannelId == channel {
			out = append(out, c.ExternalId)
		}
	}
	return out
}

func (s *sink) calls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.n
}
