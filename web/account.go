package web

import (
	"net/http"

	"google.golang.org/grpc/metadata"

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
}

// LoginLink is a way to sign in shown on the pages.
type LoginLink struct {
	Label, Href string
	Staff       bool
	// Scheme of a citizen's login: "spid" or "cie".
	Scheme string
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
	Lang       string
	T          map[string]string
	Visitor    Visitor
	Cases      []*casesv1.Case
	Logins     []LoginLink
	LogoutPath string
	Message    string
	// Surveys are the citizen's unanswered survey invitations (a banner).
	Surveys []surveys.Banner
}

// Account serves GET /account: who is signed in and, for a citizen,
// their requests on every channel; without a session, the ways to sign
// in.
func (s *Site) Account(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	p := accountPage{Lang: lang(r), T: surveyT(lang(r)), Logins: s.accounts.Logins, LogoutPath: s.accounts.LogoutPath}
	v, ok := Visitor{}, false
	if s.accounts.Visitor != nil {
		v, ok = s.accounts.Visitor(r)
	}
	if !ok {
		s.render(w, http.StatusOK, "account.html", p)
		return
	}
	p.Visitor = v
	if c := s.cases.Load(); c != nil && v.Principal.Role == auth.RoleCitizen {
		ctx := metadata.AppendToOutgoingContext(r.Context(), "authorization", "Bearer "+v.Token)
		resp, err := (*c).ListCases(ctx, &casesv1.ListCasesRequest{PageSize: 100})
		if err != nil {
			s.log.ErrorContext(r.Context(), "web: my cases", "err", err)
			p.Message = p.T["unavailable"]
		} else {
			p.Cases = resp.GetCases()
		}
		if s.surveys != nil {
			banners, err := s.surveys.Banners(r.Context(), v.Principal.Contact)
			if err != nil {
				s.log.ErrorContext(r.Context(), "web: survey banner", "err", err)
			}
			p.Surveys = banners
		}
	}
	s.render(w, http.StatusOK, "account.html", p)
}
