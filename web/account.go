package web

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	casesv1 "github.com/sportello/sportello/api/sportello/cases/v1"
	"github.com/sportello/sportello/auth"
	"github.com/sportello/sportello/services/surveys"
)

// Visitor is who is browsing, as the web session knows them.
type Visitor struct {
	Principal auth.Principal
	// Token is the session's bearer credential: pages call the services
	// with it, so they pass the same authorisation as any API client.
	Token string
	CSRF  string // the session's CSRF token, for the forms
	// Email is what the citizen's identity provider gave ("" if none).
	Email string
}

// LoginLink is a way to sign in shown on the pages.
type LoginLink struct {
	Label, Href string
	Staff       bool
	// Kind is "spid", "cie" or "staff": the button the pages draw.
	Kind string
}

// Accounts configures the pages of signed-in users.
type Accounts struct {
	// Visitor returns the signed-in visitor of r, if any.
	Visitor func(r *http.Request) (Visitor, bool)
	// Logins are the sign-in choices (SPID, CIE, staff).
	Logins []LoginLink
	// LogoutPath receives the logout form (POST, with csrf_token).
	LogoutPath string
}

// SetAccounts turns on the account pages.
func (s *Site) SetAccounts(a Accounts) { s.accounts = a }

// SetCases gives the pages their client of the CaseService (the server's
// in-process connection, created after the site).
func (s *Site) SetCases(c casesv1.CaseServiceClient) { s.cases.Store(&c) }

type accountPage struct {
	page
	Cases   []*casesv1.Case
	Logins  []LoginLink
	Message string
	// Surveys are the citizen's unanswered survey invitations (a banner).
	Surveys []surveys.Banner
}

// asVisitor is a context that calls the services with the visitor's
// session token.
func asVisitor(ctx context.Context, v Visitor) context.Context {
	return metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+v.Token)
}

// Account serves GET /account: who is signed in and, for a citizen,
// their requests on every channel; without a session, the ways to sign
// in.
func (s *Site) Account(w http.ResponseWriter, r *http.Request) {
	p := accountPage{page: s.base(w, r, "myRequests"), Logins: s.accounts.Logins}
	if !p.SignedIn {
		p.Title = p.T["signIn"]
		s.render(w, http.StatusOK, "account.html", p)
		return
	}
	if c := s.cases.Load(); c != nil && p.Visitor.Principal.Role == auth.RoleCitizen {
		resp, err := (*c).ListCases(asVisitor(r.Context(), p.Visitor), &casesv1.ListCasesRequest{PageSize: 100, OrderBy: "create_time desc"})
		if err != nil {
			s.log.ErrorContext(r.Context(), "web: my cases", "err", err)
			p.Message = p.T["unavailable"]
		} else {
			p.Cases = resp.GetCases()
		}
		if s.surveys != nil {
			p.T = surveyT(p.Lang)
			banners, err := s.surveys.Banners(r.Context(), p.Visitor.Principal.Contact)
			if err != nil {
				s.log.ErrorContext(r.Context(), "web: survey banner", "err", err)
			}
			p.Surveys = banners
		}
	}
	s.render(w, http.StatusOK, "account.html", p)
}

type casePage struct {
	page
	Case     *casesv1.Case
	Messages []*casesv1.Message
	Errors   []shownError
	Body     string
	Sent     bool
	MaxBytes int64
}

// maxUpload bounds one file a citizen attaches on the portal.
const maxUpload = 10 << 20

// Case serves GET /account/cases/{id}: one of the citizen's requests
// with its public thread (the CaseService never gives a citizen internal
// notes) and the reply form.
func (s *Site) Case(w http.ResponseWriter, r *http.Request) {
	p, ok := s.loadCase(w, r)
	if !ok {
		return
	}
	p.Sent = r.URL.Query().Get("sent") == "1"
	s.render(w, http.StatusOK, "case.html", p)
}

