// Package reportpage serves the supervisors' reports page (GET
// /supervisor/reports): incoming volume by channel and SLA compliance over
// the last 7 or 30 days as accessible SVG charts, and the performance,
// backlog and operator tables, with links to the CSV exports. It is a
// client of the ReportService with the visitor's own session token, so it
// shows exactly what the API would show them. Italian by default, English
// available.
package reportpage

import (
	"context"
	"embed"
	"fmt"
	"github.com/sportello/sportello/web/language"
	"html/template"
	"log/slog"
	"math"
	"net/http"
	"net/url"
	"slices"
	"sync/atomic"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	reportsv1 "github.com/sportello/sportello/api/sportello/reports/v1"
	"github.com/sportello/sportello/auth"
	"github.com/sportello/sportello/web"
	"github.com/sportello/sportello/web/charts"
)

// Path is where the page is served.
const Path = "/supervisor/reports"

//go:embed templates/*.html
var templates embed.FS

// Config is what the page needs.
type Config struct {
	// Visitor returns the signed-in visitor of r, if any.
	Visitor func(r *http.Request) (web.Visitor, bool)
	// LoginPath is where a visitor without a session signs in.
	LoginPath string
	// Location is the time zone of the days shown.
	Location *time.Location
	Log      *slog.Logger
	// Now is the clock; nil is time.Now.
	Now func() time.Time
}

// Page is the reports page.
type Page struct {
	Config
	tmpl   *template.Template
	client atomic.Pointer[reportsv1.ReportServiceClient]
}

// New returns the page; SetClient must be called before it serves.
func New(cfg Config) *Page {
	if cfg.Location == nil {
		cfg.Location = time.UTC
	}
	return &Page{Config: cfg, tmpl: template.Must(template.New("").ParseFS(templates, "templates/*.html"))}
}

// SetClient gives the page its ReportService client (the server's
// in-process connection, made after the page).
func (p *Page) SetClient(c reportsv1.ReportServiceClient) { p.client.Store(&c) }

type row struct {
	Cells []string
}

type view struct {
	Lang, OtherLang  string
	T                map[string]string
	Days             int
	Department       string
	Departments      []string
	Volume, SLA      template.HTML
	Performance      []row
	Backlog          []row
	BacklogHead      []string
	Operators        []row
	CSV              map[string]string
	Message          string
	From, To         string
	ToggleLang, Self string
}

func (p *Page) now() time.Time {
	if p.Now != nil {
		return p.Now()
	}
	return time.Now()
}

