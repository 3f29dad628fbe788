package tools

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/storer"
)

// testFile is one tree entry written by writeCommit.
type testFile struct {
	mode    filemode.FileMode // zero means filemode.Regular
	content string            // for a submodule, the hash of its commit
}

// writeCommit writes a commit holding files (keyed by slash-separated path)
// straight into the object store at repoPath, bare or not, and points
// refs/heads/<branch> at it. Writing objects rather than using a worktree
// lets a test build any tree, including symlinks, submodules and names git
// itself would refuse.
func writeCommit(t *testing.T, repoPath, branch string, when time.Time, files map[string]testFile, parents ...string) string {
	t.Helper()
	repo, err := git.PlainOpen(repoPath)
	if err != nil {
		t.Fatal(err)
	}
	return commitTree(t, repo, branch, when, writeTree(t, repo.Storer, files, map[string]plumbing.Hash{}), parents...)
}

// commitTree writes a commit of tree and points refs/heads/<branch> at it.
func commitTree(t *testing.T, repo *git.Repository, branch string, when time.Time, tree plumbing.Hash, parents ...string) string {
	t.Helper()
	c := &object.Commit{
		// An author time apart from the committer time shows which one
		// Resolve reports.
		Author:    object.Signature{Name: "Author", Email: "a@example.com", When: when.Add(-time.Hour)},
		Committer: object.Signature{Name: "Committer", Email: "c@example.com", When: when},
		Message:   "commit",
		TreeHash:  tree,
	}
	for _, p := range parents {
		c.ParentHashes = append(c.ParentHashes, plumbing.NewHash(p))
	}
	h := storeObject(t, repo.Storer, c)
	if err := repo.Storer.SetReference(plumbing.NewHashReference(plumbing.NewBranchReferenceName(branch), h)); err != nil {
		t.Fatal(err)
	}
	return h.String()
}

// writeTree writes each distinct content once, recording it in blobs, which
// keeps trees of thousands of identical files quick to build.
func writeTree(t *testing.T, s storer.EncodedObjectStorer, files map[string]testFile, blobs map[string]plumbing.Hash) plumbing.Hash {
	t.Helper()
	var entries []object.TreeEntry
	dirs := map[string]map[string]testFile{}
	for name, f := range files {
		if dir, rest, ok := strings.Cut(name, "/"); ok {
			if dirs[dir] == nil {
				dirs[dir] = map[string]testFile{}
			}
			dirs[dir][rest] = f
			continue
		}
		e := object.TreeEntry{Name: name, Mode: f.mode}
		if e.Mode == 0 {
			e.Mode = filemode.Regular
		}
		if e.Mode == filemode.Submodule {
			e.Hash = plumbing.NewHash(f.content)
		} else {
			if _, ok := blobs[f.content]; !ok {
				blobs[f.content] = writeBlob(t, s, f.content)
			}
			e.Hash = blobs[f.content]
		}
		entries = append(entries, e)
	}
	for dir, sub := range dirs {
		entries = append(entries, object.TreeEntry{Name: dir, Mode: filemode.Dir, Hash: writeTree(t, s, sub, blobs)})
	}
	sort.Sort(object.TreeEntrySorter(entries))
	return storeObject(t, s, &object.Tree{Entries: entries})
}

