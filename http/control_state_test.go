package httpapi_test

import (
	"net/http"
	"testing"
)

// controlUsers counts the organization's users through /v1.
func controlUsers(t *testing.T, c *client) int {
	t.Helper()
	status, body := c.do("GET", "/user/", nil)
	mustStatus(t, "get users", status, http.StatusOK, body)
	return len(body["users"].([]any))
}

func controlAddUser(t *testing.T, c *client, email string) {
	t.Helper()
	status, body := c.do("POST", "/user/", map[string]any{"first_name": "U", "last_name": "V", "email": email,
		"role_name": "DefaultUserRole"})
	if status != http.StatusCreated && status != http.StatusOK {
		t.Fatalf("create-user: status %d: %v", status, body)
	}
}

// TestControlSnapshots: a snapshot taken over the control API is listed,
// restored (what was made after it is gone) and deleted; bad and unknown
// names are refused and change nothing.
func TestControlSnapshots(t *testing.T) {
	t.Parallel()
	_, c := newTestServer(t)
	before := controlUsers(t, c)
	status, snap := c.ctl("POST", "snapshots", map[string]any{"name": "seeded"})
	mustStatus(t, "create snapshot", status, http.StatusCreated, snap)
	if snap["name"] != "seeded" || snap["created_at"] == "" || snap["bytes"].(float64) <= 0 {
		t.Errorf("snapshot: %v", snap)
	}
	controlAddUser(t, c, "later@example.com")
	if got := controlUsers(t, c); got != before+1 {
		t.Fatalf("users after adding one: %d, want %d", got, before+1)
	}
	status, list := c.ctl("GET", "snapshots", nil)
	mustStatus(t, "list snapshots", status, http.StatusOK, list)
	if got := list["snapshots"].([]any); len(got) != 1 || got[0].(map[string]any)["name"] != "seeded" {
		t.Errorf("snapshots: %v", got)
	}

	status, body := c.ctl("POST", "snapshots/seeded/restore", nil)
	mustStatus(t, "restore", status, http.StatusNoContent, body)
	if got := controlUsers(t, c); got != before {
		t.Errorf("users after the restore: %d, want %d", got, before)
	}

	for _, tc := range []struct {
		method, path string
		body         any
		want         int
	}{
		{"POST", "snapshots", map[string]any{"name": "-dash-first"}, http.StatusUnprocessableEntity},
		{"POST", "snapshots", map[string]any{"name": ""}, http.StatusUnprocessableEntity},
		{"POST", "snapshots", map[string]any{}, http.StatusUnprocessableEntity},
		{"POST", "snapshots/missing/restore", nil, http.StatusNotFound},
		{"POST", "snapshots/bad.name/restore", nil, http.StatusBadRequest},
		{"DELETE", "snapshots/missing", nil, http.StatusNotFound},
	} {
		if status, body := c.ctl(tc.method, tc.path, tc.body); status != tc.want {
			t.Errorf("%s %s %v: status %d, want %d (%v)", tc.method, tc.path, tc.body, status, tc.want, body)
		}
	}
	if got := controlUsers(t, c); got != before {
		t.Errorf("users after refused calls: %d, want %d", got, before)
	}

	status, body = c.ctl("DELETE", "snapshots/seeded", nil)
	mustStatus(t, "delete snapshot", status, http.StatusNoContent, body)
	if status, body := c.ctl("POST", "snapshots/seeded/restore", nil); status != http.StatusNotFound {
		t.Errorf("restore of a deleted snapshot: %d %v", status, body)
	}
}

// TestControlReset: a reset over the control API takes the organization
// back to its first start and the caller's credentials still sign in; an
// unknown organization is 404.
func TestControlReset(t *testing.T) {
	t.Parallel()
	srv, c := newTestServer(t)
	before := controlUsers(t, c)
	controlAddUser(t, c, "gone@example.com")
	if status, body := c.ctl("POST", "reset", map[string]any{"organization": "no-such-org"}); status != http.StatusNotFound {
		t.Errorf("reset of an unknown organization: %d %v", status, body)
	}
	status, body := c.ctl("POST", "reset", map[string]any{"organization": srv.Organization})
	mustStatus(t, "reset", status, http.StatusNoContent, body)
	again := c.as(c.signIn(srv.APIKey, srv.APIKeyID, srv.UserID))
	if got := controlUsers(t, again); got != before {
		t.Errorf("users after the reset: %d, want %d", got, before)
	}
	status, body = again.ctl("POST", "reset", map[string]any{})
	mustStatus(t, "reset of the server", status, http.StatusNoContent, body)
}

// TestControlClock: the clock is read and moved forward over the control
// API; a token's hour then ends at once; the clock never goes back.
func TestControlClock(t *testing.T) {
	t.Parallel()
	srv, c := newTestServer(t)
	status, body := c.ctl("GET", "clock", nil)
	mustStatus(t, "get clock", status, http.StatusOK, body)
	if body["offset"] != "PT0S" || body["now"] == "" {
		t.Errorf("clock: %v", body)
	}
	for _, tc := range []struct {
		duration any
		want     int
	}{
		{"PT0S", http.StatusBadRequest},
		{"-PT1H", http.StatusUnprocessableEntity},
		{"an hour", http.StatusUnprocessableEntity},
		{3600, http.StatusUnprocessableEntity},
	} {
		if status, body := c.ctl("POST", "clock/advance", map[string]any{"duration": tc.duration}); status != tc.want {
			t.Errorf("advance %v: status %d, want %d (%v)", tc.duration, status, tc.want, body)
		}
	}
	status, body = c.ctl("POST", "clock/advance", map[string]any{"duration": "PT1H"})
	mustStatus(t, "advance", status, http.StatusOK, body)
	if body["offset"] != "PT1H" {
		t.Errorf("clock after an hour: %v", body)
	}
	// The client's token lived an hour.
	if status, body := c.do("GET", "/user/", nil); status != http.StatusUnauthorized {
		t.Errorf("a token after its hour: %d %v", status, body)
	}
	fresh := c.as(c.signIn(srv.APIKey, srv.APIKeyID, srv.UserID))
	if status, body := fresh.ctl("GET", "clock", nil); status != http.StatusOK || body["offset"] != "PT1H" {
		t.Errorf("clock read with a new token: %d %v", status, body)
	}
}
