package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"

	sqlite "modernc.org/sqlite"
)

// Copies of the whole database, and putting one back. See DECISIONS.md,
// "How is a snapshot taken and put back?".

// ErrNewerSchema means a database copy was made by a Compadre whose
// migrations this one does not have.
var ErrNewerSchema = errors.New("store: the copy's schema is newer than this server's")

// backupConn is what modernc.org/sqlite's connections offer for SQLite's
// online backup API, in both directions.
type backupConn interface {
	NewBackup(dstURI string) (*sqlite.Backup, error)
	NewRestore(srcURI string) (*sqlite.Backup, error)
}

// copyPages runs the backup that start opens on conn, all pages in one
// step: one transaction on each side, so a backup is never restarted by a
// write landing between steps, and no reader of a restored database ever
// sees part of the copy.
func copyPages(conn *sql.Conn, start func(backupConn) (*sqlite.Backup, error)) error {
	return conn.Raw(func(dc any) error {
		bc, ok := dc.(backupConn)
		if !ok {
			return fmt.Errorf("the driver's connection %T has no backup API", dc)
		}
		b, err := start(bc)
		if err != nil {
			return err
		}
		if _, err := b.Step(-1); err != nil {
			_ = b.Finish()
			return err
		}
		return b.Finish()
	})
}

// Backup writes a consistent copy of the whole database to path, a file
// that must not exist yet: the database as one read transaction sees it,
// so concurrent writes are either wholly in it or wholly not. The copy is
// a standalone file (rollback journal, synced) that Restore puts back.
//
// It runs on a reader connection, so writes go on while it copies.
func (s *Store) Backup(ctx context.Context, path string) error {
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("store: backup to %s: the file exists", path)
	}
	conn, err := s.read.Conn(ctx)
	if err != nil {
		return fmt.Errorf("store: backup: %w", err)
	}
	defer conn.Close()
	err = copyPages(conn, func(bc backupConn) (*sqlite.Backup, error) { return bc.NewBackup(fileURI(path, nil)) })
	if err == nil {
		err = standalone(ctx, path)
	}
	if err != nil {
		_ = os.Remove(path)
		return fmt.Errorf("store: backup to %s: %w", path, err)
	}
	return nil
}

// standalone turns a fresh copy into a file that needs nothing beside it:
// the page copied from the live database says WAL, and a WAL database
// opened for reading wants to create -wal and -shm files next to it.
func standalone(ctx context.Context, path string) error {
	db, err := sql.Open("sqlite", fileURI(path, url.Values{"_pragma": {"synchronous(FULL)"}}))
	if err != nil {
		return err
	}
	defer db.Close()
	var mode string
	if err := db.QueryRowContext(ctx, `PRAGMA journal_mode = DELETE`).Scan(&mode); err != nil {
		return err
	}
	if mode != "delete" {
		return fmt.Errorf("journal mode stayed %q", mode)
	}
	return db.Close()
}

// Restore replaces the whole database with the copy at path (made by
// Backup) in one write transaction: every connection sees the old content
// until it commits and the new one after, with no moment in between. The
// pools stay open; SQLite's backup API bumps the schema cookie, so every
// other connection re-reads the schema (its prepared statements included)
// before its next read.
//
// A copy made before later migrations is brought up to date first (in a
// temporary file beside it, which is removed); one made by a newer
// Compadre is ErrNewerSchema. A failure changes nothing.
//
// The caller makes sure nothing else uses the store meanwhile that would
// mind the content changing under it: a transaction of its own that
// spans the restore would fail to commit, not see a mixture.
func (s *Store) Restore(ctx context.Context, path string) error {
	src, cleanup, err := s.current(ctx, path)
	if err != nil {
		return fmt.Errorf("store: restore %s: %w", path, err)
	}
	defer cleanup()
	conn, err := s.write.Conn(ctx)
	if err != nil {
		return fmt.Errorf("store: restore: %w", err)
	}
	defer conn.Close()
	err = copyPages(conn, func(bc backupConn) (*sqlite.Backup, error) {
		return bc.NewRestore(fileURI(src, url.Values{"mode": {"ro"}, "immutable": {"1"}}))
	})
	// Whatever happened, cached lookups may no longer hold.
	s.cache.invalidate()
	if err != nil {
		return fmt.Errorf("store: restore %s: %w", path, err)
	}
	// The workers look again at once: the restored database may hold
	// work that is due.
	signal(s.webhooks)
	signal(s.postProcessing)
	return nil
}

// current returns a copy of the database at path at this server's schema:
// path itself, or a migrated temporary copy that cleanup removes.
func (s *Store) current(ctx context.Context, path string) (string, func(), error) {
	none := func() {}
	if _, err := os.Stat(path); err != nil {
		return "", none, err
	}
	have, err := copyVersion(ctx, path)
	if err != nil {
		return "", none, err
	}
	sources := s.ready.ListSources()
	want := int64(0)
	if len(sources) > 0 {
		want = sources[len(sources)-1].Version
	}
	switch {
	case have == want:
		return path, none, nil
	case have > want:
		return "", none, fmt.Errorf("%w (version %d, this server's %d)", ErrNewerSchema, have, want)
	}
	tmp, err := os.MkdirTemp(filepath.Dir(path), ".migrate-")
	if err != nil {
		return "", none, err
	}
	cleanup := func() { _ = os.RemoveAll(tmp) }
	migrated := filepath.Join(tmp, filepath.Base(path))
	if err := copyFile(path, migrated); err != nil {
		cleanup()
		return "", none, err
	}
	// Opening a store migrates it; closing it checkpoints its log into
	// the file, which is then the whole database.
	st, err := Open(ctx, migrated, WithDurability(DurabilityNormal))
	if err != nil {
		cleanup()
		return "", none, err
	}
	if err := st.Close(); err != nil {
		cleanup()
		return "", none, err
	}
	return migrated, cleanup, nil
}

// copyVersion is the last migration applied to the copy at path.
func copyVersion(ctx context.Context, path string) (int64, error) {
	db, err := sql.Open("sqlite", fileURI(path, url.Values{"mode": {"ro"}, "immutable": {"1"}}))
	if err != nil {
		return 0, err
	}
	defer db.Close()
	var v sql.NullInt64
	if err := db.QueryRowContext(ctx, `SELECT MAX(version_id) FROM goose_db_version`).Scan(&v); err != nil {
		return 0, fmt.Errorf("not a Compadre database: %w", err)
	}
	return v.Int64, nil
}

func copyFile(from, to string) error {
	b, err := os.ReadFile(from)
	if err != nil {
		return err
	}
	return os.WriteFile(to, b, 0o600)
}

// fileURI is an SQLite URI naming the file at path, with q's parameters.
func fileURI(path string, q url.Values) string {
	u := url.URL{Scheme: "file", Path: path, RawQuery: q.Encode()}
	if abs, err := filepath.Abs(path); err == nil {
		u.Path = abs
	}
	return u.String()
}
