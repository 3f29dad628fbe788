package httpapi_test

import (
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/compadre-dev/compadre/compadretest"
)

// testClock is a server clock a test moves forward instead of sleeping.
type testClock struct {
	base   time.Time
	offset atomic.Int64
}

func newTestClock() *testClock { return &testClock{base: time.Now().UTC().Truncate(time.Second)} }

func (c *testClock) now() time.Time              { return c.base.Add(time.Duration(c.offset.Load())) }
func (c *testClock) advance(d time.Duration)     { c.offset.Add(int64(d)) }
func (c *testClock) option() compadretest.Option { return compadretest.WithClock(c.now) }

// tempGrant is a create-temporary-permission-grant body.
func tempGrant(userID, duration string, g map[string]any, tags map[string]any) map[string]any {
	if tags == nil {
		tags = map[string]any{}
	}
	return map[string]any{"user_id": userID, "duration": duration, "permission_grant": g, "tags": tags,
		"justification": "Investigating support ticket 456"}
}

// giveTemporary grants perm to userID for duration and returns the grant's ID.
func (c *client) giveTemporary(userID, duration string, g map[string]any) string {
	c.t.Helper()
	status, body := c.do("POST", "/role/temporary_permission_grant/", tempGrant(userID, duration, g, nil))
	mustStatus(c.t, "create temporary grant", status, http.StatusCreated, body)
	return body["temporary_permission_grant_id"].(string)
}

// tempGrants lists temporary grants and returns them with the page's token.
func (c *client) tempGrants(query string) ([]map[string]any, any) {
	c.t.Helper()
	status, body := c.do("GET", "/role/temporary_permission_grants/"+query, nil)
	mustStatus(c.t, "list temporary grants "+query, status, http.StatusOK, body)
	var out []map[string]any
	for _, g := range body["temporary_permission_grants"].([]any) {
		out = append(out, g.(map[string]any))
	}
	return out, body["continuation_token"]
}

func TestTemporaryGrantDurationBounds(t *testing.T) {
	t.Parallel()
	clock := newTestClock()
	_, admin := newTestServer(t, clock.option())
	userID := admin.newUser("u@example.com", "DefaultUserRole")
	tests := []struct {
		duration string
		want     int
		lasts    time.Duration
	}{
		{"PT1M", 201, time.Minute},
		{"P3D", 201, 72 * time.Hour},
		{"PT72H", 201, 72 * time.Hour},
		{"PT2H", 201, 2 * time.Hour},
		{"PT59S", 422, 0},
		{"P3DT1S", 422, 0},
		{"PT0S", 422, 0},
		{"-PT5M", 422, 0},
		{"P1M", 422, 0},
		{"P99999999999Y", 422, 0},
		{"two hours", 422, 0},
		{"", 422, 0},
	}
	for _, tc := range tests {
		t.Run(tc.duration, func(t *testing.T) {
			status, body := admin.do("POST", "/role/temporary_permission_grant/",
				tempGrant(userID, tc.duration, grant("User:DeleteUser", nil), nil))
			mustStatus(t, tc.duration, status, tc.want, body)
			if tc.want != 201 {
				return
			}
			exp, err := time.Parse(time.RFC3339Nano, body["expires_at"].(string))
			if err != nil {
				t.Fatal(err)
			}
			if want := clock.now().Add(tc.lasts); !exp.Equal(want) {
				t.Errorf("expires_at %v, want %v", exp, want)
			}
		})
	}
	if grants, _ := admin.tempGrants("?limit=10"); len(grants) != 4 {
		t.Errorf("%d grants stored, want the 4 accepted", len(grants))
	}
}

