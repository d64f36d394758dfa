// Command sportello-bench measures the web-form path end to end: it starts
// a real `sportello serve` process, posts N submissions over HTTP at
// concurrency C, and polls ListCases over gRPC until every submission is a
// case. It reports accepted/s, visible/s, POST-to-visible latency, the
// server's CPU time and peak RSS, and writes a Markdown report.
package main

import (
	"bufio"
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sportello/sportello/auth"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"

	casesv1 "github.com/sportello/sportello/api/sportello/cases/v1"
)

const token = "bench-admin-token-0123456789abcdef"

func main() {
	var (
		server      = flag.String("server", "./bin/sportello", "sportello binary")
		n           = flag.Int("n", 20000, "submissions per run")
		cs          = flag.String("c", "16,64,256", "comma-separated concurrent HTTP clients, one run each")
		control     = flag.Bool("control", true, "also run SQLite with group commit off (nats.publish_batch: 1) at the middle concurrency")
		out         = flag.String("out", "", "Markdown report: replaces the part between the bench markers, or writes the file")
		backends    = flag.String("backends", "sqlite,postgres", "comma-separated: sqlite, postgres")
		pgDSN       = flag.String("postgres", firstEnv("SPORTELLO_BENCH_POSTGRES_DSN", "SPORTELLO_TEST_POSTGRES_DSN"), "PostgreSQL DSN (postgres://...) for the postgres run")
		runs        = flag.String("runs", "intake,queue,email,reports,cti", "comma-separated: intake (web form to case), queue (queue pages, search and claims over -queue cases; needs -postgres), email (SMTP to case), reports (report RPCs over -reports-n cases; needs -postgres), surveys (survey results over -surveys responses; needs -postgres), console (operator console queue pages over -console-open active cases; needs -postgres), cti (call-centre webhook: -cti-n signed calls with screen pop at each -cti-c; SQLite, and PostgreSQL with -postgres)")
		reportsN    = flag.Int("reports-n", 1_000_000, "cases in the reports benchmark's PostgreSQL database")
		reportsR    = flag.Bool("reports-reuse", false, "keep the reports benchmark's schema (bench_reports_reused) and reuse it when it exists")
		emailN      = flag.Int("email-n", 10_000, "messages in the e-mail benchmark")
		emailC      = flag.Int("email-c", 8, "concurrent SMTP clients in the e-mail benchmark")
		queueN      = flag.Int("queue", 1_000_000, "cases in the queue benchmark's PostgreSQL database")
		surveysN    = flag.Int("surveys", 200_000, "responses in the survey benchmark's PostgreSQL database (run \"surveys\")")
		consoleN    = flag.Int("console-open", 100_000, "active cases in the console benchmark's PostgreSQL database (about 7 times as many cases in all with -console-data full, 1.4 times with lean)")
		consoleData = flag.String("console-data", "full", "the console benchmark's data: full (the queue benchmark's institute, about 14 % of the cases active) or lean (three cases in four active: the same active cases, a fraction of the load time)")
		reuse       = flag.Bool("queue-reuse", false, "keep the queue benchmark's schema (bench_queue_reused) and reuse it when it exists, instead of loading a fresh one")
	)
	flag.Parse()
	want := map[string]bool{}
	for _, r := range strings.Split(*runs, ",") {
		want[strings.TrimSpace(r)] = true
	}
	if want["queue"] {
		if *pgDSN == "" {
			fmt.Fprintln(os.Stderr, "skipping the queue benchmark: set -postgres or SPORTELLO_BENCH_POSTGRES_DSN")
		} else {
			r, err := runQueue(*server, *pgDSN, *queueN, *reuse)
			if err != nil {
				fmt.Fprintf(os.Stderr, "queue: %v\n", err)
				os.Exit(1)
			}
			rep := r.report()
			fmt.Println(rep)
			if *out != "" {
				if err := writeReport(*out, "bench-queue", rep); err != nil {
					fmt.Fprintln(os.Stderr, err)
					os.Exit(1)
				}
			}
		}
	}
	if want["surveys"] {
		if err := benchSurveys(*server, *pgDSN, *surveysN, *out); err != nil {
			fmt.Fprintf(os.Stderr, "surveys: %v\n", err)
			os.Exit(1)
		}
	}
	if want["reports"] {
		if *pgDSN == "" {
			fmt.Fprintln(os.Stderr, "skipping the reports benchmark: set -postgres or SPORTELLO_BENCH_POSTGRES_DSN")
		} else {
			r, err := runReports(*server, *pgDSN, *reportsN, *reportsR)
			if err != nil {
				fmt.Fprintf(os.Stderr, "reports: %v\n", err)
				os.Exit(1)
			}
			rep := r.report()
			fmt.Println(rep)
			if *out != "" {
				if err := writeReport(*out, "bench-reports", rep); err != nil {
					fmt.Fprintln(os.Stderr, err)
					os.Exit(1)
				}
			}
		}
	}
	if want["console"] {
		if *pgDSN == "" {
			fmt.Fprintln(os.Stderr, "skipping the console benchmark: set -postgres or SPORTELLO_BENCH_POSTGRES_DSN")
		} else {
			r, err := runConsole(*server, *pgDSN, *consoleN, *consoleData)
			if err != nil {
				fmt.Fprintf(os.Stderr, "console: %v\n", err)
				os.Exit(1)
			}
			rep := r.report()
			fmt.Println(rep)
			if *out != "" {
				if err := writeReport(*out, "bench-console", rep); err != nil {
					fmt.Fprintln(os.Stderr, err)
					os.Exit(1)
				}
			}
		}
	}
	if want["cti"] {
		if err := benchCTI(*server, *pgDSN, *out); err != nil {
			fmt.Fprintf(os.Stderr, "cti: %v\n", err)
			os.Exit(1)
		}
	}
	if want["email"] {
		r, err := runEmail(*server, *emailN, *emailC)
		if err != nil {
			fmt.Fprintf(os.Stderr, "email: %v\n", err)
			os.Exit(1)
		}
		rep := r.report()
		fmt.Println(rep)
		if *out != "" {
			if err := writeReport(*out, "bench-email", rep); err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(1)
			}
		}
	}
	if !want["intake"] {
		return
	}
	var conc []int
	for _, f := range strings.Split(*cs, ",") {
		v, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || v < 1 {
			fmt.Fprintf(os.Stderr, "bad -c value %q\n", f)
			os.Exit(2)
		}
		conc = append(conc, v)
	}
	type plan struct {
		backend string
		c       int
		batch   int
	}
	var plans []plan
	for _, b := range strings.Split(*backends, ",") {
		b = strings.TrimSpace(b)
		if b == "postgres" && *pgDSN == "" {
			fmt.Fprintln(os.Stderr, "skipping postgres: set -postgres or SPORTELLO_BENCH_POSTGRES_DSN")
			continue
		}
		for _, c := range conc {
			plans = append(plans, plan{b, c, 0})
		}
	}
	if *control {
		plans = append(plans, plan{"sqlite", conc[len(conc)/2], 1})
	}
	var results []result
	for _, p := range plans {
		r, err := runOne(p.backend, *server, *pgDSN, *n, p.c, p.batch)
		if err != nil {
			fmt.Fprintf(os.Stderr, "%s c=%d: %v\n", p.backend, p.c, err)
			os.Exit(1)
		}
		fmt.Println(r.line())
		results = append(results, r)
	}
	if *out != "" {
		if err := writeReport(*out, "bench", report(results, *n)); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}
}

