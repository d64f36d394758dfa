package directory

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	directoryv1 "github.com/sportello/sportello/api/sportello/directory/v1"
	"github.com/sportello/sportello/auth"
)

// CannedResponse is a reply template operators insert in a reply (see
// Fill for its placeholders). Department "" is for every department.
type CannedResponse struct {
	ID, Department, Title, Body, Language string
	CreatedAt, UpdatedAt                  time.Time
}

// CannedStore keeps canned responses. services/storage implements it.
type CannedStore interface {
	// ListCannedResponses returns those of the departments (nil: all)
	// and those for every department, by title.
	ListCannedResponses(ctx context.Context, departments []string) ([]CannedResponse, error)
	CreateCannedResponse(ctx context.Context, c CannedResponse) (CannedResponse, error)
	// UpdateCannedResponse applies fn to the stored entry; ErrNotFound
	// when there is none.
	UpdateCannedResponse(ctx context.Context, id string, fn func(*CannedResponse) error) (CannedResponse, error)
	DeleteCannedResponse(ctx context.Context, id string) error
}

// Placeholders are the names Fill replaces, written {{name}} in a body.
var Placeholders = []string{"nome", "riferimento", "oggetto", "ufficio", "operatore"}

// Fill replaces the placeholders of body with values (by name); a
// placeholder without a value becomes empty, unknown ones stay as written.
func Fill(body string, values map[string]string) string {
	pairs := make([]string, 0, 2*len(Placeholders))
	for _, p := range Placeholders {
		pairs = append(pairs, "{{"+p+"}}", values[p])
	}
	return strings.NewReplacer(pairs...).Replace(body)
}

// MaxCannedBody bounds a canned response's body, as a reply is bounded.
const MaxCannedBody = 20000

func (c *CannedResponse) validate() error {
	c.Title = strings.TrimSpace(c.Title)
	if c.Language == "" {
		c.Language = "it"
	}
	switch {
	case c.Title == "" || utf8.RuneCountInString(c.Title) > 200 || !utf8.ValidString(c.Title):
		return fmt.Errorf("%w: title must be 1 to 200 characters", ErrInvalid)
	case strings.TrimSpace(c.Body) == "" || utf8.RuneCountInString(c.Body) > MaxCannedBody || !utf8.ValidString(c.Body):
		return fmt.Errorf("%w: body must be 1 to %d characters", ErrInvalid, MaxCannedBody)
	case c.Department != "" && !ValidID(c.Department):
		return fmt.Errorf("%w: department %q", ErrInvalid, c.Department)
	case len(c.Language) != 2 || strings.ToLower(c.Language) != c.Language:
		return fmt.Errorf("%w: language %q (want an ISO 639-1 code such as \"it\")", ErrInvalid, c.Language)
	}
	return nil
}

// CannedServer implements directoryv1.CannedResponseServiceServer.
type CannedServer struct {
	directoryv1.UnimplementedCannedResponseServiceServer
	Store       CannedStore
	Departments func(ctx context.Context) ([]Department, error)
}

// ListCannedResponses: staff see those of the departments they work.
func (s *CannedServer) ListCannedResponses(ctx context.Context, req *directoryv1.ListCannedResponsesRequest) (*directoryv1.ListCannedResponsesResponse, error) {
	p, _ := auth.PrincipalFrom(ctx)
	var depts []string
	switch d := req.GetDepartment(); {
	case d != "":
		if !p.InDepartment(d) {
			return nil, status.Errorf(codes.PermissionDenied, "you do not work department %q", d)
		}
		depts = []string{d}
	case !p.AllDepartments():
		depts = append([]string{}, p.Departments...)
	}
	list, err := s.Store.ListCannedResponses(ctx, depts)
	if err != nil {
		return nil, cannedStatus(err)
	}
	out := &directoryv1.ListCannedResponsesResponse{}
	for _, c := range list {
		out.CannedResponses = append(out.CannedResponses, cannedToProto(c))
	}
	return out, nil
}

