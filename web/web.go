// Package web serves the server-rendered pages of the citizen portal,
// styled with bootstrap-italia and progressively enhanced with htmx (every
// page works without JavaScript): the home page with the service
// catalogue, the sign-in choices and the request form (data, summary,
// confirmation), the citizen's requests with their public thread and
// replies, and the static assets. Pages are clients of the same services
// as the API: they call the CaseService with the visitor's session token.
package web

import (
	"context"
	"embed"
	"fmt"
	"github.com/sportello/sportello/web/language"
	"html/template"
	"log/slog"
	"net/http"
	"net/url"
	"sync/atomic"
	"time"

	casesv1 "github.com/sportello/sportello/api/sportello/cases/v1"
	"github.com/sportello/sportello/channels/webform"
	"github.com/sportello/sportello/services/cases"
	"github.com/sportello/sportello/services/directory"
	"github.com/sportello/sportello/services/follow"
	"github.com/sportello/sportello/services/sla"
	"github.com/sportello/sportello/services/surveys"
)

//go:embed templates/*.html
var templates embed.FS

// Links are the addresses the footer of every page links to (config
// section web).
type Links struct {
	PrivacyURL       string
	AccessibilityURL string
}

// Deps is what the pages read.
type Deps struct {
	Directory directory.Store
	// SLAPolicies gives the expected response time of each category.
	SLAPolicies func(ctx context.Context) ([]sla.Policy, error)
	// CaseOfInbound finds the case a web-form submission became (nil:
	// the confirmation page shows the receipt code only).
	CaseOfInbound func(ctx context.Context, contactID string) (cases.Case, error)
	// Check validates a submission as the web-form channel will, for the
	// summary step (nil: errors show when the request is sent).
	Check func(ctx context.Context, s *webform.Submission) ([]webform.FieldViolation, error)
	// Drafts keeps signed-in citizens' unsent requests (nil: no drafts).
	Drafts Drafts
	Links  Links
	// Organization is the administration's name in the page header.
	Organization string
	Log          *slog.Logger
}

// Site renders the pages.
type Site struct {
	tmpl     *template.Template
	deps     Deps
	log      *slog.Logger
	accounts Accounts
	cases    atomic.Pointer[casesv1.CaseServiceClient] // set once the server runs
	surveys  *surveys.Service                          // nil: no survey pages
	follow   *follow.Service                           // nil: no follow pages
	files    AttachmentOpener                          // nil: follow pages list files without links
}

// New parses the templates.
func New(d Deps) *Site {
	if d.Log == nil {
		d.Log = slog.Default()
	}
	if d.Organization == "" {
		d.Organization = "Sportello"
	}
	funcs := template.FuncMap{
		"asset": Asset,
		"date":  formatDate,
		"sla":   expected,
	}
	return &Site{tmpl: template.Must(template.New("").Funcs(funcs).ParseFS(templates, "templates/*.html")), deps: d, log: d.Log}
}

// Routes are the pages' routes (Go 1.22 patterns) for the server's mux;
// wrap puts the session middleware and CSRF check around those that read
// the session.
func (s *Site) Routes(wrap func(http.Handler) http.Handler) map[string]http.Handler {
	return map[string]http.Handler{
		"GET /{$}":                           wrap(http.HandlerFunc(s.Home)),
		"POST " + ReviewPath:                 wrap(http.HandlerFunc(s.Review)),
		"POST " + DraftPath:                  wrap(http.HandlerFunc(s.SaveDraft)),
		"POST " + EditPath:                   wrap(http.HandlerFunc(s.Edit)),
		"GET " + ReceiptPath + "{contact}":   wrap(http.HandlerFunc(s.Receipt)),
		"GET " + AccountPath:                 wrap(http.HandlerFunc(s.Account)),
		"GET " + CasePath + "{id}":           wrap(http.HandlerFunc(s.Case)),
		"POST " + CasePath + "{id}/messages": wrap(http.HandlerFunc(s.Reply)),
		"GET " + StaticPath:                  Static(),
	}
}

// Paths of the pages.
const (
	AccountPath = "/account"
	CasePath    = "/account/cases/"
	ReviewPath  = "/request/review"
	EditPath    = "/request/edit"
	ReceiptPath = "/request/receipt/"
)

var _ webform.Responder = (*Site)(nil)

// page is what every page's layout needs.
type page struct {
	Lang     string
	T        map[string]string
	Title    string
	Org      string
	Links    Links
	Switch   string // this page in the other language
	Visitor  Visitor
	SignedIn bool
	Logout   string
	Path     string
}

// base reads the language (and stores a choice made with ?lang= in a
// cookie) and the visitor.
func (s *Site) base(w http.ResponseWriter, r *http.Request, title string) page {
	l := language.Remember(w, r)
	t := texts[l]
	p := page{Lang: l, T: t, Title: t[title], Org: s.deps.Organization, Links: s.deps.Links, Logout: s.accounts.LogoutPath, Path: r.URL.Path}
	q := url.Values{"lang": {t["otherLang"]}}
	p.Switch = r.URL.Path + "?" + q.Encode()
	if r.Method != http.MethodGet {
		p.Switch = "/?" + q.Encode()
	}
	if s.accounts.Visitor != nil {
		p.Visitor, p.SignedIn = s.accounts.Visitor(r)
	}
	return p
}

func (s *Site) render(w http.ResponseWriter, status int, name string, data any) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self'; font-src 'self' data:; script-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	h.Add("Vary", "Cookie")
	if h.Get("Cache-Control") == "" {
		h.Set("Cache-Control", "no-store")
	}
	w.WriteHeader(status)
	if err := s.tmpl.ExecuteTemplate(w, name, data); err != nil {
		s.log.Error("web: render", "template", name, "err", err)
	}
}

var rome = func() *time.Location {
	if l, err := time.LoadLocation("Europe/Rome"); err == nil {
		return l
	}
	return time.UTC
}()

// formatDate shows a time as Italians (or the English) write it.
func formatDate(lang string, t time.Time) string {
	if t.IsZero() {
		return ""
	}
	t = t.In(rome)
	if lang == "en" {
		return t.Format("2 January 2006, 15:04")
	}
	months := [...]string{"gennaio", "febbraio", "marzo", "aprile", "maggio", "giugno", "luglio", "agosto", "settembre", "ottobre", "novembre", "dicembre"}
	return fmt.Sprintf("%d %s %d, %s", t.Day(), months[t.Month()-1], t.Year(), t.Format("15:04"))
}

// workingDay is the length of a business day the SLA minutes count (the
// default working hours: 8 a day).
const workingDay = 8 * 60

// expected words a resolution target in business minutes: "entro 5
// giorni lavorativi", "within 4 working hours"; "" without a target.
func expected(lang string, minutes int) string {
	if minutes <= 0 {
		return ""
	}
	if minutes < workingDay {
		h := (minutes + 59) / 60
		if lang == "en" {
			return fmt.Sprintf("within %d working hour%s", h, plural(h, "", "s"))
		}
		return fmt.Sprintf("entro %d or%s lavorativ%s", h, plural(h, "a", "e"), plural(h, "a", "e"))
	}
	d := (minutes + workingDay - 1) / workingDay
	if lang == "en" {
		return fmt.Sprintf("within %d working day%s", d, plural(d, "", "s"))
	}
	return fmt.Sprintf("entro %d giorn%s lavorativ%s", d, plural(d, "o", "i"), plural(d, "o", "i"))
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
