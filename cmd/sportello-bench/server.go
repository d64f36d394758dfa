package main

import (
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
)

// serverProc is one `sportello serve` process started for a run.
type serverProc struct {
	cmd  *exec.Cmd
	base string // http://host:port
}

// startServer runs bin serve with cfg as its configuration file in dir and
// waits until it prints its address.
func startServer(bin, dir, cfg string, args ...string) (*serverProc, error) {
	path := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		return nil, err
	}
	args = append([]string{"serve", "--listen", "127.0.0.1:0", "--data-dir", filepath.Join(dir, "data"), "--log-level", "warn"}, args...)
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "SPORTELLO_CONFIG="+path)
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &serverProc{cmd: cmd}
	base, err := waitForAddress(stdout)
	if err != nil {
		p.stop()
		return nil, err
	}
	go func() { _, _ = io.Copy(io.Discard, stdout) }()
	p.base = base
	return p, nil
}

func (p *serverProc) pid() int { return p.cmd.Process.Pid }

// stop ends the process as an orchestrator would (SIGTERM) and waits.
func (p *serverProc) stop() {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	_ = p.cmd.Wait()
}
