package httpapi_test

import (
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/compadre-dev/compadre/compadretest"
)

func TestProtocolErrors(t *testing.T) {
	t.Parallel()
	_, c := newTestServer(t)
	auth := map[string]string{"Authorization": "Bearer " + c.token}
	tests := []struct {
		name, method, path string
		body               any
		want               int
		wantDetail         string
	}{
		{"unknown route", "GET", "/v1/" + c.org + "/nothing/here", nil, http.StatusNotFound, "Not Found"},
		{"wrong method", "PATCH", "/v1/" + c.org + "/user/", nil, http.StatusMethodNotAllowed, "Method Not Allowed"},
		{"body over 1 MiB", "POST", "/v1/" + c.org + "/user/", `{"first_name": "` + strings.Repeat("x", 1<<20) + `"}`, http.StatusRequestEntityTooLarge, ""},
		{"malformed JSON", "POST", "/v1/" + c.org + "/organization/api_key/", `{"name": "x",`, http.StatusUnprocessableEntity, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, body := c.raw(tc.method, tc.path, tc.body, auth)
			if status != tc.want {
				t.Fatalf("status %d, want %d: %.200s", status, tc.want, body)
			}
			if !strings.Contains(string(body), `"detail"`) || !strings.Contains(string(body), tc.wantDetail) {
				t.Errorf("body %.200s lacks detail %q", body, tc.wantDetail)
			}
		})
	}
}

func TestPermissionsAreEnforced(t *testing.T) {
	t.Parallel()
	_, admin := newTestServer(t)
	plainID := admin.newUser("plain@example.com", "DefaultUserRole")
	otherID := admin.newUser("other@example.com", "DefaultUserRole")
	plain := admin.keyFor(plainID, "DefaultUserRole")
	tests := []struct {
		name, method, path string
		body               any
		want               int
		perm               string
	}{
		{"delete a user", "DELETE", "/user/" + otherID, nil, http.StatusForbidden, "User:DeleteUser"},
		{"create a user", "POST", "/user/", map[string]any{"first_name": "a", "last_name": "b", "email": "n@example.com", "role_name": "DefaultUserRole"}, http.StatusForbidden, "User:InviteUser"},
		{"modify the organization", "POST", "/organization/", map[string]any{}, http.StatusForbidden, "Organization:ModifyOrganization"},
		{"delete the organization", "DELETE", "/organization/", nil, http.StatusForbidden, "Organization:DeleteOrganization"},
		{"delete an API key", "DELETE", "/organization/api_key/x/", nil, http.StatusForbidden, "Organization:DeleteAPIKey"},
		{"read user info", "GET", "/user/", nil, http.StatusOK, ""},
		{"read a user model", "GET", "/user/" + otherID + "/user_model", nil, http.StatusOK, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, body := plain.do(tc.method, tc.path, tc.body)
			mustStatus(t, tc.name, status, tc.want, body)
			if tc.perm != "" && !strings.Contains(detail(body), tc.perm) {
				t.Errorf("403 detail %q does not name %s", detail(body), tc.perm)
			}
		})
	}
	// The refused requests changed nothing.
	if status, _ := admin.do("GET", "/user/?user_id="+otherID, nil); status != http.StatusOK {
		t.Errorf("other user: %d", status)
	}
}

func TestRateLimits(t *testing.T) {
	t.Parallel()
	srv, c := newTestServer(t, compadretest.WithRateLimits(1))
	headers := map[string]string{"x-api-key": srv.APIKey, "x-api-key-id": srv.APIKeyID, "x-user-id": srv.UserID}
	// newTestServer signed in once already; the limit is 5 a minute.
	for i := 2; i <= 5; i++ {
		if status, body := c.raw("POST", "/v1/"+c.org+"/user/signin_with_api_key", nil, headers); status != http.StatusOK {
			t.Fatalf("sign-in %d: status %d: %s", i, status, body)
		}
	}
	req, _ := http.NewRequest("POST", c.base+"/v1/"+c.org+"/user/signin_with_api_key", nil)
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("6th sign-in: status %d, want 429", resp.StatusCode)
	}
	if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err != nil || s < 1 || s > 12 {
		t.Errorf("Retry-After %q, want 1 to 12 seconds", resp.Header.Get("Retry-After"))
	}
	// Buckets are per operation: other endpoints still answer.
	if status, _ := c.do("GET", "/user/", nil); status != http.StatusOK {
		t.Errorf("another operation: status %d", status)
	}
}

