package directory

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	directoryv1 "github.com/sportello/sportello/api/sportello/directory/v1"
	"github.com/sportello/sportello/auth"
	"github.com/sportello/sportello/services/cases"
	"github.com/sportello/sportello/services/sla"
)

// adminStatus maps store errors to gRPC statuses; unknown errors are
// INTERNAL without their text.
func adminStatus(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, ErrInvalid), errors.Is(err, ErrInvalidRule), errors.Is(err, cases.ErrInvalidArgument):
		return status.Error(codes.InvalidArgument, err.Error())
	case errors.Is(err, ErrExists):
		return status.Error(codes.AlreadyExists, err.Error())
	case errors.Is(err, ErrNotFound):
		return status.Error(codes.NotFound, err.Error())
	case errors.Is(err, errDenied):
		return status.Error(codes.PermissionDenied, err.Error())
	}
	return status.Error(codes.Internal, "internal error")
}

var errDenied = errors.New("permission denied")

// masked returns the mask's paths, refusing any not in allowed.
func masked(paths []string, allowed []string) ([]string, error) {
	var out []string
	for _, p := range paths {
		if p == "id" || p == "code" {
			continue // they name the entry; the gateway infers them from the body
		}
		if !slices.Contains(allowed, p) {
			return nil, fmt.Errorf("%w: field %q cannot be updated (updatable: %s)", ErrInvalid, p, strings.Join(allowed, ", "))
		}
		out = append(out, p)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: update_mask is required (updatable: %s)", ErrInvalid, strings.Join(allowed, ", "))
	}
	return out, nil
}

func departmentFromProto(d *directoryv1.Department) Department {
	out := Department{ID: d.GetId(), Name: strings.TrimSpace(d.GetName()), Policy: d.GetAssignmentPolicy(),
		MatchSkills: d.GetMatchSkills(), Sticky: d.GetSticky()}
	for _, h := range d.GetWorkingHours() {
		out.WorkingHours = append(out.WorkingHours, sla.DayHours{Day: h.GetDay(), Start: h.GetStart(), End: h.GetEnd()})
	}
	return out
}

func departmentToProto(d Department) *directoryv1.Department {
	out := &directoryv1.Department{Id: d.ID, Name: d.Name, AssignmentPolicy: d.Policy, MatchSkills: d.MatchSkills, Sticky: d.Sticky}
	for _, h := range d.WorkingHours {
		out.WorkingHours = append(out.WorkingHours, &directoryv1.WorkingHours{Day: h.Day, Start: h.Start, End: h.End})
	}
	return out
}

// CreateDepartment adds a department.
func (s *Server) CreateDepartment(ctx context.Context, req *directoryv1.CreateDepartmentRequest) (*directoryv1.Department, error) {
	d := departmentFromProto(req.GetDepartment())
	if d.Policy == "" {
		d.Policy = PolicyManual
	}
	if err := d.Validate(); err != nil {
		return nil, adminStatus(err)
	}
	if err := s.admin.CreateDepartment(ctx, d); err != nil {
		return nil, adminStatus(err)
	}
	s.changed()
	return departmentToProto(d), nil
}

// UpdateDepartment changes the masked fields of a department.
func (s *Server) UpdateDepartment(ctx context.Context, req *directoryv1.UpdateDepartmentRequest) (*directoryv1.Department, error) {
	paths, err := masked(req.GetUpdateMask().GetPaths(), []string{"name", "assignment_policy", "match_skills", "sticky", "working_hours"})
	if err != nil {
		return nil, adminStatus(err)
	}
	to := departmentFromProto(req.GetDepartment())
	d, err := s.admin.UpdateDepartment(ctx, to.ID, func(d *Department) error {
		for _, p := range paths {
			switch p {
			case "name":
				d.Name = to.Name
			case "assignment_policy":
				d.Policy = to.Policy
			case "match_skills":
				d.MatchSkills = to.MatchSkills
			case "sticky":
				d.Sticky = to.Sticky
			case "working_hours":
				d.WorkingHours = to.WorkingHours
			}
		}
		return d.Validate()
	})
	if err != nil {
		return nil, adminStatus(err)
	}
	s.changed()
	return departmentToProto(d), nil
}

