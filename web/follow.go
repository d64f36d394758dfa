package web

import (
	"context"
	"crypto/subtle"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	casesv1 "github.com/sportello/sportello/api/sportello/cases/v1"
	"github.com/sportello/sportello/auth"
	"github.com/sportello/sportello/services/attachments"
	"github.com/sportello/sportello/services/follow"
)

// FollowPath is the page where a citizen without a login asks for a link
// to follow a request; FollowPath + "/{token}" is the link.
const FollowPath = "/follow"

// SetFollow turns on the follow pages; files, when not nil, lets the
// link's holder download the case's files they may see.
func (s *Site) SetFollow(f *follow.Service, files AttachmentOpener) { s.follow, s.files = f, files }

// AttachmentOpener opens an attachment as the principal of ctx may
// (cases.Server.OpenAttachment: NotFound for a file of another case).
type AttachmentOpener interface {
	OpenAttachment(ctx context.Context, id string) (*casesv1.Attachment, io.ReadSeekCloser, error)
}

// maxFollowForm bounds the posted follow forms.
const maxFollowForm = 64 << 10

type followPage struct {
	page
	// Mode: "form", "sent", "limited", "invalid" or "case".
	Mode      string
	Reference string
	Email     string
	Errors    []shownError
	// The case view (Mode "case").
	Case      *casesv1.Case
	Messages  []*casesv1.Message
	Action    string // the reply form's action
	Files     string // the path files are downloaded under, "" for none
	FormToken string
	Expires   time.Time
	Body      string
	Sent      bool
}

func (s *Site) followPage(w http.ResponseWriter, r *http.Request, mode string) followPage {
	p := followPage{page: s.base(w, r, ""), Mode: mode}
	p.T = followT(p.Lang)
	p.Title = p.T["follow.title"]
	return p
}

func (s *Site) renderFollow(w http.ResponseWriter, status int, p followPage) {
	w.Header().Set("Referrer-Policy", "no-referrer") // the path may hold the token
	s.render(w, status, "follow.html", p)
}

// FollowForm serves GET /follow.
func (s *Site) FollowForm(w http.ResponseWriter, r *http.Request) {
	s.renderFollow(w, http.StatusOK, s.followPage(w, r, "form"))
}

// RequestFollow serves POST /follow: the same answer whether or not the
// case exists and the address matches; 429 when the address or client
// asked too often.
func (s *Site) RequestFollow(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxFollowForm)
	p := s.followPage(w, r, "form")
	if err := r.ParseForm(); err != nil {
		http.Error(w, "the form could not be read", http.StatusBadRequest)
		return
	}
	p.Reference, p.Email = strings.TrimSpace(r.PostFormValue("reference")), strings.TrimSpace(r.PostFormValue("email"))
	if p.Reference == "" || len(p.Reference) > 64 {
		p.Errors = append(p.Errors, shownError{Field: "reference", Label: p.T["follow.reference"], Text: p.T["reason.REQUIRED"]})
	}
	if a := p.Email; a == "" || len(a) > 254 || !strings.Contains(a, "@") {
		p.Errors = append(p.Errors, shownError{Field: "email", Label: p.T["follow.email"], Text: p.T["follow.invalidForm"]})
	}
	if len(p.Errors) > 0 {
		s.renderFollow(w, http.StatusBadRequest, p)
		return
	}
	err := s.follow.Request(r.Context(), p.Reference, p.Email, clientIP(r))
	switch {
	case errors.Is(err, follow.ErrRateLimited):
		p.Mode = "limited"
		w.Header().Set("Retry-After", "3600")
		s.renderFollow(w, http.StatusTooManyRequests, p)
	case err != nil:
		s.log.ErrorContext(r.Context(), "web: follow link request", "err", err)
		http.Error(w, "servizio non disponibile / service unavailable", http.StatusServiceUnavailable)
	default:
		p.Mode, p.Reference, p.Email = "sent", "", ""
		s.renderFollow(w, http.StatusOK, p)
	}
}

// clientIP is the address the request came from (the connection's peer:
// a proxy in front must not be shared by all clients, or every client
// shares its limit).
func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// asLinkHolder calls the services with the follow link's token: the
// principal it gives sees that one case as its citizen does.
func asLinkHolder(ctx context.Context, token string) context.Context {
	return metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+token)
}

// loadFollowed reads the link's case and its public thread; it writes the
// answer itself and returns false when it cannot.
func (s *Site) loadFollowed(w http.ResponseWriter, r *http.Request) (followPage, string, bool) {
	token := r.PathValue("token")
	p := s.followPage(w, r, "case")
	l, err := s.follow.Open(r.Context(), token)
	if errors.Is(err, follow.ErrInvalidToken) {
		p.Mode = "invalid"
		s.renderFollow(w, http.StatusNotFound, p)
		return p, "", false
	}
	c := s.cases.Load()
	if err != nil || c == nil {
		if err != nil {
			s.log.ErrorContext(r.Context(), "web: follow link", "err", err)
		}
		http.Error(w, "servizio non disponibile / service unavailable", http.StatusServiceUnavailable)
		return p, "", false
	}
	ctx := asLinkHolder(r.Context(), token)
	got, err := (*c).GetCase(ctx, &casesv1.GetCaseRequest{Id: l.CaseID})
	if err == nil {
		var msgs *casesv1.ListMessagesResponse
		if msgs, err = (*c).ListMessages(ctx, &casesv1.ListMessagesRequest{CaseId: got.GetId(), PageSize: 1000}); err == nil {
			p.Messages = msgs.GetMessages()
		}
	}
	switch status.Code(err) {
	case codes.OK:
	case codes.Unauthenticated, codes.NotFound, codes.PermissionDenied:
		p.Mode = "invalid"
		s.renderFollow(w, http.StatusNotFound, p)
		return p, "", false
	default:
		s.log.ErrorContext(r.Context(), "web: follow case", "err", err)
		http.Error(w, "servizio non disponibile / service unavailable", http.StatusServiceUnavailable)
		return p, "", false
	}
	p.Case, p.Expires, p.FormToken = got, l.ExpiresAt, follow.FormToken(token)
	p.Action = FollowPath + "/" + token + "/messages?lang=" + p.Lang
	if s.files != nil {
		p.Files = FollowPath + "/" + token + "/attachments/"
	}
	p.Title = got.GetReference() + " – " + got.GetSubject()
	return p, token, true
}

