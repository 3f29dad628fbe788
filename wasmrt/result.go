package wasmrt

import (
	"io"
	"io/fs"

	experimentalsys "github.com/tetratelabs/wazero/experimental/sys"
	"github.com/tetratelabs/wazero/sys"
)

// The tool harness writes a function's return value to guestResultFile,
// not to standard output, so that nothing the tool itself writes to file
// descriptor 1 (os.write(1, ...), C code, sys.__stdout__) can mix into it.
// See DECISIONS.md, "What does the tool harness do with print and stderr?".
const (
	guestResultDir  = "/result"
	resultFileName  = "output"
	guestResultFile = guestResultDir + "/" + resultFileName
)

// resultFS is the /result mount: a folder holding one write-only file
// whose writes go to w. Nothing in it can be read, listed or created.
type resultFS struct {
	experimentalsys.UnimplementedFS
	w io.Writer
}

func (r resultFS) OpenFile(path string, flag experimentalsys.Oflag, _ fs.FileMode) (experimentalsys.File, experimentalsys.Errno) {
	switch path {
	case "", ".":
		if flag&(experimentalsys.O_WRONLY|experimentalsys.O_RDWR) != 0 {
			return nil, experimentalsys.EISDIR
		}
		return resultDir{}, 0
	case resultFileName:
		if flag&experimentalsys.O_WRONLY == 0 {
			return nil, experimentalsys.EACCES
		}
		return &resultFile{w: r.w}, 0
	}
	if flag&experimentalsys.O_CREAT != 0 {
		return nil, experimentalsys.EROFS
	}
	return nil, experimentalsys.ENOENT
}

func (r resultFS) Stat(path string) (sys.Stat_t, experimentalsys.Errno) {
	switch path {
	case "", ".":
		return resultDir{}.Stat()
	case resultFileName:
		return (&resultFile{}).Stat()
	}
	return sys.Stat_t{}, experimentalsys.ENOENT
}

func (r resultFS) Lstat(path string) (sys.Stat_t, experimentalsys.Errno) { return r.Stat(path) }

type resultDir struct {
	experimentalsys.UnimplementedFile
}

func (resultDir) IsDir() (bool, experimentalsys.Errno) { return true, 0 }

func (resultDir) Stat() (sys.Stat_t, experimentalsys.Errno) {
	return sys.Stat_t{Mode: fs.ModeDir | 0o500, Nlink: 1}, 0
}

func (resultDir) Readdir(int) ([]experimentalsys.Dirent, experimentalsys.Errno) { return nil, 0 }

type resultFile struct {
	experimentalsys.UnimplementedFile
	w io.Writer
}

func (*resultFile) Stat() (sys.Stat_t, experimentalsys.Errno) {
	return sys.Stat_t{Mode: 0o200, Nlink: 1}, 0
}

func (f *resultFile) Write(p []byte) (int, experimentalsys.Errno) {
	n, err := f.w.Write(p)
	if err != nil {
		return n, experimentalsys.EIO
	}
	return n, 0
}
