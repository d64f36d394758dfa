package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sportello/sportello/auth"
	"github.com/sportello/sportello/auth/session"
	"github.com/sportello/sportello/services/cases"
	"github.com/sportello/sportello/services/storage"
)

// The console benchmark (issue #7): the operator console's queue page
// (GET /console/, server-rendered HTML) over a PostgreSQL database with
// at least -console-open active cases, as an operator of one department
// and as a supervisor of all four, signed in with a web session.

const consoleRounds = 200

type consoleResult struct {
	data                       string // "full" or "lean"
	cases, active, activeStats int
	copySecs, indexSecs        float64
	pages                      []latencies
	server                     []latencies // the same requests, as the server's Server-Timing header reports them
	cpu                        []time.Duration
	explains                   []explainedQuery
}

// runConsole measures the queue pages over at least open active cases.
// data "full" is the queue benchmark's synthetic institute (about 14 % of
// the cases active, so about 7 times open cases in all); "lean" keeps
// three cases in four active (about 1.4 times open cases in all), which
// loads in a fraction of the time.
func runConsole(bin, pgDSN string, open int, data string) (consoleResult, error) {
	res := consoleResult{data: data}
	statuses, n := queueStatuses, open*100/13
	switch data {
	case "full":
	case "lean":
		statuses, n = leanStatuses, open*100/73
	default:
		return res, fmt.Errorf("-console-data %q: want full or lean", data)
	}
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "sportello-bench-console-")
	if err != nil {
		return res, err
	}
	defer os.RemoveAll(dir)
	dsn, drop, _, err := pgSchemaReuse(pgDSN, fmt.Sprintf("bench_console_%d", time.Now().UnixNano()), false)
	if err != nil {
		return res, err
	}
	defer drop()
	cfg := fmt.Sprintf("demo: true\nauth:\n  tokens:\n    - {name: bench, role: admin, sha256: %s}\n", auth.HashToken(token))
	srv, err := startServer(bin, dir, cfg, "--database-dsn", dsn, "--smtp-listen", "off")
	if err != nil {
		return res, err
	}
	srv.stop() // migrations and the demo directory
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return res, err
	}
	defer conn.Close(ctx)
	fmt.Printf("console: loading %d cases into PostgreSQL ...\n", n)
	if res.copySecs, res.indexSecs, err = loadCases(ctx, conn, n, time.Now().UTC(), statuses); err != nil {
		return res, err
	}
	if err := conn.QueryRow(ctx, `SELECT count(*), count(*) FILTER (WHERE status NOT IN ('resolved', 'closed')),
		count(*) FILTER (WHERE status NOT IN ('resolved', 'closed') AND department_id = 'statistics') FROM cases`).
		Scan(&res.cases, &res.active, &res.activeStats); err != nil {
		return res, err
	}
	fmt.Printf("console: %d cases, %d active\n", res.cases, res.active)

	// Sessions as the staff SSO callback would start them.
	db, err := storage.Open(ctx, dsn, storage.WithMaxOpenConns(2))
	if err != nil {
		return res, err
	}
	defer db.Close()
	sessions, err := session.New(session.Config{Store: db, Insecure: true})
	if err != nil {
		return res, err
	}
	cookie := func(p auth.Principal) (*http.Cookie, error) {
		w := httptest.NewRecorder()
		if _, err := sessions.Start(w, httptest.NewRequest(http.MethodGet, "http://127.0.0.1/", nil),
			session.Login{Principal: p, DisplayName: p.Name, Provider: "staff-sso"}); err != nil {
			return nil, err
		}
		for _, c := range w.Result().Cookies() {
			if c.Name == sessions.CookieName() {
				return c, nil
			}
		}
		return nil, fmt.Errorf("no session cookie")
	}
	operator, err := cookie(auth.Principal{Subject: "bench-console-op", Role: auth.RoleOperator, Departments: []string{"statistics"},
		Operator: "op-hist-07", Name: "Operatore banco"})
	if err != nil {
		return res, err
	}
	supervisor, err := cookie(auth.Principal{Subject: "bench-console-sup", Role: auth.RoleSupervisor,
		Departments: []string{"statistics", "communication", "it", "triage"}, Operator: "op-hist-08", Name: "Supervisore banco"})
	if err != nil {
		return res, err
	}

	if srv, err = startServer(bin, dir, cfg, "--database-dsn", dsn, "--smtp-listen", "off"); err != nil {
		return res, err
	}
	defer srv.stop()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
	for _, p := range []struct {
		title, query string
		who          *http.Cookie
		next         bool
	}{
		{"operator, my departments (statistics), nearest deadline first", "", operator, false},
		{"operator, next page (keyset cursor)", "", operator, true},
		{"operator, unassigned", "view=unassigned", operator, false},
		{"operator, due soon", "view=due", operator, false},
		{"operator, breached", "view=breached", operator, false},
		{"operator, mine", "view=mine", operator, false},
		{"operator, by priority", "order=priority+desc", operator, false},
		{"operator, newest first", "order=create_time+desc", operator, false},
		{"operator, e-mail channel only", "channel=email", operator, false},
		{"supervisor, four departments, nearest deadline first", "", supervisor, false},
		{"supervisor, four departments, unassigned", "view=unassigned", supervisor, false},
	} {
		cpu0, cpuErr := processCPU(srv.pid())
		l, st, err := measurePage(ctx, client, srv.base, p.title, p.query, p.who, p.next)
		if err != nil {
			return res, err
		}
		var perRequest time.Duration
		if cpu1, err := processCPU(srv.pid()); err == nil && cpuErr == nil {
			perRequest = (cpu1 - cpu0) / time.Duration(consoleRounds+1) // with the warm-up
		}
		fmt.Printf("console: %-60s p50 %v p99 %v (server %v, %v; CPU %v a request)\n", p.title, ms(l.p50), ms(l.p99), ms(st.p50), ms(st.p99), ms(perRequest))
		res.pages = append(res.pages, l)
		res.server = append(res.server, st)
		res.cpu = append(res.cpu, perRequest)
	}
	for _, e := range []struct {
		title string
		q     cases.Query
	}{
		{"Queue of one department (statistics), active, nearest deadline first", cases.Query{Departments: []string{"statistics"}, Status: cases.StatusActive, Order: cases.OrderSLADue, Limit: 51}},
		{"Queue of four departments, active, nearest deadline first", cases.Query{Departments: []string{"statistics", "communication", "it", "triage"}, Status: cases.StatusActive, Order: cases.OrderSLADue, Limit: 51}},
		{"Unassigned in one department, active, nearest deadline first", cases.Query{Departments: []string{"statistics"}, Status: cases.StatusActive, Assignee: cases.Unassigned, Order: cases.OrderSLADue, Limit: 51}},
	} {
		x, err := db.ExplainListCases(ctx, e.q, true)
		if err != nil {
			return res, err
		}
		res.explains = append(res.explains, explainedQuery{e.title, x})
	}
	return res, nil
}

