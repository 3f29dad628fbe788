package app

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/compadre-dev/compadre/auth"
	"github.com/compadre-dev/compadre/store"
)

// Snapshots and reset (see the package doc). The state is the database
// and the tool repository's refs; the keys (token-signing, sealing),
// credentials.json and the mail sink are not state and are never saved or
// replaced. See DECISIONS.md, "What is in a snapshot?".

// SnapshotsDir is where snapshots are kept inside the data directory, one
// folder per snapshot.
const SnapshotsDir = "snapshots"

// Files inside a snapshot's folder.
const (
	snapshotDatabase = "database.db"
	snapshotManifest = "snapshot.json"
)

// Errors of the snapshot operations, besides ErrRequestsInFlight and
// ErrInsideRequest.
var (
	// ErrSnapshotName means a snapshot name is not 1 to 64 ASCII letters,
	// digits, '-' and '_', starting with a letter or digit.
	ErrSnapshotName = errors.New("app: invalid snapshot name")
	// ErrSnapshotNotFound means there is no snapshot of that name.
	ErrSnapshotNotFound = errors.New("app: snapshot not found")
)

// snapshotName is a name that is safe as a folder and as a part of a git
// ref, and cannot collide with the dot-prefixed folders of snapshots
// being written or deleted.
var snapshotName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$`)

// CheckSnapshotName returns ErrSnapshotName unless name can name a
// snapshot.
func CheckSnapshotName(name string) error {
	if !snapshotName.MatchString(name) {
		return fmt.Errorf("%w %q: use 1 to 64 letters, digits, '-' and '_', starting with a letter or digit", ErrSnapshotName, name)
	}
	return nil
}

// SnapshotInfo describes a snapshot.
type SnapshotInfo struct {
	Name string
	// CreatedAt is when it was taken, by the server's clock.
	CreatedAt time.Time
	// Bytes is the size of its copy of the database.
	Bytes int64
	// Refs is how many refs of the tool repository it holds.
	Refs int
}

// manifest is a snapshot's snapshot.json.
type manifest struct {
	CreatedAt time.Time `json:"created_at"`
	// Pin names the refs under refs/compadre/snapshots/ that keep the
	// snapshot's commits in the tool repository.
	Pin string `json:"pin"`
	// Refs are the tool repository's refs when it was taken.
	Refs map[string]string `json:"refs"`
}

func (a *App) snapshotsDir() string { return filepath.Join(a.cfg.DataDir, SnapshotsDir) }

// Snapshot saves the whole state under name, replacing a snapshot of the
// same name once the new one is complete: a consistent copy of the
// database (one read transaction's view; requests go on meanwhile) and
// the tool repository's refs, whose commits it pins in the repository so
// that no git gc prunes them.
func (a *App) Snapshot(ctx context.Context, name string) (SnapshotInfo, error) {
	if err := CheckSnapshotName(name); err != nil {
		return SnapshotInfo{}, err
	}
	a.admin.Lock()
	defer a.admin.Unlock()
	dir := a.snapshotsDir()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return SnapshotInfo{}, fmt.Errorf("app: snapshot: %w", err)
	}
	a.removeLeftovers()
	tmp, err := os.MkdirTemp(dir, ".new-")
	if err != nil {
		return SnapshotInfo{}, fmt.Errorf("app: snapshot: %w", err)
	}
	m := manifest{CreatedAt: a.cfg.Now().UTC(), Pin: store.NewID()}
	done := false
	defer func() {
		if !done {
			_ = os.RemoveAll(tmp)
			_ = a.repo.Unpin(m.Pin)
		}
	}()
	// The refs are read and pinned before the database is copied, so
	// every commit a tool version of the copy was published from is kept.
	if m.Refs, err = a.repo.Refs(); err != nil {
		return SnapshotInfo{}, err
	}
	if err := a.repo.Pin(m.Pin, m.Refs); err != nil {
		return SnapshotInfo{}, err
	}
	if err := a.Store.Backup(ctx, filepath.Join(tmp, snapshotDatabase)); err != nil {
		return SnapshotInfo{}, err
	}
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return SnapshotInfo{}, err
	}
	if err := auth.WriteFileAtomic(filepath.Join(tmp, snapshotManifest), append(b, '\n'), 0o600); err != nil {
		return SnapshotInfo{}, fmt.Errorf("app: snapshot: %w", err)
	}
	final := filepath.Join(dir, name)
	old, oldErr := a.readManifest(name)
	aside := filepath.Join(dir, ".old-"+m.Pin)
	if oldErr == nil {
		// A folder cannot be renamed over another: the old one steps
		// aside first, and is deleted once the new one is in its place.
		if err := os.Rename(final, aside); err != nil {
			return SnapshotInfo{}, fmt.Errorf("app: snapshot: %w", err)
		}
	}
	if err := os.Rename(tmp, final); err != nil {
		if oldErr == nil {
			_ = os.Rename(aside, final)
		}
		return SnapshotInfo{}, fmt.Errorf("app: snapshot: %w", err)
	}
	done = true
	if oldErr == nil {
		_ = os.RemoveAll(aside)
	}
	if err := syncDir(dir); err != nil {
		return SnapshotInfo{}, fmt.Errorf("app: snapshot: %w", err)
	}
	if oldErr == nil {
		if err := a.repo.Unpin(old.Pin); err != nil {
			a.log.Warn("snapshot: unpin the replaced snapshot's refs", "snapshot", name, "err", err)
		}
	}
	return a.snapshotInfo(name, m)
}

// Restore puts the state saved as name back: the database's whole
// content and the tool repository's refs. It waits for the requests in
// flight to finish on the old state (ErrRequestsInFlight, changing
// nothing, if they take longer than DrainTimeout or ctx allows); requests
// arriving meanwhile wait and then run on the restored state. A name with
// no snapshot is ErrSnapshotNotFound. A failure changes nothing.
func (a *App) Restore(ctx context.Context, name string) error {
	if err := CheckSnapshotName(name); err != nil {
		return err
	}
	a.admin.Lock()
	defer a.admin.Unlock()
	m, err := a.readManifest(name)
	if err != nil {
		return err
	}
	return a.exclusively(ctx, func(ctx context.Context) error {
		before, err := a.repo.Refs()
		if err != nil {
			return err
		}
		if err := a.repo.SetRefs(m.Refs); err != nil {
			return errors.Join(err, a.repo.SetRefs(before))
		}
		if err := a.Store.Restore(ctx, filepath.Join(a.snapshotsDir(), name, snapshotDatabase)); err != nil {
			return errors.Join(err, a.repo.SetRefs(before))
		}
		return nil
	})
}

// Snapshots lists the snapshots, oldest first.
func (a *App) Snapshots(ctx context.Context) ([]SnapshotInfo, error) {
	a.admin.Lock()
	defer a.admin.Unlock()
	entries, err := os.ReadDir(a.snapshotsDir())
	if errors.Is(err, fs.ErrNotExist) {
		return []SnapshotInfo{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("app: snapshots: %w", err)
	}
	out := []SnapshotInfo{}
	for _, e := range entries {
		if !e.IsDir() || CheckSnapshotName(e.Name()) != nil {
			continue
		}
		m, err := a.readManifest(e.Name())
		if err != nil {
			a.log.Warn("snapshots: unreadable snapshot", "snapshot", e.Name(), "err", err)
			continue
		}
		info, err := a.snapshotInfo(e.Name(), m)
		if err != nil {
			return nil, err
		}
		out = append(out, info)
	}
	slices.SortFunc(out, func(x, y SnapshotInfo) int {
		return cmp.Or(x.CreatedAt.Compare(y.CreatedAt), strings.Compare(x.Name, y.Name))
	})
	return out, nil
}

// DeleteSnapshot deletes the snapshot saved as name and unpins its
// commits; ErrSnapshotNotFound if there is none.
func (a *App) DeleteSnapshot(ctx context.Context, name string) error {
	if err := CheckSnapshotName(name); err != nil {
		return err
	}
	a.admin.Lock()
	defer a.admin.Unlock()
	m, err := a.readManifest(name)
	if err != nil {
		return err
	}
	// Renamed away first, so the name is free at once even if deleting
	// the files is cut short.
	aside := filepath.Join(a.snapshotsDir(), ".del-"+m.Pin)
	if err := os.Rename(filepath.Join(a.snapshotsDir(), name), aside); err != nil {
		return fmt.Errorf("app: delete snapshot %s: %w", name, err)
	}
	return errors.Join(os.RemoveAll(aside), a.repo.Unpin(m.Pin))
}

// Reset takes the organization org back to its first state, as
// store.ResetOrganization describes, keeping every API key of it working;
// org "" resets the organization made at first start and deletes every
// other (whose keys stop working). The first-start organization's
// settings go back to their first values too. The tool repository is
// left as it is: its branches are the users' source, not the server's
// state. Like Restore, it waits for the requests in flight and holds new
// ones back; an unknown org is a *store.NotFoundError.
func (a *App) Reset(ctx context.Context, org string) error {
	a.admin.Lock()
	defer a.admin.Unlock()
	first, err := a.Store.BootstrappedOrg(ctx)
	if err != nil {
		return err
	}
	r := store.OrgReset{Roles: auth.BuiltinRoles(), Replace: replaceRole}
	if org == "" || org == first {
		settings := firstOrganization(first)
		r.Settings = &settings
	}
	if org != "" {
		// Checked before waiting for requests, so a mistyped name costs
		// the clients nothing.
		if _, err := a.Store.GetOrganization(ctx, org); err != nil {
			return err
		}
	}
	return a.exclusively(ctx, func(ctx context.Context) error {
		if org == "" {
			return a.Store.ResetAll(ctx, first, r)
		}
		return a.Store.ResetOrganization(ctx, org, r)
	})
}

// replaceRole picks the built-in role a custom role's users and keys
// hold after a reset: the one with the fewest grants that covers
// everything the custom role grants, so a key that could sign a user in
// still can, and nobody gains more than a built-in role must give; the
// broadest if none covers it.
func replaceRole(custom store.Role, builtin []store.Role) store.Role {
	byBreadth := slices.Clone(builtin)
	slices.SortStableFunc(byBreadth, func(x, y store.Role) int {
		return len(x.PermissionGrants) - len(y.PermissionGrants)
	})
	for _, r := range byBreadth {
		if auth.Covers(r.PermissionGrants, custom.PermissionGrants) {
			return r
		}
	}
	return byBreadth[len(byBreadth)-1]
}

// exclusively runs fn with the gate held exclusively and the background
// work stopped, then drops what the API remembers of the old state and
// restarts the work. Once the gate is held, fn runs to its end even if
// ctx is cancelled: a restore or reset is never left half done.
func (a *App) exclusively(ctx context.Context, fn func(ctx context.Context) error) error {
	open, err := a.gate.shut(ctx)
	if err != nil {
		return err
	}
	defer open()
	ctx = context.WithoutCancel(ctx)
	a.API.Pause()
	a.stopSweep()
	err = fn(ctx)
	a.API.Forget()
	a.startSweeper()
	if rerr := a.API.Resume(ctx); rerr != nil {
		err = errors.Join(err, fmt.Errorf("app: restart the background work: %w", rerr))
	}
	return err
}

func (a *App) readManifest(name string) (manifest, error) {
	var m manifest
	b, err := os.ReadFile(filepath.Join(a.snapshotsDir(), name, snapshotManifest))
	if errors.Is(err, fs.ErrNotExist) {
		return m, fmt.Errorf("%w: %s", ErrSnapshotNotFound, name)
	}
	if err != nil {
		return m, fmt.Errorf("app: snapshot %s: %w", name, err)
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return m, fmt.Errorf("app: snapshot %s: %w", name, err)
	}
	return m, nil
}

func (a *App) snapshotInfo(name string, m manifest) (SnapshotInfo, error) {
	st, err := os.Stat(filepath.Join(a.snapshotsDir(), name, snapshotDatabase))
	if err != nil {
		return SnapshotInfo{}, fmt.Errorf("app: snapshot %s: %w", name, err)
	}
	return SnapshotInfo{Name: name, CreatedAt: m.CreatedAt, Bytes: st.Size(), Refs: len(m.Refs)}, nil
}

// removeLeftovers deletes what a snapshot or deletion cut short by a
// crash left: the dot-prefixed folders no name can take.
func (a *App) removeLeftovers() {
	entries, _ := os.ReadDir(a.snapshotsDir())
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") {
			_ = os.RemoveAll(filepath.Join(a.snapshotsDir(), e.Name()))
		}
	}
}

// syncDir makes the renames in dir survive a power loss.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
