package spid

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"log/slog"
)

// Audit event names, in the order a login produces them.
const (
	EventRequestSent      = "request_sent"      // redirect to the OP with a signed request object
	EventCallbackReceived = "callback_received" // the OP sent the browser back
	EventTokenResponse    = "token_response"    // code exchanged, ID token verified
	EventUserinfo         = "userinfo"          // userinfo decrypted and verified
	EventLogin            = "login"             // Identity handed to OnLogin
	EventRevocation       = "revocation"        // access token revoked at logout
	EventLogout           = "logout"            // local session ended
	EventError            = "error"             // any step failed; Error says why
)

// AuditEvent records one authentication exchange. It carries identifiers
// and hashes only: the raw code, tokens, nonce and PKCE verifier never
// appear, so the audit log is not a store of credentials.
type AuditEvent struct {
	Event    string
	Provider string
	ACR      string // requested (request_sent) or obtained (token_response on)
	// StateHash links the events of one attempt.
	StateHash string
	// JTI is the jti of the JWT the RP sent in this step (request object
	// or client assertion).
	JTI             string
	CodeHash        string
	AccessTokenHash string
	IDTokenHash     string
	IDTokenJTI      string
	// Subject is the OP's sub for the citizen (pseudonymous, pairwise).
	Subject string
	// Status is the OP's HTTP status where one was called.
	Status int
	Error  string
}

// tokenHash identifies a secret in logs: the first 128 bits of its SHA-256
// in hex, enough to match it against the OP's records, useless to replay.
func tokenHash(s string) string {
	if s == "" {
		return ""
	}
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:16])
}

// slogAudit is the default audit hook: one structured log line per event.
func slogAudit(logger *slog.Logger) func(context.Context, AuditEvent) {
	return func(ctx context.Context, e AuditEvent) {
		level := slog.LevelInfo
		if e.Event == EventError {
			level = slog.LevelWarn
		}
		attrs := []slog.Attr{slog.String("event", e.Event), slog.String("provider", e.Provider)}
		for _, kv := range [][2]string{
			{"acr", e.ACR}, {"state_hash", e.StateHash}, {"jti", e.JTI}, {"code_hash", e.CodeHash},
			{"access_token_hash", e.AccessTokenHash}, {"id_token_hash", e.IDTokenHash},
			{"id_token_jti", e.IDTokenJTI}, {"sub", e.Subject}, {"error", e.Error},
		} {
			if kv[1] != "" {
				attrs = append(attrs, slog.String(kv[0], kv[1]))
			}
		}
		if e.Status != 0 {
			attrs = append(attrs, slog.Int("status", e.Status))
		}
		logger.LogAttrs(ctx, level, "spid audit", attrs...)
	}
}
