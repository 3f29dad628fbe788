package httpapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/compadre-dev/compadre/compadretest"
	"github.com/compadre-dev/compadre/store"
)

// behaviorInject is an inject-instruction action.
func behaviorInject(text string) map[string]any {
	return map[string]any{"type": "inject-instruction", "instruction": text, "overrides_instructions": false}
}

// behaviorSpec is a complete tool call spec of a change-tool-candidates
// action.
func behaviorSpec(toolID, constraint string) map[string]any {
	return map[string]any{
		"tool_id": toolID, "version_constraint": constraint, "additional_instruction": "Use it to repeat things.",
		"audio_fillers": []any{`One moment <break time="300ms"/> please.`}, "audio_filler_triggered_after": 2.5,
		"result_persistence": "persisted-preferred", "tool_name": "repeat",
	}
}

// behaviorTools is a change-tool-candidates action offering specs.
func behaviorTools(specs ...map[string]any) map[string]any {
	list := make([]any, len(specs))
	for i, s := range specs {
		list[i] = s
	}
	return map[string]any{"type": "change-tool-candidates", "tool_call_specs": list, "overrides_existing_tool_call_specs": false}
}

// behaviorSetBody is a create-dynamic-behavior-set body for an active set
// without tags or services.
func behaviorSetBody(name string, triggers []string, actions ...map[string]any) map[string]any {
	acts := make([]any, len(actions))
	for i, a := range actions {
		acts[i] = a
	}
	return map[string]any{
		"name": name, "tags": map[string]any{}, "applied_to_services": []any{},
		"initial_version": map[string]any{"is_active": true, "conversation_triggers": triggers, "actions": acts},
	}
}

// behaviorVersionBody is a create-dynamic-behavior-set-version body.
func behaviorVersionBody(triggers []string, actions ...map[string]any) map[string]any {
	b := behaviorSetBody("", triggers, actions...)["initial_version"].(map[string]any)
	delete(b, "is_active")
	return b
}

func (c *client) behaviorCreate(body map[string]any) string {
	c.t.Helper()
	status, resp := c.do("POST", "/dynamic_behavior_set/", body)
	mustStatus(c.t, "create dynamic behavior set", status, http.StatusCreated, resp)
	return resp["dynamic_behavior_set_id"].(string)
}

// behaviorSets lists the sets the client sees with query and returns them
// with the whole answer.
func (c *client) behaviorSets(query string) ([]map[string]any, map[string]any) {
	c.t.Helper()
	status, body := c.do("GET", "/dynamic_behavior_set/"+query, nil)
	mustStatus(c.t, "get dynamic behavior sets "+query, status, http.StatusOK, body)
	return behaviorItems(body, "dynamic_behavior_sets"), body
}

func (c *client) behaviorVersions(setID, query string) []map[string]any {
	c.t.Helper()
	status, body := c.do("GET", "/dynamic_behavior_set/"+setID+"/version/"+query, nil)
	mustStatus(c.t, "get versions "+query, status, http.StatusOK, body)
	return behaviorItems(body, "dynamic_behavior_set_versions")
}

func behaviorItems(body map[string]any, key string) []map[string]any {
	var out []map[string]any
	for _, x := range body[key].([]any) {
		out = append(out, x.(map[string]any))
	}
	return out
}

// behaviorField lists one field of each item, comma-separated.
func behaviorField(items []map[string]any, field string) string {
	var out []string
	for _, it := range items {
		out = append(out, fmt.Sprint(it[field]))
	}
	return strings.Join(out, ",")
}

