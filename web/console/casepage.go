package console

import (
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	casesv1 "github.com/sportello/sportello/api/sportello/cases/v1"
	contactsv1 "github.com/sportello/sportello/api/sportello/contacts/v1"
	directoryv1 "github.com/sportello/sportello/api/sportello/directory/v1"
	"github.com/sportello/sportello/services/attachments"
	"github.com/sportello/sportello/services/cases"
	"github.com/sportello/sportello/services/directory"
)

type casePage struct {
	page
	C           *casesv1.Case
	SLA         sla
	Messages    []*casesv1.Message
	Events      []*casesv1.CaseEvent
	Contact     *contactsv1.Contact
	ContactErr  string
	Others      []*casesv1.Case
	Departments []choice // where the case may be transferred
	Operators   []choice // who the case may be assigned to
	Statuses    []string
	Priorities  []string
	Tab         string
	CSRF        string
	Limit       channelLimit
	Viewers     []Viewer
	Base        string // the case's console path
	Mine        bool   // assigned to the visitor
	Canned      []*directoryv1.CannedResponse
	CannedID    string // the canned response inserted in Draft
	Draft       string // the reply's text, prefilled from a canned response
	// Templates are the case's channel's approved message templates
	// (WhatsApp: the only replies after 24 hours).
	Templates []ReplyTemplate
}

// channelLimit is what a reply on a channel may carry.
type channelLimit struct {
	Chars       int
	Attachments int
	MaxBytes    int64
	Note        string // texts key of a remark, "" for none
}

// limitOf is the reply limit on a channel kind: the case service's limits,
// and, for channels without a way to send, where the reply goes instead.
func limitOf(kind string) channelLimit {
	l := channelLimit{Chars: cases.MaxMessageRunes, Attachments: cases.MaxMessageAttachments}
	switch kind {
	case "email":
	case "cti", "phone", "walk_in", "letter":
		l.Note = "limit.offline"
	case "portal", "webform":
		l.Note = "limit.portal"
	}
	return l
}

func casePath(id string) string { return Path + "/cases/" + url.PathEscape(id) }

// caseView serves GET /console/cases/{id}: the thread (or ?tab=history),
// the citizen panel and the actions.
func (c *Console) caseView(w http.ResponseWriter, r *http.Request, rq *request) {
	id := r.PathValue("id")
	p := casePage{page: c.newPage(rq, r, "case", rq.t["case"]), Tab: r.URL.Query().Get("tab"), CSRF: rq.v.CSRF,
		Statuses: []string{"open", "pending_citizen", "on_hold", "resolved", "closed"}, Priorities: priorityNames, Base: casePath(id)}
	if p.Tab != "history" {
		p.Tab = "thread"
	}
	cs, err := rq.cl.cases.GetCase(rq.ctx, &casesv1.GetCaseRequest{Id: id})
	if err != nil {
		p.Errors = append(p.Errors, explain(rq.t, err))
		c.render(w, httpStatus(err), "case.html", p)
		return
	}
	p.C, p.SLA, p.Limit = cs, slaOf(cs, c.now()), limitOf(cs.GetChannelKind())
	p.Names = c.namesWith(rq.ctx, rq.cl, []string{cs.GetAssignee()})
	if c.cfg.ReplyTemplates != nil {
		p.Templates = c.cfg.ReplyTemplates(cs.GetChannelKind(), cs.GetChannelId())
	}
	p.Title = cs.GetReference() + " – " + cs.GetSubject()
	p.Mine = cs.GetAssignee() != "" && cs.GetAssignee() == rq.v.Principal.Operator
	if p.Tab == "history" {
		ev, err := rq.cl.cases.ListCaseEvents(rq.ctx, &casesv1.ListCaseEventsRequest{CaseId: id, PageSize: 500})
		if err != nil {
			p.Errors = append(p.Errors, explain(rq.t, err))
		}
		p.Events = ev.GetEvents()
	} else {
		msgs, err := rq.cl.cases.ListMessages(rq.ctx, &casesv1.ListMessagesRequest{CaseId: id, PageSize: 500})
		if err != nil {
			p.Errors = append(p.Errors, explain(rq.t, err))
		}
		p.Messages = msgs.GetMessages()
		slices.SortStableFunc(p.Messages, func(a, b *casesv1.Message) int {
			return a.GetCreateTime().AsTime().Compare(b.GetCreateTime().AsTime())
		})
	}
	if cs.GetContactId() != "" {
		if ct, err := rq.cl.contacts.GetContact(rq.ctx, &contactsv1.GetContactRequest{Id: cs.GetContactId()}); err != nil {
			p.ContactErr = explain(rq.t, err)
		} else {
			p.Contact = ct
			others, err := rq.cl.contacts.ListContactCases(rq.ctx, &contactsv1.ListContactCasesRequest{ContactId: ct.GetId(), PageSize: 20})
			if err == nil {
				for _, o := range others.GetCases() {
					if o.GetId() != cs.GetId() {
						p.Others = append(p.Others, o)
					}
				}
			}
		}
	}
	if canned, err := rq.cl.canned.ListCannedResponses(rq.ctx, &directoryv1.ListCannedResponsesRequest{Department: cs.GetDepartment()}); err == nil {
		p.Canned = canned.GetCannedResponses()
		p.CannedID = r.URL.Query().Get("canned")
		for _, cr := range p.Canned {
			if cr.GetId() == p.CannedID {
				p.Draft = directory.Fill(cr.GetBody(), map[string]string{"nome": p.Contact.GetDisplayName(), "riferimento": cs.GetReference(),
					"oggetto": cs.GetSubject(), "ufficio": p.Names.Dept(cs.GetDepartment()), "operatore": viewerOf(rq).Name})
			}
		}
	}
	for _, d := range p.Names.departmentChoices(nil, true) {
		if d.Value != cs.GetDepartment() {
			p.Departments = append(p.Departments, d)
		}
	}
	p.Operators = p.Names.operatorChoices(cs.GetDepartment())
	if c.cfg.Presence != nil {
		me := viewerOf(rq)
		if err := c.cfg.Presence.Viewing(r.Context(), id, me); err != nil {
			c.cfg.Log.WarnContext(r.Context(), "console: record viewing", "err", err)
		}
		if vs, err := c.cfg.Presence.Viewers(r.Context(), id); err == nil {
			for _, v := range vs {
				if v.ID != me.ID {
					p.Viewers = append(p.Viewers, v)
				}
			}
		}
	}
	c.render(w, http.StatusOK, "case.html", p)
}

