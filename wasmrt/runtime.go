// Package wasmrt runs Python programs in a WebAssembly sandbox: CPython for
// WASI (wasm32-wasip1) under wazero, inside the server's own process.
//
// A Runtime compiles the interpreter once and keeps the compiled code on
// disk. Every run gets a fresh instance whose memory starts as the
// interpreter's pre-initialised image, mapped copy-on-write, so nothing
// carries over between runs. A run sees its own files read-only at /tool,
// the standard library read-only, the environment variables it was given
// and nothing else of the host: no other file, no socket, no process.
// Limits on time, memory and output end a run with a *RunError that says
// which one.
//
// The package knows nothing of HTTP or SQL.
package wasmrt

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing/fstest"
	"time"
	"unicode/utf8"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"
	"github.com/tetratelabs/wazero/sys"
)

// Where the guest finds things. The interpreter looks for its standard
// library at /usr/local/lib/<zip> and names itself argv[0].
const (
	guestStdlibDir = "/usr/local/lib"
	guestToolDir   = "/tool"
	guestArgv0     = "/usr/local/bin/python.wasm"
	stderrTailSize = 2000
)

// Runtime runs programs in the sandbox. It is safe for concurrent use.
type Runtime struct {
	cfg       Config
	rt        wazero.Runtime
	compiled  wazero.CompiledModule
	memory    *memoryImage
	minMemory uint64
	stdlib    fs.FS
	harness   fs.FS
	slots     chan struct{}
	// background holds a token for each background run executing.
	background chan struct{}

	// ready hands out warm instances: instantiated, started, and blocked
	// reading their first request. See DECISIONS.md, "Why keep warm
	// interpreters?".
	ready chan *instance
	stop  context.CancelFunc
	// base is the context of every instance; stop cancels it.
	base   context.Context
	closed chan struct{}
	wg     sync.WaitGroup // keepWarm loops
	// guests are the goroutines running instances. Close waits for them,
	// since closing the runtime unmaps instance memory, which a guest
	// still executing would fault on.
	guests sync.WaitGroup
}

// New compiles the interpreter (or loads it from Config.CacheDir), prepares
// the memory image runs start from, and starts warming instances. It takes
// seconds on a cold cache, so callers start it once.
func New(ctx context.Context, cfg Config) (*Runtime, error) {
	cfg = cfg.withDefaults()
	switch {
	case len(cfg.Module) == 0:
		return nil, errors.New("wasmrt: no interpreter module")
	case len(cfg.Stdlib) == 0 || cfg.StdlibName == "":
		return nil, errors.New("wasmrt: no standard library")
	case cfg.MaxRuns < 0 || cfg.Warm < 0:
		return nil, errors.New("wasmrt: negative MaxRuns or Warm")
	}
	code, image, err := splitData(cfg.Module)
	if err != nil {
		return nil, err
	}

	rc := wazero.NewRuntimeConfig().
		WithCoreFeatures(api.CoreFeaturesV2 | experimental.CoreFeaturesExceptionHandling).
		// A cancelled context closes the module even while the guest spins.
		WithCloseOnContextDone(true)
	if cfg.CacheDir != "" {
		if err := os.MkdirAll(cfg.CacheDir, 0o700); err != nil {
			return nil, fmt.Errorf("wasmrt: cache: %w", err)
		}
		cache, err := wazero.NewCompilationCacheWithDir(cfg.CacheDir)
		if err != nil {
			return nil, fmt.Errorf("wasmrt: cache: %w", err)
		}
		rc = rc.WithCompilationCache(cache)
	}
	compileCtx := experimental.WithCompilationWorkers(ctx, runtime.GOMAXPROCS(0))
	rt := wazero.NewRuntimeWithConfig(compileCtx, rc)
	// The module (tens of megabytes) is not needed once compiled; keeping
	// it in cfg would hold it for the runtime's life.
	r := &Runtime{cfg: cfg, rt: rt}
	r.cfg.Module = nil
	fail := func(err error) (*Runtime, error) {
		_ = rt.Close(context.Background())
		return nil, err
	}
	if err := instantiateWASI(ctx, rt); err != nil {
		return fail(fmt.Errorf("wasmrt: wasi: %w", err))
	}
	// The interpreter's one import beyond WASI is a door to the host.
	// Nothing is behind it: -1 is "no host", as the module expects.
	_, err = rt.NewHostModuleBuilder("host").NewFunctionBuilder().
		WithFunc(func(_ context.Context, _ api.Module, _, _, _, _ uint32) int32 { return -1 }).
		Export("call").Instantiate(ctx)
	if err != nil {
		return fail(fmt.Errorf("wasmrt: host module: %w", err))
	}
	r.compiled, err = rt.CompileModule(compileCtx, code)
	if err != nil {
		return fail(fmt.Errorf("wasmrt: compile: %w", err))
	}
	if _, ok := r.compiled.ExportedFunctions()["run"]; !ok {
		return fail(errors.New("wasmrt: the module exports no run function"))
	}
	mem, ok := r.compiled.ExportedMemories()["memory"]
	if !ok {
		return fail(errors.New("wasmrt: the module exports no memory"))
	}
	r.minMemory = uint64(mem.Min()) * wasmPageBytes
	if err := cfg.Limits.validate(r.minMemory); err != nil {
		return fail(err)
	}
	if r.memory, err = newMemoryImage(cfg.CacheDir, image); err != nil {
		return fail(err)
	}
	r.stdlib = fstest.MapFS{cfg.StdlibName: &fstest.MapFile{Data: cfg.Stdlib, Mode: 0o444}}
	if r.harness, err = r.precompile(ctx, map[string][]byte{harnessFile: cfg.Harness, builderFile: cfg.Builder}); err != nil {
		_ = r.memory.Close()
		return fail(err)
	}
	r.slots = make(chan struct{}, cfg.MaxRuns)
	r.background = make(chan struct{}, cfg.Background)
	r.ready = make(chan *instance)
	r.closed = make(chan struct{})
	warmCtx, stop := context.WithCancel(context.Background())
	r.stop, r.base = stop, warmCtx
	for range cfg.Warm {
		r.wg.Add(1)
		go r.keepWarm(warmCtx)
	}
	return r, nil
}