// writeReport replaces the part of path between the markers of section
// ("bench" for intake, "bench-queue" for the queue), keeping the prose
// around them; without markers it appends the section.
func writeReport(path, section, generated string) error {
	beginMarker, endMarker := "<!-- "+section+":begin -->", "<!-- "+section+":end -->"
	generated = beginMarker + "\n" + generated + endMarker
	old, err := os.ReadFile(path)
	if err == nil {
		s := string(old)
		if i, j := strings.Index(s, beginMarker), strings.Index(s, endMarker); i >= 0 && j > i {
			return os.WriteFile(path, []byte(s[:i]+generated+s[j+len(endMarker):]), 0o644)
		}
	}
	if err != nil {
		old = []byte("# Benchmarks\n")
	}
	return os.WriteFile(path, append(old, []byte("\n"+generated+"\n")...), 0o644)
}

func firstEnv(names ...string) string {
	for _, n := range names {
		if v := os.Getenv(n); v != "" {
			return v
		}
	}
	return ""
}

type result struct {
	backend                 string
	batch                   int // nats.publish_batch; 0 is the default
	n, c                    int
	acceptSecs, visibleSecs float64
	p50, p99, acceptP99     time.Duration
	cpuSecs                 float64
	peakRSSMB               float64
	meanBatch, meanTxMs     float64
	txCount, publishCount   float64
	relayedAtVisible        float64 // case events on CASE_EVENTS when the last case became visible
	failures                int
}