func categoryFromProto(c *directoryv1.Category) (Category, error) {
	out := Category{Code: c.GetCode(), Name: strings.TrimSpace(c.GetName()), Description: strings.TrimSpace(c.GetDescription()),
		DepartmentID: c.GetDepartment(), Skill: c.GetSkill(), DefaultPriority: int(cases.PriorityNormal)}
	if c.GetDefaultPriority() != "" {
		p, err := cases.ParsePriority(c.GetDefaultPriority())
		if err != nil {
			return out, err
		}
		out.DefaultPriority = int(p)
	}
	return out, nil
}

// CreateCategory adds a catalogue item.
func (s *Server) CreateCategory(ctx context.Context, req *directoryv1.CreateCategoryRequest) (*directoryv1.Category, error) {
	c, err := categoryFromProto(req.GetCategory())
	if err != nil {
		return nil, adminStatus(err)
	}
	if err := c.Validate(); err != nil {
		return nil, adminStatus(err)
	}
	if err := s.admin.CreateCategory(ctx, c); err != nil {
		return nil, adminStatus(err)
	}
	s.changed()
	return s.categoryToProto(ctx, c)
}

// UpdateCategory changes the masked fields of a catalogue item.
func (s *Server) UpdateCategory(ctx context.Context, req *directoryv1.UpdateCategoryRequest) (*directoryv1.Category, error) {
	paths, err := masked(req.GetUpdateMask().GetPaths(), []string{"name", "description", "department", "default_priority", "skill"})
	if err != nil {
		return nil, adminStatus(err)
	}
	to, err := categoryFromProto(req.GetCategory())
	if err != nil {
		return nil, adminStatus(err)
	}
	c, err := s.admin.UpdateCategory(ctx, to.Code, func(c *Category) error {
		for _, p := range paths {
			switch p {
			case "name":
				c.Name = to.Name
			case "description":
				c.Description = to.Description
			case "department":
				c.DepartmentID = to.DepartmentID
			case "default_priority":
				c.DefaultPriority = to.DefaultPriority
			case "skill":
				c.Skill = to.Skill
			}
		}
		return c.Validate()
	})
	if err != nil {
		return nil, adminStatus(err)
	}
	s.changed()
	return s.categoryToProto(ctx, c)
}

func (s *Server) categoryToProto(ctx context.Context, c Category) (*directoryv1.Category, error) {
	pols, err := s.admin.ListSLAPolicies(ctx)
	if err != nil {
		return nil, adminStatus(err)
	}
	return categoryProto(c, pols), nil
}

func categoryProto(c Category, pols []sla.Policy) *directoryv1.Category {
	out := &directoryv1.Category{Code: c.Code, Name: c.Name, Description: c.Description, Department: c.DepartmentID,
		DefaultPriority: cases.Priority(c.DefaultPriority).String(), Skill: c.Skill}
	for _, p := range pols {
		if p.Department == c.DepartmentID && p.Priority == c.DefaultPriority {
			out.ExpectedResolutionMinutes = int32(p.ResolutionMinutes)
		}
	}
	return out
}

func operatorFromProto(o *directoryv1.Operator) Operator {
	return Operator{ID: o.GetId(), DisplayName: strings.TrimSpace(o.GetDisplayName()), Email: strings.TrimSpace(o.GetEmail()),
		Role: o.GetRole(), Presence: Presence(o.GetPresence()), Capacity: int(o.GetCapacity()),
		Departments: sortedSet(o.GetDepartments()), Skills: sortedSet(o.GetSkills()), Languages: sortedSet(o.GetLanguages())}
}

