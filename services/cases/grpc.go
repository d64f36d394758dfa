package cases

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/google/uuid"
	"google.golang.org/genproto/googleapis/rpc/code"

	casesv1 "github.com/sportello/sportello/api/sportello/cases/v1"
	"github.com/sportello/sportello/auth"
	"github.com/sportello/sportello/services/attachments"
)

// Server implements casesv1.CaseServiceServer.
type Server struct {
	casesv1.UnimplementedCaseServiceServer
	Deps
}

// Deps is what the CaseService works on; services/storage implements all.
type Deps struct {
	Store     Store
	History   History
	Claimer   Claimer
	Workloads Workloads
	Messages  Messages
	Creator   Creator  // staff-created cases
	Links     Links    // merges and links; nil: cases are shown without links
	Feed      Feed     // live case events for WatchQueue
	SLA       SLAClock // nil: cases have no deadlines
	Now       func() time.Time
	// Attachments keeps uploads' metadata, Blobs their bytes.
	Attachments Attachments
	Blobs       *attachments.Blobs
	Log         *slog.Logger // nil: failures are not logged
	// Access is the staff access log (services/accesslog): every staff
	// read of a case is recorded before it is served, and a read that
	// cannot be recorded is refused. Nil records nothing (tests).
	Access AccessRecorder
	// ReopenWindow: a citizen's portal reply reopens a case resolved this
	// long ago at most (0: DefaultReopenWindow; negative: never).
	ReopenWindow time.Duration
	// ReplyGate, when set, is asked before staff reply on a case: a
	// channel that only allows replies in a window after the citizen's
	// last message (WhatsApp, Messenger, Instagram: 24 hours) refuses
	// with an error wrapping ErrReplyWindowClosed. Nil allows all.
	ReplyGate func(ctx context.Context, c Case) error
	// ReplyTemplate checks a staff reply by message template on case c
	// (AddMessage's template_name): it returns the template's text with
	// params filled in, or an error wrapping ErrInvalidArgument when the
	// case's channel has no such approved template or the parameter count
	// differs. Such a reply is not asked to ReplyGate: templates may be
	// sent outside the reply window. Nil refuses every template reply.
	ReplyTemplate func(ctx context.Context, c Case, t Template) (string, error)
	// Replies, when set, picks the channel of staff replies on cases
	// whose own channel cannot carry them (a phone call).
	Replies ReplyRouter
	// Names gives ListCases the citizens' display names (contact_names);
	// nil leaves them empty.
	Names ContactNames
}

// ContactNames returns the display names of contacts by id (missing ids
// are left out), in one read.
type ContactNames interface {
	ContactNames(ctx context.Context, ids []string) (map[string]string, error)
}

// ListRecorder is what an AccessRecorder may also do: one entry for a
// list that showed several contacts (services/accesslog.Recorder). An
// AccessRecorder without it records one entry per contact.
type ListRecorder interface {
	RecordList(ctx context.Context, action string, contactIDs []string) error
}

// ReplyRouter picks the channel a staff reply on case c goes out on;
// services/calls implements it for call-centre cases.
type ReplyRouter interface {
	// RouteReply returns the channel kind and id to send on, ok false to
	// keep the case's channel; an error wrapping ErrFailedPrecondition
	// refuses the reply (the citizen cannot be reached in writing).
	RouteReply(ctx context.Context, c Case) (kind, id string, ok bool, err error)
}

// ErrReplyWindowClosed: the case's channel does not take free-form
// replies any more (the citizen's last message is too old).
var ErrReplyWindowClosed = errors.New("the channel's reply window is closed")

// ReasonReplyWindowClosed is the ErrorInfo reason of that refusal.
const ReasonReplyWindowClosed = "REPLY_WINDOW_CLOSED"

// AccessRecorder writes the staff access log; it records staff callers
// only.
type AccessRecorder interface {
	Record(ctx context.Context, action, caseID, contactID, detail string) error
}

// recordAccess writes one access-log entry for a staff read.
func (s *Server) recordAccess(ctx context.Context, action string, c Case, detail string) error {
	if s.Access == nil {
		return nil
	}
	if err := s.Access.Record(ctx, action, c.ID, c.ContactID, detail); err != nil {
		if s.Log != nil {
			s.Log.ErrorContext(ctx, "access log", "action", action, "case_id", c.ID, "err", err)
		}
		return status.Error(codes.Unavailable, "the access log could not be written; nothing was read")
	}
	return nil
}

