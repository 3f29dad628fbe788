package httpapi_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/compadre-dev/compadre/compadretest"
)

// client makes requests to a test server as one signed-in user.
type client struct {
	t     testing.TB
	base  string
	org   string
	token string
}

// newTestServer starts a real server with rate limits off and returns a
// client signed in as its administrator.
func newTestServer(t testing.TB, opts ...compadretest.Option) (*compadretest.Server, *client) {
	t.Helper()
	srv := compadretest.Start(t, opts...)
	c := &client{t: t, base: srv.BaseURL, org: srv.Organization}
	c.token = c.signIn(srv.APIKey, srv.APIKeyID, srv.UserID)
	return srv, c
}

func (c *client) signIn(key, keyID, userID string) string {
	c.t.Helper()
	status, body := c.raw("POST", "/v1/"+c.org+"/user/signin_with_api_key", nil, map[string]string{
		"x-api-key": key, "x-api-key-id": keyID, "x-user-id": userID,
	})
	if status != http.StatusOK {
		c.t.Fatalf("sign in: status %d: %s", status, body)
	}
	var tok struct {
		IDToken string `json:"id_token"`
	}
	if err := json.Unmarshal(body, &tok); err != nil {
		c.t.Fatal(err)
	}
	return tok.IDToken
}

// as returns a client for the same server signed in with another token.
func (c *client) as(token string) *client {
	cc := *c
	cc.token = token
	return &cc
}

// do sends body (marshalled unless it is a string or []byte) to
// /v1/{org}+path with the client's token and decodes a JSON answer into a map.
func (c *client) do(method, path string, body any) (int, map[string]any) {
	c.t.Helper()
	headers := map[string]string{}
	if c.token != "" {
		headers["Authorization"] = "Bearer " + c.token
	}
	status, raw := c.raw(method, "/v1/"+c.org+path, body, headers)
	var out map[string]any
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &out); err != nil {
			c.t.Fatalf("%s %s: status %d, body is not a JSON object: %s", method, path, status, raw)
		}
	}
	return status, out
}

func (c *client) raw(method, path string, body any, headers map[string]string) (int, []byte) {
	c.t.Helper()
	var r io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		r = strings.NewReader(b)
	case []byte:
		r = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			c.t.Fatal(err)
		}
		r = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, c.base+path, r)
	if err != nil {
		c.t.Fatal(err)
	}
	if r != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatal(err)
	}
	return resp.StatusCode, out
}

// mustStatus fails the test unless status is want, showing the body.
func mustStatus(t testing.TB, what string, status, want int, body any) {
	t.Helper()
	if status != want {
		t.Fatalf("%s: status %d, want %d; body %v", what, status, want, body)
	}
}

// newUser creates a user with role and returns its ID.
func (c *client) newUser(email, role string) string {
	c.t.Helper()
	status, body := c.do("POST", "/user/", map[string]any{"first_name": "F", "last_name": "L", "email": email, "role_name": role})
	mustStatus(c.t, "create user "+email, status, http.StatusCreated, body)
	return body["user_id"].(string)
}

// keyFor creates an API key with role and signs in as userID with it.
func (c *client) keyFor(userID, role string) *client {
	c.t.Helper()
	status, body := c.do("POST", "/organization/api_key/", map[string]any{"name": "k", "duration": "P1D", "role_name": role})
	mustStatus(c.t, "create key", status, http.StatusCreated, body)
	return c.as(c.signIn(body["api_key"].(string), body["api_key_id"].(string), userID))
}

// detail returns the error body's detail as a string ("" if it is a list).
func detail(body map[string]any) string {
	s, _ := body["detail"].(string)
	return s
}