func sortedSet(in []string) []string {
	out := make([]string, 0, len(in))
	for _, s := range in {
		out = append(out, strings.ToLower(strings.TrimSpace(s)))
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func operatorToProto(o Operator) *directoryv1.Operator {
	return &directoryv1.Operator{Id: o.ID, DisplayName: o.DisplayName, Email: o.Email, Role: o.Role,
		Presence: string(o.Presence), Capacity: int32(o.Capacity), OpenCases: int32(o.OpenCases),
		Departments: o.Departments, Skills: o.Skills, Languages: o.Languages}
}

// CreateOperator adds a member of staff.
func (s *Server) CreateOperator(ctx context.Context, req *directoryv1.CreateOperatorRequest) (*directoryv1.Operator, error) {
	o := operatorFromProto(req.GetOperator())
	if o.Presence == "" {
		o.Presence = Offline
	}
	if o.Role == "" {
		o.Role = "operator"
	}
	if len(o.Languages) == 0 {
		o.Languages = []string{"it"}
	}
	if req.GetOperator().GetCapacity() == 0 {
		o.Capacity = 20
	}
	if err := o.Validate(); err != nil {
		return nil, adminStatus(err)
	}
	if err := s.admin.CreateOperator(ctx, o); err != nil {
		return nil, adminStatus(err)
	}
	return operatorToProto(o), nil
}

// UpdateOperator changes the masked fields of an operator's profile.
func (s *Server) UpdateOperator(ctx context.Context, req *directoryv1.UpdateOperatorRequest) (*directoryv1.Operator, error) {
	paths, err := masked(req.GetUpdateMask().GetPaths(), []string{"display_name", "email", "role", "capacity", "departments", "skills", "languages"})
	if err != nil {
		return nil, adminStatus(err)
	}
	to := operatorFromProto(req.GetOperator())
	o, err := s.admin.UpdateOperator(ctx, to.ID, func(o *Operator) error {
		for _, p := range paths {
			switch p {
			case "display_name":
				o.DisplayName = to.DisplayName
			case "email":
				o.Email = to.Email
			case "role":
				o.Role = to.Role
			case "capacity":
				o.Capacity = to.Capacity
			case "departments":
				o.Departments = to.Departments
			case "skills":
				o.Skills = to.Skills
			case "languages":
				o.Languages = to.Languages
			}
		}
		return o.Validate()
	})
	if err != nil {
		return nil, adminStatus(err)
	}
	return operatorToProto(o), nil
}

// SetPresence changes whether an operator takes work: their own, or, for
// supervisors, an operator of one of their departments.
func (s *Server) SetPresence(ctx context.Context, req *directoryv1.SetPresenceRequest) (*directoryv1.SetPresenceResponse, error) {
	p, _ := auth.PrincipalFrom(ctx)
	pr, err := ParsePresence(req.GetPresence())
	if err != nil {
		return nil, adminStatus(err)
	}
	id := req.GetOperatorId()
	if id != p.Operator && !p.AllDepartments() {
		target, err := s.admin.GetOperator(ctx, id)
		if err != nil {
			return nil, adminStatus(err)
		}
		shared := slices.ContainsFunc(target.Departments, p.InDepartment)
		if p.Role != auth.RoleSupervisor || !shared {
			if !shared {
				return nil, status.Errorf(codes.NotFound, "operator %s not found", id)
			}
			return nil, status.Error(codes.PermissionDenied, "operators set their own presence; supervisors that of their departments' operators")
		}
	}
	handBack := req.GetHandBack() && pr != Online
	o, ids, err := s.admin.SetPresence(ctx, id, pr, handBack, p.Subject)
	if err != nil {
		return nil, adminStatus(err)
	}
	return &directoryv1.SetPresenceResponse{Operator: operatorToProto(o), HandedBack: ids}, nil
}

// UpdateRoutingRule changes the masked fields of a rule.
func (s *Server) UpdateRoutingRule(ctx context.Context, req *directoryv1.UpdateRoutingRuleRequest) (*directoryv1.RoutingRule, error) {
	paths, err := masked(req.GetUpdateMask().GetPaths(),
		[]string{"name", "position", "department", "channel_kind", "channel_id", "to_address", "ivr_choice", "keywords", "enabled"})
	if err != nil {
		return nil, adminStatus(err)
	}
	in := req.GetRule()
	r, err := s.admin.UpdateRoutingRule(ctx, in.GetId(), func(r *Rule) error {
		for _, p := range paths {
			switch p {
			case "name":
				r.Name = strings.TrimSpace(in.GetName())
			case "position":
				r.Position = int(in.GetPosition())
			case "department":
				r.Department = in.GetDepartment()
			case "channel_kind":
				r.ChannelKind = in.GetChannelKind()
			case "channel_id":
				r.ChannelID = in.GetChannelId()
			case "to_address":
				r.ToAddress = strings.TrimSpace(in.GetToAddress())
			case "ivr_choice":
				r.IVRChoice = in.GetIvrChoice()
			case "keywords":
				r.Keywords = in.GetKeywords()
			case "enabled":
				r.Enabled = in.GetEnabled()
			}
		}
		if err := r.Validate(); err != nil {
			return fmt.Errorf("%w: %v", ErrInvalidRule, err)
		}
		return nil
	})
	if err != nil {
		return nil, adminStatus(err)
	}
	s.changed()
	return ruleToProto(r), nil
}

// ListSLAPolicies returns the targets, optionally of one department.
func (s *Server) ListSLAPolicies(ctx context.Context, req *directoryv1.ListSLAPoliciesRequest) (*directoryv1.ListSLAPoliciesResponse, error) {
	pols, err := s.admin.ListSLAPolicies(ctx)
	if err != nil {
		return nil, adminStatus(err)
	}
	resp := &directoryv1.ListSLAPoliciesResponse{}
	for _, p := range pols {
		if req.GetDepartment() == "" || p.Department == req.GetDepartment() {
			resp.Policies = append(resp.Policies, policyToProto(p))
		}
	}
	return resp, nil
}

func policyToProto(p sla.Policy) *directoryv1.SLAPolicy {
	return &directoryv1.SLAPolicy{Department: p.Department, Priority: cases.Priority(p.Priority).String(),
		FirstResponseMinutes: int32(p.FirstResponseMinutes), ResolutionMinutes: int32(p.ResolutionMinutes)}
}

// maxTargetMinutes bounds a target: a year of working minutes.
const maxTargetMinutes = 260 * 24 * 60

// SetSLAPolicy creates or changes a department's targets for a priority.
func (s *Server) SetSLAPolicy(ctx context.Context, req *directoryv1.SetSLAPolicyRequest) (*directoryv1.SLAPolicy, error) {
	in := req.GetPolicy()
	prio, err := cases.ParsePriority(in.GetPriority())
	if err != nil {
		return nil, adminStatus(err)
	}
	p := sla.Policy{Department: in.GetDepartment(), Priority: int(prio), FirstResponseMinutes: int(in.GetFirstResponseMinutes()),
		ResolutionMinutes: int(in.GetResolutionMinutes())}
	switch {
	case p.ResolutionMinutes <= 0 || p.ResolutionMinutes > maxTargetMinutes:
		return nil, status.Errorf(codes.InvalidArgument, "resolution_minutes must be 1 to %d", maxTargetMinutes)
	case p.FirstResponseMinutes < 0 || p.FirstResponseMinutes > p.ResolutionMinutes:
		return nil, status.Error(codes.InvalidArgument, "first_response_minutes must be 0 (none) to resolution_minutes")
	}
	if err := s.admin.UpsertSLAPolicies(ctx, []sla.Policy{p}); err != nil {
		return nil, adminStatus(err)
	}
	s.changed()
	return policyToProto(p), nil
}
