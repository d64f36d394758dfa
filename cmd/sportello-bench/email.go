package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"math/rand/v2"
	"net"
	"net/smtp"
	"os"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"

	casesv1 "github.com/sportello/sportello/api/sportello/cases/v1"
	"github.com/sportello/sportello/auth"
)

// The e-mail benchmark (issue #5): n messages of mixed size delivered by
// SMTP clients to a real server's inbound listener, until every message
// is a case; then, on a fresh server, one 25 MB message with an 18 MB
// attachment, to see how much memory it takes.

type emailResult struct {
	n, c                    int
	bytes                   int64
	acceptSecs, visibleSecs float64
	p50, p99                time.Duration // SMTP transaction, MAIL FROM to the 250 after DATA
	cpuSecs, peakRSSMB      float64
	failures                int
	bigMB, bigBaseMB        float64 // the 25 MB message: its size, RSS before
	bigPeakMB               float64 // VmHWM after it became a case
	bigSecs                 float64
}

// emailSize is message i's approximate size: 70 % short text (1–8 KB),
// 20 % with a 50–200 KB PDF, 10 % with a 0.5–2 MB PDF.
func emailSize(r *rand.Rand, i int) (text, attachment int) {
	text = 1024 + r.IntN(7*1024)
	switch i % 10 {
	case 7, 8:
		attachment = 50<<10 + r.IntN(150<<10)
	case 9:
		attachment = 512<<10 + r.IntN(1536<<10)
	}
	return text, attachment
}

// emailMessage builds a plausible citizen's mail: Italian text, and a PDF
// (random bytes behind a PDF header, so that sniffing accepts it).
func emailMessage(r *rand.Rand, i, text, attachment int, tag string) []byte {
	var b bytes.Buffer
	boundary := fmt.Sprintf("b-%d-%d", i, r.Uint32())
	fmt.Fprintf(&b, "From: Cittadino %d <cittadino%d@example.it>\r\nTo: dati@sportello.localhost\r\n", i, i)
	fmt.Fprintf(&b, "Subject: Richiesta dati %s numero %d\r\nMessage-ID: <%s-%d@example.it>\r\n", tag, i, tag, i)
	fmt.Fprintf(&b, "Date: %s\r\nMIME-Version: 1.0\r\n", time.Now().Format(time.RFC1123Z))
	fmt.Fprintf(&b, "Content-Type: multipart/mixed; boundary=%q\r\n\r\n--%s\r\n", boundary, boundary)
	b.WriteString("Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n")
	line := "Buongiorno, vorrei ricevere le tavole del censimento della popolazione per il mio comune.\r\n"
	for b.Len() < text {
		b.WriteString(line)
	}
	if attachment > 0 {
		data := make([]byte, attachment)
		copy(data, "%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
		for k := 16; k < len(data); k += 8 {
			v := r.Uint64()
			for j := 0; j < 8 && k+j < len(data); j++ {
				data[k+j] = byte(v >> (8 * j))
			}
		}
		fmt.Fprintf(&b, "--%s\r\nContent-Type: application/pdf; name=\"tavola-%d.pdf\"\r\nContent-Disposition: attachment; filename=\"tavola-%d.pdf\"\r\nContent-Transfer-Encoding: base64\r\n\r\n", boundary, i, i)
		enc := base64.StdEncoding.EncodeToString(data)
		for len(enc) > 76 {
			b.WriteString(enc[:76] + "\r\n")
			enc = enc[76:]
		}
		b.WriteString(enc + "\r\n")
	}
	fmt.Fprintf(&b, "--%s--\r\n", boundary)
	return b.Bytes()
}

func freePort() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// sendMail runs one SMTP transaction on an open client.
func sendMail(c *smtp.Client, from string, msg []byte) error {
	if err := c.Mail(from); err != nil {
		return err
	}
	if err := c.Rcpt("dati@sportello.localhost"); err != nil {
		return err
	}
	w, err := c.Data()
	if err != nil {
		return err
	}
	if _, err := w.Write(msg); err != nil {
		return err
	}
	return w.Close()
}

func startEmailServer(bin string) (*serverProc, string, func(), error) {
	dir, err := os.MkdirTemp("", "sportello-bench-email-")
	if err != nil {
		return nil, "", nil, err
	}
	smtpAddr, err := freePort()
	if err != nil {
		return nil, "", nil, err
	}
	cfg := fmt.Sprintf("demo: true\nauth:\n  tokens:\n    - {name: bench, role: admin, sha256: %s}\n", auth.HashToken(token))
	srv, err := startServer(bin, dir, cfg, "--smtp-listen", smtpAddr)
	if err != nil {
		os.RemoveAll(dir)
		return nil, "", nil, err
	}
	return srv, smtpAddr, func() { srv.stop(); os.RemoveAll(dir) }, nil
}

func runEmail(bin string, n, c int) (emailResult, error) {
	res := emailResult{n: n, c: c}
	srv, smtpAddr, stop, err := startEmailServer(bin)
	if err != nil {
		return res, err
	}
	defer stop()
	gc, err := grpc.NewClient(strings.TrimPrefix(srv.base, "http://"), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return res, err
	}
	defer gc.Close()
	client := casesv1.NewCaseServiceClient(gc)
	ctx := metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer "+token)

	// The messages are built before the clock starts.
	msgs := make([][]byte, n)
	r := rand.New(rand.NewPCG(7, 8))
	for i := range msgs {
		text, att := emailSize(r, i)
		msgs[i] = emailMessage(r, i, text, att, "bench")
		res.bytes += int64(len(msgs[i]))
	}
	cpu0 := cpuSeconds(srv.pid())
	start := time.Now()
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		ds   []time.Duration
		next = make(chan int)
	)
	for w := 0; w < c; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cl, err := smtp.Dial(smtpAddr)
			if err == nil {
				err = cl.Hello("bench.example.it")
			}
			for i := range next {
				if err != nil {
					mu.Lock()
					res.failures++
					mu.Unlock()
					continue
				}
				t0 := time.Now()
				err = sendMail(cl, fmt.Sprintf("cittadino%d@example.it", i), msgs[i])
				mu.Lock()
				if err != nil {
					res.failures++
					fmt.Fprintf(os.Stderr, "email %d: %v\n", i, err)
				} else {
					ds = append(ds, time.Since(t0))
				}
				mu.Unlock()
			}
			if cl != nil {
				_ = cl.Quit()
			}
		}()
	}
	for i := 0; i < n; i++ {
		next <- i
	}
	close(next)
	wg.Wait()
	res.acceptSecs = time.Since(start).Seconds()
	if res.failures > 0 {
		return res, fmt.Errorf("%d of %d messages refused", res.failures, n)
	}
	if _, err := poll(ctx, client, nil, n, nil); err != nil {
		return res, err
	}
	res.visibleSecs = time.Since(start).Seconds()
	res.cpuSecs = cpuSeconds(srv.pid()) - cpu0
	res.peakRSSMB = peakRSS(srv.pid())
	res.p50, res.p99 = percentile(ds, 50), percentile(ds, 99)

	// One big message on a fresh server: its peak memory alone.
	big, bigURL, bigStop, err := startEmailServer(bin)
	if err != nil {
		return res, err
	}
	defer bigStop()
	bgc, err := grpc.NewClient(strings.TrimPrefix(big.base, "http://"), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return res, err
	}
	defer bgc.Close()
	msg := emailMessage(r, 0, 4096, 18<<20, "big")
	res.bigMB = float64(len(msg)) / (1 << 20)
	time.Sleep(time.Second) // let start-up settle before the baseline
	res.bigBaseMB = rssMB(big.pid())
	t0 := time.Now()
	cl, err := smtp.Dial(bigURL)
	if err != nil {
		return res, err
	}
	if err := sendMail(cl, "grande@example.it", msg); err != nil {
		return res, fmt.Errorf("the 25 MB message: %w", err)
	}
	_ = cl.Quit()
	if _, err := poll(ctx, casesv1.NewCaseServiceClient(bgc), nil, 1, nil); err != nil {
		return res, err
	}
	res.bigSecs = time.Since(t0).Seconds()
	res.bigPeakMB = peakRSS(big.pid())
	return res, nil
}

