// Package contacts serves citizens' records to staff: one contact across
// channels and all its cases. Every read of a contact's personal data is
// recorded in an append-only access log before it is returned. It holds
// the rules of who may see what; storage lives in services/storage behind
// Store, and it never imports gorm.
package contacts

import (
	"context"
	"errors"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	casesv1 "github.com/sportello/sportello/api/sportello/cases/v1"
	contactsv1 "github.com/sportello/sportello/api/sportello/contacts/v1"
	"github.com/sportello/sportello/auth"
	"github.com/sportello/sportello/services/cases"
)

// Contact is a citizen, one record across channels.
type Contact struct {
	ID          string
	DisplayName string
	Email       string
	Phone       string
	FiscalCode  string
	Handles     []Handle
	CreatedAt   time.Time
}

// Handle is a contact's handle or user id on a channel kind.
type Handle struct{ ChannelKind, Handle string }

// Search selects contacts by any of its exact identifiers.
type Search struct{ Email, Phone, FiscalCode string }

// Store reads contacts. services/storage implements it.
type Store interface {
	GetContact(ctx context.Context, id string) (Contact, error)
	// SearchContacts returns up to limit contacts holding any of the
	// identifiers (normalised as intake stores them).
	SearchContacts(ctx context.Context, s Search, limit int) ([]Contact, error)
	// ContactsWithCasesIn returns which of ids have a case in one of depts.
	ContactsWithCasesIn(ctx context.Context, ids, depts []string) (map[string]bool, error)
}

// ErrNotFound: no such contact.
var ErrNotFound = errors.New("contact not found")

// Server implements contactsv1.ContactServiceServer.
type Server struct {
	contactsv1.UnimplementedContactServiceServer
	Contacts Store
	Cases    cases.Store
	Links    cases.Links // nil: cases without links
	// Access is the staff access log (services/accesslog). Required: a
	// read that cannot be recorded is not served.
	Access AccessRecorder
	// Merger merges contacts; nil refuses MergeContacts as unimplemented.
	Merger Merger
}

// AccessRecorder writes the staff access log.
type AccessRecorder interface {
	Record(ctx context.Context, action, caseID, contactID, detail string) error
}

// accessActions names each method's reads in the staff access log.
var accessActions = map[string]string{
	contactsv1.ContactService_GetContact_FullMethodName:       "contact.read",
	contactsv1.ContactService_ListContactCases_FullMethodName: "contact.cases",
	contactsv1.ContactService_SearchContacts_FullMethodName:   "contact.search",
	contactsv1.ContactService_MergeContacts_FullMethodName:    "contact.merge",
}

const (
	defaultPageSize = 50
	maxPageSize     = 500
	maxSearch       = 20
)

// visible keeps the ids p may see: all for admins and service accounts,
// for the others those with a case in a department they work.
func (s *Server) visible(ctx context.Context, p auth.Principal, ids []string) (map[string]bool, error) {
	if p.AllDepartments() {
		m := map[string]bool{}
		for _, id := range ids {
			m[id] = true
		}
		return m, nil
	}
	if len(p.Departments) == 0 || len(ids) == 0 {
		return map[string]bool{}, nil
	}
	return s.Contacts.ContactsWithCasesIn(ctx, ids, p.Departments)
}

// load returns contact id if p may see it; NotFound otherwise, so its
// existence leaks nothing.
func (s *Server) load(ctx context.Context, p auth.Principal, id string) (Contact, error) {
	if id == "" {
		return Contact{}, status.Error(codes.InvalidArgument, "id is required")
	}
	c, err := s.Contacts.GetContact(ctx, id)
	if err != nil {
		return Contact{}, toStatus(err)
	}
	ok, err := s.visible(ctx, p, []string{c.ID})
	if err != nil {
		return Contact{}, toStatus(err)
	}
	if !ok[c.ID] {
		return Contact{}, status.Errorf(codes.NotFound, "contact %s not found", id)
	}
	return c, nil
}

