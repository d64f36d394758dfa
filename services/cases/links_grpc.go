package cases

import (
	"context"
	"fmt"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	casesv1 "github.com/sportello/sportello/api/sportello/cases/v1"
	"github.com/sportello/sportello/auth"
)

// inDepartments wraps fn with the caller's department check on both
// cases, made inside the transaction on the cases as they are then.
func inDepartments(p auth.Principal, fn PairMutation) PairMutation {
	return func(a, b *Case) ([]Event, []Event, error) {
		for _, c := range []*Case{a, b} {
			if !p.InDepartment(c.Department) {
				return nil, nil, fmt.Errorf("%w: %s", ErrNotFound, c.ID)
			}
		}
		return fn(a, b)
	}
}

// MergeCases merges one case of a citizen into another of theirs.
func (s *Server) MergeCases(ctx context.Context, req *casesv1.MergeCasesRequest) (*casesv1.MergeCasesResponse, error) {
	p, _ := auth.PrincipalFrom(ctx)
	reason := strings.TrimSpace(req.GetReason())
	switch {
	case req.GetSourceId() == "" || req.GetTargetId() == "":
		return nil, status.Error(codes.InvalidArgument, "source_id and target_id are required")
	case reason == "":
		return nil, status.Error(codes.InvalidArgument, "a reason is required to merge cases")
	case len(reason) > maxReasonBytes:
		return nil, status.Errorf(codes.InvalidArgument, "reason longer than %d bytes", maxReasonBytes)
	}
	sv, err := parseEtag(req.GetSourceEtag())
	if err != nil {
		return nil, toStatus(err)
	}
	tv, err := parseEtag(req.GetTargetEtag())
	if err != nil {
		return nil, toStatus(err)
	}
	src, tgt, err := s.Links.MergeCases(ctx, req.GetSourceId(), req.GetTargetId(), sv, tv, inDepartments(p, Merge(p.Subject, reason)))
	if err != nil {
		return nil, toStatus(err)
	}
	links, err := s.Links.ListLinks(ctx, []string{src.ID, tgt.ID})
	if err != nil {
		return nil, toStatus(err)
	}
	return &casesv1.MergeCasesResponse{Source: CaseToProto(src, links[src.ID]), Target: CaseToProto(tgt, links[tgt.ID])}, nil
}

// LinkCases links two cases the caller works.
func (s *Server) LinkCases(ctx context.Context, req *casesv1.LinkCasesRequest) (*casesv1.Case, error) {
	p, _ := auth.PrincipalFrom(ctx)
	kind, err := ParseLinkKind(req.GetKind())
	if err != nil {
		return nil, toStatus(err)
	}
	if err := checkPair(req.GetId(), req.GetLinkedCaseId(), req.GetReason()); err != nil {
		return nil, err
	}
	reason := strings.TrimSpace(req.GetReason())
	c, _, err := s.Links.LinkCases(ctx, req.GetId(), req.GetLinkedCaseId(), kind, p.Subject, reason,
		inDepartments(p, LinkChange(EventLinked, p.Subject, kind, reason)))
	if err != nil {
		return nil, toStatus(err)
	}
	return s.withLinks(ctx, c)
}

// UnlinkCases removes a link between two cases the caller works.
func (s *Server) UnlinkCases(ctx context.Context, req *casesv1.UnlinkCasesRequest) (*casesv1.Case, error) {
	p, _ := auth.PrincipalFrom(ctx)
	if err := checkPair(req.GetId(), req.GetLinkedCaseId(), req.GetReason()); err != nil {
		return nil, err
	}
	reason := strings.TrimSpace(req.GetReason())
	c, _, err := s.Links.UnlinkCases(ctx, req.GetId(), req.GetLinkedCaseId(), func(kind LinkKind) PairMutation {
		return inDepartments(p, LinkChange(EventUnlinked, p.Subject, kind, reason))
	})
	if err != nil {
		return nil, toStatus(err)
	}
	return s.withLinks(ctx, c)
}

func checkPair(id, other, reason string) error {
	switch {
	case id == "" || other == "":
		return status.Error(codes.InvalidArgument, "id and linked_case_id are required")
	case id == other:
		return status.Error(codes.InvalidArgument, "a case cannot be linked to itself")
	case len(reason) > maxReasonBytes:
		return status.Errorf(codes.InvalidArgument, "reason longer than %d bytes", maxReasonBytes)
	}
	return nil
}

// withLinks is c on the API with its links.
func (s *Server) withLinks(ctx context.Context, c Case) (*casesv1.Case, error) {
	if s.Links == nil {
		return toProto(c), nil
	}
	links, err := s.Links.ListLinks(ctx, []string{c.ID})
	if err != nil {
		return nil, toStatus(err)
	}
	return CaseToProto(c, links[c.ID]), nil
}

// CaseToProto is a case on the API, with its links.
func CaseToProto(c Case, links []Link) *casesv1.Case {
	pc := toProto(c)
	for _, l := range links {
		pc.Links = append(pc.Links, &casesv1.CaseLink{CaseId: l.CaseID, Kind: string(l.Kind), Direction: l.Direction,
			Actor: l.Actor, Reason: l.Reason, CreateTime: timestamppb.New(l.CreatedAt)})
	}
	return pc
}
