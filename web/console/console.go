// Package console serves the operator console (/console: unified queue,
// case view) and the supervisor board (/console/board). Every page is a
// client of the gRPC services, called with the signed-in member of staff's
// session token, so the services' authorisation and access log apply: the
// package never reads the store for case data. Forms post with the
// session's CSRF token and work without JavaScript; console.js adds live
// updates and keyboard shortcuts.
package console

import (
	"bytes"
	"context"
	"embed"
	"fmt"
	"github.com/sportello/sportello/web/language"
	"html/template"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	callsv1 "github.com/sportello/sportello/api/sportello/calls/v1"
	casesv1 "github.com/sportello/sportello/api/sportello/cases/v1"
	contactsv1 "github.com/sportello/sportello/api/sportello/contacts/v1"
	directoryv1 "github.com/sportello/sportello/api/sportello/directory/v1"
	reportsv1 "github.com/sportello/sportello/api/sportello/reports/v1"
	"github.com/sportello/sportello/auth"
	"github.com/sportello/sportello/web"
)

//go:embed templates/*.html
var templates embed.FS

//go:embed static/console.js
var script []byte

// Paths of the console.
const (
	Path       = "/console"
	BoardPath  = "/console/board"
	ReportPath = "/supervisor/reports" // served by the reports pages
)

// Attachments opens an attachment's content for the principal in ctx,
// with the case service's checks and access log (cases.Server does).
type Attachments interface {
	OpenAttachment(ctx context.Context, id string) (*casesv1.Attachment, io.ReadSeekCloser, error)
}

// Config wires the console.
type Config struct {
	// Visitor returns the signed-in visitor of r, if any.
	Visitor func(r *http.Request) (web.Visitor, bool)
	// LoginPath starts a staff sign-in; the console adds return_to.
	LoginPath string
	// LogoutPath receives the logout form (POST, with csrf_token).
	LogoutPath string
	// Presence records who is looking at a case (nil: no collision notice).
	Presence Presence
	Log      *slog.Logger
	// ReplyTemplates returns the approved message templates of a channel
	// instance (WhatsApp), offered on its cases; nil offers none.
	ReplyTemplates func(kind, id string) []ReplyTemplate
	// Location is the time zone of the board's charts' days (nil: UTC),
	// the reports page's.
	Location *time.Location
}

// ReplyTemplate is a message template an operator may reply with.
type ReplyTemplate struct {
	Name, Language, Body string
	Params               int
}

// Numbers are the template's parameter numbers, 1 to Params.
func (t ReplyTemplate) Numbers() []int {
	out := make([]int, t.Params)
	for i := range out {
		out[i] = i + 1
	}
	return out
}

// SetReplyTemplates sets Config.ReplyTemplates; call it before serving.
func (c *Console) SetReplyTemplates(f func(kind, id string) []ReplyTemplate) {
	c.cfg.ReplyTemplates = f
}

// Console is the operator console and supervisor board.
type Console struct {
	cfg     Config
	tmpl    map[string]*template.Template
	clients atomic.Pointer[clients]
	files   atomic.Pointer[Attachments]
	now     func() time.Time
	dir     directoryNames
}

type clients struct {
	cases     casesv1.CaseServiceClient
	contacts  contactsv1.ContactServiceClient
	directory directoryv1.DirectoryServiceClient
	canned    directoryv1.CannedResponseServiceClient
	calls     callsv1.CallServiceClient
	reports   reportsv1.ReportServiceClient
}

// New parses the templates.
func New(cfg Config) *Console {
	c := &Console{cfg: cfg, tmpl: map[string]*template.Template{}, now: time.Now}
	for _, page := range []string{"queue.html", "case.html", "board.html"} {
		files := []string{"templates/layout.html", "templates/" + page}
		if page == "case.html" {
			files = append(files, "templates/reply_templates.html")
		}
		c.tmpl[page] = template.Must(template.New(page).Funcs(funcs).ParseFS(templates, files...))
	}
	return c
}

// SetConn gives the console its connection to the services (the server's
// in-process connection, created after the routes) and the attachment
// content reader.
func (c *Console) SetConn(conn grpc.ClientConnInterface, files Attachments) {
	c.clients.Store(&clients{cases: casesv1.NewCaseServiceClient(conn), contacts: contactsv1.NewContactServiceClient(conn),
		directory: directoryv1.NewDirectoryServiceClient(conn), canned: directoryv1.NewCannedResponseServiceClient(conn),
		calls: callsv1.NewCallServiceClient(conn), reports: reportsv1.NewReportServiceClient(conn)})
	if files != nil {
		c.files.Store(&files)
	}
}

