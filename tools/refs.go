package tools

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/storage/filesystem"
)

// The repository's refs, for snapshots of the server's state. Git only
// ever adds objects, so the refs (every branch and tag and the commit it
// names) are all of the repository a snapshot has to keep. See
// DECISIONS.md, "What does a snapshot keep of the tool repository?".

// pinPrefix holds Compadre's own refs: a snapshot's refs copied under
// pinPrefix+<name>/, so that the objects they name stay reachable, and
// no git gc prunes them, however the branches move after it. Clones do
// not fetch them (their default refspec takes refs/heads/ only).
const pinPrefix = "refs/compadre/snapshots/"

// Refs returns every ref under refs/ (branches, tags, anything else
// pushed) with the commit or object it names, except Compadre's own.
func (r *Repo) Refs() (map[string]string, error) {
	repo, err := r.open()
	if err != nil {
		return nil, err
	}
	iter, err := repo.References()
	if err != nil {
		return nil, fmt.Errorf("tools: list refs: %w", err)
	}
	defer iter.Close()
	refs := map[string]string{}
	err = iter.ForEach(func(ref *plumbing.Reference) error {
		name := ref.Name().String()
		if ref.Type() == plumbing.HashReference && strings.HasPrefix(name, "refs/") && !strings.HasPrefix(name, "refs/compadre/") {
			refs[name] = ref.Hash().String()
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("tools: list refs: %w", err)
	}
	return refs, nil
}

// SetRefs makes the repository's refs exactly refs (as Refs returns
// them): each is pointed at its hash, and every other ref outside
// Compadre's own is deleted. Symbolic refs such as HEAD are left as they
// are. Every hash must name an object the repository holds; otherwise
// nothing is changed.
func (r *Repo) SetRefs(refs map[string]string) error {
	repo, err := r.open()
	if err != nil {
		return err
	}
	for _, name := range slices.Sorted(maps.Keys(refs)) {
		hash := refs[name]
		if !strings.HasPrefix(name, "refs/") || strings.HasPrefix(name, "refs/compadre/") ||
			plumbing.ReferenceName(name).Validate() != nil {
			return fmt.Errorf("tools: set refs: %q is not a ref this server keeps", name)
		}
		if !plumbing.IsHash(hash) {
			return fmt.Errorf("tools: set refs: %s: %q is not a hash", name, hash)
		}
		if _, err := repo.Storer.EncodedObject(plumbing.AnyObject, plumbing.NewHash(hash)); err != nil {
			return fmt.Errorf("tools: set refs: %s names %s: %w", name, hash, err)
		}
	}
	now, err := r.Refs()
	if err != nil {
		return err
	}
	// Deletions first, with the folders they leave empty: refs are files,
	// and refs/heads/a cannot be written while a folder refs/heads/a/
	// (left by refs/heads/a/b) is in the way.
	for _, name := range slices.Sorted(maps.Keys(now)) {
		if _, keep := refs[name]; keep {
			continue
		}
		if err := r.removeRef(repo, name); err != nil {
			return err
		}
	}
	for _, name := range slices.Sorted(maps.Keys(refs)) {
		if now[name] == refs[name] {
			continue
		}
		ref := plumbing.NewHashReference(plumbing.ReferenceName(name), plumbing.NewHash(refs[name]))
		if err := repo.Storer.SetReference(ref); err != nil {
			return fmt.Errorf("tools: set ref %s: %w", name, err)
		}
	}
	return nil
}

// removeRef deletes a ref, loose or packed, and the folders its file
// leaves empty.
func (r *Repo) removeRef(repo *git.Repository, name string) error {
	if err := repo.Storer.RemoveReference(plumbing.ReferenceName(name)); err != nil {
		return fmt.Errorf("tools: delete ref %s: %w", name, err)
	}
	fsStore, ok := repo.Storer.(*filesystem.Storage)
	if !ok {
		return nil
	}
	root := fsStore.Filesystem().Root()
	// os.Remove refuses a folder that is not empty, which ends the walk.
	for dir := path.Dir(name); strings.Count(dir, "/") >= 2; dir = path.Dir(dir) {
		if os.Remove(filepath.Join(root, filepath.FromSlash(dir))) != nil {
			break
		}
	}
	return nil
}

// Pin keeps the objects refs name reachable under the name given (a
// snapshot's), replacing what an earlier Pin under that name kept.
func (r *Repo) Pin(name string, refs map[string]string) error {
	if err := r.Unpin(name); err != nil {
		return err
	}
	repo, err := r.open()
	if err != nil {
		return err
	}
	for ref, hash := range refs {
		pinned := plumbing.ReferenceName(pinPrefix + name + "/" + strings.TrimPrefix(ref, "refs/"))
		if err := pinned.Validate(); err != nil {
			return fmt.Errorf("tools: pin %s: %w", ref, err)
		}
		if err := repo.Storer.SetReference(plumbing.NewHashReference(pinned, plumbing.NewHash(hash))); err != nil {
			return fmt.Errorf("tools: pin %s: %w", ref, err)
		}
	}
	return nil
}

// Unpin deletes the refs Pin made under name; objects only they kept
// reachable may then be pruned by git.
func (r *Repo) Unpin(name string) error {
	repo, err := r.open()
	if err != nil {
		return err
	}
	iter, err := repo.References()
	if err != nil {
		return fmt.Errorf("tools: unpin %s: %w", name, err)
	}
	var pinned []plumbing.ReferenceName
	err = iter.ForEach(func(ref *plumbing.Reference) error {
		if strings.HasPrefix(ref.Name().String(), pinPrefix+name+"/") {
			pinned = append(pinned, ref.Name())
		}
		return nil
	})
	iter.Close()
	if err != nil {
		return fmt.Errorf("tools: unpin %s: %w", name, err)
	}
	var errs []error
	for _, ref := range pinned {
		errs = append(errs, r.removeRef(repo, ref.String()))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("tools: unpin %s: %w", name, err)
	}
	return nil
}