func TestCreateTemporaryGrantRules(t *testing.T) {
	t.Parallel()
	srv, admin := newTestServer(t, compadretest.WithOrganization("alpha"))
	status, body := admin.createOrg("beta")
	mustStatus(t, "create beta", status, http.StatusCreated, body)
	betaUser := srv.NewAPIKey(t, "beta", "").UserID

	userID := admin.newUser("u@example.com", "DefaultUserRole")
	// A granter may grant user information and tool invocation, but holds
	// invocation only for the weather tool.
	admin.newRole("Granter",
		grant("Role:CreateTemporaryPermissionGrant", nil),
		grant("User:GetUserInfo", nil),
		grant("Tool:InvokeTool", map[string]any{"name": equals("weather")}))
	granter := admin.keyFor(admin.newUser("granter@example.com", "Granter"), "Granter")
	// A narrow granter may only grant User:GetUserInfo.
	admin.newRole("NarrowGranter",
		grant("Role:CreateTemporaryPermissionGrant", map[string]any{"permission_name": equals("User:GetUserInfo")}),
		grant("User:GetUserInfo", nil), grant("User:DeleteUser", nil))
	narrow := admin.keyFor(admin.newUser("narrow@example.com", "NarrowGranter"), "NarrowGranter")
	plain := admin.keyFor(admin.newUser("plain@example.com", "DefaultUserRole"), "DefaultUserRole")

	long := map[string]any{}
	for i := range 21 {
		long[fmt.Sprintf("k%d", i)] = "v"
	}
	withBody := func(change func(map[string]any)) map[string]any {
		b := tempGrant(userID, "PT1H", grant("User:GetUserInfo", nil), nil)
		change(b)
		return b
	}
	tests := []struct {
		name   string
		caller *client
		body   map[string]any
		want   int
	}{
		{"granter grants what it holds", granter, tempGrant(userID, "PT1H", grant("User:GetUserInfo", nil), nil), 201},
		{"granter narrows what it holds", granter, tempGrant(userID, "PT1H", grant("Tool:InvokeTool", map[string]any{"name": equals("weather")}), nil), 201},
		{"granter grants beyond its condition", granter, tempGrant(userID, "PT1H", grant("Tool:InvokeTool", nil), nil), 403},
		{"granter grants another tool", granter, tempGrant(userID, "PT1H", grant("Tool:InvokeTool", map[string]any{"name": equals("billing")}), nil), 403},
		{"granter grants what it lacks", granter, tempGrant(userID, "PT1H", grant("User:DeleteUser", nil), nil), 403},
		{"narrow granter within its condition", narrow, tempGrant(userID, "PT1H", grant("User:GetUserInfo", nil), nil), 201},
		{"narrow granter outside its condition", narrow, tempGrant(userID, "PT1H", grant("User:DeleteUser", nil), nil), 403},
		{"no Role:CreateTemporaryPermissionGrant", plain, tempGrant(userID, "PT1H", grant("User:GetUserInfo", nil), nil), 403},
		{"unknown user", admin, tempGrant("000000000000000000000000", "PT1H", grant("User:GetUserInfo", nil), nil), 404},
		{"another organization's user", admin, tempGrant(betaUser, "PT1H", grant("User:GetUserInfo", nil), nil), 404},
		{"unknown permission", admin, tempGrant(userID, "PT1H", grant("User:Teleport", nil), nil), 422},
		{"unknown condition key", admin, tempGrant(userID, "PT1H", grant("User:GetUserInfo", map[string]any{"tool_id": equals("x")}), nil), 422},
		{"deny grant", admin, withBody(func(b map[string]any) { b["permission_grant"].(map[string]any)["grant_type"] = "deny" }), 422},
		{"no justification", admin, withBody(func(b map[string]any) { delete(b, "justification") }), 422},
		{"blank justification", admin, withBody(func(b map[string]any) { b["justification"] = "            " }), 422},
		{"short justification", admin, withBody(func(b map[string]any) { b["justification"] = "because" }), 422},
		{"no tags", admin, withBody(func(b map[string]any) { delete(b, "tags") }), 422},
		{"tag key with a dash", admin, withBody(func(b map[string]any) { b["tags"] = map[string]any{"a-b": "c"} }), 422},
		{"21 tags", admin, withBody(func(b map[string]any) { b["tags"] = long }), 422},
		{"tag key with a vertical tab, ASCII whitespace in every regex dialect", admin, withBody(func(b map[string]any) { b["tags"] = map[string]any{"a\vb": "c d"} }), 201},
		{"tag value with a non-ASCII letter", admin, withBody(func(b map[string]any) { b["tags"] = map[string]any{"city": "Bogotá"} }), 422},
		{"no permission grant", admin, withBody(func(b map[string]any) { delete(b, "permission_grant") }), 422},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, body := tc.caller.do("POST", "/role/temporary_permission_grant/", tc.body)
			mustStatus(t, tc.name, status, tc.want, body)
		})
	}
	if grants, _ := admin.tempGrants(""); len(grants) != 4 {
		t.Errorf("%d grants stored, want the 4 accepted", len(grants))
	}
}

