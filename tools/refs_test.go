package tools

import (
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// TestSetRefsPutsBackASnapshotOfRefs: the refs read before changes are
// put back exactly, branches made since are deleted (a folder in the way
// included), Compadre's pins are neither listed nor touched, and a ref to
// a missing object changes nothing.
func TestSetRefsPutsBackASnapshotOfRefs(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "tools.git")
	r, err := OpenRepo(dir)
	if err != nil {
		t.Fatal(err)
	}
	when := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	first := writeCommit(t, dir, "main", when, map[string]testFile{"a.py": {content: "1"}})
	writeCommit(t, dir, "releases/org", when, map[string]testFile{"a.py": {content: "2"}})
	saved, err := r.Refs()
	if err != nil {
		t.Fatal(err)
	}
	if len(saved) != 2 || saved["refs/heads/main"] != first {
		t.Fatalf("refs: got %v, want main and releases/org", saved)
	}
	if err := r.Pin("s1", saved); err != nil {
		t.Fatal(err)
	}

	second := writeCommit(t, dir, "main", when.Add(time.Hour), map[string]testFile{"a.py": {content: "3"}}, first)
	writeCommit(t, dir, "feature/x", when, map[string]testFile{"b.py": {content: "4"}})
	// releases/org/next puts a folder where the saved releases/org was:
	// delete releases/org first, as a push of the new layout would.
	repoDelete(t, dir, "refs/heads/releases/org")
	writeCommit(t, dir, "releases/org/next", when, map[string]testFile{"c.py": {content: "5"}})

	if err := r.SetRefs(map[string]string{"refs/heads/main": "0123456789012345678901234567890123456789"}); err == nil {
		t.Error("a ref to a missing object: got no error")
	}
	if now, _ := r.Refs(); now["refs/heads/main"] != second || len(now) != 3 {
		t.Errorf("after a refused SetRefs: got %v, want the refs unchanged", now)
	}

	if err := r.SetRefs(saved); err != nil {
		t.Fatal(err)
	}
	got, err := r.Refs()
	if err != nil {
		t.Fatal(err)
	}
	if !maps.Equal(got, saved) {
		t.Errorf("refs after SetRefs: got %v, want %v", got, saved)
	}
	if c, err := r.Resolve("releases/org"); err != nil || c.Hash != saved["refs/heads/releases/org"] {
		t.Errorf("resolve releases/org: got %v, %v", c, err)
	}
	if out, err := exec.Command("git", "-C", dir, "fsck", "--no-dangling").CombinedOutput(); err != nil {
		t.Errorf("git fsck: %v\n%s", err, out)
	}
	out, err := exec.Command("git", "-C", dir, "for-each-ref", "--format=%(refname)", "refs/compadre/").Output()
	if err != nil {
		t.Fatal(err)
	}
	if want := "refs/compadre/snapshots/s1/heads/main\nrefs/compadre/snapshots/s1/heads/releases/org\n"; string(out) != want {
		t.Errorf("pins: got %q, want %q", out, want)
	}
	if err := r.Unpin("s1"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "refs", "compadre", "snapshots", "s1")); !os.IsNotExist(err) {
		t.Errorf("after Unpin: the pin folder is still there (%v)", err)
	}
}

func repoDelete(t *testing.T, dir, ref string) {
	t.Helper()
	if out, err := exec.Command("git", "-C", dir, "update-ref", "-d", ref).CombinedOutput(); err != nil {
		t.Fatalf("git update-ref -d %s: %v\n%s", ref, err, out)
	}
}
