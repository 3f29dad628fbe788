package httpapi_test

import (
	"fmt"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/compadre-dev/compadre/store"
)

// simRecKind names one of the two versioned simulation building blocks as the
// API spells its paths and fields, so one helper serves both.
type simRecKind struct {
	path     string // under /v1/{org}, with its trailing slash
	list     string // the field holding records in a listing or a search
	versions string // the field holding versions in a version listing
	idField  string // the field naming the record in create's answer and in a version
}

var (
	simRecPersonas = simRecKind{path: "/simulation/persona/", list: "simulation_personas",
		versions: "simulation_persona_versions", idField: "simulation_persona_id"}
	simRecScenarios = simRecKind{path: "/simulation/scenario/", list: "simulation_scenarios",
		versions: "simulation_scenario_versions", idField: "simulation_scenario_id"}
)

// simRecTime is how the API writes a time, for comparing with the test
// clock.
func simRecTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000000Z07:00") }

// simRecPersonaVersion is a persona version body with only what is required.
func simRecPersonaVersion(background string) map[string]any {
	return map[string]any{"background": background, "user_models": []any{},
		"nonsensitive_user_variables": map[string]any{}, "sensitive_user_variables": map[string]any{}}
}

// simRecPersonaBody is a create-simulation-persona body without tags.
func simRecPersonaBody(name, role, background string) map[string]any {
	return map[string]any{"name": name, "role": role, "tags": map[string]any{},
		"initial_version": simRecPersonaVersion(background)}
}

// simRecScenarioVersion is a scenario version body that starts when it runs.
func simRecScenarioVersion(objective string) map[string]any {
	return map[string]any{"objective": objective, "instructions": "Insist politely.",
		"initial_message_type": "user-message", "conversation_starts_at": nil}
}

// simRecScenarioBody is a create-simulation-scenario body without tags.
func simRecScenarioBody(name, objective string) map[string]any {
	return map[string]any{"name": name, "tags": map[string]any{}, "initial_version": simRecScenarioVersion(objective)}
}

// simRecCreate creates a record of kind k and returns its ID.
func (c *client) simRecCreate(k simRecKind, body map[string]any) string {
	c.t.Helper()
	status, resp := c.do("POST", k.path, body)
	mustStatus(c.t, "create "+k.path, status, http.StatusCreated, resp)
	id, _ := resp[k.idField].(string)
	if len(resp) != 1 || !store.IsID(id) {
		c.t.Fatalf("create %s answer: %v", k.path, resp)
	}
	return id
}

// simRecList lists the records of kind k with query and returns them with the
// whole answer.
func (c *client) simRecList(k simRecKind, query string) ([]map[string]any, map[string]any) {
	c.t.Helper()
	status, body := c.do("GET", k.path+query, nil)
	mustStatus(c.t, "list "+k.path+query, status, http.StatusOK, body)
	return behaviorItems(body, k.list), body
}

// simRecGet returns the one record with id, deleted or not.
func (c *client) simRecGet(k simRecKind, id string) map[string]any {
	c.t.Helper()
	recs, _ := c.simRecList(k, "?id="+id)
	if len(recs) != 1 {
		c.t.Fatalf("record %s: %v", id, recs)
	}
	return recs[0]
}

func (c *client) simRecVersions(k simRecKind, id, query string) ([]map[string]any, map[string]any) {
	c.t.Helper()
	status, body := c.do("GET", k.path+id+"/version/"+query, nil)
	mustStatus(c.t, "versions "+query, status, http.StatusOK, body)
	return behaviorItems(body, k.versions), body
}

// simRecSearch searches records of kind k and checks the answer is a list,
// never null, even when empty.
func (c *client) simRecSearch(k simRecKind, query string) []map[string]any {
	c.t.Helper()
	status, body := c.do("GET", k.path+"search"+query, nil)
	mustStatus(c.t, "search "+query, status, http.StatusOK, body)
	if _, ok := body[k.list].([]any); !ok || len(body) != 1 {
		c.t.Fatalf("search %s answer: %v", query, body)
	}
	return behaviorItems(body, k.list)
}

// simRecNamed lists the names ids gives the records' IDs, in the records'
// order; sorted, when the order is not the point.
func simRecNamed(names map[string]string, recs []map[string]any, sorted bool) string {
	out := []string{}
	for _, r := range recs {
		n, ok := names[r["id"].(string)]
		if !ok {
			n = "?" + r["id"].(string)
		}
		out = append(out, n)
	}
	if sorted {
		slices.Sort(out)
	}
	return strings.Join(out, ",")
}

// simRecUser makes a user with role and returns its ID and a client signed in
// as it with a key of the same role.
func simRecUser(admin *client, email, role string) (string, *client) {
	admin.t.Helper()
	id := admin.newUser(email, role)
	return id, admin.keyFor(id, role)
}

func simRecActor(org, user string) map[string]any {
	return map[string]any{"org_id": org, "user_id": user}
}

