package main

import (
	"bufio"
	"fmt"
	"github.com/sportello/sportello/services/events"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/sportello/sportello/services/storage/storetest"
)

// startProcess runs `sportello serve` as a separate process (this test
// binary, see TestMain) and returns its base URL.
func startProcess(t *testing.T, cfg Config) (*exec.Cmd, string) {
	t.Helper()
	data, err := yaml.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "sportello.yaml")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "serve", "--config", path, "--log-level", "warn")
	cmd.Env = append(os.Environ(), "SPORTELLO_TEST_RUN_MAIN=1")
	out, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if _, url, ok := strings.Cut(sc.Text(), "Sportello is running: "); ok {
			go func() {
				for sc.Scan() {
				}
			}()
			return cmd, strings.TrimSpace(url)
		}
	}
	t.Fatal("server process exited before it was ready")
	return nil, ""
}

// TestIntegrationKillAndRestart stops a loaded server abruptly (SIGKILL) or
// gracefully (SIGTERM) while clients keep submitting, restarts it on the
// same data, and checks that every submission answered 202 is exactly one
// case.
func TestIntegrationKillAndRestart(t *testing.T) {
	// Parallel with the other tests: most of its time is the wait for
	// JetStream's AckWait after the kill, and its processes, data dirs and
	// schemas are its own.
	t.Parallel()
	if testing.Short() {
		t.Skip("starts server processes")
	}
	forEachBackend(t, func(t *testing.T, b storetest.Backend) {
		for _, sig := range []syscall.Signal{syscall.SIGKILL, syscall.SIGTERM} {
			t.Run(sig.String(), func(t *testing.T) {
				cfg := testConfig(t, b)
				cmd, base := startProcess(t, cfg)

				var (
					mu       sync.Mutex
					accepted = map[string]bool{}
					sent     atomic.Int64
					stop     atomic.Bool
					wg       sync.WaitGroup
				)
				client := &http.Client{Timeout: 10 * time.Second}
				for w := 0; w < 16; w++ {
					wg.Add(1)
					go func(w int) {
						defer wg.Done()
						for i := 0; !stop.Load(); i++ {
							subject := fmt.Sprintf("w%d-%d", w, i)
							body := strings.Replace(defaultSubmit, "Microdati del censimento", subject, 1)
							sent.Add(1)
							resp, err := client.Post(base+webformPath, jsonType, strings.NewReader(body))
							if err != nil {
								return // the server is gone
							}
							resp.Body.Close()
							if resp.StatusCode == http.StatusAccepted {
								mu.Lock()
								accepted[subject] = true
								mu.Unlock()
							}
						}
					}(w)
				}
				eventually(t, "300 accepted submissions", func() bool { mu.Lock(); defer mu.Unlock(); return len(accepted) >= 300 })
				if err := cmd.Process.Signal(sig); err != nil {
					t.Fatal(err)
				}
				err := cmd.Wait()
				stop.Store(true)
				wg.Wait()
				if sig == syscall.SIGTERM && err != nil {
					t.Fatalf("graceful shutdown exited with %v", err)
				}

				s := startServer(t, cfg) // same data dir and database
				mu.Lock()
				want := len(accepted)
				mu.Unlock()
				var seen map[string]int
				// What the killed process had taken but not acked comes back
				// after JetStream's AckWait.
				eventuallyWithin(t, events.AckWait+pollTimeout, fmt.Sprintf("the %d accepted submissions as cases", want), func() bool {
					seen = map[string]int{}
					for _, c := range s.allCases() {
						seen[c.Subject]++
					}
					for subj := range accepted {
						if seen[subj] == 0 {
							return false
						}
					}
					return true
				})
				for subj, n := range seen {
					if n > 1 {
						t.Fatalf("submission %s became %d cases", subj, n)
					}
				}
				if int64(len(seen)) > sent.Load() {
					t.Fatalf("%d cases from %d submissions", len(seen), sent.Load())
				}
				t.Logf("%s: %d accepted, %d cases after restart (%d sent)", sig, want, len(seen), sent.Load())
			})
		}
	})
}
