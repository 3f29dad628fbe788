package httpapi_test

import (
	"encoding/json"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/compadre-dev/compadre/compadretest"
)

func TestSignInWithAPIKey(t *testing.T) {
	t.Parallel()
	srv, c := newTestServer(t)
	good := map[string]string{"x-api-key": srv.APIKey, "x-api-key-id": srv.APIKeyID, "x-user-id": srv.UserID}
	with := func(k, v string) map[string]string {
		h := map[string]string{}
		for kk, vv := range good {
			h[kk] = vv
		}
		if v == "" {
			delete(h, k)
		} else {
			h[k] = v
		}
		return h
	}
	tests := []struct {
		name    string
		org     string
		headers map[string]string
		want    int
	}{
		{"valid", srv.Organization, good, http.StatusOK},
		{"wrong key", srv.Organization, with("x-api-key", "wrong"), http.StatusUnauthorized},
		{"wrong key id", srv.Organization, with("x-api-key-id", "00000000-0000-0000-0000-000000000000"), http.StatusUnauthorized},
		{"unknown user", srv.Organization, with("x-user-id", "0123456789abcdef01234567"), http.StatusUnauthorized},
		{"missing key header", srv.Organization, with("x-api-key", ""), http.StatusUnprocessableEntity},
		{"unknown organization", "nope", good, http.StatusNotFound},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, body := c.raw("POST", "/v1/"+tc.org+"/user/signin_with_api_key", nil, tc.headers)
			if status != tc.want {
				t.Fatalf("status %d, want %d: %s", status, tc.want, body)
			}
			if tc.want != http.StatusOK {
				return
			}
			var tok struct {
				IDToken   string `json:"id_token"`
				ExpiresAt string `json:"expires_at"`
			}
			if err := json.Unmarshal(body, &tok); err != nil {
				t.Fatal(err)
			}
			exp, err := time.Parse(time.RFC3339, tok.ExpiresAt)
			if err != nil {
				t.Fatalf("expires_at %q is not RFC 3339 with a zone: %v", tok.ExpiresAt, err)
			}
			if d := time.Until(exp); d < 59*time.Minute || d > time.Hour {
				t.Errorf("token lives %v, want one hour", d)
			}
		})
	}
}

func TestTokensOnlyWorkWhereIssued(t *testing.T) {
	t.Parallel()
	_, a := newTestServer(t, compadretest.WithOrganization("alpha"))
	// A second organization on the same server, created through the API.
	status, body := a.createOrg("beta")
	mustStatus(t, "create beta", status, http.StatusCreated, body)

	tests := []struct {
		name    string
		path    string
		headers map[string]string
		want    int
	}{
		{"own organization", "/v1/alpha/user/", map[string]string{"Authorization": "Bearer " + a.token}, http.StatusOK},
		{"other organization", "/v1/beta/user/", map[string]string{"Authorization": "Bearer " + a.token}, http.StatusUnauthorized},
		{"other organization via X-ORG-ID", "/v1/beta/user/", map[string]string{"Authorization": "Bearer " + a.token, "X-ORG-ID": "alpha"}, http.StatusUnauthorized},
		{"X-ORG-ID naming another organization", "/v1/alpha/user/", map[string]string{"Authorization": "Bearer " + a.token, "X-ORG-ID": "beta"}, http.StatusUnauthorized},
		{"no token", "/v1/alpha/user/", nil, http.StatusUnauthorized},
		{"garbage token", "/v1/alpha/user/", map[string]string{"Authorization": "Bearer abc.def.ghi"}, http.StatusUnauthorized},
		{"tampered token", "/v1/alpha/user/", map[string]string{"Authorization": "Bearer " + a.token + "x"}, http.StatusUnauthorized},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, body := a.raw("GET", tc.path, nil, tc.headers)
			if status != tc.want {
				t.Fatalf("status %d, want %d: %s", status, tc.want, body)
			}
		})
	}
}

// createOrg creates another organization on the server through the API.
func (c *client) createOrg(id string) (int, map[string]any) {
	cc := *c
	cc.org = id
	return cc.do("PUT", "/organization/", map[string]any{
		"org_name": id, "user_dimensions": []any{}, "logo": pngBase64(c.t, 500, 200),
		"square_logo": pngBase64(c.t, 64, 64), "favicon": icoBase64(64), "azure_devops_team_name": "team",
	})
}

// betaOrg makes the organization beta and returns its
// administrator's client and user ID.
func betaOrg(t testing.TB, srv *compadretest.Server, admin *client) (*client, string) {
	t.Helper()
	status, body := admin.createOrg("beta")
	mustStatus(t, "create beta", status, http.StatusCreated, body)
	creds := srv.NewAPIKey(t, "beta", "")
	beta := &client{t: t, base: srv.BaseURL, org: "beta"}
	return beta.as(beta.signIn(creds.APIKey, creds.APIKeyID, creds.UserID)), creds.UserID
}

func TestDeletedOrExpiredKeyStopsWorkingAtOnce(t *testing.T) {
	t.Parallel()
	var offset atomic.Int64
	_, c := newTestServer(t, compadretest.WithClock(func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }))

	status, body := c.do("POST", "/organization/api_key/", map[string]any{"name": "short", "duration": "P1D", "role_name": "DefaultSuperAdministratorRole"})
	mustStatus(t, "create key", status, http.StatusCreated, body)
	keyID := body["api_key_id"].(string)
	status, users := c.do("GET", "/user/", nil)
	mustStatus(t, "list", status, http.StatusOK, users)
	adminID := users["users"].([]any)[0].(map[string]any)["user_id"].(string)
	short := c.as(c.signIn(body["api_key"].(string), keyID, adminID))

	if status, _ := short.do("GET", "/user/", nil); status != http.StatusOK {
		t.Fatalf("fresh key: status %d", status)
	}
	offset.Store(int64(24*time.Hour + time.Second))
	if status, _ := short.do("GET", "/user/", nil); status != http.StatusUnauthorized {
		t.Errorf("after the key expired: status %d, want 401", status)
	}
	offset.Store(0)

	status, body = c.do("POST", "/organization/api_key/", map[string]any{"name": "doomed", "duration": "P2D", "role_name": "DefaultSuperAdministratorRole"})
	mustStatus(t, "create key", status, http.StatusCreated, body)
	doomed := c.as(c.signIn(body["api_key"].(string), body["api_key_id"].(string), adminID))
	if status, body := c.do("DELETE", "/organization/api_key/"+body["api_key_id"].(string)+"/", nil); status != http.StatusOK {
		t.Fatalf("delete key: %d %v", status, body)
	}
	if status, _ := doomed.do("GET", "/user/", nil); status != http.StatusUnauthorized {
		t.Errorf("token of a deleted key: status %d, want 401", status)
	}
}
