package session_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/sportello/sportello/auth"
	"github.com/sportello/sportello/auth/session"
	"github.com/sportello/sportello/services/storage"
	"github.com/sportello/sportello/services/storage/testdb"
)

func openDB(t *testing.T, dsn string) *storage.DB {
	t.Helper()
	ctx := context.Background()
	db, err := storage.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	if err := db.Migrate(ctx, slog.New(slog.NewTextHandler(io.Discard, nil))); err != nil {
		t.Fatal(err)
	}
	return db
}

// TestWithDatabase runs a session through the real store: login, CSRF,
// secrets sealed in the row, logout; on SQLite, and on PostgreSQL when
// configured.
func TestWithDatabase(t *testing.T) {
	for _, b := range testdb.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			dsn := b.DSN(t)
			db := openDB(t, dsn)
			e := newEnv(t, session.Config{Store: db})
			const accessToken = "op-access-token-3f9c1b7e2d4a6f8091c3e5a7b9d1f3e5"
			r := e.do(e.client, "GET", "/login?sub=RSSMRA80A01H501U&at="+accessToken, nil)
			if r.status != http.StatusOK {
				t.Fatalf("login: %d %s", r.status, r.body)
			}
			id, cookie := r.body, e.cookie(e.client)

			// The secret comes back through a request with the cookie ...
			if r := e.do(e.client, "GET", "/secret?key=access_token", nil); r.body != accessToken {
				t.Errorf("secret through the cookie = %q", r.body)
			}
			// ... but the row holds neither it nor the cookie.
			rec, err := db.GetSession(t.Context(), auth.HashToken(cookie), t0)
			if err != nil {
				t.Fatal(err)
			}
			if rec.IDHash != id || rec.Subject != "RSSMRA80A01H501U" || rec.FiscalNumber != "RSSMRA80A01H501U" || len(rec.Data) == 0 {
				t.Errorf("stored session = %+v", rec)
			}
			for _, leak := range []string{accessToken, "header.payload.signature", cookie} {
				if bytes.Contains(rec.Data, []byte(leak)) || rec.IDHash == leak {
					t.Errorf("the row reveals %q", leak)
				}
			}
			if b.Name == "sqlite" {
				// Nor does the database file (a "dump").
				files, _ := filepath.Glob(dsn + "*")
				for _, f := range files {
					raw, err := os.ReadFile(f)
					if err != nil {
						t.Fatal(err)
					}
					for _, leak := range []string{accessToken, cookie} {
						if bytes.Contains(raw, []byte(leak)) {
							t.Errorf("%s contains %q", filepath.Base(f), leak)
						}
					}
				}
			}
			// Someone who can write to the database copies the sealed data
			// into a session whose cookie they made up: it does not open,
			// the key being derived from the victim's cookie.
			forged := make([]byte, 32)
			_, _ = rand.Read(forged)
			forgedCookie := base64.RawURLEncoding.EncodeToString(forged)
			copied := rec
			copied.IDHash = auth.HashToken(forgedCookie)
			copied.CreatedAt, copied.LastSeenAt, copied.ExpiresAt = t0, t0, t0.Add(time.Hour)
			if err := db.CreateSession(t.Context(), copied); err != nil {
				t.Fatal(err)
			}
			if sub, _ := e.me(e.withCookie(forgedCookie)); sub != "RSSMRA80A01H501U" {
				t.Fatalf("forged session: %s", sub)
			}
			if r := e.do(e.withCookie(forgedCookie), "GET", "/secret?key=access_token", nil); r.status != http.StatusOK || r.body != "" {
				t.Errorf("the copied sealed data opened under another cookie: %d %q", r.status, r.body)
			}
			if r := e.do(e.client, "GET", "/secret?key=id_token", nil); r.body != "header.payload.signature" {
				t.Errorf("id_token secret = %q", r.body)
			}

			_, csrf := e.me(e.client)
			if r := e.do(e.client, "POST", "/action", url.Values{}); r.status != http.StatusForbidden {
				t.Errorf("POST without token: %d", r.status)
			}
			if r := e.do(e.client, "POST", "/action", url.Values{"csrf_token": {csrf}}); r.status != http.StatusOK {
				t.Errorf("POST with token: %d %s", r.status, r.body)
			}
			if r := e.do(e.client, "POST", "/logout", url.Values{"csrf_token": {csrf}}); r.status != http.StatusOK {
				t.Fatalf("logout: %d %s", r.status, r.body)
			}
			if sub, _ := e.me(e.withCookie(cookie)); sub != "anonymous" {
				t.Errorf("cookie replayed after logout: %s", sub)
			}
			if _, err := db.GetSession(t.Context(), id, t0); err == nil {
				t.Error("the session survived the logout in the database")
			}
		})
	}
}