// behaviorService makes a service in org through the store, with an agent
// and a state machine of one version each for it to pair, and returns its
// ID: sets may only be applied to services that exist.
func behaviorService(t testing.TB, srv *compadretest.Server, org, userID, name string) string {
	t.Helper()
	ctx := context.Background()
	st := srv.Store()
	by := store.Actor{OrgID: org, UserID: userID}
	ag, err := st.CreateAgent(ctx, store.Agent{OrgID: org, Name: name, Creator: by})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.CreateAgentVersion(ctx, org, ag.ID, by, nil, func(store.Agent) error { return nil },
		func(*store.AgentVersion) (json.RawMessage, error) { return json.RawMessage(`{}`), nil }); err != nil {
		t.Fatal(err)
	}
	sm, err := st.CreateStateMachine(ctx, store.StateMachine{OrgID: org, Name: name, Creator: by})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.CreateStateMachineVersion(ctx, store.StateMachineVersion{OrgID: org, RecordID: sm.ID,
		Body: json.RawMessage(`{}`), Creator: by}, nil, func(store.StateMachine) error { return nil }); err != nil {
		t.Fatal(err)
	}
	svc, err := st.CreateService(ctx, store.Service{OrgID: org, Name: name, Description: name, IsActive: true,
		AgentID: ag.ID, StateMachineID: sm.ID, Creator: by}, nil, func(store.Service) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	return svc.ID
}

func TestBehaviorSetLifecycle(t *testing.T) {
	t.Parallel()
	srv, admin := newTestServer(t)
	svc := behaviorService(t, srv, srv.Organization, srv.UserID, "support")
	body := behaviorSetBody("Refunds", []string{"  The user asks for a refund  "}, behaviorInject(" Explain the refund policy. "))
	body["tags"] = map[string]any{"team": "billing", "urgent": nil}
	body["applied_to_services"] = []any{svc, svc}
	id := admin.behaviorCreate(body)

	sets, page := admin.behaviorSets("")
	if len(sets) != 1 {
		t.Fatalf("sets: %v", page)
	}
	d := sets[0]
	tags := d["tags"].(map[string]any)
	creator := d["creator"].(map[string]any)
	if d["id"] != id || d["name"] != "Refunds" || d["is_active"] != true || fmt.Sprint(d["applied_to_services"]) != "["+svc+"]" ||
		tags["team"] != "billing" || creator["user_id"] != srv.UserID || creator["org_id"] != srv.Organization ||
		fmt.Sprint(d["updated_by"]) != fmt.Sprint(d["creator"]) || d["created_at"] != d["updated_at"] {
		t.Errorf("set: %v", d)
	}
	if v, ok := tags["urgent"]; !ok || v != nil {
		t.Errorf("null tag: %v", tags)
	}

	versions := admin.behaviorVersions(id, "")
	if len(versions) != 1 {
		t.Fatalf("versions: %v", versions)
	}
	v := versions[0]
	want := `[map[instruction:Explain the refund policy. overrides_instructions:false type:inject-instruction]]`
	if v["version"] != float64(1) || v["dynamic_behavior_set_id"] != id || v["org_id"] != srv.Organization ||
		fmt.Sprint(v["conversation_triggers"]) != "[The user asks for a refund]" || fmt.Sprint(v["actions"]) != want ||
		v["creator"].(map[string]any)["user_id"] != srv.UserID || v["_id"] == "" {
		t.Errorf("version 1: %v", v)
	}

	// Versions are numbered on; ?version= must name the next number.
	status, resp := admin.do("POST", "/dynamic_behavior_set/"+id+"/version/", behaviorVersionBody([]string{"refund v2"}, behaviorInject("v2")))
	mustStatus(t, "version 2", status, http.StatusCreated, resp)
	if resp["new_version_number"] != float64(2) {
		t.Errorf("version 2: %v", resp)
	}
	status, resp = admin.do("POST", "/dynamic_behavior_set/"+id+"/version/?version=3", behaviorVersionBody([]string{"refund v3"}))
	mustStatus(t, "version 3", status, http.StatusCreated, resp)
	for _, q := range []string{"?version=5", "?version=3"} {
		status, resp = admin.do("POST", "/dynamic_behavior_set/"+id+"/version/"+q, behaviorVersionBody([]string{"x"}))
		mustStatus(t, "wrong next version "+q, status, http.StatusBadRequest, resp)
	}
	if status, resp = admin.do("POST", "/dynamic_behavior_set/"+id+"/version/?version=1", behaviorVersionBody([]string{"x"})); status != http.StatusUnprocessableEntity {
		t.Errorf("version 1 again: %d %v", status, resp)
	}
	if got := behaviorField(admin.behaviorVersions(id, ""), "version"); got != "1,2,3" {
		t.Errorf("versions after refusals: %s", got)
	}
	// A new version counts as an update of the set.
	if sets, _ := admin.behaviorSets(""); sets[0]["updated_at"] == sets[0]["created_at"] {
		t.Errorf("updated_at not moved by a new version: %v", sets[0])
	}

	tests := []struct{ query, want string }{
		{"?version=2", "2"},
		{"?version=latest", "3"},
		{"?version=2-latest", "2,3"},
		{"?version=1-2", "1,2"},
		{"?version=9", ""},
		{"?sort_by=-version", "3,2,1"},
		{"?sort_by=%2Bversion", "1,2,3"},
		{"?version=1-latest&sort_by=-version&limit=2", "3,2"},
		{"?limit=2&continuation_token=2", "3"},
	}
	for _, tc := range tests {
		if got := behaviorField(admin.behaviorVersions(id, tc.query), "version"); got != tc.want {
			t.Errorf("versions %s: got %q, want %q", tc.query, got, tc.want)
		}
	}
	status, resp = admin.do("GET", "/dynamic_behavior_set/"+id+"/version/?version=3-1", nil)
	mustStatus(t, "versions ?version=3-1", status, http.StatusUnprocessableEntity, resp)
	status, resp = admin.do("GET", "/dynamic_behavior_set/"+id+"/version/?limit=2", nil)
	if status != http.StatusOK || resp["has_more"] != true || resp["continuation_token"] != float64(2) {
		t.Errorf("first page of two: %d %v", status, resp)
	}
	status, resp = admin.do("GET", "/dynamic_behavior_set/"+id+"/version/?limit=2&continuation_token=2", nil)
	if resp["has_more"] != false || resp["continuation_token"] != nil {
		t.Errorf("last page: %d %v", status, resp)
	}
	for _, q := range []string{"?version=abc", "?version=latest-2", "?version=-1", "?version=1-", "?sort_by=created_at", "?limit=11", "?limit=0"} {
		if status, resp := admin.do("GET", "/dynamic_behavior_set/"+id+"/version/"+q, nil); status != http.StatusUnprocessableEntity {
			t.Errorf("versions %s: %d %v, want 422", q, status, resp)
		}
	}

	// Update changes what is given and nothing else.
	status, resp = admin.do("POST", "/dynamic_behavior_set/"+id+"/", map[string]any{"name": " Refund help ", "is_active": false, "tags": nil})
	mustStatus(t, "update", status, http.StatusNoContent, resp)
	sets, _ = admin.behaviorSets("")
	d = sets[0]
	if d["name"] != "Refund help" || d["is_active"] != false || d["tags"].(map[string]any)["team"] != "billing" ||
		fmt.Sprint(d["applied_to_services"]) != "["+svc+"]" {
		t.Errorf("after update: %v", d)
	}
	status, resp = admin.do("POST", "/dynamic_behavior_set/"+id+"/", map[string]any{"tags": map[string]any{}, "applied_to_services": []any{}})
	mustStatus(t, "clear", status, http.StatusNoContent, resp)
	sets, _ = admin.behaviorSets("")
	if d = sets[0]; len(d["tags"].(map[string]any)) != 0 || len(d["applied_to_services"].([]any)) != 0 || d["name"] != "Refund help" {
		t.Errorf("after clearing: %v", d)
	}
	status, resp = admin.do("POST", "/dynamic_behavior_set/"+id+"/", map[string]any{})
	mustStatus(t, "empty update", status, http.StatusNoContent, resp)

	status, resp = admin.do("DELETE", "/dynamic_behavior_set/"+id+"/", nil)
	mustStatus(t, "delete", status, http.StatusOK, resp)
	if len(resp) != 0 {
		t.Errorf("delete answer: %v", resp)
	}
	if sets, _ := admin.behaviorSets(""); len(sets) != 0 {
		t.Errorf("deleted set still listed: %v", sets)
	}
	for _, call := range []struct {
		method, path string
		body         any
	}{
		{"DELETE", "/dynamic_behavior_set/" + id + "/", nil},
		{"POST", "/dynamic_behavior_set/" + id + "/", map[string]any{"name": "x"}},
		{"GET", "/dynamic_behavior_set/" + id + "/version/", nil},
		{"POST", "/dynamic_behavior_set/" + id + "/version/", behaviorVersionBody([]string{"x"})},
		{"GET", "/dynamic_behavior_set/" + id + "/invocation/", nil},
	} {
		if status, resp := admin.do(call.method, call.path, call.body); status != http.StatusNotFound {
			t.Errorf("%s %s of a deleted set: %d %v", call.method, call.path, status, resp)
		}
	}
	if status, resp := admin.do("GET", "/dynamic_behavior_set/not-an-id/version/", nil); status != http.StatusUnprocessableEntity {
		t.Errorf("malformed set ID: %d %v", status, resp)
	}
}

func TestBehaviorSetValidation(t *testing.T) {
	t.Parallel()
	srv, admin := newTestServer(t)
	svc := behaviorService(t, srv, srv.Organization, srv.UserID, "support")
	_, betaUser := betaOrg(t, srv, admin)
	betaSvc := behaviorService(t, srv, "beta", betaUser, "beta_support")

	tagsOf := func(n int) map[string]any {
		m := map[string]any{}
		for i := range n {
			m[fmt.Sprintf("key_%d", i)] = "v"
		}
		return m
	}
	triggers := func(n int) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = fmt.Sprintf("trigger %d", i)
		}
		return out
	}
	n := 0
	// with is a valid body, named uniquely, that change spoils (or not).
	with := func(change func(b map[string]any)) map[string]any {
		n++
		b := behaviorSetBody(fmt.Sprintf("Set %d", n), []string{"t"}, behaviorInject("i"))
		change(b)
		return b
	}
	iv := func(b map[string]any) map[string]any { return b["initial_version"].(map[string]any) }
	tests := []struct {
		name string
		body map[string]any
		want int
	}{
		{"20 tags", with(func(b map[string]any) { b["tags"] = tagsOf(20) }), http.StatusCreated},
		{"21 tags", with(func(b map[string]any) { b["tags"] = tagsOf(21) }), http.StatusUnprocessableEntity},
		{"50 triggers", with(func(b map[string]any) { iv(b)["conversation_triggers"] = triggers(50) }), http.StatusCreated},
		{"51 triggers", with(func(b map[string]any) { iv(b)["conversation_triggers"] = triggers(51) }), http.StatusUnprocessableEntity},
		{"no triggers", with(func(b map[string]any) { iv(b)["conversation_triggers"] = []string{} }), http.StatusUnprocessableEntity},
		{"blank trigger", with(func(b map[string]any) { iv(b)["conversation_triggers"] = []string{"  "} }), http.StatusUnprocessableEntity},
		{"no actions", with(func(b map[string]any) { iv(b)["actions"] = []any{} }), http.StatusCreated},
		{"no name", with(func(b map[string]any) { delete(b, "name") }), http.StatusUnprocessableEntity},
		{"blank name", with(func(b map[string]any) { b["name"] = " \t" }), http.StatusUnprocessableEntity},
		{"no initial version", with(func(b map[string]any) { delete(b, "initial_version") }), http.StatusUnprocessableEntity},
		{"no is_active", with(func(b map[string]any) { delete(iv(b), "is_active") }), http.StatusUnprocessableEntity},
		{"tag key with a dash", with(func(b map[string]any) { b["tags"] = map[string]any{"a-b": "v"} }), http.StatusUnprocessableEntity},
		{"blank tag value", with(func(b map[string]any) { b["tags"] = map[string]any{"k": "  "} }), http.StatusUnprocessableEntity},
		{"tag keys equal once stripped", with(func(b map[string]any) { b["tags"] = map[string]any{"k": "a", "k ": "b"} }), http.StatusUnprocessableEntity},
		{"blank instruction", with(func(b map[string]any) { iv(b)["actions"] = []any{behaviorInject(" ")} }), http.StatusUnprocessableEntity},
		{"instruction missing", with(func(b map[string]any) {
			iv(b)["actions"] = []any{map[string]any{"type": "inject-instruction", "overrides_instructions": true}}
		}), http.StatusUnprocessableEntity},
		{"unknown action type", with(func(b map[string]any) {
			iv(b)["actions"] = []any{map[string]any{"type": "send-email", "instruction": "x", "overrides_instructions": true}}
		}), http.StatusUnprocessableEntity},
		{"malformed service ID", with(func(b map[string]any) { b["applied_to_services"] = []any{"svc"} }), http.StatusUnprocessableEntity},
		{"unknown service", with(func(b map[string]any) { b["applied_to_services"] = []any{store.NewID()} }), http.StatusNotFound},
		{"another organization's service", with(func(b map[string]any) { b["applied_to_services"] = []any{svc, betaSvc} }), http.StatusNotFound},
	}
	created := 0
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, body := admin.do("POST", "/dynamic_behavior_set/", tc.body)
			mustStatus(t, tc.name, status, tc.want, body)
			if status == http.StatusCreated {
				created++
			}
			if sets, _ := admin.behaviorSets(""); len(sets) != created {
				t.Errorf("%d sets stored, want %d", len(sets), created)
			}
		})
	}

	// Only one active set may carry a name.
	first := admin.behaviorCreate(behaviorSetBody("Greeting", []string{"hello"}))
	status, body := admin.do("POST", "/dynamic_behavior_set/", behaviorSetBody("Greeting", []string{"hi"}))
	mustStatus(t, "same active name", status, http.StatusConflict, body)
	inactive := behaviorSetBody("Greeting", []string{"hi"})
	inactive["initial_version"].(map[string]any)["is_active"] = false
	second := admin.behaviorCreate(inactive)
	status, body = admin.do("POST", "/dynamic_behavior_set/"+second+"/", map[string]any{"is_active": true})
	mustStatus(t, "activate a second Greeting", status, http.StatusConflict, body)
	other := admin.behaviorCreate(behaviorSetBody("Farewell", []string{"bye"}))
	status, body = admin.do("POST", "/dynamic_behavior_set/"+other+"/", map[string]any{"name": "Greeting"})
	mustStatus(t, "rename onto an active name", status, http.StatusConflict, body)
	status, body = admin.do("POST", "/dynamic_behavior_set/"+first+"/", map[string]any{"is_active": false})
	mustStatus(t, "deactivate the first", status, http.StatusNoContent, body)
	status, body = admin.do("POST", "/dynamic_behavior_set/"+second+"/", map[string]any{"is_active": true})
	mustStatus(t, "activate the second now", status, http.StatusNoContent, body)

	// Updates are checked like creations, and a refused one changes nothing.
	for _, tc := range []struct {
		name string
		body map[string]any
		want int
	}{
		{"21 tags", map[string]any{"tags": tagsOf(21), "name": "Changed"}, http.StatusUnprocessableEntity},
		{"blank name", map[string]any{"name": "  "}, http.StatusUnprocessableEntity},
		{"unknown service", map[string]any{"applied_to_services": []any{store.NewID()}, "name": "Changed"}, http.StatusNotFound},
		{"is_active not a boolean", map[string]any{"is_active": "yes"}, http.StatusUnprocessableEntity},
	} {
		status, body := admin.do("POST", "/dynamic_behavior_set/"+other+"/", tc.body)
		mustStatus(t, "update: "+tc.name, status, tc.want, body)
	}
	sets, _ := admin.behaviorSets("?id=" + other)
	if len(sets) != 1 || sets[0]["name"] != "Farewell" || len(sets[0]["applied_to_services"].([]any)) != 0 {
		t.Errorf("after refused updates: %v", sets)
	}
	status, body = admin.do("POST", "/dynamic_behavior_set/"+other+"/", map[string]any{"applied_to_services": []any{svc}})
	mustStatus(t, "apply to a service", status, http.StatusNoContent, body)
}

