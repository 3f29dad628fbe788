package wasmrt

import (
	"errors"
	"fmt"
	"runtime"
	"time"
)

// Default limits of one run. See DECISIONS.md, "Why these sandbox limits?".
const (
	DefaultTimeout     = 30 * time.Second
	DefaultMemoryBytes = 256 << 20
	DefaultOutputChars = 20_000
	DefaultLogBytes    = 1 << 20
)

// Config says what the sandbox runs and how much of the machine it may use.
// It is validated once, by New.
type Config struct {
	// Module is a CPython interpreter for wasm32-wasip1 built as a WASI
	// reactor: it exports run, and its only import outside WASI preview1 is
	// host::call. A pre-initialised snapshot is expected; its data segments
	// become the memory image every run starts from.
	Module []byte
	// Stdlib is the standard library zip the module was built against,
	// served read-only to every run at /usr/local/lib/<StdlibName>.
	Stdlib []byte
	// StdlibName is the zip's file name, such as "python315.zip".
	StdlibName string
	// Harness is the guest side of the tool protocol (Python source), run
	// by RunTool. It may be empty if RunTool is not used.
	Harness []byte
	// Builder is the guest side of a tool's build (Python source), run by
	// BuildTool. It may be empty if BuildTool is not used.
	Builder []byte
	// CacheDir keeps wazero's compiled code, so a restart does not compile
	// again. Empty means compile in memory every time.
	CacheDir string
	// Limits are the defaults of every run; an Invocation may lower or
	// raise each one.
	Limits Limits
	// MaxRuns bounds how many runs execute at once; more wait their turn.
	// Zero means 2 × GOMAXPROCS.
	MaxRuns int
	// Warm is how many interpreters are kept started and waiting for a
	// request, so a run does not wait for one to start. Zero means
	// GOMAXPROCS.
	Warm int
	// Background bounds how many background runs (ToolCall.Background)
	// execute at once. Compiled guest code cannot be preempted: a guest
	// holds its processor until it calls back into Go. Keeping background
	// work below GOMAXPROCS leaves a processor for the rest of the
	// program, such as the requests of an API. Zero means GOMAXPROCS - 1,
	// and at least 1.
	Background int
}

// Limits bound one run. A zero field means the default.
type Limits struct {
	// Timeout is the wall-clock deadline of the run.
	Timeout time.Duration
	// MemoryBytes caps the guest's linear memory.
	MemoryBytes uint64
	// OutputChars caps standard output, counted in characters (UTF-8).
	OutputChars int
	// LogBytes caps standard error; past it the rest is dropped and
	// Result.LogTruncated is set. It is not an error.
	LogBytes int
}

// withDefaults fills zero fields from base.
func (l Limits) withDefaults(base Limits) Limits {
	if l.Timeout == 0 {
		l.Timeout = base.Timeout
	}
	if l.MemoryBytes == 0 {
		l.MemoryBytes = base.MemoryBytes
	}
	if l.OutputChars == 0 {
		l.OutputChars = base.OutputChars
	}
	if l.LogBytes == 0 {
		l.LogBytes = base.LogBytes
	}
	return l
}

func (l Limits) validate(minMemory uint64) error {
	switch {
	case l.Timeout < 0:
		return errors.New("wasmrt: negative timeout")
	case l.MemoryBytes < minMemory:
		return fmt.Errorf("wasmrt: memory limit %d bytes is below the interpreter's initial %d", l.MemoryBytes, minMemory)
	case l.MemoryBytes > 4<<30:
		return fmt.Errorf("wasmrt: memory limit %d bytes is past wasm32's 4 GiB", l.MemoryBytes)
	case l.OutputChars < 0 || l.LogBytes < 0:
		return errors.New("wasmrt: negative output limit")
	}
	return nil
}

func (c Config) withDefaults() Config {
	c.Limits = c.Limits.withDefaults(Limits{
		Timeout:     DefaultTimeout,
		MemoryBytes: DefaultMemoryBytes,
		OutputChars: DefaultOutputChars,
		LogBytes:    DefaultLogBytes,
	})
	if c.MaxRuns == 0 {
		c.MaxRuns = 2 * runtime.GOMAXPROCS(0)
	}
	if c.Warm == 0 {
		c.Warm = runtime.GOMAXPROCS(0)
	}
	if c.Background == 0 {
		c.Background = max(1, runtime.GOMAXPROCS(0)-1)
	}
	return c
}