func (s *Site) loadCase(w http.ResponseWriter, r *http.Request) (casePage, bool) {
	p := casePage{page: s.base(w, r, "myRequests"), MaxBytes: maxUpload}
	if !p.SignedIn {
		http.Redirect(w, r, AccountPath, http.StatusSeeOther)
		return p, false
	}
	c := s.cases.Load()
	if c == nil {
		http.Error(w, "servizio non disponibile / service unavailable", http.StatusServiceUnavailable)
		return p, false
	}
	ctx := asVisitor(r.Context(), p.Visitor)
	got, err := (*c).GetCase(ctx, &casesv1.GetCaseRequest{Id: r.PathValue("id")})
	if err != nil {
		s.serviceError(w, r, err)
		return p, false
	}
	msgs, err := (*c).ListMessages(ctx, &casesv1.ListMessagesRequest{CaseId: got.GetId(), PageSize: 1000})
	if err != nil {
		s.serviceError(w, r, err)
		return p, false
	}
	p.Case, p.Messages, p.Title = got, msgs.GetMessages(), got.GetReference()+" – "+got.GetSubject()
	return p, true
}

func (s *Site) serviceError(w http.ResponseWriter, r *http.Request, err error) {
	switch status.Code(err) {
	case codes.NotFound, codes.PermissionDenied, codes.InvalidArgument:
		http.NotFound(w, r)
	case codes.Unauthenticated:
		http.Redirect(w, r, AccountPath, http.StatusSeeOther)
	default:
		s.log.ErrorContext(r.Context(), "web: case service", "err", err)
		http.Error(w, "servizio non disponibile / service unavailable", http.StatusServiceUnavailable)
	}
}

// Reply serves POST /account/cases/{id}/messages: the citizen's message,
// with an optional file (multipart/form-data), on their own case. The
// same RPCs as the API do the work (UploadAttachment, AddMessage).
func (s *Site) Reply(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxUpload+64<<10)
	p, ok := s.loadCase(w, r)
	if !ok {
		return
	}
	t, c := p.T, *s.cases.Load()
	ctx := asVisitor(r.Context(), p.Visitor)
	p.Body = strings.TrimSpace(r.PostFormValue("body"))
	var ids []string
	file, hdr, err := r.FormFile("file")
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig) || (err == nil && hdr.Size > maxUpload):
		p.Errors = append(p.Errors, shownError{Field: "file", Label: t["file"], Text: t["reason.FILE_TOO_LARGE"]})
	case err == nil && hdr.Size > 0:
		b, rerr := io.ReadAll(file)
		_ = file.Close()
		if rerr != nil {
			http.Error(w, "the upload could not be read", http.StatusBadRequest)
			return
		}
		a, uerr := c.UploadAttachment(ctx, &casesv1.UploadAttachmentRequest{CaseId: p.Case.GetId(), FileName: hdr.Filename, Content: b})
		if status.Code(uerr) == codes.InvalidArgument || status.Code(uerr) == codes.FailedPrecondition {
			p.Errors = append(p.Errors, shownError{Field: "file", Label: t["file"], Text: status.Convert(uerr).Message()})
		} else if uerr != nil {
			s.serviceError(w, r, uerr)
			return
		} else {
			ids = append(ids, a.GetId())
		}
	case err != nil && !errors.Is(err, http.ErrMissingFile) && !errors.Is(err, http.ErrNotMultipart):
		http.Error(w, "the form could not be read", http.StatusBadRequest)
		return
	}
	if p.Body == "" && len(ids) == 0 && len(p.Errors) == 0 {
		p.Errors = append(p.Errors, shownError{Field: "body", Label: t["yourMessage"], Text: t["reason.REQUIRED"]})
	}
	if len(p.Errors) == 0 {
		_, err = c.AddMessage(ctx, &casesv1.AddMessageRequest{CaseId: p.Case.GetId(), BodyText: p.Body, AttachmentIds: ids})
		switch status.Code(err) {
		case codes.OK:
			http.Redirect(w, r, CasePath+p.Case.GetId()+"?sent=1#thread", http.StatusSeeOther)
			return
		case codes.InvalidArgument, codes.FailedPrecondition:
			p.Errors = append(p.Errors, shownError{Field: "body", Label: t["yourMessage"], Text: status.Convert(err).Message()})
		default:
			s.serviceError(w, r, err)
			return
		}
	}
	s.render(w, http.StatusBadRequest, "case.html", p)
}
