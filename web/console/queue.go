package console

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	casesv1 "github.com/sportello/sportello/api/sportello/cases/v1"
)

// Saved views of the queue: each is a set of ListCases filters.
var views = []string{"departments", "mine", "unassigned", "due", "breached"}

// Sort orders offered, as ListCases order_by values.
var orders = []string{"sla_due", "priority desc", "create_time", "create_time desc"}

// queueFilter is the queue's query string.
type queueFilter struct {
	View, Department, Status, Priority, Channel, Tag, Query, Order, Page string
}

func parseQueueFilter(q url.Values) queueFilter {
	f := queueFilter{View: q.Get("view"), Department: q.Get("department"), Status: q.Get("status"), Priority: q.Get("priority"),
		Channel: q.Get("channel"), Tag: q.Get("tag"), Query: q.Get("q"), Order: q.Get("order"), Page: q.Get("page")}
	if !slices.Contains(views, f.View) {
		f.View = "departments"
	}
	if !slices.Contains(orders, f.Order) {
		f.Order = "sla_due"
	}
	if f.Status == "" {
		f.Status = "active"
	}
	return f
}

// request is the ListCases call of the filter for the visitor.
func (f queueFilter) request(operator string, pageSize int32) *casesv1.ListCasesRequest {
	req := &casesv1.ListCasesRequest{Department: f.Department, Status: f.Status, Priority: f.Priority, ChannelKind: f.Channel,
		Tag: f.Tag, Query: f.Query, OrderBy: f.Order, PageSize: pageSize, PageToken: f.Page}
	if req.Status == "all" {
		req.Status = ""
	}
	switch f.View {
	case "mine":
		req.Assignee = operator
		if operator == "" {
			req.Assignee = "-" // no operator record: nothing is theirs
		}
	case "unassigned":
		req.Assignee = "none"
	case "due":
		req.SlaState = "warning"
	case "breached":
		req.SlaState = "breached"
	}
	return req
}

// Link is the queue URL of the filter with one field changed (and the
// page reset unless the field is the page).
func (f queueFilter) Link(field, value string) string {
	v := url.Values{}
	set := func(k, val string) {
		if val != "" {
			v.Set(k, val)
		}
	}
	g := f
	if field != "page" {
		g.Page = ""
	}
	switch field {
	case "view":
		g.View = value
	case "order":
		g.Order = value
	case "page":
		g.Page = value
	}
	set("view", g.View)
	set("department", g.Department)
	if g.Status != "active" {
		set("status", g.Status)
	}
	set("priority", g.Priority)
	set("channel", g.Channel)
	set("tag", g.Tag)
	set("q", g.Query)
	set("order", g.Order)
	set("page", g.Page)
	return Path + "/?" + v.Encode()
}

type queuePage struct {
	page
	Filter      queueFilter
	Views       []string
	Orders      []string
	Departments []choice
	Rows        []row
	Next        string // link to the next page, "" on the last
	First       string // link back to the first page, "" on it
	Refresh     string
	Statuses    []string
	Priorities  []string
	Channels    []string
	CSRF        string
	Updated     time.Time
	Partial     bool
}

// row is a case as the queue shows it.
type row struct {
	C        *casesv1.Case
	SLA      sla
	Assignee string
}

// queue serves GET /console/: the unified queue. With ?partial=1 only the
// table (for the live refresh).
func (c *Console) queue(w http.ResponseWriter, r *http.Request, rq *request) {
	f := parseQueueFilter(r.URL.Query())
	p := queuePage{page: c.newPage(rq, r, "queue", rq.t["queue"]), Filter: f, Views: views, Orders: orders,
		CSRF: rq.v.CSRF, Statuses: statusFilters, Priorities: priorityNames,
		Channels: channelKinds, Updated: c.now(), Partial: r.URL.Query().Get("partial") == "1"}
	p.Departments = p.Names.departmentChoices(rq.v.Principal.Departments, false)
	p.Refresh = f.Link("page", f.Page)
	lr := f.request(rq.v.Principal.Operator, 50)
	lr.ContactNames = true // the citizen column; one access-log entry per page
	resp, err := rq.cl.cases.ListCases(rq.ctx, lr)
	if err != nil {
		p.Errors = append(p.Errors, explain(rq.t, err))
		c.render(w, httpStatus(err), "queue.html", p)
		return
	}
	now := c.now()
	var ops []string
	for _, cs := range resp.GetCases() {
		p.Rows = append(p.Rows, row{C: cs, SLA: slaOf(cs, now)})
		ops = append(ops, cs.GetAssignee())
	}
	p.Names = c.namesWith(rq.ctx, rq.cl, ops)
	if t := resp.GetNextPageToken(); t != "" {
		p.Next = f.Link("page", t)
	}
	if f.Page != "" {
		p.First = f.Link("page", "")
	}
	name := "queue.html"
	if p.Partial {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		if err := c.tmpl[name].ExecuteTemplate(w, "queue-table", p); err != nil {
			c.cfg.Log.Error("console: render", "template", "queue-table", "err", err)
		}
		return
	}
	c.render(w, http.StatusOK, name, p)
}

// next serves POST /console/next: ClaimNextCase, then the claimed case.
func (c *Console) next(w http.ResponseWriter, r *http.Request, rq *request) {
	got, err := rq.cl.cases.ClaimNextCase(rq.ctx, &casesv1.ClaimNextCaseRequest{Department: strings.TrimSpace(r.PostFormValue("department"))})
	if err != nil {
		c.fail(w, r, rq, Path+"/", err)
		return
	}
	http.Redirect(w, r, Path+"/cases/"+url.PathEscape(got.GetId())+"?done=claimed", http.StatusSeeOther)
}

var statusFilters = []string{"active", "new", "open", "pending_citizen", "on_hold", "resolved", "closed", "all"}

var priorityNames = []string{"low", "normal", "high", "urgent"}

// channelKinds are the channel kinds the queue filters on.
var channelKinds = []string{"email", "webform", "portal", "cti", "phone", "walk_in", "letter"}
