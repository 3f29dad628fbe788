package httpapi_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/compadre-dev/compadre/compadretest"
)

// serviceTargets creates an agent and a state machine, each with version 1,
// for services to use.
func serviceTargets(t testing.TB, c *client) (agentID, stateMachineID string) {
	t.Helper()
	return c.newAgent(t, "Amy"), c.newStateMachine(t, "greeter")
}

// serviceBody is a create-service request; more replaces or adds fields.
func serviceBody(name, agentID, stateMachineID string, more map[string]any) map[string]any {
	body := map[string]any{
		"name": name, "description": "Service " + name, "is_active": true, "agent_id": agentID,
		"service_hierarchical_state_machine_id": stateMachineID, "keyterms": []any{}, "tags": map[string]any{},
	}
	for k, v := range more {
		body[k] = v
	}
	return body
}

// serviceNew creates a service and returns its ID.
func (c *client) serviceNew(t testing.TB, name, agentID, stateMachineID string, more map[string]any) string {
	t.Helper()
	status, body := c.do("POST", "/service/", serviceBody(name, agentID, stateMachineID, more))
	mustStatus(t, "create service "+name, status, http.StatusCreated, body)
	return body["id"].(string)
}

// serviceList returns the services the client sees with the query, in
// order, and the whole answer.
func (c *client) serviceList(t testing.TB, query string) ([]map[string]any, map[string]any) {
	t.Helper()
	status, body := c.do("GET", "/service/"+query, nil)
	mustStatus(t, "get services"+query, status, http.StatusOK, body)
	var out []map[string]any
	for _, s := range body["services"].([]any) {
		out = append(out, s.(map[string]any))
	}
	return out, body
}

// serviceGet returns the service with the ID as the client sees it, or nil.
func (c *client) serviceGet(t testing.TB, id string) map[string]any {
	t.Helper()
	got, _ := c.serviceList(t, "?id="+id)
	if len(got) == 0 {
		return nil
	}
	return got[0]
}

// serviceNames lists the names of the services, in order.
func serviceNames(services []map[string]any) string {
	var names []string
	for _, s := range services {
		names = append(names, s["name"].(string))
	}
	return strings.Join(names, ",")
}

// serviceOtherOrg creates the organization id and returns a client for its
// administrator, who holds every permission there and none here.
func serviceOtherOrg(t testing.TB, srv *compadretest.Server, c *client, id string) *client {
	t.Helper()
	status, body := c.createOrg(id)
	mustStatus(t, "create organization "+id, status, http.StatusCreated, body)
	creds := srv.NewAPIKey(t, id, "")
	other := &client{t: t, base: srv.BaseURL, org: id}
	return other.as(other.signIn(creds.APIKey, creds.APIKeyID, creds.UserID))
}

func TestServiceCreateAndGet(t *testing.T) {
	t.Parallel()
	_, c := newTestServer(t)
	agentID, smID := serviceTargets(t, c)
	id := c.serviceNew(t, "Support", agentID, smID, map[string]any{
		"keyterms": []any{"amigo", "check-in", "wait list now"},
		"tags":     map[string]any{"team": "care", " flag ": nil},
	})
	got := c.serviceGet(t, id)
	if got == nil {
		t.Fatal("the new service is not listed")
	}
	want := map[string]any{
		"id": id, "name": "Support", "description": "Service Support", "is_active": true, "agent_id": agentID,
		"service_hierarchical_state_machine_id": smID,
		"keyterms":                              []any{"amigo", "check-in", "wait list now"},
		"tags": []any{
			map[string]any{"key": "flag", "value": nil},
			map[string]any{"key": "team", "value": "care"},
		},
		"version_sets": map[string]any{
			"edge": map[string]any{"agent_version_number": nil, "service_hierarchical_state_machine_version_number": nil,
				"llm_model_preferences": map[string]any{}},
			"release": map[string]any{"agent_version_number": nil, "service_hierarchical_state_machine_version_number": nil,
				"llm_model_preferences": map[string]any{}},
		},
	}
	for k, v := range want {
		if fmt.Sprint(got[k]) != fmt.Sprint(v) {
			t.Errorf("%s: got %v, want %v", k, got[k], v)
		}
	}
	creator := got["creator"].(map[string]any)
	if creator["org_id"] == "" || creator["user_id"] == "" || fmt.Sprint(got["updated_by"]) != fmt.Sprint(creator) {
		t.Errorf("creator %v, updated_by %v", got["creator"], got["updated_by"])
	}

	// A release version set given at creation is kept as given.
	prefs := map[string]any{"engage_user": map[string]any{"llm_name": "openai_gpt-5-mini-2025-08-07", "params": map[string]any{"temperature": 0.2}}}
	id2 := c.serviceNew(t, "Pinned", agentID, smID, map[string]any{"release_version_set": map[string]any{
		"agent_version_number": 1, "service_hierarchical_state_machine_version_number": 1, "llm_model_preferences": prefs,
	}})
	sets := c.serviceGet(t, id2)["version_sets"].(map[string]any)
	release := sets["release"].(map[string]any)
	if release["agent_version_number"] != float64(1) || release["service_hierarchical_state_machine_version_number"] != float64(1) ||
		fmt.Sprint(release["llm_model_preferences"]) != fmt.Sprint(prefs) {
		t.Errorf("release: got %v", release)
	}
	if edge := sets["edge"].(map[string]any); edge["agent_version_number"] != nil || len(edge["llm_model_preferences"].(map[string]any)) != 0 {
		t.Errorf("edge: got %v, want the newest versions and no preferences", edge)
	}
}