// NewServer returns the gRPC CaseService.
func NewServer(d Deps) *Server {
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.ReopenWindow == 0 {
		d.ReopenWindow = DefaultReopenWindow
	}
	return &Server{Deps: d}
}

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
	c, err := s.Store.GetCase(ctx, req.GetId())
	if err != nil {
		return nil, toStatus(err)
	}
	if !mayRead(p, c) {
		return nil, status.Errorf(codes.NotFound, "case %s not found", req.GetId())
	}
	if !p.Staff() {
		return citizenView(toProto(c)), nil
	}
	if err := s.recordAccess(ctx, "case.read", c, ""); err != nil {
		return nil, err
	}
	return s.withLinks(ctx, c)
}

// ListCases lists the cases of the caller's departments.
func (s *Server) ListCases(ctx context.Context, req *casesv1.ListCasesRequest) (*casesv1.ListCasesResponse, error) {
	p, _ := auth.PrincipalFrom(ctx)
	q := Query{Assignee: req.GetAssignee(), Limit: int(req.GetPageSize()), Text: strings.TrimSpace(req.GetQuery()),
		ContactID: req.GetContactId()}
	if len(q.Text) > 500 {
		return nil, status.Error(codes.InvalidArgument, "query longer than 500 bytes")
	}
	var err error
	if strings.EqualFold(strings.TrimSpace(req.GetStatus()), string(StatusActive)) {
		q.Status = StatusActive
	} else if req.GetStatus() != "" {
		if q.Status, err = ParseStatus(req.GetStatus()); err != nil {
			return nil, toStatus(err)
		}
	}
	if q.Order, err = ParseOrder(req.GetOrderBy()); err != nil {
		return nil, toStatus(err)
	}
	if req.GetPriority() != "" {
		if q.Priority, err = ParsePriority(req.GetPriority()); err != nil {
			return nil, toStatus(err)
		}
	}
	q.ChannelKind, q.Category, q.Tag = req.GetChannelKind(), req.GetCategory(), strings.ToLower(strings.TrimSpace(req.GetTag()))
	if st := SLAState(strings.ToLower(strings.TrimSpace(req.GetSlaState()))); st != "" {
		if st != SLAOK && st != SLAWarning && st != SLABreached && st != SLAPaused {
			return nil, status.Errorf(codes.InvalidArgument, "unknown sla_state %q (want ok, warning, breached or paused)", req.GetSlaState())
		}
		q.SLAState, q.Now = st, s.Now()
	}
	switch {
	case q.Limit < 0:
		return nil, status.Error(codes.InvalidArgument, "page_size must not be negative")
	case q.Limit == 0:
		q.Limit = defaultPageSize
	case q.Limit > maxPageSize:
		q.Limit = maxPageSize
	}
	if !p.Staff() {
		if !p.Citizen() {
			// A follow link shows one case; it lists nothing.
			return nil, status.Error(codes.PermissionDenied, "a follow link gives access to its case only")
		}
		// A citizen lists their own cases, from every channel and
		// department, and filters only by what they can see.
		if id := req.GetContactId(); id != "" && id != p.Contact {
			return nil, status.Error(codes.PermissionDenied, "a citizen lists only their own cases")
		}
		if req.GetAssignee() != "" || req.GetTag() != "" || req.GetDepartment() != "" {
			return nil, status.Error(codes.InvalidArgument, "assignee, tag and department filters are for staff")
		}
		q.ContactID = p.Contact
	} else if d := req.GetDepartment(); d != "" {
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
	if q.Text != "" {
		// A search reads whatever matches: record that one happened (not
		// the words, which may be personal data).
		if err := s.recordAccess(ctx, "case.search", Case{ContactID: q.ContactID}, "query_len="+strconv.Itoa(len(q.Text))); err != nil {
			return nil, err
		}
	}
	list, err := s.Store.ListCases(ctx, page)
	if err != nil {
		return nil, toStatus(err)
	}
	resp := &casesv1.ListCasesResponse{}
	if len(list) > q.Limit {
		list = list[:q.Limit]
		resp.NextPageToken = encodePageToken(q, list[len(list)-1])
	}
	var links map[string][]Link
	if s.Links != nil && len(list) > 0 && p.Staff() {
		ids := make([]string, len(list))
		for i, c := range list {
			ids[i] = c.ID
		}
		if links, err = s.Links.ListLinks(ctx, ids); err != nil {
			return nil, toStatus(err)
		}
	}
	var names map[string]string
	if req.GetContactNames() && p.Staff() && s.Names != nil && len(list) > 0 {
		if names, err = s.contactNames(ctx, list); err != nil {
			return nil, err
		}
	}
	resp.Cases = make([]*casesv1.Case, len(list))
	for i, c := range list {
		resp.Cases[i] = CaseToProto(c, links[c.ID])
		resp.Cases[i].ContactDisplayName = names[c.ContactID]
		if !p.Staff() {
			citizenView(resp.Cases[i])
		}
	}
	return resp, nil
}

// contactNames reads the names of the contacts of list and records the
// read (one access-log entry for the page, listing the contacts) before
// it returns them: a read that cannot be recorded is refused.
func (s *Server) contactNames(ctx context.Context, list []Case) (map[string]string, error) {
	var ids []string
	seen := map[string]bool{}
	for _, c := range list {
		if c.ContactID != "" && !seen[c.ContactID] {
			seen[c.ContactID] = true
			ids = append(ids, c.ContactID)
		}
	}
	if len(ids) == 0 {
		return nil, nil
	}
	if s.Access != nil {
		var err error
		if lr, ok := s.Access.(ListRecorder); ok {
			err = lr.RecordList(ctx, "case.list", ids)
		} else {
			for _, id := range ids {
				if err = s.Access.Record(ctx, "case.list", "", id, ""); err != nil {
					break
				}
			}
		}
		if err != nil {
			if s.Log != nil {
				s.Log.ErrorContext(ctx, "access log", "action", "case.list", "err", err)
			}
			return nil, status.Error(codes.Unavailable, "the access log could not be written; nothing was read")
		}
	}
	names, err := s.Names.ContactNames(ctx, ids)
	if err != nil {
		return nil, toStatus(err)
	}
	return names, nil
}

// UpdateCase changes the masked fields of a case the caller works.
func (s *Server) UpdateCase(ctx context.Context, req *casesv1.UpdateCaseRequest) (*casesv1.Case, error) {
	p, _ := auth.PrincipalFrom(ctx)
	in := req.GetCase()
	if in.GetId() == "" {
		return nil, status.Error(codes.InvalidArgument, "case.id is required")
	}
	var paths []string
	for _, p := range req.GetUpdateMask().GetPaths() {
		if p != "id" && p != "etag" { // they name the case; the gateway infers them from the body
			paths = append(paths, p)
		}
	}
	if len(paths) == 0 {
		return nil, status.Errorf(codes.InvalidArgument, "update_mask is required (updatable: %s)", strings.Join(Updatable, ", "))
	}
	version, err := parseEtag(in.GetEtag())
	if err != nil {
		return nil, toStatus(err)
	}
	if s.SLA != nil {
		if err := s.SLA.Prepare(ctx); err != nil {
			return nil, toStatus(err)
		}
	}
	now := s.Now()
	to := Case{Subject: in.GetSubject(), Priority: Priority(in.GetPriority()), Category: in.GetCategory(),
		Tags: in.GetTags(), Language: in.GetLanguage()}
	c, err := s.History.UpdateCase(ctx, in.GetId(), version, func(c *Case) ([]Event, error) {
		if !p.InDepartment(c.Department) {
			return nil, fmt.Errorf("%w: %s", ErrNotFound, in.GetId())
		}
		before := c.Priority
		evs, err := Update(p.Subject, paths, to)(c)
		if err != nil || c.Priority == before {
			return evs, err
		}
		return evs, RetargetSLA(c, now, s.SLA)
	})
	if err != nil {
		return nil, toStatus(err)
	}
	return toProto(c), nil
}

// ChangeStatus moves a case the caller works along its lifecycle.
func (s *Server) ChangeStatus(ctx context.Context, req *casesv1.ChangeStatusRequest) (*casesv1.Case, error) {
	p, _ := auth.PrincipalFrom(ctx)
	to, ok := statusFromProto[req.GetStatus()]
	if !ok {
		return nil, status.Error(codes.InvalidArgument, "status is required")
	}
	version, err := parseEtag(req.GetEtag())
	if err != nil {
		return nil, toStatus(err)
	}
	if len(req.GetReason()) > maxReasonBytes {
		return nil, status.Errorf(codes.InvalidArgument, "reason longer than %d bytes", maxReasonBytes)
	}
	if s.SLA != nil {
		if err := s.SLA.Prepare(ctx); err != nil {
			return nil, toStatus(err)
		}
	}
	now := s.Now()
	c, err := s.History.UpdateCase(ctx, req.GetId(), version, func(c *Case) ([]Event, error) {
		// Checked inside the transaction: the case may have moved since.
		if !p.InDepartment(c.Department) {
			return nil, fmt.Errorf("%w: %s", ErrNotFound, req.GetId())
		}
		before := c.Status
		evs, err := ChangeStatus(p.Subject, to, req.GetReason())(c)
		if err != nil || len(evs) == 0 {
			return evs, err
		}
		return evs, ApplySLA(c, before, now, s.SLA)
	})
	if err != nil {
		return nil, toStatus(err)
	}
	return toProto(c), nil
}

// AssignCase gives a case to an operator, within what the caller's role
// allows; checked inside the transaction against the case as it is then.
func (s *Server) AssignCase(ctx context.Context, req *casesv1.AssignCaseRequest) (*casesv1.Case, error) {
	p, _ := auth.PrincipalFrom(ctx)
	version, err := parseEtag(req.GetEtag())
	if err != nil {
		return nil, toStatus(err)
	}
	c, err := s.assign(ctx, p, req.GetId(), version, req.GetAssignee(), req.GetReason())
	if err != nil {
		return nil, toStatus(err)
	}
	return toProto(c), nil
}

// errPermission is PERMISSION_DENIED on the API.
var errPermission = errors.New("permission denied")

// mayAssign applies the assignment rules: operators take unassigned cases
// for themselves or give back their own; supervisors and admins assign
// anyone, with a reason when it is not themselves.
func mayAssign(p auth.Principal, c *Case, to, reason string) error {
	self := p.Operator != "" && to == p.Operator
	if p.Role == auth.RoleOperator {
		take := self && c.Assignee == ""
		giveBack := to == "" && c.Assignee != "" && c.Assignee == p.Operator
		if !take && !giveBack && c.Assignee != to {
			return fmt.Errorf("%w: operators may take unassigned cases for themselves or give back their own", errPermission)
		}
		return nil
	}
	if !self && strings.TrimSpace(reason) == "" {
		return fmt.Errorf("%w: a reason is required to assign a case to someone else", ErrInvalidArgument)
	}
	return nil
}

// ClaimNextCase gives the caller the next case of their departments.
func (s *Server) ClaimNextCase(ctx context.Context, req *casesv1.ClaimNextCaseRequest) (*casesv1.Case, error) {
	p, _ := auth.PrincipalFrom(ctx)
	if p.Operator == "" {
		return nil, status.Error(codes.FailedPrecondition, "your account is not linked to an operator")
	}
	depts := p.Departments
	if d := req.GetDepartment(); d != "" {
		if !p.InDepartment(d) {
			return nil, status.Errorf(codes.PermissionDenied, "you do not work department %q", d)
		}
		depts = []string{d}
	}
	if len(depts) == 0 {
		return nil, status.Error(codes.InvalidArgument, "department is required (your account lists none)")
	}
	c, err := s.Claimer.ClaimNextCase(ctx, p.Operator, depts, p.Subject)
	if errors.Is(err, ErrNothingToClaim) {
		return nil, status.Error(codes.NotFound, "no unassigned case in your departments")
	}
	if err != nil {
		return nil, toStatus(err)
	}
	return toProto(c), nil
}

// TransferCase moves a case the caller works to another department.
func (s *Server) TransferCase(ctx context.Context, req *casesv1.TransferCaseRequest) (*casesv1.Case, error) {
	p, _ := auth.PrincipalFrom(ctx)
	version, err := parseEtag(req.GetEtag())
	if err != nil {
		return nil, toStatus(err)
	}
	c, err := s.transfer(ctx, p, req.GetId(), version, req.GetDepartment(), req.GetReason())
	if err != nil {
		return nil, toStatus(err)
	}
	return toProto(c), nil
}

func (s *Server) transfer(ctx context.Context, p auth.Principal, id string, version int64, dept, reason string) (Case, error) {
	if len(reason) > maxReasonBytes {
		return Case{}, fmt.Errorf("%w: reason longer than %d bytes", ErrInvalidArgument, maxReasonBytes)
	}
	if s.SLA != nil {
		if err := s.SLA.Prepare(ctx); err != nil {
			return Case{}, err
		}
	}
	return s.History.UpdateCase(ctx, id, version, func(c *Case) ([]Event, error) {
		if !p.InDepartment(c.Department) {
			return nil, fmt.Errorf("%w: %s", ErrNotFound, id)
		}
		if p.Role == auth.RoleOperator && c.Assignee != "" && c.Assignee != p.Operator {
			return nil, fmt.Errorf("%w: operators may transfer unassigned cases or their own", errPermission)
		}
		evs, err := Transfer(p.Subject, dept, reason)(c)
		if err != nil || len(evs) == 0 {
			return evs, err
		}
		// Another department, another policy.
		return evs, RetargetSLA(c, s.Now(), s.SLA)
	})
}

func (s *Server) assign(ctx context.Context, p auth.Principal, id string, version int64, to, reason string) (Case, error) {
	if len(reason) > maxReasonBytes {
		return Case{}, fmt.Errorf("%w: reason longer than %d bytes", ErrInvalidArgument, maxReasonBytes)
	}
	return s.History.UpdateCase(ctx, id, version, func(c *Case) ([]Event, error) {
		if !p.InDepartment(c.Department) {
			return nil, fmt.Errorf("%w: %s", ErrNotFound, id)
		}
		if err := mayAssign(p, c, to, reason); err != nil {
			return nil, err
		}
		return Assign(p.Subject, to, reason)(c)
	})
}

// maxBatch bounds the ids of one batch request.
const maxBatch = 500

// BatchAssignCases assigns each case in its own transaction.
func (s *Server) BatchAssignCases(ctx context.Context, req *casesv1.BatchAssignCasesRequest) (*casesv1.BatchCasesResponse, error) {
	p, _ := auth.PrincipalFrom(ctx)
	return s.batch(req.GetIds(), func(id string) (Case, error) {
		return s.assign(ctx, p, id, 0, req.GetAssignee(), req.GetReason())
	})
}

// BatchTransferCases transfers each case in its own transaction.
func (s *Server) BatchTransferCases(ctx context.Context, req *casesv1.BatchTransferCasesRequest) (*casesv1.BatchCasesResponse, error) {
	p, _ := auth.PrincipalFrom(ctx)
	return s.batch(req.GetIds(), func(id string) (Case, error) {
		return s.transfer(ctx, p, id, 0, req.GetDepartment(), req.GetReason())
	})
}

func (s *Server) batch(ids []string, do func(id string) (Case, error)) (*casesv1.BatchCasesResponse, error) {
	switch {
	case len(ids) == 0:
		return nil, status.Error(codes.InvalidArgument, "ids is required")
	case len(ids) > maxBatch:
		return nil, status.Errorf(codes.InvalidArgument, "at most %d ids per request", maxBatch)
	}
	resp := &casesv1.BatchCasesResponse{Results: make([]*casesv1.BatchCaseResult, len(ids))}
	for i, id := range ids {
		r := &casesv1.BatchCaseResult{Id: id, Code: code.Code_OK.String()}
		c, err := do(id)
		if err != nil {
			st := status.Convert(toStatus(err))
			r.Code, r.Message = code.Code(st.Code()).String(), st.Message()
		} else {
			r.Case = toProto(c)
		}
		resp.Results[i] = r
	}
	return resp, nil
}

// GetWorkload reports the departments the caller works.
func (s *Server) GetWorkload(ctx context.Context, req *casesv1.GetWorkloadRequest) (*casesv1.Workload, error) {
	p, _ := auth.PrincipalFrom(ctx)
	var depts []string
	switch d := req.GetDepartment(); {
	case d != "":
		if !p.InDepartment(d) {
			return nil, status.Errorf(codes.PermissionDenied, "you do not work department %q", d)
		}
		depts = []string{d}
	case !p.AllDepartments():
		depts = slices.Clone(p.Departments)
		if depts == nil {
			depts = []string{}
		}
	}
	loads, err := s.Workloads.Workload(ctx, depts, s.Now())
	if err != nil {
		return nil, toStatus(err)
	}
	out := &casesv1.Workload{}
	for _, l := range loads {
		dl := &casesv1.DepartmentLoad{Department: l.Department, Open: int32(l.Open), Unassigned: int32(l.Unassigned),
			DueSoon: int32(l.DueSoon), Breached: int32(l.Breached)}
		for _, o := range l.Operators {
			dl.Operators = append(dl.Operators, &casesv1.OperatorLoad{Operator: o.Operator, DisplayName: o.DisplayName,
				Presence: o.Presence, Open: int32(o.Open), OpenTotal: int32(o.OpenTotal), Capacity: int32(o.Capacity),
				DueSoon: int32(o.DueSoon), Breached: int32(o.Breached)})
		}
		out.Departments = append(out.Departments, dl)
	}
	return out, nil
}

var directionFromProto = map[casesv1.Direction]Direction{
	casesv1.Direction_DIRECTION_INBOUND: Inbound, casesv1.Direction_DIRECTION_OUTBOUND: Outbound,
	casesv1.Direction_DIRECTION_INTERNAL_NOTE: InternalNote, casesv1.Direction_DIRECTION_SYSTEM: System,
}

// AddMessage adds a reply or an internal note to a case the caller works;
// a citizen adds a message (direction inbound, or unspecified) to a case
// of their own.
func (s *Server) AddMessage(ctx context.Context, req *casesv1.AddMessageRequest) (*casesv1.Message, error) {
	p, _ := auth.PrincipalFrom(ctx)
	m := Message{ID: uuid.Must(uuid.NewV7()).String(), Direction: directionFromProto[req.GetDirection()],
		Body: strings.TrimSpace(strings.ReplaceAll(req.GetBodyText(), "\r\n", "\n")), AuthorName: p.Subject}
	if p.Operator != "" {
		m.AuthorName = p.Operator
	}
	for _, id := range req.GetAttachmentIds() {
		m.Attachments = append(m.Attachments, attachments.Attachment{ID: id})
	}
	if req.GetTemplateName() != "" {
		if err := s.templateReply(ctx, p, req, &m); err != nil {
			return nil, err
		}
	}
	if p.Staff() && m.Direction == Outbound && m.Template == nil && s.Replies != nil {
		// Outside the case's transaction: routing may open a callback
		// case; a reply refused here stores nothing.
		if c, err := s.Store.GetCase(ctx, req.GetCaseId()); err == nil && mayRead(p, c) {
			kind, id, ok, err := s.Replies.RouteReply(ctx, c)
			if err != nil {
				return nil, toStatus(err)
			}
			if ok {
				m.ChannelKind, m.ChannelID = kind, id
			}
		}
	}
	mutate := MessageAdded(p.Subject, m)
	if p.Staff() && m.Direction == Outbound && m.Template == nil && s.ReplyGate != nil {
		if err := s.replyGate(ctx, p, req.GetCaseId()); err != nil {
			return nil, err
		}
	}
	if !p.Staff() {
		if m.Direction == "" {
			m.Direction = Inbound
		}
		m.ChannelKind, m.AuthorName = PortalChannel, p.Name
		mutate = CitizenReplied(p.Subject, m, s.Now(), s.SLA, s.ReopenWindow)
	}
	added, _, err := s.Messages.AddMessage(ctx, req.GetCaseId(), m, func(c *Case) ([]Event, error) {
		if !mayRead(p, *c) {
			return nil, fmt.Errorf("%w: %s", ErrNotFound, req.GetCaseId())
		}
		return mutate(c)
	})
	if err != nil {
		return nil, toStatus(err)
	}
	return messageToProto(added), nil
}

// templateReply fills m from a reply by message template: only staff
// replies, without text or files, on a case whose channel has the
// template. A case the caller may not read is NotFound.
func (s *Server) templateReply(ctx context.Context, p auth.Principal, req *casesv1.AddMessageRequest, m *Message) error {
	switch {
	case !p.Staff() || m.Direction != Outbound:
		return status.Error(codes.InvalidArgument, "template_name is for staff replies (direction DIRECTION_OUTBOUND) only")
	case m.Body != "" || len(m.Attachments) > 0:
		return status.Error(codes.InvalidArgument, "a template reply takes template_params, not body_text or attachment_ids")
	}
	c, err := s.Store.GetCase(ctx, req.GetCaseId())
	if err != nil {
		return toStatus(err)
	}
	if !mayRead(p, c) {
		return status.Errorf(codes.NotFound, "case %s not found", req.GetCaseId())
	}
	if s.ReplyTemplate == nil {
		return status.Errorf(codes.InvalidArgument, "the case's channel (%s) has no message templates", c.ChannelKind)
	}
	t := Template{Name: req.GetTemplateName(), Params: slices.Clone(req.GetTemplateParams()),
		Buttons: slices.Clone(req.GetTemplateButtonParams())}
	if len(req.GetTemplateNamedParams()) > 0 {
		t.Named = maps.Clone(req.GetTemplateNamedParams())
	}
	if h := req.GetTemplateHeader(); h != nil {
		t.Header = &TemplateHeader{Text: h.GetText(), MediaLink: h.GetMediaLink(), MediaID: h.GetMediaId(), FileName: h.GetFileName()}
	}
	body, err := s.ReplyTemplate(ctx, c, t)
	if err != nil {
		return toStatus(err)
	}
	m.Body, m.Template = body, &t
	return nil
}

// replyGate asks the case's channel whether a reply may go now. A case
// the caller may not read is left to AddMessage (NotFound).
func (s *Server) replyGate(ctx context.Context, p auth.Principal, id string) error {
	c, err := s.Store.GetCase(ctx, id)
	if err != nil || !mayRead(p, c) {
		return nil
	}
	err = s.ReplyGate(ctx, c)
	if errors.Is(err, ErrReplyWindowClosed) {
		st, _ := status.New(codes.FailedPrecondition, err.Error()).WithDetails(&errdetails.ErrorInfo{Reason: ReasonReplyWindowClosed, Domain: "sportello"})
		return st.Err()
	}
	if err != nil {
		return toStatus(err)
	}
	return nil
}

// ListMessages returns the thread of a case the caller may see.
func (s *Server) ListMessages(ctx context.Context, req *casesv1.ListMessagesRequest) (*casesv1.ListMessagesResponse, error) {
	c, limit, err := s.pageOfCase(ctx, req.GetCaseId(), req.GetPageSize())
	if err != nil {
		return nil, err
	}
	if err := s.recordAccess(ctx, "case.messages", c, ""); err != nil {
		return nil, err
	}
	list, err := s.Messages.ListMessages(ctx, c.ID, req.GetPageToken(), limit+1)
	if err != nil {
		return nil, toStatus(err)
	}
	resp := &casesv1.ListMessagesResponse{}
	if len(list) > limit {
		list = list[:limit]
		resp.NextPageToken = list[len(list)-1].ID
	}
	p, _ := auth.PrincipalFrom(ctx)
	for _, m := range list {
		if p.Staff() || visibleToCitizen(m) {
			resp.Messages = append(resp.Messages, messageToProto(m))
		}
	}
	return resp, nil
}

// pageOfCase checks the caller may see case id (NotFound otherwise, so its
// existence leaks nothing) and turns a page_size into a limit: 0 means
// 100, more than 1000 is 1000.
func (s *Server) pageOfCase(ctx context.Context, id string, size int32) (Case, int, error) {
	p, _ := auth.PrincipalFrom(ctx)
	c, err := s.Store.GetCase(ctx, id)
	if err != nil {
		return Case{}, 0, toStatus(err)
	}
	if !mayRead(p, c) {
		return Case{}, 0, status.Errorf(codes.NotFound, "case %s not found", id)
	}
	switch {
	case size < 0:
		return Case{}, 0, status.Error(codes.InvalidArgument, "page_size must not be negative")
	case size == 0:
		return c, 100, nil
	case size > 1000:
		return c, 1000, nil
	}
	return c, int(size), nil
}

func messageToProto(m Message) *casesv1.Message {
	d := casesv1.Direction_DIRECTION_UNSPECIFIED
	for k, v := range directionFromProto {
		if v == m.Direction {
			d = k
		}
	}
	pm := &casesv1.Message{Id: m.ID, CaseId: m.CaseID, Direction: d, ChannelKind: m.ChannelKind, ChannelId: m.ChannelID,
		AuthorName: m.AuthorName, BodyText: maskFollowLink(m), CreateTime: timestamppb.New(m.CreatedAt), DeliveryStatus: m.DeliveryStatus,
		DeliveryError: m.DeliveryError, ExternalId: m.ExternalID, Kind: m.Kind}
	if m.Template != nil {
		pm.TemplateName = m.Template.Name
	}
	for _, a := range m.Attachments {
		pm.Attachments = append(pm.Attachments, attachmentToProto(a))
	}
	return pm
}

// ListCaseEvents returns the history of a case the caller may see.
func (s *Server) ListCaseEvents(ctx context.Context, req *casesv1.ListCaseEventsRequest) (*casesv1.ListCaseEventsResponse, error) {
	c, limit, err := s.pageOfCase(ctx, req.GetCaseId(), req.GetPageSize())
	if err != nil {
		return nil, err
	}
	if err := s.recordAccess(ctx, "case.events", c, ""); err != nil {
		return nil, err
	}
	evs, err := s.History.ListCaseEvents(ctx, c.ID, req.GetPageToken(), limit+1)
	if err != nil {
		return nil, toStatus(err)
	}
	resp := &casesv1.ListCaseEventsResponse{}
	if len(evs) > limit {
		evs = evs[:limit]
		resp.NextPageToken = evs[len(evs)-1].ID
	}
	for _, e := range evs {
		resp.Events = append(resp.Events, EventToProto(e))
	}
	return resp, nil
}

// EventToProto is the wire form of an event, on the API and CASE_EVENTS.
func EventToProto(e Event) *casesv1.CaseEvent {
	ch := make(map[string]*casesv1.FieldChange, len(e.Changes))
	for k, v := range e.Changes {
		ch[k] = &casesv1.FieldChange{Before: v.Before, After: v.After}
	}
	return &casesv1.CaseEvent{Id: e.ID, CaseId: e.CaseID, Type: string(e.Type), Actor: e.Actor, Reason: e.Reason,
		Changes: ch, Department: e.Department, CaseVersion: e.CaseVersion, Time: timestamppb.New(e.Time)}
}

const maxReasonBytes = 2000

// parseEtag reads W/"<version>"; "" means any version.
func parseEtag(s string) (int64, error) {
	if s == "" {
		return 0, nil
	}
	v, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimPrefix(s, `W/"`), `"`), 10, 64)
	if err != nil || v < 1 {
		return 0, fmt.Errorf("%w: malformed etag %q", ErrInvalidArgument, s)
	}
	return v, nil
}

