package console

import (
	"net/http"

	"github.com/sportello/sportello/services/server"
)

// events serves GET /console/events as Server-Sent Events for the queue
// page: WatchQueue with the session's token (the browser's EventSource
// cannot send a bearer header, so /v1/queue/events does not serve it),
// written as the API's stream is (server.StreamQueue): "event: <type>"
// per case event, "event: call" per live call, and an "error" event when
// the server cut the stream (the page reconnects and reloads the queue).
func (c *Console) events(w http.ResponseWriter, r *http.Request, rq *request) {
	server.StreamQueue(rq.ctx, w, r, rq.cl.cases)
}
