package httpapi_test

import (
	"net/http"
	"strings"
	"testing"
)

func TestCreateAPIKey(t *testing.T) {
	t.Parallel()
	_, c := newTestServer(t)
	tests := []struct {
		name string
		body any
		want int
	}{
		{"one day", map[string]any{"name": "ci", "duration": "P1D"}, http.StatusCreated},
		{"ninety days", map[string]any{"name": "ops", "duration": "P90D", "role_name": "DefaultUserRole"}, http.StatusCreated},
		{"null name", map[string]any{"name": nil, "duration": "P7D"}, http.StatusCreated},
		{"no name", map[string]any{"duration": "P1D"}, http.StatusUnprocessableEntity},
		{"empty name", map[string]any{"name": "", "duration": "P1D"}, http.StatusUnprocessableEntity},
		{"no duration", map[string]any{"name": "x"}, http.StatusUnprocessableEntity},
		{"under a day", map[string]any{"name": "x", "duration": "PT23H59M"}, http.StatusUnprocessableEntity},
		{"over ninety days", map[string]any{"name": "x", "duration": "P91D"}, http.StatusUnprocessableEntity},
		{"not a duration", map[string]any{"name": "x", "duration": "tomorrow"}, http.StatusUnprocessableEntity},
		{"unknown role", map[string]any{"name": "x", "duration": "P1D", "role_name": "Ghost"}, http.StatusNotFound},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, body := c.do("POST", "/organization/api_key/", tc.body)
			mustStatus(t, tc.name, status, tc.want, body)
			if status == http.StatusCreated && (body["api_key"] == "" || body["api_key_id"] == "" || body["expires_at"] == nil) {
				t.Errorf("body %v", body)
			}
		})
	}

	status, body := c.do("GET", "/organization/api_key/", nil)
	mustStatus(t, "list", status, http.StatusOK, body)
	keys := body["api_keys"].([]any)
	if len(keys) != 4 {
		t.Fatalf("%d keys listed, want 4 (bootstrap and three made here)", len(keys))
	}
	for _, k := range keys {
		m := k.(map[string]any)
		for _, field := range []string{"_id", "name", "org_id", "created_at", "updated_at", "key_id", "expires_at", "creator", "role_id"} {
			if _, ok := m[field]; !ok {
				t.Errorf("key lacks %s: %v", field, m)
			}
		}
		if _, ok := m["api_key"]; ok {
			t.Errorf("listing shows a secret: %v", m)
		}
	}
}

func TestAPIKeyLimit(t *testing.T) {
	t.Parallel()
	_, c := newTestServer(t)
	// The bootstrap key is the first of twenty.
	for i := 2; i <= 20; i++ {
		status, body := c.do("POST", "/organization/api_key/", map[string]any{"name": "k", "duration": "P1D"})
		mustStatus(t, "key", status, http.StatusCreated, body)
	}
	status, body := c.do("POST", "/organization/api_key/", map[string]any{"name": "k", "duration": "P1D"})
	mustStatus(t, "21st key", status, http.StatusBadRequest, body)
	if !strings.Contains(detail(body), "20") {
		t.Errorf("detail %q does not name the limit", detail(body))
	}
}

func TestDeleteAPIKey(t *testing.T) {
	t.Parallel()
	_, c := newTestServer(t)
	status, body := c.do("POST", "/organization/api_key/", map[string]any{"name": "k", "duration": "P1D"})
	mustStatus(t, "create", status, http.StatusCreated, body)
	id := body["api_key_id"].(string)
	status, body = c.do("DELETE", "/organization/api_key/"+id+"/", nil)
	mustStatus(t, "delete", status, http.StatusOK, body)
	if body["deleted_key_id"] != id {
		t.Errorf("body %v", body)
	}
	status, body = c.do("DELETE", "/organization/api_key/"+id+"/", nil)
	mustStatus(t, "delete again", status, http.StatusNotFound, body)
}

// A key signs in only users whose role it covers, and a user cannot mint a
// key broader than their own role.
func TestAPIKeyRoleBounds(t *testing.T) {
	t.Parallel()
	srv, c := newTestServer(t)
	userID := c.newUser("plain@example.com", "DefaultUserRole")

	status, body := c.do("POST", "/organization/api_key/", map[string]any{"name": "narrow", "duration": "P1D", "role_name": "DefaultUserRole"})
	mustStatus(t, "narrow key", status, http.StatusCreated, body)
	narrowKey, narrowID := body["api_key"].(string), body["api_key_id"].(string)
	if status, _ := c.raw("POST", "/v1/"+c.org+"/user/signin_with_api_key", nil, map[string]string{
		"x-api-key": narrowKey, "x-api-key-id": narrowID, "x-user-id": srv.UserID}); status != http.StatusUnauthorized {
		t.Errorf("narrow key signing in the administrator: status %d, want 401", status)
	}
	plain := c.as(c.signIn(narrowKey, narrowID, userID))
	status, body = plain.do("POST", "/organization/api_key/", map[string]any{"name": "wide", "duration": "P1D"})
	mustStatus(t, "plain user minting a key", status, http.StatusForbidden, body)
	if !strings.Contains(detail(body), "Organization:CreateAPIKey") {
		t.Errorf("403 detail %q does not name the permission", detail(body))
	}
	status, body = plain.do("GET", "/organization/api_key/", nil)
	mustStatus(t, "plain user listing keys", status, http.StatusOK, body)
	if keys := body["api_keys"].([]any); len(keys) != 0 {
		t.Errorf("plain user sees %d keys, want none", len(keys))
	}
}
