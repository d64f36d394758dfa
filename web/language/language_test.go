package language

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestOf(t *testing.T) {
	tests := []struct {
		name, url, cookie, accept, want string
	}{
		{"default", "/", "", "", "it"},
		{"query", "/?lang=en", "it", "it", "en"},
		{"cookie", "/", "en", "it-IT", "en"},
		{"browser", "/", "", "en-GB,en;q=0.9", "en"},
		{"browser prefers Italian", "/", "", "it;q=1, en;q=0.5", "it"},
		{"unknown everywhere", "/?lang=fr", "de", "fr-FR", "it"},
		{"query over cookie and browser", "/?lang=it", "en", "en", "it"},
		{"second browser choice", "/?lang=fr", "", "de,it;q=0.5", "it"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, tt.url, nil)
			if tt.cookie != "" {
				r.AddCookie(&http.Cookie{Name: Cookie, Value: tt.cookie})
			}
			if tt.accept != "" {
				r.Header.Set("Accept-Language", tt.accept)
			}
			if got := Of(r); got != tt.want {
				t.Fatalf("Of = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestRemember(t *testing.T) {
	w := httptest.NewRecorder()
	if l := Remember(w, httptest.NewRequest(http.MethodGet, "/console/?lang=en", nil)); l != "en" {
		t.Fatalf("Remember = %q", l)
	}
	c := w.Result().Cookies()
	if len(c) != 1 || c[0].Name != Cookie || c[0].Value != "en" || c[0].Path != "/" || !c[0].HttpOnly {
		t.Fatalf("cookie %+v", c)
	}
	w = httptest.NewRecorder()
	Remember(w, httptest.NewRequest(http.MethodGet, "/", nil))
	if len(w.Result().Cookies()) != 0 {
		t.Fatal("a cookie without a choice")
	}
}
