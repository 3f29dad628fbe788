// Package store keeps Compadre's state in one SQLite file.
//
// Every method on organization data takes the organization ID and filters by
// it in SQL, so tenancy is enforced where the data is read, not trusted to
// callers.
package store

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"time"

	"github.com/pressly/goose/v3"
	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

//go:embed migrations/*.sql
var migrations embed.FS

// Store is the handle to the database: one writer connection and a pool of
// readers over the same file.
//
// See DECISIONS.md, "Why one writer connection?".
type Store struct {
	write *sql.DB
	read  *sql.DB
	now   func() time.Time
	// durability is the synchronous pragma's value, read by Open.
	durability Durability
	// ready answers readiness probes: a migration provider over the readers.
	ready *goose.Provider
	// hot holds the statements every authenticated request runs, prepared
	// once per reader connection rather than parsed per request.
	hot hotStatements
	// grants caches parsed role grants for Principal.
	grants grantCache
	// cache remembers the per-request lookups until the next write.
	cache hotCache
	// webhooks is signalled after a commit queued webhook deliveries, and
	// postProcessing after one finished a conversation, so their workers
	// need not wait for their next look.
	webhooks       chan struct{}
	postProcessing chan struct{}
	// sql runs submit-sql-query's queries on read-only connections of
	// its own.
	sql *sqlPool
	// queued is set when a transaction queues webhook deliveries; the
	// commit that follows signals webhooks. Writes are serialised on one
	// connection, so the commit is that transaction's (or, at worst, a
	// rolled-back one's, and the deliverer looks for nothing).
	queued atomic.Bool
}

// hotStatements are the two lookups of every authenticated request: its
// organization and its principal. SQLite spends about as long parsing
// them as running them.
type hotStatements struct {
	organization, principal *sql.Stmt
}

func (s *Store) prepareHot(ctx context.Context) error {
	var err error
	if s.hot.organization, err = s.read.PrepareContext(ctx, getOrganizationQuery); err != nil {
		return fmt.Errorf("store: prepare: %w", err)
	}
	if s.hot.principal, err = s.read.PrepareContext(ctx, principalQuery); err != nil {
		return fmt.Errorf("store: prepare: %w", err)
	}
	return nil
}

// Option changes how Open builds a Store.
type Option func(*Store)

// WithClock makes the store stamp records with the given clock instead of
// time.Now, so tests can control creation and expiry times.
func WithClock(now func() time.Time) Option {
	return func(s *Store) { s.now = now }
}

// Durability says how hard a commit tries to survive a power loss.
//
// See DECISIONS.md, "Why synchronous=FULL by default?".
type Durability string

const (
	// DurabilityFull syncs the write-ahead log at every commit: once a
	// write is answered it survives a crash of the process and a power
	// loss. It is the default.
	DurabilityFull Durability = "full"
	// DurabilityNormal syncs the log only at checkpoints: a crash of the
	// process loses nothing, but a power loss or an operating system crash
	// can roll back the last commits (never corrupt the file).
	DurabilityNormal Durability = "normal"
)

// ParseDurability reads "full" or "normal".
func ParseDurability(s string) (Durability, error) {
	switch d := Durability(s); d {
	case DurabilityFull, DurabilityNormal:
		return d, nil
	}
	return "", fmt.Errorf("store: durability: want full or normal, got %q", s)
}

// WithDurability sets how hard commits try to survive a power loss; the
// default is DurabilityFull.
func WithDurability(d Durability) Option {
	return func(s *Store) { s.durability = d }
}

// Open opens (creating if needed) the database at path, applies pending
// migrations and returns a ready Store.
func Open(ctx context.Context, path string, opts ...Option) (*Store, error) {
	s := &Store{now: time.Now, durability: DurabilityFull, webhooks: make(chan struct{}, 1),
		postProcessing: make(chan struct{}, 1)}
	for _, o := range opts {
		o(s)
	}
	if _, err := ParseDurability(string(s.durability)); err != nil {
		return nil, err
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("store: open: %w", err)
	}
	// busy_timeout comes first so that every later pragma, and every
	// statement, waits for a lock instead of failing with SQLITE_BUSY.
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "foreign_keys(ON)")
	q.Add("_pragma", "synchronous("+strings.ToUpper(string(s.durability))+")")
	q.Add("_txlock", "immediate")
	dsn := "file:" + abs + "?" + q.Encode()

	write, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("store: open writer: %w", err)
	}
	write.SetMaxOpenConns(1)
	write.SetMaxIdleConns(1)
	write.SetConnMaxLifetime(0)

	read, err := sql.Open("sqlite", dsn+"&_pragma=query_only(1)")
	if err != nil {
		write.Close()
		return nil, fmt.Errorf("store: open readers: %w", err)
	}
	n := max(4, runtime.GOMAXPROCS(0)*2)
	read.SetMaxOpenConns(n)
	read.SetMaxIdleConns(n)
	read.SetConnMaxLifetime(0)

	s.write, s.read = write, read
	if s.sql, err = openSQLPool(abs); err != nil {
		s.Close()
		return nil, err
	}
	if err := s.migrate(ctx); err != nil {
		s.Close()
		return nil, err
	}
	if err := s.prepareHot(ctx); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

func (s *Store) migrate(ctx context.Context) error {
	fsys, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return fmt.Errorf("store: migrations: %w", err)
	}
	p, err := goose.NewProvider(goose.DialectSQLite3, s.write, fsys)
	if err != nil {
		return fmt.Errorf("store: migrations: %w", err)
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("store: migrate: %w", err)
	}
	if s.ready, err = goose.NewProvider(goose.DialectSQLite3, s.read, fsys); err != nil {
		return fmt.Errorf("store: migrations: %w", err)
	}
	return nil
}

// Ready reports whether the database answers and every migration is applied.
func (s *Store) Ready(ctx context.Context) error {
	pending, err := s.ready.HasPending(ctx)
	if err != nil {
		return fmt.Errorf("store: ready: %w", err)
	}
	if pending {
		return errors.New("store: ready: migrations pending")
	}
	return nil
}

// Close closes both connection pools. The WAL is checkpointed by SQLite when
// the last connection closes.
func (s *Store) Close() error {
	var err error
	for _, st := range []*sql.Stmt{s.hot.organization, s.hot.principal} {
		if st != nil {
			err = errors.Join(err, st.Close())
		}
	}
	if s.sql != nil {
		err = errors.Join(err, s.sql.db.Close())
	}
	return errors.Join(err, s.read.Close(), s.write.Close())
}

// anyRow reports whether q, run on a reader, returns a row. A worker
// looking for work asks it first, so an idle look never takes the write
// lock that claiming work needs.
func (s *Store) anyRow(ctx context.Context, q string, args ...any) (bool, error) {
	var one int
	err := s.read.QueryRowContext(ctx, q, args...).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	return err == nil, err
}

// inTx runs fn in a write transaction: committed if fn returns nil, rolled
// back otherwise, so a failed request writes nothing.
func (s *Store) inTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	// Whatever was committed, the cached lookups may no longer hold; they
	// are forgotten after the commit, so no lookup can keep what it read
	// before it (see hotCache).
	defer s.cache.invalidate()
	if err := tx.Commit(); err != nil {
		return err
	}
	if s.queued.Swap(false) {
		signal(s.webhooks)
	}
	return nil
}
