package wasmrt_test

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/compadre-dev/compadre/wasmrt"
)

// BenchmarkRunTool calls a trivial tool (it returns its input) through the
// harness, from one caller and from GOMAXPROCS callers, and reports the
// per-run latency percentiles beside the throughput.
func BenchmarkRunTool(b *testing.B) {
	files := fstest.MapFS{"echo.py": {Data: []byte("def run(text):\n    return text\n")}}
	call := wasmrt.ToolCall{Files: files, Entrypoint: "echo:run", Input: []byte(`{"text": "hello"}`), Mode: "regular"}
	for _, callers := range []int{1, runtime.GOMAXPROCS(0)} {
		b.Run(fmt.Sprintf("callers=%d", callers), func(b *testing.B) {
			var mu sync.Mutex
			var lat []time.Duration
			var next sync.Mutex
			remaining := b.N
			start := time.Now()
			var wg sync.WaitGroup
			for range callers {
				wg.Go(func() {
					for {
						next.Lock()
						if remaining == 0 {
							next.Unlock()
							return
						}
						remaining--
						next.Unlock()
						t0 := time.Now()
						res, err := sandbox.RunTool(context.Background(), call)
						d := time.Since(t0)
						if err != nil || res.Output != "hello" {
							b.Errorf("got %q, %v", res.Output, err)
							return
						}
						mu.Lock()
						lat = append(lat, d)
						mu.Unlock()
					}
				})
			}
			wg.Wait()
			elapsed := time.Since(start)
			slices.Sort(lat)
			if len(lat) > 0 {
				b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
				b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
				b.ReportMetric(float64(len(lat))/elapsed.Seconds(), "runs/s")
			}
		})
	}
}

// BenchmarkCPULoop is a pure-Python loop of 10^6 iterations: what a
// CPU-bound tool pays under WebAssembly.
func BenchmarkCPULoop(b *testing.B) {
	files := fstest.MapFS{"main.py": {Data: []byte("for i in range(10**6):\n    pass\n")}}
	for b.Loop() {
		if _, err := sandbox.Run(context.Background(), wasmrt.Invocation{Files: files, Entrypoint: "main.py"}); err != nil {
			b.Fatal(err)
		}
	}
}
