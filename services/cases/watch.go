package cases

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

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
