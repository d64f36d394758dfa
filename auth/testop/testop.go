// Package testop runs independent OpenID Providers for tests: panva's
// oidc-provider (npm, a certified implementation) under Node, configured
// by the scripts in node/:
//
//   - spid.js: the SPID/CIE profile (signed request objects,
//     private_key_jwt, signed-then-encrypted userinfo, acr levels);
//   - staff.js: a plain enterprise OP for staff single sign-on (code flow
//     with a client secret, a groups claim) and client credentials for
//     service accounts (JWT access tokens with scopes).
//
// Tests fail, not skip, when Node is missing: CI has it, and a silently
// skipped login test would hide a broken login. It is imported by tests
// only.
package testop

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

const nodeHelp = `the identity tests need Node.js >= 20.19 with npm, to run an independent OpenID Provider (panva's oidc-provider, auth/testop/node).
Install it, for example:
  apt-get install -y nodejs npm   (where the distribution's nodejs is >= 20.19; Debian 12's own is 18, too old)
  or an official Node.js 22 LTS build for your system.
Then run the tests again; they run "npm ci" in auth/testop/node themselves.`

// Dir is the directory of the Node scripts.
func Dir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "node")
}

var (
	npmOnce sync.Once
	npmErr  error
)

// install checks Node and runs npm ci once per test binary when
// node_modules is missing; package-lock.json pins every package. Test
// binaries of several packages run at once, so npm runs under a file lock.
func install(t testing.TB, dir string) {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("node not found on PATH.\n%s", nodeHelp)
	}
	out, err := exec.Command(node, "--version").Output()
	if err != nil {
		t.Fatalf("node --version: %v\n%s", err, nodeHelp)
	}
	if m := regexp.MustCompile(`^v(\d+)\.(\d+)`).FindStringSubmatch(strings.TrimSpace(string(out))); m != nil {
		major, _ := strconv.Atoi(m[1])
		minor, _ := strconv.Atoi(m[2])
		if major < 20 || major == 20 && minor < 19 {
			t.Fatalf("node %s is too old.\n%s", strings.TrimSpace(string(out)), nodeHelp)
		}
	}
	npmOnce.Do(func() { npmErr = npmCI(dir) })
	if npmErr != nil {
		t.Fatal(npmErr)
	}
}

func npmCI(dir string) error {
	lock, err := os.OpenFile(filepath.Join(os.TempDir(), "sportello-testop.lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return err
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return err
	}
	defer func() { _ = syscall.Flock(int(lock.Fd()), syscall.LOCK_UN) }()
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "oidc-provider", "package.json")); err == nil {
		return nil
	}
	npm, err := exec.LookPath("npm")
	if err != nil {
		return fmt.Errorf("npm not found on PATH.\n%s", nodeHelp)
	}
	cmd := exec.Command(npm, "ci", "--no-audit", "--no-fund", "--loglevel=error")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("npm ci in %s: %v\n%s", dir, err, out)
	}
	return nil
}

// OP is a running provider.
type OP struct {
	Issuer string
}

// Start runs script (spid.js or staff.js) with conf, written as the
// script's JSON configuration, and stops it when the test ends.
func Start(t testing.TB, script string, conf any) *OP {
	t.Helper()
	dir := Dir()
	install(t, dir)
	b, err := json.Marshal(conf)
	if err != nil {
		t.Fatal(err)
	}
	confPath := filepath.Join(t.TempDir(), "op.json")
	if err := os.WriteFile(confPath, b, 0o600); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, "node", script, confPath)
	cmd.Dir = dir
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 5 * time.Second
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr syncBuilder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		_ = cmd.Wait()
		if t.Failed() && stderr.Len() > 0 {
			t.Logf("test OP (%s) stderr:\n%s", script, stderr.String())
		}
	})
	ready := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			var line struct {
				Issuer string `json:"issuer"`
			}
			if json.Unmarshal(sc.Bytes(), &line) == nil && line.Issuer != "" {
				ready <- line.Issuer
			}
		}
	}()
	select {
	case issuer := <-ready:
		return &OP{Issuer: issuer}
	case <-time.After(30 * time.Second):
		t.Fatalf("test OP %s did not start within 30 s; stderr:\n%s", script, stderr.String())
	}
	return nil
}

// Rotate makes the OP sign with a new key, dropping the old one.
func (o *OP) Rotate(t testing.TB) {
	t.Helper()
	o.post(t, "/test/rotate")
}

// SetDown makes every endpoint of the OP answer 503 (down) or serve
// again: an identity provider outage.
func (o *OP) SetDown(t testing.TB, down bool) {
	t.Helper()
	if down {
		o.post(t, "/test/down")
	} else {
		o.post(t, "/test/up")
	}
}

func (o *OP) post(t testing.TB, path string) {
	t.Helper()
	resp, err := http.Post(o.Issuer+path, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("%s: %s", path, resp.Status)
	}
}

// JWKSFetches counts the JWKS downloads the OP has served.
func (o *OP) JWKSFetches(t testing.TB) int {
	t.Helper()
	resp, err := http.Get(o.Issuer + "/test/stats")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var s struct {
		JWKSFetches int `json:"jwks_fetches"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&s); err != nil {
		t.Fatal(err)
	}
	return s.JWKSFetches
}

// syncBuilder is a strings.Builder safe for the process's writer and the
// test's reader.
type syncBuilder struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuilder) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuilder) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Len()
}

func (s *syncBuilder) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
