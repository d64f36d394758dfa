package main

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sportello/sportello/auth"
)

// The call-centre benchmark: a PBX posts each call's events to the CTI
// webhook (POST /v1/channels/cti/{channel_id}, channels/cti/README.md),
// signed with the channel's secret, and waits for the newCall's answer to
// show the screen pop. The run measures the webhook's latency as the PBX
// sees it, sequentially and from concurrent PBX workers, and checks that
// every screen pop names the caller and their open cases.

var (
	ctiN       = flag.Int("cti-n", 500, "calls (newCall + answer + hangup) per concurrency in the cti benchmark")
	ctiConc    = flag.String("cti-c", "1,8,32", "comma-separated concurrent PBX workers in the cti benchmark, one run each")
	ctiCallers = flag.Int("cti-callers", 20, "callers in the cti benchmark, each a contact with -cti-open open cases")
	ctiOpen    = flag.Int("cti-open", 3, "open cases per caller in the cti benchmark (the screen pop lists up to 10)")
)

const (
	ctiChannel = "centralino"
	ctiSecret  = "bench-cti-secret-0123456789abcdef-0123456789abcdef"
)

// ctiCaller is a seeded citizen: their number as the PBX sends it, and
// what the screen pop must show.
type ctiCaller struct {
	phone     string
	contactID string
	caseIDs   []string // sorted
}

type ctiRun struct {
	backend                  string
	c, calls                 int
	secs                     float64
	newCall, answer, hangup  []time.Duration
	cpuSecs                  float64
	failed, wrongPop         int
	firstFailure, firstWrong string
}

type ctiResult struct {
	runs           []ctiRun
	load0, load1   string
	callers, open  int
	skippedBackend string
}

// benchCTI runs the cti benchmark on SQLite and, with a DSN, PostgreSQL,
// and writes the bench-cti section of out.
func benchCTI(bin, pgDSN, out string) error {
	var conc []int
	for _, f := range strings.Split(*ctiConc, ",") {
		v, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || v < 1 {
			return fmt.Errorf("bad -cti-c value %q", f)
		}
		conc = append(conc, v)
	}
	if *ctiN < 1 || *ctiCallers < 1 || *ctiOpen < 1 || *ctiOpen > 10 {
		return fmt.Errorf("-cti-n and -cti-callers must be positive, -cti-open between 1 and 10")
	}
	res := ctiResult{load0: loadAverage(), callers: *ctiCallers, open: *ctiOpen}
	backends := []string{"sqlite"}
	if pgDSN != "" {
		backends = append(backends, "postgres")
	} else {
		res.skippedBackend = "PostgreSQL not run: no -postgres DSN."
		fmt.Fprintln(os.Stderr, "cti: skipping postgres: set -postgres or SPORTELLO_BENCH_POSTGRES_DSN")
	}
	for _, b := range backends {
		runs, err := ctiBackend(bin, pgDSN, b, conc)
		if err != nil {
			return fmt.Errorf("%s: %w", b, err)
		}
		res.runs = append(res.runs, runs...)
	}
	res.load1 = loadAverage()
	rep := res.report()
	fmt.Println(rep)
	if out != "" {
		return writeReport(out, "bench-cti", rep)
	}
	return nil
}