// record writes the access log; a read that cannot be recorded is refused.
func (s *Server) record(ctx context.Context, method string, ids ...string) error {
	for _, id := range ids {
		if s.Access == nil || s.Access.Record(ctx, accessActions[method], "", id, "") != nil {
			return status.Error(codes.Unavailable, "the access log could not be written; nothing was read")
		}
	}
	return nil
}

// GetContact returns a contact the caller may see.
func (s *Server) GetContact(ctx context.Context, req *contactsv1.GetContactRequest) (*contactsv1.Contact, error) {
	p, _ := auth.PrincipalFrom(ctx)
	c, err := s.load(ctx, p, req.GetId())
	if err != nil {
		return nil, err
	}
	if err := s.record(ctx, contactsv1.ContactService_GetContact_FullMethodName, c.ID); err != nil {
		return nil, err
	}
	return toProto(c), nil
}

// ListContactCases lists the contact's cases in the caller's departments,
// newest first.
func (s *Server) ListContactCases(ctx context.Context, req *contactsv1.ListContactCasesRequest) (*contactsv1.ListContactCasesResponse, error) {
	p, _ := auth.PrincipalFrom(ctx)
	c, err := s.load(ctx, p, req.GetContactId())
	if err != nil {
		return nil, err
	}
	q := cases.Query{ContactID: c.ID, Order: cases.OrderCreatedDesc, Limit: int(req.GetPageSize())}
	switch {
	case q.Limit < 0:
		return nil, status.Error(codes.InvalidArgument, "page_size must not be negative")
	case q.Limit == 0:
		q.Limit = defaultPageSize
	case q.Limit > maxPageSize:
		q.Limit = maxPageSize
	}
	if !p.AllDepartments() {
		q.Departments = append([]string{}, p.Departments...)
	}
	if q.After, err = cases.DecodePageToken(q, req.GetPageToken()); err != nil {
		return nil, toStatus(err)
	}
	if q.After != nil {
		if _, err := uuid.Parse(q.After.ID); err != nil {
			return nil, status.Error(codes.InvalidArgument, "malformed page_token")
		}
	}
	page := q
	page.Limit++
	list, err := s.Cases.ListCases(ctx, page)
	if err != nil {
		return nil, toStatus(err)
	}
	if err := s.record(ctx, contactsv1.ContactService_ListContactCases_FullMethodName, c.ID); err != nil {
		return nil, err
	}
	resp := &contactsv1.ListContactCasesResponse{}
	if len(list) > q.Limit {
		list = list[:q.Limit]
		resp.NextPageToken = cases.EncodePageToken(q, list[len(list)-1])
	}
	var links map[string][]cases.Link
	if s.Links != nil && len(list) > 0 {
		ids := make([]string, len(list))
		for i, k := range list {
			ids[i] = k.ID
		}
		if links, err = s.Links.ListLinks(ctx, ids); err != nil {
			return nil, toStatus(err)
		}
	}
	resp.Cases = make([]*casesv1.Case, len(list))
	for i, k := range list {
		resp.Cases[i] = cases.CaseToProto(k, links[k.ID])
	}
	return resp, nil
}

// SearchContacts finds the contacts the caller may see by exact e-mail,
// phone or fiscal code.
func (s *Server) SearchContacts(ctx context.Context, req *contactsv1.SearchContactsRequest) (*contactsv1.SearchContactsResponse, error) {
	p, _ := auth.PrincipalFrom(ctx)
	q := Search{Email: strings.TrimSpace(req.GetEmail()), Phone: strings.TrimSpace(req.GetPhone()), FiscalCode: strings.TrimSpace(req.GetFiscalCode())}
	if q == (Search{}) {
		return nil, status.Error(codes.InvalidArgument, "email, phone or fiscal_code is required")
	}
	if len(q.Email)+len(q.Phone)+len(q.FiscalCode) > 1000 {
		return nil, status.Error(codes.InvalidArgument, "search values longer than 1000 bytes")
	}
	found, err := s.Contacts.SearchContacts(ctx, q, maxSearch)
	if err != nil {
		return nil, toStatus(err)
	}
	ids := make([]string, len(found))
	for i, c := range found {
		ids[i] = c.ID
	}
	ok, err := s.visible(ctx, p, ids)
	if err != nil {
		return nil, toStatus(err)
	}
	resp := &contactsv1.SearchContactsResponse{}
	var shown []string
	for _, c := range found {
		if ok[c.ID] {
			resp.Contacts = append(resp.Contacts, toProto(c))
			shown = append(shown, c.ID)
		}
	}
	if err := s.record(ctx, contactsv1.ContactService_SearchContacts_FullMethodName, shown...); err != nil {
		return nil, err
	}
	return resp, nil
}