func TestSimulationPersonaLifecycle(t *testing.T) {
	t.Parallel()
	clock := newTestClock()
	srv, admin := newTestServer(t, clock.option())
	me := simRecActor(srv.Organization, srv.UserID)

	body := simRecPersonaBody(" Alice ", " customer ", "  A retired teacher who wants a refund.  ")
	body["tags"] = map[string]any{" team ": " billing ", "draft": nil}
	v1 := body["initial_version"].(map[string]any)
	v1["preferred_language"] = "fra"
	v1["timezone"] = "Europe/Paris"
	v1["user_models"] = []any{"  Prefers email.  ", "Has two children."}
	v1["nonsensitive_user_variables"] = map[string]any{"plan": "gold"}
	v1["sensitive_user_variables"] = map[string]any{"card_number": "4111 1111 1111 1111"}
	id := admin.simRecCreate(simRecPersonas, body)
	created := simRecTime(clock.now())

	// The record carries every field, names, role and tags stripped.
	recs, page := admin.simRecList(simRecPersonas, "")
	if len(recs) != 1 || page["has_more"] != false || page["continuation_token"] != nil {
		t.Fatalf("personas: %v", page)
	}
	want := map[string]any{
		"id": id, "name": "Alice", "role": "customer", "tags": map[string]any{"team": "billing", "draft": nil},
		"is_deleted": false, "creator": me, "updated_by": me, "created_at": created, "updated_at": created,
	}
	if !reflect.DeepEqual(recs[0], want) {
		t.Errorf("persona:\n got %v\nwant %v", recs[0], want)
	}

	// Version 1 holds the content as given, stripped, sensitive variables
	// in clear.
	vs, _ := admin.simRecVersions(simRecPersonas, id, "")
	if len(vs) != 1 {
		t.Fatalf("versions: %v", vs)
	}
	versionID, _ := vs[0]["_id"].(string)
	wantV := map[string]any{
		"_id": versionID, "org_id": srv.Organization, "simulation_persona_id": id, "version": float64(1),
		"background": "A retired teacher who wants a refund.", "preferred_language": "fra", "timezone": "Europe/Paris",
		"user_models":                 []any{"Prefers email.", "Has two children."},
		"nonsensitive_user_variables": map[string]any{"plan": "gold"},
		"sensitive_user_variables":    map[string]any{"card_number": "4111 1111 1111 1111"},
		"creator":                     me, "created_at": created,
	}
	if !store.IsID(versionID) || versionID == id || !reflect.DeepEqual(vs[0], wantV) {
		t.Errorf("version 1:\n got %v\nwant %v", vs[0], wantV)
	}

	// A wrong expected number stores nothing and leaves the record as it was.
	clock.advance(time.Minute)
	v2 := simRecPersonaVersion(" A retired nurse. ")
	status, resp := admin.do("POST", simRecPersonas.path+id+"/version/?version=3", v2)
	mustStatus(t, "version 3 when 2 is next", status, http.StatusBadRequest, resp)
	if vs, _ := admin.simRecVersions(simRecPersonas, id, ""); behaviorField(vs, "version") != "1" {
		t.Errorf("versions after a refused version: %s", behaviorField(vs, "version"))
	}
	if r := admin.simRecGet(simRecPersonas, id); r["updated_at"] != created {
		t.Errorf("a refused version moved updated_at: %v", r)
	}
	// create makes version 1, so 1 is never a valid expectation.
	status, resp = admin.do("POST", simRecPersonas.path+id+"/version/?version=1", v2)
	mustStatus(t, "version 1", status, http.StatusUnprocessableEntity, resp)

	status, resp = admin.do("POST", simRecPersonas.path+id+"/version/?version=2", v2)
	mustStatus(t, "version 2", status, http.StatusCreated, resp)
	if !reflect.DeepEqual(resp, map[string]any{"version": float64(2)}) {
		t.Errorf("version 2 answer: %v", resp)
	}
	clock.advance(time.Minute)
	status, resp = admin.do("POST", simRecPersonas.path+id+"/version/", simRecPersonaVersion("A retired pilot."))
	mustStatus(t, "version 3", status, http.StatusCreated, resp)
	if !reflect.DeepEqual(resp, map[string]any{"version": float64(3)}) {
		t.Errorf("version 3 answer: %v", resp)
	}
	// A new version touches the record but not its name, role or tags.
	r := admin.simRecGet(simRecPersonas, id)
	if r["updated_at"] != simRecTime(clock.now()) || r["created_at"] != created || r["name"] != "Alice" ||
		r["role"] != "customer" || !reflect.DeepEqual(r["tags"], want["tags"]) {
		t.Errorf("after versions: %v", r)
	}

	vs, _ = admin.simRecVersions(simRecPersonas, id, "?version=2")
	if len(vs) != 1 || vs[0]["background"] != "A retired nurse." || vs[0]["preferred_language"] != nil ||
		vs[0]["timezone"] != nil || fmt.Sprint(vs[0]["user_models"]) != "[]" ||
		fmt.Sprint(vs[0]["sensitive_user_variables"]) != "map[]" {
		t.Errorf("version 2: %v", vs)
	}
	for _, tc := range []struct{ query, want string }{
		{"", "1,2,3"},
		{"?version=latest", "3"},
		{"?version=1-2", "1,2"},
		{"?version=2-latest", "2,3"},
		{"?version=1", "1"},
		{"?version=7", ""},
		{"?sort_by=-version", "3,2,1"},
		{"?sort_by=%2Bversion", "1,2,3"},
		{"?limit=10", "1,2,3"},
		{"?limit=1&sort_by=-version", "3"},
		{"?limit=2", "1,2"},
		{"?limit=2&continuation_token=2", "3"},
		{"?continuation_token=3", ""},
	} {
		vs, body := admin.simRecVersions(simRecPersonas, id, tc.query)
		if got := behaviorField(vs, "version"); got != tc.want {
			t.Errorf("versions %s: got %q, want %q", tc.query, got, tc.want)
		}
		if _, ok := body[simRecPersonas.versions].([]any); !ok {
			t.Errorf("versions %s: not a list: %v", tc.query, body)
		}
	}
	// Paging says where the next page starts, and that none follows the last.
	if _, body := admin.simRecVersions(simRecPersonas, id, "?limit=2"); body["has_more"] != true || body["continuation_token"] != float64(2) {
		t.Errorf("first page of versions: %v", body)
	}
	if _, body := admin.simRecVersions(simRecPersonas, id, "?limit=2&continuation_token=2"); body["has_more"] != false || body["continuation_token"] != nil {
		t.Errorf("last page of versions: %v", body)
	}
	for _, q := range []string{"?version=2-1", "?version=abc", "?limit=0", "?limit=11", "?sort_by=updated_at", "?continuation_token=-1"} {
		if status, body := admin.do("GET", simRecPersonas.path+id+"/version/"+q, nil); status != http.StatusUnprocessableEntity {
			t.Errorf("versions %s: %d %v, want 422", q, status, body)
		}
	}

	missing := store.NewID()
	for _, call := range []struct {
		method, path string
		body         any
	}{
		{"GET", simRecPersonas.path + missing + "/version/", nil},
		{"POST", simRecPersonas.path + missing + "/version/", simRecPersonaVersion("x")},
		{"POST", simRecPersonas.path + missing + "/version/?version=2", simRecPersonaVersion("x")},
		{"POST", simRecPersonas.path + missing + "/", map[string]any{}},
		{"DELETE", simRecPersonas.path + missing + "/", nil},
	} {
		if status, body := admin.do(call.method, call.path, call.body); status != http.StatusNotFound {
			t.Errorf("%s %s of a missing persona: %d %v, want 404", call.method, call.path, status, body)
		}
	}
	if status, body := admin.do("GET", simRecPersonas.path+"not-an-id/version/", nil); status != http.StatusUnprocessableEntity {
		t.Errorf("malformed persona ID: %d %v, want 422", status, body)
	}
}

// TestSimulationPersonaNotSetFields checks that a language and a time zone
// left to the organization read back as null however the request leaves
// them, and that empty lists and maps read back empty rather than null.
func TestSimulationPersonaNotSetFields(t *testing.T) {
	t.Parallel()
	_, admin := newTestServer(t)
	for _, tc := range []struct {
		name  string
		value any // nil: the fields are absent
		set   bool
	}{
		{"absent", nil, false},
		{"empty object", map[string]any{}, true},
		{"null", nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := simRecPersonaBody("Persona "+tc.name, "customer", "Background.")
			if tc.set {
				v := b["initial_version"].(map[string]any)
				v["preferred_language"], v["timezone"] = tc.value, tc.value
			}
			id := admin.simRecCreate(simRecPersonas, b)
			vs, _ := admin.simRecVersions(simRecPersonas, id, "")
			if len(vs) != 1 {
				t.Fatalf("versions: %v", vs)
			}
			v := vs[0]
			for _, f := range []string{"preferred_language", "timezone"} {
				if got, ok := v[f]; !ok || got != nil {
					t.Errorf("%s: got %#v (present %v), want null", f, got, ok)
				}
			}
			if u, ok := v["user_models"].([]any); !ok || len(u) != 0 {
				t.Errorf("user_models: %#v", v["user_models"])
			}
			for _, f := range []string{"nonsensitive_user_variables", "sensitive_user_variables"} {
				if m, ok := v[f].(map[string]any); !ok || len(m) != 0 {
					t.Errorf("%s: %#v", f, v[f])
				}
			}
		})
	}
}

