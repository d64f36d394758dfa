package spid

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
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// The integration tests run panva's oidc-provider (testdata/op) with Node.
// They fail, not skip, when Node is missing: CI has it, and a silently
// skipped SPID test would hide a broken login.
const nodeHelp = `auth/spid's integration tests need Node.js >= 20.19 with npm, to run the test OP (panva's oidc-provider, testdata/op).
Install it, for example:
  apt-get install -y nodejs npm   (where the distribution's nodejs is >= 20.19; Debian 12's own is 18, too old)
  or an official Node.js 22 LTS build for your system.
Then run the tests again; they run "npm ci" in auth/spid/testdata/op themselves.`

var npmOnce sync.Once
var npmErr error

// installOP runs npm ci in testdata/op once per test binary when
// node_modules is missing. package-lock.json pins every package.
func installOP(t *testing.T, dir string) {
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
	npmOnce.Do(func() {
		if _, err := os.Stat(filepath.Join(dir, "node_modules", "oidc-provider", "package.json")); err == nil {
			return
		}
		npm, err := exec.LookPath("npm")
		if err != nil {
			npmErr = fmt.Errorf("npm not found on PATH.\n%s", nodeHelp)
			return
		}
		cmd := exec.Command(npm, "ci", "--no-audit", "--no-fund", "--loglevel=error")
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			npmErr = fmt.Errorf("npm ci in %s: %v\n%s", dir, err, out)
		}
	})
	if npmErr != nil {
		t.Fatal(npmErr)
	}
}

// nodeOP is a running testdata/op.
type nodeOP struct {
	issuer string
}

// startNodeOP starts the test OP for an RP with this client_id, redirect
// URI and public keys, and stops it when the test ends.
func startNodeOP(t *testing.T, clientID, redirectURI string, rpJWKS jose.JSONWebKeySet) *nodeOP {
	t.Helper()
	dir, err := filepath.Abs(filepath.Join("testdata", "op"))
	if err != nil {
		t.Fatal(err)
	}
	installOP(t, dir)
	conf, err := json.Marshal(map[string]any{"client_id": clientID, "redirect_uris": []string{redirectURI}, "jwks": rpJWKS})
	if err != nil {
		t.Fatal(err)
	}
	confPath := writeFile(t, t.TempDir(), "op.json", string(conf))

	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, "node", "op.js", confPath)
	cmd.Dir = dir
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 5 * time.Second
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		_ = cmd.Wait()
		if t.Failed() && stderr.Len() > 0 {
			t.Logf("test OP stderr:\n%s", stderr.String())
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
		return &nodeOP{issuer: issuer}
	case <-time.After(20 * time.Second):
		t.Fatalf("test OP did not start within 20 s; stderr:\n%s", stderr.String())
	}
	return nil
}

// rotate makes the OP sign with a new key, dropping the old one.
func (o *nodeOP) rotate(t *testing.T) {
	t.Helper()
	resp, err := http.Post(o.issuer+"/test/rotate", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("rotate: %s", resp.Status)
	}
}

// jwksFetches counts the JWKS downloads the OP has served.
func (o *nodeOP) jwksFetches(t *testing.T) int {
	t.Helper()
	var s struct {
		JWKSFetches int `json:"jwks_fetches"`
	}
	if _, err := getJSON(context.Background(), http.DefaultClient, o.issuer+"/test/stats", &s); err != nil {
		t.Fatal(err)
	}
	return s.JWKSFetches
}