func TestBehaviorToolCandidates(t *testing.T) {
	t.Parallel()
	srv, admin := newTestServer(t, compadretest.WithSandbox())
	echo := publishEchoTool(t, srv, admin, "echo")
	old := publishEchoTool(t, srv, admin, "old_echo")
	status, body := admin.do("DELETE", "/tool/"+old, nil)
	mustStatus(t, "deprecate old_echo", status, http.StatusNoContent, body)

	spec := behaviorSpec(echo, ">=1.0.0,<2")
	id := admin.behaviorCreate(behaviorSetBody("Repeat", []string{"the user wants something repeated"}, behaviorTools(spec)))
	v := admin.behaviorVersions(id, "")[0]
	action := v["actions"].([]any)[0].(map[string]any)
	specs := action["tool_call_specs"].([]any)
	got := specs[0].(map[string]any)
	if action["type"] != "change-tool-candidates" || action["overrides_existing_tool_call_specs"] != false || len(specs) != 1 ||
		got["tool_id"] != echo || got["version_constraint"] != ">=1.0.0,<2" || got["tool_name"] != "repeat" ||
		got["result_persistence"] != "persisted-preferred" || got["audio_filler_triggered_after"] != 2.5 ||
		got["additional_instruction"] != "Use it to repeat things." || fmt.Sprint(got["audio_fillers"]) != `[One moment <break time="300ms"/> please.]` {
		t.Errorf("stored action: %v", action)
	}

	// The v0.7.0 release notes call the list tool_specs; it is the same list.
	alias := behaviorTools(behaviorSpec(echo, "==1.0.0"))
	alias["tool_specs"] = alias["tool_call_specs"]
	delete(alias, "tool_call_specs")
	aliased := admin.behaviorCreate(behaviorSetBody("Repeat too", []string{"repeat"}, behaviorInject("x"), alias))
	action = admin.behaviorVersions(aliased, "")[0]["actions"].([]any)[1].(map[string]any)
	if _, ok := action["tool_specs"]; ok || len(action["tool_call_specs"].([]any)) != 1 {
		t.Errorf("aliased action stored as %v", action)
	}
	both := behaviorTools(behaviorSpec(echo, "==1.0.0"))
	both["tool_specs"] = both["tool_call_specs"]
	status, body = admin.do("POST", "/dynamic_behavior_set/", behaviorSetBody("Both", []string{"x"}, both))
	mustStatus(t, "tool_specs and tool_call_specs", status, http.StatusUnprocessableEntity, body)

	without := func(field string) map[string]any {
		s := behaviorSpec(echo, ">=1")
		delete(s, field)
		return s
	}
	changed := func(field string, v any) map[string]any {
		s := behaviorSpec(echo, ">=1")
		s[field] = v
		return s
	}
	tests := []struct {
		name string
		spec map[string]any
		want int
		// in is a word the error must contain.
		in string
	}{
		{"missing result_persistence", without("result_persistence"), http.StatusUnprocessableEntity, "result_persistence"},
		{"unknown result_persistence", changed("result_persistence", "forever"), http.StatusUnprocessableEntity, "result_persistence"},
		{"missing tool_name", without("tool_name"), http.StatusUnprocessableEntity, "tool_name"},
		{"blank tool_name", changed("tool_name", "  "), http.StatusUnprocessableEntity, "tool_name"},
		{"constraint that is not PEP 440", changed("version_constraint", "=>1.0"), http.StatusUnprocessableEntity, "version_constraint"},
		{"audio filler with an unknown tag", changed("audio_fillers", []any{"<speak>hi</speak>"}), http.StatusUnprocessableEntity, "audio_fillers"},
		{"prosody rate out of range", changed("audio_fillers", []any{`<prosody rate="3">hi</prosody>`}), http.StatusUnprocessableEntity, "audio_fillers"},
		{"six audio fillers", changed("audio_fillers", []any{"a", "b", "c", "d", "e", "f"}), http.StatusUnprocessableEntity, "audio_fillers"},
		{"filler delay of 0", changed("audio_filler_triggered_after", 0), http.StatusUnprocessableEntity, "audio_filler_triggered_after"},
		{"filler delay of 10", changed("audio_filler_triggered_after", 10), http.StatusCreated, ""},
		{"unknown tool", behaviorSpec(store.NewID(), ">=1"), http.StatusBadRequest, "does not exist"},
		{"deprecated tool", behaviorSpec(old, ">=1"), http.StatusBadRequest, "deprecated"},
		{"constraint no version matches", behaviorSpec(echo, ">=2.0.0"), http.StatusBadRequest, ">=2.0.0"},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before, _ := admin.behaviorSets("")
			name := fmt.Sprintf("Case %d", i)
			status, body := admin.do("POST", "/dynamic_behavior_set/", behaviorSetBody(name, []string{"x"}, behaviorTools(tc.spec)))
			mustStatus(t, "create", status, tc.want, body)
			if tc.in != "" && !strings.Contains(errorText(body), tc.in) {
				t.Errorf("error %q does not mention %q", errorText(body), tc.in)
			}
			after, _ := admin.behaviorSets("")
			if wantN := len(before) + map[bool]int{true: 1}[tc.want == http.StatusCreated]; len(after) != wantN {
				t.Errorf("%d sets after, want %d", len(after), wantN)
			}
			// A new version is checked the same way.
			status, body = admin.do("POST", "/dynamic_behavior_set/"+id+"/version/", behaviorVersionBody([]string{"x"}, behaviorTools(tc.spec)))
			if tc.want == http.StatusCreated {
				mustStatus(t, "version", status, http.StatusCreated, body)
			} else {
				mustStatus(t, "version", status, tc.want, body)
			}
		})
	}
	// Only the accepted case added a version.
	if got := behaviorField(admin.behaviorVersions(id, ""), "version"); got != "1,2" {
		t.Errorf("versions: %s", got)
	}
	// Every unresolved spec is named at once, where it is in the body.
	status, body = admin.do("POST", "/dynamic_behavior_set/", behaviorSetBody("Many", []string{"x"},
		behaviorInject("first"), behaviorTools(spec, behaviorSpec(old, ">=1"), behaviorSpec(echo, ">=3"))))
	mustStatus(t, "two bad specs", status, http.StatusBadRequest, body)
	if msg := detail(body); !strings.Contains(msg, "actions[1].tool_call_specs[1]") || !strings.Contains(msg, "actions[1].tool_call_specs[2]") {
		t.Errorf("error does not locate both specs: %s", msg)
	}
}

