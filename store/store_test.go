package store

import (
	"context"
	"errors"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

func openTest(t testing.TB, opts ...Option) *Store {
	t.Helper()
	s, err := Open(context.Background(), filepath.Join(t.TempDir(), "test.db"), opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// newKey creates the API key k1 of user u, in u's organization with u's role.
func newKey(t testing.TB, s *Store, u User, expires time.Time) APIKey {
	t.Helper()
	k, err := s.CreateAPIKey(context.Background(), APIKey{KeyID: "k1", OrgID: u.OrgID, SecretHash: "h", RoleID: u.RoleID,
		CreatorUserID: u.ID, CreatorOrgID: u.OrgID, ExpiresAt: expires})
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// newOrg creates an organization with one role "Admin" and returns its admin.
func newOrg(t testing.TB, s *Store, id string) User {
	t.Helper()
	_, admin, err := s.CreateOrganization(context.Background(), NewOrganization{
		Org:       Organization{ID: id, Name: id, DefaultUserPreferences: DefaultPreferences()},
		Roles:     []Role{{Name: "Admin", Description: "all", FrontendView: "admin", PermissionGrants: []PermissionGrant{{PermissionName: "User:GetUserInfo"}}}},
		Admin:     User{FirstName: "A", LastName: "B", Email: "admin@" + id + ".example"},
		AdminRole: "Admin",
	})
	if err != nil {
		t.Fatal(err)
	}
	return admin
}

func TestOrganizationsAreIsolated(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	a := newOrg(t, s, "a")
	b := newOrg(t, s, "b")

	if _, err := s.GetUser(ctx, "b", a.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("org b reading org a's user: got %v, want ErrNotFound", err)
	}
	if err := s.DeleteUser(ctx, "b", a.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("org b deleting org a's user: got %v, want ErrNotFound", err)
	}
	if err := s.UpdateUser(ctx, "b", a.ID, func(u *User) error { u.FirstName = "x"; return nil }); !errors.Is(err, ErrNotFound) {
		t.Errorf("org b updating org a's user: got %v, want ErrNotFound", err)
	}
	users, _, err := s.ListUsers(ctx, "b", UserFilter{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	if len(users) != 1 || users[0].ID != b.ID {
		t.Errorf("org b lists %v, want only its own admin", users)
	}
	if _, err := s.Principal(ctx, "b", a.ID, "any"); !errors.Is(err, ErrNotFound) {
		t.Errorf("principal across orgs: got %v, want ErrNotFound", err)
	}
}

func TestCreateOrganizationConflict(t *testing.T) {
	s := openTest(t)
	newOrg(t, s, "a")
	_, _, err := s.CreateOrganization(context.Background(), NewOrganization{
		Org: Organization{ID: "a", Name: "again"}, Roles: []Role{{Name: "R"}}, AdminRole: "R",
		Admin: User{Email: "x@example.com"},
	})
	if !errors.Is(err, ErrConflict) {
		t.Fatalf("got %v, want ErrConflict", err)
	}
}

func TestDeleteOrganizationCascades(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	admin := newOrg(t, s, "a")
	keep := newOrg(t, s, "b")
	if _, err := s.CreateAPIKey(ctx, APIKey{KeyID: "k1", OrgID: "a", SecretHash: "h", RoleID: admin.RoleID,
		CreatorUserID: admin.ID, CreatorOrgID: "a", ExpiresAt: time.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if err := s.ModifyUserVariables(ctx, "a", admin.ID, []Variable{{Name: "v", Value: []byte("1")}}, nil); err != nil {
		t.Fatal(err)
	}
	// A metric in each: its full-text row is no cascade's to delete.
	for _, u := range []User{admin, keep} {
		by := Actor{OrgID: u.OrgID, UserID: u.ID}
		if _, err := s.CreateMetric(ctx, Metric{OrgID: u.OrgID, Name: "quality", ValueType: "numerical", Creator: by},
			MetricVersion{Description: "d", ValueType: "numerical", Value: []byte(`{}`), Creator: by}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.DeleteOrganization(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	for _, f := range ftsOwners {
		var orphans int
		q := `SELECT COUNT(*) FROM ` + f.fts + ` WHERE ` + f.idColumn + ` NOT IN (SELECT id FROM ` + f.table + `)`
		if err := s.read.QueryRow(q).Scan(&orphans); err != nil || orphans != 0 {
			t.Errorf("%s: %d rows of deleted records (%v)", f.fts, orphans, err)
		}
	}
	if got, err := s.SearchMetrics(ctx, "b", "quality", MetricFilter{}); err != nil || len(got) != 1 {
		t.Errorf("the other organization's metric found by search: %d, %v; want 1", len(got), err)
	}
	for _, table := range []string{"users", "roles", "api_keys", "user_variables"} {
		var n int
		if err := s.read.QueryRow(`SELECT COUNT(*) FROM ` + table).Scan(&n); err != nil {
			t.Fatal(err)
		}
		want := map[string]int{"users": 1, "roles": 1, "api_keys": 0, "user_variables": 0}[table]
		if n != want {
			t.Errorf("%s: %d rows left, want %d", table, n, want)
		}
	}
	if _, err := s.GetUser(ctx, "b", keep.ID); err != nil {
		t.Errorf("other organization's user gone: %v", err)
	}
	if err := s.DeleteOrganization(ctx, "a"); !errors.Is(err, ErrNotFound) {
		t.Errorf("second delete: got %v, want ErrNotFound", err)
	}
}

func TestUserEmailUniqueCaseInsensitive(t *testing.T) {
	s := openTest(t)
	admin := newOrg(t, s, "a")
	_, err := s.CreateUser(context.Background(), User{OrgID: "a", FirstName: "x", LastName: "y", Email: "ADMIN@a.example", RoleID: admin.RoleID})
	if !errors.Is(err, ErrConflict) {
		t.Fatalf("got %v, want ErrConflict", err)
	}
}

func TestModifyUserVariables(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	admin := newOrg(t, s, "a")
	plain := func(n int) []Variable {
		var vs []Variable
		for i := range n {
			vs = append(vs, Variable{Name: "v" + strconv.Itoa(i), Value: []byte("x")})
		}
		return vs
	}
	tests := []struct {
		name    string
		upserts []Variable
		deletes []string
		rule    bool
		want    int
	}{
		{name: "19 nonsensitive fit", upserts: plain(MaxNonsensitiveVariables), want: MaxNonsensitiveVariables},
		{name: "a 20th nonsensitive does not", upserts: []Variable{{Name: "extra", Value: []byte("x")}}, rule: true, want: MaxNonsensitiveVariables},
		{name: "unknown delete changes nothing", upserts: []Variable{{Name: "s", Value: []byte("x"), IsSecret: true}}, deletes: []string{"nope"}, rule: true, want: MaxNonsensitiveVariables},
		{name: "delete and add in one go", upserts: []Variable{{Name: "s", Value: []byte("x"), IsSecret: true}}, deletes: []string{"v0"}, want: MaxNonsensitiveVariables},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := s.ModifyUserVariables(ctx, "a", admin.ID, tc.upserts, tc.deletes)
			var re *RuleError
			if got := errors.As(err, &re); got != tc.rule {
				t.Fatalf("rule error = %v (%v), want %v", got, err, tc.rule)
			}
			u, err := s.GetUser(ctx, "a", admin.ID)
			if err != nil {
				t.Fatal(err)
			}
			if len(u.Variables) != tc.want {
				t.Errorf("got %d variables, want %d", len(u.Variables), tc.want)
			}
		})
	}
	u, _ := s.GetUser(ctx, "a", admin.ID)
	for _, v := range u.Variables {
		if v.IsSecret && v.Value != nil {
			t.Errorf("secret %s read back with a value", v.Name)
		}
	}
}

func TestAPIKeyLimitIgnoresExpiredKeys(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	s, err := Open(ctx, filepath.Join(t.TempDir(), "t.db"), WithClock(func() time.Time { return now }))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	admin := newOrg(t, s, "a")
	key := func(i int, exp time.Time) error {
		_, err := s.CreateAPIKey(ctx, APIKey{KeyID: "k" + strconv.Itoa(i), OrgID: "a", SecretHash: "h",
			RoleID: admin.RoleID, CreatorUserID: admin.ID, CreatorOrgID: "a", ExpiresAt: exp})
		return err
	}
	if err := key(0, now.Add(-time.Second)); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= MaxAPIKeys; i++ {
		if err := key(i, now.Add(time.Hour)); err != nil {
			t.Fatalf("key %d: %v", i, err)
		}
	}
	var re *RuleError
	if err := key(99, now.Add(time.Hour)); !errors.As(err, &re) {
		t.Fatalf("key %d: got %v, want a RuleError", MaxAPIKeys+1, err)
	}
}

func TestListUsersPagesAndSorts(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	admin := newOrg(t, s, "a")
	for _, n := range []string{"carol", "alice", "bob"} {
		if _, err := s.CreateUser(ctx, User{OrgID: "a", FirstName: n, LastName: "z", Email: n + "@example.com", RoleID: admin.RoleID}); err != nil {
			t.Fatal(err)
		}
	}
	sort := []SortKey{{Field: "first_name", Desc: true}}
	page1, more, err := s.ListUsers(ctx, "a", UserFilter{Sort: sort, Limit: 2})
	if err != nil {
		t.Fatal(err)
	}
	page2, more2, err := s.ListUsers(ctx, "a", UserFilter{Sort: sort, Limit: 2, Offset: 2})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, u := range append(page1, page2...) {
		got = append(got, u.FirstName)
	}
	want := []string{"carol", "bob", "alice", "A"}
	if len(got) != 4 || got[0] != want[0] || got[1] != want[1] || got[2] != want[2] || got[3] != want[3] || !more || more2 {
		t.Errorf("got %v (more %v, %v), want %v (more true, false)", got, more, more2, want)
	}
	found, err := s.SearchUsers(ctx, "a", "LIC", nil)
	if err != nil || len(found) != 1 || found[0].FirstName != "alice" {
		t.Errorf("search LIC: got %v, %v", found, err)
	}
	found, err = s.SearchUsers(ctx, "a", "%", nil)
	if err != nil || len(found) != 0 {
		t.Errorf("search %%: got %d users (%v), want none: %% is not a wildcard", len(found), err)
	}
}

// TestPrincipalSeesChangesAtOnce checks that the principal lookup, with its
// prepared statement and parsed-grants cache, reflects a changed role and
// a deleted key on the very next call.
func TestPrincipalSeesChangesAtOnce(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	admin := newOrg(t, s, "a")
	key := newKey(t, s, admin, time.Now().Add(time.Hour))
	names := func() []string {
		t.Helper()
		p, err := s.Principal(ctx, "a", admin.ID, key.KeyID)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, g := range p.Grants {
			out = append(out, g.PermissionName)
		}
		return out
	}
	if got := names(); len(got) != 1 || got[0] != "User:GetUserInfo" {
		t.Fatalf("grants %v, want [User:GetUserInfo]", got)
	}
	_, err := s.UpdateRole(ctx, "a", "Admin", func(r *Role) error {
		r.PermissionGrants = []PermissionGrant{{PermissionName: "User:GetUserInfo"}, {PermissionName: "User:UpdateUserInfo"}}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := names(); len(got) != 2 || got[1] != "User:UpdateUserInfo" {
		t.Errorf("grants after the role changed %v, want [User:GetUserInfo User:UpdateUserInfo]", got)
	}
	if err := s.DeleteAPIKey(ctx, "a", key.KeyID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Principal(ctx, "a", admin.ID, key.KeyID); !errors.Is(err, ErrNotFound) {
		t.Errorf("principal after deleting its key: got %v, want ErrNotFound", err)
	}
}
