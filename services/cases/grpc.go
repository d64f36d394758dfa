package cases

import (
	"context"
	"errors"
	"slices"
	"strconv"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	casesv1 "github.com/sportello/sportello/api/sportello/cases/v1"
	"github.com/sportello/sportello/auth"
)

// Server implements casesv1.CaseServiceServer.
type Server struct {
	casesv1.UnimplementedCaseServiceServer
	store Store
}

// NewServer returns the gRPC CaseService on store.
func NewServer(store Store) *Server { return &Server{store: store} }

const (
	defaultPageSize = 50
	maxPageSize     = 500
)

// GetCase returns a case the caller may see. A case of a department the
// caller does not work is reported as not found, so its existence leaks
// nothing.
func (s *Server) GetCase(ctx context.Context, req *casesv1.GetCaseRequest) (*casesv1.Case, error) {
	p, _ := auth.PrincipalFrom(ctx)
	if req.GetId() == "" {
		return nil, status.Error(codes.InvalidArgument, "id is required")
	}
	c, err := s.store.GetCase(ctx, req.GetId())
	if err != nil {
		return nil, toStatus(err)
	}
	if !p.InDepartment(c.Department) {
		return nil, status.Errorf(codes.NotFound, "case %s not found", req.GetId())
	}
	return toProto(c), nil
}

// ListCases lists the cases of the caller's departments.
func (s *Server) ListCases(ctx context.Context, req *casesv1.ListCasesRequest) (*casesv1.ListCasesResponse, error) {
	p, _ := auth.PrincipalFrom(ctx)
	q := Query{Assignee: req.GetAssignee(), Limit: int(req.GetPageSize())}
	var err error
	if req.GetStatus() != "" {
		if q.Status, err = ParseStatus(req.GetStatus()); err != nil {
			return nil, toStatus(err)
		}
	}
	if q.Order, err = ParseOrder(req.GetOrderBy()); err != nil {
		return nil, toStatus(err)
	}
	switch {
	case q.Limit < 0:
		return nil, status.Error(codes.InvalidArgument, "page_size must not be negative")
	case q.Limit == 0:
		q.Limit = defaultPageSize
	case q.Limit > maxPageSize:
		q.Limit = maxPageSize
	}
	if d := req.GetDepartment(); d != "" {
		if !p.InDepartment(d) {
			return nil, status.Errorf(codes.PermissionDenied, "you do not work department %q", d)
		}
		q.Departments = []string{d}
	} else if !p.AllDepartments() {
		q.Departments = slices.Clone(p.Departments)
		if q.Departments == nil {
			q.Departments = []string{}
		}
	}
	if q.After, err = decodePageToken(q, req.GetPageToken()); err != nil {
		return nil, toStatus(err)
	}
	// One extra row tells whether another page follows.
	page := q
	page.Limit = q.Limit + 1
	list, err := s.store.ListCases(ctx, page)
	if err != nil {
		return nil, toStatus(err)
	}
	resp := &casesv1.ListCasesResponse{}
	if len(list) > q.Limit {
		list = list[:q.Limit]
		resp.NextPageToken = encodePageToken(q, list[len(list)-1])
	}
	resp.Cases = make([]*casesv1.Case, len(list))
	for i, c := range list {
		resp.Cases[i] = toProto(c)
	}
	return resp, nil
}

func toStatus(err error) error {
	switch {
	case errors.Is(err, ErrNotFound):
		return status.Error(codes.NotFound, err.Error())
	case errors.Is(err, ErrInvalidArgument):
		return status.Error(codes.InvalidArgument, err.Error())
	case errors.Is(err, context.Canceled):
		return status.Error(codes.Canceled, err.Error())
	case errors.Is(err, context.DeadlineExceeded):
		return status.Error(codes.DeadlineExceeded, err.Error())
	}
	return status.Error(codes.Internal, "internal error")
}

var statusToProto = map[Status]casesv1.Status{
	StatusNew: casesv1.Status_STATUS_NEW, StatusOpen: casesv1.Status_STATUS_OPEN,
	StatusPendingCitizen: casesv1.Status_STATUS_PENDING_CITIZEN, StatusOnHold: casesv1.Status_STATUS_ON_HOLD,
	StatusResolved: casesv1.Status_STATUS_RESOLVED, StatusClosed: casesv1.Status_STATUS_CLOSED,
}

func toProto(c Case) *casesv1.Case {
	return &casesv1.Case{
		Id: c.ID, Reference: c.Reference, Subject: c.Subject, Description: c.Description,
		Status: statusToProto[c.Status], Priority: casesv1.Priority(c.Priority),
		Category: c.Category, Department: c.Department, Assignee: c.Assignee,
		ChannelKind: c.ChannelKind, ChannelId: c.ChannelID, ContactId: c.ContactID,
		CreateTime: timestamppb.New(c.CreatedAt), UpdateTime: timestamppb.New(c.UpdatedAt),
		Etag: etag(c),
	}
}

func etag(c Case) string {
	return `W/"` + strconv.FormatInt(c.Version, 10) + `"`
}
