package store

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
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
