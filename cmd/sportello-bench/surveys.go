package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"

	surveysv1 "github.com/sportello/sportello/api/sportello/surveys/v1"
	"github.com/sportello/sportello/auth"
)

// The survey benchmark (issue #8): n anonymous survey responses in a
// fresh PostgreSQL schema, a real server, and the report queries measured
// over gRPC, one at a time. Target: p99 ≤ 500 ms at 200,000 responses.

const (
	surveyRounds   = 100
	surveySupToken = "bench-supervisor-token-0123456789abcdef"
)

type surveyResult struct {
	responses, cells int
	loadSecs         float64
	queries          []latencies
	tableMB, indexMB float64
}

func runSurveys(bin, pgDSN string, n int) (surveyResult, error) {
	res := surveyResult{responses: n}
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "sportello-bench-surveys-")
	if err != nil {
		return res, err
	}
	defer os.RemoveAll(dir)
	dsn, drop, _, err := pgSchemaReuse(pgDSN, fmt.Sprintf("bench_surveys_%d", time.Now().UnixNano()), false)
	if err != nil {
		return res, err
	}
	defer drop()
	cfg := fmt.Sprintf("demo: true\nauth:\n  tokens:\n    - {name: bench, role: admin, sha256: %s}\n"+
		"    - {name: sup, role: supervisor, departments: [statistics, it], sha256: %s}\n", auth.HashToken(token), auth.HashToken(surveySupToken))
	srv, err := startServer(bin, dir, cfg, "--database-dsn", dsn, "--smtp-listen", "127.0.0.1:0")
	if err != nil {
		return res, err
	}
	defer srv.stop()
	gc, err := grpc.NewClient(strings.TrimPrefix(srv.base, "http://"), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return res, err
	}
	defer gc.Close()
	client := surveysv1.NewSurveyServiceClient(gc)
	admin := metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+token)
	sup := metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+surveySupToken)
	if _, err := client.ListQuestionnaires(admin, &surveysv1.ListQuestionnairesRequest{}); err != nil { // creates version 1
		return res, err
	}

	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return res, err
	}
	defer conn.Close(ctx)
	fmt.Printf("surveys: loading %d responses into PostgreSQL ...\n", n)
	t0 := time.Now()
	if err := loadResponses(ctx, conn, n); err != nil {
		return res, err
	}
	res.loadSecs = time.Since(t0).Seconds()
	if err := conn.QueryRow(ctx, `SELECT pg_table_size('survey_responses') / 1048576.0, pg_indexes_size('survey_responses') / 1048576.0`).Scan(&res.tableMB, &res.indexMB); err != nil {
		return res, err
	}
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM survey_cells`).Scan(&res.cells); err != nil {
		return res, err
	}

	last := time.Now().UTC()
	from12 := last.AddDate(0, -11, 0).Format("2006-01")
	shapes := []struct {
		name string
		ctx  context.Context
		req  *surveysv1.GetSurveyResultsRequest
	}{
		{"every dimension, every month (the export's grouping), admin", admin, &surveysv1.GetSurveyResultsRequest{GroupBy: []string{"category", "department", "channel", "month"}}},
		{"department × month, last 12 months, admin", admin, &surveysv1.GetSurveyResultsRequest{GroupBy: []string{"department", "month"}, StartMonth: from12}},
		{"category × month, a supervisor's 2 departments", sup, &surveysv1.GetSurveyResultsRequest{GroupBy: []string{"category", "month"}}},
		{"channel, one month, admin", admin, &surveysv1.GetSurveyResultsRequest{GroupBy: []string{"channel"}, StartMonth: last.Format("2006-01"), EndMonth: last.Format("2006-01")}},
		{"totals per questionnaire version, admin", admin, &surveysv1.GetSurveyResultsRequest{}},
	}
	for _, s := range shapes {
		l, err := measureSurvey(s.name, surveyRounds, func() (int, error) {
			resp, err := client.GetSurveyResults(s.ctx, s.req)
			return len(resp.GetRows()), err
		})
		if err != nil {
			return res, err
		}
		res.queries = append(res.queries, l)
	}
	l, err := measureSurvey("ExportSurveyResults, CSV, everything", surveyRounds/2, func() (int, error) {
		body, err := client.ExportSurveyResults(admin, &surveysv1.ExportSurveyResultsRequest{Format: "csv"})
		return strings.Count(string(body.GetData()), "\n") - 1, err
	})
	if err != nil {
		return res, err
	}
	res.queries = append(res.queries, l)
	return res, nil
}

// measureSurvey runs call rounds times after one warm-up call.
func measureSurvey(name string, rounds int, call func() (int, error)) (latencies, error) {
	l := latencies{name: name}
	if _, err := call(); err != nil {
		return l, fmt.Errorf("%s: %w", name, err)
	}
	var ds []time.Duration
	total := 0
	for i := 0; i < rounds; i++ {
		t0 := time.Now()
		rows, err := call()
		if err != nil {
			return l, fmt.Errorf("%s: %w", name, err)
		}
		ds = append(ds, time.Since(t0))
		total += rows
	}
	l.n = len(ds)
	l.p50, l.p95, l.p99, l.max = percentile(ds, 50), percentile(ds, 95), percentile(ds, 99), percentile(ds, 100)
	l.rows = float64(total) / float64(l.n)
	return l, nil
}

// loadResponses copies n responses spread over 24 months, the demo
// departments, 12 categories and 4 channels, with a skewed rating.
func loadResponses(ctx context.Context, conn *pgx.Conn, n int) error {
	r := rand.New(rand.NewPCG(8, 2026))
	depts := []string{"statistics", "communication", "it", "triage"}
	channels := []string{"email", "webform", "portal", "phone"}
	resolved := []string{"yes", "yes", "yes", "partly", "no", ""}
	aspectsLow := []string{"unclear_instructions", "incomplete_instructions", "unsure_progress", "technical_problems", "other", ""}
	aspectsHigh := []string{"clear_instructions", "complete_instructions", "sure_progress", "no_technical_problems", "other", ""}
	now := time.Now().UTC()
	rows := make([][]any, 0, n)
	for i := 0; i < n; i++ {
		ease := []int{1, 2, 3, 4, 4, 5, 5, 5}[r.IntN(8)]
		aspect := aspectsHigh[r.IntN(6)]
		if ease <= 3 {
			aspect = aspectsLow[r.IntN(6)]
		}
		comment := ""
		if r.IntN(5) == 0 {
			comment = "Servizio rapido, ma il modulo era lungo. Contatto: [EMAIL]"
		}
		rows = append(rows, []any{uuid.NewString(), 1, fmt.Sprintf("category-%02d", r.IntN(12)), depts[r.IntN(len(depts))],
			channels[r.IntN(len(channels))], now.AddDate(0, -r.IntN(24), 0).Format("2006-01"), ease, aspect, resolved[r.IntN(len(resolved))], comment})
	}
	_, err := conn.CopyFrom(ctx, pgx.Identifier{"survey_responses"},
		[]string{"id", "questionnaire_version", "category", "department", "channel", "month", "ease", "aspect", "resolved", "comment"}, pgx.CopyFromRows(rows))
	if err != nil {
		return err
	}
	// The cells the server keeps response by response (storage.Respond),
	// built in one statement for the copied rows.
	if _, err := conn.Exec(ctx, `INSERT INTO survey_cells SELECT questionnaire_version, category, department, channel, month,
	count(*), sum(ease), count(*) FILTER (WHERE ease = 1), count(*) FILTER (WHERE ease = 2), count(*) FILTER (WHERE ease = 3),
	count(*) FILTER (WHERE ease = 4), count(*) FILTER (WHERE ease = 5), count(*) FILTER (WHERE resolved = 'yes'),
	count(*) FILTER (WHERE resolved = 'partly'), count(*) FILTER (WHERE resolved = 'no')
	FROM survey_responses GROUP BY 1, 2, 3, 4, 5`); err != nil {
		return err
	}
	_, err = conn.Exec(ctx, "ANALYZE survey_responses; ANALYZE survey_cells")
	return err
}

func (r surveyResult) report() string {
	var b strings.Builder
	fmt.Fprintf(&b, "## Survey results (issue #8)\n\n")
	fmt.Fprintf(&b, "- Machine: %s\n", machine())
	fmt.Fprintf(&b, "- Command: `make bench BENCHFLAGS='-runs surveys'` (`sportello-bench -runs surveys -surveys %d`), PostgreSQL from `SPORTELLO_BENCH_POSTGRES_DSN` or `SPORTELLO_TEST_POSTGRES_DSN`\n", r.responses)
	fmt.Fprintf(&b, "- Data: %d responses over 24 months, 4 departments, 12 categories, 4 channels, copied in %.1f s (table %.0f MB, indexes %.0f MB) and summed into %d cells (survey_cells, which the server keeps up to date response by response and results read); a fresh `sportello serve` on that schema\n", r.responses, r.loadSecs, r.tableMB, r.indexMB, r.cells)
	fmt.Fprintf(&b, "- Client: one gRPC client on the same machine, one request at a time; latency is the whole RPC (authentication, aggregation with k = 10 suppression, protobuf)\n")
	fmt.Fprintf(&b, "- Target: p99 ≤ 500 ms\n\n")
	fmt.Fprintf(&b, "| query | requests | rows | p50 | p95 | p99 | max |\n|---|---:|---:|---:|---:|---:|---:|\n")
	for _, q := range r.queries {
		fmt.Fprintf(&b, "| %s | %d | %.0f | %v | %v | %v | %v |\n", q.name, q.n, q.rows, q.p50.Round(100*time.Microsecond), q.p95.Round(100*time.Microsecond),
			q.p99.Round(100*time.Microsecond), q.max.Round(100*time.Microsecond))
	}
	return b.String()
}

// benchSurveys runs the survey benchmark and writes its section of out.
func benchSurveys(bin, pgDSN string, n int, out string) error {
	if pgDSN == "" {
		fmt.Fprintln(os.Stderr, "skipping the survey benchmark: set -postgres or SPORTELLO_BENCH_POSTGRES_DSN")
		return nil
	}
	r, err := runSurveys(bin, pgDSN, n)
	if err != nil {
		return err
	}
	rep := r.report()
	fmt.Println(rep)
	if out == "" {
		return nil
	}
	return writeReport(out, "bench-surveys", rep)
}
