package main

import (
	"bufio"
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	casesv1 "github.com/sportello/sportello/api/sportello/cases/v1"
	"github.com/sportello/sportello/services/storage/storetest"
)

// TestIntegrationWatchQueue: an IT operator's watch sees IT's changes (a
// case arriving, a case transferred away) and nothing of statistics; the
// SSE form delivers the same to a browser-like client.
func TestIntegrationWatchQueue(t *testing.T) {
	t.Parallel()
	s := startServer(t, testConfig(t, storetest.Backend{Name: "sqlite"}))
	ctx, cancel := context.WithCancel(withToken(itToken))
	defer cancel()
	stream, err := s.grpcCases().WatchQueue(ctx, &casesv1.WatchQueueRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := stream.Header(); err != nil {
		t.Fatal(err)
	}
	next := func() *casesv1.CaseEvent {
		t.Helper()
		c, err := stream.Recv()
		if err != nil {
			t.Fatalf("watch: %v", err)
		}
		return c.Event
	}
	// SSE, as the console will read it.
	req, _ := http.NewRequest("GET", s.base+"/v1/queue/events?department=it", nil)
	req.Header.Set("Authorization", "Bearer "+itToken)
	sseCtx, stopSSE := context.WithCancel(context.Background())
	defer stopSSE()
	resp, err := s.client.Do(req.WithContext(sseCtx))
	if err != nil || resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("SSE: %v %v", resp, err)
	}
	lines := bufio.NewScanner(resp.Body)

	s.submit(defaultSubmit) // statistics: not the IT operator's
	s.submit(itSubmit)
	e := next()
	if e.Type != "created" || e.Department != "it" {
		t.Fatalf("first event = %v", e)
	}
	sawSSE := false
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) && lines.Scan() {
		if lines.Text() == "event: created" {
			lines.Scan()
			if !strings.Contains(lines.Text(), `"department":"it"`) {
				t.Fatalf("SSE data = %s", lines.Text())
			}
			sawSSE = true
			break
		}
	}
	if !sawSSE {
		t.Fatal("no created event over SSE")
	}
	body := []byte(`{"department":"statistics","reason":"competenza"}`)
	if r := s.do("POST", "/v1/cases/"+e.CaseId+":transfer", jsonType, body, bearer(supToken)); r.Status != 200 {
		t.Fatalf("transfer: %d %s", r.Status, r.Body)
	}
	if e := next(); e.Type != "transferred" || e.Department != "statistics" || e.Changes["department"].GetBefore() != "it" {
		t.Fatalf("transfer event = %v", e)
	}
	// Refused at the door like any call.
	for token, want := range map[string]int{"": 401, citizenToken: 403} {
		req, _ := http.NewRequest("GET", s.base+"/v1/queue/events", nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		r, err := s.client.Do(req)
		if err != nil || r.StatusCode != want {
			t.Fatalf("SSE with %q: %v %v, want %d", token, r.StatusCode, err, want)
		}
		r.Body.Close()
	}
	if r := s.get("/v1/queue/events?department=statistics", itToken); r.Status != 403 {
		t.Fatalf("SSE for another department: %d", r.Status)
	}
}
