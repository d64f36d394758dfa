package email

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/emersion/go-imap/v2/imapclient"
)

// TestIMAPXOAUTH2 logs in to Dovecot with XOAUTH2, the mechanism of Gmail
// and Microsoft 365 mailboxes. Dovecot checks each token at an OAuth2
// introspection endpoint (RFC 7662) served by the test: a valid token for
// the mailbox's user is accepted, an expired one and another user's are
// refused, and the token file is read again at every login.
func TestIMAPXOAUTH2(t *testing.T) {
	if _, err := exec.LookPath("dovecot"); err != nil {
		t.Skip("dovecot is not installed (apt-get install dovecot-imapd); .ci/run installs it")
	}
	var asked atomic.Int32
	introspect := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		asked.Add(1)
		if err := r.ParseForm(); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		switch r.PostForm.Get("token") {
		case "alice-token-1", "alice-token-2":
			_ = json.NewEncoder(w).Encode(map[string]any{"active": true, "username": "alice"})
		case "bob-token":
			_ = json.NewEncoder(w).Encode(map[string]any{"active": true, "username": "bob"})
		default: // expired, revoked or unknown
			_ = json.NewEncoder(w).Encode(map[string]any{"active": false})
		}
	}))
	defer introspect.Close()

	dir, err := os.MkdirTemp("", "sportello-imap-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	certFile, keyFile, caFile := writeCert(t, dir)
	srv := startDovecotOAuth(t, dir, certFile, keyFile, caFile, introspect.URL+"/introspect")

	tokenFile := filepath.Join(t.TempDir(), "token")
	cfg := &IMAP{Host: srv.host, Port: srv.port, TLS: "starttls", Username: "alice", TokenFile: tokenFile, CAFile: srv.caFile}
	tests := []struct {
		token string
		ok    bool
	}{
		{"alice-token-1", true},
		{"alice-token-2", true}, // rotated by a refresher: read again
		{"expired-token", false},
		{"bob-token", false}, // a valid token of another user
	}
	for _, tt := range tests {
		t.Run(tt.token, func(t *testing.T) {
			if err := os.WriteFile(tokenFile, []byte(tt.token+"\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			c, err := dialIMAP(context.Background(), cfg, &imapclient.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			err = login(c, cfg)
			if (err == nil) != tt.ok {
				t.Fatalf("XOAUTH2 with %s: %v, want success %v", tt.token, err, tt.ok)
			}
			if err == nil {
				if _, err := c.Select("INBOX", nil).Wait(); err != nil {
					t.Fatalf("select after XOAUTH2: %v", err)
				}
			}
		})
	}
	if n := asked.Load(); n < int32(len(tests)) {
		t.Fatalf("the introspection endpoint was asked %s times, want at least %d", strconv.Itoa(int(n)), len(tests))
	}
}