// CreateCannedResponse adds one (administrators: the permission table).
func (s *CannedServer) CreateCannedResponse(ctx context.Context, req *directoryv1.CreateCannedResponseRequest) (*directoryv1.CannedResponse, error) {
	in := req.GetCannedResponse()
	c := CannedResponse{Department: in.GetDepartment(), Title: in.GetTitle(), Body: in.GetBody(), Language: in.GetLanguage()}
	if err := c.validate(); err != nil {
		return nil, cannedStatus(err)
	}
	if err := s.knownDepartment(ctx, c.Department); err != nil {
		return nil, err
	}
	out, err := s.Store.CreateCannedResponse(ctx, c)
	if err != nil {
		return nil, cannedStatus(err)
	}
	return cannedToProto(out), nil
}

// UpdateCannedResponse changes the fields of the mask.
func (s *CannedServer) UpdateCannedResponse(ctx context.Context, req *directoryv1.UpdateCannedResponseRequest) (*directoryv1.CannedResponse, error) {
	in := req.GetCannedResponse()
	paths := slices.DeleteFunc(slices.Clone(req.GetUpdateMask().GetPaths()), func(p string) bool { return p == "id" })
	if in.GetId() == "" || len(paths) == 0 {
		return nil, status.Error(codes.InvalidArgument, "canned_response.id and update_mask (title, body, department, language) are required")
	}
	if slices.Contains(paths, "department") {
		if err := s.knownDepartment(ctx, in.GetDepartment()); err != nil {
			return nil, err
		}
	}
	out, err := s.Store.UpdateCannedResponse(ctx, in.GetId(), func(c *CannedResponse) error {
		for _, p := range paths {
			switch p {
			case "title":
				c.Title = in.GetTitle()
			case "body":
				c.Body = in.GetBody()
			case "department":
				c.Department = in.GetDepartment()
			case "language":
				c.Language = in.GetLanguage()
			default:
				return fmt.Errorf("%w: field %q cannot be updated (updatable: title, body, department, language)", ErrInvalid, p)
			}
		}
		return c.validate()
	})
	if err != nil {
		return nil, cannedStatus(err)
	}
	return cannedToProto(out), nil
}

// DeleteCannedResponse removes one.
func (s *CannedServer) DeleteCannedResponse(ctx context.Context, req *directoryv1.DeleteCannedResponseRequest) (*directoryv1.DeleteCannedResponseResponse, error) {
	if err := s.Store.DeleteCannedResponse(ctx, req.GetId()); err != nil {
		return nil, cannedStatus(err)
	}
	return &directoryv1.DeleteCannedResponseResponse{}, nil
}

func (s *CannedServer) knownDepartment(ctx context.Context, id string) error {
	if id == "" || s.Departments == nil {
		return nil
	}
	depts, err := s.Departments(ctx)
	if err != nil {
		return status.Error(codes.Internal, "internal error")
	}
	if !slices.ContainsFunc(depts, func(d Department) bool { return d.ID == id }) {
		return status.Errorf(codes.InvalidArgument, "unknown department %q", id)
	}
	return nil
}

func cannedStatus(err error) error {
	switch {
	case errors.Is(err, ErrInvalid):
		return status.Error(codes.InvalidArgument, err.Error())
	case errors.Is(err, ErrNotFound):
		return status.Error(codes.NotFound, "canned response not found")
	}
	return status.Error(codes.Internal, "internal error")
}

func cannedToProto(c CannedResponse) *directoryv1.CannedResponse {
	return &directoryv1.CannedResponse{Id: c.ID, Department: c.Department, Title: c.Title, Body: c.Body, Language: c.Language,
		CreateTime: timestamppb.New(c.CreatedAt), UpdateTime: timestamppb.New(c.UpdatedAt)}
}
