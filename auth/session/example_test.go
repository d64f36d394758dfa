package session_test

import (
	"context"
	"log"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/sportello/sportello/auth"
	"github.com/sportello/sportello/auth/session"
	"github.com/sportello/sportello/auth/spid"
	"github.com/sportello/sportello/services/storage"
)

// Secrets a SPID/CIE session keeps for logout.
const (
	secretAccessToken = "spid.access_token"
	secretIDToken     = "spid.id_token"
	secretExpiry      = "spid.expiry"
)

// Example wires sessions, CSRF protection and the SPID/CIE relying party
// on one mux, with sessions and pending logins in the database so that
// any replica can serve any request.
func Example() {
	ctx := context.Background()
	db, err := storage.Open(ctx, "/var/lib/sportello/sportello.db")
	if err != nil {
		log.Fatal(err)
	}
	if err := db.Migrate(ctx, slog.Default()); err != nil {
		log.Fatal(err)
	}
	sessions, err := session.New(session.Config{Store: db}) // Insecure: true only for http://127.0.0.1 in development
	if err != nil {
		log.Fatal(err)
	}
	attempts := db.LoginAttempts(storage.LoginAttemptsConfig{MaxPending: 100_000})

	rp, err := spid.New(spid.Config{ /* from the configuration file */ }, spid.Deps{
		Store: attempts,
		OnLogin: func(ctx context.Context, w http.ResponseWriter, r *http.Request, id spid.Identity, tok spid.Tokens) error {
			// (create or update the citizen's contact here)
			_, err := sessions.Start(w, r, session.Login{
				Principal:    auth.Principal{Subject: "cf:" + id.FiscalCode, Role: auth.RoleCitizen},
				DisplayName:  id.GivenName + " " + id.FamilyName,
				FiscalNumber: id.FiscalCode,
				Provider:     "spid:" + id.Provider,
				Secrets: map[string]string{secretAccessToken: tok.AccessToken, secretIDToken: tok.IDToken,
					secretExpiry: tok.Expiry.Format(time.RFC3339)},
			})
			if err != nil {
				return err
			}
			http.Redirect(w, r, "/area-personale", http.StatusSeeOther)
			return nil
		},
		SessionTokens: func(r *http.Request) (spid.Tokens, bool) {
			s, ok := session.FromContext(r.Context())
			if !ok {
				return spid.Tokens{}, false
			}
			op, ok := strings.CutPrefix(s.Provider, "spid:")
			if !ok {
				return spid.Tokens{}, false
			}
			at, ok := s.Secret(secretAccessToken)
			if !ok {
				return spid.Tokens{}, false
			}
			idt, _ := s.Secret(secretIDToken)
			exp, _ := s.Secret(secretExpiry)
			expiry, _ := time.Parse(time.RFC3339, exp)
			return spid.Tokens{Provider: op, AccessToken: at, IDToken: idt, Expiry: expiry}, true
		},
		OnLogout: func(ctx context.Context, w http.ResponseWriter, r *http.Request) error {
			if err := sessions.End(w, r); err != nil {
				return err
			}
			http.Redirect(w, r, "/", http.StatusSeeOther)
			return nil
		},
	})
	if err != nil {
		log.Fatal(err)
	}

	mux := http.NewServeMux()
	rp.Mount(mux) // POST /spid/logout is covered by RequireCSRF below
	mux.HandleFunc("GET /area-personale", func(w http.ResponseWriter, r *http.Request) {
		s, ok := session.FromContext(r.Context())
		if !ok {
			http.Redirect(w, r, "/accedi", http.StatusSeeOther)
			return
		}
		_ = s.CSRFToken() // into every form: <input type="hidden" name="csrf_token" value="{{.CSRF}}">
	})

	// Every request: session first, then the CSRF checks.
	handler := sessions.Middleware(sessions.RequireCSRF(mux))

	// Housekeeping, on one replica or all (the deletes are idempotent).
	go func() {
		for range time.Tick(10 * time.Minute) {
			_, _ = sessions.DeleteExpired(ctx)
			_, _ = attempts.DeleteExpired(ctx)
		}
	}()
	_ = http.ListenAndServe("127.0.0.1:8080", handler)
}
