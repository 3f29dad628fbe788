package wasmrt_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	assets "github.com/compadre-dev/compadre/embed"
	"github.com/compadre-dev/compadre/wasmrt"
)

// sandbox is shared by every test of the package: compiling the interpreter
// is the slow part, and each run is a fresh instance anyway.
var sandbox *wasmrt.Runtime

func TestMain(m *testing.M) {
	os.Exit(func() int {
		rt, err := newRuntime(wasmrt.Limits{})
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		sandbox = rt
		defer rt.Close(context.Background())
		return m.Run()
	}())
}

// testCacheDir keeps compiled code between test processes and runs, as a
// server keeps it in its data directory.
func testCacheDir() string {
	dir, err := os.UserCacheDir()
	if err != nil {
		dir = os.TempDir()
	}
	return filepath.Join(dir, "compadre-test", "wazero")
}

func newRuntime(limits wasmrt.Limits) (*wasmrt.Runtime, error) {
	py, err := assets.LoadPython()
	if err != nil {
		return nil, err
	}
	return wasmrt.New(context.Background(), wasmrt.Config{
		Module:     py.Module,
		Stdlib:     py.Stdlib,
		StdlibName: py.StdlibName,
		Harness:    py.Harness,
		Builder:    py.Builder,
		CacheDir:   testCacheDir(),
		Limits:     limits,
	})
}
