package compadretest_test

import (
	"encoding/json"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/compadre-dev/compadre/compadretest"
)

// getWithRetries is a client under test: it retries a 429 or 503 up to
// three times, waiting as Retry-After says (capped for the test).
func getWithRetries(t *testing.T, url, token string) (int, int) {
	t.Helper()
	tries := 0
	for {
		tries++
		req, _ := http.NewRequest("GET", url, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if (resp.StatusCode != http.StatusTooManyRequests && resp.StatusCode != http.StatusServiceUnavailable) || tries == 4 {
			return resp.StatusCode, tries
		}
		wait, _ := strconv.Atoi(resp.Header.Get("Retry-After"))
		time.Sleep(min(time.Duration(wait)*time.Millisecond, 10*time.Millisecond))
	}
}

func TestInjectAndRequests(t *testing.T) {
	srv := compadretest.Start(t)
	token := srv.SignIn(t)
	srv.ClearRequests(t)
	url := srv.BaseURL + "/v1/" + srv.Organization + "/user/"

	first := srv.Inject(t, compadretest.Rule{Operation: "get-users", Status: 429, RetryAfter: 1, Count: 1})
	second := srv.Inject(t, compadretest.Rule{Operation: "get-*", Status: 503, Count: 1})
	status, tries := getWithRetries(t, url, token)
	if status != http.StatusOK || tries != 3 {
		t.Fatalf("the client got %d after %d tries, want 200 after 3", status, tries)
	}

	faults := srv.Faults(t)
	if len(faults) != 2 || faults[0].ID != first || faults[0].Applied != 1 || *faults[0].Remaining != 0 ||
		faults[1].ID != second || faults[1].Applied != 1 {
		t.Errorf("faults %+v", faults)
	}
	logged := srv.Requests(t)
	if len(logged) != 3 {
		t.Fatalf("logged %d requests, want 3", len(logged))
	}
	for i, want := range []struct {
		status int
		source string
	}{{429, first}, {503, second}, {200, ""}} {
		r := logged[i]
		source := ""
		if r.Fault != nil {
			source = r.Fault.Source
		}
		if r.Operation != "get-users" || r.Status != want.status || source != want.source || r.User == nil || *r.User != srv.UserID {
			t.Errorf("request %d: %s %d fault %q, want get-users %d fault %q", i, r.Operation, r.Status, source, want.status, want.source)
		}
		if got := r.RequestHeaders["Authorization"]; len(got) != 1 || got[0] != "[redacted]" {
			t.Errorf("request %d: Authorization %v", i, got)
		}
	}
	var body struct {
		Users []json.RawMessage `json:"users"`
	}
	if rb := logged[2].ResponseBody; rb == nil || json.Unmarshal(rb.JSON, &body) != nil || len(body.Users) != 1 {
		t.Errorf("the answer's body: %+v", logged[2].ResponseBody)
	}

	srv.DeleteFault(t, first)
	if got := srv.Faults(t); len(got) != 1 || got[0].ID != second {
		t.Errorf("after deleting %s: %+v", first, got)
	}
	srv.Inject(t, compadretest.Rule{Operation: "get-users", Latency: &compadretest.Latency{MS: 50}})
	srv.ClearFaults(t)
	if got := srv.Faults(t); len(got) != 0 {
		t.Errorf("after clearing: %+v", got)
	}
	srv.ClearRequests(t)
	if got := srv.Requests(t); len(got) != 0 {
		t.Errorf("after clearing: %d requests", len(got))
	}
}

// Without the control API the server is what `compadre serve` runs by
// default: no /_compadre/ and no fault header.
func TestWithControlAPIOff(t *testing.T) {
	srv := compadretest.Start(t, compadretest.WithControlAPI(false))
	token := srv.SignIn(t)
	for _, path := range []string{"/_compadre/faults", "/_compadre/requests"} {
		req, _ := http.NewRequest("GET", srv.BaseURL+path, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("%s: status %d, want 404", path, resp.StatusCode)
		}
	}
}
