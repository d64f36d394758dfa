package web

import (
	"errors"
	"github.com/sportello/sportello/web/language"
	"net/http"
	"time"

	"github.com/sportello/sportello/channels/webform"
	"github.com/sportello/sportello/services/cases"
	"github.com/sportello/sportello/services/directory"
)

// The steps of the request flow, as the stepper shows them.
const (
	stepData = iota + 1
	stepReview
	stepDone
)

// catalogueItem is a category as the home page shows it.
type catalogueItem struct {
	directory.Category
	// ExpectedMinutes is the resolution target of the category's
	// department at its default priority, in business minutes (0: none).
	ExpectedMinutes int
}

type formPage struct {
	page
	Step       int
	Categories []catalogueItem
	Values     webform.Submission
	Privacy    bool
	Errors     []shownError
	Message    string
	Logins     []LoginLink
	// Locked: name and e-mail came from SPID/CIE and are not edited here.
	Locked       bool
	CategoryName string
	SendAction   string
	// CanDraft: a signed-in citizen may save the form for later; DraftAt
	// is when the draft shown was saved (zero: no draft).
	CanDraft   bool
	DraftAt    time.Time
	DraftSaved bool

	// The confirmation.
	ContactID string
	Case      *cases.Case
}

// shownError is a field error as the page shows it, in the page's language.
type shownError struct{ Field, Label, Text string }

// Home serves GET /: the catalogue, the sign-in choices and the first step
// of the request form.
func (s *Site) Home(w http.ResponseWriter, r *http.Request) {
	s.renderForm(w, r, http.StatusOK, formPage{})
}

func (s *Site) catalogue(r *http.Request) ([]catalogueItem, error) {
	cats, err := s.deps.Directory.ListCategories(r.Context())
	if err != nil {
		return nil, err
	}
	out := make([]catalogueItem, len(cats))
	for i, c := range cats {
		out[i].Category = c
	}
	if s.deps.SLAPolicies == nil {
		return out, nil
	}
	pols, err := s.deps.SLAPolicies(r.Context())
	if err != nil {
		return nil, err
	}
	for i, c := range out {
		prio := c.DefaultPriority
		if prio == 0 {
			prio = int(cases.PriorityNormal)
		}
		for _, p := range pols {
			if p.Department == c.DepartmentID && p.Priority == prio {
				out[i].ExpectedMinutes = p.ResolutionMinutes
			}
		}
	}
	return out, nil
}

func (s *Site) renderForm(w http.ResponseWriter, r *http.Request, status int, p formPage) {
	p.page = s.base(w, r, "form")
	cats, err := s.catalogue(r)
	if err != nil {
		s.log.Error("web: categories", "err", err)
		http.Error(w, "servizio non disponibile / service unavailable", http.StatusServiceUnavailable)
		return
	}
	p.Categories, p.Step, p.Logins = cats, stepData, s.accounts.Logins
	s.citizenData(&p)
	s.loadDraft(r, &p)
	s.render(w, status, "home.html", p)
}

// citizenData fills in (and locks) the name and e-mail a citizen's
// SPID/CIE login gave.
func (s *Site) citizenData(p *formPage) {
	if !p.SignedIn || !p.Visitor.Principal.Citizen() {
		return
	}
	if n := p.Visitor.Principal.Name; n != "" {
		p.Values.Name = n
	}
	if e := p.Visitor.Email; e != "" {
		p.Values.Email = e
		p.Locked = p.Values.Name != ""
	}
}

func submissionOf(r *http.Request) webform.Submission {
	return webform.Submission{Name: r.PostFormValue("name"), Email: r.PostFormValue("email"), Category: r.PostFormValue("category"),
		Subject: r.PostFormValue("subject"), Message: r.PostFormValue("message")}
}