// ctiBackend starts one server on backend, seeds the callers, and runs
// each concurrency on it.
func ctiBackend(bin, pgDSN, backend string, conc []int) ([]ctiRun, error) {
	dir, err := os.MkdirTemp("", "sportello-bench-cti-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	cfg := fmt.Sprintf("demo: true\nauth:\n  tokens:\n    - {name: bench, role: admin, sha256: %s}\n"+
		"cti:\n  channels:\n    - id: %s\n      secret: %q\n      caller_id: \"+39 06 4673 1\"\n      queues:\n        informatica: it\n",
		auth.HashToken(token), ctiChannel, ctiSecret)
	var args []string
	if backend == "postgres" {
		schema, drop, err := pgSchema(pgDSN, fmt.Sprintf("bench_cti_%d", time.Now().UnixNano()))
		if err != nil {
			return nil, err
		}
		defer drop()
		args = append(args, "--database-dsn", schema)
	}
	srv, err := startServer(bin, dir, cfg, args...)
	if err != nil {
		return nil, err
	}
	defer srv.stop()
	hc := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64, MaxConnsPerHost: 64}}
	callers, err := seedCallers(hc, srv.base, *ctiCallers, *ctiOpen)
	if err != nil {
		return nil, fmt.Errorf("seed: %w", err)
	}
	var runs []ctiRun
	for _, c := range conc {
		// Warm up at this concurrency first: the first burst of C calls
		// opens C keep-alive connections and grows the server's database
		// pool, which on a loaded machine adds up to a second or two to
		// those calls (measured and reported in docs/benchmarks.md).
		if w := ctiLoad(hc, srv.base, fmt.Sprintf("warm%d", c), callers, max(2*c, len(callers)), c); w.failed+w.wrongPop > 0 {
			return nil, fmt.Errorf("warm-up at C=%d: %d failed, %d wrong screen pops (%s%s)", c, w.failed, w.wrongPop, w.firstFailure, w.firstWrong)
		}
		cpu0 := cpuSeconds(srv.pid())
		r := ctiLoad(hc, srv.base, fmt.Sprintf("c%d", c), callers, *ctiN, c)
		r.cpuSecs = cpuSeconds(srv.pid()) - cpu0
		r.backend = backend
		fmt.Println(r.line())
		runs = append(runs, r)
	}
	return runs, nil
}

