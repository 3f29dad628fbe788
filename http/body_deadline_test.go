package httpapi

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// TestBodyDeadlineSparesStreamedAnswers checks that the body deadline bounds
// only the arrival of the body: a handler that has read its body (or had
// none) may answer for longer than the deadline, flushing as it goes,
// without its request's context being cancelled or its answer cut.
func TestBodyDeadlineSparesStreamedAnswers(t *testing.T) {
	const timeout = 100 * time.Millisecond
	s := &Server{bodyTimeout: timeout, log: slog.New(slog.DiscardHandler), metrics: newHTTPMetrics(prometheus.NewRegistry())}
	ctxErr := make(chan error, 1)
	srv := httptest.NewServer(s.outer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/x-ndjson")
		for i := range 3 {
			// Each line is written after the body deadline has passed
			// once more.
			time.Sleep(timeout * 2)
			if _, err := io.WriteString(w, `{"line":`+string(rune('0'+i))+`,"body":"`+string(body)+`"}`+"\n"); err != nil {
				return
			}
			http.NewResponseController(w).Flush()
		}
		ctxErr <- r.Context().Err()
	})))
	t.Cleanup(srv.Close)
	tests := []struct {
		name, method, body string
	}{
		{name: "with a body", method: "POST", body: "hi"},
		{name: "without a body", method: "GET"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest(tt.method, srv.URL, strings.NewReader(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil {
				t.Fatalf("reading the streamed answer: %v (got %q so far)", err, got)
			}
			if n := strings.Count(string(got), "\n"); resp.StatusCode != http.StatusOK || n != 3 {
				t.Fatalf("got status %d and %d lines (%q), want 200 and 3 lines", resp.StatusCode, n, got)
			}
			if !strings.Contains(string(got), `"body":"`+tt.body+`"`) {
				t.Errorf("got %q, want the body %q echoed", got, tt.body)
			}
			if err := <-ctxErr; err != nil {
				t.Errorf("request context: got %v, want not cancelled", err)
			}
		})
	}
}
