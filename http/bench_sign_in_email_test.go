package httpapi_test

import (
	"math/rand/v2"
	"net/http"
	"slices"
	"testing"
	"time"
)

// BenchmarkSignInWithEmail measures sign-in-with-email's answer for an
// email that is a user's and one that is nobody's, in a random order so
// both meet the same background mail sending, and reports each
// one's median and p99 and the ratio of the medians, which should be about
// 1: the answer must not tell the two apart by its timing.
func BenchmarkSignInWithEmail(b *testing.B) {
	srv, c := newTestServer(b)
	var known, unknown []time.Duration
	b.ResetTimer()
	rng := rand.New(rand.NewPCG(1, 2))
	for b.Loop() {
		email, lat := adminEmail, &known
		if rng.IntN(2) == 1 {
			email, lat = "nobody@example.com", &unknown
		}
		t0 := time.Now()
		status, body, _ := c.askLink(b, email, srv.BaseURL+"/")
		*lat = append(*lat, time.Since(t0))
		if status != http.StatusOK {
			b.Fatalf("%s: %d %s", email, status, body)
		}
	}
	b.StopTimer()
	if len(known) == 0 || len(unknown) == 0 {
		return
	}
	q := func(lat []time.Duration, p float64) float64 {
		slices.Sort(lat)
		return float64(lat[int(p*float64(len(lat)-1))].Microseconds()) / 1000
	}
	b.ReportMetric(q(known, 0.5), "known-p50-ms")
	b.ReportMetric(q(known, 0.99), "known-p99-ms")
	b.ReportMetric(q(unknown, 0.5), "unknown-p50-ms")
	b.ReportMetric(q(unknown, 0.99), "unknown-p99-ms")
	b.ReportMetric(q(known, 0.5)/q(unknown, 0.5), "known/unknown-p50")
}
