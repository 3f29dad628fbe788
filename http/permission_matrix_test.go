package httpapi_test

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/compadre-dev/compadre/compadretest"
)

// matrixEndpoint is one operation of the permission matrix: what it needs,
// conditions that do and do not match the resource it acts on, and how to
// tell an allowed call from a refused one.
type matrixEndpoint struct {
	name string
	perm string
	// match and mismatch are conditions for call number i.
	match, mismatch func(i int) map[string]any
	call            func(c *client, i int) (int, map[string]any)
	// allowed tells from the answer whether the permission was granted.
	allowed func(status int, body map[string]any) bool
}

// TestPermissionMatrix runs each endpoint as callers that hold its
// permission in different ways, over HTTP, and checks who gets through.
func TestPermissionMatrix(t *testing.T) {
	t.Parallel()
	clock := newTestClock()
	srv, admin := newTestServer(t, clock.option(), compadretest.WithOrganization("alpha"))
	// beta's administrator holds every permission, in beta.
	beta, _ := betaOrg(t, srv, admin)

	admin.newRole("Nothing")
	// One administrator key signs in every user of the matrix (a key signs
	// in any user whose role its own covers); what a request may do comes
	// from the user's role and grants, not the key's.
	status, body := admin.do("POST", "/organization/api_key/", map[string]any{"name": "matrix", "duration": "P1D", "role_name": "DefaultSuperAdministratorRole"})
	mustStatus(t, "matrix key", status, http.StatusCreated, body)
	matrixKey, matrixKeyID := body["api_key"].(string), body["api_key_id"].(string)
	signInAs := func(userID string) *client { return admin.as(admin.signIn(matrixKey, matrixKeyID, userID)) }
	target := admin.newUser("target@example.com", "DefaultUserRole")
	status, body = admin.do("POST", "/organization/api_key/", map[string]any{"name": "target", "duration": "P1D", "role_name": "Nothing"})
	mustStatus(t, "target key", status, http.StatusCreated, body)
	targetKey := body["api_key_id"].(string)

	is := func(want int) func(int, map[string]any) bool {
		return func(status int, _ map[string]any) bool { return status == want }
	}
	endpoints := []matrixEndpoint{
		{
			name: "create a tool", perm: "Tool:CreateTool",
			match:    func(i int) map[string]any { return map[string]any{"name": equals(fmt.Sprintf("tool_%d", i))} },
			mismatch: func(i int) map[string]any { return map[string]any{"name": equals("some_other_tool")} },
			call: func(c *client, i int) (int, map[string]any) {
				return c.do("POST", "/tool/", map[string]any{"name": fmt.Sprintf("tool_%d", i), "description": "d", "tags": map[string]any{}})
			},
			allowed: is(http.StatusCreated),
		},
		{
			name: "read a user model", perm: "User:GetUserModel",
			match:    func(int) map[string]any { return map[string]any{"user_id": equals(target)} },
			mismatch: func(int) map[string]any { return map[string]any{"user_id": equals(srv.UserID)} },
			call: func(c *client, _ int) (int, map[string]any) {
				return c.do("GET", "/user/"+target+"/user_model", nil)
			},
			allowed: is(http.StatusOK),
		},
		{
			name: "modify a user", perm: "User:UpdateUserInfo",
			match: func(int) map[string]any {
				return map[string]any{"user_id": map[string]any{"type": "In", "values": []any{srv.UserID, target}}}
			},
			mismatch: func(int) map[string]any {
				return map[string]any{"user_id": map[string]any{"type": "NotEquals", "value": target}}
			},
			call: func(c *client, i int) (int, map[string]any) {
				return c.do("POST", "/user/"+target, map[string]any{"first_name": fmt.Sprintf("T%d", i)})
			},
			allowed: is(http.StatusNoContent),
		},
		{
			// Allowed, the key is deleted; the next allowed call finds it
			// gone (404), which is still past the permission check.
			name: "delete an API key", perm: "Organization:DeleteAPIKey",
			match:    func(int) map[string]any { return map[string]any{"key_id": equals(targetKey)} },
			mismatch: func(int) map[string]any { return map[string]any{"key_id": equals("not-this-key")} },
			call: func(c *client, _ int) (int, map[string]any) {
				return c.do("DELETE", "/organization/api_key/"+targetKey+"/", nil)
			},
			allowed: func(status int, _ map[string]any) bool {
				return status == http.StatusOK || status == http.StatusNotFound
			},
		},
		{
			name: "create a role", perm: "Role:CreateRole",
			match:    func(i int) map[string]any { return map[string]any{"name": equals(fmt.Sprintf("Role%d", i))} },
			mismatch: func(int) map[string]any { return map[string]any{"name": equals("SomeOtherRole")} },
			call: func(c *client, i int) (int, map[string]any) {
				return c.do("POST", "/role/", map[string]any{"role_name": fmt.Sprintf("Role%d", i), "description": "d",
					"permission_grants": []any{}, "frontend_view": "client"})
			},
			allowed: is(http.StatusCreated),
		},
		{
			// A listing filters instead of refusing: allowed means the role
			// is in it.
			name: "list roles", perm: "Role:GetRole",
			match:    func(int) map[string]any { return map[string]any{"name": equals("DefaultUserRole")} },
			mismatch: func(int) map[string]any { return map[string]any{"name": equals("DefaultAdministratorRole")} },
			call: func(c *client, _ int) (int, map[string]any) {
				return c.do("GET", "/role/?name=DefaultUserRole", nil)
			},
			allowed: func(status int, body map[string]any) bool {
				roles, _ := body["roles"].([]any)
				return status == http.StatusOK && len(roles) == 1
			},
		},
	}

	// Each case gives a fresh user of the role Nothing the permission in one
	// way, then makes the call as that user.
	type setup func(e matrixEndpoint, i int) *client
	fresh := func(i int) string { return admin.newUser(fmt.Sprintf("u%d@example.com", i), "Nothing") }
	withRole := func(conds func(int) map[string]any) setup {
		return func(e matrixEndpoint, i int) *client {
			name := fmt.Sprintf("Holder%d", i)
			var c map[string]any
			if conds != nil {
				c = conds(i)
			}
			admin.newRole(name, grant(e.perm, c))
			userID := fresh(i)
			status, body := admin.do("POST", "/role/"+name+"/assign", map[string]any{"user_id": userID})
			mustStatus(t, "assign", status, http.StatusOK, body)
			return signInAs(userID)
		}
	}
	withTemporary := func(duration string, conds func(int) map[string]any, after time.Duration) setup {
		return func(e matrixEndpoint, i int) *client {
			userID := fresh(i)
			var c map[string]any
			if conds != nil {
				c = conds(i)
			}
			admin.giveTemporary(userID, duration, grant(e.perm, c))
			clock.advance(after)
			return signInAs(userID)
		}
	}
	cases := []struct {
		name    string
		setup   func(e matrixEndpoint) setup
		allowed bool
		// status, when set, is the answer expected instead of allowed/refused.
		status int
	}{
		{"no grant", func(matrixEndpoint) setup {
			return func(_ matrixEndpoint, i int) *client { return signInAs(fresh(i)) }
		}, false, 0},
		{"role only", func(matrixEndpoint) setup { return withRole(nil) }, true, 0},
		{"role with a matching condition", func(e matrixEndpoint) setup { return withRole(e.match) }, true, 0},
		{"role with a condition that does not match", func(e matrixEndpoint) setup { return withRole(e.mismatch) }, false, 0},
		{"temporary grant only", func(matrixEndpoint) setup { return withTemporary("PT1H", nil, 0) }, true, 0},
		{"temporary grant with a matching condition", func(e matrixEndpoint) setup { return withTemporary("PT1H", e.match, 0) }, true, 0},
		{"temporary grant with a condition that does not match", func(e matrixEndpoint) setup { return withTemporary("PT1H", e.mismatch, 0) }, false, 0},
		{"expired temporary grant", func(matrixEndpoint) setup { return withTemporary("PT1M", nil, time.Minute) }, false, 0},
		{"another organization's user", func(matrixEndpoint) setup {
			return func(matrixEndpoint, int) *client { c := *beta; c.org = "alpha"; return &c }
		}, false, http.StatusUnauthorized},
	}
	i := 0
	for _, e := range endpoints {
		for _, tc := range cases {
			i++
			t.Run(e.name+"/"+tc.name, func(t *testing.T) {
				caller := tc.setup(e)(e, i)
				status, body := e.call(caller, i)
				if tc.status != 0 {
					mustStatus(t, "call", status, tc.status, body)
					return
				}
				if got := e.allowed(status, body); got != tc.allowed {
					t.Errorf("allowed = %v, want %v (status %d, body %v)", got, tc.allowed, status, body)
				}
				if !tc.allowed && status != http.StatusForbidden && status != http.StatusOK {
					t.Errorf("refused with status %d, want 403 (or a filtered 200)", status)
				}
			})
		}
	}
	// The other organization's administrator could do all of it in beta.
	if status, body := beta.do("POST", "/tool/", map[string]any{"name": "beta_tool", "description": "d", "tags": map[string]any{}}); status != http.StatusCreated {
		t.Errorf("beta administrator in beta: %d %v", status, body)
	}
}