// addMessage serves POST /console/cases/{id}/messages: a reply on the
// case's channel or an internal note, with an optional file.
func (c *Console) addMessage(w http.ResponseWriter, r *http.Request, rq *request) {
	id := r.PathValue("id")
	back := casePath(id)
	dir := casesv1.Direction_DIRECTION_OUTBOUND
	notice := "replied"
	if r.PostFormValue("kind") == "note" {
		dir, notice = casesv1.Direction_DIRECTION_INTERNAL_NOTE, "noted"
	}
	req := &casesv1.AddMessageRequest{CaseId: id, Direction: dir, BodyText: r.PostFormValue("body")}
	if name := r.PostFormValue("template"); name != "" {
		// A message template (reply_templates.html): its parameters only.
		req = &casesv1.AddMessageRequest{CaseId: id, Direction: casesv1.Direction_DIRECTION_OUTBOUND, TemplateName: name,
			TemplateParams: r.PostForm["param"]}
		notice = "replied"
	}
	if r.MultipartForm != nil {
		// The files go out with the message (as its attachments, on the
		// reply's channel): more than a message may carry is refused
		// before any is stored.
		var files int
		for _, fh := range r.MultipartForm.File["file"] {
			if fh.Size > 0 || fh.Filename != "" {
				files++
			}
		}
		if files > cases.MaxMessageAttachments {
			c.fail(w, r, rq, back, status.Errorf(codes.InvalidArgument, "%d files: a message carries %d at most", files, cases.MaxMessageAttachments))
			return
		}
		for _, fh := range r.MultipartForm.File["file"] {
			if fh.Size == 0 && fh.Filename == "" {
				continue
			}
			f, err := fh.Open()
			if err != nil {
				http.Error(w, "unreadable upload", http.StatusBadRequest)
				return
			}
			content, err := io.ReadAll(f)
			f.Close()
			if err != nil {
				http.Error(w, "unreadable upload", http.StatusBadRequest)
				return
			}
			a, err := rq.cl.cases.UploadAttachment(rq.ctx, &casesv1.UploadAttachmentRequest{CaseId: id, FileName: fh.Filename, Content: content})
			if err != nil {
				c.fail(w, r, rq, back, err)
				return
			}
			req.AttachmentIds = append(req.AttachmentIds, a.GetId())
		}
	}
	if _, err := rq.cl.cases.AddMessage(rq.ctx, req); err != nil {
		c.fail(w, r, rq, back, err)
		return
	}
	done(w, r, back, notice)
}

// changeStatus serves POST /console/cases/{id}/status.
func (c *Console) changeStatus(w http.ResponseWriter, r *http.Request, rq *request) {
	id := r.PathValue("id")
	st := casesv1.Status(casesv1.Status_value["STATUS_"+strings.ToUpper(r.PostFormValue("status"))])
	_, err := rq.cl.cases.ChangeStatus(rq.ctx, &casesv1.ChangeStatusRequest{Id: id, Status: st,
		Reason: r.PostFormValue("reason"), Etag: r.PostFormValue("etag")})
	if err != nil {
		c.fail(w, r, rq, casePath(id), err)
		return
	}
	done(w, r, casePath(id), "status")
}

