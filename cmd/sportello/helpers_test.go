package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	casesv1 "github.com/sportello/sportello/api/sportello/cases/v1"
	"github.com/sportello/sportello/auth"
	"github.com/sportello/sportello/channels/email"
	"github.com/sportello/sportello/services/storage/storetest"
)

// TestMain lets the kill tests run this test binary as the real server:
// with SPORTELLO_TEST_RUN_MAIN=1 it behaves exactly like `sportello`.
func TestMain(m *testing.M) {
	if os.Getenv("SPORTELLO_TEST_RUN_MAIN") == "1" {
		os.Exit(run(os.Args[1:], os.Stdout, os.Stderr, os.Getenv))
	}
	os.Exit(m.Run())
}

// Tokens every test server accepts.
const (
	adminToken    = "test-admin-token-0123456789abcdef"
	itToken       = "test-operator-it-0123456789abcdef"
	citizenToken  = "test-citizen-token-0123456789abcd"
	supToken      = "test-supervisor-0123456789abcdefg"
	unknownToken  = "test-unknown-token-0123456789abcd"
	webformPath   = "/v1/channels/webform/submissions"
	jsonType      = "application/json"
	formType      = "application/x-www-form-urlencoded"
	pollTimeout   = 30 * time.Second
	defaultSubmit = `{"name":"Maria Rossi","email":"maria@example.it","category":"microdata","subject":"Microdati del censimento","message":"Vorrei i microdati del censimento 2021."}`
)

func testTokens() []auth.StaticToken {
	return []auth.StaticToken{
		{Name: "admin", SHA256: auth.HashToken(adminToken), Role: auth.RoleAdmin},
		{Name: "op-it", SHA256: auth.HashToken(itToken), Role: auth.RoleOperator, Departments: []string{"it"}, Operator: "op-it"},
		{Name: "supervisor", SHA256: auth.HashToken(supToken), Role: auth.RoleSupervisor,
			Departments: []string{"statistics", "communication", "it", "triage"}, Operator: "sup-contact-centre"},
		{Name: "citizen", SHA256: auth.HashToken(citizenToken), Role: auth.RoleCitizen},
	}
}

// testConfig is the configuration of a test server on backend b.
func testConfig(t *testing.T, b storetest.Backend) Config {
	cfg := defaults()
	cfg.Listen = "127.0.0.1:0"
	cfg.DataDir = t.TempDir()
	if b.Name == "postgres" {
		cfg.Database.DSN = b.DSN(t)
	}
	demo := true
	cfg.Demo = &demo
	cfg.demoPolicy = "manual" // cases stay unassigned unless a test assigns them
	cfg.Auth.Tokens = testTokens()
	// A listener on a free port (2525 may be taken) and no mailboxes:
	// tests of the e-mail channel configure their own.
	cfg.Email = email.Config{Domain: "test.localhost", Listener: email.ListenerConfig{Listen: "127.0.0.1:0"}}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	return cfg
}

type testServer struct {
	t      *testing.T
	app    *app
	base   string
	conn   *grpc.ClientConn
	client *http.Client
}

// startServer runs Sportello in-process until the test ends.
func startServer(t *testing.T, cfg Config) *testServer {
	t.Helper()
	var w io.Writer = io.Discard
	if os.Getenv("SPORTELLO_TEST_LOG") != "" {
		w = os.Stderr
	}
	log := slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
	a, err := start(context.Background(), cfg, log)
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	conn, err := grpc.NewClient(a.Addr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	// A client of its own: its idle connections are closed before stop, or
	// http.Server.Shutdown would wait 5 s for each one dialed but unused.
	tr := &http.Transport{MaxIdleConnsPerHost: 64}
	s := &testServer{t: t, app: a, base: "http://" + a.Addr(), conn: conn, client: &http.Client{Transport: tr}}
	t.Cleanup(func() {
		_ = conn.Close()
		tr.CloseIdleConnections()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		a.stop(ctx)
	})
	return s
}

type response struct {
	Status int
	Body   []byte
	Header http.Header
}

func (r response) JSON(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.Body, &m); err != nil {
		t.Fatalf("response %d is not JSON: %v: %s", r.Status, err, r.Body)
	}
	return m
}

func (s *testServer) do(method, path, contentType string, body []byte, header map[string]string) response {
	s.t.Helper()
	req, err := http.NewRequest(method, s.base+path, bytes.NewReader(body))
	if err != nil {
		s.t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		s.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return response{Status: resp.StatusCode, Body: b, Header: resp.Header}
}

func (s *testServer) submit(body string) string {
	s.t.Helper()
	r := s.do("POST", webformPath, jsonType, []byte(body), nil)
	if r.Status != http.StatusAccepted {
		s.t.Fatalf("submit: %d %s", r.Status, r.Body)
	}
	return r.JSON(s.t)["contactId"].(string)
}

func (s *testServer) get(path, token string) response {
	h := map[string]string{}
	if token != "" {
		h["Authorization"] = "Bearer " + token
	}
	return s.do("GET", path, "", nil, h)
}

// restCases lists cases over REST as admin.
func (s *testServer) restCases(query string) *casesv1.ListCasesResponse {
	s.t.Helper()
	r := s.get("/v1/cases?"+query, adminToken)
	if r.Status != http.StatusOK {
		s.t.Fatalf("GET /v1/cases?%s: %d %s", query, r.Status, r.Body)
	}
	var out casesv1.ListCasesResponse
	if err := protojson.Unmarshal(r.Body, &out); err != nil {
		s.t.Fatal(err)
	}
	return &out
}

func withToken(token string) context.Context {
	return metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer "+token)
}

func (s *testServer) grpcCases() casesv1.CaseServiceClient {
	return casesv1.NewCaseServiceClient(s.conn)
}

// waitForCases polls ListCases over gRPC until n cases exist.
func (s *testServer) waitForCases(n int) []*casesv1.Case {
	s.t.Helper()
	var got []*casesv1.Case
	eventually(s.t, fmt.Sprintf("%d cases", n), func() bool {
		got = s.allCases()
		return len(got) >= n
	})
	if len(got) != n {
		s.t.Fatalf("%d cases, want %d", len(got), n)
	}
	return got
}

func (s *testServer) allCases() []*casesv1.Case {
	s.t.Helper()
	var all []*casesv1.Case
	req := &casesv1.ListCasesRequest{PageSize: 500}
	for {
		resp, err := s.grpcCases().ListCases(withToken(adminToken), req)
		if err != nil {
			s.t.Fatalf("ListCases: %v", err)
		}
		all = append(all, resp.Cases...)
		if resp.NextPageToken == "" {
			return all
		}
		req.PageToken = resp.NextPageToken
	}
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	eventuallyWithin(t, pollTimeout, what, cond)
}

func eventuallyWithin(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func contains(t *testing.T, what, s, sub string) {
	t.Helper()
	if !strings.Contains(s, sub) {
		t.Fatalf("%s = %q, want it to contain %q", what, s, sub)
	}
}

func jsonUnmarshal(b []byte, m *casesv1.ListCasesResponse) error { return protojson.Unmarshal(b, m) }

func jsonUnmarshalAny(b []byte, m proto.Message) error { return protojson.Unmarshal(b, m) }

func fmtSscan(s string, v *float64) (int, error) { return fmt.Sscan(s, v) }
