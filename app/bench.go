package app

import (
	"context"
	"fmt"
	"io"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing/fstest"
	"time"

	"github.com/compadre-dev/compadre/wasmrt"
)

// BenchOptions tune BenchSandbox.
type BenchOptions struct {
	// CacheDir keeps the compiled interpreter, as a server's data dir does.
	CacheDir string
	// Runs is the number of tool calls per round; Rounds how many rounds
	// per caller count. The medians of the rounds are reported.
	Runs, Rounds int
}

// BenchSandbox measures the sandbox as the tools API uses it: start-up,
// per-call latency and throughput of a trivial tool (it returns its input)
// with one caller and with GOMAXPROCS callers, resident memory after
// warm-up, and a CPU-bound loop. It writes a report to w.
func BenchSandbox(ctx context.Context, w io.Writer, opts BenchOptions) error {
	opts.Runs = max(opts.Runs, 1)
	opts.Rounds = max(opts.Rounds, 1)
	start := time.Now()
	rt, prov, err := OpenSandbox(ctx, opts.CacheDir, wasmrt.Limits{})
	if err != nil {
		return err
	}
	defer rt.Close(context.Background())
	fmt.Fprintf(w, "python      %s\n", prov.Interpreter())
	fmt.Fprintf(w, "start-up    %v (decompress, verify, compile or load from %s)\n", time.Since(start).Round(time.Millisecond), opts.CacheDir)

	call := wasmrt.ToolCall{
		Files:      fstest.MapFS{"echo.py": {Data: []byte("def run(text):\n    return text\n")}},
		Entrypoint: "echo:run",
		Input:      []byte(`{"text": "hello"}`),
		Mode:       "regular",
	}
	for range 20 {
		if _, err := rt.RunTool(ctx, call); err != nil {
			return fmt.Errorf("warm-up: %w", err)
		}
	}
	fmt.Fprintf(w, "rss         %s after warm-up (GOMAXPROCS=%d)\n", residentMemory(), runtime.GOMAXPROCS(0))

	for _, callers := range []int{1, runtime.GOMAXPROCS(0)} {
		var p50s, p99s, rates []float64
		for range opts.Rounds {
			lat, elapsed, err := benchRound(ctx, rt, call, callers, opts.Runs)
			if err != nil {
				return err
			}
			p50s = append(p50s, ms(lat[len(lat)/2]))
			p99s = append(p99s, ms(lat[len(lat)*99/100]))
			rates = append(rates, float64(len(lat))/elapsed.Seconds())
		}
		fmt.Fprintf(w, "callers=%d   p50 %.2f ms  p99 %.2f ms  %.1f runs/s  (medians of %d rounds of %d calls; p50 per round %s)\n",
			callers, median(p50s), median(p99s), median(rates), opts.Rounds, opts.Runs, join(p50s))
	}

	loop := wasmrt.Invocation{
		Files:      fstest.MapFS{"main.py": {Data: []byte("for i in range(10**6):\n    pass\n")}},
		Entrypoint: "main.py",
	}
	var loops []float64
	for range 5 {
		res, err := rt.Run(ctx, loop)
		if err != nil {
			return fmt.Errorf("cpu loop: %w", err)
		}
		loops = append(loops, ms(res.Duration))
	}
	fmt.Fprintf(w, "cpu loop    %.0f ms for 10^6 iterations of a pure-Python loop (median of 5: %s)\n", median(loops), join(loops))
	return nil
}

// benchRound makes n calls from the given number of callers and returns
// each call's latency, sorted, and the round's wall time.
func benchRound(ctx context.Context, rt *wasmrt.Runtime, call wasmrt.ToolCall, callers, n int) ([]time.Duration, time.Duration, error) {
	var left atomic.Int64
	left.Store(int64(n))
	lat := make([]time.Duration, 0, n)
	var mu sync.Mutex
	var firstErr error
	var wg sync.WaitGroup
	start := time.Now()
	for range callers {
		wg.Go(func() {
			for left.Add(-1) >= 0 {
				t0 := time.Now()
				res, err := rt.RunTool(ctx, call)
				d := time.Since(t0)
				mu.Lock()
				if err == nil && res.Output != "hello" {
					err = fmt.Errorf("got output %q", res.Output)
				}
				if err != nil && firstErr == nil {
					firstErr = err
				}
				lat = append(lat, d)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	slices.Sort(lat)
	return lat, elapsed, firstErr
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}

func join(xs []float64) string {
	parts := make([]string, len(xs))
	for i, x := range xs {
		parts[i] = strconv.FormatFloat(x, 'f', 2, 64)
	}
	return strings.Join(parts, " ")
}

// residentMemory reads the process's resident set size where the system
// reports it (Linux), else what the Go runtime holds.
func residentMemory() string {
	if b, err := os.ReadFile("/proc/self/status"); err == nil {
		for line := range strings.Lines(string(b)) {
			if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
				return strings.TrimSpace(v)
			}
		}
	}
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return fmt.Sprintf("%d MiB (Go runtime)", m.Sys>>20)
}
