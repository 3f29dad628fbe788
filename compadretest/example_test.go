package compadretest_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/compadre-dev/compadre/compadretest"
)

// usersClient is the kind of client code a project tests against
// Compadre: it lists an organization's users and creates one, retrying
// 429 and 503 answers as Retry-After asks, at most retries times.
type usersClient struct {
	base, org, token string
	retries          int
	// maxWait caps a Retry-After wait, so the test does not sleep whole
	// seconds.
	maxWait time.Duration
}

// do sends one request, retrying; it returns the last status and how
// many attempts it made.
func (c usersClient) do(method, path string, body any) (status, attempts int, err error) {
	var raw []byte
	if body != nil {
		if raw, err = json.Marshal(body); err != nil {
			return 0, 0, err
		}
	}
	for attempts = 1; ; attempts++ {
		req, err := http.NewRequest(method, c.base+"/v1/"+c.org+path, bytes.NewReader(raw))
		if err != nil {
			return 0, attempts, err
		}
		req.Header.Set("Authorization", "Bearer "+c.token)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0, attempts, err
		}
		resp.Body.Close()
		retryable := resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable
		if !retryable || attempts > c.retries {
			return resp.StatusCode, attempts, nil
		}
		wait := c.maxWait
		if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil {
			wait = min(wait, time.Duration(s)*time.Second)
		}
		time.Sleep(wait)
	}
}

// TestExampleRetryingClient tests a client's retries against faults the
// server injects, and restores a seeded state before each subtest.
func TestExampleRetryingClient(t *testing.T) {
	srv := compadretest.Start(t)
	c := usersClient{base: srv.BaseURL, org: srv.Organization, token: srv.SignIn(t), retries: 2,
		maxWait: 10 * time.Millisecond}

	// Seed once: one user besides the administrator.
	if status, _, err := c.do("POST", "/user/", map[string]any{"first_name": "Ada", "last_name": "Lovelace",
		"email": "ada@example.com", "role_name": "DefaultUserRole"}); err != nil || status != http.StatusCreated {
		t.Fatalf("seed: %d %v", status, err)
	}
	seeded := srv.Snapshot(t)

	t.Run("a 429 and a 503 are retried", func(t *testing.T) {
		srv.Restore(t, seeded)
		srv.ClearRequests(t)
		srv.Inject(t, compadretest.Rule{Operation: "get-users", Status: http.StatusTooManyRequests, RetryAfter: 1, Count: 1})
		srv.Inject(t, compadretest.Rule{Operation: "get-users", Status: http.StatusServiceUnavailable, Count: 1})
		status, attempts, err := c.do("GET", "/user/", nil)
		if err != nil || status != http.StatusOK || attempts != 3 {
			t.Fatalf("got %d after %d attempts (%v), want 200 after 3", status, attempts, err)
		}
		// The request log shows what the client sent, and what it got.
		var got []string
		for _, r := range srv.Requests(t) {
			if r.Operation == "get-users" {
				got = append(got, fmt.Sprint(r.Status))
			}
		}
		if fmt.Sprint(got) != "[429 503 200]" {
			t.Errorf("answers to get-users: %v", got)
		}
	})

	t.Run("retries give up", func(t *testing.T) {
		srv.Restore(t, seeded)
		srv.ClearFaults(t)
		srv.Inject(t, compadretest.Rule{Operation: "create-*", Status: http.StatusServiceUnavailable})
		status, attempts, err := c.do("POST", "/user/", map[string]any{"first_name": "Grace", "last_name": "Hopper",
			"email": "grace@example.com", "role_name": "DefaultUserRole"})
		if err != nil || status != http.StatusServiceUnavailable || attempts != 3 {
			t.Fatalf("got %d after %d attempts (%v), want 503 after 3", status, attempts, err)
		}
		srv.ClearFaults(t)
		// This subtest adds a user the next one must not see.
		if status, _, err := c.do("POST", "/user/", map[string]any{"first_name": "Grace", "last_name": "Hopper",
			"email": "grace@example.com", "role_name": "DefaultUserRole"}); err != nil || status != http.StatusCreated {
			t.Fatalf("create-user without faults: %d %v", status, err)
		}
	})

	t.Run("each subtest starts from the seed", func(t *testing.T) {
		srv.Restore(t, seeded)
		srv.ClearFaults(t)
		req, _ := http.NewRequest("GET", c.base+"/v1/"+c.org+"/user/", nil)
		req.Header.Set("Authorization", "Bearer "+c.token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body struct {
			Users []struct {
				Email string `json:"email"`
			} `json:"users"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
			t.Fatal(err)
		}
		if len(body.Users) != 2 {
			t.Errorf("users after the restore: %+v, want the administrator and Ada", body.Users)
		}
	})
}
