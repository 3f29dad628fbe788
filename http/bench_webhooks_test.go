package httpapi_test

import (
	"bytes"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/compadre-dev/compadre/compadretest"
)

// BenchmarkFinishToFirstDelivery measures, under the built-in model, the
// time from finish-conversation answering to the first attempt of the
// conversation's first conversation-post-processing-complete delivery
// reaching a receiver on loopback, and reports its median and p99.
func BenchmarkFinishToFirstDelivery(b *testing.B) {
	_, c := newTestServer(b)
	rcv := compadretest.NewReceiver(b)
	c.hookCreate(b, rcv.URL, 3)
	svc := c.talkingService(b, "bench", walkerGraph())
	var lat []time.Duration
	b.ResetTimer()
	for b.Loop() {
		opened := c.open(b, "", map[string]any{"service_id": svc})
		conv := opened.events[0]["conversation_id"].(string)
		before := len(rcv.Deliveries())
		status, body := c.do("POST", "/conversation/"+conv+"/finish/", nil)
		if status != http.StatusNoContent {
			b.Fatalf("finish: %d %v", status, body)
		}
		finished := time.Now()
		got := rcv.Wait(b, before+1, time.Minute)
		first := slices.IndexFunc(got[before:], func(r compadretest.ReceivedWebhook) bool {
			return bytes.Contains(r.Body, []byte(conv))
		})
		if first < 0 {
			b.Fatalf("no delivery for %s", conv)
		}
		lat = append(lat, got[before+first].At.Sub(finished))
		// The other two steps' deliveries arrive before the next round.
		rcv.Wait(b, before+3, time.Minute)
	}
	b.StopTimer()
	slices.Sort(lat)
	q := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))].Microseconds()) / 1000 }
	b.ReportMetric(q(0.5), "p50-ms")
	b.ReportMetric(q(0.99), "p99-ms")
}

// BenchmarkWebhookDeliveries measures sustained deliveries per second to
// a receiver on loopback: b.N events queued at once, timed until the
// receiver has them all.
func BenchmarkWebhookDeliveries(b *testing.B) {
	srv, c := newTestServer(b)
	rcv := compadretest.NewReceiver(b)
	c.hookCreate(b, rcv.URL, 3)
	payload := map[string]any{"type": hookType, "post_processing_type": "extract-memories", "conversation_id": "c",
		"org_id": srv.Organization}
	b.ResetTimer()
	start := time.Now()
	for range b.N {
		emit(b, srv, hookType, payload)
	}
	rcv.Wait(b, b.N, 10*time.Minute)
	elapsed := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "deliveries/s")
}