// MergeContacts folds source into target. The caller must see both
// (a supervisor of a department where each has a case, or an admin).
func (s *Server) MergeContacts(ctx context.Context, req *contactsv1.MergeContactsRequest) (*contactsv1.Contact, error) {
	if s.Merger == nil {
		return nil, status.Error(codes.Unimplemented, "merging contacts is not available")
	}
	p, _ := auth.PrincipalFrom(ctx)
	reason := strings.TrimSpace(req.GetReason())
	switch {
	case req.GetTargetId() == "" || req.GetSourceId() == "":
		return nil, status.Error(codes.InvalidArgument, "target_id and source_id are required")
	case req.GetTargetId() == req.GetSourceId():
		return nil, status.Error(codes.InvalidArgument, "a contact cannot be merged into itself")
	case reason == "" || len(reason) > 1000 || !utf8.ValidString(reason):
		return nil, status.Error(codes.InvalidArgument, "reason is required (at most 1000 bytes of text)")
	}
	target, err := s.load(ctx, p, req.GetTargetId())
	if err != nil {
		return nil, err
	}
	source, err := s.load(ctx, p, req.GetSourceId())
	if err != nil {
		return nil, err
	}
	if err := s.record(ctx, contactsv1.ContactService_MergeContacts_FullMethodName, target.ID, source.ID); err != nil {
		return nil, err
	}
	merged, err := s.Merger.MergeContacts(ctx, Merge{TargetID: target.ID, SourceID: source.ID, Actor: p.Subject, Reason: reason})
	if errors.Is(err, ErrDifferentPeople) {
		return nil, status.Error(codes.FailedPrecondition, err.Error())
	}
	if err != nil {
		return nil, toStatus(err)
	}
	return toProto(merged), nil
}

func toProto(c Contact) *contactsv1.Contact {
	out := &contactsv1.Contact{Id: c.ID, DisplayName: c.DisplayName, Email: c.Email, Phone: c.Phone, FiscalCode: c.FiscalCode,
		CreateTime: timestamppb.New(c.CreatedAt)}
	for _, h := range c.Handles {
		out.Handles = append(out.Handles, &contactsv1.Handle{ChannelKind: h.ChannelKind, Handle: h.Handle})
	}
	return out
}

func toStatus(err error) error {
	switch {
	case errors.Is(err, ErrNotFound):
		return status.Error(codes.NotFound, err.Error())
	case errors.Is(err, cases.ErrInvalidArgument):
		return status.Error(codes.InvalidArgument, err.Error())
	case errors.Is(err, context.Canceled):
		return status.Error(codes.Canceled, err.Error())
	case errors.Is(err, context.DeadlineExceeded):
		return status.Error(codes.DeadlineExceeded, err.Error())
	}
	return status.Error(codes.Internal, "internal error")
}

// Merge is a supervisor's request to fold Source into Target.
type Merge struct {
	TargetID, SourceID string
	Actor, Reason      string
}

// ErrDifferentPeople: both contacts carry different fiscal codes.
var ErrDifferentPeople = errors.New("the contacts carry different fiscal codes: they are two people")

// Merger merges contact records. services/storage implements it.
type Merger interface {
	// MergeContacts moves Source's cases, handles and sessions to Target,
	// fills Target's missing e-mail, phone and fiscal code from Source,
	// records the merge in each moved case's history and deletes Source,
	// in one transaction. ErrNotFound, ErrDifferentPeople.
	MergeContacts(ctx context.Context, m Merge) (Contact, error)
}