func TestSimulationPersonaValidation(t *testing.T) {
	t.Parallel()
	_, admin := newTestServer(t)
	manyOf := func(n int, prefix string, value any) map[string]any {
		m := map[string]any{}
		for i := range n {
			m[fmt.Sprintf("%s_%d", prefix, i)] = value
		}
		return m
	}
	models := func(n int) []any {
		out := make([]any, n)
		for i := range out {
			out[i] = fmt.Sprintf("Fact %d.", i)
		}
		return out
	}
	n := 0
	// with is a valid persona body, named uniquely, that change spoils (or
	// not).
	with := func(change func(b, v map[string]any)) map[string]any {
		n++
		b := simRecPersonaBody(fmt.Sprintf("Persona %d", n), "customer", "Background.")
		change(b, b["initial_version"].(map[string]any))
		return b
	}
	tests := []struct {
		name string
		body map[string]any
		want int
	}{
		{"minimal", with(func(b, v map[string]any) {}), http.StatusCreated},
		{"name of 256 characters", with(func(b, v map[string]any) { b["name"] = strings.Repeat("n", 256) }), http.StatusCreated},
		{"name of 257 characters", with(func(b, v map[string]any) { b["name"] = strings.Repeat("m", 257) }), http.StatusUnprocessableEntity},
		{"empty name", with(func(b, v map[string]any) { b["name"] = "" }), http.StatusUnprocessableEntity},
		{"blank name", with(func(b, v map[string]any) { b["name"] = " \t\n" }), http.StatusUnprocessableEntity},
		{"no name", with(func(b, v map[string]any) { delete(b, "name") }), http.StatusUnprocessableEntity},
		{"blank role", with(func(b, v map[string]any) { b["role"] = "  " }), http.StatusUnprocessableEntity},
		{"no role", with(func(b, v map[string]any) { delete(b, "role") }), http.StatusUnprocessableEntity},
		{"no tags", with(func(b, v map[string]any) { delete(b, "tags") }), http.StatusUnprocessableEntity},
		{"20 tags", with(func(b, v map[string]any) { b["tags"] = manyOf(20, "k", "v") }), http.StatusCreated},
		{"21 tags", with(func(b, v map[string]any) { b["tags"] = manyOf(21, "k", "v") }), http.StatusUnprocessableEntity},
		{"tag key with a dash", with(func(b, v map[string]any) { b["tags"] = map[string]any{"a-b": "v"} }), http.StatusUnprocessableEntity},
		{"blank tag value", with(func(b, v map[string]any) { b["tags"] = map[string]any{"team": "  "} }), http.StatusUnprocessableEntity},
		{"tag keys equal once stripped", with(func(b, v map[string]any) { b["tags"] = map[string]any{"team": "a", " team": "b"} }), http.StatusBadRequest},
		{"no initial version", with(func(b, v map[string]any) { delete(b, "initial_version") }), http.StatusUnprocessableEntity},
		{"blank background", with(func(b, v map[string]any) { v["background"] = "\n \t" }), http.StatusUnprocessableEntity},
		{"no background", with(func(b, v map[string]any) { delete(v, "background") }), http.StatusUnprocessableEntity},
		{"a language", with(func(b, v map[string]any) { v["preferred_language"] = "eng" }), http.StatusCreated},
		{"a two-letter language", with(func(b, v map[string]any) { v["preferred_language"] = "en" }), http.StatusUnprocessableEntity},
		{"an uppercase language", with(func(b, v map[string]any) { v["preferred_language"] = "ENG" }), http.StatusUnprocessableEntity},
		{"a non-empty object as language", with(func(b, v map[string]any) { v["preferred_language"] = map[string]any{"a": 1} }), http.StatusUnprocessableEntity},
		{"a time zone", with(func(b, v map[string]any) { v["timezone"] = "America/New_York" }), http.StatusCreated},
		{"an unknown time zone", with(func(b, v map[string]any) { v["timezone"] = "Mars/Olympus_Mons" }), http.StatusUnprocessableEntity},
		{"no user models", with(func(b, v map[string]any) { delete(v, "user_models") }), http.StatusUnprocessableEntity},
		{"100 user models", with(func(b, v map[string]any) { v["user_models"] = models(100) }), http.StatusCreated},
		{"101 user models", with(func(b, v map[string]any) { v["user_models"] = models(101) }), http.StatusUnprocessableEntity},
		{"blank user model", with(func(b, v map[string]any) { v["user_models"] = []any{"ok", "   "} }), http.StatusUnprocessableEntity},
		{"no nonsensitive variables", with(func(b, v map[string]any) { delete(v, "nonsensitive_user_variables") }), http.StatusUnprocessableEntity},
		{"no sensitive variables", with(func(b, v map[string]any) { delete(v, "sensitive_user_variables") }), http.StatusUnprocessableEntity},
		{"20 variables", with(func(b, v map[string]any) { v["sensitive_user_variables"] = manyOf(20, "var", "x") }), http.StatusCreated},
		{"21 variables", with(func(b, v map[string]any) { v["sensitive_user_variables"] = manyOf(21, "var", "x") }), http.StatusUnprocessableEntity},
		{"variable value of 255 characters", with(func(b, v map[string]any) {
			v["nonsensitive_user_variables"] = map[string]any{"plan": strings.Repeat("x", 255)}
		}), http.StatusCreated},
		{"variable value of 256 characters", with(func(b, v map[string]any) {
			v["nonsensitive_user_variables"] = map[string]any{"plan": strings.Repeat("x", 256)}
		}), http.StatusUnprocessableEntity},
		{"variable value not a string", with(func(b, v map[string]any) { v["nonsensitive_user_variables"] = map[string]any{"plan": 5} }), http.StatusUnprocessableEntity},
		{"uppercase variable name", with(func(b, v map[string]any) { v["nonsensitive_user_variables"] = map[string]any{"Plan": "x"} }), http.StatusUnprocessableEntity},
		{"one-letter variable name", with(func(b, v map[string]any) { v["sensitive_user_variables"] = map[string]any{"p": "x"} }), http.StatusUnprocessableEntity},
		{"two-character variable name", with(func(b, v map[string]any) { v["sensitive_user_variables"] = map[string]any{"_p": "x"} }), http.StatusCreated},
	}
	created := 0
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, body := admin.do("POST", simRecPersonas.path, tc.body)
			mustStatus(t, tc.name, status, tc.want, body)
			if status == http.StatusCreated {
				created++
			}
			if recs, _ := admin.simRecList(simRecPersonas, ""); len(recs) != created {
				t.Errorf("%d personas stored, want %d", len(recs), created)
			}
		})
	}

	// Versions are checked like initial versions, and a refused one is not
	// stored.
	id := admin.simRecCreate(simRecPersonas, simRecPersonaBody("Versioned", "customer", "Background."))
	for _, tc := range []struct {
		name string
		body map[string]any
		want int
	}{
		{"blank background", simRecPersonaVersion("   "), http.StatusUnprocessableEntity},
		{"no sensitive variables", func() map[string]any {
			v := simRecPersonaVersion("x")
			delete(v, "sensitive_user_variables")
			return v
		}(), http.StatusUnprocessableEntity},
		{"an unknown language", func() map[string]any {
			v := simRecPersonaVersion("x")
			v["preferred_language"] = "english"
			return v
		}(), http.StatusUnprocessableEntity},
		{"a valid version", simRecPersonaVersion("New background."), http.StatusCreated},
	} {
		status, body := admin.do("POST", simRecPersonas.path+id+"/version/", tc.body)
		mustStatus(t, "version: "+tc.name, status, tc.want, body)
	}
	if vs, _ := admin.simRecVersions(simRecPersonas, id, ""); behaviorField(vs, "version") != "1,2" {
		t.Errorf("versions: %s", behaviorField(vs, "version"))
	}
}

