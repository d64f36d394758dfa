package main

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	casesv1 "github.com/sportello/sportello/api/sportello/cases/v1"
	directoryv1 "github.com/sportello/sportello/api/sportello/directory/v1"
	"github.com/sportello/sportello/auth"
	"github.com/sportello/sportello/services/cases"
	"github.com/sportello/sportello/services/search"
	"github.com/sportello/sportello/services/storage"
)

// The queue benchmark (issue #3): a PostgreSQL database with n cases, a
// real server, and the three things operators do all day measured over
// gRPC: open a queue page, search, claim the next case.

const (
	claimOperators = 16
	claimsEach     = 600 // 16 × 600 = 9,600 claims, below the capacity of 1,000 each
	queueRounds    = 200
)

func opToken(i int) string { return fmt.Sprintf("bench-operator-%02d-0123456789abcdef", i) }
func opID(i int) string    { return fmt.Sprintf("bench-op-%02d", i) }

type latencies struct {
	name               string
	n                  int
	p50, p95, p99, max time.Duration
	rows               float64 // mean rows returned
}

type queueResult struct {
	cases               int
	copySecs, indexSecs float64
	pages, searches     []latencies
	claims              int
	claimSecs           float64
	claimP50, claimP99  time.Duration
	claimStart          time.Time
	claimCPU            float64
	claimPGCPU          float64 // all PostgreSQL processes on this machine
	claimClientCPU      float64 // this load generator
	doubleClaims        int
	wrongAssignee       int
	overCapacity        int
	explains            []explainedQuery
	tableMB, indexMB    float64
}

type explainedQuery struct {
	title string
	storage.Explained
}