func TestServiceCreateRefusals(t *testing.T) {
	t.Parallel()
	srv, c := newTestServer(t)
	agentID, smID := serviceTargets(t, c)
	other := serviceOtherOrg(t, srv, c, "beta")
	otherAgent := other.newAgent(t, "Beta agent")
	status, body := c.do("POST", "/organization/agent", map[string]any{"agent_name": "Empty"})
	mustStatus(t, "agent without versions", status, http.StatusCreated, body)
	emptyAgent := body["id"].(string)
	missing := strings.Repeat("a", 24)
	pin := func(agent, sm any) map[string]any {
		return map[string]any{"release_version_set": map[string]any{"agent_version_number": agent,
			"service_hierarchical_state_machine_version_number": sm, "llm_model_preferences": map[string]any{}}}
	}
	cases := []struct {
		name       string
		body       map[string]any
		wantStatus int
	}{
		{"a missing agent", serviceBody("S", missing, smID, nil), http.StatusNotFound},
		{"another organization's agent", serviceBody("S", otherAgent, smID, nil), http.StatusNotFound},
		{"an agent without versions", serviceBody("S", emptyAgent, smID, nil), http.StatusNotFound},
		{"a missing state machine", serviceBody("S", agentID, missing, nil), http.StatusNotFound},
		{"a pinned agent version that does not exist", serviceBody("S", agentID, smID, pin(2, nil)), http.StatusBadRequest},
		{"a pinned state machine version that does not exist", serviceBody("S", agentID, smID, pin(nil, 7)), http.StatusBadRequest},
		{"an unknown model", serviceBody("S", agentID, smID, map[string]any{"release_version_set": map[string]any{
			"agent_version_number": nil, "service_hierarchical_state_machine_version_number": nil,
			"llm_model_preferences": map[string]any{"x": map[string]any{"llm_name": "gpt-0"}}}}), http.StatusBadRequest},
		{"a keyterm with capitals", serviceBody("S", agentID, smID, map[string]any{"keyterms": []any{"Amigo"}}), http.StatusUnprocessableEntity},
		{"a keyterm of four words", serviceBody("S", agentID, smID, map[string]any{"keyterms": []any{"a b c d"}}), http.StatusUnprocessableEntity},
		{"21 keyterms", serviceBody("S", agentID, smID, map[string]any{"keyterms": slices.Repeat([]any{"a"}, 21)}), http.StatusUnprocessableEntity},
		{"a tag key with a dash", serviceBody("S", agentID, smID, map[string]any{"tags": map[string]any{"a-b": nil}}), http.StatusUnprocessableEntity},
		{"a blank name", serviceBody("  ", agentID, smID, nil), http.StatusUnprocessableEntity},
		{"no keyterms", func() map[string]any { b := serviceBody("S", agentID, smID, nil); delete(b, "keyterms"); return b }(), http.StatusUnprocessableEntity},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status, body := c.do("POST", "/service/", tc.body)
			mustStatus(t, "create", status, tc.wantStatus, body)
		})
	}
	if got, _ := c.serviceList(t, ""); len(got) != 0 {
		t.Errorf("refused requests stored services: %v", serviceNames(got))
	}
}