func TestSimulationScenarioLifecycle(t *testing.T) {
	t.Parallel()
	clock := newTestClock()
	srv, admin := newTestServer(t, clock.option())
	me := simRecActor(srv.Organization, srv.UserID)

	body := simRecScenarioBody(" Refund request ", "  Get a refund for a broken kettle.  ")
	body["tags"] = map[string]any{"team": "billing", "draft": nil}
	v1 := body["initial_version"].(map[string]any)
	v1["instructions"] = "  Be firm but polite.  "
	v1["initial_message_type"] = "external-event"
	v1["conversation_starts_at"] = "2030-05-06T09:30:00+02:00"
	id := admin.simRecCreate(simRecScenarios, body)
	created := simRecTime(clock.now())

	// A scenario has no role.
	recs, _ := admin.simRecList(simRecScenarios, "")
	want := map[string]any{
		"id": id, "name": "Refund request", "tags": map[string]any{"team": "billing", "draft": nil},
		"is_deleted": false, "creator": me, "updated_by": me, "created_at": created, "updated_at": created,
	}
	if len(recs) != 1 || !reflect.DeepEqual(recs[0], want) {
		t.Errorf("scenarios:\n got %v\nwant [%v]", recs, want)
	}

	// The start time is kept in UTC.
	vs, _ := admin.simRecVersions(simRecScenarios, id, "")
	if len(vs) != 1 {
		t.Fatalf("versions: %v", vs)
	}
	versionID, _ := vs[0]["_id"].(string)
	wantV := map[string]any{
		"_id": versionID, "org_id": srv.Organization, "simulation_scenario_id": id, "version": float64(1),
		"objective": "Get a refund for a broken kettle.", "instructions": "Be firm but polite.",
		"initial_message_type": "external-event", "conversation_starts_at": "2030-05-06T07:30:00.000000Z",
		"creator": me, "created_at": created,
	}
	if !store.IsID(versionID) || !reflect.DeepEqual(vs[0], wantV) {
		t.Errorf("version 1:\n got %v\nwant %v", vs[0], wantV)
	}

	clock.advance(time.Minute)
	v2 := simRecScenarioVersion("Get a replacement kettle.")
	v2["initial_message_type"] = "skip"
	status, resp := admin.do("POST", simRecScenarios.path+id+"/version/?version=3", v2)
	mustStatus(t, "version 3 when 2 is next", status, http.StatusBadRequest, resp)
	status, resp = admin.do("POST", simRecScenarios.path+id+"/version/?version=2", v2)
	mustStatus(t, "version 2", status, http.StatusCreated, resp)
	if !reflect.DeepEqual(resp, map[string]any{"version": float64(2)}) {
		t.Errorf("version 2 answer: %v", resp)
	}
	vs, _ = admin.simRecVersions(simRecScenarios, id, "?version=latest")
	if len(vs) != 1 || vs[0]["version"] != float64(2) || vs[0]["objective"] != "Get a replacement kettle." ||
		vs[0]["initial_message_type"] != "skip" {
		t.Errorf("latest version: %v", vs)
	}
	// A null start reads back as null, not omitted.
	if got, ok := vs[0]["conversation_starts_at"]; !ok || got != nil {
		t.Errorf("conversation_starts_at of version 2: %#v (present %v)", got, ok)
	}
	if r := admin.simRecGet(simRecScenarios, id); r["updated_at"] != simRecTime(clock.now()) || r["created_at"] != created {
		t.Errorf("after version 2: %v", r)
	}
	if vs, _ := admin.simRecVersions(simRecScenarios, id, "?sort_by=-version"); behaviorField(vs, "version") != "2,1" {
		t.Errorf("versions newest first: %s", behaviorField(vs, "version"))
	}
	if vs, _ := admin.simRecVersions(simRecScenarios, id, "?version=1-2&limit=1&continuation_token=1"); behaviorField(vs, "version") != "2" {
		t.Errorf("second page of 1-2: %s", behaviorField(vs, "version"))
	}

	n := 0
	with := func(change func(v map[string]any)) map[string]any {
		n++
		b := simRecScenarioBody(fmt.Sprintf("Scenario %d", n), "Objective.")
		change(b["initial_version"].(map[string]any))
		return b
	}
	for _, tc := range []struct {
		name string
		body map[string]any
		want int
	}{
		{"user-message", with(func(v map[string]any) {}), http.StatusCreated},
		{"skip", with(func(v map[string]any) { v["initial_message_type"] = "skip" }), http.StatusCreated},
		{"an unknown message type", with(func(v map[string]any) { v["initial_message_type"] = "agent-message" }), http.StatusUnprocessableEntity},
		{"no message type", with(func(v map[string]any) { delete(v, "initial_message_type") }), http.StatusUnprocessableEntity},
		{"no start", with(func(v map[string]any) { delete(v, "conversation_starts_at") }), http.StatusUnprocessableEntity},
		{"a start that is not a time", with(func(v map[string]any) { v["conversation_starts_at"] = "tomorrow" }), http.StatusUnprocessableEntity},
		{"blank objective", with(func(v map[string]any) { v["objective"] = " " }), http.StatusUnprocessableEntity},
		{"blank instructions", with(func(v map[string]any) { v["instructions"] = "\t" }), http.StatusUnprocessableEntity},
		{"no instructions", with(func(v map[string]any) { delete(v, "instructions") }), http.StatusUnprocessableEntity},
		{"blank name", func() map[string]any {
			b := simRecScenarioBody("  ", "Objective.")
			return b
		}(), http.StatusUnprocessableEntity},
		{"a role, which scenarios do not have", func() map[string]any {
			b := simRecScenarioBody("With role", "Objective.")
			b["role"] = "customer"
			return b
		}(), http.StatusCreated},
	} {
		status, body := admin.do("POST", simRecScenarios.path, tc.body)
		mustStatus(t, tc.name, status, tc.want, body)
	}
	if recs, _ := admin.simRecList(simRecScenarios, ""); len(recs) != 4 {
		t.Errorf("%d scenarios stored, want 4", len(recs))
	}
	for _, r := range admin.simRecSearch(simRecScenarios, "?query=role") {
		if _, ok := r["role"]; ok {
			t.Errorf("a scenario has a role: %v", r)
		}
	}

	missing := store.NewID()
	for _, call := range []struct {
		method, path string
		body         any
	}{
		{"GET", simRecScenarios.path + missing + "/version/", nil},
		{"POST", simRecScenarios.path + missing + "/version/", simRecScenarioVersion("x")},
		{"POST", simRecScenarios.path + missing + "/", map[string]any{"tags": map[string]any{}}},
		{"DELETE", simRecScenarios.path + missing + "/", nil},
	} {
		if status, body := admin.do(call.method, call.path, call.body); status != http.StatusNotFound {
			t.Errorf("%s %s of a missing scenario: %d %v, want 404", call.method, call.path, status, body)
		}
	}
}

// TestSimulationPersonaNames checks, for both kinds, that names are unique
// among live records only.
func TestSimulationPersonaNames(t *testing.T) {
	t.Parallel()
	_, admin := newTestServer(t)
	for _, tc := range []struct {
		kind simRecKind
		body func(name string) map[string]any
	}{
		{simRecPersonas, func(name string) map[string]any { return simRecPersonaBody(name, "customer", "Background.") }},
		{simRecScenarios, func(name string) map[string]any { return simRecScenarioBody(name, "Objective.") }},
	} {
		k := tc.kind
		first := admin.simRecCreate(k, tc.body("Bob"))
		// Names are compared stripped.
		status, resp := admin.do("POST", k.path, tc.body("  Bob "))
		mustStatus(t, k.path+" live duplicate", status, http.StatusConflict, resp)
		if recs, _ := admin.simRecList(k, ""); len(recs) != 1 {
			t.Errorf("%s after a duplicate: %v", k.path, recs)
		}
		status, resp = admin.do("DELETE", k.path+first+"/", nil)
		mustStatus(t, k.path+" delete", status, http.StatusNoContent, resp)
		second := admin.simRecCreate(k, tc.body("Bob"))
		live, _ := admin.simRecList(k, "?is_deleted=false")
		gone, _ := admin.simRecList(k, "?is_deleted=true")
		if len(live) != 1 || live[0]["id"] != second || len(gone) != 1 || gone[0]["id"] != first || gone[0]["name"] != "Bob" {
			t.Errorf("%s after reusing the name: live %v, deleted %v", k.path, live, gone)
		}
		status, resp = admin.do("POST", k.path, tc.body("Bob"))
		mustStatus(t, k.path+" duplicate of the new one", status, http.StatusConflict, resp)
	}
}

