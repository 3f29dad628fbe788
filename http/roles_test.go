package httpapi_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// grant is a permission grant as a request body carries it.
func grant(perm string, conds map[string]any) map[string]any {
	if conds == nil {
		conds = map[string]any{}
	}
	return map[string]any{"permission_name": perm, "conditions": conds}
}

func equals(v any) map[string]any { return map[string]any{"type": "Equals", "value": v} }

// newRole creates a role holding grants and returns its ID.
func (c *client) newRole(name string, grants ...map[string]any) string {
	c.t.Helper()
	if grants == nil {
		grants = []map[string]any{}
	}
	status, body := c.do("POST", "/role/", map[string]any{
		"role_name": name, "description": "Role " + name, "permission_grants": grants, "frontend_view": "client",
	})
	mustStatus(c.t, "create role "+name, status, http.StatusCreated, body)
	return body["role_id"].(string)
}

// roles returns the roles the client sees, by name.
func (c *client) roles(query string) map[string]map[string]any {
	c.t.Helper()
	status, body := c.do("GET", "/role/"+query, nil)
	mustStatus(c.t, "get roles", status, http.StatusOK, body)
	out := map[string]map[string]any{}
	for _, r := range body["roles"].([]any) {
		role := r.(map[string]any)
		out[role["name"].(string)] = role
	}
	return out
}

// errorText flattens an error body (a detail string or a list of field
// errors) so a test can look for words in it.
func errorText(body map[string]any) string {
	if s := detail(body); s != "" {
		return s
	}
	var b strings.Builder
	for _, e := range body["detail"].([]any) {
		fmt.Fprintf(&b, "%v: %v; ", e.(map[string]any)["loc"], e.(map[string]any)["msg"])
	}
	return b.String()
}

func TestGetRolesShowsPermissions(t *testing.T) {
	t.Parallel()
	_, admin := newTestServer(t)
	roles := admin.roles("")
	for _, name := range []string{"DefaultUserRole", "DefaultAdministratorRole", "DefaultAmigoAdministratorRole", "DefaultSuperAdministratorRole"} {
		role, ok := roles[name]
		if !ok {
			t.Fatalf("built-in role %s missing from %v", name, roles)
		}
		if _, ok := role["permission_grants"]; ok {
			t.Errorf("%s: permission_grants returned; v0.7.0 removed it", name)
		}
		if perms, _ := role["permissions"].([]any); len(perms) == 0 {
			t.Errorf("%s: no permissions: %v", name, role)
		}
	}
	// return_permission_grants changes nothing: the field stays gone.
	for _, role := range admin.roles("?return_permission_grants=true") {
		if _, ok := role["permission_grants"]; ok {
			t.Errorf("%s: permission_grants returned", role["name"])
		}
	}
	id := admin.newRole("Reader", grant("User:GetUserInfo", nil))
	got := admin.roles("?id=" + id)
	if len(got) != 1 || got["Reader"] == nil {
		t.Fatalf("by id: %v", got)
	}
	perms := got["Reader"]["permissions"].([]any)
	if len(perms) != 1 || perms[0].(map[string]any)["permission_name"] != "User:GetUserInfo" {
		t.Errorf("permissions: %v", perms)
	}
	if got := admin.roles("?name=Reader&name=DefaultUserRole"); len(got) != 2 {
		t.Errorf("by name: %v", got)
	}
}