func (r result) line() string {
	return fmt.Sprintf("%-8s %s n=%d c=%d  accepted %.0f/s  visible %.0f/s  POST→visible p50 %v p99 %v  (202 p99 %v)  server CPU %.1fs  peak RSS %.0f MB  mean batch %.1f  tx %0.f (mean %.2f ms)  events relayed %.0f  failures %d",
		r.backend, r.variant(), r.n, r.c, float64(r.n)/r.acceptSecs, float64(r.n)/r.visibleSecs, r.p50.Round(time.Millisecond), r.p99.Round(time.Millisecond),
		r.acceptP99.Round(time.Millisecond), r.cpuSecs, r.peakRSSMB, r.meanBatch, r.txCount, r.meanTxMs, r.relayedAtVisible, r.failures)
}

func (r result) variant() string {
	if r.batch == 1 {
		return "group commit off"
	}
	return "group commit"
}

func runOne(backend, bin, pgDSN string, n, c, batch int) (result, error) {
	res := result{backend: backend, n: n, c: c, batch: batch}
	dir, err := os.MkdirTemp("", "sportello-bench-")
	if err != nil {
		return res, err
	}
	defer os.RemoveAll(dir)
	cfg := fmt.Sprintf("demo: true\nnats:\n  publish_batch: %d\nauth:\n  tokens:\n    - {name: bench, role: admin, sha256: %s}\n", batch, auth.HashToken(token))
	var args []string
	if backend == "postgres" {
		schema, drop, err := pgSchema(pgDSN, fmt.Sprintf("bench_%d", time.Now().UnixNano()))
		if err != nil {
			return res, err
		}
		defer drop()
		args = append(args, "--database-dsn", schema)
	}
	srv, err := startServer(bin, dir, cfg, args...)
	if err != nil {
		return res, err
	}
	defer srv.stop()
	base := srv.base

	conn, err := grpc.NewClient(strings.TrimPrefix(base, "http://"), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return res, err
	}
	defer conn.Close()
	client := casesv1.NewCaseServiceClient(conn)
	ctx := metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer "+token)

	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: c, MaxConnsPerHost: c}, Timeout: 30 * time.Second}
	// Warm up connections and the server, then count from an empty queue.
	warm := runLoad(hc, base, "warm", 200, c)
	if warm.failures > 0 {
		return res, fmt.Errorf("%d warm-up submissions failed", warm.failures)
	}
	if _, err := poll(ctx, client, nil, 200, nil); err != nil {
		return res, err
	}
	cpu0 := cpuSeconds(srv.pid())
	metrics0 := scrape(base)

	start := time.Now()
	visible := make(map[string]time.Time, n)
	var mu sync.Mutex
	pollErr := make(chan error, 1)
	load := make(chan loadResult, 1)
	go func() { load <- runLoad(hc, base, "run", n, c) }()
	go func() {
		_, err := poll(ctx, client, func(subject string, at time.Time) {
			mu.Lock()
			visible[subject] = at
			mu.Unlock()
		}, 200+n, nil)
		pollErr <- err
	}()
	l := <-load
	if err := <-pollErr; err != nil {
		return res, err
	}
	relayed := scrape(base)["sportello_case_events_published_total"] - metrics0["sportello_case_events_published_total"]
	res.failures = l.failures
	res.relayedAtVisible = relayed
	var lat, acc []time.Duration
	var lastVisible time.Time
	for subject, posted := range l.posted {
		v, ok := visible[subject]
		if !ok {
			return res, fmt.Errorf("submission %s accepted but never visible", subject)
		}
		lat = append(lat, v.Sub(posted))
		acc = append(acc, l.accepted[subject].Sub(posted))
		if v.After(lastVisible) {
			lastVisible = v
		}
	}
	res.acceptSecs = l.end.Sub(start).Seconds()
	res.visibleSecs = lastVisible.Sub(start).Seconds()
	res.p50, res.p99 = percentile(lat, 50), percentile(lat, 99)
	res.acceptP99 = percentile(acc, 99)
	res.cpuSecs = cpuSeconds(srv.pid()) - cpu0
	res.peakRSSMB = peakRSS(srv.pid())
	m := scrape(base)
	bs, bc := m["sportello_inbound_publish_batch_size_sum"]-metrics0["sportello_inbound_publish_batch_size_sum"], m["sportello_inbound_publish_batch_size_count"]-metrics0["sportello_inbound_publish_batch_size_count"]
	ts, tc := m["sportello_intake_transaction_seconds_sum"]-metrics0["sportello_intake_transaction_seconds_sum"], m["sportello_intake_transaction_seconds_count"]-metrics0["sportello_intake_transaction_seconds_count"]
	if bc > 0 {
		res.meanBatch, res.publishCount = bs/bc, bc
	}
	if tc > 0 {
		res.meanTxMs, res.txCount = ts/tc*1000, tc
	}
	return res, nil
}

