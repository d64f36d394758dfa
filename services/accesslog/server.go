package accesslog

import (
	"context"
	"strconv"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	adminv1 "github.com/sportello/sportello/api/sportello/admin/v1"
)

// Server implements adminv1.AccessLogServiceServer. Who may call it is the
// permission table's business (administrators only).
type Server struct {
	adminv1.UnimplementedAccessLogServiceServer
	store Store
}

var _ adminv1.AccessLogServiceServer = (*Server)(nil)

// NewServer returns the gRPC service on s.
func NewServer(s Store) *Server { return &Server{store: s} }

// ListAccessLog pages newest first; the page token is the sequence the next
// page stays below.
func (s *Server) ListAccessLog(ctx context.Context, req *adminv1.ListAccessLogRequest) (*adminv1.ListAccessLogResponse, error) {
	if req.GetPageSize() < 0 {
		return nil, status.Error(codes.InvalidArgument, "page_size must not be negative")
	}
	f := Filter{Actor: req.GetActor(), CaseID: req.GetCaseId(), ContactID: req.GetContactId(), Action: req.GetAction(),
		Limit: int(req.GetPageSize())}
	if t := req.GetPageToken(); t != "" {
		v, err := strconv.ParseInt(t, 10, 64)
		if err != nil || v <= 0 {
			return nil, status.Error(codes.InvalidArgument, "malformed page_token")
		}
		f.Before = v
	}
	for _, ts := range []struct {
		name string
		in   *timestamppb.Timestamp
		out  *time.Time
	}{{"start_time", req.GetStartTime(), &f.Since}, {"end_time", req.GetEndTime(), &f.Until}} {
		if ts.in == nil {
			continue
		}
		if err := ts.in.CheckValid(); err != nil {
			return nil, status.Errorf(codes.InvalidArgument, "%s: %v", ts.name, err)
		}
		*ts.out = ts.in.AsTime()
	}
	if !f.Since.IsZero() && !f.Until.IsZero() && !f.Since.Before(f.Until) {
		return nil, status.Error(codes.InvalidArgument, "start_time must be before end_time")
	}
	list, next, err := s.store.ListAccess(ctx, f)
	if err != nil {
		return nil, storeError(ctx, err)
	}
	resp := &adminv1.ListAccessLogResponse{Entries: make([]*adminv1.AccessLogEntry, len(list))}
	if next > 0 {
		resp.NextPageToken = strconv.FormatInt(next, 10)
	}
	for i, e := range list {
		resp.Entries[i] = toProto(e)
	}
	return resp, nil
}

// VerifyAccessLog checks the chain. A broken chain is a result, not an
// error: the response says where it breaks.
func (s *Server) VerifyAccessLog(ctx context.Context, req *adminv1.VerifyAccessLogRequest) (*adminv1.VerifyAccessLogResponse, error) {
	if req.GetStartSequence() < 0 || req.GetMaxEntries() < 0 {
		return nil, status.Error(codes.InvalidArgument, "start_sequence and max_entries must not be negative")
	}
	v, err := s.store.VerifyAccessChain(ctx, req.GetStartSequence(), int(req.GetMaxEntries()))
	if err != nil {
		return nil, storeError(ctx, err)
	}
	return &adminv1.VerifyAccessLogResponse{Intact: v.Intact(), CheckedCount: int64(v.Checked), LastSequence: v.LastSeq,
		FirstBadSequence: v.FirstBad, Reason: v.Reason}, nil
}

func toProto(e Entry) *adminv1.AccessLogEntry {
	return &adminv1.AccessLogEntry{Sequence: e.Seq, AccessTime: timestamppb.New(e.Time), Actor: e.Actor,
		ActorRole: e.ActorRole, OperatorId: e.Operator, Action: e.Action, CaseId: e.CaseID, ContactId: e.ContactID,
		Detail: e.Detail, RequestId: e.RequestID, PrevHash: e.PrevHash, Hash: e.Hash}
}

func storeError(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return status.FromContextError(ctx.Err()).Err()
	}
	return status.Error(codes.Unavailable, "access log unavailable")
}