func TestOperationsEndpoints(t *testing.T) {
	t.Parallel()
	_, c := newTestServer(t)
	c.do("GET", "/organization/", nil)
	for _, tc := range []struct{ path, want string }{
		{"/healthz", `"status":"ok"`},
		{"/readyz", `"status":"ready"`},
		{"/metrics", `compadre_http_requests_total{client="other",operation="get-organization",status="200"} 1`},
		{"/v1/openapi.json", `"openapi":"3.1.0"`},
	} {
		status, body := c.raw("GET", tc.path, nil, nil)
		if status != http.StatusOK || !strings.Contains(strings.ReplaceAll(string(body), `": "`, `":"`), tc.want) {
			t.Errorf("%s: status %d, body lacks %s: %.300s", tc.path, status, tc.want, body)
		}
	}
}

// TestRequestsCountedByKindOfClient: the request counter tells the
// official Python SDK's requests (its HTTP library's User-Agent) from
// everyone else's, and knows no other kinds, so its series stay few.
func TestRequestsCountedByKindOfClient(t *testing.T) {
	t.Parallel()
	_, c := newTestServer(t)
	for _, ua := range []string{"python-httpx/0.29.0", "python-httpx/1.0", "Python-urllib/3.11", "schemathesis/4.32.5", "curl/8.5.0"} {
		status, body := c.raw("GET", "/v1/"+c.org+"/organization/", nil, map[string]string{"User-Agent": ua})
		if status != http.StatusOK {
			t.Fatalf("%s: status %d: %s", ua, status, body)
		}
	}
	_, metrics := c.raw("GET", "/metrics", nil, nil)
	var series []string
	for line := range strings.Lines(string(metrics)) {
		if strings.HasPrefix(line, `compadre_http_requests_total{`) && strings.Contains(line, `operation="get-organization"`) {
			series = append(series, strings.TrimSpace(line))
		}
	}
	want := []string{
		`compadre_http_requests_total{client="other",operation="get-organization",status="200"} 3`,
		`compadre_http_requests_total{client="python-httpx",operation="get-organization",status="200"} 2`,
	}
	if strings.Join(series, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(series, "\n"), strings.Join(want, "\n"))
	}
}

func TestMethodNotAllowedListsAllowedMethods(t *testing.T) {
	_, c := newTestServer(t)
	tests := []struct {
		name, method, path, wantAllow string
	}{
		{"the user list", "PATCH", "/user/", "GET, POST"},
		{"the organization", "PATCH", "/organization/", "DELETE, GET, POST, PUT"},
		{"one user, with its ID filled in", "PUT", "/user/0123456789abcdef01234567", "DELETE, POST"},
		{"the tool scaffold, not a tool of that ID", "POST", "/tool/amigo_tool_scaffold.tar.gz", "GET"},
		{"tool invocations, not a tool of that ID", "POST", "/tool/invocation", "GET"},
		{"a state machine, one path for create-version and delete", "OPTIONS", "/organization/service_hierarchical_state_machine/0123456789abcdef01234567/", "DELETE, POST"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequest(tc.method, c.base+"/v1/"+c.org+tc.path, nil)
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Authorization", "Bearer "+c.token)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusMethodNotAllowed {
				t.Fatalf("got status %d, want 405", resp.StatusCode)
			}
			if got := resp.Header.Get("Allow"); got != tc.wantAllow {
				t.Errorf("got Allow %q, want %q", got, tc.wantAllow)
			}
		})
	}
}