func TestListTemporaryGrants(t *testing.T) {
	t.Parallel()
	clock := newTestClock()
	srv, admin := newTestServer(t, clock.option())
	ann := admin.newUser("ann@example.com", "DefaultUserRole")
	bob := admin.newUser("bob@example.com", "DefaultUserRole")
	give := func(user, duration, perm string, tags map[string]any) string {
		status, body := admin.do("POST", "/role/temporary_permission_grant/", tempGrant(user, duration, grant(perm, nil), tags))
		mustStatus(t, "give", status, http.StatusCreated, body)
		return body["temporary_permission_grant_id"].(string)
	}
	g1 := give(ann, "PT1M", "User:DeleteUser", map[string]any{"ticket": "T1", "urgent": nil})
	g2 := give(ann, "PT2H", "User:GetUserInfo", map[string]any{"ticket": "T2"})
	g3 := give(bob, "P1D", "Tool:InvokeTool", map[string]any{"ticket": "T1"})
	clock.advance(time.Minute) // g1 expires now, exactly at its expiry.

	ids := func(grants []map[string]any) string {
		var out []string
		for _, g := range grants {
			switch g["_id"] {
			case g1:
				out = append(out, "g1")
			case g2:
				out = append(out, "g2")
			case g3:
				out = append(out, "g3")
			default:
				out = append(out, "?")
			}
		}
		return strings.Join(out, ",")
	}
	byUserDesc := "g1,g2,g3" // ann's grants by expiry, then bob's
	if bob > ann {
		byUserDesc = "g3,g1,g2"
	}
	tests := []struct{ query, want string }{
		{"", "g1,g2,g3"},
		{"?user_id=" + ann, "g1,g2"},
		{"?user_id=" + bob + "&user_id=" + ann, "g1,g2,g3"},
		{"?permission_grant_name=Tool:InvokeTool", "g3"},
		{"?is_expired=true", "g1"},
		{"?is_expired=false", "g2,g3"},
		{"?creator=" + srv.UserID, "g1,g2,g3"},
		{"?creator=" + ann, ""},
		{"?id=" + g2, "g2"},
		{"?tag=ticket:T1", "g1,g3"},
		{"?tag=urgent:", "g1"},
		{"?tag=urgent:*", "g1"},
		{"?tag=ticket:*&tag=ticket:T2", "g2"},
		{"?sort_by=-expires_at", "g3,g2,g1"},
		{"?sort_by=permission_grant.permission_name", "g3,g1,g2"},
		{"?sort_by=-user_id&sort_by=expires_at", byUserDesc},
	}
	for _, tc := range tests {
		t.Run(tc.query, func(t *testing.T) {
			grants, _ := admin.tempGrants(tc.query)
			if got := ids(grants); got != tc.want {
				t.Errorf("got %s, want %s", got, tc.want)
			}
		})
	}
	if status, body := admin.do("GET", "/role/temporary_permission_grants/?sort_by=justification", nil); status != 422 {
		t.Errorf("unsupported sort field: %d %v", status, body)
	}
	if status, body := admin.do("GET", "/role/temporary_permission_grants/?limit=11", nil); status != 422 {
		t.Errorf("limit 11: %d %v", status, body)
	}

	// Pages of one follow each other to the end.
	var seen []string
	token := any(float64(0))
	for token != nil {
		grants, next := admin.tempGrants(fmt.Sprintf("?limit=1&continuation_token=%v", token))
		seen = append(seen, ids(grants))
		token = next
	}
	if got := strings.Join(seen, ","); got != "g1,g2,g3" {
		t.Errorf("paged: %s", got)
	}

	// The record says who gave what to whom, and why.
	grants, _ := admin.tempGrants("?id=" + g1)
	g := grants[0]
	creator := g["creator"].(map[string]any)
	pg := g["permission_grant"].(map[string]any)
	tags := g["tags"].(map[string]any)
	if g["user_id"] != ann || g["org_id"] != srv.Organization || creator["user_id"] != srv.UserID ||
		pg["permission_name"] != "User:DeleteUser" || g["justification"] != "Investigating support ticket 456" ||
		tags["ticket"] != "T1" || tags["urgent"] != nil {
		t.Errorf("record: %v", g)
	}
	if _, ok := tags["urgent"]; !ok {
		t.Errorf("null tag dropped: %v", tags)
	}

	// Role:GetTemporaryPermissionGrant decides which grants a caller sees.
	admin.newRole("AnnAuditor", grant("Role:GetTemporaryPermissionGrant", map[string]any{"user_id": equals(ann)}))
	auditor := admin.keyFor(admin.newUser("auditor@example.com", "AnnAuditor"), "AnnAuditor")
	if grants, _ := auditor.tempGrants(""); ids(grants) != "g1,g2" {
		t.Errorf("auditor of ann sees %s", ids(grants))
	}
	if grants, _ := auditor.tempGrants("?limit=1&continuation_token=1"); ids(grants) != "g2" {
		t.Errorf("auditor's second page: %s", ids(grants))
	}
	plain := admin.keyFor(admin.newUser("plain@example.com", "DefaultUserRole"), "DefaultUserRole")
	if grants, _ := plain.tempGrants(""); len(grants) != 0 {
		t.Errorf("a user without the permission sees %s", ids(grants))
	}
}

