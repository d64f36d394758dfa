package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sportello/sportello/services/storage/storetest"
	"github.com/sportello/sportello/web"
)

// TestIntegrationBrowserScenarios runs every scenario of web/e2e (one file
// each in web/e2e/scenarios) in headless Chromium, driven by playwright-core,
// against this server on embedded defaults: axe-core checks each page
// visited for serious or critical WCAG 2.1 AA violations, and each page is
// photographed at 1280 and 375 pixels wide (the folder is printed). Each
// scenario is a parallel subtest with its own server. It is skipped only
// when Node.js or Chromium is not installed.
func TestIntegrationBrowserScenarios(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("real-browser scenarios are not short")
	}
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("SKIPPED: Node.js is not installed; the real-browser scenarios (web/e2e) need node and Chromium (apt-get install -y nodejs chromium)")
	}
	chromium := os.Getenv("CHROMIUM")
	if chromium == "" {
		chromium = "/usr/bin/chromium"
	}
	if _, err := os.Stat(chromium); err != nil {
		t.Skipf("SKIPPED: Chromium is not at %s; the real-browser scenarios need it (apt-get install -y chromium, or set CHROMIUM)", chromium)
	}
	root, _ := filepath.Abs("../../web")
	for _, dep := range []string{"playwright-core", "axe-core"} {
		if _, err := os.Stat(filepath.Join(root, "node_modules", dep)); err != nil {
			t.Fatalf("web/node_modules/%s is missing: run `make assets` (npm ci in web/)", dep)
		}
	}
	if err := web.AssetsMissing(); err != nil {
		t.Fatal(err)
	}
	artifacts := os.Getenv("SPORTELLO_E2E_ARTIFACTS")
	if artifacts == "" {
		artifacts = filepath.Join(root, "e2e", "artifacts")
	}
	files, err := filepath.Glob(filepath.Join(root, "e2e", "scenarios", "*.mjs"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no scenarios in web/e2e/scenarios: %v", err)
	}
	t.Logf("screenshots and axe reports: %s", artifacts)
	// The scenarios run at once, each against a server of its own (so no
	// scenario sees another's cases) and in a Chromium of its own: most of
	// a scenario's time is spent waiting on the browser or the server.
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".mjs")
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s := startServer(t, testConfig(t, storetest.Backends()[0]))
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, node, "e2e/run.mjs", "--base", s.base, "--artifacts", artifacts, name)
			cmd.Dir = root
			cmd.Env = append(os.Environ(), "CHROMIUM="+chromium)
			out, err := cmd.CombinedOutput()
			t.Logf("%s", out)
			if err != nil {
				t.Fatalf("scenario %s: %v", name, err)
			}
		})
	}
}
