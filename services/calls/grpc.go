package calls

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/google/uuid"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	callsv1 "github.com/sportello/sportello/api/sportello/calls/v1"
	"github.com/sportello/sportello/auth"
	"github.com/sportello/sportello/channels/cti"
	"github.com/sportello/sportello/services/cases"
	"github.com/sportello/sportello/services/intake"
)

// Server implements callsv1.CallServiceServer.
type Server struct {
	callsv1.UnimplementedCallServiceServer
	svc *Service
}

// NewServer returns the gRPC server of s.
func NewServer(s *Service) *Server { return &Server{svc: s} }

var errPermission = errors.New("permission denied")

// canSee: staff of the call's department, and the operator who answered.
func canSee(p auth.Principal, c Call) bool {
	return p.InDepartment(c.Department) || (p.Operator != "" && c.Operator == p.Operator)
}

// ListCalls lists the contact's calls the caller may see; the read is in
// the access log.
func (s *Server) ListCalls(ctx context.Context, req *callsv1.ListCallsRequest) (*callsv1.ListCallsResponse, error) {
	p, _ := auth.PrincipalFrom(ctx)
	if req.GetContactId() == "" {
		return nil, status.Error(codes.InvalidArgument, "contact_id is required")
	}
	limit := int(req.GetPageSize())
	switch {
	case limit <= 0:
		limit = 50
	case limit > 500:
		limit = 500
	}
	list, err := s.svc.d.Store.ListCalls(ctx, req.GetContactId(), 500)
	if err != nil {
		return nil, toStatus(err)
	}
	out := &callsv1.ListCallsResponse{}
	for _, c := range list {
		if canSee(p, c) && len(out.Calls) < limit {
			out.Calls = append(out.Calls, toProto(c))
		}
	}
	if len(out.Calls) > 0 {
		if err := s.svc.record(ctx, "calls.list", "", req.GetContactId()); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// GetCall returns a call the caller may see; reading a known caller's
// call is in the access log.
func (s *Server) GetCall(ctx context.Context, req *callsv1.GetCallRequest) (*callsv1.Call, error) {
	p, _ := auth.PrincipalFrom(ctx)
	c, err := s.svc.d.Store.GetCall(ctx, req.GetId())
	if err != nil {
		return nil, toStatus(err)
	}
	if !canSee(p, c) {
		// Not found rather than denied: ids of other departments' calls
		// are not confirmed.
		return nil, status.Errorf(codes.NotFound, "call %s not found", req.GetId())
	}
	if err := s.svc.record(ctx, "call.read", c.CaseID, c.ContactID); err != nil {
		return nil, err
	}
	return toProto(c), nil
}

func (s *Service) record(ctx context.Context, action, caseID, contactID string) error {
	if s.d.Access == nil || contactID == "" {
		return nil
	}
	if err := s.d.Access.Record(ctx, action, caseID, contactID, ""); err != nil {
		s.d.Log.Error("calls: access log write failed", "err", err)
		return status.Error(codes.Unavailable, "the access log could not be written; retry")
	}
	return nil
}

// maxNotesRunes bounds an operator's call notes.
const maxNotesRunes = cases.MaxMessageRunes

// AttachCall records the call on a case of the caller's (with the notes
// as an internal note) or opens a new case from it, once.
func (s *Server) AttachCall(ctx context.Context, req *callsv1.AttachCallRequest) (*callsv1.Call, error) {
	p, _ := auth.PrincipalFrom(ctx)
	c, err := s.svc.AttachCall(ctx, p, req.GetCallId(), req.GetCaseId(), NewCase{Subject: req.GetNewCase().GetSubject(),
		Category: req.GetNewCase().GetCategory(), Department: req.GetNewCase().GetDepartment()}, req.GetNotes())
	if err != nil {
		return nil, toStatus(err)
	}
	return toProto(c), nil
}

// NewCase is the case an operator opens from a call.
type NewCase struct{ Subject, Category, Department string }

// AttachCall is AttachCallRequest's logic.
func (s *Service) AttachCall(ctx context.Context, p auth.Principal, callID, caseID string, nc NewCase, notes string) (Call, error) {
	notes = strings.TrimSpace(strings.ReplaceAll(notes, "\r\n", "\n"))
	switch {
	case notes == "":
		return Call{}, fmt.Errorf("%w: notes are required: what the caller asked", ErrInvalidArgument)
	case !utf8.ValidString(notes+nc.Subject) || utf8.RuneCountInString(notes) > maxNotesRunes:
		return Call{}, fmt.Errorf("%w: notes must be valid UTF-8 of at most %d characters", ErrInvalidArgument, maxNotesRunes)
	case utf8.RuneCountInString(nc.Subject) > 300:
		return Call{}, fmt.Errorf("%w: new_case.subject longer than 300 characters", ErrInvalidArgument)
	}
	c, err := s.d.Store.GetCall(ctx, callID)
	if err != nil {
		return Call{}, err
	}
	if !canSee(p, c) {
		return Call{}, fmt.Errorf("%w: call %s", ErrNotFound, callID)
	}
	if c.CaseID != "" {
		if caseID == c.CaseID || caseID == "" {
			return c, nil // a retry
		}
		return Call{}, fmt.Errorf("%w: the call is already attached to case %s", ErrFailedPrecondition, c.CaseID)
	}
	if c.State == StateRejected {
		return Call{}, fmt.Errorf("%w: a rejected call (blocked caller) is not attached to cases", ErrFailedPrecondition)
	}
	if caseID == "" {
		caseID, err = s.openFromCall(ctx, p, c, nc, notes)
	} else {
		err = s.noteOnCase(ctx, p, c, caseID, notes)
	}
	if err != nil {
		return Call{}, err
	}
	return s.d.Store.UpdateCall(ctx, c.ID, func(c *Call) (bool, error) {
		if c.CaseID != "" {
			return false, nil
		}
		c.CaseID, c.Notes = caseID, notes
		return true, nil
	})
}

// openFromCall opens the call's case through intake: its external id is
// the call's, so a retry finds the same case.
func (s *Service) openFromCall(ctx context.Context, p auth.Principal, c Call, nc NewCase, notes string) (string, error) {
	dept := nc.Department
	if dept == "" && nc.Category == "" {
		dept = c.Department
	}
	if dept != "" && !p.InDepartment(dept) {
		return "", fmt.Errorf("%w: you do not work department %q", errPermission, dept)
	}
	number := c.From
	if c.Direction == cti.Outbound {
		number = c.To
	}
	if number == cti.Anonymous {
		number = ""
	}
	in := intake.Contact{ID: c.ID, ChannelKind: cti.Kind, ChannelID: c.ChannelID, ExternalID: "call/" + c.ExternalID + "/case",
		SenderPhone: number, Subject: nc.Subject, Body: notes, ReceivedAt: s.d.Now().UTC(), CategoryHint: nc.Category,
		Metadata: map[string]string{"ivr": c.IVRChoice, "queue": c.Queue, "call_id": c.ID}, Department: dept, CreatedBy: p.Subject}
	if number == "" && c.ContactID == "" {
		return "", fmt.Errorf("%w: the caller withheld their number: open the case with CaseService.CreateCase and their e-mail", ErrFailedPrecondition)
	}
	return s.ingest(ctx, in)
}

// noteOnCase records the call on a case of the same caller as an
// internal note.
func (s *Service) noteOnCase(ctx context.Context, p auth.Principal, c Call, caseID, notes string) error {
	k, err := s.d.Cases.GetCase(ctx, caseID)
	if errors.Is(err, cases.ErrNotFound) {
		return fmt.Errorf("%w: case %s", ErrNotFound, caseID)
	}
	if err != nil {
		return err
	}
	if !p.InDepartment(k.Department) {
		return fmt.Errorf("%w: case %s is not in a department you work", errPermission, caseID)
	}
	if c.ContactID == "" || k.ContactID != c.ContactID {
		return fmt.Errorf("%w: case %s is not the caller's: open a new case from the call instead", ErrFailedPrecondition, caseID)
	}
	text := fmt.Sprintf("Telefonata %s del %s (%s, %d s).\n\n%s", c.Direction, c.StartedAt.Format("02/01/2006 15:04 MST"), c.From, c.Duration, notes)
	m := cases.Message{ID: uuid.Must(uuid.NewV7()).String(), Direction: cases.InternalNote, ChannelKind: cti.Kind, ChannelID: c.ChannelID, AuthorName: p.Name, Body: text, CreatedAt: s.d.Now().UTC()}
	_, _, err = s.d.Messages.AddMessage(ctx, caseID, m, cases.MessageAdded(p.Subject, m))
	return err
}

// ListBlockedNumbers lists the blocked callers.
func (s *Server) ListBlockedNumbers(ctx context.Context, _ *callsv1.ListBlockedNumbersRequest) (*callsv1.ListBlockedNumbersResponse, error) {
	list, err := s.svc.d.Store.ListBlocked(ctx)
	if err != nil {
		return nil, toStatus(err)
	}
	out := &callsv1.ListBlockedNumbersResponse{}
	for _, b := range list {
		out.Numbers = append(out.Numbers, blockedToProto(b))
	}
	return out, nil
}

// BlockNumber blocks a caller.
func (s *Server) BlockNumber(ctx context.Context, req *callsv1.BlockNumberRequest) (*callsv1.BlockedNumber, error) {
	p, _ := auth.PrincipalFrom(ctx)
	n, err := number(req.GetNumber())
	if err != nil {
		return nil, toStatus(err)
	}
	reason := strings.TrimSpace(req.GetReason())
	if !utf8.ValidString(reason) || utf8.RuneCountInString(reason) > 500 {
		return nil, status.Error(codes.InvalidArgument, "reason must be valid UTF-8 of at most 500 characters")
	}
	b, err := s.svc.d.Store.BlockNumber(ctx, Blocked{Number: n, Reason: reason, CreatedBy: p.Subject, CreatedAt: s.svc.d.Now().UTC()})
	if err != nil {
		return nil, toStatus(err)
	}
	return blockedToProto(b), nil
}

// UnblockNumber unblocks a caller.
func (s *Server) UnblockNumber(ctx context.Context, req *callsv1.UnblockNumberRequest) (*callsv1.UnblockNumberResponse, error) {
	n, err := number(req.GetNumber())
	if err != nil {
		return nil, toStatus(err)
	}
	if err := s.svc.d.Store.UnblockNumber(ctx, n); err != nil {
		return nil, toStatus(err)
	}
	return &callsv1.UnblockNumberResponse{}, nil
}

// number normalises a number to block as the webhook normalises callers.
func number(s string) (string, error) {
	n := normaliseNumber(s)
	digits := len(strings.TrimPrefix(n, "+"))
	if digits < 2 || digits > 20 || strings.ContainsFunc(s, func(r rune) bool {
		return !strings.ContainsRune("+0123456789 -.()", r)
	}) {
		return "", fmt.Errorf("%w: number %q: digits, a leading +, spaces and dashes, 2 to 20 digits", ErrInvalidArgument, s)
	}
	return n, nil
}

func blockedToProto(b Blocked) *callsv1.BlockedNumber {
	return &callsv1.BlockedNumber{Number: b.Number, Reason: b.Reason, CreatedBy: b.CreatedBy, CreateTime: timestamppb.New(b.CreatedAt)}
}

func toProto(c Call) *callsv1.Call {
	out := &callsv1.Call{Id: c.ID, ChannelId: c.ChannelID, ExternalId: c.ExternalID, Direction: c.Direction, From: c.From, To: c.To,
		Queue: c.Queue, IvrChoice: c.IVRChoice, Department: c.Department, ContactId: c.ContactID, Operator: c.Operator,
		State: string(c.State), Cause: c.Cause, DurationSeconds: int32(c.Duration), RecordingUrl: c.Recording, CaseId: c.CaseID,
		CallbackCaseId: c.CallbackCaseID, Notes: c.Notes, StartTime: timestamppb.New(c.StartedAt)}
	if !c.AnsweredAt.IsZero() {
		out.AnswerTime = timestamppb.New(c.AnsweredAt)
	}
	if !c.EndedAt.IsZero() {
		out.EndTime = timestamppb.New(c.EndedAt)
	}
	return out
}

func toStatus(err error) error {
	switch {
	case errors.Is(err, errPermission):
		return status.Error(codes.PermissionDenied, err.Error())
	case errors.Is(err, ErrNotFound), errors.Is(err, cases.ErrNotFound):
		return status.Error(codes.NotFound, err.Error())
	case errors.Is(err, ErrInvalidArgument), errors.Is(err, cases.ErrInvalidArgument):
		return status.Error(codes.InvalidArgument, err.Error())
	case errors.Is(err, ErrFailedPrecondition), errors.Is(err, cases.ErrFailedPrecondition):
		return status.Error(codes.FailedPrecondition, err.Error())
	case errors.Is(err, context.Canceled):
		return status.Error(codes.Canceled, err.Error())
	case errors.Is(err, context.DeadlineExceeded):
		return status.Error(codes.DeadlineExceeded, err.Error())
	}
	return status.Error(codes.Internal, "internal error")
}