func runQueue(bin, pgDSN string, n int, reuse bool) (queueResult, error) {
	res := queueResult{cases: n}
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "sportello-bench-queue-")
	if err != nil {
		return res, err
	}
	defer os.RemoveAll(dir)

	schemaName := fmt.Sprintf("bench_queue_%d", time.Now().UnixNano())
	if reuse {
		schemaName = "bench_queue_reused"
	}
	dsn, drop, existed, err := pgSchemaReuse(pgDSN, schemaName, reuse)
	if err != nil {
		return res, err
	}
	if !reuse {
		defer drop()
	}

	var cfg strings.Builder
	fmt.Fprintf(&cfg, "demo: true\nauth:\n  tokens:\n    - {name: bench, role: admin, sha256: %s}\n", auth.HashToken(token))
	for i := 1; i <= claimOperators; i++ {
		fmt.Fprintf(&cfg, "    - {name: op%02d, role: operator, departments: [statistics], operator: %s, sha256: %s}\n", i, opID(i), auth.HashToken(opToken(i)))
	}
	admin := metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+token)

	if !existed {
		// First start: migrations, demo directory; then the bench operators
		// and manual assignment everywhere, so that no background assigner
		// competes with the claimers.
		srv, err := startServer(bin, dir, cfg.String(), "--database-dsn", dsn)
		if err != nil {
			return res, err
		}
		err = setupDirectory(admin, srv.base)
		srv.stop()
		if err != nil {
			return res, fmt.Errorf("directory setup: %w", err)
		}
		conn, err := pgx.Connect(ctx, dsn)
		if err != nil {
			return res, err
		}
		fmt.Printf("queue: loading %d cases into PostgreSQL ...\n", n)
		res.copySecs, res.indexSecs, err = loadCases(ctx, conn, n, time.Now().UTC(), queueStatuses)
		conn.Close(ctx)
		if err != nil {
			return res, err
		}
		fmt.Printf("queue: loaded in %.0f s, indexes rebuilt in %.0f s\n", res.copySecs, res.indexSecs)
	}
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return res, err
	}
	defer conn.Close(ctx)
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM cases").Scan(&res.cases); err != nil {
		return res, err
	}
	if err := conn.QueryRow(ctx, `SELECT pg_table_size('cases') / 1048576.0, pg_indexes_size('cases') / 1048576.0`).Scan(&res.tableMB, &res.indexMB); err != nil {
		return res, err
	}

	srv, err := startServer(bin, dir, cfg.String(), "--database-dsn", dsn)
	if err != nil {
		return res, err
	}
	defer srv.stop()
	gc, err := grpc.NewClient(strings.TrimPrefix(srv.base, "http://"), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return res, err
	}
	defer gc.Close()
	client := casesv1.NewCaseServiceClient(gc)

	// Queue pages: first page and the page after it, per department and
	// active status, nearest SLA deadline first.
	var pageReqs []namedReq
	for _, d := range []string{"statistics", "communication", "it", "triage"} {
		for _, s := range []string{"new", "open", "pending_citizen"} {
			pageReqs = append(pageReqs, namedReq{"page", &casesv1.ListCasesRequest{Department: d, Status: s, OrderBy: "sla_due", PageSize: 50}})
		}
	}
	first, err := measure(admin, client, "first page (department + status, by SLA due)", pageReqs, queueRounds, false)
	if err != nil {
		return res, err
	}
	next, err := measure(admin, client, "next page (keyset cursor)", pageReqs, queueRounds, true)
	if err != nil {
		return res, err
	}
	res.pages = []latencies{first, next}

	for _, s := range searchTerms(ctx, conn) {
		var hits int
		if err := conn.QueryRow(ctx, "SELECT count(*) FROM cases WHERE search_terms <> '' AND search_vector @@ plainto_tsquery('simple', $1)",
			strings.Join(search.Terms(s.query), " ")).Scan(&hits); err != nil {
			return res, err
		}
		title := fmt.Sprintf("search: %s (%q, %d matches)", s.title, s.query, hits)
		l, err := measure(admin, client, title, []namedReq{{title, &casesv1.ListCasesRequest{Query: s.query, OrderBy: "create_time desc", PageSize: 50}}}, queueRounds, false)
		if err != nil {
			return res, err
		}
		res.searches = append(res.searches, l)
	}

	var claimable int
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM cases WHERE department_id = 'statistics' AND assignee_id = ''
		AND status IN ('new', 'open')`).Scan(&claimable); err != nil {
		return res, err
	}
	if claimable < claimOperators*claimsEach {
		return res, fmt.Errorf("only %d claimable cases for %d claims: use -queue 700000 or more", claimable, claimOperators*claimsEach)
	}
	claimed, err := runClaims(ctx, client, srv, &res)
	if err != nil {
		return res, err
	}
	if err := checkClaims(ctx, conn, claimed, &res); err != nil {
		return res, err
	}

	db, err := storage.Open(ctx, dsn, storage.WithMaxOpenConns(2))
	if err != nil {
		return res, err
	}
	defer db.Close()
	res.explains, err = explainAll(ctx, db, conn)
	return res, err
}

func setupDirectory(ctx context.Context, base string) error {
	gc, err := grpc.NewClient(strings.TrimPrefix(base, "http://"), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return err
	}
	defer gc.Close()
	dir := directoryv1.NewDirectoryServiceClient(gc)
	depts, err := dir.ListDepartments(ctx, &directoryv1.ListDepartmentsRequest{})
	if err != nil {
		return err
	}
	for _, d := range depts.Departments {
		if _, err := dir.UpdateDepartment(ctx, &directoryv1.UpdateDepartmentRequest{
			Department: &directoryv1.Department{Id: d.Id, AssignmentPolicy: "manual"},
			UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"assignment_policy"}},
		}); err != nil {
			return fmt.Errorf("department %s: %w", d.Id, err)
		}
	}
	for i := 1; i <= claimOperators; i++ {
		if _, err := dir.CreateOperator(ctx, &directoryv1.CreateOperatorRequest{Operator: &directoryv1.Operator{
			Id: opID(i), DisplayName: fmt.Sprintf("Operatore %02d", i), Role: "operator", Presence: "online",
			Capacity: 1000, Departments: []string{"statistics"}, Languages: []string{"it", "en"},
		}}); err != nil {
			return fmt.Errorf("operator %d: %w", i, err)
		}
	}
	return nil
}

type namedReq struct {
	name string
	req  *casesv1.ListCasesRequest
}

// measure sends each request rounds times, one at a time; with next, it
// first fetches the request's first page and measures the second.
func measure(ctx context.Context, client casesv1.CaseServiceClient, name string, reqs []namedReq, rounds int, next bool) (latencies, error) {
	l := latencies{name: name}
	var ds []time.Duration
	total := 0
	for _, r := range reqs { // warm-up, and page tokens
		resp, err := client.ListCases(ctx, r.req)
		if err != nil {
			return l, fmt.Errorf("%s: %w", name, err)
		}
		if next {
			r.req.PageToken = resp.NextPageToken
		}
	}
	for i := 0; i < rounds; i++ {
		for _, r := range reqs {
			if next && r.req.PageToken == "" {
				continue // a queue with fewer than 50 cases has no next page
			}
			t0 := time.Now()
			resp, err := client.ListCases(ctx, r.req)
			if err != nil {
				return l, fmt.Errorf("%s: %w", name, err)
			}
			ds = append(ds, time.Since(t0))
			total += len(resp.Cases)
		}
	}
	if next {
		for _, r := range reqs {
			r.req.PageToken = ""
		}
	}
	l.n = len(ds)
	l.p50, l.p95, l.p99, l.max = percentile(ds, 50), percentile(ds, 95), percentile(ds, 99), percentile(ds, 100)
	if l.n > 0 {
		l.rows = float64(total) / float64(l.n)
	}
	return l, nil
}

type searchCase struct{ title, query string }

// searchTerms picks queries of different selectivity: vocabulary words
// in most or many cases, place names from about 1.5 % of the cases down to
// a few hundredths of a percent, a rare name from the loaded data, two
// words, and a word in none.
func searchTerms(ctx context.Context, conn *pgx.Conn) []searchCase {
	rare := "nomatch"
	vocab := map[string]bool{}
	for _, w := range vocabulary {
		vocab[w] = true
	}
	if rows, err := conn.Query(ctx, `SELECT split_part(description, ' ', -1) FROM cases WHERE description ~ ' [a-z]{6}$' LIMIT 50`); err == nil {
		for rows.Next() {
			var w string
			if rows.Scan(&w) == nil && !vocab[w] && rare == "nomatch" {
				rare = w
			}
		}
		rows.Close()
	}
	return []searchCase{
		{"frequent word", "dati"},
		{"common word", "glossario"},
		{"place, 3rd most named", places[2]},
		{"place, 30th", places[29]},
		{"place, 300th", places[299]},
		{"rare name", rare},
		{"two common words", "microdati censimento"},
		{"common word + 300th place", "dati " + places[299]},
		{"no match", "zzzyyx"},
	}
}

// runClaims has the operators claim concurrently and returns who was told
// which case.
func runClaims(ctx context.Context, client casesv1.CaseServiceClient, srv *serverProc, res *queueResult) (map[string]string, error) {
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		ds   []time.Duration
		errs []error
	)
	claimed := map[string]string{}
	cpu0, pg0, self0 := cpuSeconds(srv.pid()), postgresCPUSeconds(), cpuSeconds(os.Getpid())
	start := time.Now()
	res.claimStart = start
	for i := 1; i <= claimOperators; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			octx := metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+opToken(i))
			for k := 0; k < claimsEach; k++ {
				t0 := time.Now()
				c, err := client.ClaimNextCase(octx, &casesv1.ClaimNextCaseRequest{Department: "statistics"})
				d := time.Since(t0)
				mu.Lock()
				if err != nil {
					errs = append(errs, err)
					mu.Unlock()
					return
				}
				ds = append(ds, d)
				if _, dup := claimed[c.Id]; dup {
					res.doubleClaims++
				}
				claimed[c.Id] = opID(i)
				mu.Unlock()
			}
		}(i)
	}
	wg.Wait()
	res.claimSecs = time.Since(start).Seconds()
	res.claimCPU = cpuSeconds(srv.pid()) - cpu0
	res.claimPGCPU = postgresCPUSeconds() - pg0
	res.claimClientCPU = cpuSeconds(os.Getpid()) - self0
	if len(errs) > 0 {
		return nil, fmt.Errorf("%d claims failed, first: %w", len(errs), errs[0])
	}
	res.claims = len(ds)
	res.claimP50, res.claimP99 = percentile(ds, 50), percentile(ds, 99)
	return claimed, nil
}

// checkClaims verifies in the database what the claimers were told: each
// case assigned once, to the operator who got it, and nobody over capacity.
func checkClaims(ctx context.Context, conn *pgx.Conn, claimed map[string]string, res *queueResult) error {
	ids := make([]string, 0, len(claimed))
	for id := range claimed {
		ids = append(ids, id)
	}
	rows, err := conn.Query(ctx, `SELECT id::text, assignee_id FROM cases WHERE id = ANY($1::uuid[])`, ids)
	if err != nil {
		return err
	}
	for rows.Next() {
		var id, assignee string
		if err := rows.Scan(&id, &assignee); err != nil {
			return err
		}
		if claimed[id] != assignee {
			res.wrongAssignee++
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	var dup int
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM (SELECT case_id FROM case_events
		WHERE type = 'assigned' AND case_id = ANY($1::uuid[]) AND created_at >= $2 GROUP BY case_id HAVING count(*) > 1) d`,
		ids, res.claimStart.Add(-time.Second)).Scan(&dup); err != nil {
		return err
	}
	res.doubleClaims += dup
	return conn.QueryRow(ctx, `SELECT count(*) FROM operators WHERE id LIKE 'bench-op-%' AND open_cases > capacity`).Scan(&res.overCapacity)
}

