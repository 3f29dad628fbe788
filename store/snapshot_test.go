package store

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/pressly/goose/v3"
)

func userEmails(t testing.TB, s *Store, org string) []string {
	t.Helper()
	users, _, err := s.ListUsers(context.Background(), org, UserFilter{Limit: -1})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, u := range users {
		out = append(out, u.Email)
	}
	return out
}

func addUser(t testing.TB, s *Store, admin User, email string) User {
	t.Helper()
	u, err := s.CreateUser(context.Background(), User{OrgID: admin.OrgID, RoleID: admin.RoleID, FirstName: "F",
		LastName: "L", Email: email, Preferences: DefaultPreferences()})
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func TestBackupRestore(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	admin := newOrg(t, s, "a")
	addUser(t, s, admin, "before@a.example")
	copyPath := filepath.Join(t.TempDir(), "copy.db")
	if err := s.Backup(ctx, copyPath); err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprint(userEmails(t, s, "a"))
	addUser(t, s, admin, "after@a.example")
	newOrg(t, s, "b")
	if err := s.Restore(ctx, copyPath); err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(userEmails(t, s, "a")); got != want {
		t.Errorf("users after restore: got %s, want %s", got, want)
	}
	if _, err := s.GetOrganization(ctx, "b"); !errors.Is(err, ErrNotFound) {
		t.Errorf("organization made after the copy: got %v, want ErrNotFound", err)
	}
	// The store goes on working: writes land on the restored content.
	addUser(t, s, admin, "later@a.example")
	if got := len(userEmails(t, s, "a")); got != 3 {
		t.Errorf("users after a write on the restored content: got %d, want 3", got)
	}
	entries, _ := os.ReadDir(filepath.Dir(copyPath))
	if len(entries) != 1 {
		t.Errorf("files beside the copy: got %d, want only the copy", len(entries))
	}
}

func TestRestoreIsAtomicForReaders(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	admin := newOrg(t, s, "a")
	small := filepath.Join(t.TempDir(), "small.db")
	if err := s.Backup(ctx, small); err != nil {
		t.Fatal(err)
	}
	for i := range 200 {
		addUser(t, s, admin, fmt.Sprintf("u%d@a.example", i))
	}
	large := filepath.Join(t.TempDir(), "large.db")
	if err := s.Backup(ctx, large); err != nil {
		t.Fatal(err)
	}
	var stop atomic.Bool
	var wg sync.WaitGroup
	var bad atomic.Int64
	for range 4 {
		wg.Go(func() {
			for !stop.Load() {
				n := len(userEmails(t, s, "a"))
				if n != 1 && n != 201 {
					bad.Add(1)
				}
			}
		})
	}
	for i := range 20 {
		path := small
		if i%2 == 1 {
			path = large
		}
		if err := s.Restore(ctx, path); err != nil {
			t.Fatal(err)
		}
	}
	stop.Store(true)
	wg.Wait()
	if bad.Load() > 0 {
		t.Errorf("reads that saw a mixture: %d", bad.Load())
	}
}

// countRows counts the rows of every table with an org_id column that
// belong to org, by table.
func countRows(t testing.TB, s *Store, org string) map[string]int {
	t.Helper()
	ctx := context.Background()
	tx := s.read
	tables, err := orgTables(ctx, tx)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	for _, table := range tables {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM "`+table+`" WHERE org_id = ?`, org).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n > 0 {
			out[table] = n
		}
	}
	return out
}

// resetRoles are the built-in roles of the reset tests: "Admin" (every
// permission of the test) and "Reader".
var resetRoles = []Role{
	{Name: "Reader", Description: "r", FrontendView: "client", Builtin: true,
		PermissionGrants: []PermissionGrant{{PermissionName: "User:GetUserInfo"}}},
	{Name: "Admin", Description: "all", FrontendView: "admin", Builtin: true,
		PermissionGrants: []PermissionGrant{{PermissionName: "User:GetUserInfo"}, {PermissionName: "Metric:CreateMetric"}}},
}

// resetOrg creates organization id with resetRoles and returns its admin.
func resetOrg(t testing.TB, s *Store, id string) User {
	t.Helper()
	_, admin, err := s.CreateOrganization(context.Background(), NewOrganization{
		Org:   Organization{ID: id, Name: id, DefaultUserPreferences: DefaultPreferences()},
		Roles: resetRoles, Admin: User{FirstName: "A", LastName: "B", Email: "admin@" + id + ".example"}, AdminRole: "Admin",
	})
	if err != nil {
		t.Fatal(err)
	}
	return admin
}

// replaceWithReader gives every custom role's holders the built-in Reader.
func replaceWithReader(_ Role, builtin []Role) Role {
	for _, r := range builtin {
		if r.Name == "Reader" {
			return r
		}
	}
	return builtin[0]
}

// TestResetOrganization: a reset keeps the organization, its built-in
// roles, every key and the users the keys and the organization need
// (custom roles replaced), deletes everything else of the organization
// (full-text rows included), and leaves other organizations alone.
func TestResetOrganization(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	admin := resetOrg(t, s, "a")
	otherAdmin := resetOrg(t, s, "b")
	// seed gives the organization a custom role held by a user and a
	// key, a user without a key, a variable, a metric and a tool.
	seed := func(admin User) (holder User) {
		org := admin.OrgID
		custom, err := s.CreateRole(ctx, Role{OrgID: org, Name: "Custom", Description: "c", FrontendView: "admin",
			PermissionGrants: []PermissionGrant{{PermissionName: "User:GetUserInfo"}}})
		if err != nil {
			t.Fatal(err)
		}
		holder = addUser(t, s, admin, "holder@"+org+".example")
		addUser(t, s, admin, "stranger@"+org+".example")
		if err := s.UpdateUser(ctx, org, holder.ID, func(u *User) error { u.RoleID = custom.ID; return nil }); err != nil {
			t.Fatal(err)
		}
		for i, u := range []User{admin, holder} {
			if _, err := s.CreateAPIKey(ctx, APIKey{KeyID: fmt.Sprintf("%s-k%d", org, i), OrgID: org, SecretHash: "h",
				RoleID:        map[bool]string{true: custom.ID, false: admin.RoleID}[i == 1],
				CreatorUserID: u.ID, CreatorOrgID: org, ExpiresAt: s.now().AddDate(1, 0, 0)}); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.ModifyUserVariables(ctx, org, admin.ID, []Variable{{Name: "v", Value: []byte("1")}}, nil); err != nil {
			t.Fatal(err)
		}
		by := Actor{OrgID: org, UserID: admin.ID}
		if _, err := s.CreateMetric(ctx, Metric{OrgID: org, Name: "quality", ValueType: "numerical", Creator: by},
			MetricVersion{Description: "d", ValueType: "numerical", Value: []byte(`{}`), Creator: by}); err != nil {
			t.Fatal(err)
		}
		tool, err := s.CreateTool(ctx, Tool{OrgID: org, Name: "t", Description: "d", Creator: by})
		if err != nil {
			t.Fatal(err)
		}
		publish(t, s, org, tool.ID)
		return holder
	}
	seed(admin)
	holder := seed(otherAdmin)
	otherBefore := countRows(t, s, "b")
	settings := Organization{DefaultUserPreferences: DefaultPreferences()}
	if err := s.UpdateOrganization(ctx, "a", OrganizationPatch{UserDimensions: &[]UserDimension{{Description: "x", Tags: []string{}}}}); err != nil {
		t.Fatal(err)
	}

	if err := s.ResetOrganization(ctx, "missing", OrgReset{Roles: resetRoles, Replace: replaceWithReader}); !errors.Is(err, ErrNotFound) {
		t.Errorf("reset of a missing organization: got %v, want ErrNotFound", err)
	}
	if err := s.ResetOrganization(ctx, "a", OrgReset{Roles: resetRoles, Replace: replaceWithReader, Settings: &settings}); err != nil {
		t.Fatal(err)
	}

	if got, want := fmt.Sprint(userEmails(t, s, "a")), "[admin@a.example holder@a.example]"; got != want {
		t.Errorf("users after reset: got %s, want %s", got, want)
	}
	roles, err := s.ListRoles(ctx, "a")
	if err != nil {
		t.Fatal(err)
	}
	byID := map[string]string{}
	for _, r := range roles {
		byID[r.ID] = r.Name
	}
	if len(roles) != 2 || byID[admin.RoleID] != "Admin" {
		t.Errorf("roles after reset: got %v, want the built-in Reader and Admin", byID)
	}
	keys, err := s.ListAPIKeys(ctx, "a")
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		if _, ok := byID[k.RoleID]; !ok {
			t.Errorf("key %s holds role %s, which is gone", k.KeyID, k.RoleID)
		}
	}
	if len(keys) != 2 {
		t.Errorf("keys after reset: got %d, want 2", len(keys))
	}
	users, _, _ := s.ListUsers(ctx, "a", UserFilter{Limit: -1})
	for _, u := range users {
		if byID[u.RoleID] == "" {
			t.Errorf("user %s holds role %s, which is gone", u.Email, u.RoleID)
		}
		if u.Email == "holder@a.example" && byID[u.RoleID] != "Reader" {
			t.Errorf("the custom role's holder: got role %s, want Reader", byID[u.RoleID])
		}
	}
	want := map[string]int{"roles": 2, "users": 2, "api_keys": 2}
	if got := countRows(t, s, "a"); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("rows of the reset organization: got %v, want %v", got, want)
	}
	var vars, fts int
	if err := s.read.QueryRowContext(ctx, `SELECT COUNT(*) FROM user_variables WHERE user_id = ?`, admin.ID).Scan(&vars); err != nil || vars != 0 {
		t.Errorf("the administrator's variables: got %d, %v; want none", vars, err)
	}
	if err := s.read.QueryRowContext(ctx, `SELECT COUNT(*) FROM metrics_fts`).Scan(&fts); err != nil || fts != 1 {
		t.Errorf("full-text rows of metrics: got %d, %v; want only the other organization's", fts, err)
	}
	if org, err := s.GetOrganization(ctx, "a"); err != nil || len(org.UserDimensions) != 0 {
		t.Errorf("the organization's settings: got %+v, %v; want the first ones", org, err)
	}
	if got := countRows(t, s, "b"); fmt.Sprint(got) != fmt.Sprint(otherBefore) {
		t.Errorf("rows of the other organization: got %v, want %v", got, otherBefore)
	}

	// Reset all: b is deleted outright, a is reset again.
	if err := s.ResetAll(ctx, "a", OrgReset{Roles: resetRoles, Replace: replaceWithReader}); err != nil {
		t.Fatal(err)
	}
	if got := countRows(t, s, "b"); len(got) != 0 {
		t.Errorf("rows of a deleted organization: got %v, want none", got)
	}
	if _, err := s.GetUser(ctx, "b", holder.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("a user of a deleted organization: got %v", err)
	}
	if err := s.read.QueryRowContext(ctx, `SELECT COUNT(*) FROM metrics_fts`).Scan(&fts); err != nil || fts != 0 {
		t.Errorf("full-text rows of metrics after reset all: got %d, %v; want none", fts, err)
	}
	if got := countRows(t, s, "a"); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("rows of the kept organization: got %v, want %v", got, want)
	}
}

// TestEveryFullTextIndexIsReset: each full-text index either follows its
// table by triggers (external content) or is listed in ftsOwners, so a
// reset leaves no rows of deleted records in it.
func TestEveryFullTextIndexIsReset(t *testing.T) {
	s := openTest(t)
	rows, err := s.read.Query(`SELECT name, sql FROM sqlite_schema WHERE type = 'table' AND sql LIKE 'CREATE VIRTUAL%'`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	listed := map[string]bool{}
	for _, f := range ftsOwners {
		listed[f.fts] = true
	}
	for rows.Next() {
		var name, def string
		if err := rows.Scan(&name, &def); err != nil {
			t.Fatal(err)
		}
		if !listed[name] && !strings.Contains(def, "content") {
			t.Errorf("full-text index %s is neither external content nor in ftsOwners", name)
		}
	}
}

// olderCopy writes a database migrated only up to the migration before
// the last, holding organization "old", and returns its path.
func olderCopy(t *testing.T) string {
	t.Helper()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "old.db")
	db, err := sql.Open("sqlite", fileURI(path, url.Values{"_pragma": {"foreign_keys(ON)"}}))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	fsys, err := fs.Sub(migrations, "migrations")
	if err != nil {
		t.Fatal(err)
	}
	p, err := goose.NewProvider(goose.DialectSQLite3, db, fsys)
	if err != nil {
		t.Fatal(err)
	}
	sources := p.ListSources()
	if _, err := p.UpTo(ctx, sources[len(sources)-2].Version); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, `INSERT INTO organizations (id, name, default_user_preferences, created_at, updated_at)
		VALUES ('old', 'old', '{}', '2026-01-01T00:00:00.000000Z', '2026-01-01T00:00:00.000000Z')`); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestRestoreMigratesAnOlderCopy: a copy made before the last migration
// is brought up to date as it is restored, and the copy itself is left
// as it was.
func TestRestoreMigratesAnOlderCopy(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	path := olderCopy(t)
	before, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Restore(ctx, path); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetOrganization(ctx, "old"); err != nil {
		t.Errorf("the older copy's organization: %v", err)
	}
	if err := s.Ready(ctx); err != nil {
		t.Errorf("after restoring an older copy: %v", err)
	}
	after, _ := os.ReadFile(path)
	if !bytes.Equal(before, after) {
		t.Error("the older copy was changed")
	}
	if entries, _ := os.ReadDir(filepath.Dir(path)); len(entries) != 1 {
		t.Errorf("files beside the copy: got %d, want the copy alone", len(entries))
	}
}

// TestRestoreRefusesANewerCopy: a copy with a migration this store does
// not know is refused, and nothing changes.
func TestRestoreRefusesANewerCopy(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	newOrg(t, s, "kept")
	path := filepath.Join(t.TempDir(), "copy.db")
	if err := s.Backup(ctx, path); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", fileURI(path, nil))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`INSERT INTO goose_db_version (version_id, is_applied) VALUES (99999, 1)`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	newOrg(t, s, "later")
	if err := s.Restore(ctx, path); !errors.Is(err, ErrNewerSchema) {
		t.Errorf("restore of a newer copy: got %v, want ErrNewerSchema", err)
	}
	if _, err := s.GetOrganization(ctx, "later"); err != nil {
		t.Errorf("after a refused restore: %v", err)
	}
	if err := s.Restore(ctx, filepath.Join(t.TempDir(), "missing.db")); err == nil {
		t.Error("restore of a missing file: got no error")
	}
}