// rssMB is the process's resident set now (VmRSS).
func rssMB(pid int) float64 {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "VmRSS:") {
			var kb float64
			fmt.Sscanf(strings.Fields(l)[1], "%g", &kb)
			return kb / 1024
		}
	}
	return 0
}

func (r emailResult) report() string {
	var b strings.Builder
	fmt.Fprintf(&b, "Generated by `make bench` (cmd/sportello-bench) on %s.\n\n", time.Now().UTC().Format("2006-01-02 15:04 MST"))
	fmt.Fprintf(&b, "- Machine: %s\n", machine())
	fmt.Fprintf(&b, "- Command: `%s`\n", strings.Join(os.Args, " "))
	fmt.Fprintf(&b, "- Run: a fresh `sportello serve` (embedded mode: SQLite, embedded NATS, the demo mailboxes); %d messages (%.0f MB in all: 70 %% text of 1–8 KB, 20 %% with a 50–200 KB PDF, 10 %% with a 0.5–2 MB PDF) delivered to `dati@` by %d SMTP clients on the same machine, one connection each; then a gRPC client polls `ListCases` until every message is a case.\n\n", r.n, float64(r.bytes)/(1<<20), r.c)
	b.WriteString("| messages | accepted/s | MB/s | visible/s | SMTP transaction p50 | p99 | server CPU s | peak RSS MB | refused |\n|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	fmt.Fprintf(&b, "| %d | %.0f | %.1f | %.0f | %v | %v | %.1f | %.0f | %d |\n\n", r.n, float64(r.n)/r.acceptSecs, float64(r.bytes)/(1<<20)/r.acceptSecs,
		float64(r.n)/r.visibleSecs, ms(r.p50), ms(r.p99), r.cpuSecs, r.peakRSSMB, r.failures)
	fmt.Fprintf(&b, "One message of %.1f MB with an 18 MB PDF attachment, alone on a fresh server: a case after %.2f s; resident memory %.0f MB before it, peak %.0f MB after it (+%.0f MB, %.2f× the message).\n",
		r.bigMB, r.bigSecs, r.bigBaseMB, r.bigPeakMB, r.bigPeakMB-r.bigBaseMB, (r.bigPeakMB-r.bigBaseMB)/r.bigMB)
	return b.String()
}
