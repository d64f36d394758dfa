// Package language picks the language of a page, the same way on every
// page (portal, console, reports): ?lang=it|en, else the choice a visitor
// made earlier (a cookie), else the browser's preference; Italian by
// default.
package language

import (
	"net/http"
	"strings"
)

// Cookie keeps a visitor's choice for a year, on the whole site.
const Cookie = "lang"

// Of returns "it" or "en" for r.
func Of(r *http.Request) string {
	if l := r.URL.Query().Get("lang"); l == "en" || l == "it" {
		return l
	}
	if c, err := r.Cookie(Cookie); err == nil && (c.Value == "en" || c.Value == "it") {
		return c.Value
	}
	for _, part := range strings.Split(r.Header.Get("Accept-Language"), ",") {
		tag := strings.ToLower(strings.TrimSpace(strings.SplitN(part, ";", 2)[0]))
		switch {
		case strings.HasPrefix(tag, "it"):
			return "it"
		case strings.HasPrefix(tag, "en"):
			return "en"
		}
	}
	return "it"
}

// Remember stores a choice made with ?lang= in the cookie, and returns
// the page's language (Of).
func Remember(w http.ResponseWriter, r *http.Request) string {
	if q := r.URL.Query().Get("lang"); q == "it" || q == "en" {
		http.SetCookie(w, &http.Cookie{Name: Cookie, Value: q, Path: "/", MaxAge: 365 * 24 * 3600,
			HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: r.TLS != nil})
	}
	return Of(r)
}