func explainAll(ctx context.Context, db *storage.DB, conn *pgx.Conn) ([]explainedQuery, error) {
	now := time.Now().UTC()
	var cursor cases.Cursor
	if err := conn.QueryRow(ctx, `SELECT id::text, sla_due_at FROM cases WHERE department_id = 'statistics' AND status = 'open'
		ORDER BY sla_due_at, id OFFSET 49 LIMIT 1`).Scan(&cursor.ID, &cursor.SLADueAt); err != nil {
		return nil, err
	}
	type q struct {
		title string
		q     cases.Query
	}
	qs := []q{
		{"Queue page: department + status, by SLA due", cases.Query{Departments: []string{"statistics"}, Status: cases.StatusOpen, Order: cases.OrderSLADue, Limit: 50, Now: now}},
		{"Next queue page (keyset cursor)", cases.Query{Departments: []string{"statistics"}, Status: cases.StatusOpen, Order: cases.OrderSLADue, Limit: 50, After: &cursor, Now: now}},
	}
	for _, st := range searchTerms(ctx, conn) {
		qs = append(qs, q{fmt.Sprintf("Search, %s (%q), newest first", st.title, st.query), cases.Query{Text: st.query, Order: cases.OrderCreatedDesc, Limit: 50, Now: now}})
	}
	qs = append(qs, q{"Search within a queue: department + status + common word, by SLA due",
		cases.Query{Departments: []string{"statistics"}, Status: cases.StatusOpen, Text: "glossario", Order: cases.OrderSLADue, Limit: 50, Now: now}})
	var out []explainedQuery
	for _, x := range qs {
		e, err := db.ExplainListCases(ctx, x.q, true)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", x.title, err)
		}
		out = append(out, explainedQuery{x.title, e})
	}
	e, err := db.ExplainClaim(ctx, []string{"statistics"}, true)
	if err != nil {
		return nil, fmt.Errorf("claim: %w", err)
	}
	out = append(out, explainedQuery{"ClaimNextCase's selection", e})
	for _, s := range storage.SLAScans {
		e, err := db.ExplainSLAScan(ctx, s, now, 200, true)
		if err != nil {
			return nil, fmt.Errorf("SLA scan: %w", err)
		}
		out = append(out, explainedQuery{"SLA timer scan (" + s + ")", e})
	}
	return out, nil
}

