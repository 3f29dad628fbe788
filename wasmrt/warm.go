package wasmrt

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"testing/fstest"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"
	"github.com/tetratelabs/wazero/experimental/sysfs"
	"github.com/tetratelabs/wazero/sys"
)

// The programs of Config are compiled into the /harness mount:
// Config.Harness as harness.py, Config.Builder as build.py.
const (
	guestHarnessDir = "/harness"
	harnessFile     = "harness.py"
	builderFile     = "build.py"
)

// bootstrap is the program every instance starts, before it has a request.
// It blocks reading its request from standard input: ten digits of length
// and a JSON header {argv, env}. Then it runs argv[0] as __main__ with the
// rest of standard input left for the program. The environment comes in
// the header because the instance was started before the request existed.
// It runs from bytecode compiled once by New (see precompile), since
// CPython's compiler is slow under WebAssembly: 16 ms for the harness.
// The harness's bytecode is loaded before the request arrives, since tool
// calls are the common request; any other program's is loaded when a
// request names it, so a warm start does not pay for programs it will
// most likely not run.
//
// It leaves the interpreter without finalising it: the instance is thrown
// away, and finalisation is most of the cost of a short run. atexit
// handlers still run and output is flushed. See DECISIONS.md, "Why skip
// interpreter finalisation?".
const bootstrap = `import sys, os, json, marshal
sys.path.append('/tool')
def _read(n):
    parts = []
    while n > 0:
        b = os.read(0, n)
        if not b:
            os._exit(70)
        parts.append(b)
        n -= len(b)
    return b''.join(parts)
def _finish(code):
    import atexit
    atexit._run_exitfuncs()
    for s in (sys.stdout, sys.stderr):
        try:
            s.flush()
        except Exception:
            pass
    os._exit(code)
def _load(path):
    try:
        with open(path + '.bin', 'rb') as f:
            return marshal.loads(f.read())
    except OSError:
        return None
_harness = _load('/harness/harness.py')
_header = json.loads(_read(int(_read(10))))
os.environ.update(_header['env'] or {})
sys.argv[:] = _header['argv']
_path = sys.argv[0]
del _header
try:
    if _path == '/harness/harness.py':
        _code = _harness
    elif _path.startswith('/harness/'):
        _code = _load(_path)
    else:
        _code = None
    if _code is None:
        with open(_path, 'rb') as _f:
            _code = compile(_f.read(), _path, 'exec')
    exec(_code, {'__name__': '__main__', '__file__': _path, '__builtins__': __builtins__})
except SystemExit as e:
    c = e.code
    if c is None:
        c = 0
    elif not isinstance(c, int):
        print(c, file=sys.stderr)
        c = 1
    _finish(c & 0xff)
except BaseException:
    sys.excepthook(*sys.exc_info())
    _finish(1)
_finish(0)
`

// bootstrapLoader is the -c program of every instance: it runs the
// precompiled bootstrap.
const bootstrapLoader = "import marshal;exec(marshal.loads(open('/harness/bootstrap.bin','rb').read()))"

// compileProgram turns each file under /src into marshalled bytecode on
// standard output: "name length\n" then the bytes, per file.
const compileProgram = `import marshal, os, sys
out = sys.stdout.buffer
for name in sorted(os.listdir('/src')):
    with open('/src/' + name, 'rb') as f:
        data = marshal.dumps(compile(f.read(), '/harness/' + name, 'exec'))
    out.write(b'%s %d\n' % (name.encode(), len(data)))
    out.write(data)
out.flush()
os._exit(0)
`

// precompile compiles the bootstrap and each program given (file name to
// Python source; an empty one is left out) with the sandbox's own
// interpreter, once, and returns the /harness mount: name.bin files of
// marshalled bytecode.
func (r *Runtime) precompile(ctx context.Context, programs map[string][]byte) (fs.FS, error) {
	src := fstest.MapFS{"bootstrap": {Data: []byte(bootstrap), Mode: 0o444}}
	for name, code := range programs {
		if len(code) > 0 {
			src[name] = &fstest.MapFile{Data: code, Mode: 0o444}
		}
	}
	var stdout, stderr bytes.Buffer
	var limit atomic.Uint64
	var refused atomic.Bool
	limit.Store(r.cfg.Limits.MemoryBytes)
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	mod, err := r.instantiate(ctx, compileProgram, bytes.NewReader(nil), &stdout, &stderr,
		map[string]fs.FS{guestStdlibDir: r.stdlib, "/src": src}, nil, &limit, &refused)
	if err != nil {
		return nil, fmt.Errorf("wasmrt: precompile: %w", err)
	}
	_, err = mod.ExportedFunction("run").Call(ctx)
	_ = mod.Close(context.Background())
	if exitErr := (*sys.ExitError)(nil); !errors.As(err, &exitErr) || exitErr.ExitCode() != 0 {
		return nil, fmt.Errorf("wasmrt: precompile: %v: %s", err, bytes.TrimSpace(stderr.Bytes()))
	}
	out := fstest.MapFS{}
	data := stdout.Bytes()
	for len(data) > 0 {
		line, rest, ok := bytes.Cut(data, []byte("\n"))
		var name string
		var n int
		if _, scanErr := fmt.Sscanf(string(line), "%s %d", &name, &n); !ok || scanErr != nil || n > len(rest) {
			return nil, errors.New("wasmrt: precompile: malformed output")
		}
		out[name+".bin"] = &fstest.MapFile{Data: rest[:n], Mode: 0o444}
		data = rest[n:]
	}
	for name := range src {
		if out[name+".bin"] == nil {
			return nil, fmt.Errorf("wasmrt: precompile: no bytecode for %s", name)
		}
	}
	return out, nil
}