func TestCreateRoleRefusesWhatV07Removed(t *testing.T) {
	t.Parallel()
	_, admin := newTestServer(t)
	before := len(admin.roles(""))
	role := func(grants ...map[string]any) map[string]any {
		if grants == nil {
			grants = []map[string]any{}
		}
		return map[string]any{"role_name": "R", "description": "d", "permission_grants": grants, "frontend_view": "admin"}
	}
	deny := grant("User:DeleteUser", nil)
	deny["grant_type"] = "deny"
	withParent := role(grant("User:GetUserInfo", nil))
	withParent["parent_role"] = "DefaultUserRole"
	tests := []struct {
		name string
		body map[string]any
		want int
		says string
	}{
		{"deny grant", role(grant("User:GetUserInfo", nil), deny), 422, "Deny permission grants were removed"},
		{"parent role", withParent, 422, "inheritance was removed"},
		{"unknown permission", role(grant("User:FlyToTheMoon", nil)), 422, `Unknown value "User:FlyToTheMoon"`},
		{"unknown condition key", role(grant("Tool:CreateTool", map[string]any{"tool_id": equals("x")})), 422, `Unknown condition key "tool_id"`},
		{"key of another permission", role(grant("Organization:ModifyOrganization", map[string]any{"user_id": equals("x")})), 422, "supported keys are org_id"},
		{"condition value not a string", role(grant("User:GetUserInfo", map[string]any{"user_id": equals(5)})), 422, "must be a string"},
		{"condition without a type", role(grant("User:GetUserInfo", map[string]any{"user_id": map[string]any{"value": "x"}})), 422, ""},
		{"unknown condition type", role(grant("User:GetUserInfo", map[string]any{"user_id": map[string]any{"type": "Like", "value": "x"}})), 422, ""},
		{"blank name", map[string]any{"role_name": "  ", "description": "d", "permission_grants": []any{}, "frontend_view": "admin"}, 422, ""},
		{"slash in name", map[string]any{"role_name": "a/b", "description": "d", "permission_grants": []any{}, "frontend_view": "admin"}, 422, ""},
		{"unknown view", map[string]any{"role_name": "R", "description": "d", "permission_grants": []any{}, "frontend_view": "kiosk"}, 422, ""},
		{"existing name", role(), 409, "already exists"},
	}
	admin.newRole("R")
	before++
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, body := admin.do("POST", "/role/", tc.body)
			mustStatus(t, tc.name, status, tc.want, body)
			if !strings.Contains(errorText(body), tc.says) {
				t.Errorf("error %q does not say %q", errorText(body), tc.says)
			}
		})
	}
	if after := len(admin.roles("")); after != before {
		t.Errorf("refused requests changed the roles: %d, want %d", after, before)
	}
	// An explicit allow grant is what every grant is, so it is accepted, and
	// Conversation:FinishConversation is a permission like any other.
	allow := grant("Conversation:FinishConversation", nil)
	allow["grant_type"] = "allow"
	admin.newRole("Finisher", allow)
	perms := admin.roles("?name=Finisher")["Finisher"]["permissions"].([]any)
	if len(perms) != 1 || perms[0].(map[string]any)["permission_name"] != "Conversation:FinishConversation" {
		t.Errorf("Finisher permissions: %v", perms)
	}
}