// ServeHTTP serves GET /supervisor/reports?days=7|30&department=&lang=.
func (p *Page) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	lang := language.Of(r)
	t := texts[lang]
	v, ok := web.Visitor{}, false
	if p.Visitor != nil {
		v, ok = p.Visitor(r)
	}
	if !ok {
		http.Redirect(w, r, p.LoginPath, http.StatusSeeOther)
		return
	}
	role := v.Principal.Role
	if role != auth.RoleSupervisor && role != auth.RoleAdmin {
		p.render(w, http.StatusForbidden, view{Lang: lang, T: t, Message: t["forbidden"]})
		return
	}
	days := 7
	if r.URL.Query().Get("days") == "30" {
		days = 30
	}
	dept := r.URL.Query().Get("department")
	depts := slices.Clone(v.Principal.Departments)
	if dept != "" && role != auth.RoleAdmin && !slices.Contains(depts, dept) {
		p.render(w, http.StatusForbidden, view{Lang: lang, T: t, Message: t["forbiddenDept"]})
		return
	}
	if dept != "" && !slices.Contains(depts, dept) {
		depts = append(depts, dept)
	}
	slices.Sort(depts)

	// Whole days in the administration's time zone, today included.
	now := p.now().In(p.Location)
	y, m, d := now.Date()
	from := time.Date(y, m, d-days+1, 0, 0, 0, 0, p.Location)
	cp := p.client.Load()
	if cp == nil {
		http.Error(w, t["unavailable"], http.StatusServiceUnavailable)
		return
	}
	c := *cp
	ctx := metadata.AppendToOutgoingContext(r.Context(), "authorization", "Bearer "+v.Token)
	start, end := timestamppb.New(from), timestamppb.New(now)
	vw := view{Lang: lang, T: t, Days: days, Department: dept, Departments: depts,
		From: from.Format("02/01/2006"), To: now.Format("02/01/2006"), CSV: map[string]string{}}
	q := url.Values{"start_time": {from.UTC().Format(time.RFC3339)}, "end_time": {now.UTC().Format(time.RFC3339)}}
	if dept != "" {
		q.Set("department", dept)
	}
	for _, rep := range []string{"volume", "performance", "backlog", "operators"} {
		vw.CSV[rep] = "/v1/reports/" + rep + ":csv?" + q.Encode()
	}
	other := "en"
	if lang == "en" {
		other = "it"
	}
	self := url.Values{"days": {fmt.Sprint(days)}, "lang": {other}}
	if dept != "" {
		self.Set("department", dept)
	}
	vw.OtherLang, vw.ToggleLang = other, Path+"?"+self.Encode()

	vol, err := c.GetVolumeReport(ctx, &reportsv1.GetVolumeReportRequest{StartTime: start, EndTime: end, Department: dept,
		Granularity: reportsv1.Granularity_GRANULARITY_DAY})
	if err != nil {
		p.fail(w, r, vw, err)
		return
	}
	perf, err := c.GetPerformanceReport(ctx, &reportsv1.GetPerformanceReportRequest{StartTime: start, EndTime: end, Department: dept})
	if err != nil {
		p.fail(w, r, vw, err)
		return
	}
	backlog, err := c.GetBacklogReport(ctx, &reportsv1.GetBacklogReportRequest{Department: dept})
	if err != nil {
		p.fail(w, r, vw, err)
		return
	}
	ops, err := c.GetOperatorReport(ctx, &reportsv1.GetOperatorReportRequest{StartTime: start, EndTime: end, Department: dept})
	if err != nil {
		p.fail(w, r, vw, err)
		return
	}
	vw.Volume, vw.SLA = p.charts(t, from, days, vol)
	vw.Performance = performanceRows(t, perf)
	for _, b := range backlog.GetDepartments() {
		cells := []string{b.GetDepartment()}
		for _, n := range b.GetCounts() {
			cells = append(cells, fmt.Sprint(n))
		}
		vw.Backlog = append(vw.Backlog, row{append(cells, fmt.Sprint(b.GetTotal()))})
	}
	for _, a := range backlog.GetAgeBuckets() {
		vw.BacklogHead = append(vw.BacklogHead, t["age."+a])
	}
	for _, o := range ops.GetOperators() {
		vw.Operators = append(vw.Operators, row{[]string{o.GetOperator(), o.GetDepartment(), fmt.Sprint(o.GetHandled()), fmt.Sprint(o.GetOpen())}})
	}
	p.render(w, http.StatusOK, vw)
}

func (p *Page) fail(w http.ResponseWriter, r *http.Request, vw view, err error) {
	code := http.StatusServiceUnavailable
	vw.Message = vw.T["unavailable"]
	if status.Code(err) == codes.PermissionDenied {
		code, vw.Message = http.StatusForbidden, vw.T["forbiddenDept"]
	} else if p.Log != nil {
		p.Log.ErrorContext(r.Context(), "web: reports", "err", err)
	}
	p.render(w, code, vw)
}

// charts draws the volume by channel and the SLA compliance per day.
func (p *Page) charts(t map[string]string, from time.Time, days int, vol *reportsv1.VolumeReport) (template.HTML, template.HTML) {
	return drawCharts(t, p.Location, from, days, vol)
}

// DailyCharts are the page's two charts — cases opened per day by
// channel, and the share of first responses and resolutions within their
// SLA per day — over the last days whole days in loc up to now (today
// included), for department ("" for all the caller's), drawn from
// c.GetVolumeReport called with ctx (its credentials: the ReportService's
// own authorisation applies). The operator console's supervisor board
// shows them too. lang picks the texts ("it" or "en").
func DailyCharts(ctx context.Context, c reportsv1.ReportServiceClient, lang string, loc *time.Location, now time.Time, days int,
	department string) (volume, sla template.HTML, err error) {
	if loc == nil {
		loc = time.UTC
	}
	t := texts[lang]
	if t == nil {
		t = texts["it"]
	}
	now = now.In(loc)
	y, m, d := now.Date()
	from := time.Date(y, m, d-days+1, 0, 0, 0, 0, loc)
	vol, err := c.GetVolumeReport(ctx, &reportsv1.GetVolumeReportRequest{StartTime: timestamppb.New(from), EndTime: timestamppb.New(now),
		Department: department, Granularity: reportsv1.Granularity_GRANULARITY_DAY})
	if err != nil {
		return "", "", err
	}
	volume, sla = drawCharts(t, loc, from, days, vol)
	return volume, sla, nil
}

