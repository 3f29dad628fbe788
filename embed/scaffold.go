package assets

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha1"
	"embed"
	"encoding/hex"
	"io/fs"
	"sort"
	"sync"
	"time"
)

//go:embed all:scaffold
var scaffold embed.FS

// scaffoldTime stamps every archive entry, so the archive is the same bytes
// on every build and every request.
var scaffoldTime = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// ScaffoldArchive returns the tool scaffold as a gzip'd tar whose entries
// sit under amigo_tool_scaffold/. It is built once and is byte-for-byte
// deterministic.
var ScaffoldArchive = sync.OnceValues(buildScaffold)

// ScaffoldHash identifies the scaffold's content: a SHA-1 over its paths and
// files. Published versions record it as amigo_scaffold_commit_hash.
var ScaffoldHash = sync.OnceValue(func() string {
	h := sha1.New()
	_ = walkScaffold(func(path string, data []byte, dir bool) error {
		if !dir {
			h.Write([]byte(path + "\x00"))
			h.Write(data)
			h.Write([]byte{0})
		}
		return nil
	})
	return hex.EncodeToString(h.Sum(nil))
})

// walkScaffold visits the scaffold's directories and files in sorted order,
// with paths relative to embed/scaffold.
func walkScaffold(visit func(path string, data []byte, dir bool) error) error {
	root, err := fs.Sub(scaffold, "scaffold")
	if err != nil {
		return err
	}
	var paths []string
	if err := fs.WalkDir(root, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p != "." {
			paths = append(paths, p)
		}
		return nil
	}); err != nil {
		return err
	}
	sort.Strings(paths)
	for _, p := range paths {
		info, err := fs.Stat(root, p)
		if err != nil {
			return err
		}
		var data []byte
		if !info.IsDir() {
			if data, err = fs.ReadFile(root, p); err != nil {
				return err
			}
		}
		if err := visit(p, data, info.IsDir()); err != nil {
			return err
		}
	}
	return nil
}

func buildScaffold() ([]byte, error) {
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if err != nil {
		return nil, err
	}
	zw.ModTime = scaffoldTime
	tw := tar.NewWriter(zw)
	err = walkScaffold(func(p string, data []byte, dir bool) error {
		h := &tar.Header{Name: p, Mode: 0o644, Size: int64(len(data)), ModTime: scaffoldTime,
			Typeflag: tar.TypeReg, Format: tar.FormatPAX}
		if dir {
			h.Name, h.Mode, h.Size, h.Typeflag = p+"/", 0o755, 0, tar.TypeDir
		}
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		_, err := tw.Write(data)
		return err
	})
	if err != nil {
		return nil, err
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
