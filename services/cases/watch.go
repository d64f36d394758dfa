package cases

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	casesv1 "github.com/sportello/sportello/api/sportello/cases/v1"
	"github.com/sportello/sportello/auth"
)

// Feed delivers case events as they are published (services/events).
type Feed interface {
	// Subscribe returns a channel of events from now on; it is closed when
	// ctx ends, when the feed shuts down, or with ErrTooSlow when the
	// subscriber fell behind. cancel releases the subscription.
	Subscribe(ctx context.Context) (events <-chan Event, errc <-chan error, cancel func())
}

// ErrTooSlow ends a watch that could not keep up.
var ErrTooSlow = errors.New("watcher too slow: reconnect and reload the queue")

// Concerns reports whether e changes the queue of one of depts: the case
// is there after the event, or was there until it (a transfer).
func (e Event) Concerns(depts []string) bool {
	if slices.Contains(depts, e.Department) {
		return true
	}
	if ch, ok := e.Changes["department"]; ok && ch.Before != "" {
		return slices.Contains(depts, ch.Before)
	}
	return false
}

// WatchQueue streams queue changes to a member of staff.
func (s *Server) WatchQueue(req *casesv1.WatchQueueRequest, stream casesv1.CaseService_WatchQueueServer) error {
	ctx := stream.Context()
	p, _ := auth.PrincipalFrom(ctx)
	if s.Feed == nil {
		return status.Error(codes.Unavailable, "live queue not available")
	}
	all := p.AllDepartments()
	depts := p.Departments
	if d := req.GetDepartment(); d != "" {
		if !p.InDepartment(d) {
			return status.Errorf(codes.PermissionDenied, "you do not work department %q", d)
		}
		all, depts = false, []string{d}
	}
	events, errc, cancel := s.Feed.Subscribe(ctx)
	defer cancel()
	// Headers now, so a client knows the watch is live before any event.
	if err := stream.SendHeader(metadata.Pairs("sportello-watch", "live")); err != nil {
		return err
	}
	for {
		select {
		case e, ok := <-events:
			if !ok {
				err := <-errc
				switch {
				case errors.Is(err, ErrTooSlow):
					return status.Error(codes.ResourceExhausted, err.Error())
				case err != nil:
					return status.Error(codes.Unavailable, fmt.Sprintf("live queue interrupted: %v", err))
				}
				return status.Error(codes.Unavailable, "server shutting down: reconnect")
			}
			if e.Call != nil {
				if e.Call.For(all, depts, p.Operator) {
					n, err := s.callNoticeFor(ctx, p, *e.Call)
					if err != nil {
						return err
					}
					if err := stream.Send(&casesv1.QueueChange{Call: CallNoticeToProto(n)}); err != nil {
						return err
					}
				}
				continue
			}
			if !all && !e.Concerns(depts) {
				continue
			}
			if err := stream.Send(&casesv1.QueueChange{Event: EventToProto(e)}); err != nil {
				return err
			}
		case <-ctx.Done():
			return nil
		}
	}
}

// CallNoticeToProto converts a live call notice.
func CallNoticeToProto(n CallNotice) *casesv1.CallNotice {
	out := &casesv1.CallNotice{Type: n.Type, CallId: n.CallID, Department: n.Department, Operator: n.Operator, From: n.From,
		ContactId: n.ContactID, ContactName: n.ContactName, Time: timestamppb.New(n.Time)}
	for _, c := range n.OpenCases {
		out.OpenCases = append(out.OpenCases, toProto(c))
	}
	return out
}

// CallNoticeFromProto converts a live call notice back.
func CallNoticeFromProto(p *casesv1.CallNotice) CallNotice {
	n := CallNotice{Type: p.GetType(), CallID: p.GetCallId(), Department: p.GetDepartment(), Operator: p.GetOperator(), From: p.GetFrom(),
		ContactID: p.GetContactId(), ContactName: p.GetContactName(), Time: p.GetTime().AsTime()}
	for _, c := range p.GetOpenCases() {
		n.OpenCases = append(n.OpenCases, Case{ID: c.GetId(), Reference: c.GetReference(), Subject: c.GetSubject(),
			Status: statusFromProto[c.GetStatus()], Priority: Priority(c.GetPriority()), Category: c.GetCategory(),
			Department: c.GetDepartment(), Assignee: c.GetAssignee(), ChannelKind: c.GetChannelKind(), ChannelID: c.GetChannelId(),
			ContactID: c.GetContactId(), CreatedAt: c.GetCreateTime().AsTime(), UpdatedAt: c.GetUpdateTime().AsTime(),
			Tags: c.GetTags(), Language: c.GetLanguage(), SLADueAt: NoDeadline})
	}
	return n
}

// callNoticeFor is the call notice as member of staff p may see it: the
// caller's open cases of the departments p works only (a notice goes to
// the call's department, the caller's cases may be anywhere), and, since
// it shows who the caller is, recorded in the access log first
// (accesslog.ActionCallNotice, the contact). Without a log entry nothing is shown.
func (s *Server) callNoticeFor(ctx context.Context, p auth.Principal, n CallNotice) (CallNotice, error) {
	visible := make([]Case, 0, len(n.OpenCases))
	for _, c := range n.OpenCases {
		if p.InDepartment(c.Department) {
			visible = append(visible, c)
		}
	}
	n.OpenCases = visible
	if n.ContactID != "" && s.Access != nil {
		if err := s.Access.Record(ctx, "call.notice", "", n.ContactID, "call="+n.CallID); err != nil {
			if s.Log != nil {
				s.Log.ErrorContext(ctx, "access log", "action", "call.notice", "err", err)
			}
			return CallNotice{}, status.Error(codes.Unavailable, "the access log could not be written; the call notice was not shown")
		}
	}
	return n, nil
}
