package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync"
	"time"

	assets "github.com/compadre-dev/compadre/embed"
	"github.com/compadre-dev/compadre/tools"
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
	// maxWait bounds how long a request waits for a starting sandbox.
	maxWait time.Duration
}

// openSandboxFunc opens the sandbox; Config.openSandbox replaces it in
// tests that need the start to take as long as they say.
type openSandboxFunc func(ctx context.Context, cacheDir string, limits wasmrt.Limits) (*wasmrt.Runtime, error)

func openSandbox(ctx context.Context, cacheDir string, limits wasmrt.Limits) (*wasmrt.Runtime, error) {
	rt, _, err := OpenSandbox(ctx, cacheDir, limits)
	return rt, err
}

// DefaultSandboxWait is how long a request that needs the sandbox waits
// for it to finish starting. See DECISIONS.md, "Why do requests wait for a
// starting sandbox?".
const DefaultSandboxWait = 60 * time.Second

func startSandbox(open openSandboxFunc, cacheDir string, limits wasmrt.Limits, maxWait time.Duration, log *slog.Logger) *sandbox {
	s := &sandbox{state: "starting", done: make(chan struct{}), maxWait: maxWait}
	if prov, err := assets.PythonProvenance(); err == nil {
		s.python = prov.Interpreter()
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.closing = cancel
	go func() {
		defer close(s.done)
		start := time.Now()
		rt, err := open(ctx, cacheDir, limits)
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

// runtime returns the sandbox once it runs. While it starts, it waits for
// it, up to maxWait or ctx's end, whichever comes first; past maxWait it
// is tools.ErrSandboxStarting, so the client can be told to come back.
func (s *sandbox) runtime(ctx context.Context) (*wasmrt.Runtime, error) {
	t := time.NewTimer(s.maxWait)
	defer t.Stop()
	select {
	case <-s.done:
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-t.C:
		return nil, tools.ErrSandboxStarting
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.rt == nil {
		return nil, fmt.Errorf("app: the sandbox is %s: %w", s.state, tools.ErrSandboxUnavailable)
	}
	return s.rt, nil
}

// wait blocks until the sandbox has started or failed.
func (s *sandbox) wait(ctx context.Context) error {
	select {
	case <-s.done:
		_, err := s.runtime(ctx)
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