func writeBlob(t *testing.T, s storer.EncodedObjectStorer, content string) plumbing.Hash {
	t.Helper()
	obj := s.NewEncodedObject()
	obj.SetType(plumbing.BlobObject)
	w, err := obj.Writer()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write([]byte(content)); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	h, err := s.SetEncodedObject(obj)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func storeObject(t *testing.T, s storer.EncodedObjectStorer, o interface {
	Encode(plumbing.EncodedObject) error
}) plumbing.Hash {
	t.Helper()
	obj := s.NewEncodedObject()
	if err := o.Encode(obj); err != nil {
		t.Fatal(err)
	}
	h, err := s.SetEncodedObject(obj)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// gitCmd runs the git command line in dir, isolated from any user or
// system configuration.
func gitCmd(dir string, args ...string) (string, error) {
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(),
		"GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1",
		"GIT_AUTHOR_NAME=Author", "GIT_AUTHOR_EMAIL=a@example.com",
		"GIT_COMMITTER_NAME=Committer", "GIT_COMMITTER_EMAIL=c@example.com",
	)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("git %s: %w\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out)), nil
}

func mustGit(t *testing.T, dir string, args ...string) string {
	t.Helper()
	out, err := gitCmd(dir, args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// newCheckout makes a non-bare repository with the git command line, as a
// user would before pushing to the tool repository.
func newCheckout(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "checkout")
	mustGit(t, t.TempDir(), "init", "-q", "-b", "main", dir)
	return dir
}

// commitFile writes name in the checkout and commits it.
func commitFile(t *testing.T, checkout, name, content string) string {
	t.Helper()
	full := filepath.Join(checkout, filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	mustGit(t, checkout, "add", "-A")
	mustGit(t, checkout, "commit", "-q", "-m", "change "+name)
	return mustGit(t, checkout, "rev-parse", "HEAD")
}

func newRepo(t *testing.T) (*Repo, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "tools.git")
	r, err := OpenRepo(path)
	if err != nil {
		t.Fatal(err)
	}
	return r, path
}

func TestOpenRepoCreatesBareRepoForPushes(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "data", "tools.git")
	r, err := OpenRepo(path)
	if err != nil {
		t.Fatal(err)
	}

	repo, err := git.PlainOpen(path)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := repo.Config()
	if err != nil {
		t.Fatal(err)
	}
	if !cfg.Core.IsBare {
		t.Error("created repository is not bare, want bare")
	}
	head, err := repo.Reference(plumbing.HEAD, false)
	if err != nil {
		t.Fatal(err)
	}
	if head.Type() != plumbing.SymbolicReference || head.Target() != plumbing.Main {
		t.Errorf("HEAD = %s, want a symbolic ref to %s", head, plumbing.Main)
	}

	checkout := newCheckout(t)
	hash := commitFile(t, checkout, "weather/main.py", "def run(): pass\n")
	mustGit(t, checkout, "push", "-q", path, "main")
	clone := filepath.Join(t.TempDir(), "clone")
	mustGit(t, t.TempDir(), "clone", "-q", path, clone)
	if got := mustGit(t, clone, "rev-parse", "--abbrev-ref", "HEAD"); got != "main" {
		t.Errorf("clone checked out %q, want main", got)
	}
	got, err := r.Resolve("main")
	if err != nil {
		t.Fatal(err)
	}
	if got.Hash != hash {
		t.Errorf("Resolve(main) = %s, want the pushed %s", got.Hash, hash)
	}
}

func TestOpenRepoExisting(t *testing.T) {
	t.Parallel()
	when := time.Unix(1_700_000_000, 0)
	tests := []struct {
		name    string
		setup   func(t *testing.T, path string)
		wantErr string
	}{
		{
			name: "bare repository",
			setup: func(t *testing.T, path string) {
				if _, err := git.PlainInit(path, true); err != nil {
					t.Fatal(err)
				}
				writeCommit(t, path, "main", when, map[string]testFile{"a.py": {}})
			},
		},
		{
			name: "repository with a worktree",
			setup: func(t *testing.T, path string) {
				if _, err := git.PlainInit(path, false); err != nil {
					t.Fatal(err)
				}
				writeCommit(t, path, "main", when, map[string]testFile{"a.py": {}})
			},
		},
		{
			name: "empty directory",
			setup: func(t *testing.T, path string) {
				if err := os.Mkdir(path, 0o755); err != nil {
					t.Fatal(err)
				}
			},
			wantErr: "exists but is not a git repository",
		},
		{
			name: "directory with other files",
			setup: func(t *testing.T, path string) {
				if err := os.MkdirAll(filepath.Join(path, "sub"), 0o755); err != nil {
					t.Fatal(err)
				}
			},
			wantErr: "exists but is not a git repository",
		},
		{
			name: "regular file",
			setup: func(t *testing.T, path string) {
				if err := os.WriteFile(path, []byte("x"), 0o644); err != nil {
					t.Fatal(err)
				}
			},
			wantErr: "tools: open repository",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "tools")
			tt.setup(t, path)
			r, err := OpenRepo(path)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("OpenRepo error = %v, want one saying %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			c, err := r.Resolve("main")
			if err != nil {
				t.Fatal(err)
			}
			if !c.When.Equal(when) {
				t.Errorf("Resolve(main).When = %v, want %v", c.When, when)
			}
		})
	}
}

func TestResolve(t *testing.T) {
	t.Parallel()
	r, path := newRepo(t)
	mainTime := time.Date(2026, 3, 1, 12, 0, 0, 0, time.FixedZone("", 2*3600))
	mainHash := writeCommit(t, path, "main", mainTime, map[string]testFile{"a.py": {content: "1"}})
	teamTime := mainTime.Add(time.Minute)
	teamHash := writeCommit(t, path, "releases/acme", teamTime, map[string]testFile{"a.py": {content: "2"}}, mainHash)

	tests := []struct {
		branch   string
		wantHash string
		wantWhen time.Time
		wantErr  error
	}{
		{branch: "main", wantHash: mainHash, wantWhen: mainTime},
		{branch: "releases/acme", wantHash: teamHash, wantWhen: teamTime},
		{branch: "releases/other", wantErr: ErrBranchNotFound},
		{branch: "releases", wantErr: ErrBranchNotFound},
		{branch: "", wantErr: ErrBranchNotFound},
		{branch: "../../HEAD", wantErr: ErrBranchNotFound},
		{branch: "main.lock", wantErr: ErrBranchNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.branch, func(t *testing.T) {
			t.Parallel()
			got, err := r.Resolve(tt.branch)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("Resolve(%q) = %+v, %v; want %v", tt.branch, got, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Hash != tt.wantHash {
				t.Errorf("Hash = %s, want %s", got.Hash, tt.wantHash)
			}
			if !got.When.Equal(tt.wantWhen) {
				t.Errorf("When = %v, want the committer time %v", got.When, tt.wantWhen)
			}
		})
	}
}

func TestFiles(t *testing.T) {
	t.Parallel()
	r, path := newRepo(t)
	hash := writeCommit(t, path, "main", time.Now(), map[string]testFile{
		"README.md":                     {content: "readme"},
		"weather/pyproject.toml":        {content: "toml"},
		"weather/weather/__init__.py":   {content: ""},
		"weather/weather/main.py":       {content: "def run(): pass\n"},
		"weather/bin/run.sh":            {mode: filemode.Executable, content: "#!/bin/sh\n"},
		"weather/link.py":               {mode: filemode.Symlink, content: "../README.md"},
		"weather/vendored":              {mode: filemode.Submodule, content: strings.Repeat("ab", 20)},
		"tools/calendar/pyproject.toml": {content: "calendar"},
	})
	repo, err := git.PlainOpen(path)
	if err != nil {
		t.Fatal(err)
	}
	c, err := repo.CommitObject(plumbing.NewHash(hash))
	if err != nil {
		t.Fatal(err)
	}
	weather := map[string][]byte{
		"pyproject.toml":      []byte("toml"),
		"weather/__init__.py": []byte(""),
		"weather/main.py":     []byte("def run(): pass\n"),
		"bin/run.sh":          []byte("#!/bin/sh\n"),
	}
	all := map[string][]byte{
		"README.md":                     []byte("readme"),
		"tools/calendar/pyproject.toml": []byte("calendar"),
	}
	for name, content := range weather {
		all["weather/"+name] = content
	}

	tests := []struct {
		name    string
		hash    string
		dir     string
		want    map[string][]byte
		wantErr error
	}{
		{name: "project skips symlinks and submodules", hash: hash, dir: "weather", want: weather},
		{name: "trailing slash", hash: hash, dir: "weather/", want: weather},
		{name: "nested project", hash: hash, dir: "tools/calendar", want: map[string][]byte{"pyproject.toml": []byte("calendar")}},
		{name: "empty dir is the root", hash: hash, dir: "", want: all},
		{name: "dot is the root", hash: hash, dir: ".", want: all},
		{name: "missing directory", hash: hash, dir: "nope", wantErr: ErrProjectNotFound},
		{name: "missing nested directory", hash: hash, dir: "tools/nope", wantErr: ErrProjectNotFound},
		{name: "file, not directory", hash: hash, dir: "README.md", wantErr: ErrProjectNotFound},
		{name: "path through a file", hash: hash, dir: "README.md/x", wantErr: ErrProjectNotFound},
		{name: "symlink, not directory", hash: hash, dir: "weather/link.py", wantErr: ErrProjectNotFound},
		{name: "submodule, not directory", hash: hash, dir: "weather/vendored", wantErr: ErrProjectNotFound},
		{name: "parent directory", hash: hash, dir: "../weather", wantErr: ErrProjectNotFound},
		{name: "absolute path", hash: hash, dir: "/weather", wantErr: ErrProjectNotFound},
		{name: "unknown commit", hash: strings.Repeat("0", 39) + "1", dir: "weather", wantErr: ErrCommitNotFound},
		{name: "malformed hash", hash: "main", dir: "weather", wantErr: ErrCommitNotFound},
		{name: "abbreviated hash", hash: hash[:12], dir: "weather", wantErr: ErrCommitNotFound},
		{name: "tree hash, not a commit", hash: c.TreeHash.String(), dir: "weather", wantErr: ErrCommitNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := r.Files(tt.hash, tt.dir)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("Files(%s, %q) error = %v, want %v", tt.hash, tt.dir, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !maps.EqualFunc(got, tt.want, bytes.Equal) {
				t.Errorf("Files(%q) = %v, want %v", tt.dir, slices.Sorted(maps.Keys(got)), slices.Sorted(maps.Keys(tt.want)))
			}
		})
	}
}

func TestFilesLimits(t *testing.T) {
	t.Parallel()
	manyFiles := func(n int) map[string]testFile {
		files := map[string]testFile{}
		for i := range n {
			files[fmt.Sprintf("p/d%d/f%d.py", i%10, i)] = testFile{content: "x"}
		}
		return files
	}
	half := strings.Repeat("a", MaxProjectBytes/2)
	tests := []struct {
		name    string
		files   map[string]testFile
		wantErr string
	}{
		{name: "as many files as allowed", files: manyFiles(MaxProjectFiles)},
		{name: "one file too many", files: manyFiles(MaxProjectFiles + 1), wantErr: "more than 2000 files"},
		{
			name:  "as many bytes as allowed",
			files: map[string]testFile{"p/a": {content: half}, "p/b": {content: half}},
		},
		{
			name:    "one byte too many",
			files:   map[string]testFile{"p/a": {content: half}, "p/b": {content: half}, "p/c": {content: "!"}},
			wantErr: "more than 20 MiB",
		},
		{
			name: "files outside the project do not count",
			files: map[string]testFile{
				"p/a":     {content: "small"},
				"other/a": {content: half},
				"other/b": {content: half},
				"other/c": {content: half},
			},
		},
	}
	// One repository for all rows, so each distinct blob, megabytes of it,
	// is compressed and written once.
	r, path := newRepo(t)
	repo, err := git.PlainOpen(path)
	if err != nil {
		t.Fatal(err)
	}
	blobs := map[string]plumbing.Hash{}
	hashes := make([]string, len(tests))
	for i, tt := range tests {
		hashes[i] = commitTree(t, repo, fmt.Sprintf("row%d", i), time.Now(), writeTree(t, repo.Storer, tt.files, blobs))
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := r.Files(hashes[i], "p")
			if tt.wantErr != "" {
				if !errors.Is(err, ErrProjectTooLarge) || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Files error = %v, want ErrProjectTooLarge saying %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want := 0
			for name := range tt.files {
				if strings.HasPrefix(name, "p/") {
					want++
				}
			}
			if len(got) != want {
				t.Errorf("Files returned %d files, want %d", len(got), want)
			}
		})
	}
}

// A pushed tree can hold entry names that git's own checks refuse; they
// must not become keys that point outside the project.
func TestFilesRefusesEscapingNames(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"..", "."} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			r, path := newRepo(t)
			repo, err := git.PlainOpen(path)
			if err != nil {
				t.Fatal(err)
			}
			inner := writeTree(t, repo.Storer, map[string]testFile{"secret": {content: "x"}}, map[string]plumbing.Hash{})
			tree := storeObject(t, repo.Storer, &object.Tree{Entries: []object.TreeEntry{
				{Name: name, Mode: filemode.Dir, Hash: inner},
			}})
			hash := storeObject(t, repo.Storer, &object.Commit{
				Author:    object.Signature{Name: "a", When: time.Now()},
				Committer: object.Signature{Name: "a", When: time.Now()},
				TreeHash:  tree,
			})
			files, err := r.Files(hash.String(), "")
			var se *SourceError
			if !errors.As(err, &se) || se.Fault != DirBadEntry || se.Name != name {
				t.Fatalf("Files = %v, %v; want a DirBadEntry fault naming %q", slices.Sorted(maps.Keys(files)), err, name)
			}
		})
	}
}