// Routes are the console's handlers by pattern; the caller wraps them in
// the session and CSRF middleware.
func (c *Console) Routes() map[string]http.Handler {
	h := func(f func(http.ResponseWriter, *http.Request, *request)) http.Handler { return c.staff(f) }
	return map[string]http.Handler{
		"GET " + Path + "/{$}":                  h(c.queue),
		"GET " + Path + "/events":               h(c.events),
		"GET " + Path + "/console.js":           http.HandlerFunc(serveScript),
		"POST " + Path + "/next":                h(c.next),
		"GET " + Path + "/cases/{id}":           h(c.caseView),
		"POST " + Path + "/cases/{id}/messages": h(c.addMessage),
		"POST " + Path + "/cases/{id}/status":   h(c.changeStatus),
		"POST " + Path + "/cases/{id}/update":   h(c.update),
		"POST " + Path + "/cases/{id}/transfer": h(c.transfer),
		"POST " + Path + "/cases/{id}/assign":   h(c.assign),
		"POST " + Path + "/cases/{id}/viewing":  h(c.viewing),
		"GET " + Path + "/attachments/{id}":     h(c.attachment),
		"POST " + Path + "/calls/{id}/attach":   h(c.attachCall),
		"GET " + BoardPath:                      h(c.board),
		"POST " + BoardPath + "/assign":         h(c.bulkAssign),
		"POST " + BoardPath + "/transfer":       h(c.bulkTransfer),
	}
}

// request is what a handler knows about the visitor.
type request struct {
	v    web.Visitor
	lang string
	t    map[string]string
	ctx  context.Context // carries the session's bearer token
	cl   *clients
}

// supervisor reports whether the visitor may use the board.
func (r *request) supervisor() bool {
	role := r.v.Principal.Role
	return role == auth.RoleSupervisor || role == auth.RoleAdmin
}

// staff requires a staff session: without one a browser goes to the staff
// sign-in and back; a citizen is refused.
func (c *Console) staff(f func(http.ResponseWriter, *http.Request, *request)) http.Handler {
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		w := &timed{ResponseWriter: rw, start: time.Now()}
		w.Header().Set("Cache-Control", "no-store")
		v, ok := web.Visitor{}, false
		if c.cfg.Visitor != nil {
			v, ok = c.cfg.Visitor(r)
		}
		if !ok {
			if r.Method == http.MethodGet {
				http.Redirect(w, r, c.cfg.LoginPath+"?return_to="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
				return
			}
			http.Error(w, "sign in first", http.StatusUnauthorized)
			return
		}
		if !v.Principal.Staff() {
			http.Error(w, "the console is for staff", http.StatusForbidden)
			return
		}
		cl := c.clients.Load()
		if cl == nil {
			http.Error(w, "starting up; retry", http.StatusServiceUnavailable)
			return
		}
		l := language.Remember(w, r)
		ctx := metadata.AppendToOutgoingContext(r.Context(), "authorization", "Bearer "+v.Token)
		f(w, r, &request{v: v, lang: l, t: texts[l], ctx: ctx, cl: cl})
	})
}

// timed adds a Server-Timing header ("app;dur=<ms>") when the response
// starts: the handler's time, call to the services and rendering included,
// as the benchmark and a browser's developer tools read it.
type timed struct {
	http.ResponseWriter
	start time.Time
	wrote bool
}

func (t *timed) WriteHeader(code int) {
	if !t.wrote {
		t.wrote = true
		t.Header().Set("Server-Timing", fmt.Sprintf("app;dur=%.2f", float64(time.Since(t.start).Microseconds())/1000))
	}
	t.ResponseWriter.WriteHeader(code)
}

func (t *timed) Write(b []byte) (int, error) {
	if !t.wrote {
		t.WriteHeader(http.StatusOK)
	}
	return t.ResponseWriter.Write(b)
}