func TestSimulationPersonaUpdate(t *testing.T) {
	t.Parallel()
	clock := newTestClock()
	srv, admin := newTestServer(t, clock.option())
	editorID, editor := simRecUser(admin, "editor@example.com", "DefaultSuperAdministratorRole")
	for _, tc := range []struct {
		kind simRecKind
		body map[string]any
	}{
		{simRecPersonas, simRecPersonaBody("Alice", "customer", "Background.")},
		{simRecScenarios, simRecScenarioBody("Refund", "Objective.")},
	} {
		k := tc.kind
		tc.body["tags"] = map[string]any{"team": "billing"}
		id := admin.simRecCreate(k, tc.body)
		created := simRecTime(clock.now())
		update := func(what string, c *client, body any, want int) {
			t.Helper()
			status, resp := c.do("POST", k.path+id+"/", body)
			mustStatus(t, k.path+" "+what, status, want, resp)
			if want == http.StatusNoContent && resp != nil {
				t.Errorf("%s %s answer: %v", k.path, what, resp)
			}
		}
		tags := func() any { t.Helper(); return admin.simRecGet(k, id)["tags"] }

		// The tags are replaced, stripped, by whoever updates.
		clock.advance(time.Minute)
		update("replace tags", editor, map[string]any{"tags": map[string]any{" team ": "support ", "urgent": nil}}, http.StatusNoContent)
		r := admin.simRecGet(k, id)
		if !reflect.DeepEqual(r["tags"], map[string]any{"team": "support", "urgent": nil}) ||
			r["updated_at"] != simRecTime(clock.now()) || r["created_at"] != created ||
			!reflect.DeepEqual(r["updated_by"], simRecActor(srv.Organization, editorID)) ||
			!reflect.DeepEqual(r["creator"], simRecActor(srv.Organization, srv.UserID)) || r["name"] != tc.body["name"] {
			t.Errorf("%s after replacing tags: %v", k.path, r)
		}
		// Absent or null tags leave them.
		update("empty body", admin, map[string]any{}, http.StatusNoContent)
		update("null tags", admin, map[string]any{"tags": nil}, http.StatusNoContent)
		if got := tags(); !reflect.DeepEqual(got, map[string]any{"team": "support", "urgent": nil}) {
			t.Errorf("%s tags after {} and null: %v", k.path, got)
		}
		// A name, which cannot change, is not part of an update.
		update("a name", admin, map[string]any{"name": "Other"}, http.StatusNoContent)
		if r := admin.simRecGet(k, id); r["name"] != tc.body["name"] {
			t.Errorf("%s name changed: %v", k.path, r)
		}
		update("invalid tags", admin, map[string]any{"tags": map[string]any{"a-b": "x"}}, http.StatusUnprocessableEntity)
		update("blank tag value", admin, map[string]any{"tags": map[string]any{"a": " "}}, http.StatusUnprocessableEntity)
		update("tags not a map", admin, map[string]any{"tags": []any{"a"}}, http.StatusUnprocessableEntity)
		if got := tags(); !reflect.DeepEqual(got, map[string]any{"team": "support", "urgent": nil}) {
			t.Errorf("%s tags after refused updates: %v", k.path, got)
		}
		update("empty tags", admin, map[string]any{"tags": map[string]any{}}, http.StatusNoContent)
		if got := tags(); !reflect.DeepEqual(got, map[string]any{}) {
			t.Errorf("%s tags after clearing: %v", k.path, got)
		}

		status, resp := admin.do("DELETE", k.path+id+"/", nil)
		mustStatus(t, k.path+" delete", status, http.StatusNoContent, resp)
		update("deleted, with tags", admin, map[string]any{"tags": map[string]any{"late": "x"}}, http.StatusNotFound)
		update("deleted, without tags", admin, map[string]any{}, http.StatusNotFound)
		if got := tags(); !reflect.DeepEqual(got, map[string]any{}) {
			t.Errorf("%s tags of a deleted record: %v", k.path, got)
		}
		status, resp = admin.do("POST", k.path+store.NewID()+"/", map[string]any{"tags": map[string]any{"a": "b"}})
		mustStatus(t, k.path+" missing with tags", status, http.StatusNotFound, resp)
	}
}

func TestSimulationPersonaDelete(t *testing.T) {
	t.Parallel()
	clock := newTestClock()
	srv, admin := newTestServer(t, clock.option())
	deleterID, deleter := simRecUser(admin, "deleter@example.com", "DefaultSuperAdministratorRole")
	svc := behaviorService(t, srv, srv.Organization, srv.UserID, "support")
	metric := admin.metricCreate(metricBody("Polite", metricValue("boolean")))
	persona := admin.simRecCreate(simRecPersonas, simRecPersonaBody("Alice", "customer", "Background."))
	scenario := admin.simRecCreate(simRecScenarios, simRecScenarioBody("Refund", "Objective."))
	status, resp := admin.do("POST", "/simulation/unit_test/", map[string]any{
		"name": "Alice asks for a refund", "description": "Refunds work.", "service_id": svc,
		"service_version_set_name": "release", "persona_id": persona, "scenario_id": scenario, "max_interactions": 5,
		"success_criterions": []any{map[string]any{"name": "polite", "metric_id": metric,
			"criterion": map[string]any{"type": "boolean", "expected_value": true}}},
		"tags": map[string]any{},
	})
	mustStatus(t, "create unit test", status, http.StatusCreated, resp)
	unitTest := resp["simulation_unit_test_id"].(string)

	// A live unit test keeps what it uses alive.
	for _, tc := range []struct {
		kind simRecKind
		id   string
	}{{simRecPersonas, persona}, {simRecScenarios, scenario}} {
		status, resp := admin.do("DELETE", tc.kind.path+tc.id+"/", nil)
		mustStatus(t, "delete "+tc.kind.path+" in use", status, http.StatusBadRequest, resp)
		if r := admin.simRecGet(tc.kind, tc.id); r["is_deleted"] != false {
			t.Errorf("%s in use was deleted: %v", tc.kind.path, r)
		}
	}
	status, resp = admin.do("DELETE", "/simulation/unit_test/"+unitTest+"/", nil)
	mustStatus(t, "delete unit test", status, http.StatusNoContent, resp)

	for _, tc := range []struct {
		kind    simRecKind
		id      string
		other   map[string]any
		version map[string]any
	}{
		{simRecPersonas, persona, simRecPersonaBody("Other", "agent", "B."), simRecPersonaVersion("Later.")},
		{simRecScenarios, scenario, simRecScenarioBody("Other", "O."), simRecScenarioVersion("Later.")},
	} {
		k, id := tc.kind, tc.id
		// Created after id, so listed after it.
		clock.advance(time.Minute)
		other := admin.simRecCreate(k, tc.other)
		clock.advance(time.Minute)
		status, resp := deleter.do("DELETE", k.path+id+"/", nil)
		mustStatus(t, "delete "+k.path, status, http.StatusNoContent, resp)
		if resp != nil {
			t.Errorf("delete %s answer: %v", k.path, resp)
		}
		r := admin.simRecGet(k, id)
		if r["is_deleted"] != true || r["updated_at"] != simRecTime(clock.now()) ||
			!reflect.DeepEqual(r["updated_by"], simRecActor(srv.Organization, deleterID)) {
			t.Errorf("deleted %s: %v", k.path, r)
		}
		names := map[string]string{id: "deleted", other: "live"}
		for _, q := range []struct{ query, want string }{
			{"", "deleted,live"},
			{"?is_deleted=true", "deleted"},
			{"?is_deleted=false", "live"},
			{"?id=" + id + "&is_deleted=false", ""},
		} {
			if recs, _ := admin.simRecList(k, q.query); simRecNamed(names, recs, false) != q.want {
				t.Errorf("%s%s: got %s, want %s", k.path, q.query, simRecNamed(names, recs, false), q.want)
			}
		}
		// Its versions stay readable; it no longer changes.
		if vs, _ := admin.simRecVersions(k, id, ""); behaviorField(vs, "version") != "1" {
			t.Errorf("versions of a deleted %s: %s", k.path, behaviorField(vs, "version"))
		}
		for _, call := range []struct {
			method, path string
			body         any
		}{
			{"DELETE", k.path + id + "/", nil},
			{"POST", k.path + id + "/version/", tc.version},
			{"POST", k.path + id + "/version/?version=2", tc.version},
		} {
			if status, body := admin.do(call.method, call.path, call.body); status != http.StatusNotFound {
				t.Errorf("%s %s of a deleted record: %d %v, want 404", call.method, call.path, status, body)
			}
		}
		if vs, _ := admin.simRecVersions(k, id, ""); behaviorField(vs, "version") != "1" {
			t.Errorf("versions after refused changes: %s", behaviorField(vs, "version"))
		}
	}
}

