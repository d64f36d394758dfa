package console

import (
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

// heartbeat keeps proxies from closing an idle stream.
const heartbeat = 15 * time.Second

// events serves GET /console/events as Server-Sent Events for the queue
// page: WatchQueue with the session's token (the browser's EventSource
// cannot send a bearer header, so /v1/queue/events does not serve it).
// Each case event is "event: <type>" with the CaseEvent as JSON data; an
// "error" event ends a stream the server cut (the page reconnects and
// reloads the queue).
func (c *Console) events(w http.ResponseWriter, r *http.Request, rq *request) {
	flusher, ok := w.(http.Flusher)
	if !ok {
		http.Error(w, "streaming unsupported", http.StatusInternalServerError)
		return
	}
	stream, err := rq.cl.cases.WatchQueue(rq.ctx, &casesv1.WatchQueueRequest{Department: r.URL.Query().Get("department")})
	if err == nil {
		// An accepted watch sends a header first; a refused one ends
		// without, and its status comes from Recv.
		var md metadata.MD
		if md, err = stream.Header(); err == nil && md == nil {
			_, err = stream.Recv()
		}
	}
	if err != nil {
		http.Error(w, status.Convert(err).Message(), httpStatus(err))
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	_, _ = fmt.Fprint(w, "retry: 3000\n: watching\n\n")
	flusher.Flush()

	ctx := r.Context()
	changes := make(chan *casesv1.QueueChange)
	ended := make(chan error, 1)
	go func() {
		for {
			ch, err := stream.Recv()
			if err != nil {
				ended <- err
				return
			}
			select {
			case changes <- ch:
			case <-ctx.Done():
				return
			}
		}
	}()
	tick := time.NewTicker(heartbeat)
	defer tick.Stop()
	for {
		select {
		case ch := <-changes:
			data, _ := protojson.Marshal(ch.GetEvent())
			_, _ = fmt.Fprintf(w, "id: %s\nevent: %s\ndata: %s\n\n", ch.GetEvent().GetId(), ch.GetEvent().GetType(), data)
			flusher.Flush()
		case <-tick.C:
			_, _ = fmt.Fprint(w, ": keep-alive\n\n")
			flusher.Flush()
		case err := <-ended:
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
