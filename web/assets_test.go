package web

import (
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestStatic(t *testing.T) {
	srv := httptest.NewServer(Static())
	defer srv.Close()
	vendored := AssetsMissing() == nil
	tests := []struct {
		path, ctype string
		status      int
		vendor      bool
	}{
		{"/static/sportello/fonts.css", "text/css; charset=utf-8", 200, false},
		{"/static/sportello/sportello.css", "text/css; charset=utf-8", 200, false},
		{"/static/bootstrap-italia/dist/css/bootstrap-italia.min.css", "text/css; charset=utf-8", 200, true},
		{"/static/bootstrap-italia/dist/js/bootstrap-italia.bundle.min.js", "text/javascript; charset=utf-8", 200, true},
		{"/static/bootstrap-italia/dist/svg/sprites.svg", "image/svg+xml", 200, true},
		{"/static/bootstrap-italia/dist/fonts/Titillium_Web/titillium-web-v10-latin-ext_latin-regular.woff2", "font/woff2", 200, true},
		{"/static/htmx/htmx.min.js", "text/javascript; charset=utf-8", 200, true},
		{"/static/sportello/", "", 404, false},
		{"/static/sportello/none.css", "", 404, false},
		{"/static/../web.go", "", 404, false},
		{"/static/sportello/../../templates/layout.html", "", 404, false},
	}
	for _, tc := range tests {
		t.Run(tc.path, func(t *testing.T) {
			if tc.vendor && !vendored {
				t.Skip("vendored assets not built (make assets)")
			}
			req, _ := http.NewRequest("GET", srv.URL+tc.path, nil)
			req.Header.Set("Accept-Encoding", "gzip")
			resp, err := http.DefaultTransport.RoundTrip(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, tc.status)
			}
			if tc.status != 200 {
				return
			}
			if got := resp.Header.Get("Content-Type"); got != tc.ctype {
				t.Errorf("Content-Type %q, want %q", got, tc.ctype)
			}
			if cc := resp.Header.Get("Cache-Control"); !strings.Contains(cc, "max-age=31536000") {
				t.Errorf("Cache-Control %q", cc)
			}
			body := resp.Body
			if resp.Header.Get("Content-Encoding") == "gzip" {
				zr, err := gzip.NewReader(resp.Body)
				if err != nil {
					t.Fatal(err)
				}
				body = zr
			} else if strings.HasSuffix(tc.path, ".css") || strings.HasSuffix(tc.path, ".js") {
				t.Errorf("%s not compressed", tc.path)
			}
			b, err := io.ReadAll(body)
			if err != nil || len(b) == 0 {
				t.Fatalf("body: %d bytes, %v", len(b), err)
			}
			// A second request with the ETag is answered 304.
			req.Header.Set("If-None-Match", resp.Header.Get("ETag"))
			again, err := http.DefaultTransport.RoundTrip(req)
			if err != nil {
				t.Fatal(err)
			}
			again.Body.Close()
			if again.StatusCode != http.StatusNotModified {
				t.Errorf("revalidation: %d", again.StatusCode)
			}
		})
	}
	if u := Asset("/static/sportello/fonts.css"); !strings.HasPrefix(u, "/static/sportello/fonts.css?v=") {
		t.Errorf("Asset() = %q", u)
	}
}

func TestExpected(t *testing.T) {
	for _, tc := range []struct {
		lang    string
		minutes int
		want    string
	}{
		{"it", 0, ""},
		{"it", 60, "entro 1 ora lavorativa"},
		{"it", 150, "entro 3 ore lavorative"},
		{"it", 480, "entro 1 giorno lavorativo"},
		{"it", 2400, "entro 5 giorni lavorativi"},
		{"en", 2400, "within 5 working days"},
		{"en", 60, "within 1 working hour"},
	} {
		if got := expected(tc.lang, tc.minutes); got != tc.want {
			t.Errorf("expected(%s, %d) = %q, want %q", tc.lang, tc.minutes, got, tc.want)
		}
	}
}
