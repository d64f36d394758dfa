package attachments

import (
	"io"
	"net/http"
	"strconv"

	casesv1 "github.com/sportello/sportello/api/sportello/cases/v1"
)

// Serve writes an attachment's content as a download: saved under its
// name, never rendered or run in the site's origin (nosniff, a sandbox
// CSP), revalidated by its SHA-256, with ranges and conditional requests.
// Every page and route that hands out a file (the API, the console, the
// follow page) serves it through here.
func Serve(w http.ResponseWriter, r *http.Request, a *casesv1.Attachment, content io.ReadSeeker) {
	h := w.Header()
	h.Set("Content-Type", a.GetContentType())
	h.Set("Content-Disposition", ContentDisposition(a.GetFileName()))
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", "sandbox")
	h.Set("Cache-Control", "private, no-cache")
	h.Set("ETag", strconv.Quote(a.GetSha256()))
	http.ServeContent(w, r, "", a.GetCreateTime().AsTime(), content)
}