func TestServiceActiveNameIsUnique(t *testing.T) {
	t.Parallel()
	_, c := newTestServer(t)
	agentID, smID := serviceTargets(t, c)
	first := c.serviceNew(t, "Support", agentID, smID, nil)
	status, body := c.do("POST", "/service/", serviceBody("Support", agentID, smID, nil))
	mustStatus(t, "second active Support", status, http.StatusConflict, body)
	second := c.serviceNew(t, "Support", agentID, smID, map[string]any{"is_active": false})
	third := c.serviceNew(t, "Support", agentID, smID, map[string]any{"is_active": false})

	status, body = c.do("POST", "/service/"+second+"/", map[string]any{"is_active": true})
	mustStatus(t, "activate a second Support", status, http.StatusConflict, body)
	other := c.serviceNew(t, "Sales", agentID, smID, nil)
	status, body = c.do("POST", "/service/"+other+"/", map[string]any{"name": "Support"})
	mustStatus(t, "rename an active service to an active name", status, http.StatusConflict, body)

	status, body = c.do("POST", "/service/"+first+"/", map[string]any{"is_active": false})
	mustStatus(t, "deactivate the first", status, http.StatusOK, body)
	status, body = c.do("POST", "/service/"+second+"/", map[string]any{"is_active": true})
	mustStatus(t, "activate the second", status, http.StatusOK, body)
	active, _ := c.serviceList(t, "?is_active=true&sort_by=name")
	if len(active) != 2 || active[1]["id"] != second {
		t.Errorf("active services: %v", active)
	}
	inactive, _ := c.serviceList(t, "?is_active=false")
	var ids []any
	for _, s := range inactive {
		ids = append(ids, s["id"])
	}
	if len(ids) != 2 || !slices.Contains(ids, any(first)) || !slices.Contains(ids, any(third)) {
		t.Errorf("inactive services: %v", inactive)
	}
}

