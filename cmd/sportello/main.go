// Command sportello runs the Sportello server: `sportello serve` starts
// everything (embedded SQLite and NATS when nothing else is configured);
// `sportello migrate` applies database migrations and exits.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/pprof"
	"strings"
	"syscall"
	"time"
	_ "time/tzdata" // Europe/Rome on machines without zoneinfo

	"github.com/sportello/sportello/services/storage"
)

const usage = `usage: sportello <command> [flags]

commands:
  serve     run the server (gRPC, REST, channels, intake)
  migrate   apply database migrations and exit
  dev-token print a bearer token of a test identity of the development
            identity provider (sportello dev-token --as operator-statistics)

Run "sportello <command> -h" for the flags of a command.
`

func main() {
	// SPORTELLO_CPUPROFILE=file profiles the whole run (used by make bench
	// to say where the time goes).
	if path := os.Getenv("SPORTELLO_CPUPROFILE"); path != "" {
		if f, err := os.Create(path); err == nil {
			if pprof.StartCPUProfile(f) == nil {
				code := run(os.Args[1:], os.Stdout, os.Stderr, os.Getenv)
				pprof.StopCPUProfile()
				_ = f.Close()
				os.Exit(code)
			}
		}
	}
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr, os.Getenv))
}

func run(args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	cmd, rest := args[0], args[1:]
	fs := flag.NewFlagSet("sportello "+cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	switch cmd {
	case "dev-token":
		return devTokenMain(fs, rest, stdout, stderr, getenv)
	case "serve", "migrate":
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "unknown command %q\n\n%s", cmd, usage)
		return 2
	}
	cfg, err := loadConfig(fs, rest, getenv)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "sportello: configuration:\n  %s\n", strings.ReplaceAll(err.Error(), "\n", "\n  "))
		return 2
	}
	log := newLogger(stderr, cfg.LogLevel)
	ctx, cancel := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer cancel()
	if cmd == "migrate" {
		return migrate(ctx, cfg, log)
	}
	return serve(ctx, cfg, log, stdout)
}

func newLogger(w io.Writer, level string) *slog.Logger {
	var l slog.Level
	_ = l.UnmarshalText([]byte(level))
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: l}))
}

func serve(ctx context.Context, cfg Config, log *slog.Logger, stdout io.Writer) int {
	a, err := start(ctx, cfg, log)
	if err != nil {
		log.Error("start failed", "err", err)
		return 1
	}
	base := "http://" + a.Addr()
	log.Info("sportello started", "listen", a.Addr(), "smtp_listen", a.MailAddr(), "data_dir", cfg.DataDir, "database", a.db.Dialect(), "embedded_nats", a.ns != nil)
	fmt.Fprintf(stdout, "\nSportello is running: %s\n", base)
	fmt.Fprintf(stdout, "  request form:      %s/ (open it in a browser)\n", base)
	fmt.Fprintf(stdout, "  submit a request:  curl -H 'Content-Type: application/json' -d '{\"name\":\"Maria Rossi\",\"email\":\"maria@example.it\",\"category\":\"microdata\",\"subject\":\"Microdati\",\"message\":\"Vorrei i microdati.\"}' %s/v1/channels/webform/submissions\n", base)
	if addr := a.MailAddr(); addr != "" && len(cfg.Email.Mailboxes) > 0 {
		fmt.Fprintf(stdout, "  send an e-mail:    swaks --server %s --from maria@example.it --to %s --header 'Subject: Microdati' --body 'Vorrei i microdati.'\n",
			addr, cfg.Email.Mailboxes[0].Address)
	}
	if a.devToken != "" {
		fmt.Fprintf(stdout, "  list cases:        curl -H \"Authorization: Bearer $(cat %s/dev-admin-token)\" %s/v1/cases\n", cfg.DataDir, base)
	}
	if a.devIdP {
		fmt.Fprintf(stdout, "  sign in:           %s/account (test citizens and staff of the development identity provider)\n", base)
		fmt.Fprintf(stdout, "  as a test user:    curl -H \"Authorization: Bearer $(sportello dev-token --data-dir %s --as operator-statistics)\" %s/v1/cases\n", cfg.DataDir, base)
	}
	fmt.Fprintf(stdout, "  operator console:  %s/console/   supervisor board: %s/console/board   reports: %s/supervisor/reports\n", base, base, base)
	fmt.Fprintf(stdout, "  categories: %s/v1/categories   OpenAPI: %s/openapi.json   metrics: %s/metrics\n\n", base, base, base)
	select {
	case <-ctx.Done():
	case err := <-a.serveDone:
		log.Error("server stopped", "err", err)
	}
	log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	a.stop(sctx)
	log.Info("stopped")
	return 0
}

func migrate(ctx context.Context, cfg Config, log *slog.Logger) int {
	dsn := cfg.Database.DSN
	if dsn == "" {
		if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
			log.Error("data dir", "err", err)
			return 1
		}
		dsn = cfg.DataDir + "/sportello.db"
	}
	db, err := storage.Open(ctx, dsn)
	if err != nil {
		log.Error("migrate", "err", err)
		return 1
	}
	defer db.Close()
	if err := db.Migrate(ctx, log); err != nil {
		log.Error("migrate", "err", err)
		return 1
	}
	cur, _, _ := db.MigrationStatus(ctx)
	log.Info("database is up to date", "version", cur, "database", db.Dialect())
	return 0
}

// devTokenMain is `sportello dev-token --as <identity> [--data-dir DIR]`:
// a bearer token the server running on that data dir accepts, signed with
// its development identity provider's key.
func devTokenMain(fs *flag.FlagSet, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	dir := getenv("SPORTELLO_DATA_DIR")
	if dir == "" {
		dir = defaults().DataDir
	}
	fs.StringVar(&dir, "data-dir", dir, "the data directory of the running server")
	as := fs.String("as", "", "the test identity (citizen-mario, citizen-giuseppe, operator-<department>, operator-statistics-2, supervisor, admin)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if *as == "" {
		fmt.Fprintln(stderr, "sportello dev-token: --as <identity> is required")
		return 2
	}
	tok, err := devTokenCommand(dir, *as)
	if err != nil {
		fmt.Fprintf(stderr, "sportello dev-token: %v\n", err)
		return 1
	}
	fmt.Fprintln(stdout, tok)
	return 0
}
