package directory

import (
	"context"
	"errors"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	directoryv1 "github.com/sportello/sportello/api/sportello/directory/v1"
)

// Server implements directoryv1.DirectoryServiceServer.
type Server struct {
	directoryv1.UnimplementedDirectoryServiceServer
	store Store
	rules RuleStore
	admin AdminStore
	// Changed, when set, is called after an administrator changed what
	// routing and deadlines depend on, to drop this replica's caches.
	Changed func()
}

// NewServer returns the gRPC DirectoryService.
func NewServer(store Store, rules RuleStore, admin AdminStore) *Server {
	return &Server{store: store, rules: rules, admin: admin}
}

func (s *Server) changed() {
	if s.Changed != nil {
		s.Changed()
	}
}

// ListRoutingRules returns the rules in order.
func (s *Server) ListRoutingRules(ctx context.Context, _ *directoryv1.ListRoutingRulesRequest) (*directoryv1.ListRoutingRulesResponse, error) {
	list, err := s.rules.ListRoutingRules(ctx)
	if err != nil {
		return nil, status.Error(codes.Internal, "internal error")
	}
	resp := &directoryv1.ListRoutingRulesResponse{}
	for _, r := range list {
		resp.Rules = append(resp.Rules, ruleToProto(r))
	}
	return resp, nil
}

// CreateRoutingRule validates and stores a rule.
func (s *Server) CreateRoutingRule(ctx context.Context, req *directoryv1.CreateRoutingRuleRequest) (*directoryv1.RoutingRule, error) {
	in := req.GetRule()
	r := Rule{Name: strings.TrimSpace(in.GetName()), Position: int(in.GetPosition()), Department: in.GetDepartment(),
		ChannelKind: in.GetChannelKind(), ChannelID: in.GetChannelId(), ToAddress: strings.TrimSpace(in.GetToAddress()),
		IVRChoice: in.GetIvrChoice(), Keywords: in.GetKeywords(), Enabled: in.GetEnabled()}
	if err := r.Validate(); err != nil {
		return nil, status.Error(codes.InvalidArgument, "invalid rule: "+err.Error())
	}
	r, err := s.rules.CreateRoutingRule(ctx, r)
	if errors.Is(err, ErrInvalidRule) {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	if err != nil {
		return nil, status.Error(codes.Internal, "internal error")
	}
	return ruleToProto(r), nil
}

// DeleteRoutingRule removes a rule.
func (s *Server) DeleteRoutingRule(ctx context.Context, req *directoryv1.DeleteRoutingRuleRequest) (*directoryv1.DeleteRoutingRuleResponse, error) {
	err := s.rules.DeleteRoutingRule(ctx, req.GetId())
	if errors.Is(err, ErrNotFound) {
		return nil, status.Errorf(codes.NotFound, "routing rule %s not found", req.GetId())
	}
	if err != nil {
		return nil, status.Error(codes.Internal, "internal error")
	}
	return &directoryv1.DeleteRoutingRuleResponse{}, nil
}

func ruleToProto(r Rule) *directoryv1.RoutingRule {
	return &directoryv1.RoutingRule{Id: r.ID, Name: r.Name, Position: int32(r.Position), Department: r.Department,
		ChannelKind: r.ChannelKind, ChannelId: r.ChannelID, ToAddress: r.ToAddress, IvrChoice: r.IVRChoice,
		Keywords: r.Keywords, Enabled: r.Enabled}
}

// ListCategories returns the service catalogue.
func (s *Server) ListCategories(ctx context.Context, _ *directoryv1.ListCategoriesRequest) (*directoryv1.ListCategoriesResponse, error) {
	list, err := s.store.ListCategories(ctx)
	if err != nil {
		return nil, status.Error(codes.Internal, "internal error")
	}
	pols, err := s.admin.ListSLAPolicies(ctx)
	if err != nil {
		return nil, status.Error(codes.Internal, "internal error")
	}
	resp := &directoryv1.ListCategoriesResponse{Categories: make([]*directoryv1.Category, len(list))}
	for i, c := range list {
		resp.Categories[i] = categoryProto(c, pols)
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
		resp.Operators = append(resp.Operators, operatorToProto(o))
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
		resp.Departments[i] = departmentToProto(d)
	}
	return resp, nil
}