func TestServiceUpdate(t *testing.T) {
	t.Parallel()
	srv, c := newTestServer(t)
	agentID, smID := serviceTargets(t, c)
	id := c.serviceNew(t, "Support", agentID, smID, map[string]any{"keyterms": []any{"amigo"}, "tags": map[string]any{"a": "1"}})
	agent2 := c.newAgent(t, "Bob")

	status, body := c.do("POST", "/service/"+id+"/", map[string]any{
		"name": " Care ", "description": "Helps", "keyterms": []any{"care desk"}, "tags": map[string]any{"b": nil},
		"agent_id": agent2, "service_hierarchical_state_machine_id": nil,
	})
	mustStatus(t, "update", status, http.StatusOK, body)
	if len(body) != 0 {
		t.Errorf("update body: got %v, want {}", body)
	}
	got := c.serviceGet(t, id)
	if got["name"] != "Care" || got["description"] != "Helps" || fmt.Sprint(got["keyterms"]) != "[care desk]" ||
		fmt.Sprint(got["tags"]) != "[map[key:b value:<nil>]]" || got["agent_id"] != agent2 ||
		got["service_hierarchical_state_machine_id"] != smID {
		t.Errorf("after update: %v", got)
	}

	// An empty request changes nothing.
	status, body = c.do("POST", "/service/"+id+"/", map[string]any{})
	mustStatus(t, "empty update", status, http.StatusOK, body)
	if again := c.serviceGet(t, id); fmt.Sprint(again["tags"]) != fmt.Sprint(got["tags"]) || again["name"] != "Care" {
		t.Errorf("empty update changed the service: %v", again)
	}

	// The service pins version 1 of its agent; an agent without it is refused.
	status, body = c.do("PUT", "/service/"+id+"/version_sets/release/", map[string]any{"version_set": map[string]any{
		"agent_version_number": 1, "service_hierarchical_state_machine_version_number": nil, "llm_model_preferences": map[string]any{},
	}})
	mustStatus(t, "pin version 1", status, http.StatusNoContent, body)
	status, body = c.do("POST", "/organization/agent", map[string]any{"agent_name": "Empty"})
	mustStatus(t, "agent without versions", status, http.StatusCreated, body)
	for name, agent := range map[string]string{"missing": strings.Repeat("b", 24), "without versions": body["id"].(string)} {
		status, body := c.do("POST", "/service/"+id+"/", map[string]any{"agent_id": agent})
		mustStatus(t, "switch to an agent "+name, status, http.StatusBadRequest, body)
	}
	if got := c.serviceGet(t, id); got["agent_id"] != agent2 {
		t.Errorf("a refused update changed the agent to %v", got["agent_id"])
	}

	// Activating a service whose agent has since been deleted is refused.
	inactive := c.serviceNew(t, "Later", agentID, smID, map[string]any{"is_active": false})
	status, body = c.do("DELETE", "/organization/agent/"+agentID+"/", nil)
	mustStatus(t, "delete the agent", status, http.StatusOK, body)
	status, body = c.do("POST", "/service/"+inactive+"/", map[string]any{"is_active": true})
	mustStatus(t, "activate with a deleted agent", status, http.StatusBadRequest, body)

	status, body = c.do("POST", "/service/"+strings.Repeat("c", 24)+"/", map[string]any{"name": "X"})
	mustStatus(t, "update a missing service", status, http.StatusNotFound, body)
	other := serviceOtherOrg(t, srv, c, "beta")
	status, body = other.do("POST", "/service/"+id+"/", map[string]any{"name": "Stolen"})
	mustStatus(t, "update another organization's service", status, http.StatusNotFound, body)
	if got, _ := other.serviceList(t, ""); len(got) != 0 {
		t.Errorf("another organization sees %v", serviceNames(got))
	}

	c.newRole("Reader", grant("Service:GetService", nil))
	reader := c.keyFor(c.newUser("reader@example.com", "Reader"), "Reader")
	status, body = reader.do("POST", "/service/"+id+"/", map[string]any{"name": "Renamed"})
	mustStatus(t, "update without Service:UpdateService", status, http.StatusForbidden, body)
	c.newRole("CareEditor", grant("Service:UpdateService", map[string]any{"name": equals("Other")}))
	editor := c.keyFor(c.newUser("editor@example.com", "CareEditor"), "CareEditor")
	status, body = editor.do("POST", "/service/"+id+"/", map[string]any{"name": "Renamed"})
	mustStatus(t, "update with a grant for another name", status, http.StatusForbidden, body)
	if got := c.serviceGet(t, id); got["name"] != "Care" {
		t.Errorf("refused updates renamed the service to %v", got["name"])
	}
}