func TestSimulationPersonaListing(t *testing.T) {
	t.Parallel()
	clock := newTestClock()
	srv, admin := newTestServer(t, clock.option())
	editorID, editor := simRecUser(admin, "editor@example.com", "DefaultSuperAdministratorRole")

	// Each write is a second after the one before, so that creation and
	// update times order the records.
	create := func(c *client, name, role string, tags map[string]any) string {
		t.Helper()
		clock.advance(time.Second)
		b := simRecPersonaBody(name, role, "Background of "+name+".")
		b["tags"] = tags
		return c.simRecCreate(simRecPersonas, b)
	}
	a := create(admin, "A", "customer", map[string]any{"team": "billing", "flag": nil})
	b := create(admin, "B", "agent", map[string]any{"team": "support"})
	c := create(editor, "C", "customer", map[string]any{})
	d := create(admin, "D", "customer", map[string]any{"team": "gone"})
	names := map[string]string{a: "A", b: "B", c: "C", d: "D"}
	// updated_at: C, then D (deleted), then A, then B (a new version).
	clock.advance(time.Second)
	status, body := admin.do("DELETE", simRecPersonas.path+d+"/", nil)
	mustStatus(t, "delete D", status, http.StatusNoContent, body)
	clock.advance(time.Second)
	status, body = admin.do("POST", simRecPersonas.path+a+"/", map[string]any{"tags": map[string]any{"team": "billing", "flag": nil}})
	mustStatus(t, "touch A", status, http.StatusNoContent, body)
	clock.advance(time.Second)
	status, body = admin.do("POST", simRecPersonas.path+b+"/version/", simRecPersonaVersion("Touched."))
	mustStatus(t, "touch B", status, http.StatusCreated, body)

	for _, tc := range []struct{ query, want string }{
		{"", "A,B,C,D"},
		{"?is_deleted=false", "A,B,C"},
		{"?is_deleted=true", "D"},
		{"?id=" + c + "&id=" + a, "A,C"},
		{"?id=" + d, "D"},
		{"?id=" + d + "&is_deleted=false", ""},
		{"?id=" + store.NewID(), ""},
		{"?role=customer", "A,C,D"},
		{"?role=agent&role=customer&is_deleted=false", "A,B,C"},
		{"?role=manager", ""},
		{"?creator=" + editorID, "C"},
		{"?creator=" + srv.Organization + "," + srv.UserID, "A,B,D"},
		{"?creator=" + editorID + "&creator=" + srv.UserID + "&is_deleted=false", "A,B,C"},
		{"?creator=beta," + srv.UserID, ""},
		{"?tag=team:billing", "A"},
		{"?tag=team:*", "A,B,D"},
		{"?tag=flag:", "A"},
		{"?tag=team:", ""},
		{"?tag=team:*&tag=flag:*", "A"},
		{"?tag=team:support&role=customer", ""},
		{"?sort_by=updated_at", "C,D,A,B"},
		{"?sort_by=-updated_at", "B,A,D,C"},
		{"?sort_by=-updated_at&is_deleted=false", "B,A,C"},
		{"?limit=2", "A,B"},
		{"?limit=2&continuation_token=2", "C,D"},
		{"?limit=2&continuation_token=2&sort_by=-updated_at", "D,C"},
		{"?continuation_token=4", ""},
		{"?limit=0", ""},
		{"?limit=50", "A,B,C,D"},
	} {
		t.Run(tc.query, func(t *testing.T) {
			recs, _ := admin.simRecList(simRecPersonas, tc.query)
			if got := simRecNamed(names, recs, false); got != tc.want {
				t.Errorf("got %s, want %s", got, tc.want)
			}
		})
	}
	for _, q := range []string{"?limit=51", "?limit=-1", "?sort_by=name", "?sort_by=created_at", "?tag=nocolon", "?tag=:x",
		"?id=xyz", "?creator=,u", "?is_deleted=maybe", "?continuation_token=x"} {
		if status, body := admin.do("GET", simRecPersonas.path+q, nil); status != http.StatusUnprocessableEntity {
			t.Errorf("%s: %d %v, want 422", q, status, body)
		}
	}

	// filter_values describe every matching record, on the first page only.
	_, page := admin.simRecList(simRecPersonas, "?limit=3")
	wantCreators := []any{simRecActor(srv.Organization, srv.UserID), simRecActor(srv.Organization, editorID)}
	if srv.UserID > editorID {
		wantCreators[0], wantCreators[1] = wantCreators[1], wantCreators[0]
	}
	wantFV := map[string]any{"creators": wantCreators, "tags": []any{"flag:", "team:billing", "team:gone", "team:support"},
		"roles": []any{"agent", "customer"}}
	if !reflect.DeepEqual(page["filter_values"], wantFV) || page["has_more"] != true || page["continuation_token"] != float64(3) {
		t.Errorf("first page:\n got %v\nwant filter_values %v", page, wantFV)
	}
	if recs, page := admin.simRecList(simRecPersonas, "?limit=3&continuation_token=3"); simRecNamed(names, recs, false) != "D" ||
		page["filter_values"] != nil || page["has_more"] != false || page["continuation_token"] != nil {
		t.Errorf("second page: %v", page)
	}
	if _, page := admin.simRecList(simRecPersonas, "?role=agent"); !reflect.DeepEqual(page["filter_values"], map[string]any{
		"creators": []any{simRecActor(srv.Organization, srv.UserID)}, "tags": []any{"team:support"}, "roles": []any{"agent"}}) {
		t.Errorf("filter_values of agents: %v", page["filter_values"])
	}
	if _, page := admin.simRecList(simRecPersonas, "?role=manager"); !reflect.DeepEqual(page["filter_values"],
		map[string]any{"creators": []any{}, "tags": []any{}, "roles": []any{}}) {
		t.Errorf("filter_values of nothing: %v", page["filter_values"])
	}
}

func TestSimulationScenarioListing(t *testing.T) {
	t.Parallel()
	clock := newTestClock()
	srv, admin := newTestServer(t, clock.option())
	editorID, editor := simRecUser(admin, "editor@example.com", "DefaultSuperAdministratorRole")
	create := func(c *client, name string, tags map[string]any) string {
		t.Helper()
		clock.advance(time.Second)
		b := simRecScenarioBody(name, "Objective of "+name+".")
		b["tags"] = tags
		return c.simRecCreate(simRecScenarios, b)
	}
	a := create(admin, "A", map[string]any{"team": "billing", "flag": nil})
	b := create(editor, "B", map[string]any{"team": "support"})
	c := create(admin, "C", map[string]any{})
	names := map[string]string{a: "A", b: "B", c: "C"}
	clock.advance(time.Second)
	status, body := admin.do("POST", simRecScenarios.path+a+"/version/", simRecScenarioVersion("Touched."))
	mustStatus(t, "touch A", status, http.StatusCreated, body)
	clock.advance(time.Second)
	status, body = admin.do("DELETE", simRecScenarios.path+c+"/", nil)
	mustStatus(t, "delete C", status, http.StatusNoContent, body)

	for _, tc := range []struct{ query, want string }{
		{"", "A,B,C"},
		{"?is_deleted=false", "A,B"},
		{"?is_deleted=true", "C"},
		{"?id=" + b, "B"},
		{"?creator=" + editorID, "B"},
		{"?creator=" + srv.Organization + "," + srv.UserID, "A,C"},
		{"?tag=team:*", "A,B"},
		{"?tag=flag:", "A"},
		{"?sort_by=updated_at", "B,A,C"},
		{"?sort_by=-updated_at", "C,A,B"},
		{"?limit=1&continuation_token=1", "B"},
		{"?limit=200", "A,B,C"},
	} {
		if recs, _ := admin.simRecList(simRecScenarios, tc.query); simRecNamed(names, recs, false) != tc.want {
			t.Errorf("%s: got %s, want %s", tc.query, simRecNamed(names, recs, false), tc.want)
		}
	}
	for _, q := range []string{"?limit=201", "?sort_by=version", "?tag=x"} {
		if status, body := admin.do("GET", simRecScenarios.path+q, nil); status != http.StatusUnprocessableEntity {
			t.Errorf("%s: %d %v, want 422", q, status, body)
		}
	}
	// Scenarios have no roles to offer as filter values.
	_, page := admin.simRecList(simRecScenarios, "?limit=1")
	fv, _ := page["filter_values"].(map[string]any)
	if _, ok := fv["roles"]; ok || len(fv["creators"].([]any)) != 2 ||
		!reflect.DeepEqual(fv["tags"], []any{"flag:", "team:billing", "team:support"}) || page["has_more"] != true {
		t.Errorf("first page: %v", page)
	}
	if _, page := admin.simRecList(simRecScenarios, "?limit=1&continuation_token=1"); page["filter_values"] != nil {
		t.Errorf("second page has filter_values: %v", page)
	}
}