// seedCallers opens open cases for each of n callers through the REST
// API, as an operator would for a citizen on the phone, and returns what
// their screen pops must show.
func seedCallers(hc *http.Client, base string, n, open int) ([]ctiCaller, error) {
	callers := make([]ctiCaller, n)
	for i := range callers {
		// The form gets the number with spaces; the PBX sends E.164.
		written := fmt.Sprintf("+39 333 200 %04d", i)
		callers[i].phone = strings.ReplaceAll(written, " ", "")
		for k := range open {
			body := fmt.Sprintf(`{"subject":"Richiesta %d di %d","description":"Il cittadino chiede i dati del censimento.","department":"it","channelKind":"phone",`+
				`"contact":{"name":"Cittadino %d","email":"cittadino%d@example.it","phone":%q},"requestId":"bench-cti-%d-%d"}`, k+1, open, i, i, written, i, k)
			req, _ := http.NewRequest("POST", base+"/v1/cases", strings.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer "+token)
			resp, err := hc.Do(req)
			if err != nil {
				return nil, err
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				return nil, fmt.Errorf("create case: %d %s", resp.StatusCode, b)
			}
			var c struct {
				ID        string `json:"id"`
				ContactID string `json:"contactId"`
			}
			if err := json.Unmarshal(b, &c); err != nil || c.ID == "" || c.ContactID == "" {
				return nil, fmt.Errorf("create case: %v %s", err, b)
			}
			if k > 0 && c.ContactID != callers[i].contactID {
				return nil, fmt.Errorf("caller %d's cases went to two contacts (%s, %s)", i, callers[i].contactID, c.ContactID)
			}
			callers[i].contactID = c.ContactID
			callers[i].caseIDs = append(callers[i].caseIDs, c.ID)
		}
		slices.Sort(callers[i].caseIDs)
	}
	return callers, nil
}

// ctiSign is the documented signature: "v1=" + hex(HMAC-SHA256(secret,
// "<timestamp>.<raw body>")).
func ctiSign(ts int64, body []byte) string {
	m := hmac.New(sha256.New, []byte(ctiSecret))
	m.Write([]byte(strconv.FormatInt(ts, 10) + "."))
	m.Write(body)
	return "v1=" + hex.EncodeToString(m.Sum(nil))
}

// ctiAnswer is the part of the webhook's answer the benchmark checks.
type ctiAnswer struct {
	CallID     string `json:"callId"`
	Action     string `json:"action"`
	Department string `json:"department"`
	Contact    *struct {
		ID string `json:"id"`
	} `json:"contact"`
	OpenCases []struct {
		ID string `json:"id"`
	} `json:"openCases"`
	Duplicate bool `json:"duplicate"`
}

// ctiPost signs and posts one event as a PBX does and decodes the answer.
func ctiPost(hc *http.Client, base string, body []byte) (ctiAnswer, error) {
	var a ctiAnswer
	ts := time.Now().Unix()
	req, _ := http.NewRequest("POST", base+"/v1/channels/cti/"+ctiChannel, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Sportello-Timestamp", strconv.FormatInt(ts, 10))
	req.Header.Set("X-Sportello-Signature", ctiSign(ts, body))
	resp, err := hc.Do(req)
	if err != nil {
		return a, err
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return a, err
	}
	if resp.StatusCode != 200 {
		return a, fmt.Errorf("%d %s", resp.StatusCode, bytes.TrimSpace(b))
	}
	if err := json.Unmarshal(b, &a); err != nil {
		return a, fmt.Errorf("answer: %v", err)
	}
	return a, nil
}

// ctiLoad runs n full calls (newCall, answer by an operator, hangup) from
// c workers; caller i%len(callers) makes call i.
func ctiLoad(hc *http.Client, base, prefix string, callers []ctiCaller, n, c int) ctiRun {
	r := ctiRun{c: c, calls: n}
	var mu sync.Mutex
	fail := func(msg string) {
		mu.Lock()
		r.failed++
		if r.firstFailure == "" {
			r.firstFailure = msg
		}
		mu.Unlock()
	}
	next := make(chan int)
	var wg sync.WaitGroup
	start := time.Now()
	for range c {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				who := callers[i%len(callers)]
				id := fmt.Sprintf("bench-%s-%d.%d", prefix, start.UnixNano(), i)
				t0 := time.Now()
				a, err := ctiPost(hc, base, fmt.Appendf(nil, `{"event":"newCall","callId":%q,"from":%q,"to":"+39064673","queue":"informatica"}`, id, who.phone))
				t1 := time.Now()
				if err != nil {
					fail("newCall: " + err.Error())
					continue
				}
				var got []string
				for _, oc := range a.OpenCases {
					got = append(got, oc.ID)
				}
				slices.Sort(got)
				if a.Action != "accept" || a.Department != "it" || a.Duplicate || a.Contact == nil || a.Contact.ID != who.contactID || !slices.Equal(got, who.caseIDs) {
					mu.Lock()
					r.wrongPop++
					if r.firstWrong == "" {
						contact := ""
						if a.Contact != nil {
							contact = a.Contact.ID
						}
						r.firstWrong = fmt.Sprintf("call %s from %s: action %q department %q duplicate %v contact %q open cases %v; want contact %q open cases %v",
							id, who.phone, a.Action, a.Department, a.Duplicate, contact, got, who.contactID, who.caseIDs)
					}
					mu.Unlock()
				}
				_, err = ctiPost(hc, base, fmt.Appendf(nil, `{"event":"answer","callId":%q,"operator":"op-it","extension":"214"}`, id))
				t2 := time.Now()
				if err != nil {
					fail("answer: " + err.Error())
					continue
				}
				_, err = ctiPost(hc, base, fmt.Appendf(nil, `{"event":"hangup","callId":%q,"cause":"normalClearing","duration":%d}`, id, 30+i%300))
				t3 := time.Now()
				if err != nil {
					fail("hangup: " + err.Error())
					continue
				}
				mu.Lock()
				r.newCall = append(r.newCall, t1.Sub(t0))
				r.answer = append(r.answer, t2.Sub(t1))
				r.hangup = append(r.hangup, t3.Sub(t2))
				mu.Unlock()
			}
		}()
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	r.secs = time.Since(start).Seconds()
	return r
}

func (r ctiRun) line() string {
	s := fmt.Sprintf("cti %-8s c=%d calls=%d  %.1f calls/s  newCall p50 %v p95 %v p99 %v max %v  answer p99 %v  hangup p99 %v  server CPU %.1f ms/call  failed %d  wrong screen pops %d",
		r.backend, r.c, r.calls, float64(r.calls)/r.secs, ms(percentile(r.newCall, 50)), ms(percentile(r.newCall, 95)), ms(percentile(r.newCall, 99)), ms(percentile(r.newCall, 100)),
		ms(percentile(r.answer, 99)), ms(percentile(r.hangup, 99)), r.cpuSecs*1000/float64(r.calls), r.failed, r.wrongPop)
	if r.firstFailure != "" {
		s += "\n  first failure: " + r.firstFailure
	}
	if r.firstWrong != "" {
		s += "\n  first wrong screen pop: " + r.firstWrong
	}
	return s
}

func (r ctiResult) report() string {
	var b strings.Builder
	fmt.Fprintf(&b, "Generated by `make bench` (cmd/sportello-bench) on %s.\n\n", time.Now().UTC().Format("2006-01-02 15:04 MST"))
	fmt.Fprintf(&b, "- Machine: %s\n", machine())
	fmt.Fprintf(&b, "- Command: `%s`\n", strings.Join(os.Args, " "))
	fmt.Fprintf(&b, "- Load average (1 / 5 / 15 min) at the start: %s; at the end: %s (other engineers' builds and tests share the cores; latencies include waiting for one).\n", r.load0, r.load1)
	fmt.Fprintf(&b, "- Each backend: a fresh `sportello serve` (demo directory, one CTI channel `%s` mapping queue `informatica` to department `it`); %d callers, each a contact with %d open cases opened through `POST /v1/cases`. "+
		"A call is `newCall` (inbound, queue `informatica`, from the caller's E.164 number), `answer` by operator `op-it`, `hangup` (`normalClearing`), each a `POST /v1/channels/cti/%s` signed as channels/cti/README.md says (HMAC-SHA256 over `<timestamp>.<body>`), over HTTP/1.1 keep-alive from C workers on the same machine, each worker one call at a time, after max(2C, callers) warm-up calls at the same C (connections open, database pool grown). "+
		"A screen pop is right when the newCall's answer is `accept` to `it` and names the caller's contact and exactly their open cases. Server CPU is the server process's user+system time (/proc) over the run, divided by the calls. Storage is durable: SQLite WAL with `synchronous=FULL`, PostgreSQL with `fsync=on`.\n",
		ctiChannel, r.callers, r.open, ctiChannel)
	if r.skippedBackend != "" {
		fmt.Fprintf(&b, "- %s\n", r.skippedBackend)
	}
	b.WriteString("\n| backend | C | calls | calls/s | newCall p50 | p95 | p99 | max | answer p99 | hangup p99 | server CPU per call | failed | wrong screen pops |\n")
	b.WriteString("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, x := range r.runs {
		fmt.Fprintf(&b, "| %s | %d | %d | %.1f | %v | %v | %v | %v | %v | %v | %.1f ms | %d | %d |\n", x.backend, x.c, x.calls, float64(x.calls)/x.secs,
			ms(percentile(x.newCall, 50)), ms(percentile(x.newCall, 95)), ms(percentile(x.newCall, 99)), ms(percentile(x.newCall, 100)),
			ms(percentile(x.answer, 99)), ms(percentile(x.hangup, 99)), x.cpuSecs*1000/float64(x.calls), x.failed, x.wrongPop)
	}
	for _, x := range r.runs {
		if x.firstFailure != "" {
			fmt.Fprintf(&b, "\n%s C=%d, first failure: %s\n", x.backend, x.c, x.firstFailure)
		}
		if x.firstWrong != "" {
			fmt.Fprintf(&b, "\n%s C=%d, first wrong screen pop: %s\n", x.backend, x.c, x.firstWrong)
		}
	}
	return b.String()
}