// update serves POST /console/cases/{id}/update: priority and tags.
func (c *Console) update(w http.ResponseWriter, r *http.Request, rq *request) {
	id := r.PathValue("id")
	in := &casesv1.Case{Id: id, Etag: r.PostFormValue("etag"),
		Priority: casesv1.Priority(casesv1.Priority_value["PRIORITY_"+strings.ToUpper(r.PostFormValue("priority"))]),
		Tags:     strings.FieldsFunc(r.PostFormValue("tags"), func(r rune) bool { return r == ',' || r == ' ' })}
	_, err := rq.cl.cases.UpdateCase(rq.ctx, &casesv1.UpdateCaseRequest{Case: in, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"priority", "tags"}}})
	if err != nil {
		c.fail(w, r, rq, casePath(id), err)
		return
	}
	done(w, r, casePath(id), "updated")
}

// transfer serves POST /console/cases/{id}/transfer: to another
// department, with a reason.
func (c *Console) transfer(w http.ResponseWriter, r *http.Request, rq *request) {
	id := r.PathValue("id")
	_, err := rq.cl.cases.TransferCase(rq.ctx, &casesv1.TransferCaseRequest{Id: id, Department: r.PostFormValue("department"),
		Reason: r.PostFormValue("reason"), Etag: r.PostFormValue("etag")})
	if err != nil {
		c.fail(w, r, rq, casePath(id), err)
		return
	}
	// The case may now be out of the visitor's reach: back to the queue.
	done(w, r, Path+"/", "transferred")
}

// assign serves POST /console/cases/{id}/assign: take the case (assignee
// "me") or give it to another operator.
func (c *Console) assign(w http.ResponseWriter, r *http.Request, rq *request) {
	id := r.PathValue("id")
	to := r.PostFormValue("assignee")
	switch to {
	case "me":
		to = rq.v.Principal.Operator
	case "none":
		to = "" // unassign
	}
	_, err := rq.cl.cases.AssignCase(rq.ctx, &casesv1.AssignCaseRequest{Id: id, Assignee: to, Reason: r.PostFormValue("reason"),
		Etag: r.PostFormValue("etag")})
	if err != nil {
		c.fail(w, r, rq, casePath(id), err)
		return
	}
	done(w, r, casePath(id), "assigned")
}

// viewing serves POST /console/cases/{id}/viewing, which the open case
// page sends every viewingRefresh: the visitor is still looking. It
// answers with the others looking, as text for the collision notice.
func (c *Console) viewing(w http.ResponseWriter, r *http.Request, rq *request) {
	id := r.PathValue("id")
	if c.cfg.Presence == nil {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	// Only someone who may read the case says they are looking at it.
	if _, err := rq.cl.cases.GetCase(rq.ctx, &casesv1.GetCaseRequest{Id: id}); err != nil {
		http.Error(w, explain(rq.t, err), httpStatus(err))
		return
	}
	me := viewerOf(rq)
	if err := c.cfg.Presence.Viewing(r.Context(), id, me); err != nil {
		http.Error(w, rq.t["err.unavailable"], http.StatusServiceUnavailable)
		return
	}
	vs, err := c.cfg.Presence.Viewers(r.Context(), id)
	if err != nil {
		http.Error(w, rq.t["err.unavailable"], http.StatusServiceUnavailable)
		return
	}
	var names []string
	for _, v := range vs {
		if v.ID != me.ID {
			names = append(names, v.Name)
		}
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if len(names) > 0 {
		_, _ = io.WriteString(w, rq.t["viewing"]+" "+strings.Join(names, ", "))
	}
}

// attachment serves GET /console/attachments/{id}: the file, through the
// case service's checks and access log, with headers that keep the
// browser from running it in the site's origin.
func (c *Console) attachment(w http.ResponseWriter, r *http.Request, rq *request) {
	files := c.files.Load()
	if files == nil {
		http.Error(w, "attachments not available", http.StatusServiceUnavailable)
		return
	}
	a, content, err := (*files).OpenAttachment(r.Context(), r.PathValue("id"))
	if err != nil {
		http.Error(w, explain(rq.t, err), httpStatus(err))
		return
	}
	defer content.Close()
	attachments.Serve(w, r, a, content)
}

// Viewer is a member of staff looking at a case.
type Viewer struct {
	ID, Name string
	Since    time.Time
}

func viewerOf(rq *request) Viewer {
	name := rq.v.Principal.Name
	if name == "" {
		name = rq.v.Principal.Subject
	}
	return Viewer{ID: rq.v.Principal.Subject, Name: name}
}