func TestSimulationPersonaSearch(t *testing.T) {
	t.Parallel()
	srv, admin := newTestServer(t)
	editorID, editor := simRecUser(admin, "editor@example.com", "DefaultSuperAdministratorRole")
	create := func(c *client, name, role, background string, tags map[string]any) string {
		t.Helper()
		b := simRecPersonaBody(name, role, background)
		b["tags"] = tags
		return c.simRecCreate(simRecPersonas, b)
	}
	angry := create(admin, "Angry customer", "customer", "Wants a refund for a broken kettle.", map[string]any{})
	calm := create(admin, "Calm shopper", "customer", "Asks about refunds politely.", map[string]any{"team": "billing"})
	traveller := create(admin, "Traveller", "customer", "Books a flight to Lisbon.", map[string]any{})
	expert := create(editor, "Refund expert", "agent", "Knows the policy.", map[string]any{})
	gone := create(admin, "Refund seeker", "customer", "Gone.", map[string]any{})
	names := map[string]string{angry: "angry", calm: "calm", traveller: "traveller", expert: "expert", gone: "gone"}
	status, body := admin.do("DELETE", simRecPersonas.path+gone+"/", nil)
	mustStatus(t, "delete", status, http.StatusNoContent, body)
	// Only the latest version's background is searched.
	status, body = admin.do("POST", simRecPersonas.path+traveller+"/version/", simRecPersonaVersion("Cancels a hotel in Porto."))
	mustStatus(t, "version 2", status, http.StatusCreated, body)

	for _, tc := range []struct{ query, want string }{
		{"?query=refund", "angry,calm,expert"},
		{"?query=REFUNDS", "angry,calm,expert"},
		{"?query=angry", "angry"},
		{"?query=kettle", "angry"},
		{"?query=refund+kettle", "angry"},
		{"?query=refund+hotel", ""},
		{"?query=flight", ""},
		{"?query=lisbon", ""},
		{"?query=hotel", "traveller"},
		{"?query=porto+traveller", "traveller"},
		{"?query=seeker", ""},
		{"?query=refund&tag=team:billing", "calm"},
		{"?query=refund&tag=team:*", "calm"},
		{"?query=refund&role=agent", "expert"},
		{"?query=refund&role=customer", "angry,calm"},
		{"?query=refund&creator=" + editorID, "expert"},
		{"?query=refund&creator=" + srv.Organization + "," + srv.UserID, "angry,calm"},
		{"?query=refund&creator=beta," + srv.UserID, ""},
		{"?query=parcel", ""},
		{"?query=%22refund", "angry,calm,expert"},
	} {
		t.Run(tc.query, func(t *testing.T) {
			recs := admin.simRecSearch(simRecPersonas, tc.query)
			if got := simRecNamed(names, recs, true); got != tc.want {
				t.Errorf("got %s, want %s", got, tc.want)
			}
			for _, r := range recs {
				if r["is_deleted"] != false || r["name"] == nil || r["role"] == nil || r["tags"] == nil ||
					r["creator"] == nil || r["updated_by"] == nil || r["created_at"] == nil || r["updated_at"] == nil {
					t.Errorf("search result: %v", r)
				}
			}
		})
	}
	if recs := admin.simRecSearch(simRecPersonas, "?query=calm"); len(recs) != 1 ||
		!reflect.DeepEqual(recs[0], admin.simRecGet(simRecPersonas, calm)) {
		t.Errorf("a search result differs from the listed record: %v", recs)
	}
	for _, q := range []string{"", "?query=", "?query=%20%20", "?query=x&tag=nocolon"} {
		if status, body := admin.do("GET", simRecPersonas.path+"search"+q, nil); status != http.StatusUnprocessableEntity {
			t.Errorf("search %q: %d %v, want 422", q, status, body)
		}
	}
}

func TestSimulationScenarioSearch(t *testing.T) {
	t.Parallel()
	_, admin := newTestServer(t)
	create := func(name, objective string, tags map[string]any) string {
		t.Helper()
		b := simRecScenarioBody(name, objective)
		b["tags"] = tags
		return admin.simRecCreate(simRecScenarios, b)
	}
	refund := create("Refund request", "Get money back.", map[string]any{"team": "billing"})
	late := create("Late delivery", "Ask for a refund of the shipping.", map[string]any{})
	gone := create("Refund dispute", "Gone.", map[string]any{})
	names := map[string]string{refund: "refund", late: "late", gone: "gone"}
	status, body := admin.do("DELETE", simRecScenarios.path+gone+"/", nil)
	mustStatus(t, "delete", status, http.StatusNoContent, body)
	// A scenario is found by its name only.
	for _, tc := range []struct{ query, want string }{
		{"?query=refund", "refund"},
		{"?query=refunds", "refund"},
		{"?query=deliveries", "late"},
		{"?query=shipping", ""},
		{"?query=dispute", ""},
		{"?query=refund&tag=team:billing", "refund"},
		{"?query=refund&tag=team:support", ""},
	} {
		if got := simRecNamed(names, admin.simRecSearch(simRecScenarios, tc.query), true); got != tc.want {
			t.Errorf("search %s: got %s, want %s", tc.query, got, tc.want)
		}
	}
}

func TestSimulationPersonaPermissions(t *testing.T) {
	t.Parallel()
	srv, admin := newTestServer(t)
	persona := admin.simRecCreate(simRecPersonas, simRecPersonaBody("Alice", "customer", "Background."))
	admin.newRole("SimPersonaWriter", grant("Simulation:CreateSimulationPersona", nil), grant("Simulation:ModifySimulationPersona", nil))
	admin.newRole("SimPersonaReader", grant("Simulation:GetSimulationPersona", nil))
	admin.newRole("SimPersonaCreateOnly", grant("Simulation:CreateSimulationPersona", nil))
	writerID, writer := simRecUser(admin, "writer@example.com", "SimPersonaWriter")
	_, reader := simRecUser(admin, "reader@example.com", "SimPersonaReader")
	_, createOnly := simRecUser(admin, "create-only@example.com", "SimPersonaCreateOnly")

	// Without GetSimulationPersona, listings and searches are empty, yet
	// filter_values count every persona; version listings are refused.
	mine := writer.simRecCreate(simRecPersonas, simRecPersonaBody("Written", "customer", "Background."))
	recs, page := writer.simRecList(simRecPersonas, "")
	fv, _ := page["filter_values"].(map[string]any)
	if len(recs) != 0 || page["has_more"] != false || fv == nil || len(fv["creators"].([]any)) != 2 {
		t.Errorf("writer's listing: %v", page)
	}
	if recs := writer.simRecSearch(simRecPersonas, "?query=alice"); len(recs) != 0 {
		t.Errorf("writer's search: %v", recs)
	}
	for _, id := range []string{persona, mine} {
		if status, body := writer.do("GET", simRecPersonas.path+id+"/version/", nil); status != http.StatusForbidden {
			t.Errorf("writer reads versions: %d %v, want 403", status, body)
		}
	}
	// ModifySimulationPersona is enough to change a persona.
	status, body := writer.do("POST", simRecPersonas.path+persona+"/version/", simRecPersonaVersion("By the writer."))
	mustStatus(t, "writer's version", status, http.StatusCreated, body)
	status, body = writer.do("POST", simRecPersonas.path+persona+"/", map[string]any{"tags": map[string]any{"by": "writer"}})
	mustStatus(t, "writer's update", status, http.StatusNoContent, body)
	if r := admin.simRecGet(simRecPersonas, persona); !reflect.DeepEqual(r["updated_by"], simRecActor(srv.Organization, writerID)) ||
		!reflect.DeepEqual(r["tags"], map[string]any{"by": "writer"}) {
		t.Errorf("after the writer's changes: %v", r)
	}

	// With GetSimulationPersona alone, the caller reads everything and
	// changes nothing.
	if recs, _ := reader.simRecList(simRecPersonas, ""); len(recs) != 2 {
		t.Errorf("reader's listing: %v", recs)
	}
	if recs := reader.simRecSearch(simRecPersonas, "?query=alice"); len(recs) != 1 || recs[0]["id"] != persona {
		t.Errorf("reader's search: %v", recs)
	}
	if vs, _ := reader.simRecVersions(simRecPersonas, persona, ""); behaviorField(vs, "version") != "1,2" {
		t.Errorf("reader's versions: %s", behaviorField(vs, "version"))
	}
	for _, tc := range []struct {
		who          string
		c            *client
		method, path string
		body         any
	}{
		{"reader", reader, "POST", simRecPersonas.path, simRecPersonaBody("Refused", "customer", "Background.")},
		{"reader", reader, "POST", simRecPersonas.path + persona + "/version/", simRecPersonaVersion("Refused.")},
		{"reader", reader, "POST", simRecPersonas.path + persona + "/", map[string]any{"tags": map[string]any{"by": "reader"}}},
		{"reader", reader, "DELETE", simRecPersonas.path + persona + "/", nil},
		{"writer", writer, "DELETE", simRecPersonas.path + persona + "/", nil},
		// create needs ModifySimulationPersona too.
		{"create-only", createOnly, "POST", simRecPersonas.path, simRecPersonaBody("Refused", "customer", "Background.")},
	} {
		if status, body := tc.c.do(tc.method, tc.path, tc.body); status != http.StatusForbidden {
			t.Errorf("%s %s %s: %d %v, want 403", tc.who, tc.method, tc.path, status, body)
		}
	}
	if recs, _ = admin.simRecList(simRecPersonas, ""); len(recs) != 2 {
		t.Errorf("personas after refused calls: %v", recs)
	}
	if r := admin.simRecGet(simRecPersonas, persona); r["is_deleted"] != false || !reflect.DeepEqual(r["tags"], map[string]any{"by": "writer"}) {
		t.Errorf("persona after refused calls: %v", r)
	}
	if vs, _ := admin.simRecVersions(simRecPersonas, persona, ""); behaviorField(vs, "version") != "1,2" {
		t.Errorf("versions after refused calls: %s", behaviorField(vs, "version"))
	}
}