type loadResult struct {
	posted, accepted map[string]time.Time
	end              time.Time
	failures         int
}

func runLoad(hc *http.Client, base, prefix string, n, c int) loadResult {
	r := loadResult{posted: make(map[string]time.Time, n), accepted: make(map[string]time.Time, n)}
	var mu sync.Mutex
	next := make(chan int)
	var wg sync.WaitGroup
	for w := 0; w < c; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				subject := fmt.Sprintf("%s-%d", prefix, i)
				body := fmt.Sprintf(`{"name":"Maria Rossi","email":"m%d@example.it","category":"microdata","subject":%q,"message":"Vorrei i microdati del censimento 2021, tavola %d."}`, i%1000, subject, i)
				t0 := time.Now()
				resp, err := hc.Post(base+"/v1/channels/webform/submissions", "application/json", strings.NewReader(body))
				ok := err == nil && resp.StatusCode == http.StatusAccepted
				if err == nil {
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
				t1 := time.Now()
				mu.Lock()
				if ok {
					r.posted[subject], r.accepted[subject] = t0, t1
				} else {
					r.failures++
				}
				mu.Unlock()
			}
		}()
	}
	for i := 0; i < n; i++ {
		next <- i
	}
	close(next)
	wg.Wait()
	r.end = time.Now()
	return r
}

// pollPage bounds what the poller re-reads: the last page has no
// next_page_token, so it is read again until it fills up. Small pages keep
// the poller's own load on the server low.
const pollPage = 100

// poll reads new cases in creation order until total cases exist. Intake
// commits serially in id order, so a keyset cursor never skips a case.
func poll(ctx context.Context, client casesv1.CaseServiceClient, seen func(string, time.Time), total int, _ any) (int, error) {
	count, token := 0, ""
	known := map[string]bool{}
	deadline := time.Now().Add(10 * time.Minute)
	for count < total {
		if time.Now().After(deadline) {
			return count, fmt.Errorf("only %d of %d cases visible after 10 minutes", count, total)
		}
		resp, err := client.ListCases(ctx, &casesv1.ListCasesRequest{PageSize: pollPage, PageToken: token})
		if err != nil {
			return count, err
		}
		now := time.Now()
		for _, c := range resp.Cases {
			if !known[c.Id] {
				known[c.Id] = true
				count++
				if seen != nil {
					seen(c.Subject, now)
				}
			}
		}
		if resp.NextPageToken != "" {
			token = resp.NextPageToken
			continue
		}
		time.Sleep(10 * time.Millisecond)
	}
	return count, nil
}

var addrRE = regexp.MustCompile(`Sportello is running: (http://\S+)`)

func waitForAddress(r io.Reader) (string, error) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		if m := addrRE.FindStringSubmatch(sc.Text()); m != nil {
			return m[1], nil
		}
	}
	return "", fmt.Errorf("server exited before printing its address")
}

func percentile(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
	i := int(float64(len(d)-1) * p / 100)
	return d[i]
}

func cpuSeconds(pid int) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+2:]))
	ut, _ := strconv.ParseFloat(f[11], 64)
	st, _ := strconv.ParseFloat(f[12], 64)
	return (ut + st) / 100 // USER_HZ
}

func peakRSS(pid int) float64 {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "VmHWM:") {
			kb, _ := strconv.ParseFloat(strings.Fields(l)[1], 64)
			return kb / 1024
		}
	}
	return 0
}

