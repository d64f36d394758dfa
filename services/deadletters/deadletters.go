// Package deadletters is the administrators' view of what intake could not
// store: list the entries, replay one once its cause is fixed. The queue
// itself is JetStream's (services/events implements Queue); this package
// holds the rules and the gRPC DeadLetterService.
package deadletters

import (
	"context"
	"errors"
	"strconv"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	adminv1 "github.com/sportello/sportello/api/sportello/admin/v1"
)

// Entry is one dead letter, without its content.
type Entry struct {
	Sequence        uint64
	OriginalSubject string
	Reason          string
	Time            time.Time
	Contacts        int
}

// Queue is the dead-letter stream.
type Queue interface {
	// List returns up to limit entries with a sequence above after, oldest
	// first.
	List(ctx context.Context, after uint64, limit int) ([]Entry, error)
	// Replay publishes entry seq on its original subject again and removes
	// it; ErrNotFound if there is no such entry.
	Replay(ctx context.Context, seq uint64) error
}

// ErrNotFound is returned for an unknown sequence.
var ErrNotFound = errors.New("dead letter not found")

// Server implements adminv1.DeadLetterServiceServer.
type Server struct {
	adminv1.UnimplementedDeadLetterServiceServer
	queue Queue
}

// NewServer returns the gRPC service on q.
func NewServer(q Queue) *Server { return &Server{queue: q} }

// ListDeadLetters pages with the last sequence as the token.
func (s *Server) ListDeadLetters(ctx context.Context, req *adminv1.ListDeadLettersRequest) (*adminv1.ListDeadLettersResponse, error) {
	limit := int(req.GetPageSize())
	switch {
	case limit < 0:
		return nil, status.Error(codes.InvalidArgument, "page_size must not be negative")
	case limit == 0:
		limit = 50
	case limit > 500:
		limit = 500
	}
	var after uint64
	if t := req.GetPageToken(); t != "" {
		v, err := strconv.ParseUint(t, 10, 64)
		if err != nil {
			return nil, status.Error(codes.InvalidArgument, "malformed page_token")
		}
		after = v
	}
	list, err := s.queue.List(ctx, after, limit+1)
	if err != nil {
		return nil, status.Error(codes.Unavailable, "dead-letter stream unavailable")
	}
	resp := &adminv1.ListDeadLettersResponse{}
	if len(list) > limit {
		list = list[:limit]
		resp.NextPageToken = strconv.FormatUint(list[len(list)-1].Sequence, 10)
	}
	for _, e := range list {
		resp.DeadLetters = append(resp.DeadLetters, &adminv1.DeadLetter{
			Sequence: e.Sequence, OriginalSubject: e.OriginalSubject, Reason: e.Reason,
			DeadLetterTime: timestamppb.New(e.Time), ContactCount: int32(e.Contacts),
		})
	}
	return resp, nil
}

// ReplayDeadLetter sends an entry through intake again.
func (s *Server) ReplayDeadLetter(ctx context.Context, req *adminv1.ReplayDeadLetterRequest) (*adminv1.ReplayDeadLetterResponse, error) {
	if req.GetSequence() == 0 {
		return nil, status.Error(codes.InvalidArgument, "sequence is required")
	}
	err := s.queue.Replay(ctx, req.GetSequence())
	switch {
	case errors.Is(err, ErrNotFound):
		return nil, status.Errorf(codes.NotFound, "no dead letter with sequence %d", req.GetSequence())
	case err != nil:
		return nil, status.Error(codes.Unavailable, "replay failed; the entry is still in the dead-letter stream")
	}
	return &adminv1.ReplayDeadLetterResponse{}, nil
}
