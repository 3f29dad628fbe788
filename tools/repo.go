// Package tools reads tool projects: their Python source from the tool
// repository (a git repository users push to), their pyproject.toml contract,
// and the PEP 440 constraints that select among their published versions.
package tools

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
)

var (
	// ErrBranchNotFound means the repository has no such branch.
	ErrBranchNotFound = errors.New("branch not found")
	// ErrCommitNotFound means the repository has no commit with that hash.
	ErrCommitNotFound = errors.New("commit not found")
	// ErrProjectNotFound means the commit has no directory at that path.
	ErrProjectNotFound = errors.New("project directory not found")
	// ErrProjectTooLarge means a project passes MaxProjectFiles or
	// MaxProjectBytes.
	ErrProjectTooLarge = errors.New("project too large")
)

// Fault names what a publish found wrong with its source.
type Fault int

// The faults of a SourceError, each with the sentinel errors.Is matches.
const (
	BranchMissing   Fault = iota // ErrBranchNotFound
	BranchInvalid                // ErrBranchNotFound: not a valid branch name
	CommitMissing                // ErrCommitNotFound
	CommitMalformed              // ErrCommitNotFound: not 40 hex digits
	DirNotRelative               // ErrProjectNotFound
	DirMissing                   // ErrProjectNotFound
	DirNotDirectory              // ErrProjectNotFound
	DirBadEntry                  // ErrProjectNotFound: Name is not a valid file name
	TooManyFiles                 // ErrProjectTooLarge: Limit files
	TooManyBytes                 // ErrProjectTooLarge: Limit MiB
	StaleCommit                  // ErrStaleCommit: Commit is an ancestor of Since
)

// SourceError says what a publish could not use from the repository, as
// facts: http/ words it for the client.
type SourceError struct {
	Fault  Fault
	Branch string
	Commit string
	Dir    string
	Name   string
	Since  string
	Limit  int
}

var faultSentinels = map[Fault]error{
	BranchMissing: ErrBranchNotFound, BranchInvalid: ErrBranchNotFound,
	CommitMissing: ErrCommitNotFound, CommitMalformed: ErrCommitNotFound,
	DirNotRelative: ErrProjectNotFound, DirMissing: ErrProjectNotFound, DirNotDirectory: ErrProjectNotFound,
	DirBadEntry:  ErrProjectNotFound,
	TooManyFiles: ErrProjectTooLarge, TooManyBytes: ErrProjectTooLarge,
	StaleCommit: ErrStaleCommit,
}

// Unwrap makes errors.Is match the fault's sentinel.
func (e *SourceError) Unwrap() error { return faultSentinels[e.Fault] }

func (e *SourceError) Error() string {
	s := fmt.Sprintf("tools: %v (branch %q, commit %q, dir %q", e.Unwrap(), e.Branch, e.Commit, e.Dir)
	switch e.Fault {
	case TooManyFiles:
		s += fmt.Sprintf(", more than %d files", e.Limit)
	case TooManyBytes:
		s += fmt.Sprintf(", more than %d MiB in all", e.Limit)
	case DirBadEntry:
		s += fmt.Sprintf(", entry %q", e.Name)
	case StaleCommit:
		s += ", ancestor of " + e.Since
	}
	return s + ")"
}

// Limits on what Files reads, so that one pushed project cannot make the
// server read or hold an unbounded amount of data.
const (
	MaxProjectFiles = 2000
	MaxProjectBytes = 20 << 20
)

// Repo is the tool repository. Users push branches into it with git while
// the server runs; the server only reads it.
//
// Each method opens the repository afresh, so it sees refs and objects as
// they are on disk at the time of the call. go-git reads the list of
// packfiles once per opened repository; after a repack, which git's
// automatic gc can run after any push, a long-lived one answers "object not
// found" or "packfile not found" for commits that exist. Opening reads a few
// small files, which is cheap next to reading a project. Methods may be
// called concurrently.
type Repo struct {
	path string
}

// Commit is a commit at a branch tip.
type Commit struct {
	// Hash is the commit's 40 hex digits.
	Hash string
	// When is the committer time, which is when the commit was made or last
	// rewritten, unlike the author time that a rebase keeps.
	When time.Time
}

