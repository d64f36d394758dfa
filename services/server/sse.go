package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"

	casesv1 "github.com/sportello/sportello/api/sportello/cases/v1"
)

// queueEvents serves GET /v1/queue/events: StreamQueue with the
// request's Authorization header, over the in-memory connection, so the
// gRPC interceptors authenticate and authorise it like any other call.
func (s *Server) queueEvents(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	if a := r.Header.Get("Authorization"); a != "" {
		ctx = metadata.AppendToOutgoingContext(ctx, "authorization", a)
	}
	StreamQueue(ctx, w, r, casesv1.NewCaseServiceClient(s.gwConn))
}

// StreamQueue answers r with WatchQueue as Server-Sent Events, calling
// cases with ctx (which carries the caller's credentials): each case event
// is "event: <type>" with the CaseEvent as JSON data, each live call
// "event: call" with the CallNotice; a comment every 15 s keeps proxies
// from closing the connection, and an "error" event ends a stream the
// server cut (clients reconnect after the "retry" hint). A refused watch
// is answered with the HTTP status of its gRPC code. The operator console
// serves its own page's stream with it, with the session's token.
func StreamQueue(ctx context.Context, w http.ResponseWriter, r *http.Request, cases casesv1.CaseServiceClient) {
	flusher, ok := w.(http.Flusher)
	if !ok {
		http.Error(w, "streaming unsupported", http.StatusInternalServerError)
		return
	}
	stream, err := cases.WatchQueue(ctx, &casesv1.WatchQueueRequest{Department: r.URL.Query().Get("department")})
	if err == nil {
		// Accepted calls send a header first; a refused one ends without
		// headers, and its status comes from Recv.
		var md metadata.MD
		if md, err = stream.Header(); err == nil && md == nil {
			_, err = stream.Recv()
		}
	}
	if err != nil {
		st := status.Convert(err)
		http.Error(w, st.Message(), httpStatus(st.Code()))
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	_, _ = fmt.Fprint(w, "retry: 3000\n: watching\n\n")
	flusher.Flush()

	changes := make(chan *casesv1.QueueChange)
	done := make(chan error, 1)
	go func() {
		for {
			c, err := stream.Recv()
			if err != nil {
				done <- err
				return
			}
			select {
			case changes <- c:
			case <-ctx.Done():
				return
			}
		}
	}()
	heartbeat := time.NewTicker(15 * time.Second)
	defer heartbeat.Stop()
	for {
		select {
		case c := <-changes:
			if n := c.GetCall(); n != nil {
				data, _ := protojson.Marshal(n)
				_, _ = fmt.Fprintf(w, "event: call\ndata: %s\n\n", data)
				flusher.Flush()
				continue
			}
			data, _ := protojson.Marshal(c.GetEvent())
			_, _ = fmt.Fprintf(w, "id: %s\nevent: %s\ndata: %s\n\n", c.GetEvent().GetId(), c.GetEvent().GetType(), data)
			flusher.Flush()
		case <-heartbeat.C:
			_, _ = fmt.Fprint(w, ": keep-alive\n\n")
			flusher.Flush()
		case err := <-done:
			if !errors.Is(err, io.EOF) && ctx.Err() == nil {
				_, _ = fmt.Fprintf(w, "event: error\ndata: %q\n\n", status.Convert(err).Message())
				flusher.Flush()
			}
			return
		case <-ctx.Done():
			return
		}
	}
}