func TestSimulationScenarioPermissions(t *testing.T) {
	t.Parallel()
	_, admin := newTestServer(t)
	scenario := admin.simRecCreate(simRecScenarios, simRecScenarioBody("Refund", "Objective."))
	// Persona permissions say nothing of scenarios.
	admin.newRole("SimPersonaOnly", grant("Simulation:GetSimulationPersona", nil),
		grant("Simulation:CreateSimulationPersona", nil), grant("Simulation:ModifySimulationPersona", nil))
	admin.newRole("SimScenarioReader", grant("Simulation:GetSimulationScenario", nil))
	_, personaOnly := simRecUser(admin, "persona-only@example.com", "SimPersonaOnly")
	_, reader := simRecUser(admin, "reader@example.com", "SimScenarioReader")

	if recs, page := personaOnly.simRecList(simRecScenarios, ""); len(recs) != 0 || page["filter_values"] == nil {
		t.Errorf("scenario listing without the permission: %v", page)
	}
	if recs := personaOnly.simRecSearch(simRecScenarios, "?query=refund"); len(recs) != 0 {
		t.Errorf("scenario search without the permission: %v", recs)
	}
	for _, call := range []struct {
		method, path string
		body         any
	}{
		{"GET", simRecScenarios.path + scenario + "/version/", nil},
		{"POST", simRecScenarios.path, simRecScenarioBody("Refused", "Objective.")},
		{"POST", simRecScenarios.path + scenario + "/version/", simRecScenarioVersion("Refused.")},
		{"POST", simRecScenarios.path + scenario + "/", map[string]any{"tags": map[string]any{"a": "b"}}},
		{"DELETE", simRecScenarios.path + scenario + "/", nil},
	} {
		if status, body := personaOnly.do(call.method, call.path, call.body); status != http.StatusForbidden {
			t.Errorf("persona-only %s %s: %d %v, want 403", call.method, call.path, status, body)
		}
	}
	if status, body := reader.do("POST", simRecScenarios.path, simRecScenarioBody("Refused", "Objective.")); status != http.StatusForbidden {
		t.Errorf("reader creates a scenario: %d %v, want 403", status, body)
	}
	if recs, _ := reader.simRecList(simRecScenarios, ""); len(recs) != 1 || recs[0]["id"] != scenario ||
		!reflect.DeepEqual(recs[0]["tags"], map[string]any{}) || recs[0]["is_deleted"] != false {
		t.Errorf("scenarios after refused calls: %v", recs)
	}
	if vs, _ := reader.simRecVersions(simRecScenarios, scenario, ""); behaviorField(vs, "version") != "1" {
		t.Errorf("versions after refused calls: %s", behaviorField(vs, "version"))
	}
}

func TestSimulationPersonaOrganizations(t *testing.T) {
	t.Parallel()
	srv, admin := newTestServer(t)
	beta, _ := betaOrg(t, srv, admin)
	for _, tc := range []struct {
		kind    simRecKind
		body    map[string]any
		version map[string]any
	}{
		{simRecPersonas, simRecPersonaBody("Alice", "customer", "Wants a refund."), simRecPersonaVersion("Stolen.")},
		{simRecScenarios, simRecScenarioBody("Alice", "Refund."), simRecScenarioVersion("Stolen.")},
	} {
		k := tc.kind
		tc.body["tags"] = map[string]any{"team": "alpha"}
		id := admin.simRecCreate(k, tc.body)
		for _, q := range []string{"", "?id=" + id, "?is_deleted=false", "?is_deleted=true", "?tag=team:alpha"} {
			recs, page := beta.simRecList(k, q)
			fv, _ := page["filter_values"].(map[string]any)
			if len(recs) != 0 || fv == nil || len(fv["creators"].([]any)) != 0 || len(fv["tags"].([]any)) != 0 {
				t.Errorf("beta lists %s%s: %v", k.path, q, page)
			}
		}
		if recs := beta.simRecSearch(k, "?query=alice"); len(recs) != 0 {
			t.Errorf("beta finds %s: %v", k.path, recs)
		}
		for _, call := range []struct {
			method, path string
			body         any
		}{
			{"GET", k.path + id + "/version/", nil},
			{"POST", k.path + id + "/version/", tc.version},
			{"POST", k.path + id + "/", map[string]any{"tags": map[string]any{"team": "beta"}}},
			{"POST", k.path + id + "/", map[string]any{}},
			{"DELETE", k.path + id + "/", nil},
		} {
			if status, body := beta.do(call.method, call.path, call.body); status != http.StatusNotFound {
				t.Errorf("beta %s %s: %d %v, want 404", call.method, call.path, status, body)
			}
		}
		// Names are unique per organization: beta may have its own Alice.
		mine := beta.simRecCreate(k, tc.body)
		if recs, _ := beta.simRecList(k, ""); len(recs) != 1 || recs[0]["id"] != mine {
			t.Errorf("beta's own %s: %v", k.path, recs)
		}
		r := admin.simRecGet(k, id)
		if r["is_deleted"] != false || !reflect.DeepEqual(r["tags"], map[string]any{"team": "alpha"}) {
			t.Errorf("alpha's %s after beta's attempts: %v", k.path, r)
		}
		if vs, _ := admin.simRecVersions(k, id, ""); behaviorField(vs, "version") != "1" {
			t.Errorf("alpha's versions: %s", behaviorField(vs, "version"))
		}
		if recs, _ := admin.simRecList(k, "?id="+mine); len(recs) != 0 {
			t.Errorf("alpha lists beta's %s: %v", k.path, recs)
		}
		if status, body := admin.do("GET", k.path+mine+"/version/", nil); status != http.StatusNotFound {
			t.Errorf("alpha reads beta's versions: %d %v, want 404", status, body)
		}
	}
}