func TestModifyRole(t *testing.T) {
	t.Parallel()
	_, admin := newTestServer(t)
	id := admin.newRole("Support", grant("User:GetUserInfo", nil))

	status, body := admin.do("POST", "/role/Support", map[string]any{"description": "Helps customers"})
	mustStatus(t, "describe", status, http.StatusOK, body)
	if body["role_id"] != id {
		t.Errorf("role_id %v, want %s (modified in place)", body["role_id"], id)
	}
	status, body = admin.do("POST", "/role/Support", map[string]any{
		"permission_grants": []any{grant("User:GetUserInfo", nil), grant("Tool:InvokeTool", map[string]any{"name": equals("weather")})},
		"frontend_view":     "admin",
	})
	mustStatus(t, "regrant", status, http.StatusOK, body)
	role := admin.roles("?name=Support")["Support"]
	if role["description"] != "Helps customers" || role["frontend_view"] != "admin" || len(role["permissions"].([]any)) != 2 {
		t.Errorf("after modify: %v", role)
	}

	tests := []struct {
		name, role string
		body       map[string]any
		want       int
	}{
		{"built-in role", "DefaultUserRole", map[string]any{"description": "mine now"}, 400},
		{"unknown role", "Nobody", map[string]any{"description": "x"}, 404},
		{"deny grant", "Support", map[string]any{"permission_grants": []any{map[string]any{"permission_name": "User:GetUserInfo", "conditions": map[string]any{}, "grant_type": "deny"}}}, 422},
		{"parent role", "Support", map[string]any{"parent_role": "DefaultUserRole"}, 422},
		{"unknown condition key", "Support", map[string]any{"permission_grants": []any{grant("User:GetUserInfo", map[string]any{"colour": equals("red")})}}, 422},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, body := admin.do("POST", "/role/"+tc.role, tc.body)
			mustStatus(t, tc.name, status, tc.want, body)
		})
	}
	if got := admin.roles("?name=Support")["Support"]; len(got["permissions"].([]any)) != 2 {
		t.Errorf("refused modifications changed the role: %v", got)
	}

	// A role manager whose own role lacks a permission can neither add it to
	// a role nor edit a role that holds it.
	mgrRole := admin.newRole("RoleManager", grant("Role:ModifyRole", nil), grant("Role:GetRole", nil), grant("User:GetUserInfo", nil))
	_ = mgrRole
	mgr := admin.keyFor(admin.newUser("mgr@example.com", "RoleManager"), "RoleManager")
	admin.newRole("Viewer", grant("User:GetUserInfo", nil))
	status, body = mgr.do("POST", "/role/Viewer", map[string]any{"permission_grants": []any{grant("User:GetUserInfo", nil), grant("User:DeleteUser", nil)}})
	mustStatus(t, "widen beyond own role", status, http.StatusForbidden, body)
	status, body = mgr.do("POST", "/role/Support", map[string]any{"permission_grants": []any{}})
	mustStatus(t, "edit a role holding more", status, http.StatusForbidden, body)
	status, body = mgr.do("POST", "/role/Viewer", map[string]any{"permission_grants": []any{}, "description": "sees nothing"})
	mustStatus(t, "narrow within own role", status, http.StatusOK, body)
}

func TestAssignRole(t *testing.T) {
	t.Parallel()
	srv, admin := newTestServer(t)
	admin.newRole("Support", grant("User:GetUserInfo", nil))
	userID := admin.newUser("u@example.com", "DefaultUserRole")

	status, body := admin.do("POST", "/role/Support/assign", map[string]any{"user_id": userID})
	mustStatus(t, "assign", status, http.StatusOK, body)
	roleID := body["role_id"].(string)
	status, body = admin.do("GET", "/user/?user_id="+userID, nil)
	mustStatus(t, "get user", status, http.StatusOK, body)
	if got := body["users"].([]any)[0].(map[string]any)["role"]; got != roleID {
		t.Errorf("user's role %v, want %s", got, roleID)
	}

	plainID := admin.newUser("plain@example.com", "DefaultUserRole")
	plain := admin.keyFor(plainID, "DefaultUserRole")
	tests := []struct {
		name   string
		caller *client
		role   string
		user   string
		want   int
	}{
		{"unknown role", admin, "Nobody", userID, 404},
		{"unknown user", admin, "Support", "000000000000000000000000", 404},
		{"a role the caller does not cover", plain, "DefaultSuperAdministratorRole", plainID, 403},
		{"demoting someone who holds more", plain, "DefaultUserRole", srv.UserID, 403},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, body := tc.caller.do("POST", "/role/"+tc.role+"/assign", map[string]any{"user_id": tc.user})
			mustStatus(t, tc.name, status, tc.want, body)
		})
	}
	// The administrator still administers.
	if status, body := admin.do("POST", "/role/", map[string]any{"role_name": "Still", "description": "d", "permission_grants": []any{}, "frontend_view": "admin"}); status != http.StatusCreated {
		t.Errorf("administrator after refused demotion: %d %v", status, body)
	}
}