func TestIsAncestor(t *testing.T) {
	t.Parallel()
	r, path := newRepo(t)
	now := time.Now()
	a := writeCommit(t, path, "main", now, map[string]testFile{"f": {content: "a"}})
	b := writeCommit(t, path, "main", now, map[string]testFile{"f": {content: "b"}}, a)
	c := writeCommit(t, path, "main", now, map[string]testFile{"f": {content: "c"}}, b)
	d := writeCommit(t, path, "side", now, map[string]testFile{"f": {content: "d"}}, a)
	merge := writeCommit(t, path, "merged", now, map[string]testFile{"f": {content: "m"}}, c, d)
	unknown := strings.Repeat("1", 40)

	tests := []struct {
		name                 string
		ancestor, descendant string
		want                 bool
		wantErr              error
	}{
		{name: "parent", ancestor: b, descendant: c, want: true},
		{name: "grandparent", ancestor: a, descendant: c, want: true},
		{name: "itself", ancestor: c, descendant: c, want: true},
		{name: "child", ancestor: c, descendant: a},
		{name: "other branch", ancestor: b, descendant: d},
		{name: "fork point", ancestor: a, descendant: d, want: true},
		{name: "through a merge's second parent", ancestor: d, descendant: merge, want: true},
		{name: "unknown ancestor", ancestor: unknown, descendant: c, wantErr: ErrCommitNotFound},
		{name: "unknown descendant", ancestor: a, descendant: unknown, wantErr: ErrCommitNotFound},
		{name: "malformed hash", ancestor: "HEAD", descendant: c, wantErr: ErrCommitNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := r.IsAncestor(tt.ancestor, tt.descendant)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("IsAncestor error = %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("IsAncestor = %v, want %v", got, tt.want)
			}
		})
	}
}

