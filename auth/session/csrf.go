package session

import (
	"net/http"
)

// Where a state-changing request carries its CSRF token.
const (
	FormField  = "csrf_token"   // hidden field of server-rendered forms
	HeaderName = "X-CSRF-Token" // htmx and script requests (hx-headers)
)

// The answers to a refused request (403, text/plain).
const (
	msgBadToken    = "missing or invalid CSRF token"
	msgCrossOrigin = "cross-origin request refused"
)

// RequireCSRF refuses state-changing requests (any method but GET, HEAD
// and OPTIONS) that another site may have forged. Two checks, both 403:
//
//  1. every such request, with or without a session, must not be
//     cross-origin by the browser's own account (http.CrossOriginProtection:
//     Sec-Fetch-Site, else Origin against Host), which covers anonymous
//     forms such as the login and contact forms;
//  2. a request that belongs to a session must carry the session's
//     synchronizer token (Session.CSRFToken) in the FormField field or the
//     HeaderName header, compared in constant time.
//
// Put it inside Middleware (m.Middleware(m.RequireCSRF(h))); without it,
// RequireCSRF looks the session up itself. The form field is read with
// r.PostFormValue, which parses the body: handlers taking large multipart
// uploads should send the header instead, or limit the body first.
func (m *Manager) RequireCSRF(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Method {
		case http.MethodGet, http.MethodHead, http.MethodOptions:
			next.ServeHTTP(w, r)
			return
		}
		if err := m.cop.Check(r); err != nil {
			http.Error(w, msgCrossOrigin, http.StatusForbidden)
			return
		}
		s, err := m.current(r)
		if err != nil {
			// Not knowing whether a session is involved, refuse.
			m.log.ErrorContext(r.Context(), "load session", "error", err)
			http.Error(w, "session store unavailable", http.StatusServiceUnavailable)
			return
		}
		if s != nil {
			got := r.Header.Get(HeaderName)
			if got == "" {
				got = r.PostFormValue(FormField)
			}
			if !validCSRF(s.token, got) {
				http.Error(w, msgBadToken, http.StatusForbidden)
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}