// instance is one interpreter: started, and (once handed out) running.
type instance struct {
	io     *runIO
	cancel context.CancelFunc
	done   chan struct{} // closed when the guest's run returned
	// Set before done is closed.
	results []uint64
	callErr error
	// err is a failure to start; such an instance is never run.
	err error
}

// runIO is an instance's side of the host: its streams, its tool files and
// its memory cap, all set when a request arrives.
type runIO struct {
	release chan []byte
	waiting chan struct{} // closed at the guest's first read
	once    sync.Once
	in      *bytes.Reader
	stdout  cappedBuffer
	stderr  cappedBuffer
	result  cappedBuffer // the tool harness's return value, at guestResultFile
	files   switchFS
	limit   atomic.Uint64
	refused atomic.Bool
}

// Read serves the guest's standard input. The first read blocks until the
// instance is handed a request.
func (s *runIO) Read(p []byte) (int, error) {
	if s.in == nil {
		s.once.Do(func() { close(s.waiting) })
		data, ok := <-s.release
		if !ok {
			return 0, io.EOF
		}
		s.in = bytes.NewReader(data)
	}
	return s.in.Read(p)
}

// switchFS is the /tool mount: empty until a request names its files.
type switchFS struct {
	cur atomic.Pointer[fs.FS]
}

var emptyFS fs.FS = fstest.MapFS{}

func (s *switchFS) set(f fs.FS) {
	if f == nil {
		f = emptyFS
	}
	s.cur.Store(&f)
}

func (s *switchFS) Open(name string) (fs.File, error) {
	if f := s.cur.Load(); f != nil {
		return (*f).Open(name)
	}
	return emptyFS.Open(name)
}

// keepWarm keeps one warm instance ready at a time, until ctx ends.
func (r *Runtime) keepWarm(ctx context.Context) {
	defer r.wg.Done()
	for ctx.Err() == nil {
		inst := r.start(ctx)
		if inst.err != nil {
			// Hand the failure to one caller, then back off: a start that
			// failed once will likely fail again.
			select {
			case r.ready <- inst:
			case <-ctx.Done():
				return
			}
			select {
			case <-time.After(time.Second):
			case <-ctx.Done():
				return
			}
			continue
		}
		select {
		case r.ready <- inst:
		case <-ctx.Done():
			inst.cancel()
			close(inst.io.release)
			<-inst.done
			return
		}
	}
}

// start instantiates the interpreter and runs it up to its first read.
func (r *Runtime) start(ctx context.Context) *instance {
	s := &runIO{release: make(chan []byte, 1), waiting: make(chan struct{})}
	s.files.set(nil)
	s.limit.Store(r.cfg.Limits.MemoryBytes)
	instCtx, cancel := context.WithCancel(ctx)
	inst := &instance{io: s, cancel: cancel, done: make(chan struct{})}

	mod, err := r.instantiate(instCtx, bootstrapLoader, s, &s.stdout, &s.stderr, map[string]fs.FS{
		guestStdlibDir:  r.stdlib,
		guestHarnessDir: r.harness,
		guestToolDir:    &s.files,
	}, &s.result, &s.limit, &s.refused)
	if err != nil {
		cancel()
		inst.err = fmt.Errorf("wasmrt: instantiate: %w", err)
		close(inst.done)
		return inst
	}
	run := mod.ExportedFunction("run")
	r.guests.Add(1)
	go func() {
		defer r.guests.Done()
		inst.results, inst.callErr = run.Call(instCtx)
		_ = mod.Close(context.Background())
		cancel()
		close(inst.done)
	}()
	select {
	case <-s.waiting:
	case <-inst.done:
		inst.err = fmt.Errorf("wasmrt: the interpreter ended before its first request: %v: %s",
			inst.callErr, bytes.TrimSpace(s.stderr.buf))
		if inst.callErr == nil {
			inst.err = errors.New("wasmrt: the interpreter ended before its first request")
		}
	}
	return inst
}

// instantiate makes one instance of the interpreter that will run the -c
// program given, with these streams and read-only mounts, and memory
// capped at *limit (refused records a growth past it). If result is not
// nil, what the guest writes to guestResultFile goes to it.
func (r *Runtime) instantiate(ctx context.Context, program string, stdin io.Reader, stdout, stderr io.Writer,
	mounts map[string]fs.FS, result io.Writer, limit *atomic.Uint64, refused *atomic.Bool) (api.Module, error) {
	// Mounted so that opening a file for writing fails at open with EROFS,
	// as a read-only folder does, rather than at the first write.
	var fsc wazero.FSConfig = wazero.NewFSConfig()
	for _, guest := range slices.Sorted(maps.Keys(mounts)) {
		fsc = fsc.(sysfs.FSConfig).WithSysFSMount(&sysfs.ReadFS{FS: &sysfs.AdaptFS{FS: mounts[guest]}}, guest)
	}
	if result != nil {
		fsc = fsc.(sysfs.FSConfig).WithSysFSMount(resultFS{w: result}, guestResultDir)
	}
	mc := wazero.NewModuleConfig().
		WithName(""). // anonymous: any number may run at once
		WithStartFunctions().
		WithArgs(guestArgv0, "-c", program).
		WithStdin(stdin).
		WithStdout(stdout).
		WithStderr(stderr).
		WithFSConfig(fsc).
		// A real clock and real entropy: tools need today's date and
		// unpredictable secrets. See DECISIONS.md, "Why these sandbox limits?".
		WithSysWalltime().
		WithNanotime(guestNanotime, sys.ClockResolution(1)).
		WithSysNanosleep().
		WithRandSource(rand.Reader)
	ctx = experimental.WithMemoryAllocator(ctx, r.memory.allocator(limit, refused))
	return r.rt.InstantiateModule(ctx, r.compiled, mc)
}