// TestTemporaryGrantExpiry checks a grant works from creation and stops at
// its expiry, by the server's clock, with nothing run in between.
func TestTemporaryGrantExpiry(t *testing.T) {
	t.Parallel()
	clock := newTestClock()
	_, admin := newTestServer(t, clock.option())
	admin.newRole("Nothing")
	target := admin.newUser("target@example.com", "DefaultUserRole")
	userID := admin.newUser("u@example.com", "Nothing")
	user := admin.keyFor(userID, "Nothing")
	read := func() int {
		status, _ := user.do("GET", "/user/"+target+"/user_model", nil)
		return status
	}
	if got := read(); got != http.StatusForbidden {
		t.Fatalf("before the grant: %d", got)
	}
	admin.giveTemporary(userID, "PT10M", grant("User:GetUserModel", nil))
	if got := read(); got != http.StatusOK {
		t.Fatalf("right after the grant: %d", got)
	}
	clock.advance(10*time.Minute - time.Microsecond)
	if got := read(); got != http.StatusOK {
		t.Errorf("a microsecond before expiry: %d", got)
	}
	clock.advance(time.Microsecond)
	if got := read(); got != http.StatusForbidden {
		t.Errorf("at expiry: %d", got)
	}
	if grants, _ := admin.tempGrants("?is_expired=true&user_id=" + userID); len(grants) != 1 {
		t.Errorf("expired grant not listed as expired: %v", grants)
	}
}
