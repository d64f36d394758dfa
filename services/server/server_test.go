package server_test

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/reflection"

	"github.com/sportello/sportello/auth"
	"github.com/sportello/sportello/services/accesslog"
	"github.com/sportello/sportello/services/cases"
	"github.com/sportello/sportello/services/contacts"
	"github.com/sportello/sportello/services/deadletters"
	"github.com/sportello/sportello/services/directory"
	"github.com/sportello/sportello/services/reports"
	"github.com/sportello/sportello/services/server"
	"github.com/sportello/sportello/services/surveys"
)

// TestEveryMethodHasAPermission fails when a served gRPC method (and so a
// REST route) has no entry in auth.Permissions.
func TestEveryMethodHasAPermission(t *testing.T) {
	if len(newServer(t).Methods()) < 4 {
		t.Fatal("server serves too few methods")
	}
}

func newServer(t *testing.T) *server.Server {
	tokens, _ := auth.NewStaticTokens(nil)
	srv, err := server.New(context.Background(), server.Deps{
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Registry: prometheus.NewRegistry(),
		Authenticator: tokens, Ready: func(context.Context) error { return nil },
		Cases: cases.NewServer(cases.Deps{}), Contacts: &contacts.Server{}, Directory: directory.NewServer(nil, nil, nil), Canned: &directory.CannedServer{}, DeadLetters: deadletters.NewServer(nil),
		AccessLog: accesslog.NewServer(nil), Surveys: &surveys.Server{}, Reports: &reports.Server{},
	})
	if err != nil {
		t.Fatal(err)
	}
	return srv
}

func TestMissingPermissionsAreFound(t *testing.T) {
	g := grpc.NewServer()
	reflection.Register(g) // a service with no permission entries
	missing := server.MissingPermissions(g)
	if len(missing) == 0 || !strings.Contains(strings.Join(missing, " "), "ServerReflectionInfo") {
		t.Fatalf("MissingPermissions = %v", missing)
	}
}

// TestPermissionsNameServedMethods catches a stale or mistyped entry: an
// entry that names no served method guards nothing.
func TestPermissionsNameServedMethods(t *testing.T) {
	srv := newServer(t)
	served := map[string]bool{}
	for _, m := range srv.Methods() {
		served[m] = true
	}
	for m := range auth.Permissions {
		if !served[m] {
			t.Errorf("auth.Permissions has %q, which the server does not serve", m)
		}
	}
}

func TestMergeOpenAPIRefusesRedefinition(t *testing.T) {
	base := []byte(`{"paths":{"/a":{}},"definitions":{}}`)
	if _, err := server.MergeOpenAPIForTest(base, []byte(`{"paths":{"/a":{}}}`)); err == nil {
		t.Fatal("a fragment redefining a path was merged")
	}
	out, err := server.MergeOpenAPIForTest(base, []byte(`{"paths":{"/b":{}},"definitions":{"x":{}}}`))
	if err != nil || !strings.Contains(string(out), `"/b"`) || !strings.Contains(string(out), `"x"`) {
		t.Fatalf("merge = %s, %v", out, err)
	}
}

func TestMergeOpenAPIRefusesDanglingRefs(t *testing.T) {
	base := []byte(`{"paths":{},"definitions":{"a":{}}}`)
	_, err := server.MergeOpenAPIForTest(base, []byte(`{"paths":{"/b":{"post":{"responses":{"200":{"schema":{"$ref":"#/definitions/nope"}}}}}}}`))
	if err == nil || !strings.Contains(err.Error(), "nope") {
		t.Fatalf("dangling $ref accepted: %v", err)
	}
}
