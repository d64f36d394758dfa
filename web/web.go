// Package web serves the server-rendered pages. For now: the public home
// page with the service catalogue and a request form that posts to the
// web-form channel and works without JavaScript, and the pages that answer
// a browser's form post. The citizen portal and operator console (issue #7)
// grow here. Pages are clients of the same services as the API.
package web

import (
	"embed"
	"html/template"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"

	casesv1 "github.com/sportello/sportello/api/sportello/cases/v1"
	"github.com/sportello/sportello/channels/webform"
	"github.com/sportello/sportello/services/directory"
	"github.com/sportello/sportello/services/surveys"
)

//go:embed templates/*.html
var templates embed.FS

// Site renders the pages.
type Site struct {
	tmpl      *template.Template
	directory directory.Store
	log       *slog.Logger
	accounts  Accounts
	cases     atomic.Pointer[casesv1.CaseServiceClient] // set once the server runs
	surveys   *surveys.Service                          // nil: no survey pages
}

// New parses the templates.
func New(dir directory.Store, log *slog.Logger) *Site {
	return &Site{tmpl: template.Must(template.ParseFS(templates, "templates/*.html")), directory: dir, log: log}
}

var _ webform.Responder = (*Site)(nil)

type formPage struct {
	Lang       string
	T          map[string]string
	Categories []directory.Category
	Values     webform.Submission
	Errors     []shownError
	Message    string
	ContactID  string
	Action     string
}

// Home serves GET / (routed as "GET /{$}"): the catalogue and the
// request form.
func (s *Site) Home(w http.ResponseWriter, r *http.Request) {
	s.renderForm(w, r, http.StatusOK, formPage{})
}

func (s *Site) renderForm(w http.ResponseWriter, r *http.Request, status int, p formPage) {
	cats, err := s.directory.ListCategories(r.Context())
	if err != nil {
		s.log.Error("web: categories", "err", err)
		http.Error(w, "servizio non disponibile / service unavailable", http.StatusServiceUnavailable)
		return
	}
	// The post keeps the page's language for the page that answers it.
	p.Categories, p.Lang, p.T, p.Action = cats, lang(r), texts[lang(r)], webform.Path+"?lang="+lang(r)
	s.render(w, status, "form.html", p)
}

// Accepted implements webform.Responder: the confirmation page.
func (s *Site) Accepted(w http.ResponseWriter, r *http.Request, contactID string) {
	s.render(w, http.StatusAccepted, "accepted.html", formPage{Lang: lang(r), T: texts[lang(r)], ContactID: contactID})
}

// Rejected implements webform.Responder: the form again, with the
// errors listed at the top and linked to their fields.
func (s *Site) Rejected(w http.ResponseWriter, r *http.Request, status int, msg string, sub webform.Submission, fields []webform.FieldViolation) {
	t := texts[lang(r)]
	shown := make([]shownError, len(fields))
	for i, f := range fields {
		shown[i] = shownError{Field: f.Field, Label: t[f.Field], Text: t["reason."+f.Reason]}
		if shown[i].Text == "" {
			shown[i].Text = f.Description
		}
	}
	if len(fields) > 0 {
		msg = ""
	} else if status != http.StatusBadRequest {
		msg = t["unavailable"]
	}
	s.renderForm(w, r, status, formPage{Values: sub, Errors: shown, Message: msg})
}

// shownError is a field error as the page shows it, in the page's language.
type shownError struct{ Field, Label, Text string }

func (s *Site) render(w http.ResponseWriter, status int, name string, data any) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", "default-src 'self'; style-src 'self' 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	if err := s.tmpl.ExecuteTemplate(w, name, data); err != nil {
		s.log.Error("web: render", "template", name, "err", err)
	}
}

// lang picks Italian unless the browser prefers English (or ?lang=en).
func lang(r *http.Request) string {
	if l := r.URL.Query().Get("lang"); l == "en" || l == "it" {
		return l
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
