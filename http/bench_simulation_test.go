package httpapi_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/compadre-dev/compadre/compadretest"
)

// BenchmarkSimulationRun measures the wall time of one run of a set of
// three unit tests run twice each under the built-in model: six simulated
// conversations of up to five interactions, each judged on two metrics,
// from create to is_completed as a client polling every 20 ms sees it.
func BenchmarkSimulationRun(b *testing.B) {
	srv, c := newTestServer(b, compadretest.WithSandbox())
	w := newSimWorld(b, srv, c)
	setID := c.simSet(b, "bench", w.passing, 2, w.failing, 2, w.overrunner, 2)
	b.ResetTimer()
	for b.Loop() {
		id := c.simCreate(b, "/simulation/unit_test_set_run/", map[string]any{"simulation_unit_test_set_id": setID},
			"simulation_unit_test_set_run_id")
		c.simAwait(b, id)
	}
}

// BenchmarkAPIWhileSimulating measures GET /v1/{org}/organization/, one
// request at a time, with no simulation running (idle) and while runs of
// fifty simulated conversations follow one another (busy), and reports the
// latency percentiles of each: simulation work must not starve the API.
func BenchmarkAPIWhileSimulating(b *testing.B) {
	srv, c := newTestServer(b, compadretest.WithSandbox())
	w := newSimWorld(b, srv, c)
	setID := c.simSet(b, "load", w.passing, 25, w.failing, 25)
	for _, busy := range []bool{false, true} {
		name := map[bool]string{false: "idle", true: "busy"}[busy]
		b.Run(name, func(b *testing.B) {
			ctx, stop := context.WithCancel(context.Background())
			var wg sync.WaitGroup
			runs, current := 0, ""
			if busy {
				wg.Add(1)
				go func() {
					defer wg.Done()
					// Not simCreate and simAwait: they end the benchmark
					// with Fatal, which only its own goroutine may call.
					for ctx.Err() == nil {
						status, resp := c.do("POST", "/simulation/unit_test_set_run/",
							map[string]any{"simulation_unit_test_set_id": setID})
						if status != http.StatusCreated {
							b.Errorf("create run: %d %v", status, resp)
							return
						}
						id := resp["simulation_unit_test_set_run_id"].(string)
						current = id
						for ctx.Err() == nil {
							_, page := c.do("GET", "/simulation/unit_test_set_run/?id="+id, nil)
							if behaviorItems(page, "simulation_unit_test_set_runs")[0]["is_completed"] == true {
								runs++
								break
							}
							time.Sleep(20 * time.Millisecond)
						}
					}
				}()
				// Measure once the first run's conversations are under way.
				time.Sleep(200 * time.Millisecond)
			}
			req, _ := http.NewRequest("GET", c.base+"/v1/"+c.org+"/organization/", nil)
			req.Header.Set("Authorization", "Bearer "+c.token)
			var lat []time.Duration
			b.ResetTimer()
			start := time.Now()
			for b.Loop() {
				t0 := time.Now()
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					b.Fatal(err)
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					b.Fatalf("status %d", resp.StatusCode)
				}
				lat = append(lat, time.Since(t0))
			}
			elapsed := time.Since(start)
			b.StopTimer()
			stop()
			wg.Wait()
			if current != "" {
				// The next round may not start one while this one runs.
				c.do("DELETE", "/simulation/unit_test_set_run/"+current+"/", nil)
				c.simAwait(b, current)
			}
			reportLatency(b, lat, elapsed)
			if busy {
				b.ReportMetric(float64(runs), "runs-finished")
			}
		})
	}
}

// BenchmarkEvaluateTenMetrics measures evaluate-metrics on a two-interaction
// conversation with ten metrics under the built-in judge.
func BenchmarkEvaluateTenMetrics(b *testing.B) {
	_, c := newTestServer(b)
	j := c.judgedConversation(b)
	ids := make([]any, 10)
	for i := range ids {
		ids[i] = c.metricCreate(metricWithDescription(fmt.Sprintf("metric %d", i), `Did the user mention "invoice"?`,
			metricValue("boolean")))
	}
	body := map[string]any{"metric_ids": ids, "conversation_id": j.conv}
	var lat []time.Duration
	b.ResetTimer()
	start := time.Now()
	for b.Loop() {
		t0 := time.Now()
		status, resp := c.evaluate(b, body)
		if status != http.StatusOK {
			b.Fatalf("evaluate: %d %v", status, resp)
		}
		lat = append(lat, time.Since(t0))
	}
	reportLatency(b, lat, time.Since(start))
}