// The server keeps one Repo while users push; every read must see what is
// on disk now, including objects that git moved into a new packfile.
func TestRepoSeesPushesFromOutside(t *testing.T) {
	t.Parallel()
	r, path := newRepo(t)
	if _, err := r.Resolve("x"); !errors.Is(err, ErrBranchNotFound) {
		t.Fatalf("Resolve(x) before any push: %v, want ErrBranchNotFound", err)
	}

	checkout := newCheckout(t)
	first := commitFile(t, checkout, "weather/main.py", "v1")
	mustGit(t, checkout, "push", "-q", path, "HEAD:refs/heads/x")
	assertTip(t, r, "x", first, "main.py", "v1")

	second := commitFile(t, checkout, "weather/main.py", "v2")
	mustGit(t, checkout, "push", "-q", path, "HEAD:refs/heads/x")
	assertTip(t, r, "x", second, "main.py", "v2")

	// Repacking deletes the loose objects the earlier reads came from.
	mustGit(t, path, "repack", "-q", "-a", "-d")
	mustGit(t, path, "prune-packed")
	third := commitFile(t, checkout, "weather/main.py", "v3")
	mustGit(t, checkout, "push", "-q", path, "HEAD:refs/heads/x")
	assertTip(t, r, "x", third, "main.py", "v3")
	files, err := r.Files(first, "weather")
	if err != nil {
		t.Fatalf("Files of the first, now packed, commit: %v", err)
	}
	if got := string(files["main.py"]); got != "v1" {
		t.Errorf("main.py at the first commit = %q, want v1", got)
	}
	if ok, err := r.IsAncestor(first, third); err != nil || !ok {
		t.Errorf("IsAncestor(first, third) = %v, %v; want true", ok, err)
	}
}