// Review serves POST /request/review: the data checked as the web-form
// channel will check it, then the summary to confirm (or the form again,
// with the errors listed at the top).
func (s *Site) Review(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, webform.MaxBodyBytes)
	if err := r.ParseForm(); err != nil {
		http.Error(w, "the form could not be read", http.StatusBadRequest)
		return
	}
	p := formPage{Values: submissionOf(r), Privacy: r.PostFormValue("privacy") == "yes"}
	pg := s.base(w, r, "step.review")
	p.page = pg
	s.citizenData(&p)
	t := pg.T
	var fields []webform.FieldViolation
	if s.deps.Check != nil {
		var err error
		if fields, err = s.deps.Check(r.Context(), &p.Values); err != nil {
			s.log.Error("web: check submission", "err", err)
			s.renderForm(w, r, http.StatusServiceUnavailable, formPage{Values: p.Values, Privacy: p.Privacy, Message: t["unavailable"]})
			return
		}
	}
	if !p.Privacy {
		fields = append(fields, webform.FieldViolation{Field: "privacy", Reason: "CONSENT"})
	}
	if len(fields) > 0 {
		s.renderForm(w, r, http.StatusBadRequest, formPage{Values: p.Values, Privacy: p.Privacy, Errors: shown(t, fields)})
		return
	}
	cats, err := s.catalogue(r)
	if err != nil {
		s.log.Error("web: categories", "err", err)
		http.Error(w, "servizio non disponibile / service unavailable", http.StatusServiceUnavailable)
		return
	}
	p.CategoryName = t["none"]
	for _, c := range cats {
		if c.Code == p.Values.Category {
			p.CategoryName = c.Name
		}
	}
	p.Step, p.SendAction = stepReview, webform.Path+"?lang="+pg.Lang
	s.render(w, http.StatusOK, "review.html", p)
}

// Edit serves POST /request/edit: back from the summary to the form, with
// what was entered.
func (s *Site) Edit(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, webform.MaxBodyBytes)
	if err := r.ParseForm(); err != nil {
		http.Error(w, "the form could not be read", http.StatusBadRequest)
		return
	}
	s.renderForm(w, r, http.StatusOK, formPage{Values: submissionOf(r), Privacy: true})
}

// Accepted implements webform.Responder: the confirmation, with the case
// reference as soon as intake has opened the case (it usually has within a
// moment; otherwise the page offers to look again).
func (s *Site) Accepted(w http.ResponseWriter, r *http.Request, contactID string) {
	s.dropDraft(r)
	s.receipt(w, r, http.StatusAccepted, contactID, 2*time.Second)
}

// Receipt serves GET /request/receipt/{contact}: the confirmation again,
// once the case is open. It tells only the reference, the date and the
// expected response time: the receipt code is a random UUID only the
// sender has seen.
func (s *Site) Receipt(w http.ResponseWriter, r *http.Request) {
	s.receipt(w, r, http.StatusOK, r.PathValue("contact"), 0)
}

func (s *Site) receipt(w http.ResponseWriter, r *http.Request, status int, contactID string, wait time.Duration) {
	p := formPage{page: s.base(w, r, "received"), Step: stepDone, ContactID: contactID}
	if s.deps.CaseOfInbound != nil {
		deadline := time.Now().Add(wait)
		for {
			c, err := s.deps.CaseOfInbound(r.Context(), contactID)
			if err == nil {
				p.Case = &c
				break
			}
			if !errors.Is(err, cases.ErrNotFound) {
				s.log.Error("web: case of submission", "err", err)
				break
			}
			if time.Now().After(deadline) || r.Context().Err() != nil {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	if p.Case != nil && p.Case.SLADueAt.Equal(cases.NoDeadline) {
		p.Case.SLADueAt = time.Time{}
	}
	name := "accepted.html"
	if r.Header.Get("HX-Request") == "true" {
		name = "receipt"
	}
	s.render(w, status, name, p)
}

// Rejected implements webform.Responder: the form again, with the
// errors listed at the top and linked to their fields.
func (s *Site) Rejected(w http.ResponseWriter, r *http.Request, status int, msg string, sub webform.Submission, fields []webform.FieldViolation) {
	t := texts[language.Of(r)]
	if len(fields) > 0 {
		msg = ""
	} else if status != http.StatusBadRequest {
		msg = t["unavailable"]
	}
	s.renderForm(w, r, status, formPage{Values: sub, Errors: shown(t, fields), Message: msg, Privacy: true})
}

func shown(t map[string]string, fields []webform.FieldViolation) []shownError {
	out := make([]shownError, len(fields))
	for i, f := range fields {
		out[i] = shownError{Field: f.Field, Label: t[f.Field], Text: t["reason."+f.Reason]}
		if out[i].Text == "" {
			out[i].Text = f.Description
		}
		if out[i].Label == "" {
			out[i].Label = f.Field
		}
	}
	return out
}

// fieldError is the error of one field for the template, "" if none.
func (p formPage) FieldError(field string) string {
	for _, e := range p.Errors {
		if e.Field == field {
			return e.Text
		}
	}
	return ""
}