// Close stops runs in flight and warm instances, and releases the compiled
// code and the memory image.
func (r *Runtime) Close(ctx context.Context) error {
	r.stop() // cancels every instance: warm ones and those running
	close(r.closed)
	r.wg.Wait()
	r.guests.Wait()
	err := r.rt.Close(ctx)
	return errors.Join(err, r.memory.Close())
}

// Invocation is one program to run.
type Invocation struct {
	// Files are the program's own files, mounted read-only at /tool and put
	// on sys.path after the standard library.
	Files fs.FS
	// Entrypoint is the path, inside Files, of the script run as __main__.
	Entrypoint string
	// Args follow the script's name in sys.argv.
	Args []string
	// Env is the program's whole environment.
	Env map[string]string
	// Stdin is what the program reads from standard input.
	Stdin []byte
	// Limits override the runtime's defaults, field by field.
	Limits Limits
	// Background runs wait for one of Config.Background slots and start
	// an interpreter of their own rather than taking a warm one: work
	// that may wait, kept from taking every processor.
	Background bool
}

// Result is what a run produced, whether or not it ended well.
type Result struct {
	Stdout []byte
	Stderr []byte
	// ExitCode is the program's exit status.
	ExitCode int
	// Duration is the time from handing the request to a warm interpreter
	// to the end of the run, not counting any wait for a free slot.
	Duration time.Duration
	// LogTruncated says standard error passed Limits.LogBytes.
	LogTruncated bool

	// result is what a tool harness wrote to guestResultFile, for a
	// request with toolResult set.
	result []byte
}

// Run runs inv.Entrypoint as a Python script. The error is a *RunError if
// the program failed, timed out or passed a limit; Result then holds what
// it wrote before. Other errors (a cancelled ctx, a bad Invocation) come
// with an empty Result.
func (r *Runtime) Run(ctx context.Context, inv Invocation) (Result, error) {
	if inv.Entrypoint == "" || !fs.ValidPath(inv.Entrypoint) {
		return Result{}, fmt.Errorf("wasmrt: entrypoint %q is not a path inside the files", inv.Entrypoint)
	}
	return r.run(ctx, request{
		argv:       append([]string{guestToolDir + "/" + inv.Entrypoint}, inv.Args...),
		files:      inv.Files,
		env:        inv.Env,
		stdin:      inv.Stdin,
		limits:     inv.Limits,
		background: inv.Background,
	})
}

// request is one program for a warm instance.
type request struct {
	argv   []string
	files  fs.FS
	env    map[string]string
	stdin  []byte
	limits Limits
	// toolResult says the program writes its output to guestResultFile:
	// the output limit applies there, and standard output is a log stream
	// capped like standard error.
	toolResult bool
	background bool
}