func drawCharts(t map[string]string, loc *time.Location, from time.Time, days int, vol *reportsv1.VolumeReport) (template.HTML, template.HTML) {
	labels := make([]string, days)
	index := map[time.Time]int{}
	for i := range days {
		day := time.Date(from.Year(), from.Month(), from.Day()+i, 0, 0, 0, 0, loc)
		labels[i] = day.Format("02/01")
		index[day.UTC()] = i
	}
	byChannel := map[string][]float64{}
	var channels []string
	frMet, frTot, resMet, resTot := make([]float64, days), make([]float64, days), make([]float64, days), make([]float64, days)
	for _, b := range vol.GetBuckets() {
		i, ok := index[b.GetStartTime().AsTime().UTC()]
		if !ok {
			continue
		}
		ch := b.GetChannel()
		if byChannel[ch] == nil {
			byChannel[ch] = make([]float64, days)
			channels = append(channels, ch)
		}
		byChannel[ch][i] += float64(b.GetCreated())
		frMet[i] += float64(b.GetFirstResponseSla().GetMet())
		frTot[i] += float64(b.GetFirstResponseSla().GetTotal())
		resMet[i] += float64(b.GetResolutionSla().GetMet())
		resTot[i] += float64(b.GetResolutionSla().GetTotal())
	}
	slices.Sort(channels)
	total := 0.0
	var series []charts.Series
	for _, ch := range channels {
		name := t["channel."+ch]
		if name == "" {
			name = ch
		}
		series = append(series, charts.Series{Name: name, Values: byChannel[ch]})
		for _, v := range byChannel[ch] {
			total += v
		}
	}
	volume := charts.Bar(charts.Chart{ID: "volume", Title: fmt.Sprintf(t["volumeTitle"], days), LabelHeader: t["day"],
		Desc: fmt.Sprintf(t["volumeDesc"], int(total), len(channels)), Labels: labels, Series: series,
		Format: func(v float64) string { return fmt.Sprint(int(v)) }})
	pct := func(met, tot []float64) []float64 {
		out := make([]float64, days)
		for i := range out {
			out[i] = math.NaN()
			if tot[i] > 0 {
				out[i] = 100 * met[i] / tot[i]
			}
		}
		return out
	}
	sum := func(v []float64) (s float64) {
		for _, x := range v {
			s += x
		}
		return s
	}
	overall := func(met, tot []float64) string {
		if sum(tot) == 0 {
			return "–"
		}
		return fmt.Sprintf("%.0f %%", 100*sum(met)/sum(tot))
	}
	sla := charts.Line(charts.Chart{ID: "sla", Title: fmt.Sprintf(t["slaTitle"], days), LabelHeader: t["day"], Max: 100, Missing: "–",
		Desc:   fmt.Sprintf(t["slaDesc"], overall(frMet, frTot), overall(resMet, resTot)),
		Labels: labels, Series: []charts.Series{{Name: t["firstResponse"], Values: pct(frMet, frTot)}, {Name: t["resolution"], Values: pct(resMet, resTot)}},
		Format: func(v float64) string { return fmt.Sprintf("%.0f %%", v) }})
	return volume, sla
}

func performanceRows(t map[string]string, perf *reportsv1.PerformanceReport) []row {
	all := append([]*reportsv1.DepartmentPerformance{perf.GetTotal()}, perf.GetDepartments()...)
	out := make([]row, 0, len(all))
	for _, d := range all {
		name := d.GetDepartment()
		if name == "" {
			name = t["total"]
		}
		out = append(out, row{[]string{name, fmt.Sprint(d.GetCreated()),
			hours(d.GetFirstResponse().GetCount(), d.GetFirstResponse().GetMedianSeconds()), hours(d.GetFirstResponse().GetCount(), d.GetFirstResponse().GetP90Seconds()),
			hours(d.GetResolution().GetCount(), d.GetResolution().GetMedianSeconds()), hours(d.GetResolution().GetCount(), d.GetResolution().GetP90Seconds()),
			rate(d.GetFirstResponseSla()), rate(d.GetResolutionSla()), reopen(d)}})
	}
	return out
}

// hours shows working seconds as hours and minutes ("2 h 05"), "–" when
// nothing was measured.
func hours(n int32, s int64) string {
	if n == 0 {
		return "–"
	}
	return fmt.Sprintf("%d h %02d", s/3600, s%3600/60)
}

func rate(c *reportsv1.Compliance) string {
	if c == nil || c.Rate == nil {
		return "–"
	}
	return fmt.Sprintf("%.0f %% (%d/%d)", 100*c.GetRate(), c.GetMet(), c.GetTotal())
}

func reopen(d *reportsv1.DepartmentPerformance) string {
	if d.ReopenRate == nil {
		return "–"
	}
	return fmt.Sprintf("%.0f %% (%d/%d)", 100*d.GetReopenRate(), d.GetReopened(), d.GetResolved())
}

func (p *Page) render(w http.ResponseWriter, code int, v view) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", "default-src 'self'; style-src 'self' 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	if err := p.tmpl.ExecuteTemplate(w, "reports.html", v); err != nil && p.Log != nil {
		p.Log.Error("web: render reports", "err", err)
	}
}