// OpenRepo opens the repository at path, bare or not. If nothing exists at
// path it creates a bare repository there whose HEAD is refs/heads/main, so
// that "git push <path> main" gives clones a branch to check out.
func OpenRepo(path string) (*Repo, error) {
	r := &Repo{path: path}
	_, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		_, err := git.PlainInitWithOptions(path, &git.PlainInitOptions{
			Bare:        true,
			InitOptions: git.InitOptions{DefaultBranch: plumbing.Main},
		})
		if err != nil {
			return nil, fmt.Errorf("tools: create repository %s: %w", path, err)
		}
		return r, nil
	case err != nil:
		return nil, fmt.Errorf("tools: open repository %s: %w", path, err)
	}
	if _, err := r.open(); err != nil {
		return nil, err
	}
	return r, nil
}

func (r *Repo) open() (*git.Repository, error) {
	repo, err := git.PlainOpenWithOptions(r.path, &git.PlainOpenOptions{DetectDotGit: false})
	if errors.Is(err, git.ErrRepositoryNotExists) {
		return nil, fmt.Errorf("tools: %s exists but is not a git repository", r.path)
	}
	if err != nil {
		return nil, fmt.Errorf("tools: open repository %s: %w", r.path, err)
	}
	return repo, nil
}

// Resolve returns the commit at the tip of refs/heads/<branch>.
func (r *Repo) Resolve(branch string) (Commit, error) {
	name := plumbing.NewBranchReferenceName(branch)
	// Validating first keeps names such as "../../HEAD" from reaching the
	// ref store, which keeps refs as files.
	if branch == "" || name.Validate() != nil {
		return Commit{}, &SourceError{Fault: BranchInvalid, Branch: branch}
	}
	repo, err := r.open()
	if err != nil {
		return Commit{}, err
	}
	ref, err := repo.Reference(name, true)
	if errors.Is(err, plumbing.ErrReferenceNotFound) {
		return Commit{}, &SourceError{Fault: BranchMissing, Branch: branch}
	}
	if err != nil {
		return Commit{}, fmt.Errorf("tools: resolve branch %q: %w", branch, err)
	}
	c, err := repo.CommitObject(ref.Hash())
	if err != nil {
		return Commit{}, fmt.Errorf("tools: branch %q points at %s, which is not a readable commit: %w", branch, ref.Hash(), err)
	}
	return Commit{Hash: c.Hash.String(), When: c.Committer.When}, nil
}

// commit returns the commit with the given hash, or ErrCommitNotFound.
func commit(repo *git.Repository, hash string) (*object.Commit, error) {
	// plumbing.NewHash turns anything that is not hex into a hash of zeros,
	// so a malformed hash has to be refused before the lookup.
	if !plumbing.IsHash(hash) {
		return nil, &SourceError{Fault: CommitMalformed, Commit: hash}
	}
	c, err := repo.CommitObject(plumbing.NewHash(hash))
	if errors.Is(err, plumbing.ErrObjectNotFound) {
		return nil, &SourceError{Fault: CommitMissing, Commit: hash}
	}
	if err != nil {
		return nil, fmt.Errorf("tools: read commit %s: %w", hash, err)
	}
	return c, nil
}

