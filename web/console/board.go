package console

import (
	"html/template"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	casesv1 "github.com/sportello/sportello/api/sportello/cases/v1"
	directoryv1 "github.com/sportello/sportello/api/sportello/directory/v1"
	"github.com/sportello/sportello/web/reportpage"
)

type boardPage struct {
	page
	Load        []*casesv1.DepartmentLoad
	Filter      queueFilter
	Views       []string
	Rows        []row
	Next        string
	Operators   []*directoryv1.Operator
	Departments []choice // every department, for the transfer picker
	Mine        []choice // the board's department filter
	Back        string   // the board with its filter, where actions return
	CSRF        string
	Results     []*casesv1.BatchCaseResult
	// The charts of the last Days (7 or 30) days, and the links that
	// switch between the two; ChartsErr when they could not be drawn.
	Days          int
	Volume, SLA   template.HTML
	ChartsErr     string
	Days7, Days30 string
}

// board serves GET /console/board: workload per department and operator
// (GetWorkload) and a case list to select cases for bulk reassignment or
// transfer. Supervisors and administrators only (the services refuse the
// others too).
func (c *Console) board(w http.ResponseWriter, r *http.Request, rq *request) {
	p := boardPage{page: c.newPage(rq, r, "board", rq.t["board"]), CSRF: rq.v.CSRF, Views: views}
	if !rq.supervisor() {
		p.Errors = append(p.Errors, rq.t["err.supervisorOnly"])
		c.render(w, http.StatusForbidden, "board.html", p)
		return
	}
	q := r.URL.Query()
	if q.Get("view") == "" {
		q.Set("view", "unassigned")
	}
	p.Filter = parseQueueFilter(q)
	wl, err := rq.cl.cases.GetWorkload(rq.ctx, &casesv1.GetWorkloadRequest{Department: p.Filter.Department})
	if err != nil {
		p.Errors = append(p.Errors, explain(rq.t, err))
		c.render(w, httpStatus(err), "board.html", p)
		return
	}
	p.Load = wl.GetDepartments()
	lr := p.Filter.request(rq.v.Principal.Operator, 100)
	lr.ContactNames = true
	list, err := rq.cl.cases.ListCases(rq.ctx, lr)
	if err != nil {
		p.Errors = append(p.Errors, explain(rq.t, err))
	}
	now := c.now()
	var ops []string
	for _, cs := range list.GetCases() {
		p.Rows = append(p.Rows, row{C: cs, SLA: slaOf(cs, now)})
		ops = append(ops, cs.GetAssignee())
	}
	p.Names = c.namesWith(rq.ctx, rq.cl, ops)
	if t := list.GetNextPageToken(); t != "" {
		p.Next = boardLink(p.Filter.Link("page", t))
	}
	p.Back = boardLink(p.Filter.Link("page", p.Filter.Page))
	p.Days = 7
	if q.Get("days") == "30" {
		p.Days = 30
	}
	p.Days7, p.Days30 = withDays(p.Back, 7), withDays(p.Back, 30)
	// The reports' charts, from the ReportService with the visitor's
	// token: its authorisation (supervisors, their departments) applies.
	var cerr error
	p.Volume, p.SLA, cerr = reportpage.DailyCharts(rq.ctx, rq.cl.reports, rq.lang, c.cfg.Location, c.now(), p.Days, p.Filter.Department)
	if cerr != nil {
		p.ChartsErr = explain(rq.t, cerr)
	}
	if ops, err := rq.cl.directory.ListOperators(rq.ctx, &directoryv1.ListOperatorsRequest{Department: p.Filter.Department}); err == nil {
		p.Operators = ops.GetOperators()
	}
	p.Departments = p.Names.departmentChoices(nil, true)
	p.Mine = p.Names.departmentChoices(rq.v.Principal.Departments, rq.v.Principal.AllDepartments())
	c.render(w, http.StatusOK, "board.html", p)
}

// bulkAssign serves POST /console/board/assign: BatchAssignCases on the
// selected cases ("ids"), to "assignee" ("none" unassigns), with a reason.
func (c *Console) bulkAssign(w http.ResponseWriter, r *http.Request, rq *request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	resp, err := rq.cl.cases.BatchAssignCases(rq.ctx, &casesv1.BatchAssignCasesRequest{Ids: r.PostForm["ids"],
		Assignee: r.PostFormValue("assignee"), Reason: r.PostFormValue("reason")})
	c.batchDone(w, r, rq, resp, err)
}

// withDays is the board URL link with days set.
func withDays(link string, days int) string {
	u, _ := url.Parse(link)
	q := u.Query()
	q.Set("days", strconv.Itoa(days))
	u.RawQuery = q.Encode()
	return u.String()
}

// boardLink is the board's URL of a queue link (same query).
func boardLink(queueLink string) string {
	return BoardPath + strings.TrimPrefix(queueLink, Path+"/")
}

// boardBack is where a bulk action returns: the board with the filter it
// was posted from (the form's action carries the board's query), so the
// supervisor sees the same list without the cases the action moved out.
func boardBack(r *http.Request) string {
	q := r.URL.Query()
	if len(q) == 0 {
		return BoardPath
	}
	f := parseQueueFilter(q)
	return boardLink(f.Link("page", f.Page))
}

// bulkTransfer serves POST /console/board/transfer: BatchTransferCases.
func (c *Console) bulkTransfer(w http.ResponseWriter, r *http.Request, rq *request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	resp, err := rq.cl.cases.BatchTransferCases(rq.ctx, &casesv1.BatchTransferCasesRequest{Ids: r.PostForm["ids"],
		Department: r.PostFormValue("department"), Reason: r.PostFormValue("reason")})
	c.batchDone(w, r, rq, resp, err)
}

// batchDone goes back to the board; cases the batch could not change are
// listed as errors at the top.
func (c *Console) batchDone(w http.ResponseWriter, r *http.Request, rq *request, resp *casesv1.BatchCasesResponse, err error) {
	back := boardBack(r)
	if err != nil {
		c.fail(w, r, rq, back, err)
		return
	}
	var failed []string
	for _, res := range resp.GetResults() {
		if res.GetCode() != "" && res.GetCode() != "OK" {
			failed = append(failed, res.GetId()+": "+res.GetMessage())
		}
	}
	if len(failed) > 0 {
		u, _ := url.Parse(back)
		q := u.Query()
		q.Set("error", rq.t["err.batch"]+" "+strings.Join(failed, "; "))
		u.RawQuery = q.Encode()
		redirect(w, r, u.String())
		return
	}
	done(w, r, back, "batch")
}
