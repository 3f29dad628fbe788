package app

import (
	"context"
	"errors"
	"log/slog"
	"runtime/debug"
	"sync"
	"time"

	assets "github.com/compadre-dev/compadre/embed"
	"github.com/compadre-dev/compadre/wasmrt"
)

// SandboxCacheDir is where, inside the data directory, the compiled
// interpreter is kept between starts.
const SandboxCacheDir = "cache/wazero"

// OpenSandbox loads the embedded interpreter, checks it against its
// provenance and compiles it (from cacheDir when it was compiled before).
func OpenSandbox(ctx context.Context, cacheDir string, limits wasmrt.Limits) (*wasmrt.Runtime, assets.Provenance, error) {
	py, err := assets.LoadPython()
	if err != nil {
		return nil, assets.Provenance{}, err
	}
	rt, err := wasmrt.New(ctx, wasmrt.Config{
		Module:     py.Module,
		Stdlib:     py.Stdlib,
		StdlibName: py.StdlibName,
		Harness:    py.Harness,
		Builder:    py.Builder,
		CacheDir:   cacheDir,
		Limits:     limits,
	})
	// Decompressing and compiling leave hundreds of megabytes of garbage
	// (the module alone is 45 MB); hand it back to the system now rather
	// than whenever the heap next shrinks.
	prov := py.Provenance
	py = nil
	debug.FreeOSMemory()
	return rt, prov, err
}

// sandbox opens the Python sandbox in the background, so the API serves
// at once while the interpreter compiles (about a second from the cache,
// tens of seconds on a first start), and says how far it got.
type sandbox struct {
	mu      sync.Mutex
	state   string // starting, ok, failed
	python  string
	rt      *wasmrt.Runtime
	done    chan struct{}
	closing context.CancelFunc
}

func startSandbox(cacheDir string, limits wasmrt.Limits, log *slog.Logger) *sandbox {
	s := &sandbox{state: "starting", done: make(chan struct{})}
	if prov, err := assets.PythonProvenance(); err == nil {
		s.python = prov.Interpreter()
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.closing = cancel
	go func() {
		defer close(s.done)
		start := time.Now()
		rt, _, err := OpenSandbox(ctx, cacheDir, limits)
		s.mu.Lock()
		defer s.mu.Unlock()
		if err != nil {
			s.state = "failed"
			log.Error("python sandbox failed to start", "python", s.python, "error", err)
			return
		}
		s.state, s.rt = "ok", rt
		log.Info("python sandbox ready", "python", s.python, "took", time.Since(start).Round(time.Millisecond))
	}()
	return s
}

// status is the sandbox's readiness check and the interpreter it runs.
func (s *sandbox) status() (state, python string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.state, s.python
}

// runtime returns the sandbox once it runs.
func (s *sandbox) runtime() (*wasmrt.Runtime, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.rt == nil {
		return nil, errors.New("app: the sandbox is " + s.state)
	}
	return s.rt, nil
}

// wait blocks until the sandbox has started or failed.
func (s *sandbox) wait(ctx context.Context) error {
	select {
	case <-s.done:
		_, err := s.runtime()
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (s *sandbox) close() error {
	s.closing()
	<-s.done
	if s.rt != nil {
		return s.rt.Close(context.Background())
	}
	return nil
}

// WaitSandbox blocks until the sandbox runs (nil) or failed to start; it
// is an error if the server was opened without one.
func (a *App) WaitSandbox(ctx context.Context) error {
	if a.sandbox == nil {
		return errors.New("app: the server runs without a sandbox")
	}
	return a.sandbox.wait(ctx)
}
