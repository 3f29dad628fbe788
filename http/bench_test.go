package httpapi_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/compadre-dev/compadre/app"
	"github.com/compadre-dev/compadre/compadretest"
	"github.com/compadre-dev/compadre/store"
)

// BenchmarkGetOrganization measures authenticated GET /v1/{org}/organization/
// over loopback with as many concurrent clients as GOMAXPROCS*4, and reports
// requests per second and latency percentiles.
func BenchmarkGetOrganization(b *testing.B) { benchGetOrganization(b) }

// benchGetOrganization is BenchmarkGetOrganization on a server started
// with opts.
func benchGetOrganization(b *testing.B, opts ...compadretest.Option) {
	_, c := newTestServer(b, opts...)
	tr := &http.Transport{MaxIdleConnsPerHost: 256, DialContext: (&net.Dialer{}).DialContext}
	client := &http.Client{Transport: tr}
	url := c.base + "/v1/" + c.org + "/organization/"
	var mu sync.Mutex
	var lat []time.Duration
	b.SetParallelism(4)
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		req, _ := http.NewRequest("GET", url, nil)
		req.Header.Set("Authorization", "Bearer "+c.token)
		var mine []time.Duration
		for pb.Next() {
			t0 := time.Now()
			resp, err := client.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				b.Errorf("status %d", resp.StatusCode)
				return
			}
			mine = append(mine, time.Since(t0))
		}
		mu.Lock()
		lat = append(lat, mine...)
		mu.Unlock()
	})
	elapsed := time.Since(start)
	b.StopTimer()
	tr.CloseIdleConnections()
	reportLatency(b, lat, elapsed)
}

// BenchmarkSignIn measures one sign-in with an API key at a time (argon2id
// verification dominates).
func BenchmarkSignIn(b *testing.B) {
	srv, c := newTestServer(b)
	var lat []time.Duration
	b.ResetTimer()
	start := time.Now()
	for b.Loop() {
		t0 := time.Now()
		c.signIn(srv.APIKey, srv.APIKeyID, srv.UserID)
		lat = append(lat, time.Since(t0))
	}
	reportLatency(b, lat, time.Since(start))
}

func reportLatency(b *testing.B, lat []time.Duration, elapsed time.Duration) {
	if len(lat) == 0 {
		return
	}
	slices.Sort(lat)
	q := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))].Microseconds()) / 1000 }
	b.ReportMetric(float64(len(lat))/elapsed.Seconds(), "req/s")
	b.ReportMetric(q(0.50), "p50-ms")
	b.ReportMetric(q(0.99), "p99-ms")
}

// BenchmarkInvokeTool measures POST .../invoke over loopback, one request
// at a time, for a trivial tool: with one input (latency end to end) and
// with ten (throughput of runs). Every run is recorded, as in production.
func BenchmarkInvokeTool(b *testing.B) {
	srv, c := newTestServer(b, compadretest.WithSandbox())
	id := publishEchoTool(b, srv, c, "echo")
	for _, n := range []int{1, 10} {
		b.Run(fmt.Sprintf("inputs=%d", n), func(b *testing.B) {
			inputs := make([]map[string]any, n)
			for i := range inputs {
				inputs[i] = input(map[string]any{"text": "hi"}, "regular")
			}
			body := invokeBody(inputs...)
			var lat []time.Duration
			start := time.Now()
			for b.Loop() {
				t0 := time.Now()
				status, out := c.do("POST", "/tool/"+id+"/version/1.0.0/invoke", body)
				if status != http.StatusOK {
					b.Fatalf("invoke: status %d: %v", status, out)
				}
				lat = append(lat, time.Since(t0))
			}
			elapsed := time.Since(start)
			reportLatency(b, lat, elapsed)
			b.ReportMetric(float64(len(lat)*n)/elapsed.Seconds(), "runs/s")
		})
	}
}

// BenchmarkGetConversations measures get-conversations over loopback on an
// organization with 2,000 conversations: the first page of all of them, and
// a tag filter that a tenth match (tags are a JSON column, matched with
// json_each).
func BenchmarkGetConversations(b *testing.B) {
	srv, c := newTestServer(b)
	svcID := c.serviceNew(b, "Support", c.newAgent(b, "Amy"), c.newStateMachine(b, "greeter"), nil)
	ctx := context.Background()
	for i := range 2000 {
		tier := "silver"
		if i%10 == 0 {
			tier = "gold"
		}
		_, err := srv.Store().CreateConversation(ctx, store.NewConversation{OrgID: srv.Organization,
			UserID: fmt.Sprintf("%024x", i), ServiceID: svcID, VersionSetName: store.ReleaseVersionSet,
			Tags: map[string]*string{"tier": &tier, "channel": nil}})
		if err != nil {
			b.Fatal(err)
		}
	}
	for _, q := range []struct{ name, query string }{
		{"first-page", "?limit=150"},
		{"tag", "?tag=tier:gold&limit=150"},
	} {
		b.Run(q.name, func(b *testing.B) {
			var lat []time.Duration
			start := time.Now()
			for b.Loop() {
				t0 := time.Now()
				status, body := c.do("GET", "/conversation/"+q.query, nil)
				if status != http.StatusOK || len(body["conversations"].([]any)) == 0 {
					b.Fatalf("status %d: %v", status, body)
				}
				lat = append(lat, time.Since(t0))
			}
			reportLatency(b, lat, time.Since(start))
		})
	}
}

// BenchmarkDurabilityCreateUser measures POST /v1/{org}/user/ over loopback,
// one request at a time, under each store durability: what a client sees of
// the extra sync per commit. See DECISIONS.md, "Why synchronous=FULL by
// default?".
func BenchmarkDurabilityCreateUser(b *testing.B) {
	for _, d := range []store.Durability{store.DurabilityNormal, store.DurabilityFull} {
		b.Run(string(d), func(b *testing.B) {
			_, c := newTestServer(b, func(cfg *app.Config) { cfg.Durability = d })
			var lat []time.Duration
			start := time.Now()
			for i := 0; b.Loop(); i++ {
				t0 := time.Now()
				status, out := c.do("POST", "/user/", map[string]any{"first_name": "U", "last_name": "V",
					"email": fmt.Sprintf("u%d@example.com", i), "role_name": "DefaultUserRole"})
				if status != http.StatusCreated && status != http.StatusOK {
					b.Fatalf("create-user: status %d: %v", status, out)
				}
				lat = append(lat, time.Since(t0))
			}
			reportLatency(b, lat, time.Since(start))
		})
	}
}
