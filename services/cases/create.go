package cases

import (
	"context"
	"fmt"
	"net/mail"
	"slices"
	"strings"
	"unicode/utf8"

	casesv1 "github.com/sportello/sportello/api/sportello/cases/v1"
	"github.com/sportello/sportello/auth"
)

// StaffCase is a case a member of staff opens on a citizen's behalf.
type StaffCase struct {
	// RequestID makes the call idempotent per caller.
	RequestID                       string
	Subject, Description            string
	Category, Department            string
	Priority                        Priority // 0: the category's default
	ChannelKind                     string
	ContactName, ContactEmail       string
	ContactPhone, ContactFiscalCode string
	Tags                            []string
	Language                        string
	Actor                           string // principal subject
}

// Creator opens staff-created cases through intake, so they are routed
// and given deadlines like any other; services/intake implements it.
type Creator interface {
	// CreateCase returns the id of the case, new or (same actor and
	// request id) created before.
	CreateCase(ctx context.Context, c StaffCase) (string, error)
}

// StaffChannels are the channel kinds of staff-created cases.
var StaffChannels = []string{"walk_in", "letter", "phone"}

// maxRequestID bounds CreateCaseRequest.request_id.
const maxRequestID = 100

func staffCaseFromProto(p auth.Principal, req *casesv1.CreateCaseRequest) (StaffCase, error) {
	c := StaffCase{RequestID: strings.TrimSpace(req.GetRequestId()), Subject: strings.TrimSpace(req.GetSubject()),
		Description: strings.TrimSpace(strings.ReplaceAll(req.GetDescription(), "\r\n", "\n")),
		Category:    req.GetCategory(), Department: req.GetDepartment(), Priority: Priority(req.GetPriority()),
		ChannelKind: req.GetChannelKind(), Language: req.GetLanguage(), Actor: p.Subject}
	ct := req.GetContact()
	c.ContactName, c.ContactEmail = strings.TrimSpace(ct.GetName()), strings.TrimSpace(ct.GetEmail())
	c.ContactPhone = strings.TrimSpace(ct.GetPhone())
	if c.ChannelKind == "" {
		c.ChannelKind = "walk_in"
	}
	if c.Language == "" {
		c.Language = "it"
	}
	var err error
	if c.Tags, err = NormalizeTags(req.GetTags()); err != nil {
		return c, err
	}
	bad := func(format string, a ...any) (StaffCase, error) {
		return c, fmt.Errorf("%w: "+format, append([]any{ErrInvalidArgument}, a...)...)
	}
	switch {
	case len(c.RequestID) > maxRequestID:
		return bad("request_id longer than %d bytes", maxRequestID)
	case c.Description == "":
		return bad("description is required: what the citizen asked")
	case !utf8.ValidString(c.Description+c.Subject+c.ContactName) || utf8.RuneCountInString(c.Description) > MaxMessageRunes:
		return bad("description must be valid UTF-8 of at most %d characters", MaxMessageRunes)
	case utf8.RuneCountInString(c.Subject) > 300:
		return bad("subject longer than 300 characters")
	case !slices.Contains(StaffChannels, c.ChannelKind):
		return bad("channel_kind %q (want %s)", c.ChannelKind, strings.Join(StaffChannels, ", "))
	case c.ContactName == "" || utf8.RuneCountInString(c.ContactName) > 200:
		return bad("contact.name is required (at most 200 characters)")
	case c.ContactEmail == "" && c.ContactPhone == "":
		return bad("contact needs an email or a phone number to be answered")
	case c.Priority < 0 || c.Priority > PriorityUrgent:
		return bad("priority must be low, normal, high or urgent")
	case !languagePattern.MatchString(c.Language):
		return bad("language %q (want an ISO 639-1 code such as \"it\")", c.Language)
	case c.Category == "" && c.Department == "":
		return bad("a category or a department is required")
	}
	if c.ContactEmail != "" {
		if a, err := mail.ParseAddress(c.ContactEmail); err != nil || a.Address != c.ContactEmail {
			return bad("contact.email %q is not an e-mail address", c.ContactEmail)
		}
	}
	if c.ContactPhone != "" && !phonePattern(c.ContactPhone) {
		return bad("contact.phone %q: digits, spaces and a leading + only", c.ContactPhone)
	}
	return c, nil
}

func phonePattern(s string) bool {
	digits := 0
	for i, r := range s {
		switch {
		case r >= '0' && r <= '9':
			digits++
		case r == '+' && i == 0, r == ' ':
		default:
			return false
		}
	}
	return digits >= 5 && digits <= 15
}

// CreateCase opens a case on a citizen's behalf; a department override
// must be one the caller works.
func (s *Server) CreateCase(ctx context.Context, req *casesv1.CreateCaseRequest) (*casesv1.Case, error) {
	p, _ := auth.PrincipalFrom(ctx)
	sc, err := staffCaseFromProto(p, req)
	if err != nil {
		return nil, toStatus(err)
	}
	if sc.Department != "" && !p.InDepartment(sc.Department) {
		return nil, toStatus(fmt.Errorf("%w: you do not work department %q", errPermission, sc.Department))
	}
	id, err := s.Creator.CreateCase(ctx, sc)
	if err != nil {
		return nil, toStatus(err)
	}
	c, err := s.Store.GetCase(ctx, id)
	if err != nil {
		return nil, toStatus(err)
	}
	return toProto(c), nil
}
