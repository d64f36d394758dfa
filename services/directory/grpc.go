package directory

import (
	"context"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	directoryv1 "github.com/sportello/sportello/api/sportello/directory/v1"
)

// Server implements directoryv1.DirectoryServiceServer.
type Server struct {
	directoryv1.UnimplementedDirectoryServiceServer
	store Store
}

// NewServer returns the gRPC DirectoryService on store.
func NewServer(store Store) *Server { return &Server{store: store} }

// ListCategories returns the service catalogue.
func (s *Server) ListCategories(ctx context.Context, _ *directoryv1.ListCategoriesRequest) (*directoryv1.ListCategoriesResponse, error) {
	list, err := s.store.ListCategories(ctx)
	if err != nil {
		return nil, status.Error(codes.Internal, "internal error")
	}
	resp := &directoryv1.ListCategoriesResponse{Categories: make([]*directoryv1.Category, len(list))}
	for i, c := range list {
		resp.Categories[i] = &directoryv1.Category{Code: c.Code, Name: c.Name, Description: c.Description, Department: c.DepartmentID}
	}
	return resp, nil
}

// ListOperators returns the operators and their load.
func (s *Server) ListOperators(ctx context.Context, req *directoryv1.ListOperatorsRequest) (*directoryv1.ListOperatorsResponse, error) {
	list, err := s.store.ListOperators(ctx, req.GetDepartment())
	if err != nil {
		return nil, status.Error(codes.Internal, "internal error")
	}
	resp := &directoryv1.ListOperatorsResponse{}
	for _, o := range list {
		resp.Operators = append(resp.Operators, &directoryv1.Operator{Id: o.ID, DisplayName: o.DisplayName, Role: o.Role,
			Presence: string(o.Presence), Capacity: int32(o.Capacity), OpenCases: int32(o.OpenCases),
			Departments: o.Departments, Skills: o.Skills, Languages: o.Languages})
	}
	return resp, nil
}

// ListDepartments returns the departments.
func (s *Server) ListDepartments(ctx context.Context, _ *directoryv1.ListDepartmentsRequest) (*directoryv1.ListDepartmentsResponse, error) {
	list, err := s.store.ListDepartments(ctx)
	if err != nil {
		return nil, status.Error(codes.Internal, "internal error")
	}
	resp := &directoryv1.ListDepartmentsResponse{Departments: make([]*directoryv1.Department, len(list))}
	for i, d := range list {
		resp.Departments[i] = &directoryv1.Department{Id: d.ID, Name: d.Name}
	}
	return resp, nil
}