func TestServiceVersionSets(t *testing.T) {
	t.Parallel()
	srv, c := newTestServer(t)
	agentID, smID := serviceTargets(t, c)
	id := c.serviceNew(t, "Support", agentID, smID, nil)
	set := func(agent, sm any, prefs map[string]any) map[string]any {
		if prefs == nil {
			prefs = map[string]any{}
		}
		return map[string]any{"version_set": map[string]any{"agent_version_number": agent,
			"service_hierarchical_state_machine_version_number": sm, "llm_model_preferences": prefs}}
	}
	path := func(name string) string { return "/service/" + id + "/version_sets/" + name + "/" }
	sets := func() map[string]any { return c.serviceGet(t, id)["version_sets"].(map[string]any) }

	prefs := map[string]any{"engage_user": map[string]any{"llm_name": "aws_claude-sonnet-4-6", "params": map[string]any{}}}
	cases := []struct {
		name       string
		method     string
		set        string
		body       any
		wantStatus int
	}{
		{"edge cannot be changed", "PUT", "edge", set(nil, nil, nil), http.StatusBadRequest},
		{"release can be pinned", "PUT", "release", set(1, 1, prefs), http.StatusNoContent},
		{"a new set", "PUT", "beta_1", set(nil, 1, nil), http.StatusNoContent},
		{"a pinned agent version that does not exist", "PUT", "gamma", set(3, nil, nil), http.StatusBadRequest},
		{"a pinned state machine version that does not exist", "PUT", "beta_1", set(nil, 2, nil), http.StatusBadRequest},
		{"a name with a space", "PUT", "two%20words", set(nil, nil, nil), http.StatusUnprocessableEntity},
		{"a name of 41 characters", "PUT", strings.Repeat("n", 41), set(nil, nil, nil), http.StatusUnprocessableEntity},
		{"a name of 40 characters", "PUT", strings.Repeat("n", 40), set(nil, nil, nil), http.StatusNoContent},
		{"no version_set", "PUT", "delta", map[string]any{}, http.StatusUnprocessableEntity},
		{"edge cannot be deleted", "DELETE", "edge", nil, http.StatusBadRequest},
		{"release cannot be deleted", "DELETE", "release", nil, http.StatusBadRequest},
		{"a missing set", "DELETE", "nothere", nil, http.StatusNotFound},
		{"delete a set", "DELETE", strings.Repeat("n", 40), nil, http.StatusNoContent},
		{"delete it again", "DELETE", strings.Repeat("n", 40), nil, http.StatusNotFound},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status, body := c.do(tc.method, path(tc.set), tc.body)
			mustStatus(t, tc.method+" "+tc.set, status, tc.wantStatus, body)
		})
	}
	got := sets()
	if len(got) != 3 || got["edge"] == nil || got["beta_1"] == nil {
		t.Fatalf("version sets: got %v, want edge, release and beta_1", got)
	}
	if r := got["release"].(map[string]any); r["agent_version_number"] != float64(1) || fmt.Sprint(r["llm_model_preferences"]) != fmt.Sprint(prefs) {
		t.Errorf("release: %v", r)
	}
	if b := got["beta_1"].(map[string]any); b["agent_version_number"] != nil || b["service_hierarchical_state_machine_version_number"] != float64(1) {
		t.Errorf("beta_1 was changed by a refused upsert: %v", b)
	}
	if e := got["edge"].(map[string]any); e["agent_version_number"] != nil || e["service_hierarchical_state_machine_version_number"] != nil {
		t.Errorf("edge: %v", e)
	}

	missing := "/service/" + strings.Repeat("d", 24) + "/version_sets/beta/"
	status, body := c.do("PUT", missing, set(nil, nil, nil))
	mustStatus(t, "upsert on a missing service", status, http.StatusNotFound, body)
	status, body = c.do("DELETE", missing, nil)
	mustStatus(t, "delete on a missing service", status, http.StatusNotFound, body)
	other := serviceOtherOrg(t, srv, c, "beta")
	status, body = other.do("PUT", path("stolen"), set(nil, nil, nil))
	mustStatus(t, "upsert on another organization's service", status, http.StatusNotFound, body)
	status, body = other.do("DELETE", path("beta_1"), nil)
	mustStatus(t, "delete on another organization's service", status, http.StatusNotFound, body)
	if _, ok := sets()["beta_1"]; !ok {
		t.Error("another organization deleted a version set")
	}
}

