package console

import (
	"net/http"
	"net/url"
	"strings"

	callsv1 "github.com/sportello/sportello/api/sportello/calls/v1"
)

// attachCall serves POST /console/calls/{id}/attach, the call notice's
// forms (console.js draws the notice from the stream's "event: call"):
// AttachCall with the notes, on the chosen case ("case_id") or, without
// one, on a new case ("subject", in the call's department). It goes to
// the case; a refusal goes back to the page the form was on ("back", a
// console path) with the reason at the top.
func (c *Console) attachCall(w http.ResponseWriter, r *http.Request, rq *request) {
	back := localBack(r.PostFormValue("back"))
	req := &callsv1.AttachCallRequest{CallId: r.PathValue("id"), CaseId: strings.TrimSpace(r.PostFormValue("case_id")),
		Notes: r.PostFormValue("notes")}
	if req.CaseId == "" {
		req.NewCase = &callsv1.NewCase{Subject: strings.TrimSpace(r.PostFormValue("subject"))}
	}
	call, err := rq.cl.calls.AttachCall(rq.ctx, req)
	if err != nil {
		c.fail(w, r, rq, back, err)
		return
	}
	done(w, r, casePath(call.GetCaseId()), "callAttached")
}

// localBack is back when it is a path of the console, else the queue: a
// form cannot send the operator elsewhere.
func localBack(back string) string {
	u, err := url.Parse(back)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || strings.HasPrefix(back, "//") || strings.Contains(back, "\\") ||
		!(u.Path == Path+"/" || strings.HasPrefix(u.Path, Path+"/")) {
		return Path + "/"
	}
	return u.RequestURI()
}