func scrape(base string) map[string]float64 {
	m := map[string]float64{}
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		return m
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		l := sc.Text()
		if strings.HasPrefix(l, "#") {
			continue
		}
		name, val, ok := strings.Cut(l, " ")
		if i := strings.IndexByte(name, '{'); i >= 0 {
			name = name[:i]
		}
		if v, err := strconv.ParseFloat(val, 64); ok && err == nil {
			m[name] += v
		}
	}
	return m
}

// pgSchema creates schema in dsn's database and returns a DSN that uses
// it, and a function that drops it.
func pgSchema(dsn, schema string) (string, func(), error) {
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return "", nil, err
	}
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		conn.Close(ctx)
		return "", nil, err
	}
	u, err := url.Parse(dsn)
	if err != nil {
		return "", nil, err
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String(), func() {
		_, _ = conn.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE")
		conn.Close(ctx)
	}, nil
}

// pgSchemaReuse is pgSchema that, with reuse, keeps an existing schema
// and reports whether it was there.
func pgSchemaReuse(dsn, schema string, reuse bool) (string, func(), bool, error) {
	if reuse {
		conn, err := pgx.Connect(context.Background(), dsn)
		if err != nil {
			return "", nil, false, err
		}
		var n int
		err = conn.QueryRow(context.Background(), "SELECT count(*) FROM information_schema.schemata WHERE schema_name = $1", schema).Scan(&n)
		conn.Close(context.Background())
		if err != nil {
			return "", nil, false, err
		}
		if n > 0 {
			u, err := url.Parse(dsn)
			if err != nil {
				return "", nil, false, err
			}
			q := u.Query()
			q.Set("search_path", schema)
			u.RawQuery = q.Encode()
			return u.String(), func() {}, true, nil
		}
	}
	s, drop, err := pgSchema(dsn, schema)
	return s, drop, false, err
}

func machine() string {
	model := ""
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(l, "model name") {
				model = strings.TrimSpace(strings.SplitN(l, ":", 2)[1])
				break
			}
		}
	}
	mem := ""
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		f := strings.Fields(strings.SplitN(string(b), "\n", 2)[0])
		if kb, err := strconv.ParseFloat(f[1], 64); err == nil {
			mem = fmt.Sprintf("%.0f GiB", kb/1024/1024)
		}
	}
	kernel, _ := os.ReadFile("/proc/sys/kernel/osrelease")
	return fmt.Sprintf("%d CPUs (%s), %s RAM, Linux %s, %s", runtime.NumCPU(), model, mem, strings.TrimSpace(string(kernel)), runtime.Version())
}

func report(rs []result, n int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Generated by `make bench` (cmd/sportello-bench) on %s.\n\n", time.Now().UTC().Format("2006-01-02 15:04 MST"))
	fmt.Fprintf(&b, "- Machine: %s\n", machine())
	fmt.Fprintf(&b, "- Command: `%s`\n", strings.Join(os.Args, " "))
	fmt.Fprintf(&b, "- Each run: a fresh `sportello serve` process and empty database; %d web-form submissions (JSON, ~250 B) over HTTP/1.1 keep-alive from C concurrent clients on the same machine; a gRPC client polls `ListCases` until every submission is a case. Storage is durable throughout: JetStream file store with `sync_interval: always`; SQLite WAL with `synchronous=FULL`; PostgreSQL 15 with `fsync=on`, `synchronous_commit=on`.\n\n", n)
	b.WriteString("| backend | publishing | C | accepted/s | visible/s | POST→visible p50 | p99 | 202 p99 | server CPU s | peak RSS MB | contacts per JetStream msg | intake tx | tx mean ms | case events relayed when all visible | failed |\n")
	b.WriteString("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, r := range rs {
		fmt.Fprintf(&b, "| %s | %s | %d | %.0f | %.0f | %v | %v | %v | %.1f | %.0f | %.1f | %.0f | %.2f | %.0f of %d | %d |\n", r.backend, r.variant(), r.c,
			float64(r.n)/r.acceptSecs, float64(r.n)/r.visibleSecs, r.p50.Round(time.Millisecond), r.p99.Round(time.Millisecond),
			r.acceptP99.Round(time.Millisecond), r.cpuSecs, r.peakRSSMB, r.meanBatch, r.txCount, r.meanTxMs, r.relayedAtVisible, r.n, r.failures)
	}
	return b.String()
}