func TestBehaviorSetListing(t *testing.T) {
	t.Parallel()
	srv, admin := newTestServer(t)
	billing := behaviorService(t, srv, srv.Organization, srv.UserID, "billing")
	support := behaviorService(t, srv, srv.Organization, srv.UserID, "support")
	editorID := admin.newUser("editor@example.com", "DefaultSuperAdministratorRole")
	editor := admin.keyFor(editorID, "DefaultSuperAdministratorRole")

	newSet := func(c *client, name string, active bool, services []any, tags map[string]any) string {
		b := behaviorSetBody(name, []string{"when " + name}, behaviorInject(name))
		b["applied_to_services"], b["tags"] = services, tags
		b["initial_version"].(map[string]any)["is_active"] = active
		return c.behaviorCreate(b)
	}
	a := newSet(admin, "A", true, []any{billing}, map[string]any{"team": "billing", "flag": nil})
	b := newSet(admin, "B", false, []any{support}, map[string]any{"team": "support"})
	c := newSet(editor, "C", true, []any{billing, support}, map[string]any{})
	names := map[string]string{a: "A", b: "B", c: "C"}
	ids := func(sets []map[string]any) string {
		var out []string
		for _, s := range sets {
			out = append(out, names[s["id"].(string)])
		}
		return strings.Join(out, ",")
	}
	// B was updated last, then A.
	time.Sleep(2 * time.Millisecond)
	status, body := admin.do("POST", "/dynamic_behavior_set/"+a+"/", map[string]any{"is_active": true})
	mustStatus(t, "touch A", status, http.StatusNoContent, body)
	time.Sleep(2 * time.Millisecond)
	status, body = admin.do("POST", "/dynamic_behavior_set/"+b+"/", map[string]any{"is_active": false})
	mustStatus(t, "touch B", status, http.StatusNoContent, body)

	tests := []struct{ query, want string }{
		{"", "A,B,C"},
		{"?id=" + c + "&id=" + a, "A,C"},
		{"?is_active=true", "A,C"},
		{"?is_active=false", "B"},
		{"?applied_to_service=" + support, "B,C"},
		{"?applied_to_service=" + support + "&applied_to_service=" + billing, "A,B,C"},
		{"?creator=" + editorID, "C"},
		{"?creator=" + srv.Organization + "," + srv.UserID, "A,B"},
		{"?creator=beta," + srv.UserID, ""},
		{"?tag=team:billing", "A"},
		{"?tag=team:*", "A,B"},
		{"?tag=flag:", "A"},
		{"?tag=team:", ""},
		{"?tag=team:*&tag=flag:*", "A"},
		{"?sort_by=-updated_at", "B,A,C"},
		{"?sort_by=updated_at", "C,A,B"},
		{"?limit=2", "A,B"},
		{"?limit=2&continuation_token=2", "C"},
		{"?limit=0", ""},
	}
	for _, tc := range tests {
		t.Run(tc.query, func(t *testing.T) {
			sets, _ := admin.behaviorSets(tc.query)
			if got := ids(sets); got != tc.want {
				t.Errorf("got %s, want %s", got, tc.want)
			}
		})
	}
	for _, q := range []string{"?sort_by=name", "?limit=51", "?tag=nocolon", "?id=xyz", "?creator=,u", "?is_active=maybe"} {
		if status, body := admin.do("GET", "/dynamic_behavior_set/"+q, nil); status != http.StatusUnprocessableEntity {
			t.Errorf("%s: %d %v, want 422", q, status, body)
		}
	}

	// filter_values describe the matching sets, on the first page only.
	_, page := admin.behaviorSets("?limit=1")
	fv := page["filter_values"].(map[string]any)
	wantServices := []string{billing, support}
	if billing > support {
		wantServices = []string{support, billing}
	}
	if fmt.Sprint(fv["applied_to_services_ids"]) != fmt.Sprint(wantServices) || fmt.Sprint(fv["tags"]) != "[flag team]" ||
		len(fv["creators"].([]any)) != 2 || page["has_more"] != true || page["continuation_token"] != float64(1) {
		t.Errorf("first page: %v", page)
	}
	_, page = admin.behaviorSets("?tag=team:support")
	if fv := page["filter_values"].(map[string]any); fmt.Sprint(fv["tags"]) != "[team]" || len(fv["creators"].([]any)) != 1 {
		t.Errorf("filtered filter_values: %v", fv)
	}
	if _, page = admin.behaviorSets("?limit=1&continuation_token=1"); page["filter_values"] != nil {
		t.Errorf("second page has filter_values: %v", page)
	}

	// GetDynamicBehaviorInstruction decides which sets a caller sees, and
	// pages are cut from what it sees.
	admin.newRole("SeesAC", grant("DynamicBehaviorInstruction:GetDynamicBehaviorInstruction",
		map[string]any{"name": map[string]any{"type": "In", "values": []any{"A", "C"}}}))
	viewer := admin.keyFor(admin.newUser("viewer@example.com", "SeesAC"), "SeesAC")
	if sets, _ := viewer.behaviorSets(""); ids(sets) != "A,C" {
		t.Errorf("viewer sees %s", ids(sets))
	}
	if sets, _ := viewer.behaviorSets("?limit=1&continuation_token=1"); ids(sets) != "C" {
		t.Errorf("viewer's second page: %s", ids(sets))
	}
	if status, body := viewer.do("GET", "/dynamic_behavior_set/"+b+"/version/", nil); status != http.StatusForbidden {
		t.Errorf("viewer reads B's versions: %d %v", status, body)
	}
	if got := behaviorField(viewer.behaviorVersions(a, ""), "version"); got != "1" {
		t.Errorf("viewer reads A's versions: %s", got)
	}
	// The rest needs permissions the role lacks.
	for _, call := range []struct {
		method, path string
		body         any
	}{
		{"POST", "/dynamic_behavior_set/", behaviorSetBody("D", []string{"x"})},
		{"POST", "/dynamic_behavior_set/" + a + "/", map[string]any{"name": "Renamed"}},
		{"POST", "/dynamic_behavior_set/" + a + "/version/", behaviorVersionBody([]string{"x"})},
		{"DELETE", "/dynamic_behavior_set/" + a + "/", nil},
	} {
		if status, body := viewer.do(call.method, call.path, call.body); status != http.StatusForbidden {
			t.Errorf("viewer %s %s: %d %v, want 403", call.method, call.path, status, body)
		}
	}
	plain := admin.keyFor(admin.newUser("plain@example.com", "DefaultUserRole"), "DefaultUserRole")
	if sets, _ := plain.behaviorSets(""); len(sets) != 0 {
		t.Errorf("a user without the permission sees %s", ids(sets))
	}

	// A grant conditioned on the name: a missing set is 404, another set 403.
	admin.newRole("EditsA",
		grant("DynamicBehaviorInstruction:UpdateDynamicBehaviorInstruction", map[string]any{"name": equals("A")}),
		grant("DynamicBehaviorInstruction:DeleteDynamicBehaviorInstruction", map[string]any{"name": equals("A")}),
		grant("DynamicBehaviorInstruction:CreateDynamicBehaviorInstruction", map[string]any{"name": equals("A")}))
	editsA := admin.keyFor(admin.newUser("editsa@example.com", "EditsA"), "EditsA")
	missing := store.NewID()
	for _, tc := range []struct {
		method, path string
		body         any
		want         int
	}{
		{"DELETE", "/dynamic_behavior_set/" + missing + "/", nil, http.StatusNotFound},
		{"POST", "/dynamic_behavior_set/" + missing + "/", map[string]any{"is_active": true}, http.StatusNotFound},
		{"DELETE", "/dynamic_behavior_set/" + b + "/", nil, http.StatusForbidden},
		{"POST", "/dynamic_behavior_set/" + b + "/", map[string]any{"name": "B2"}, http.StatusForbidden},
		{"POST", "/dynamic_behavior_set/" + b + "/version/", behaviorVersionBody([]string{"x"}), http.StatusForbidden},
		// Renaming A away from the names the grant covers is refused too.
		{"POST", "/dynamic_behavior_set/" + a + "/", map[string]any{"name": "Z"}, http.StatusForbidden},
		{"POST", "/dynamic_behavior_set/" + a + "/", map[string]any{"tags": map[string]any{"ok": "yes"}}, http.StatusNoContent},
		{"POST", "/dynamic_behavior_set/" + a + "/version/", behaviorVersionBody([]string{"y"}), http.StatusCreated},
		// Creating needs both permissions on the new set.
		{"POST", "/dynamic_behavior_set/", behaviorSetBody("E", []string{"x"}), http.StatusForbidden},
	} {
		if status, body := editsA.do(tc.method, tc.path, tc.body); status != tc.want {
			t.Errorf("editsA %s %s: %d %v, want %d", tc.method, tc.path, status, body, tc.want)
		}
	}
	sets, _ := admin.behaviorSets("")
	if ids(sets) != "A,B,C" || sets[1]["name"] != "B" || sets[0]["name"] != "A" {
		t.Errorf("after refused changes: %v", sets)
	}
	if got := behaviorField(admin.behaviorVersions(b, ""), "version"); got != "1" {
		t.Errorf("B's versions: %s", got)
	}

	// Another organization sees none of it.
	beta, _ := betaOrg(t, srv, admin)
	if sets, _ := beta.behaviorSets(""); len(sets) != 0 {
		t.Errorf("beta sees %s", ids(sets))
	}
	for _, call := range []struct {
		method, path string
		body         any
	}{
		{"GET", "/dynamic_behavior_set/" + a + "/version/", nil},
		{"GET", "/dynamic_behavior_set/" + a + "/invocation/", nil},
		{"POST", "/dynamic_behavior_set/" + a + "/version/", behaviorVersionBody([]string{"x"})},
		{"POST", "/dynamic_behavior_set/" + a + "/", map[string]any{"name": "Stolen"}},
		{"DELETE", "/dynamic_behavior_set/" + a + "/", nil},
	} {
		if status, body := beta.do(call.method, call.path, call.body); status != http.StatusNotFound {
			t.Errorf("beta %s %s: %d %v, want 404", call.method, call.path, status, body)
		}
	}
	if status, body := beta.do("POST", "/dynamic_behavior_set/", map[string]any{
		"name": "Beta", "tags": map[string]any{}, "applied_to_services": []any{billing},
		"initial_version": map[string]any{"is_active": true, "conversation_triggers": []any{"x"}, "actions": []any{}},
	}); status != http.StatusNotFound {
		t.Errorf("beta applies a set to alpha's service: %d %v", status, body)
	}
	if sets, _ := admin.behaviorSets("?id=" + a); len(sets) != 1 || sets[0]["name"] != "A" {
		t.Errorf("A after beta's attempts: %v", sets)
	}
}