func assertTip(t *testing.T, r *Repo, branch, wantHash, file, wantContent string) {
	t.Helper()
	c, err := r.Resolve(branch)
	if err != nil {
		t.Fatal(err)
	}
	if c.Hash != wantHash {
		t.Fatalf("Resolve(%s) = %s, want the pushed %s", branch, c.Hash, wantHash)
	}
	files, err := r.Files(c.Hash, "weather")
	if err != nil {
		t.Fatal(err)
	}
	if got := string(files[file]); got != wantContent {
		t.Errorf("%s at %s = %q, want %q", file, c.Hash, got, wantContent)
	}
}

// Readers share one Repo while pushes land, as HTTP handlers would.
func TestRepoConcurrentReadsDuringPushes(t *testing.T) {
	t.Parallel()
	r, path := newRepo(t)
	checkout := newCheckout(t)
	base := commitFile(t, checkout, "weather/main.py", "base")
	mustGit(t, checkout, "push", "-q", path, "main")

	const readers = 8
	stop := make(chan struct{})
	var wg sync.WaitGroup
	errs := make(chan error, readers)
	for range readers {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				c, err := r.Resolve("main")
				if err != nil {
					errs <- err
					return
				}
				files, err := r.Files(c.Hash, "weather")
				if err != nil {
					errs <- err
					return
				}
				if len(files["main.py"]) == 0 {
					errs <- fmt.Errorf("main.py at %s is empty", c.Hash)
					return
				}
				if ok, err := r.IsAncestor(base, c.Hash); err != nil || !ok {
					errs <- fmt.Errorf("IsAncestor(base, %s) = %v, %v; want true", c.Hash, ok, err)
					return
				}
			}
		})
	}
	var last string
	for i := range 10 {
		last = commitFile(t, checkout, "weather/main.py", fmt.Sprintf("v%d", i))
		if _, err := gitCmd(checkout, "push", "-q", path, "main"); err != nil {
			t.Error(err)
			break
		}
	}
	close(stop)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if c, err := r.Resolve("main"); err != nil || c.Hash != last {
		t.Errorf("Resolve(main) after the pushes = %+v, %v; want %s", c, err, last)
	}
}

func TestTeamBranch(t *testing.T) {
	t.Parallel()
	tests := []struct {
		template, org, want string
	}{
		{"releases/{org}", "acme", "releases/acme"},
		{"{org}", "acme", "acme"},
		{"{org}/releases/{org}", "acme", "acme/releases/acme"},
		{"main", "acme", "main"},
	}
	for _, tt := range tests {
		if got := TeamBranch(tt.template, tt.org); got != tt.want {
			t.Errorf("TeamBranch(%q, %q) = %q, want %q", tt.template, tt.org, got, tt.want)
		}
	}
}