// Followed serves GET /follow/{token}: the link's case, read-only, with
// its public thread and the reply form.
func (s *Site) Followed(w http.ResponseWriter, r *http.Request) {
	p, _, ok := s.loadFollowed(w, r)
	if !ok {
		return
	}
	p.Sent = r.URL.Query().Get("sent") == "1"
	s.renderFollow(w, http.StatusOK, p)
}

// ReplyFollowed serves POST /follow/{token}/messages: the citizen's
// message on the link's case (an inbound message, as a portal reply).
func (s *Site) ReplyFollowed(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxFollowForm)
	if err := r.ParseForm(); err != nil {
		http.Error(w, "the form could not be read", http.StatusBadRequest)
		return
	}
	p, token, ok := s.loadFollowed(w, r)
	if !ok {
		return
	}
	if subtle.ConstantTimeCompare([]byte(r.PostFormValue("follow_token")), []byte(p.FormToken)) != 1 {
		http.Error(w, "missing or invalid form token", http.StatusForbidden)
		return
	}
	t := p.T
	p.Body = strings.TrimSpace(r.PostFormValue("body"))
	if p.Body == "" {
		p.Errors = append(p.Errors, shownError{Field: "body", Label: t["yourMessage"], Text: t["reason.REQUIRED"]})
		s.renderFollow(w, http.StatusBadRequest, p)
		return
	}
	_, err := (*s.cases.Load()).AddMessage(asLinkHolder(r.Context(), token), &casesv1.AddMessageRequest{CaseId: p.Case.GetId(), BodyText: p.Body})
	switch status.Code(err) {
	case codes.OK:
		http.Redirect(w, r, FollowPath+"/"+token+"?sent=1&lang="+p.Lang+"#thread", http.StatusSeeOther)
	case codes.InvalidArgument, codes.FailedPrecondition:
		p.Errors = append(p.Errors, shownError{Field: "body", Label: t["yourMessage"], Text: status.Convert(err).Message()})
		s.renderFollow(w, http.StatusBadRequest, p)
	case codes.Unauthenticated, codes.NotFound, codes.PermissionDenied:
		p.Mode = "invalid"
		s.renderFollow(w, http.StatusNotFound, p)
	default:
		s.log.ErrorContext(r.Context(), "web: follow reply", "err", err)
		http.Error(w, "servizio non disponibile / service unavailable", http.StatusServiceUnavailable)
	}
}

// FollowedFile serves GET /follow/{token}/attachments/{id}: a file of the
// link's case, as its citizen sees it (a file of another case, or one on
// an internal note, is 404), with the headers of the API's download.
func (s *Site) FollowedFile(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Referrer-Policy", "no-referrer")
	if s.files == nil {
		http.NotFound(w, r)
		return
	}
	p, err := s.follow.Authenticate(r.Context(), r.PathValue("token"))
	if errors.Is(err, auth.ErrUnauthenticated) {
		http.Error(w, "unknown, revoked or expired link", http.StatusNotFound)
		return
	}
	if err != nil {
		s.log.ErrorContext(r.Context(), "web: follow link", "err", err)
		http.Error(w, "servizio non disponibile / service unavailable", http.StatusServiceUnavailable)
		return
	}
	a, content, err := s.files.OpenAttachment(auth.WithPrincipal(r.Context(), p), r.PathValue("id"))
	switch status.Code(err) {
	case codes.OK:
	case codes.NotFound, codes.PermissionDenied, codes.InvalidArgument, codes.Unauthenticated:
		http.Error(w, "file not found", http.StatusNotFound)
		return
	default:
		s.log.ErrorContext(r.Context(), "web: follow file", "err", err)
		http.Error(w, "servizio non disponibile / service unavailable", http.StatusServiceUnavailable)
		return
	}
	defer content.Close()
	attachments.Serve(w, r, a, content)
}

// FollowRoutes are the follow pages by pattern, for the server's mux; wrap
// is the session and CSRF middleware (cross-origin posts are refused, and
// a signed-in visitor's posts carry the session's token).
func (s *Site) FollowRoutes(wrap func(http.Handler) http.Handler) map[string]http.Handler {
	return map[string]http.Handler{
		"GET " + FollowPath:                               wrap(http.HandlerFunc(s.FollowForm)),
		"POST " + FollowPath:                              wrap(http.HandlerFunc(s.RequestFollow)),
		"GET " + FollowPath + "/{token}":                  wrap(http.HandlerFunc(s.Followed)),
		"POST " + FollowPath + "/{token}/messages":        wrap(http.HandlerFunc(s.ReplyFollowed)),
		"GET " + FollowPath + "/{token}/attachments/{id}": wrap(http.HandlerFunc(s.FollowedFile)),
	}
}