// Flush lets the event stream through.
func (t *timed) Flush() {
	if f, ok := t.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap gives http.ResponseController the underlying writer.
func (t *timed) Unwrap() http.ResponseWriter { return t.ResponseWriter }

// page is what every template gets.
type page struct {
	Lang, Title string
	T           map[string]string
	Visitor     web.Visitor
	Supervisor  bool
	Errors      []string
	Notice      string
	Nav         string // "queue", "case" or "board"
	ReportPath  string
	LogoutPath  string
	Assets      assets
	// CSRF is the session's token, for the forms the call notice
	// (console.js) draws; Stream the live stream it listens to.
	CSRF   string
	Stream string
	Here   string // this page's path and query, where the notice's forms come back on a refusal
	// Names are the departments' and operators' names.
	Names lookup
	// NowMS is the server's time of the page (Unix ms): console.js ticks
	// the SLA badges from it, whatever the browser's clock says.
	NowMS int64
}

// assets are the stylesheet, scripts and icons the pages reference.
type assets struct{ CSS, JS, Sprite, Console string }

var pageAssets = assets{CSS: cssPath, JS: jsPath, Sprite: spritePath, Console: Path + "/console.js"}

func (c *Console) newPage(rq *request, r *http.Request, nav, title string) page {
	p := page{Lang: rq.lang, T: rq.t, Visitor: rq.v, Supervisor: rq.supervisor(), Nav: nav, Title: title, ReportPath: ReportPath,
		LogoutPath: c.cfg.LogoutPath, Assets: pageAssets, CSRF: rq.v.CSRF, Stream: Path + "/events", Here: r.URL.RequestURI(), NowMS: c.now().UnixMilli(),
		Names: c.names(rq.ctx, rq.cl)}
	if e := r.URL.Query().Get("error"); e != "" {
		p.Errors = append(p.Errors, e)
	}
	if n := r.URL.Query().Get("done"); n != "" {
		p.Notice = rq.t["done."+n]
	}
	return p
}

func (c *Console) render(w http.ResponseWriter, status int, name string, data any) {
	var buf bytes.Buffer
	if err := c.tmpl[name].ExecuteTemplate(&buf, name, data); err != nil {
		c.cfg.Log.Error("console: render", "template", name, "err", err)
		http.Error(w, "page error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; font-src 'self' data:; style-src 'self' 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = buf.WriteTo(w)
}

// fail answers a failed call: its message is shown at the top of the page
// the visitor goes back to (a form post redirects, so a reload repeats
// nothing).
func (c *Console) fail(w http.ResponseWriter, r *http.Request, rq *request, back string, err error) {
	msg := explain(rq.t, err)
	if st, ok := status.FromError(err); !ok || st.Code() == codes.Internal || st.Code() == codes.Unknown {
		c.cfg.Log.ErrorContext(r.Context(), "console: call failed", "path", r.URL.Path, "err", err)
	}
	u, _ := url.Parse(back)
	q := u.Query()
	q.Del("done") // the page may have come back from an earlier success
	q.Set("error", msg)
	u.RawQuery = q.Encode()
	redirect(w, r, u.String())
}

// redirect sends the browser to to after a form post: 303 See Other. An
// htmx request (HX-Request) gets 204 with HX-Location instead, since the
// XMLHttpRequest under htmx follows a 303 out of htmx's sight: htmx then
// loads to itself, so a boosted form lands on the same page, query and all.
func redirect(w http.ResponseWriter, r *http.Request, to string) {
	if r.Header.Get("HX-Request") == "true" {
		w.Header().Set("HX-Location", to)
		w.WriteHeader(http.StatusNoContent)
		return
	}
	http.Redirect(w, r, to, http.StatusSeeOther)
}

// explain turns a service error into a line for the page, in its language.
func explain(t map[string]string, err error) string {
	st, ok := status.FromError(err)
	if !ok {
		return t["err.unavailable"]
	}
	prefix := t["err."+st.Code().String()]
	if prefix == "" {
		prefix = t["err.unavailable"]
	}
	if st.Code() == codes.Internal || st.Code() == codes.Unknown || st.Code() == codes.Unavailable {
		return prefix
	}
	return prefix + ": " + st.Message()
}

// done redirects to back with a notice key.
func done(w http.ResponseWriter, r *http.Request, back, notice string) {
	u, _ := url.Parse(back)
	q := u.Query()
	q.Del("error")
	q.Set("done", notice)
	u.RawQuery = q.Encode()
	redirect(w, r, u.String())
}

func serveScript(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
	w.Header().Set("Cache-Control", "public, max-age=300")
	_, _ = w.Write(script)
}

// Presence records which members of staff have a case open, for the
// collision notice. It must be shared by every replica (a NATS KV bucket,
// see services/events.Viewing) and forget a viewer a short while after
// their page stops refreshing.
type Presence interface {
	Viewing(ctx context.Context, caseID string, v Viewer) error
	Viewers(ctx context.Context, caseID string) ([]Viewer, error)
}