var nextLinkRE = regexp.MustCompile(`href="(/console/\?[^"]*)" id="next-page"`)

// measurePage GETs the queue page rounds times, one at a time; with next,
// the page its "next page" link names.
func measurePage(ctx context.Context, client *http.Client, base, title, query string, who *http.Cookie, next bool) (latencies, latencies, error) {
	l, sl := latencies{name: title}, latencies{name: title}
	u := base + "/console/?" + query
	var serverTimes []time.Duration
	get := func(u string) (string, time.Duration, error) {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		req.AddCookie(who)
		t0 := time.Now()
		resp, err := client.Do(req)
		if err != nil {
			return "", 0, err
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		d := time.Since(t0)
		var dur float64
		if _, e := fmt.Sscanf(resp.Header.Get("Server-Timing"), "app;dur=%g", &dur); e == nil {
			serverTimes = append(serverTimes, time.Duration(dur*float64(time.Millisecond)))
		}
		if err == nil && resp.StatusCode != http.StatusOK {
			err = fmt.Errorf("%s: %d %.300s", u, resp.StatusCode, body)
		}
		return string(body), d, err
	}
	page, _, err := get(u) // warm-up
	if err != nil {
		return l, sl, err
	}
	if next {
		m := nextLinkRE.FindStringSubmatch(page)
		if m == nil || m[1] == "" {
			return l, sl, fmt.Errorf("%s: no next page link", title)
		}
		u = base + strings.ReplaceAll(m[1], "&amp;", "&")
	}
	serverTimes = serverTimes[:0]
	var ds []time.Duration
	rows := 0
	for i := 0; i < consoleRounds; i++ {
		page, d, err := get(u)
		if err != nil {
			return l, sl, err
		}
		ds = append(ds, d)
		rows += strings.Count(page, `data-case-id="`)
	}
	l.n = len(ds)
	l.p50, l.p95, l.p99, l.max = percentile(ds, 50), percentile(ds, 95), percentile(ds, 99), percentile(ds, 100)
	l.rows = float64(rows) / float64(l.n)
	sl.n, sl.rows = len(serverTimes), l.rows
	sl.p50, sl.p95, sl.p99, sl.max = percentile(serverTimes, 50), percentile(serverTimes, 95), percentile(serverTimes, 99), percentile(serverTimes, 100)
	return l, sl, nil
}

func (r consoleResult) report() string {
	var b strings.Builder
	fmt.Fprintf(&b, "Generated by `make bench` (cmd/sportello-bench) on %s.\n\n", time.Now().UTC().Format("2006-01-02 15:04 MST"))
	fmt.Fprintf(&b, "- Machine: %s\n", machine())
	fmt.Fprintf(&b, "- Command: `%s`\n", strings.Join(os.Args, " "))
	shape := "the synthetic institute of the queue benchmark (`-console-data full`: about 14 % of the cases active)"
	if r.data == "lean" {
		shape = "the synthetic institute with three cases in four active (`-console-data lean`: fewer settled cases to load, the same active ones)"
	}
	fmt.Fprintf(&b, "- Data: %d cases, **%d active** (not resolved nor closed; %d of them in statistics), %s; loaded by COPY in %.0f s, indexes rebuilt in %.0f s, then `VACUUM ANALYZE`.\n",
		r.cases, r.active, r.activeStats, shape, r.copySecs, r.indexSecs)
	fmt.Fprintf(&b, "- Client: one HTTP client on the same machine with a staff web session cookie, pages one at a time (%d rounds, after one warm-up); latency is the whole GET of the server-rendered page (session lookup, ListCases over the in-process gRPC connection with its interceptors, template), 50 cases a page.\n\n", consoleRounds)
	fmt.Fprintf(&b, "- Load average at the end of the run: %s (other work shares the two cores; latencies include waiting for a core).\n\n", loadAverage())
	b.WriteString("Server time is the console handler's own `Server-Timing` (session loaded, ListCases through the in-process gRPC connection and its interceptors, page rendered); client time is the whole GET as the client saw it.\n\n")
	b.WriteString("Server CPU a request is the server process's CPU time (user and system, from /proc) over the page's requests, divided by their number: it does not grow with the load average, unlike the latencies.\n\n")
	b.WriteString("| page | requests | rows | server CPU a request | server p50 | server p95 | server p99 | client p50 | client p99 | client max |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for i, l := range r.pages {
		st := r.server[i]
		fmt.Fprintf(&b, "| %s | %d | %.0f | %v | %v | %v | **%v** | %v | %v | %v |\n", l.name, l.n, l.rows, ms(r.cpu[i]), ms(st.p50), ms(st.p95), ms(st.p99), ms(l.p50), ms(l.p99), ms(l.max))
	}
	b.WriteString("\n#### Plans (`EXPLAIN (ANALYZE, BUFFERS)` of the queue's ListCases statements)\n")
	for _, e := range r.explains {
		fmt.Fprintf(&b, "\n%s:\n\n```sql\n%s\n```\n\n```\n%s\n```\n", e.title, e.SQL, e.Plan)
	}
	return b.String()
}

// processCPU is the user and system CPU time process pid has used, from
// /proc/<pid>/stat (fields 14 and 15, in clock ticks of 1/100 s, the
// USER_HZ Linux reports in /proc).
func processCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name (field 2) is in parentheses and may hold spaces.
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc/%d/stat: %q", pid, b)
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: %q", pid, b)
	}
	var utime, stime int64
	if _, err := fmt.Sscan(f[11], &utime); err != nil {
		return 0, err
	}
	if _, err := fmt.Sscan(f[12], &stime); err != nil {
		return 0, err
	}
	return time.Duration(utime+stime) * 10 * time.Millisecond, nil
}