func TestBehaviorSearch(t *testing.T) {
	t.Parallel()
	_, admin := newTestServer(t)
	refunds := admin.behaviorCreate(behaviorSetBody("Refund policy", []string{"The customer asks for their money back"}))
	shipping := admin.behaviorCreate(behaviorSetBody("Shipping", []string{"Where is my parcel", "Delivery is late"}))
	inactive := behaviorSetBody("Late refunds", []string{"A refund arrives late"})
	inactive["initial_version"].(map[string]any)["is_active"] = false
	inactive["tags"] = map[string]any{"team": "billing"}
	late := admin.behaviorCreate(inactive)
	names := map[string]string{refunds: "refunds", shipping: "shipping", late: "late"}
	// search lists the names found, best match first.
	search := func(c *client, query string) string {
		t.Helper()
		status, body := c.do("GET", "/dynamic_behavior_set/search?"+query, nil)
		mustStatus(t, "search "+query, status, http.StatusOK, body)
		var out []string
		for _, s := range behaviorItems(body, "dynamic_behavior_sets") {
			out = append(out, names[s["id"].(string)])
		}
		return strings.Join(out, ",")
	}
	// found lists them in name order, where the ranking is not the point.
	found := func(c *client, query string) string {
		t.Helper()
		got := strings.Split(search(c, query), ",")
		slices.Sort(got)
		return strings.Join(got, ",")
	}
	tests := []struct{ query, want string }{
		{"query=parcel", "shipping"},
		{"query=money+back", "refunds"},
		{"query=refund", "late,refunds"},
		{"query=REFUNDS", "late,refunds"},
		{"query=late+refund", "late"},
		{"query=late&is_active=true", "shipping"},
		{"query=late&tag=team:billing", "late"},
		{"query=refund&applied_to_service=" + store.NewID(), ""},
		{"query=nothing+like+this", ""},
		{`query="parcel"+OR+x*`, ""},
	}
	for _, tc := range tests {
		if got := found(admin, tc.query); got != tc.want {
			t.Errorf("%s: got %s, want %s", tc.query, got, tc.want)
		}
	}
	// "late" is in the name and a trigger of one set, a trigger of another.
	if got := search(admin, "query=late"); got != "late,shipping" {
		t.Errorf("late, by relevance: %s", got)
	}

	// Only the latest version's triggers are searched, and renames count.
	status, body := admin.do("POST", "/dynamic_behavior_set/"+shipping+"/version/", behaviorVersionBody([]string{"Tracking number requested"}))
	mustStatus(t, "new version", status, http.StatusCreated, body)
	if got := search(admin, "query=parcel"); got != "" {
		t.Errorf("an old version's trigger still matches: %s", got)
	}
	if got := search(admin, "query=tracking"); got != "shipping" {
		t.Errorf("the new trigger does not match: %s", got)
	}
	status, body = admin.do("POST", "/dynamic_behavior_set/"+shipping+"/", map[string]any{"name": "Logistics"})
	mustStatus(t, "rename", status, http.StatusNoContent, body)
	if got := search(admin, "query=logistics"); got != "shipping" {
		t.Errorf("new name: %s", got)
	}
	status, body = admin.do("DELETE", "/dynamic_behavior_set/"+refunds+"/", nil)
	mustStatus(t, "delete", status, http.StatusOK, body)
	if got := search(admin, "query=refund"); got != "late" {
		t.Errorf("after delete: %s", got)
	}

	for _, q := range []string{"", "query=", "query=+++", "query=x&is_active=perhaps"} {
		if status, body := admin.do("GET", "/dynamic_behavior_set/search?"+q, nil); status != http.StatusUnprocessableEntity {
			t.Errorf("search %q: %d %v, want 422", q, status, body)
		}
	}

	// Visibility applies, and at most 50 sets come back.
	admin.newRole("SeesLate", grant("DynamicBehaviorInstruction:GetDynamicBehaviorInstruction", map[string]any{"name": equals("Late refunds")}))
	viewer := admin.keyFor(admin.newUser("viewer@example.com", "SeesLate"), "SeesLate")
	if got := search(viewer, "query=late"); got != "late" {
		t.Errorf("viewer: %s", got)
	}
	for i := range 52 {
		admin.behaviorCreate(behaviorSetBody(fmt.Sprintf("Bulk %d", i), []string{"bulk trigger"}))
	}
	status, body = admin.do("GET", "/dynamic_behavior_set/search?query=bulk", nil)
	mustStatus(t, "bulk", status, http.StatusOK, body)
	if n := len(body["dynamic_behavior_sets"].([]any)); n != 50 {
		t.Errorf("bulk search returned %d sets, want 50", n)
	}
}

