package web

import (
	"context"
	"net/http"
	"time"

	"github.com/sportello/sportello/channels/webform"
)

// Draft is a signed-in citizen's request not sent yet.
type Draft struct {
	Category, Subject, Message string
	UpdatedAt                  time.Time
}

// Drafts keeps one draft per citizen (services/storage).
type Drafts interface {
	SaveDraft(ctx context.Context, contact string, d Draft) error
	GetDraft(ctx context.Context, contact string) (Draft, bool, error)
	DeleteDraft(ctx context.Context, contact string) error
}

// DraftPath receives the form's "Salva bozza" button.
const DraftPath = "/request/draft"

// SaveDraft serves POST /request/draft: a signed-in citizen's form kept
// for later; the home page offers it again until the request is sent.
func (s *Site) SaveDraft(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, webform.MaxBodyBytes)
	if err := r.ParseForm(); err != nil {
		http.Error(w, "the form could not be read", http.StatusBadRequest)
		return
	}
	p := s.base(w, r, "form")
	contact := p.Visitor.Principal.Contact
	if !p.SignedIn || !p.Visitor.Principal.Citizen() || contact == "" || s.deps.Drafts == nil {
		http.Redirect(w, r, AccountPath, http.StatusSeeOther)
		return
	}
	sub := submissionOf(r)
	if err := s.deps.Drafts.SaveDraft(r.Context(), contact, Draft{Category: sub.Category, Subject: sub.Subject, Message: sub.Message, UpdatedAt: time.Now()}); err != nil {
		s.log.ErrorContext(r.Context(), "web: save draft", "err", err)
		s.renderForm(w, r, http.StatusServiceUnavailable, formPage{Values: sub, Message: p.T["draftFailed"]})
		return
	}
	http.Redirect(w, r, "/?draft=saved", http.StatusSeeOther)
}

// loadDraft fills an empty form with the citizen's draft.
func (s *Site) loadDraft(r *http.Request, p *formPage) {
	contact := p.Visitor.Principal.Contact
	if s.deps.Drafts == nil || !p.SignedIn || !p.Visitor.Principal.Citizen() || contact == "" {
		return
	}
	p.CanDraft = true
	if r.Method != http.MethodGet || p.Values.Subject != "" || p.Values.Message != "" {
		return
	}
	d, ok, err := s.deps.Drafts.GetDraft(r.Context(), contact)
	if err != nil {
		s.log.ErrorContext(r.Context(), "web: load draft", "err", err)
		return
	}
	if ok {
		p.Values.Category, p.Values.Subject, p.Values.Message = d.Category, d.Subject, d.Message
		p.DraftAt = d.UpdatedAt
		p.DraftSaved = r.URL.Query().Get("draft") == "saved"
	}
}

// dropDraft deletes the draft of the citizen who has just sent a request.
func (s *Site) dropDraft(r *http.Request) {
	if s.deps.Drafts == nil || s.accounts.Visitor == nil {
		return
	}
	v, ok := s.accounts.Visitor(r)
	if !ok || !v.Principal.Citizen() || v.Principal.Contact == "" {
		return
	}
	if err := s.deps.Drafts.DeleteDraft(r.Context(), v.Principal.Contact); err != nil {
		s.log.ErrorContext(r.Context(), "web: delete draft", "err", err)
	}
}
