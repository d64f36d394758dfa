// Package storage implements the domain stores (cases, directory, intake) on
// gorm, for PostgreSQL in production and SQLite as the embedded default. It
// owns the schema: versioned SQL migrations per dialect, applied with goose.
// Domain rules do not live here.
package storage

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"path/filepath"
	"strings"
	"time"

	"github.com/glebarez/sqlite"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"
)

//go:embed migrations
var migrations embed.FS

// Dialect names the database engine.
type Dialect string

const (
	SQLite   Dialect = "sqlite"
	Postgres Dialect = "postgres"
)

// DB is an open database with every domain store on it.
type DB struct {
	gorm    *gorm.DB
	sql     *sql.DB
	dialect Dialect
	stats   *searchStats
	depts   *deptFlags
	claims  *claimBatcher
	// work measures the report facts' durations (see SetWorkingTime).
	work WorkingTime
	// rollupMargin: see SetReportRollupMargin.
	rollupMargin *time.Duration
}

// Open connects to dsn: a "postgres://" or "postgresql://" URL (or a libpq
// key=value string containing "host=") selects PostgreSQL; anything else is
// a path to an SQLite file. SQLite runs in WAL mode with synchronous=FULL
// and immediate write transactions, so a committed case survives power loss.
// Open does not migrate: call Migrate. Options tune the pool.
func Open(ctx context.Context, dsn string, opts ...Option) (*DB, error) {
	o := options{maxOpenConns: 32}
	for _, f := range opts {
		f(&o)
	}
	cfg := &gorm.Config{Logger: logger.Discard, SkipDefaultTransaction: true, PrepareStmt: false}
	var (
		g       *gorm.DB
		err     error
		dialect Dialect
	)
	if isPostgres(dsn) {
		dialect = Postgres
		g, err = gorm.Open(postgres.Open(dsn), cfg)
	} else {
		dialect = SQLite
		g, err = gorm.Open(sqlite.Open(sqliteDSN(dsn)), cfg)
	}
	if err != nil {
		return nil, fmt.Errorf("open %s database: %w", dialect, err)
	}
	sdb, err := g.DB()
	if err != nil {
		return nil, err
	}
	if dialect == SQLite {
		// One writer at a time is SQLite's model; a small pool keeps readers
		// concurrent under WAL without piling up writers on the busy handler.
		sdb.SetMaxOpenConns(4)
	} else {
		sdb.SetMaxOpenConns(o.maxOpenConns)
		// database/sql keeps 2 idle connections by default: under load every
		// other query then opened a new PostgreSQL backend (a process, its
		// catalog caches cold), which halved ClaimNextCase's throughput.
		sdb.SetMaxIdleConns(o.maxOpenConns)
		sdb.SetConnMaxIdleTime(5 * time.Minute)
	}
	if err := sdb.PingContext(ctx); err != nil {
		_ = sdb.Close()
		return nil, fmt.Errorf("connect to %s database: %w", dialect, err)
	}
	return &DB{gorm: g, sql: sdb, dialect: dialect, stats: &searchStats{}, depts: &deptFlags{},
		claims: &claimBatcher{queues: map[string]*claimQueue{}}}, nil
}

type options struct{ maxOpenConns int }

// Option tunes Open.
type Option func(*options)

// WithMaxOpenConns caps the PostgreSQL connection pool (n > 0); SQLite
// keeps its own small pool.
func WithMaxOpenConns(n int) Option {
	return func(o *options) {
		if n > 0 {
			o.maxOpenConns = n
		}
	}
}

func isPostgres(dsn string) bool {
	return strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") ||
		strings.Contains(dsn, "host=")
}

// sqliteDSN turns a file path into a DSN with Sportello's durability pragmas.
func sqliteDSN(path string) string {
	if strings.HasPrefix(path, "file:") {
		return path
	}
	q := url.Values{}
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(FULL)")
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "busy_timeout(10000)")
	q.Set("_txlock", "immediate")
	return "file:" + filepath.ToSlash(path) + "?" + q.Encode()
}

// Dialect reports the engine in use.
func (db *DB) Dialect() Dialect { return db.dialect }

// Close closes the connection pool.
func (db *DB) Close() error { return db.sql.Close() }

// Migrate applies every pending migration, then NormalisePhones. On
// PostgreSQL a session advisory lock makes concurrent replicas wait for
// each other instead of racing.
func (db *DB) Migrate(ctx context.Context, log *slog.Logger) error {
	p, err := db.migrator()
	if err != nil {
		return err
	}
	results, err := p.Up(ctx)
	for _, r := range results {
		log.Info("migration applied", "version", r.Source.Version, "file", filepath.Base(r.Source.Path), "duration", r.Duration)
	}
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	// Data no SQL statement can mend in both dialects.
	rep, err := db.NormalisePhones(ctx)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	logPhones(log, rep)
	return nil
}

// MigrationStatus reports the current and the latest known schema version.
func (db *DB) MigrationStatus(ctx context.Context) (current, latest int64, err error) {
	p, err := db.migrator()
	if err != nil {
		return 0, 0, err
	}
	current, err = p.GetDBVersion(ctx)
	if err != nil {
		return 0, 0, err
	}
	srcs := p.ListSources()
	if len(srcs) > 0 {
		latest = srcs[len(srcs)-1].Version
	}
	return current, latest, nil
}

func (db *DB) migrator() (*goose.Provider, error) {
	sub, err := fs.Sub(migrations, "migrations/"+string(db.dialect))
	if err != nil {
		return nil, err
	}
	var opts []goose.ProviderOption
	gd := goose.DialectSQLite3
	if db.dialect == Postgres {
		gd = goose.DialectPostgres
		// Poll every second for up to five minutes while another replica migrates.
		locker, err := lock.NewPostgresSessionLocker(lock.WithLockTimeout(1, 300))
		if err != nil {
			return nil, err
		}
		opts = append(opts, goose.WithSessionLocker(locker))
	}
	return goose.NewProvider(gd, db.sql, sub, opts...)
}

// isUniqueViolation reports a unique-constraint failure on either engine.
func isUniqueViolation(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, gorm.ErrDuplicatedKey) {
		return true
	}
	s := err.Error()
	return strings.Contains(s, "UNIQUE constraint failed") || strings.Contains(s, "SQLSTATE 23505")
}
