package main

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/sportello/sportello/services/events"
	"github.com/sportello/sportello/web"
	"github.com/sportello/sportello/web/console"
)

// startConsole builds the operator console and supervisor board; its
// routes go into routes behind the session and CSRF middleware. The
// caller connects it (SetConn) once the server's in-process connection
// exists.
func startConsole(ctx context.Context, js jetstream.JetStream, replicas int, ident *identity, routes map[string]http.Handler,
	loc *time.Location, log *slog.Logger) (*console.Console, error) {
	viewing, err := events.NewViewing(ctx, js, replicas)
	if err != nil {
		return nil, err
	}
	c := console.New(console.Config{
		Visitor: func(r *http.Request) (web.Visitor, bool) {
			s, ok := ident.sessions.Current(r)
			if !ok {
				return web.Visitor{}, false
			}
			return web.Visitor{Principal: s.Principal, Token: s.BearerToken(), CSRF: s.CSRFToken()}, true
		},
		LoginPath: staffLoginPath, LogoutPath: logoutPath, Presence: consolePresence{viewing}, Log: log, Location: loc,
	})
	for pattern, h := range c.Routes() {
		routes[pattern] = ident.wrap(h)
	}
	return c, nil
}

// consolePresence keeps the console's viewers in the NATS KV bucket.
type consolePresence struct{ v *events.Viewing }

func (p consolePresence) Viewing(ctx context.Context, caseID string, v console.Viewer) error {
	return p.v.Put(ctx, caseID, events.ViewingEntry{ID: v.ID, Name: v.Name})
}

func (p consolePresence) Viewers(ctx context.Context, caseID string) ([]console.Viewer, error) {
	list, err := p.v.List(ctx, caseID)
	out := make([]console.Viewer, len(list))
	for i, e := range list {
		out[i] = console.Viewer{ID: e.ID, Name: e.Name, Since: e.Since}
	}
	return out, err
}