func (r queueResult) report() string {
	var b strings.Builder
	fmt.Fprintf(&b, "Generated by `make bench` (cmd/sportello-bench) on %s.\n\n", time.Now().UTC().Format("2006-01-02 15:04 MST"))
	fmt.Fprintf(&b, "- Machine: %s\n", machine())
	fmt.Fprintf(&b, "- Command: `%s`\n", strings.Join(os.Args, " "))
	fmt.Fprintf(&b, "- Data: %d cases (cases table %.0f MB, its indexes %.0f MB) over three years; 14 %% active (new 3 %%, open 5 %%, pending 3 %%, on hold 3 %%); statistics 50 %%, communication 25 %%, IT 20 %%, triage 5 %%; bodies of 20–60 words drawn from a Zipf distribution over a 260-word vocabulary (every word in 2–97 %% of the cases), half naming one of 5,000 places (Zipf: from 5 %% of the cases down to a few), 30 %% a rare name. Loaded by COPY", r.cases, r.tableMB, r.indexMB)
	if r.copySecs > 0 {
		fmt.Fprintf(&b, " in %.0f s, indexes rebuilt in %.0f s", r.copySecs, r.indexSecs)
	}
	b.WriteString(", then `VACUUM ANALYZE`.\n")
	fmt.Fprintf(&b, "- Client: one gRPC client on the same machine, requests one at a time (%d rounds), as an administrator (no department scoping); latency is the whole RPC: authentication, query, protobuf.\n\n", queueRounds)
	b.WriteString("| query | requests | rows | p50 | p95 | p99 | max |\n|---|---:|---:|---:|---:|---:|---:|\n")
	for _, l := range append(append([]latencies{}, r.pages...), r.searches...) {
		fmt.Fprintf(&b, "| %s | %d | %.0f | %v | %v | %v | %v |\n", l.name, l.n, l.rows, ms(l.p50), ms(l.p95), ms(l.p99), ms(l.max))
	}
	fmt.Fprintf(&b, "\n**ClaimNextCase**: %d operators, %d claims each, concurrently, department statistics: **%d claims in %.2f s = %.0f claims/s**; per claim p50 %v, p99 %v; CPU per claim: server %.2f ms, PostgreSQL %.2f ms, load generator %.2f ms. Double claims: %d; cases whose assignee is not the operator told: %d; operators over capacity: %d.\n",
		claimOperators, claimsEach, r.claims, r.claimSecs, float64(r.claims)/r.claimSecs, ms(r.claimP50), ms(r.claimP99), r.claimCPU*1000/float64(max(r.claims, 1)), r.claimPGCPU*1000/float64(max(r.claims, 1)), r.claimClientCPU*1000/float64(max(r.claims, 1)), r.doubleClaims, r.wrongAssignee, r.overCapacity)
	b.WriteString("\n#### Plans (`EXPLAIN (ANALYZE, BUFFERS)` of the statements the store sends, after the run)\n")
	for _, e := range r.explains {
		fmt.Fprintf(&b, "\n%s:\n\n```sql\n%s\n```\n\n```\n%s\n```\n", e.title, e.SQL, e.Plan)
	}
	return b.String()
}

// postgresCPUSeconds sums the CPU time of the processes named postgres
// (the server and its backends; backends that ended are not counted, and
// the pool keeps its connections).
func postgresCPUSeconds() float64 {
	ents, _ := os.ReadDir("/proc")
	total := 0.0
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if comm, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid)); err == nil && strings.TrimSpace(string(comm)) == "postgres" {
			total += cpuSeconds(pid)
		}
	}
	return total
}

func ms(d time.Duration) string {
	return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond))
}