func toStatus(err error) error {
	switch {
	case errors.Is(err, ErrConflict):
		return status.Error(codes.Aborted, err.Error())
	case errors.Is(err, ErrFailedPrecondition), errors.Is(err, ErrAtCapacity), errors.Is(err, ErrNotInDepartment),
		errors.Is(err, ErrAssignClosedCase):
		return status.Error(codes.FailedPrecondition, err.Error())
	case errors.Is(err, errPermission):
		return status.Error(codes.PermissionDenied, err.Error())
	case errors.Is(err, ErrNotFound), errors.Is(err, attachments.ErrNotFound):
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

var statusFromProto = func() map[casesv1.Status]Status {
	m := make(map[casesv1.Status]Status, len(statusToProto))
	for k, v := range statusToProto {
		m[v] = k
	}
	return m
}()

func toProto(c Case) *casesv1.Case {
	now := time.Now()
	pc := &casesv1.Case{
		Id: c.ID, Reference: c.Reference, Subject: c.Subject, Description: c.Description,
		Status: statusToProto[c.Status], Priority: casesv1.Priority(c.Priority),
		Category: c.Category, Department: c.Department, Assignee: c.Assignee,
		ChannelKind: c.ChannelKind, ChannelId: c.ChannelID, ContactId: c.ContactID,
		CreateTime: timestamppb.New(c.CreatedAt), UpdateTime: timestamppb.New(c.UpdatedAt),
		Etag: etag(c), SlaState: string(c.SLAStateAt(now)),
		Tags: c.Tags, Language: c.Language, RequiredSkill: c.RequiredSkill,
		FirstResponseSlaState: c.FirstResponseStateAt(now),
		MergedInto:            c.MergedInto,
	}
	if !c.SLADueAt.IsZero() && !c.SLADueAt.Equal(NoDeadline) {
		pc.SlaDueTime = timestamppb.New(c.SLADueAt)
		if !c.SLAWarnAt.IsZero() {
			pc.SlaWarningTime = timestamppb.New(c.SLAWarnAt)
		}
	}
	if !c.FirstResponseDueAt.IsZero() {
		pc.FirstResponseDueTime = timestamppb.New(c.FirstResponseDueAt)
	}
	if !c.FirstRespondedAt.IsZero() {
		pc.FirstResponseTime = timestamppb.New(c.FirstRespondedAt)
	}
	return pc
}

func etag(c Case) string {
	return `W/"` + strconv.FormatInt(c.Version, 10) + `"`
}