func TestBehaviorInvocations(t *testing.T) {
	t.Parallel()
	clock := newTestClock()
	srv, admin := newTestServer(t, clock.option())
	ctx := context.Background()
	id := admin.behaviorCreate(behaviorSetBody("Refunds", []string{"refund"}))
	otherSet := admin.behaviorCreate(behaviorSetBody("Other", []string{"other"}))
	status, body := admin.do("POST", "/dynamic_behavior_set/"+id+"/version/", behaviorVersionBody([]string{"refund 2"}))
	mustStatus(t, "version 2", status, http.StatusCreated, body)
	ann := admin.newUser("ann@example.com", "DefaultUserRole")
	bob := admin.newUser("bob@example.com", "DefaultUserRole")

	record := func(setID string, version int, user, conversation string, at time.Duration) string {
		t.Helper()
		agentMsg := "agent-" + conversation
		inv, err := srv.Store().RecordDynamicBehaviorInvocation(ctx, store.DynamicBehaviorInvocation{
			OrgID: srv.Organization, ConversationID: conversation, ServiceID: "svc", UserID: user, SetID: setID,
			SetVersion: version, InitialMessageID: "msg-" + conversation, AgentMessageID: &agentMsg,
			AgentInnerThoughtsIDs: []string{"thought-1"}, InvokedAt: clock.now().Add(at),
		})
		if err != nil {
			t.Fatal(err)
		}
		return inv.ID
	}
	i1 := record(id, 1, ann, "c1", time.Second)
	i2 := record(id, 2, bob, "c2", 2*time.Second)
	i3 := record(id, 2, ann, "c3", 3*time.Second)
	record(otherSet, 1, ann, "c4", 4*time.Second)
	names := map[string]string{i1: "i1", i2: "i2", i3: "i3"}

	// The engine cannot record an invocation of a version that does not
	// exist, nor of another organization's set.
	for _, inv := range []store.DynamicBehaviorInvocation{
		{OrgID: srv.Organization, ConversationID: "c", ServiceID: "s", UserID: ann, SetID: id, SetVersion: 3, InitialMessageID: "m"},
		{OrgID: srv.Organization, ConversationID: "c", ServiceID: "s", UserID: ann, SetID: store.NewID(), SetVersion: 1, InitialMessageID: "m"},
	} {
		if _, err := srv.Store().RecordDynamicBehaviorInvocation(ctx, inv); err == nil {
			t.Errorf("recorded an invocation of %s version %d", inv.SetID, inv.SetVersion)
		}
	}

	list := func(c *client, query string) (string, map[string]any) {
		t.Helper()
		status, body := c.do("GET", "/dynamic_behavior_set/"+id+"/invocation/"+query, nil)
		mustStatus(t, "invocations "+query, status, http.StatusOK, body)
		var out []string
		for _, inv := range behaviorItems(body, "dynamic_behavior_invocations") {
			out = append(out, names[inv["_id"].(string)])
		}
		return strings.Join(out, ","), body
	}
	tests := []struct{ query, want string }{
		{"", "i3,i2,i1"},
		{"?sort_by=%2Binvoked_at", "i1,i2,i3"},
		{"?sort_by=-invoked_at", "i3,i2,i1"},
		{"?limit=2", "i3,i2"},
		{"?limit=2&continuation_token=2", "i1"},
	}
	for _, tc := range tests {
		if got, _ := list(admin, tc.query); got != tc.want {
			t.Errorf("%q: got %s, want %s", tc.query, got, tc.want)
		}
	}
	_, body = list(admin, "?limit=2")
	if body["has_more"] != true || body["continuation_token"] != float64(2) {
		t.Errorf("first page: %v", body)
	}
	_, body = list(admin, "?sort_by=%2Binvoked_at&limit=1")
	inv := behaviorItems(body, "dynamic_behavior_invocations")[0]
	if inv["org_id"] != srv.Organization || inv["conversation_id"] != "c1" || inv["service_id"] != "svc" || inv["user_id"] != ann ||
		inv["initial_message_id"] != "msg-c1" || inv["agent_message_id"] != "agent-c1" ||
		fmt.Sprint(inv["agent_inner_thoughts_ids"]) != "[thought-1]" || fmt.Sprint(inv["external_event_message_ids"]) != "[]" ||
		fmt.Sprint(inv["dynamic_behavior_set_version_info"]) != fmt.Sprintf("[%s 1]", id) ||
		inv["invoked_at"] != clock.now().Add(time.Second).UTC().Format("2006-01-02T15:04:05.000000Z") {
		t.Errorf("invocation: %v", inv)
	}
	for _, q := range []string{"?sort_by=created_at", "?limit=31", "?limit=0"} {
		if status, body := admin.do("GET", "/dynamic_behavior_set/"+id+"/invocation/"+q, nil); status != http.StatusUnprocessableEntity {
			t.Errorf("%s: %d %v, want 422", q, status, body)
		}
	}

	// Conversation:GetMessage decides which invocations a caller sees.
	getSets := grant("DynamicBehaviorInstruction:GetDynamicBehaviorInstruction", nil)
	admin.newRole("AnnsMessages", getSets, grant("Conversation:GetMessage", map[string]any{"user_id": equals(ann)}))
	annsReader := admin.keyFor(admin.newUser("reader@example.com", "AnnsMessages"), "AnnsMessages")
	if got, _ := list(annsReader, ""); got != "i3,i1" {
		t.Errorf("reader of ann's messages sees %s", got)
	}
	if got, body := list(annsReader, "?limit=1&continuation_token=1"); got != "i1" || body["has_more"] != false {
		t.Errorf("reader's second page: %s %v", got, body)
	}
	admin.newRole("SetsOnly", getSets)
	setsOnly := admin.keyFor(admin.newUser("sets@example.com", "SetsOnly"), "SetsOnly")
	if got, _ := list(setsOnly, ""); got != "" {
		t.Errorf("a caller without Conversation:GetMessage sees %s", got)
	}
	admin.newRole("MessagesOnly", grant("Conversation:GetMessage", nil))
	messagesOnly := admin.keyFor(admin.newUser("msgs@example.com", "MessagesOnly"), "MessagesOnly")
	if status, body := messagesOnly.do("GET", "/dynamic_behavior_set/"+id+"/invocation/", nil); status != http.StatusForbidden {
		t.Errorf("a caller who may not get the set: %d %v", status, body)
	}

	// Deleting the set deletes the record of its invocations.
	status, body = admin.do("DELETE", "/dynamic_behavior_set/"+id+"/", nil)
	mustStatus(t, "delete", status, http.StatusOK, body)
	invs, _, err := srv.Store().ListDynamicBehaviorInvocations(ctx, srv.Organization, id, store.DynamicBehaviorInvocationFilter{Limit: -1})
	if err != nil || len(invs) != 0 {
		t.Errorf("invocations left after delete: %v %v", invs, err)
	}
	if invs, _, _ := srv.Store().ListDynamicBehaviorInvocations(ctx, srv.Organization, otherSet, store.DynamicBehaviorInvocationFilter{Limit: -1}); len(invs) != 1 {
		t.Errorf("another set's invocations: %v", invs)
	}
}
