package web

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"io/fs"
	"net/http"
	"path"
	"strconv"
	"strings"
	"sync"
)

// StaticPath is where the browser assets are served. The files copied by
// `make assets` (tools/web-assets.sh) keep their npm package layout, so
// these URLs are stable contracts that every page (portal and console)
// links to:
//
//	/static/bootstrap-italia/dist/css/bootstrap-italia.min.css
//	/static/bootstrap-italia/dist/js/bootstrap-italia.bundle.min.js
//	/static/bootstrap-italia/dist/svg/sprites.svg
//	/static/bootstrap-italia/dist/fonts/<Family>/<file>.woff2
//	/static/htmx/htmx.min.js
//	/static/sportello/fonts.css   (@font-face for the fonts above)
//	/static/sportello/sportello.css
const StaticPath = "/static/"

// static always exists in a clone (static/sportello is committed); the
// vendored copies appear only after `make assets`. Embedding a directory
// that is always there keeps `go build ./...` and `go vet ./...` working
// on a fresh clone; AssetsMissing tells the server to say so at start.
//
//go:embed all:static
var static embed.FS

var staticFS, _ = fs.Sub(static, "static")

// vendorMarker is written last by tools/web-assets.sh.
const vendorMarker = "versions.json"

// ErrAssetsMissing: the binary was built without `make assets`.
var ErrAssetsMissing = errors.New("web assets (bootstrap-italia, htmx) are not in this binary: build it with `make build` (it runs `make assets`: npm ci in web/ and tools/web-assets.sh)")

// AssetsMissing returns ErrAssetsMissing when the vendored assets were not
// copied before the build.
func AssetsMissing() error {
	if _, err := fs.Stat(staticFS, vendorMarker); err != nil {
		return ErrAssetsMissing
	}
	return nil
}

var contentTypes = map[string]string{
	".css":   "text/css; charset=utf-8",
	".js":    "text/javascript; charset=utf-8",
	".svg":   "image/svg+xml",
	".woff2": "font/woff2",
	".woff":  "font/woff",
	".json":  "application/json",
	".txt":   "text/plain; charset=utf-8",
}

// asset is one file ready to serve: its bytes, a gzip copy when that is
// smaller, and its content hash (the ETag and the ?v= of asset URLs).
type asset struct {
	body, gz []byte
	etag     string
}

var assets sync.Map // name -> *asset

func loadAsset(name string) (*asset, error) {
	if a, ok := assets.Load(name); ok {
		return a.(*asset), nil
	}
	b, err := fs.ReadFile(staticFS, name)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(b)
	a := &asset{body: b, etag: hex.EncodeToString(sum[:8])}
	if ext := path.Ext(name); ext == ".css" || ext == ".js" || ext == ".svg" || ext == ".json" {
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
		_, _ = zw.Write(b)
		_ = zw.Close()
		if buf.Len() < len(b) {
			a.gz = buf.Bytes()
		}
	}
	got, _ := assets.LoadOrStore(name, a)
	return got.(*asset), nil
}

// Asset returns the URL of a static file with its content hash, so pages
// can let browsers cache assets for a year: "/static/htmx/htmx.min.js?v=…".
func Asset(urlPath string) string {
	name := strings.TrimPrefix(urlPath, StaticPath)
	a, err := loadAsset(name)
	if err != nil {
		return urlPath
	}
	return urlPath + "?v=" + a.etag
}

// Static serves the embedded assets under StaticPath: known types only,
// no directory listings, gzip when the browser takes it, cached for a
// year (the pages link them with ?v=<content hash>).
func Static() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		name := strings.TrimPrefix(r.URL.Path, StaticPath)
		ctype, ok := contentTypes[path.Ext(name)]
		if !ok || !fs.ValidPath(name) {
			http.NotFound(w, r)
			return
		}
		a, err := loadAsset(name)
		if err != nil {
			if strings.HasPrefix(name, "bootstrap-italia/") || strings.HasPrefix(name, "htmx/") {
				if AssetsMissing() != nil {
					http.Error(w, ErrAssetsMissing.Error(), http.StatusServiceUnavailable)
					return
				}
			}
			http.NotFound(w, r)
			return
		}
		h := w.Header()
		h.Set("Content-Type", ctype)
		h.Set("Cache-Control", "public, max-age=31536000, immutable")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Vary", "Accept-Encoding")
		h.Set("ETag", `"`+a.etag+`"`)
		if strings.Contains(r.Header.Get("If-None-Match"), `"`+a.etag+`"`) {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		body := a.body
		if a.gz != nil && acceptsGzip(r) {
			h.Set("Content-Encoding", "gzip")
			body = a.gz
		}
		h.Set("Content-Length", strconv.Itoa(len(body)))
		w.WriteHeader(http.StatusOK)
		if r.Method == http.MethodGet {
			_, _ = w.Write(body)
		}
	})
}

func acceptsGzip(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		enc, q, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.TrimSpace(enc) == "gzip" && strings.ReplaceAll(q, " ", "") != "q=0" {
			return true
		}
	}
	return false
}