func TestServiceVersionSetPermissions(t *testing.T) {
	t.Parallel()
	_, c := newTestServer(t)
	agentID, smID := serviceTargets(t, c)
	id := c.serviceNew(t, "Support", agentID, smID, nil)
	path := func(name string) string { return "/service/" + id + "/version_sets/" + name + "/" }
	body := map[string]any{"version_set": map[string]any{"agent_version_number": nil,
		"service_hierarchical_state_machine_version_number": nil, "llm_model_preferences": map[string]any{}}}

	c.newRole("Creator", grant("Service:CreateVersionSet", nil))
	creator := c.keyFor(c.newUser("creator@example.com", "Creator"), "Creator")
	c.newRole("Updater", grant("Service:UpdateVersionSet", map[string]any{"version_set_name": equals("release")}))
	updater := c.keyFor(c.newUser("updater@example.com", "Updater"), "Updater")
	c.newRole("Deleter", grant("Service:DeleteVersionSet", map[string]any{"service_id": equals(id)}))
	deleter := c.keyFor(c.newUser("deleter@example.com", "Deleter"), "Deleter")

	steps := []struct {
		name       string
		who        *client
		method     string
		set        string
		wantStatus int
	}{
		{"creating needs CreateVersionSet", updater, "PUT", "beta", http.StatusForbidden},
		{"CreateVersionSet creates", creator, "PUT", "beta", http.StatusNoContent},
		{"replacing needs UpdateVersionSet", creator, "PUT", "beta", http.StatusForbidden},
		{"UpdateVersionSet for another set", updater, "PUT", "beta", http.StatusForbidden},
		{"UpdateVersionSet for release", updater, "PUT", "release", http.StatusNoContent},
		{"deleting needs DeleteVersionSet", creator, "DELETE", "beta", http.StatusForbidden},
		{"DeleteVersionSet deletes", deleter, "DELETE", "beta", http.StatusNoContent},
	}
	for _, s := range steps {
		var b any
		if s.method == "PUT" {
			b = body
		}
		status, resp := s.who.do(s.method, path(s.set), b)
		mustStatus(t, s.name, status, s.wantStatus, resp)
	}

	status, resp := creator.do("POST", "/service/", serviceBody("Mine", agentID, smID, nil))
	mustStatus(t, "create a service without Service:CreateService", status, http.StatusForbidden, resp)
	c.newRole("Maker", grant("Service:CreateService", nil),
		grant("Service:CreateVersionSet", map[string]any{"version_set_name": equals("edge")}))
	maker := c.keyFor(c.newUser("maker@example.com", "Maker"), "Maker")
	status, resp = maker.do("POST", "/service/", serviceBody("Mine", agentID, smID, nil))
	mustStatus(t, "create a service without CreateVersionSet on release", status, http.StatusForbidden, resp)
	if got, _ := c.serviceList(t, ""); len(got) != 1 {
		t.Errorf("refused creations stored services: %v", serviceNames(got))
	}
}

func TestServiceList(t *testing.T) {
	t.Parallel()
	_, c := newTestServer(t)
	agentID, smID := serviceTargets(t, c)
	for _, s := range []struct {
		name   string
		active bool
		tags   map[string]any
	}{
		{"gamma", true, map[string]any{"team": "ops", "shared": nil}},
		{"alpha", false, map[string]any{"team": "care", "shared": nil}},
		{"beta", true, map[string]any{"team": "sales"}},
	} {
		c.serviceNew(t, s.name, agentID, smID, map[string]any{"is_active": s.active, "tags": s.tags})
	}
	cases := []struct {
		query string
		want  string
	}{
		{"", "gamma,alpha,beta"},
		{"?sort_by=name", "alpha,beta,gamma"},
		{"?sort_by=-name", "gamma,beta,alpha"},
		{"?sort_by=is_active&sort_by=-name", "alpha,gamma,beta"},
		{"?is_active=true", "gamma,beta"},
		{"?tags=team:care", "alpha"},
		{"?tags=team:*", "gamma,alpha,beta"},
		{"?tags=shared:", "gamma,alpha"},
		{"?tags=team:", ""},
		{"?tags=shared:*&tags=team:ops", "gamma"},
		{"?sort_by=name&limit=2", "alpha,beta"},
		{"?sort_by=name&limit=2&continuation_token=2", "gamma"},
	}
	for _, tc := range cases {
		t.Run(tc.query, func(t *testing.T) {
			got, _ := c.serviceList(t, tc.query)
			if names := serviceNames(got); names != tc.want {
				t.Errorf("got %q, want %q", names, tc.want)
			}
		})
	}
	_, body := c.serviceList(t, "?sort_by=name&limit=2")
	if body["has_more"] != true || body["continuation_token"] != float64(2) {
		t.Errorf("first page: has_more %v, continuation_token %v", body["has_more"], body["continuation_token"])
	}
	if fv := fmt.Sprint(body["filter_values"]); fv != "map[tags:[shared: team:care team:ops team:sales]]" {
		t.Errorf("filter_values: %s", fv)
	}
	_, body = c.serviceList(t, "?sort_by=name&limit=2&continuation_token=2")
	if body["has_more"] != false || body["continuation_token"] != nil || body["filter_values"] != nil {
		t.Errorf("last page: %v", body)
	}
	for _, q := range []string{"?sort_by=created_at", "?tags=novalue", "?limit=21", "?limit=0"} {
		if status, body := c.do("GET", "/service/"+q, nil); status != http.StatusUnprocessableEntity {
			t.Errorf("%s: status %d, want 422; %v", q, status, body)
		}
	}

	// Services the caller may not read are left out.
	c.newRole("BetaReader", grant("Service:GetService", map[string]any{"name": equals("beta")}))
	reader := c.keyFor(c.newUser("reader@example.com", "BetaReader"), "BetaReader")
	if got, _ := reader.serviceList(t, ""); serviceNames(got) != "beta" {
		t.Errorf("reader sees %q, want beta", serviceNames(got))
	}
	c.newRole("NoServices")
	nobody := c.keyFor(c.newUser("nobody@example.com", "NoServices"), "NoServices")
	if got, _ := nobody.serviceList(t, ""); len(got) != 0 {
		t.Errorf("a caller without Service:GetService sees %q", serviceNames(got))
	}
}