func (r *Runtime) run(ctx context.Context, req request) (Result, error) {
	limits := req.limits.withDefaults(r.cfg.Limits)
	if err := limits.validate(r.minMemory); err != nil {
		return Result{}, err
	}
	header, err := json.Marshal(struct {
		Argv []string          `json:"argv"`
		Env  map[string]string `json:"env"`
	}{req.argv, req.env})
	if err != nil {
		return Result{}, fmt.Errorf("wasmrt: request: %w", err)
	}
	if req.background {
		select {
		case r.background <- struct{}{}:
			defer func() { <-r.background }()
		case <-ctx.Done():
			return Result{}, ctx.Err()
		case <-r.closed:
			return Result{}, errors.New("wasmrt: runtime closed")
		}
	}
	select {
	case r.slots <- struct{}{}:
		defer func() { <-r.slots }()
	case <-ctx.Done():
		return Result{}, ctx.Err()
	}
	var inst *instance
	if req.background {
		// Its own interpreter, started within its slot: taking a warm one
		// would have the pool start another outside it.
		inst = r.start(r.base)
	} else {
		select {
		case inst = <-r.ready:
		case <-ctx.Done():
			return Result{}, ctx.Err()
		case <-r.closed:
			return Result{}, errors.New("wasmrt: runtime closed")
		}
	}
	if inst.err != nil {
		return Result{}, inst.err
	}

	io := inst.io
	io.limit.Store(limits.MemoryBytes)
	io.files.set(req.files)
	var timedOut, outputOver atomic.Bool
	// Any string of more than 4n bytes of UTF-8 has more than n characters,
	// so a byte cap of 4n stops a flood early without cutting a legal one.
	output := &io.stdout
	if req.toolResult {
		output = &io.result
		io.stdout.setLimit(limits.LogBytes, nil)
	}
	output.setLimit(4*limits.OutputChars, func() {
		outputOver.Store(true)
		inst.cancel()
	})
	io.stderr.setLimit(limits.LogBytes, nil)

	start := time.Now()
	timer := time.AfterFunc(limits.Timeout, func() {
		timedOut.Store(true)
		inst.cancel()
	})
	stopAfter := context.AfterFunc(ctx, inst.cancel)
	io.release <- frame(header, req.stdin)
	<-inst.done
	timer.Stop()
	stopAfter()

	res := Result{Duration: time.Since(start)}
	var stdoutOver bool
	res.Stdout, stdoutOver = io.stdout.bytes()
	res.Stderr, res.LogTruncated = io.stderr.bytes()
	res.result, _ = io.result.bytes()
	outputBytes := res.Stdout
	if req.toolResult {
		outputBytes = res.result
		res.LogTruncated = res.LogTruncated || stdoutOver
	}
	callErr := inst.callErr
	var exitErr *sys.ExitError
	switch {
	case errors.As(callErr, &exitErr):
		res.ExitCode = int(exitErr.ExitCode())
	case callErr == nil && len(inst.results) == 1:
		res.ExitCode = int(int32(inst.results[0]))
	}
	tail := string(res.Stderr[max(0, len(res.Stderr)-stderrTailSize):])
	if len(tail) < len(res.Stderr) {
		// Start at a whole line, so that a record cut in two is left out.
		if _, rest, ok := strings.Cut(tail, "\n"); ok {
			tail = rest
		}
	}
	switch {
	case outputOver.Load():
		return res, &RunError{Kind: KindOutputLimit, Detail: "output passed its limit", StderrTail: tail}
	case timedOut.Load():
		return res, &RunError{Kind: KindTimeout, Detail: "the run passed its deadline of " + limits.Timeout.String(), StderrTail: tail}
	case ctx.Err() != nil:
		return res, fmt.Errorf("wasmrt: run stopped: %w", ctx.Err())
	case r.isClosed():
		return res, errors.New("wasmrt: runtime closed during the run")
	case callErr == nil && res.ExitCode == 0, exitErr != nil && exitErr.ExitCode() == 0:
		if utf8.RuneCount(outputBytes) > limits.OutputChars {
			return res, &RunError{Kind: KindOutputLimit, Detail: "more than " + strconv.Itoa(limits.OutputChars) + " characters of output"}
		}
		return res, nil
	case io.refused.Load():
		return res, &RunError{Kind: KindMemoryLimit, ExitCode: res.ExitCode, Detail: "the guest asked for more than " + strconv.FormatUint(limits.MemoryBytes, 10) + " bytes of memory", StderrTail: tail}
	case callErr != nil && exitErr == nil:
		return res, &RunError{Kind: KindTrap, Detail: firstLine(callErr.Error()), StderrTail: tail}
	}
	return res, &RunError{Kind: KindExit, ExitCode: res.ExitCode, StderrTail: tail}
}

func (r *Runtime) isClosed() bool {
	select {
	case <-r.closed:
		return true
	default:
		return false
	}
}

// frame puts the request header before the program's own standard input:
// ten decimal digits of length, then the JSON header.
func frame(header, stdin []byte) []byte {
	out := make([]byte, 0, 10+len(header)+len(stdin))
	out = fmt.Appendf(out, "%010d", len(header))
	out = append(out, header...)
	return append(out, stdin...)
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}