// Files returns every regular file under dir in the commit's tree, keyed by
// its path relative to dir with forward slashes. dir is relative to the
// repository's root; "" and "." mean the root. Symlinks and submodules are
// skipped, not followed: a symlink could point outside the project and a
// submodule's commit is not in this repository.
//
// It fails with ErrProjectTooLarge before reading a file that would pass
// MaxProjectFiles or MaxProjectBytes.
func (r *Repo) Files(hash, dir string) (map[string][]byte, error) {
	dir = strings.TrimSuffix(dir, "/")
	if dir == "" {
		dir = "."
	}
	if !fs.ValidPath(dir) {
		return nil, &SourceError{Fault: DirNotRelative, Dir: dir}
	}
	repo, err := r.open()
	if err != nil {
		return nil, err
	}
	c, err := commit(repo, hash)
	if err != nil {
		return nil, err
	}
	tree, err := c.Tree()
	if err != nil {
		return nil, fmt.Errorf("tools: read tree of commit %s: %w", hash, err)
	}
	if dir != "." {
		// One step at a time, because Tree.FindEntry reports a path that
		// runs through a file as a missing object, not a missing entry.
		for part := range strings.SplitSeq(dir, "/") {
			entry, err := tree.FindEntry(part)
			if errors.Is(err, object.ErrEntryNotFound) {
				return nil, &SourceError{Fault: DirMissing, Dir: dir, Commit: hash}
			}
			if err != nil {
				return nil, fmt.Errorf("tools: find %s at commit %s: %w", dir, hash, err)
			}
			if entry.Mode != filemode.Dir {
				return nil, &SourceError{Fault: DirNotDirectory, Dir: dir, Commit: hash}
			}
			if tree, err = repo.TreeObject(entry.Hash); err != nil {
				return nil, fmt.Errorf("tools: read tree %s at commit %s: %w", dir, hash, err)
			}
		}
	}

	files := map[string][]byte{}
	var total int64
	// An explicit stack rather than recursion: a pushed tree can nest
	// directories arbitrarily deep.
	type pending struct {
		prefix string
		tree   *object.Tree
	}
	stack := []pending{{"", tree}}
	for len(stack) > 0 {
		p := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		for _, e := range p.tree.Entries {
			// git's own checks refuse such names, but a push is not
			// guaranteed to have run them, and a key like "../x" would
			// escape the project wherever the files are written or mounted.
			if e.Name == "" || e.Name == "." || e.Name == ".." || strings.Contains(e.Name, "/") {
				return nil, &SourceError{Fault: DirBadEntry, Dir: dir, Commit: hash, Name: e.Name}
			}
			name := p.prefix + e.Name
			switch e.Mode {
			case filemode.Dir:
				sub, err := repo.TreeObject(e.Hash)
				if err != nil {
					return nil, fmt.Errorf("tools: read directory %s at commit %s: %w", name, hash, err)
				}
				stack = append(stack, pending{name + "/", sub})
				continue
			case filemode.Regular, filemode.Executable, filemode.Deprecated:
			default: // symlinks and submodules
				continue
			}
			if len(files) == MaxProjectFiles {
				return nil, &SourceError{Fault: TooManyFiles, Dir: dir, Commit: hash, Limit: MaxProjectFiles}
			}
			// The size comes from the object's header, so an oversized
			// blob is refused before its content is read.
			size, err := repo.Storer.EncodedObjectSize(e.Hash)
			if err != nil {
				return nil, fmt.Errorf("tools: size of %s at commit %s: %w", name, hash, err)
			}
			if total += size; total > MaxProjectBytes {
				return nil, &SourceError{Fault: TooManyBytes, Dir: dir, Commit: hash, Limit: MaxProjectBytes >> 20}
			}
			content, err := readBlob(repo, e.Hash)
			if err != nil {
				return nil, fmt.Errorf("tools: read %s at commit %s: %w", name, hash, err)
			}
			files[name] = content
		}
	}
	return files, nil
}

func readBlob(repo *git.Repository, h plumbing.Hash) ([]byte, error) {
	blob, err := repo.BlobObject(h)
	if err != nil {
		return nil, err
	}
	rd, err := blob.Reader()
	if err != nil {
		return nil, err
	}
	defer rd.Close()
	return io.ReadAll(rd)
}

// IsAncestor reports whether commit ancestor is reachable from commit
// descendant by following parents. A commit is its own ancestor.
func (r *Repo) IsAncestor(ancestor, descendant string) (bool, error) {
	repo, err := r.open()
	if err != nil {
		return false, err
	}
	a, err := commit(repo, ancestor)
	if err != nil {
		return false, err
	}
	d, err := commit(repo, descendant)
	if err != nil {
		return false, err
	}
	ok, err := a.IsAncestor(d)
	if err != nil {
		return false, fmt.Errorf("tools: walk history of %s: %w", descendant, err)
	}
	return ok, nil
}

// TeamBranch returns the branch an organization publishes from, given a
// template such as "releases/{org}".
func TeamBranch(template, org string) string {
	return strings.ReplaceAll(template, "{org}", org)
}
