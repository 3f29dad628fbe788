package compadretest_test

import (
	"net/http"
	"os"
	"testing"

	"github.com/compadre-dev/compadre/compadretest"
)

// BenchmarkStart measures what every API test pays before its first
// assertion: compadretest.Start, signing in with the fixture's API key and
// one authenticated GET /v1/{org}/organization/. Stopping the server is
// not timed.
func BenchmarkStart(b *testing.B) {
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	for b.Loop() {
		tb := &iterationTB{TB: b}
		srv := compadretest.Start(tb)
		token := srv.SignIn(b)
		req, _ := http.NewRequest("GET", srv.BaseURL+"/v1/"+srv.Organization+"/organization/", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			b.Fatalf("get organization: status %d, want 200", resp.StatusCode)
		}
		b.StopTimer()
		tb.cleanup()
		b.StartTimer()
	}
}

// iterationTB runs a fixture's cleanups at the end of one benchmark
// iteration instead of at the end of the benchmark, so servers and their
// data directories do not pile up across iterations.
type iterationTB struct {
	testing.TB
	cleanups []func()
}

func (t *iterationTB) Cleanup(f func()) { t.cleanups = append(t.cleanups, f) }

func (t *iterationTB) TempDir() string {
	dir, err := os.MkdirTemp("", "compadretest-bench")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

func (t *iterationTB) cleanup() {
	for i := len(t.cleanups) - 1; i >= 0; i-- {
		t.cleanups[i]()
	}
	t.cleanups = nil
}