// A body the schema accepts but Go cannot hold (an integer beyond int64) and
// a body that is not JSON are refused in the API's own words, never Go's.
func TestDecodeErrorsShowNoGoInternals(t *testing.T) {
	_, c := newTestServer(t)
	agentID, smID := serviceTargets(t, c)
	huge, err := json.Marshal(serviceBody("S", agentID, smID, map[string]any{"release_version_set": map[string]any{
		"agent_version_number": json.Number("100000000000000000000000000000"), "service_hierarchical_state_machine_version_number": nil,
		"llm_model_preferences": map[string]any{}}}))
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, path, body, wantLoc string
	}{
		{"an integer beyond int64", "/service/", string(huge), `["body","release_version_set","agent_version_number"]`},
		{"a body cut short", "/service/", `{"name": "S",`, `["body"]`},
		{"a body that is not JSON", "/organization/api_key/", `{"name": x}`, `["body",10]`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status, body := c.raw("POST", "/v1/"+c.org+tc.path, tc.body, map[string]string{"Authorization": "Bearer " + c.token})
			if status != http.StatusUnprocessableEntity {
				t.Fatalf("got status %d, want 422: %s", status, body)
			}
			for _, leak := range []string{"Go ", "struct", "json:", "unmarshal", "invalid character", "int64", "httpapi"} {
				if strings.Contains(string(body), leak) {
					t.Errorf("body %s shows %q", body, leak)
				}
			}
			if !strings.Contains(string(body), tc.wantLoc) {
				t.Errorf("body %s does not locate the fault at %s", body, tc.wantLoc)
			}
		})
	}
	if got, _ := c.serviceList(t, ""); len(got) != 0 {
		t.Errorf("refused requests stored services: %v", serviceNames(got))
	}
}

// A whole number written as 1.0 is the integer 1, as JSON Schema and
// pydantic read it, not a decoding failure.
func TestWholeNumberWithFractionIsAnInteger(t *testing.T) {
	_, c := newTestServer(t)
	agentID, smID := serviceTargets(t, c)
	body, err := json.Marshal(serviceBody("S", agentID, smID, map[string]any{"release_version_set": map[string]any{
		"agent_version_number": json.Number("1.0"), "service_hierarchical_state_machine_version_number": json.Number("1e0"),
		"llm_model_preferences": map[string]any{}}}))
	if err != nil {
		t.Fatal(err)
	}
	status, raw := c.raw("POST", "/v1/"+c.org+"/service/", body, map[string]string{"Authorization": "Bearer " + c.token})
	if status != http.StatusCreated {
		t.Fatalf("got status %d, want 201: %s", status, raw)
	}
	sets := c.serviceGet(t, mustID(t, raw))["version_sets"].(map[string]any)
	release := sets["release"].(map[string]any)
	if release["agent_version_number"] != float64(1) || release["service_hierarchical_state_machine_version_number"] != float64(1) {
		t.Errorf("got release version set %v, want both versions 1", release)
	}
}

func mustID(t *testing.T, raw []byte) string {
	t.Helper()
	var out struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(raw, &out); err != nil || out.ID == "" {
		t.Fatalf("no id in %s", raw)
	}
	return out.ID
}
