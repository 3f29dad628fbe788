package httpapi_test

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"testing"
	"time"
)

// BenchmarkPromptLogDownload measures get-prompt-logs for one
// conversation of the walker graph under the built-in model: the opening
// turn and twenty interactions, 43 prompt logs, each checked against the
// conversation and written as two zip entries. One request at a time over
// loopback, timed until the whole zip is read; reports latency
// percentiles, the zip's size and the logs downloaded.
func BenchmarkPromptLogDownload(b *testing.B) {
	srv, c := newTestServer(b)
	svc := c.talkingService(b, "Walker", walkerGraph())
	conv := c.open(b, "", map[string]any{"service_id": svc}).events[0]["conversation_id"].(string)
	c.interact(b, conv, "", userMessage("I have a question about my invoice"))
	// The billing state keeps a message sharing no word with its exit
	// condition: two model calls an interaction.
	for range 19 {
		c.interact(b, conv, "", userMessage("Please explain each line item"))
	}
	prefix := "conversation/" + conv + "/"
	logs, err := srv.Store().PromptLogs(context.Background(), srv.Organization, prefix, 1000)
	if err != nil {
		b.Fatal(err)
	}
	req, err := http.NewRequest("GET", c.base+"/v1/"+c.org+"/admin/get_prompt_logs/?prompt_log_prefix="+url.QueryEscape(prefix), nil)
	if err != nil {
		b.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	var lat []time.Duration
	var size int64
	b.ResetTimer()
	start := time.Now()
	for b.Loop() {
		t0 := time.Now()
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		size, err = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK {
			b.Fatalf("status %d, %v", resp.StatusCode, err)
		}
		lat = append(lat, time.Since(t0))
	}
	reportLatency(b, lat, time.Since(start))
	b.ReportMetric(float64(size), "zip-bytes")
	b.ReportMetric(float64(len(logs)), "logs")
}
