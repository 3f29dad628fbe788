package httpapi_test

import (
	"database/sql"
	"fmt"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/compadre-dev/compadre/app"
	"github.com/compadre-dev/compadre/compadretest"
	"github.com/compadre-dev/compadre/store"
)

// utFixture is a server with what a unit test names: a service (with its
// edge and release version sets), a persona, a scenario and one metric of
// each value type. Its clock only moves when a test advances it, so that
// updated_at orders records without sleeping.
type utFixture struct {
	srv                                       *compadretest.Server
	admin                                     *client
	clock                                     *testClock
	svc, persona, scenario                    string
	boolMetric, numMetric, catMetric          string
	boolCriterion, numCriterion, catCriterion map[string]any
}

func utSetup(t *testing.T) *utFixture {
	t.Helper()
	clock := newTestClock()
	srv, admin := newTestServer(t, clock.option())
	f := &utFixture{srv: srv, admin: admin, clock: clock}
	f.svc = behaviorService(t, srv, srv.Organization, srv.UserID, "support")
	f.persona = admin.utPersona("Impatient customer")
	f.scenario = admin.utScenario("Refund request")
	f.boolMetric = admin.metricCreate(metricBody("Resolved", metricValue("boolean")))
	f.numMetric = admin.metricCreate(metricBody("Empathy", metricValue("numerical", "lower_bound", 0, "upper_bound", 10)))
	f.catMetric = admin.metricCreate(metricBody("Tone", metricValue("categorical", "categories", []any{"rude", "neutral", "polite"})))
	f.boolCriterion = utCriterion("resolved", f.boolMetric, utBool(true))
	f.numCriterion = utCriterion("empathetic", f.numMetric, utNum(">=", 7))
	f.catCriterion = utCriterion("tone", f.catMetric, utCat("polite", "neutral"))
	return f
}

// body is a valid create-unit-test body named name, judged by the boolean
// metric alone.
func (f *utFixture) body(name string) map[string]any {
	return map[string]any{
		"name": name, "description": "Checks " + name + ".", "service_id": f.svc, "service_version_set_name": "release",
		"persona_id": f.persona, "scenario_id": f.scenario, "max_interactions": 10,
		"success_criterions": []any{f.boolCriterion}, "tags": map[string]any{},
	}
}

// utWith returns a copy of body with the fields given in pairs replaced
// (a nil value is kept as JSON null); "-field" removes field.
func utWith(body map[string]any, fields ...any) map[string]any {
	out := map[string]any{}
	for k, v := range body {
		out[k] = v
	}
	for i := 0; i+1 < len(fields); i += 2 {
		k := fields[i].(string)
		if strings.HasPrefix(k, "-") {
			delete(out, k[1:])
			continue
		}
		out[k] = fields[i+1]
	}
	return out
}

func utCriterion(name, metricID string, criterion map[string]any) map[string]any {
	return map[string]any{"name": name, "metric_id": metricID, "criterion": criterion}
}

func utBool(v bool) map[string]any { return map[string]any{"type": "boolean", "expected_value": v} }

func utNum(verb string, threshold any) map[string]any {
	return map[string]any{"type": "numerical", "verb": verb, "threshold": threshold}
}

func utCat(values ...any) map[string]any {
	return map[string]any{"type": "categorical", "expected_values": values}
}

func (c *client) utPersona(name string) string {
	c.t.Helper()
	status, body := c.do("POST", "/simulation/persona/", map[string]any{
		"name": name, "role": "Customer", "tags": map[string]any{},
		"initial_version": map[string]any{"background": "A customer called " + name + ".", "user_models": []any{},
			"nonsensitive_user_variables": map[string]any{}, "sensitive_user_variables": map[string]any{}},
	})
	mustStatus(c.t, "create persona "+name, status, http.StatusCreated, body)
	return body["simulation_persona_id"].(string)
}

func (c *client) utScenario(name string) string {
	c.t.Helper()
	status, body := c.do("POST", "/simulation/scenario/", map[string]any{
		"name": name, "tags": map[string]any{},
		"initial_version": map[string]any{"objective": "Get " + name + " done.", "instructions": "Be brief.",
			"initial_message_type": "user-message", "conversation_starts_at": nil},
	})
	mustStatus(c.t, "create scenario "+name, status, http.StatusCreated, body)
	return body["simulation_scenario_id"].(string)
}

func (c *client) utCreate(body map[string]any) string {
	c.t.Helper()
	status, resp := c.do("POST", "/simulation/unit_test/", body)
	mustStatus(c.t, fmt.Sprintf("create unit test %v", body["name"]), status, http.StatusCreated, resp)
	if len(resp) != 1 {
		c.t.Errorf("create unit test answer: %v", resp)
	}
	return resp["simulation_unit_test_id"].(string)
}

// simList lists what the client sees at path with query: the items in
// field, and the whole answer.
func (c *client) simList(path, field, query string) ([]map[string]any, map[string]any) {
	c.t.Helper()
	status, body := c.do("GET", path+query, nil)
	mustStatus(c.t, "get "+path+query, status, http.StatusOK, body)
	return behaviorItems(body, field), body
}

// simOne reads one record, deleted or not, through its listing at path.
func (c *client) simOne(path, field, id string) map[string]any {
	c.t.Helper()
	items, body := c.simList(path, field, "?id="+id)
	if len(items) != 1 {
		c.t.Fatalf("%s%s: %v", path, id, body)
	}
	return items[0]
}

// utList lists the unit tests the client sees with query and returns them
// with the whole answer.
func (c *client) utList(query string) ([]map[string]any, map[string]any) {
	c.t.Helper()
	return c.simList("/simulation/unit_test/", "simulation_unit_tests", query)
}

// utGet reads one unit test, deleted or not, through the listing.
func (c *client) utGet(id string) map[string]any {
	c.t.Helper()
	return c.simOne("/simulation/unit_test/", "simulation_unit_tests", id)
}

func (c *client) utCount() int {
	c.t.Helper()
	us, _ := c.utList("?limit=500")
	return len(us)
}

func (c *client) utSearch(query string) []map[string]any {
	c.t.Helper()
	found, _ := c.simList("/simulation/unit_test/search/", "simulation_unit_tests", query)
	return found
}

func utRun(id string, count int) map[string]any {
	return map[string]any{"unit_test_id": id, "run_count": count}
}

// utSetBody is a create-unit-test-set body; description may be nil.
func utSetBody(name string, description any, runs ...map[string]any) map[string]any {
	rs := make([]any, len(runs))
	for i, r := range runs {
		rs[i] = r
	}
	return map[string]any{"name": name, "description": description, "unit_test_runs": rs, "tags": map[string]any{}}
}

func (c *client) utSetCreate(body map[string]any) string {
	c.t.Helper()
	status, resp := c.do("POST", "/simulation/unit_test_set/", body)
	mustStatus(c.t, fmt.Sprintf("create unit test set %v", body["name"]), status, http.StatusCreated, resp)
	if len(resp) != 1 {
		c.t.Errorf("create unit test set answer: %v", resp)
	}
	return resp["simulation_unit_test_set_id"].(string)
}

func (c *client) utSets(query string) ([]map[string]any, map[string]any) {
	c.t.Helper()
	return c.simList("/simulation/unit_test_set/", "simulation_unit_test_sets", query)
}

func (c *client) utSetGet(id string) map[string]any {
	c.t.Helper()
	return c.simOne("/simulation/unit_test_set/", "simulation_unit_test_sets", id)
}

func (c *client) utSetCount() int {
	c.t.Helper()
	sets, _ := c.utSets("?limit=20")
	return len(sets)
}

func (c *client) utSetSearch(query string) []map[string]any {
	c.t.Helper()
	found, _ := c.simList("/simulation/unit_test_set/search/", "simulation_unit_test_sets", query)
	return found
}

// utNames names each item by names[its id], comma-separated; idKey is "id"
// for listings and "_id" for searches. sorted sorts the names first, for
// searches whose relevance order is not what a test checks.
func utNames(items []map[string]any, idKey string, names map[string]string, sorted bool) string {
	out := []string{}
	for _, it := range items {
		n, ok := names[fmt.Sprint(it[idKey])]
		if !ok {
			n = "?" + fmt.Sprint(it[idKey])
		}
		out = append(out, n)
	}
	if sorted {
		slices.Sort(out)
	}
	return strings.Join(out, ",")
}

// utSorted is the IDs in the order filter_values lists them.
func utSorted(ids ...string) string {
	s := slices.Clone(ids)
	slices.Sort(s)
	return fmt.Sprint(s)
}

// utMarkPersonaDeleted marks a persona deleted behind the API's back. The
// API refuses to delete a persona a live unit test names, yet the store
// deliberately checks only changed references on update so that such a
// persona (deleted by an older release, or by a restore of old data)
// blocks no other change; writing the row directly is the only way to set
// that state up.
func utMarkPersonaDeleted(t *testing.T, srv *compadretest.Server, id string) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(srv.DataDir, app.DatabaseFile)+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	res, err := db.Exec(`UPDATE simulation_personas SET is_deleted = 1 WHERE id = ?`, id)
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		t.Fatalf("marking persona %s deleted changed %d rows", id, n)
	}
}

// utVersionSet adds a version set that follows the newest versions to a
// service.
func (c *client) utVersionSet(serviceID, name string) {
	c.t.Helper()
	status, body := c.do("PUT", "/service/"+serviceID+"/version_sets/"+name+"/", map[string]any{"version_set": map[string]any{
		"agent_version_number": nil, "service_hierarchical_state_machine_version_number": nil, "llm_model_preferences": map[string]any{}}})
	mustStatus(c.t, "create version set "+name, status, http.StatusNoContent, body)
}

// utRoleClient makes a role holding perms (for the whole organization) and
// returns a client for a new user holding it.
func (c *client) utRoleClient(role string, perms ...string) *client {
	c.t.Helper()
	grants := make([]map[string]any, len(perms))
	for i, p := range perms {
		grants[i] = grant(p, nil)
	}
	c.newRole(role, grants...)
	return c.keyFor(c.newUser(strings.ToLower(role)+"@example.com", role), role)
}

func TestSimulationUnitTestCreateAndRead(t *testing.T) {
	t.Parallel()
	f := utSetup(t)
	// A criterion carries only the fields of its type: the others are
	// dropped, not stored.
	boolWithExtras := utCriterion("  resolved  ", f.boolMetric, map[string]any{"type": "boolean", "expected_value": false,
		"verb": "=~", "threshold": 3, "expected_values": []any{"x"}})
	numWithExtras := utCriterion("empathetic", f.numMetric, map[string]any{"type": "numerical", "verb": "<", "threshold": 2.5,
		"expected_value": true})
	catWithExtras := utCriterion("tone", f.catMetric, map[string]any{"type": "categorical", "expected_values": []any{"polite"},
		"threshold": 1})
	body := utWith(f.body(" Refund flow "), "description", "  Refunds are explained.  ", "max_interactions", 25,
		"success_criterions", []any{boolWithExtras, numWithExtras, catWithExtras},
		"tags", map[string]any{"team": "billing", "draft": nil, "any-chars: ok": "yes!"})
	id := f.admin.utCreate(body)
	if !store.IsID(id) {
		t.Fatalf("unit test ID %q", id)
	}

	u := f.admin.utGet(id)
	creator := u["creator"].(map[string]any)
	if u["id"] != id || u["org_id"] != f.srv.Organization || u["name"] != "Refund flow" ||
		u["description"] != "Refunds are explained." || u["service_id"] != f.svc || u["service_version_set_name"] != "release" ||
		u["persona_id"] != f.persona || u["scenario_id"] != f.scenario || u["max_interactions"] != float64(25) ||
		u["is_deleted"] != false || creator["org_id"] != f.srv.Organization || creator["user_id"] != f.srv.UserID ||
		fmt.Sprint(u["updated_by"]) != fmt.Sprint(u["creator"]) || u["created_at"] == nil || u["created_at"] != u["updated_at"] {
		t.Errorf("unit test: %v", u)
	}
	wantCriteria := fmt.Sprintf("[map[criterion:map[expected_value:false type:boolean] metric_id:%s name:resolved] "+
		"map[criterion:map[threshold:2.5 type:numerical verb:<] metric_id:%s name:empathetic] "+
		"map[criterion:map[expected_values:[polite] type:categorical] metric_id:%s name:tone]]", f.boolMetric, f.numMetric, f.catMetric)
	if got := fmt.Sprint(u["success_criterions"]); got != wantCriteria {
		t.Errorf("success_criterions:\n got %s\nwant %s", got, wantCriteria)
	}
	// Tags are a list of {key, value}, in key order, a null value kept;
	// unlike personas' tags, any characters are allowed.
	if got := fmt.Sprint(u["tags"]); got != "[map[key:any-chars: ok value:yes!] map[key:draft value:<nil>] map[key:team value:billing]]" {
		t.Errorf("tags: %s", got)
	}
	if _, ok := u["run_count"]; ok {
		t.Errorf("a unit test carries a run_count, which belongs to sets: %v", u)
	}

	// max_interactions at its edges, 1 and 100, is accepted.
	for _, n := range []int{1, 100} {
		id := f.admin.utCreate(utWith(f.body(fmt.Sprintf("Edge %d", n)), "max_interactions", n))
		if got := f.admin.utGet(id)["max_interactions"]; got != float64(n) {
			t.Errorf("max_interactions %d read back as %v", n, got)
		}
	}
	if n := f.admin.utCount(); n != 3 {
		t.Errorf("%d unit tests stored, want 3", n)
	}
}

func TestSimulationUnitTestCreateRefusals(t *testing.T) {
	t.Parallel()
	f := utSetup(t)
	admin := f.admin
	// Records that existed and were deleted: they cannot be used anew.
	gonePersona := admin.utPersona("Gone persona")
	goneScenario := admin.utScenario("Gone scenario")
	goneMetric := admin.metricCreate(metricBody("Gone metric", metricValue("boolean")))
	for _, path := range []string{"/simulation/persona/" + gonePersona + "/", "/simulation/scenario/" + goneScenario + "/"} {
		status, body := admin.do("DELETE", path, nil)
		mustStatus(t, "delete "+path, status, http.StatusNoContent, body)
	}
	status, body := admin.do("DELETE", "/metric/"+goneMetric+"/", nil)
	mustStatus(t, "delete metric", status, http.StatusOK, body)
	// Another organization's records are as good as missing.
	beta, betaUser := betaOrg(t, f.srv, admin)
	betaSvc := behaviorService(t, f.srv, "beta", betaUser, "beta_support")
	betaPersona := beta.utPersona("Beta persona")

	existing := admin.utCreate(f.body("Taken"))
	missing := store.NewID()
	b := f.body("New")
	criteria := func(cs ...any) []any { return cs }
	tests := []struct {
		name   string
		body   map[string]any
		want   int
		detail string // a part of the error's detail, for 400, 404 and 409
	}{
		{"unknown service", utWith(b, "service_id", missing), http.StatusNotFound, missing},
		{"another organization's service", utWith(b, "service_id", betaSvc), http.StatusNotFound, betaSvc},
		{"unknown version set", utWith(b, "service_version_set_name", "nightly"), http.StatusNotFound, "nightly"},
		{"unknown persona", utWith(b, "persona_id", missing), http.StatusNotFound, missing},
		{"another organization's persona", utWith(b, "persona_id", betaPersona), http.StatusNotFound, betaPersona},
		{"unknown scenario", utWith(b, "scenario_id", missing), http.StatusNotFound, missing},
		{"unknown metric", utWith(b, "success_criterions", criteria(f.boolCriterion, utCriterion("x", missing, utBool(true)))),
			http.StatusNotFound, missing},
		{"boolean criterion of a numerical metric", utWith(b, "success_criterions", criteria(utCriterion("x", f.numMetric, utBool(true)))),
			http.StatusBadRequest, f.numMetric},
		{"numerical criterion of a categorical metric", utWith(b, "success_criterions", criteria(utCriterion("x", f.catMetric, utNum("==", 1)))),
			http.StatusBadRequest, "categorical"},
		{"categorical criterion of a boolean metric", utWith(b, "success_criterions", criteria(utCriterion("x", f.boolMetric, utCat("a")))),
			http.StatusBadRequest, "boolean"},
		{"deleted persona", utWith(b, "persona_id", gonePersona), http.StatusBadRequest, gonePersona},
		{"deleted scenario", utWith(b, "scenario_id", goneScenario), http.StatusBadRequest, goneScenario},
		{"deleted metric", utWith(b, "success_criterions", criteria(utCriterion("x", goneMetric, utBool(true)))),
			http.StatusBadRequest, goneMetric},
		{"live name", utWith(b, "name", "Taken"), http.StatusConflict, "Taken"},
		{"live name with spaces around", utWith(b, "name", "  Taken "), http.StatusConflict, "Taken"},
		{"max_interactions 0", utWith(b, "max_interactions", 0), http.StatusUnprocessableEntity, ""},
		{"max_interactions 101", utWith(b, "max_interactions", 101), http.StatusUnprocessableEntity, ""},
		{"no success criteria", utWith(b, "success_criterions", []any{}), http.StatusUnprocessableEntity, ""},
		{"numerical criterion without threshold", utWith(b, "success_criterions", criteria(utCriterion("x", f.numMetric,
			map[string]any{"type": "numerical", "verb": ">"}))), http.StatusUnprocessableEntity, ""},
		{"numerical criterion with verb =~", utWith(b, "success_criterions", criteria(utCriterion("x", f.numMetric, utNum("=~", 1)))),
			http.StatusUnprocessableEntity, ""},
		{"categorical criterion without expected_values", utWith(b, "success_criterions", criteria(utCriterion("x", f.catMetric,
			map[string]any{"type": "categorical"}))), http.StatusUnprocessableEntity, ""},
		{"categorical criterion with empty expected_values", utWith(b, "success_criterions", criteria(utCriterion("x", f.catMetric, utCat()))),
			http.StatusUnprocessableEntity, ""},
		{"boolean criterion without expected_value", utWith(b, "success_criterions", criteria(utCriterion("x", f.boolMetric,
			map[string]any{"type": "boolean"}))), http.StatusUnprocessableEntity, ""},
		{"criterion of an unknown type", utWith(b, "success_criterions", criteria(utCriterion("x", f.boolMetric,
			map[string]any{"type": "text"}))), http.StatusUnprocessableEntity, ""},
		{"two criteria of one name", utWith(b, "success_criterions", criteria(f.boolCriterion,
			utCriterion(" resolved", f.numMetric, utNum(">", 1)))), http.StatusBadRequest, "resolved"},
		{"malformed metric ID", utWith(b, "success_criterions", criteria(utCriterion("x", "metric", utBool(true)))),
			http.StatusUnprocessableEntity, ""},
		{"malformed persona ID", utWith(b, "persona_id", "persona"), http.StatusUnprocessableEntity, ""},
		{"blank name", utWith(b, "name", "  "), http.StatusUnprocessableEntity, ""},
		{"blank description", utWith(b, "description", " "), http.StatusUnprocessableEntity, ""},
		{"no description", utWith(b, "-description", nil), http.StatusUnprocessableEntity, ""},
		{"no tags", utWith(b, "-tags", nil), http.StatusUnprocessableEntity, ""},
		{"no version set name", utWith(b, "-service_version_set_name", nil), http.StatusUnprocessableEntity, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, body := admin.do("POST", "/simulation/unit_test/", tc.body)
			mustStatus(t, tc.name, status, tc.want, body)
			if tc.detail != "" && !strings.Contains(detail(body), tc.detail) {
				t.Errorf("detail %q does not name %q", detail(body), tc.detail)
			}
			// Nothing is stored on a refusal.
			if n := admin.utCount(); n != 1 {
				t.Errorf("%d unit tests stored, want 1", n)
			}
		})
	}

	// A deleted unit test frees its name.
	status, body = admin.do("DELETE", "/simulation/unit_test/"+existing+"/", nil)
	mustStatus(t, "delete Taken", status, http.StatusNoContent, body)
	again := admin.utCreate(f.body("Taken"))
	live, _ := admin.utList("?is_deleted=false")
	if len(live) != 1 || live[0]["id"] != again || live[0]["name"] != "Taken" {
		t.Errorf("live unit tests after reusing the name: %v", live)
	}
	if old := admin.utGet(existing); old["is_deleted"] != true || old["name"] != "Taken" {
		t.Errorf("the deleted unit test: %v", old)
	}
}

func TestSimulationUnitTestUpdate(t *testing.T) {
	t.Parallel()
	f := utSetup(t)
	admin := f.admin
	svc2 := behaviorService(t, f.srv, f.srv.Organization, f.srv.UserID, "billing")
	admin.utVersionSet(svc2, "beta")
	persona2 := admin.utPersona("Patient customer")
	scenario2 := admin.utScenario("Address change")
	gonePersona := admin.utPersona("Gone persona")
	goneScenario := admin.utScenario("Gone scenario")
	goneMetric := admin.metricCreate(metricBody("Gone metric", metricValue("boolean")))
	for _, path := range []string{"/simulation/persona/" + gonePersona + "/", "/simulation/scenario/" + goneScenario + "/", "/metric/" + goneMetric + "/"} {
		status, body := admin.do("DELETE", path, nil)
		if status != http.StatusNoContent && status != http.StatusOK {
			t.Fatalf("delete %s: %d %v", path, status, body)
		}
	}
	editorID := admin.newUser("editor@example.com", "DefaultSuperAdministratorRole")
	editor := admin.keyFor(editorID, "DefaultSuperAdministratorRole")

	id := admin.utCreate(utWith(f.body("Refund flow"), "tags", map[string]any{"team": "billing"}))
	created := admin.utGet(id)
	path := "/simulation/unit_test/" + id + "/"

	// Each step changes one thing (or nothing) and the unit test reads
	// back with exactly that change; the clock moves so that updated_at
	// must move too.
	want := created
	steps := []struct {
		name   string
		body   map[string]any
		change map[string]any
	}{
		{"description", map[string]any{"description": "  A new description.  "}, map[string]any{"description": "A new description."}},
		{"service, keeping the version set", map[string]any{"service_id": svc2}, map[string]any{"service_id": svc2}},
		{"version set", map[string]any{"service_version_set_name": "beta"}, map[string]any{"service_version_set_name": "beta"}},
		{"service and version set together", map[string]any{"service_id": f.svc, "service_version_set_name": "edge"},
			map[string]any{"service_id": f.svc, "service_version_set_name": "edge"}},
		{"persona", map[string]any{"persona_id": persona2}, map[string]any{"persona_id": persona2}},
		{"scenario", map[string]any{"scenario_id": scenario2}, map[string]any{"scenario_id": scenario2}},
		{"max_interactions 100", map[string]any{"max_interactions": 100}, map[string]any{"max_interactions": float64(100)}},
		{"max_interactions 1", map[string]any{"max_interactions": 1}, map[string]any{"max_interactions": float64(1)}},
		{"success criteria replaced", map[string]any{"success_criterions": []any{f.numCriterion, f.catCriterion}},
			map[string]any{"success_criterions": fmt.Sprintf("[map[criterion:map[threshold:7 type:numerical verb:>=] metric_id:%s name:empathetic] "+
				"map[criterion:map[expected_values:[polite neutral] type:categorical] metric_id:%s name:tone]]", f.numMetric, f.catMetric)}},
		{"tags replaced", map[string]any{"tags": map[string]any{"stage": nil}}, map[string]any{"tags": "[map[key:stage value:<nil>]]"}},
		{"tags emptied", map[string]any{"tags": map[string]any{}}, map[string]any{"tags": "[]"}},
		{"every field null", map[string]any{"description": nil, "service_id": nil, "service_version_set_name": nil, "persona_id": nil,
			"scenario_id": nil, "max_interactions": nil, "success_criterions": nil, "run_count": nil, "tags": nil}, nil},
		{"nothing", map[string]any{}, nil},
		// run_count is accepted and ignored: run counts are the sets'.
		{"run_count", map[string]any{"run_count": 5}, nil},
		// There is no name field: one given is ignored like any unknown field.
		{"name", map[string]any{"name": "Renamed"}, nil},
	}
	for _, step := range steps {
		f.clock.advance(time.Second)
		status, body := admin.do("POST", path, step.body)
		mustStatus(t, step.name, status, http.StatusNoContent, body)
		got := admin.utGet(id)
		for k, v := range step.change {
			if s, ok := v.(string); ok && (k == "success_criterions" || k == "tags") {
				if fmt.Sprint(got[k]) != s {
					t.Errorf("%s: %s is %v, want %s", step.name, k, got[k], s)
				}
			} else if got[k] != v {
				t.Errorf("%s: %s is %v, want %v", step.name, k, got[k], v)
			}
			want[k] = got[k]
		}
		for _, k := range []string{"id", "org_id", "name", "description", "service_id", "service_version_set_name", "persona_id",
			"scenario_id", "max_interactions", "success_criterions", "is_deleted", "tags", "creator", "created_at"} {
			if fmt.Sprint(got[k]) != fmt.Sprint(want[k]) {
				t.Errorf("%s: %s changed from %v to %v", step.name, k, want[k], got[k])
			}
		}
		if step.change != nil && got["updated_at"] == want["updated_at"] {
			t.Errorf("%s: updated_at did not move from %v", step.name, want["updated_at"])
		}
		want["updated_at"] = got["updated_at"]
		if _, ok := got["run_count"]; ok {
			t.Errorf("%s: a run_count is stored: %v", step.name, got)
		}
	}
	if want["name"] != "Refund flow" {
		t.Errorf("name changed to %v", want["name"])
	}

	// Another user's change is recorded as theirs; the creator stays.
	status, body := editor.do("POST", path, map[string]any{"description": "Edited by the editor."})
	mustStatus(t, "editor's update", status, http.StatusNoContent, body)
	got := admin.utGet(id)
	if got["updated_by"].(map[string]any)["user_id"] != editorID || got["creator"].(map[string]any)["user_id"] != f.srv.UserID {
		t.Errorf("after the editor's update: %v", got)
	}
	want = got

	// Changed references are checked as on creation; nothing changes on a
	// refusal.
	missing := store.NewID()
	refused := []struct {
		name   string
		body   map[string]any
		want   int
		detail string
	}{
		{"unknown service", map[string]any{"service_id": missing}, http.StatusNotFound, missing},
		{"a service without the version set", map[string]any{"service_version_set_name": "beta"}, http.StatusNotFound, "beta"},
		{"unknown version set", map[string]any{"service_id": svc2, "service_version_set_name": "nightly"}, http.StatusNotFound, "nightly"},
		{"unknown persona", map[string]any{"persona_id": missing}, http.StatusNotFound, missing},
		{"unknown scenario", map[string]any{"scenario_id": missing}, http.StatusNotFound, missing},
		{"unknown metric", map[string]any{"success_criterions": []any{utCriterion("x", missing, utBool(true))}}, http.StatusNotFound, missing},
		{"criterion of another type", map[string]any{"success_criterions": []any{utCriterion("x", f.catMetric, utBool(true))}},
			http.StatusBadRequest, f.catMetric},
		{"deleted persona", map[string]any{"persona_id": gonePersona}, http.StatusBadRequest, gonePersona},
		{"deleted scenario", map[string]any{"scenario_id": goneScenario}, http.StatusBadRequest, goneScenario},
		{"deleted metric", map[string]any{"success_criterions": []any{utCriterion("x", goneMetric, utBool(true))}},
			http.StatusBadRequest, goneMetric},
		{"a good field with a bad one", map[string]any{"description": "Never stored.", "persona_id": missing}, http.StatusNotFound, missing},
		{"max_interactions 0", map[string]any{"max_interactions": 0}, http.StatusUnprocessableEntity, ""},
		{"max_interactions 101", map[string]any{"max_interactions": 101}, http.StatusUnprocessableEntity, ""},
		{"no success criteria", map[string]any{"success_criterions": []any{}}, http.StatusUnprocessableEntity, ""},
		{"verb =~", map[string]any{"success_criterions": []any{utCriterion("x", f.numMetric, utNum("=~", 1))}}, http.StatusUnprocessableEntity, ""},
		{"run_count 0", map[string]any{"run_count": 0}, http.StatusUnprocessableEntity, ""},
		{"run_count 101", map[string]any{"run_count": 101}, http.StatusUnprocessableEntity, ""},
		{"blank description", map[string]any{"description": "  "}, http.StatusUnprocessableEntity, ""},
		{"malformed persona ID", map[string]any{"persona_id": "p"}, http.StatusUnprocessableEntity, ""},
	}
	for _, tc := range refused {
		t.Run(tc.name, func(t *testing.T) {
			status, body := admin.do("POST", path, tc.body)
			mustStatus(t, tc.name, status, tc.want, body)
			if tc.detail != "" && !strings.Contains(detail(body), tc.detail) {
				t.Errorf("detail %q does not name %q", detail(body), tc.detail)
			}
			if got := admin.utGet(id); fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("changed by a refused update:\n got %v\nwant %v", got, want)
			}
		})
	}

	// A record deleted after the unit test was made blocks none of its
	// other changes: a version set deleted through the API, and a persona
	// (which the API never lets go while a live unit test names it).
	status, body = admin.do("POST", path, map[string]any{"service_id": svc2, "service_version_set_name": "beta"})
	mustStatus(t, "move to beta", status, http.StatusNoContent, body)
	status, body = admin.do("DELETE", "/service/"+svc2+"/version_sets/beta/", nil)
	mustStatus(t, "delete version set beta", status, http.StatusNoContent, body)
	utMarkPersonaDeleted(t, f.srv, persona2)
	status, body = admin.do("POST", path, map[string]any{"description": "Still editable.", "max_interactions": 7})
	mustStatus(t, "update with a deleted persona and version set", status, http.StatusNoContent, body)
	if got := admin.utGet(id); got["description"] != "Still editable." || got["max_interactions"] != float64(7) ||
		got["persona_id"] != persona2 || got["service_version_set_name"] != "beta" {
		t.Errorf("after updating around deleted references: %v", got)
	}
	// Once left, they cannot be named anew.
	status, body = admin.do("POST", path, map[string]any{"service_version_set_name": "release", "persona_id": f.persona})
	mustStatus(t, "leave the deleted persona and version set", status, http.StatusNoContent, body)
	status, body = admin.do("POST", path, map[string]any{"persona_id": persona2})
	mustStatus(t, "name the deleted persona anew", status, http.StatusBadRequest, body)
	status, body = admin.do("POST", path, map[string]any{"service_version_set_name": "beta"})
	mustStatus(t, "name the deleted version set anew", status, http.StatusNotFound, body)
	if got := admin.utGet(id); got["persona_id"] != f.persona || got["service_version_set_name"] != "release" {
		t.Errorf("after naming deleted records anew: %v", got)
	}

	// Unknown and deleted unit tests cannot change.
	status, body = admin.do("POST", "/simulation/unit_test/"+missing+"/", map[string]any{"description": "x"})
	mustStatus(t, "update an unknown unit test", status, http.StatusNotFound, body)
	status, body = admin.do("POST", "/simulation/unit_test/not-an-id/", map[string]any{"description": "x"})
	mustStatus(t, "update a malformed ID", status, http.StatusUnprocessableEntity, body)
	status, body = admin.do("DELETE", path, nil)
	mustStatus(t, "delete", status, http.StatusNoContent, body)
	status, body = admin.do("POST", path, map[string]any{"description": "Too late."})
	mustStatus(t, "update a deleted unit test", status, http.StatusNotFound, body)
	if got := admin.utGet(id); got["description"] != "Still editable." || got["is_deleted"] != true {
		t.Errorf("deleted unit test after a refused update: %v", got)
	}
}

func TestSimulationUnitTestDelete(t *testing.T) {
	t.Parallel()
	f := utSetup(t)
	admin := f.admin
	id := admin.utCreate(f.body("Refund flow"))
	other := admin.utCreate(f.body("Shipping"))
	path := "/simulation/unit_test/" + id + "/"

	// A persona or scenario a live unit test names cannot be deleted.
	for _, p := range []string{"/simulation/persona/" + f.persona + "/", "/simulation/scenario/" + f.scenario + "/"} {
		status, body := admin.do("DELETE", p, nil)
		mustStatus(t, "delete "+p+" in use", status, http.StatusBadRequest, body)
		if !strings.Contains(detail(body), id) {
			t.Errorf("%s: detail %q does not name the unit test", p, detail(body))
		}
	}

	// A live set using the unit test keeps it live.
	setID := admin.utSetCreate(utSetBody("Nightly", nil, utRun(id, 2)))
	status, body := admin.do("DELETE", path, nil)
	mustStatus(t, "delete a unit test a set uses", status, http.StatusBadRequest, body)
	if !strings.Contains(detail(body), setID) {
		t.Errorf("detail %q does not name the set", detail(body))
	}
	if u := admin.utGet(id); u["is_deleted"] != false {
		t.Errorf("after the refused delete: %v", u)
	}
	status, body = admin.do("DELETE", "/simulation/unit_test_set/"+setID, nil)
	mustStatus(t, "delete the set", status, http.StatusNoContent, body)

	status, body = admin.do("DELETE", path, nil)
	mustStatus(t, "delete", status, http.StatusNoContent, body)
	if len(body) != 0 {
		t.Errorf("delete answer: %v", body)
	}
	deleted, _ := admin.utList("?is_deleted=true")
	if len(deleted) != 1 || deleted[0]["id"] != id || deleted[0]["is_deleted"] != true || deleted[0]["name"] != "Refund flow" {
		t.Errorf("deleted unit tests: %v", deleted)
	}
	if u := deleted[0]; u["updated_at"] == nil || u["updated_by"].(map[string]any)["user_id"] != f.srv.UserID {
		t.Errorf("deleted unit test: %v", u)
	}
	live, _ := admin.utList("?is_deleted=false")
	if len(live) != 1 || live[0]["id"] != other {
		t.Errorf("live unit tests: %v", live)
	}
	// Without is_deleted, both are listed.
	if all, _ := admin.utList(""); len(all) != 2 {
		t.Errorf("all unit tests: %v", all)
	}
	status, body = admin.do("DELETE", path, nil)
	mustStatus(t, "delete again", status, http.StatusNotFound, body)
	status, body = admin.do("DELETE", "/simulation/unit_test/"+store.NewID()+"/", nil)
	mustStatus(t, "delete an unknown unit test", status, http.StatusNotFound, body)
	status, body = admin.do("DELETE", "/simulation/unit_test/xyz/", nil)
	mustStatus(t, "delete a malformed ID", status, http.StatusUnprocessableEntity, body)

	// A deleted unit test no longer holds its persona: only `other` does.
	status, body = admin.do("DELETE", "/simulation/persona/"+f.persona+"/", nil)
	mustStatus(t, "delete a persona only `other` uses", status, http.StatusBadRequest, body)
	if d := detail(body); !strings.Contains(d, other) || strings.Contains(d, id) {
		t.Errorf("persona in use by: %q", d)
	}
	status, body = admin.do("DELETE", "/simulation/unit_test/"+other+"/", nil)
	mustStatus(t, "delete other", status, http.StatusNoContent, body)
	status, body = admin.do("DELETE", "/simulation/persona/"+f.persona+"/", nil)
	mustStatus(t, "delete the persona no live unit test uses", status, http.StatusNoContent, body)
}

func TestSimulationUnitTestMetricInUse(t *testing.T) {
	t.Parallel()
	f := utSetup(t)
	admin := f.admin
	first := admin.utCreate(utWith(f.body("First"), "success_criterions", []any{f.boolCriterion, f.numCriterion}))
	second := admin.utCreate(utWith(f.body("Second"), "success_criterions", []any{f.numCriterion}))
	metricPath := "/metric/" + f.numMetric + "/"

	status, body := admin.do("DELETE", metricPath, nil)
	mustStatus(t, "delete a metric two unit tests use", status, http.StatusBadRequest, body)
	if d := detail(body); !strings.Contains(d, first) || !strings.Contains(d, second) {
		t.Errorf("detail %q does not name both unit tests", d)
	}
	if ms, _ := admin.metrics("?id=" + f.numMetric); len(ms) != 1 || ms[0]["is_deleted"] != false {
		t.Errorf("metric after the refused delete: %v", ms)
	}

	status, body = admin.do("DELETE", "/simulation/unit_test/"+first+"/", nil)
	mustStatus(t, "delete first", status, http.StatusNoContent, body)
	status, body = admin.do("DELETE", metricPath, nil)
	mustStatus(t, "delete a metric one unit test uses", status, http.StatusBadRequest, body)
	if d := detail(body); strings.Contains(d, first) || !strings.Contains(d, second) {
		t.Errorf("detail %q should name only the live unit test %s", d, second)
	}

	// A unit test that stops using the metric frees it too.
	status, body = admin.do("POST", "/simulation/unit_test/"+second+"/", map[string]any{"success_criterions": []any{f.catCriterion}})
	mustStatus(t, "move second to another metric", status, http.StatusNoContent, body)
	status, body = admin.do("DELETE", metricPath, nil)
	mustStatus(t, "delete the metric no live unit test uses", status, http.StatusOK, body)
	if ms, _ := admin.metrics("?id=" + f.numMetric + "&is_deleted=true"); len(ms) != 1 || ms[0]["is_deleted"] != true {
		t.Errorf("metric after delete: %v", ms)
	}

	// The boolean metric was used only by the now-deleted first.
	status, body = admin.do("DELETE", "/metric/"+f.boolMetric+"/", nil)
	mustStatus(t, "delete a metric only a deleted unit test used", status, http.StatusOK, body)
}

func TestSimulationUnitTestListing(t *testing.T) {
	t.Parallel()
	f := utSetup(t)
	admin := f.admin
	org, me := f.srv.Organization, f.srv.UserID
	svcB := behaviorService(t, f.srv, org, me, "billing")
	personaB := admin.utPersona("Patient customer")
	scenarioB := admin.utScenario("Address change")
	editorID := admin.newUser("editor@example.com", "DefaultSuperAdministratorRole")
	editor := admin.keyFor(editorID, "DefaultSuperAdministratorRole")

	mk := func(c *client, name, svc, versionSet, persona, scenario string, criteria []any, tags map[string]any) string {
		f.clock.advance(time.Second)
		return c.utCreate(utWith(f.body(name), "service_id", svc, "service_version_set_name", versionSet, "persona_id", persona,
			"scenario_id", scenario, "success_criterions", criteria, "tags", tags))
	}
	a := mk(admin, "A", f.svc, "release", f.persona, f.scenario, []any{f.boolCriterion}, map[string]any{"team": "billing", "flag": nil})
	b := mk(admin, "B", svcB, "release", personaB, f.scenario, []any{f.numCriterion}, map[string]any{"team": "support"})
	c := mk(editor, "C", f.svc, "edge", f.persona, scenarioB, []any{f.boolCriterion, f.catCriterion}, map[string]any{})
	d := mk(admin, "D", svcB, "release", personaB, scenarioB, []any{f.catCriterion}, map[string]any{"team": "gone"})
	names := map[string]string{a: "A", b: "B", c: "C", d: "D"}
	touch := func(id string, body map[string]any) {
		t.Helper()
		f.clock.advance(time.Second)
		method := "POST"
		if body == nil {
			method = "DELETE"
		}
		status, resp := admin.do(method, "/simulation/unit_test/"+id+"/", body)
		mustStatus(t, "touch "+names[id], status, http.StatusNoContent, resp)
	}
	// Last updated: B, then A, then D (deleted), then C.
	touch(d, nil)
	touch(a, map[string]any{"description": "Touched."})
	touch(b, map[string]any{"description": "Touched."})

	tests := []struct{ query, want string }{
		{"", "A,B,C,D"},
		{"?is_deleted=false", "A,B,C"},
		{"?is_deleted=true", "D"},
		{"?id=" + c + "&id=" + a, "A,C"},
		{"?id=" + d, "D"},
		{"?id=" + d + "&is_deleted=false", ""},
		{"?id=" + store.NewID(), ""},
		{"?service_id=" + f.svc, "A,C"},
		{"?service_id=" + f.svc + "&service_id=" + svcB + "&is_deleted=false", "A,B,C"},
		{"?persona_id=" + personaB, "B,D"},
		{"?scenario_id=" + scenarioB, "C,D"},
		{"?scenario_id=" + scenarioB + "&persona_id=" + f.persona, "C"},
		{"?metric_id=" + f.catMetric, "C,D"},
		{"?metric_id=" + f.boolMetric + "&metric_id=" + f.numMetric, "A,B,C"},
		{"?creator=" + editorID, "C"},
		{"?creator=" + org + "," + me, "A,B,D"},
		{"?creator=beta," + me, ""},
		{"?tag=team:billing", "A"},
		{"?tag=team:*", "A,B,D"},
		{"?tag=flag:", "A"},
		{"?tag=team:", ""},
		{"?tag=team:*&tag=flag:*", "A"},
		{"?sort_by=updated_at", "C,D,A,B"},
		{"?sort_by=-updated_at&is_deleted=false", "B,A,C"},
		{"?limit=2", "A,B"},
		{"?limit=2&continuation_token=2", "C,D"},
		{"?limit=1&continuation_token=3", "D"},
		{"?continuation_token=4", ""},
		{"?limit=0", ""},
		{"?limit=500", "A,B,C,D"},
	}
	for _, tc := range tests {
		t.Run(tc.query, func(t *testing.T) {
			us, _ := admin.utList(tc.query)
			if got := utNames(us, "id", names, false); got != tc.want {
				t.Errorf("got %s, want %s", got, tc.want)
			}
		})
	}
	for _, q := range []string{"?limit=501", "?limit=-1", "?continuation_token=-1", "?sort_by=name", "?sort_by=created_at",
		"?tag=nocolon", "?id=xyz", "?service_id=xyz", "?persona_id=xyz", "?scenario_id=xyz", "?metric_id=xyz",
		"?is_deleted=maybe", "?creator=,u"} {
		if status, body := admin.do("GET", "/simulation/unit_test/"+q, nil); status != http.StatusUnprocessableEntity {
			t.Errorf("%s: %d %v, want 422", q, status, body)
		}
	}

	// Paging: has_more and the token say where the next page starts, and
	// filter_values, of every matching unit test, come on page one only.
	_, page := admin.utList("?limit=1")
	fv, _ := page["filter_values"].(map[string]any)
	if page["has_more"] != true || page["continuation_token"] != float64(1) || fv == nil {
		t.Fatalf("first page: %v", page)
	}
	for k, want := range map[string]string{
		"tags":         "[flag team]",
		"service_ids":  utSorted(f.svc, svcB),
		"persona_ids":  utSorted(f.persona, personaB),
		"scenario_ids": utSorted(f.scenario, scenarioB),
		"metric_ids":   utSorted(f.boolMetric, f.numMetric, f.catMetric),
	} {
		if got := fmt.Sprint(fv[k]); got != want {
			t.Errorf("filter_values %s: %s, want %s", k, got, want)
		}
	}
	if creators := fv["creators"].([]any); len(creators) != 2 {
		t.Errorf("filter_values creators: %v", creators)
	}
	_, page = admin.utList("?limit=2&continuation_token=2")
	if page["has_more"] != false || page["continuation_token"] != nil || page["filter_values"] != nil {
		t.Errorf("last page: %v", page)
	}
	// filter_values describe the unit tests the filters select: B alone.
	for _, q := range []string{"?service_id=" + svcB + "&is_deleted=false", "?tag=team:support"} {
		t.Run("filter_values "+q, func(t *testing.T) {
			_, page := admin.utList(q)
			fv := page["filter_values"].(map[string]any)
			if fmt.Sprint(fv["tags"]) != "[team]" || fmt.Sprint(fv["service_ids"]) != "["+svcB+"]" ||
				fmt.Sprint(fv["persona_ids"]) != "["+personaB+"]" || fmt.Sprint(fv["scenario_ids"]) != "["+f.scenario+"]" ||
				fmt.Sprint(fv["metric_ids"]) != "["+f.numMetric+"]" || len(fv["creators"].([]any)) != 1 {
				t.Errorf("filtered filter_values: %v", fv)
			}
		})
	}
	_, page = admin.utList("?creator=" + editorID)
	fv = page["filter_values"].(map[string]any)
	if cs := fv["creators"].([]any); len(cs) != 1 || cs[0].(map[string]any)["user_id"] != editorID ||
		cs[0].(map[string]any)["org_id"] != org || fmt.Sprint(fv["tags"]) != "[]" {
		t.Errorf("editor's filter_values: %v", fv)
	}

	// Another organization sees none of them.
	beta, _ := betaOrg(t, f.srv, admin)
	if us, page := beta.utList(""); len(us) != 0 || len(page["filter_values"].(map[string]any)["service_ids"].([]any)) != 0 {
		t.Errorf("beta sees: %v", page)
	}
	for _, call := range []struct {
		method string
		body   any
	}{{"POST", map[string]any{"description": "stolen"}}, {"DELETE", nil}} {
		if status, body := beta.do(call.method, "/simulation/unit_test/"+a+"/", call.body); status != http.StatusNotFound {
			t.Errorf("beta %s: %d %v, want 404", call.method, status, body)
		}
	}
	if u := admin.utGet(a); u["description"] != "Touched." || u["is_deleted"] != false {
		t.Errorf("A after beta's attempts: %v", u)
	}
}

func TestSimulationUnitTestSearch(t *testing.T) {
	t.Parallel()
	f := utSetup(t)
	admin := f.admin
	svcB := behaviorService(t, f.srv, f.srv.Organization, f.srv.UserID, "billing")
	editorID := admin.newUser("editor@example.com", "DefaultSuperAdministratorRole")
	editor := admin.keyFor(editorID, "DefaultSuperAdministratorRole")

	handled := admin.utCreate(utWith(f.body("Refund handled"), "description", "The agent explains the refund policy politely."))
	shipping := admin.utCreate(utWith(f.body("Shipping delay"), "description", "The agent apologises for late parcels.",
		"success_criterions", []any{f.numCriterion}))
	damaged := editor.utCreate(utWith(f.body("Damaged goods"), "description", "Damaged goods are refunded.",
		"service_id", svcB, "tags", map[string]any{"team": "billing"}, "success_criterions", []any{f.catCriterion}))
	denied := admin.utCreate(utWith(f.body("Refund denied"), "description", "A refund is refused."))
	status, body := admin.do("DELETE", "/simulation/unit_test/"+denied+"/", nil)
	mustStatus(t, "delete denied", status, http.StatusNoContent, body)
	names := map[string]string{handled: "handled", shipping: "shipping", damaged: "damaged", denied: "denied"}

	search := func(query string) string {
		t.Helper()
		us := admin.utSearch(query)
		for _, u := range us {
			if u["_id"] == nil || u["id"] != nil || u["name"] == nil || u["description"] == nil || u["is_deleted"] != false ||
				u["success_criterions"] == nil || u["tags"] == nil || u["creator"] == nil || u["service_version_set_name"] != "release" {
				t.Errorf("search result: %v", u)
			}
		}
		return utNames(us, "_id", names, true)
	}
	tests := []struct{ query, want string }{
		{"?query=refund", "damaged,handled"},             // a name word, and a description word in another form
		{"?query=REFUNDS", "damaged,handled"},            // case and word forms do not matter
		{"?query=policy", "handled"},                     // a description word
		{"?query=refund+policy", "handled"},              // every word must match
		{"?query=parcel", "shipping"},                    // "parcels", stemmed
		{"?query=denied", ""},                            // deleted unit tests are not found
		{"?query=nothing+like+this", ""},                 //
		{"?query=%22refund", "damaged,handled"},          // quotes are not FTS syntax
		{"?query=refund&service_id=" + svcB, "damaged"},  // filters apply
		{"?query=refund&tag=team:billing", "damaged"},    //
		{"?query=refund&creator=" + editorID, "damaged"}, //
		{"?query=refund&metric_id=" + f.boolMetric, "handled"},
		{"?query=refund&persona_id=" + f.persona, "damaged,handled"},
		{"?query=refund&persona_id=" + store.NewID(), ""},
		{"?query=refund&scenario_id=" + f.scenario, "damaged,handled"},
		{"?query=agent&metric_id=" + f.numMetric, "shipping"},
	}
	for _, tc := range tests {
		t.Run(tc.query, func(t *testing.T) {
			if got := search(tc.query); got != tc.want {
				t.Errorf("search %s: got %q, want %q", tc.query, got, tc.want)
			}
		})
	}
	// A new description is searched, the old one no longer.
	status, body = admin.do("POST", "/simulation/unit_test/"+shipping+"/", map[string]any{"description": "Parcels lost in transit."})
	mustStatus(t, "update shipping", status, http.StatusNoContent, body)
	if got := search("?query=apologises"); got != "" {
		t.Errorf("old description still found: %s", got)
	}
	if got := search("?query=transit"); got != "shipping" {
		t.Errorf("new description: %s", got)
	}
	for _, q := range []string{"", "?query=", "?query=%20%20", "?query=x&service_id=xyz", "?query=x&tag=nocolon"} {
		if status, body := admin.do("GET", "/simulation/unit_test/search/"+q, nil); status != http.StatusUnprocessableEntity {
			t.Errorf("search %q: %d %v, want 422", q, status, body)
		}
	}
}

func TestSimulationUnitTestPermissions(t *testing.T) {
	t.Parallel()
	f := utSetup(t)
	admin := f.admin
	id := admin.utCreate(f.body("Refund flow"))

	// A writer without Simulation:GetSimulationUnitTest may create, but
	// its listings and searches are empty rather than refused; the
	// filter_values still count every unit test.
	writer := admin.utRoleClient("UnitTestWriter", "Simulation:CreateSimulationUnitTest",
		"Simulation:ModifySimulationUnitTest", "Simulation:DeleteSimulationUnitTest")
	f.clock.advance(time.Second) // listings order by creation: no ties
	mine := writer.utCreate(f.body("Written blind"))
	us, page := writer.utList("")
	if len(us) != 0 || page["has_more"] != false {
		t.Errorf("writer lists: %v", page)
	}
	if fv := page["filter_values"].(map[string]any); len(fv["creators"].([]any)) != 2 {
		t.Errorf("writer's filter_values: %v", fv)
	}
	if found := writer.utSearch("?query=refund"); len(found) != 0 {
		t.Errorf("writer finds: %v", found)
	}
	status, body := writer.do("POST", "/simulation/unit_test/"+id+"/", map[string]any{"description": "By the writer."})
	mustStatus(t, "writer updates", status, http.StatusNoContent, body)
	if u := admin.utGet(id); u["description"] != "By the writer." {
		t.Errorf("after the writer's update: %v", u)
	}

	// A reader sees everything but can change nothing.
	reader := admin.utRoleClient("UnitTestReader", "Simulation:GetSimulationUnitTest")
	if us, _ := reader.utList(""); utNames(us, "id", map[string]string{id: "flow", mine: "blind"}, false) != "flow,blind" {
		t.Errorf("reader lists: %v", us)
	}
	if found := reader.utSearch("?query=refund"); len(found) != 1 || found[0]["_id"] != id {
		t.Errorf("reader finds: %v", found)
	}
	for _, call := range []struct {
		name, method, path string
		body               any
	}{
		{"create", "POST", "/simulation/unit_test/", f.body("Not allowed")},
		{"update", "POST", "/simulation/unit_test/" + id + "/", map[string]any{"description": "By the reader."}},
		{"delete", "DELETE", "/simulation/unit_test/" + id + "/", nil},
	} {
		status, body := reader.do(call.method, call.path, call.body)
		mustStatus(t, "reader "+call.name, status, http.StatusForbidden, body)
	}
	if n := admin.utCount(); n != 2 {
		t.Errorf("%d unit tests after the reader's create, want 2", n)
	}
	if u := admin.utGet(id); u["description"] != "By the writer." || u["is_deleted"] != false {
		t.Errorf("after the reader's attempts: %v", u)
	}

	// The set permissions do not stand in for the unit test ones.
	setter := admin.utRoleClient("SetAdmin", "Simulation:CreateSimulationUnitTestSet", "Simulation:GetSimulationUnitTestSet",
		"Simulation:ModifySimulationUnitTestSet", "Simulation:DeleteSimulationUnitTestSet")
	status, body = setter.do("POST", "/simulation/unit_test/", f.body("Set admin's"))
	mustStatus(t, "set admin creates a unit test", status, http.StatusForbidden, body)
	if us, _ := setter.utList(""); len(us) != 0 {
		t.Errorf("set admin lists unit tests: %v", us)
	}
	status, body = writer.do("DELETE", "/simulation/unit_test/"+mine+"/", nil)
	mustStatus(t, "writer deletes", status, http.StatusNoContent, body)
}

func TestUnitTestSetLifecycle(t *testing.T) {
	t.Parallel()
	f := utSetup(t)
	admin := f.admin
	u1 := admin.utCreate(f.body("Refund flow"))
	u2 := admin.utCreate(f.body("Shipping"))
	u3 := admin.utCreate(f.body("Gone"))
	status, body := admin.do("DELETE", "/simulation/unit_test/"+u3+"/", nil)
	mustStatus(t, "delete u3", status, http.StatusNoContent, body)

	b := utSetBody(" Nightly ", "  Runs every night.  ", utRun(u1, 3), utRun(u2, 1))
	b["tags"] = map[string]any{"suite": "regression", "wip": nil}
	id := admin.utSetCreate(b)
	set := admin.utSetGet(id)
	creator := set["creator"].(map[string]any)
	if set["id"] != id || set["org_id"] != f.srv.Organization || set["name"] != "Nightly" ||
		set["description"] != "Runs every night." ||
		fmt.Sprint(set["unit_test_runs"]) != fmt.Sprintf("[map[run_count:3 unit_test_id:%s] map[run_count:1 unit_test_id:%s]]", u1, u2) ||
		fmt.Sprint(set["tags"]) != "[map[key:suite value:regression] map[key:wip value:<nil>]]" || set["is_deleted"] != false ||
		creator["user_id"] != f.srv.UserID || creator["org_id"] != f.srv.Organization ||
		fmt.Sprint(set["updated_by"]) != fmt.Sprint(set["creator"]) || set["created_at"] == nil || set["created_at"] != set["updated_at"] {
		t.Errorf("set: %v", set)
	}
	if v, ok := set["last_triggered_run_id"]; !ok || v != nil {
		t.Errorf("last_triggered_run_id of a set never run: %v", set)
	}
	// The description may be null.
	f.clock.advance(time.Second) // listings order by creation: no ties
	quiet := admin.utSetCreate(utSetBody("Quiet", nil, utRun(u2, 100)))
	if s := admin.utSetGet(quiet); s["description"] != nil || fmt.Sprint(s["unit_test_runs"]) != fmt.Sprintf("[map[run_count:100 unit_test_id:%s]]", u2) {
		t.Errorf("set without a description: %v", s)
	}

	missing := store.NewID()
	refused := []struct {
		name   string
		body   map[string]any
		want   int
		detail string
	}{
		{"the same unit test twice", utSetBody("X", nil, utRun(u1, 1), utRun(u1, 2)), http.StatusBadRequest, ""},
		{"unknown unit test", utSetBody("X", nil, utRun(u1, 1), utRun(missing, 1)), http.StatusNotFound, missing},
		{"deleted unit test", utSetBody("X", nil, utRun(u3, 1)), http.StatusBadRequest, u3},
		{"run_count 0", utSetBody("X", nil, utRun(u1, 0)), http.StatusUnprocessableEntity, ""},
		{"run_count 101", utSetBody("X", nil, utRun(u1, 101)), http.StatusUnprocessableEntity, ""},
		{"no unit tests", utSetBody("X", nil), http.StatusUnprocessableEntity, ""},
		{"malformed unit test ID", utSetBody("X", nil, utRun("u1", 1)), http.StatusUnprocessableEntity, ""},
		{"blank description", utSetBody("X", " ", utRun(u1, 1)), http.StatusUnprocessableEntity, ""},
		{"no description", utWith(utSetBody("X", nil, utRun(u1, 1)), "-description", nil), http.StatusUnprocessableEntity, ""},
		{"blank name", utSetBody(" ", nil, utRun(u1, 1)), http.StatusUnprocessableEntity, ""},
		{"live name", utSetBody("Nightly", nil, utRun(u1, 1)), http.StatusConflict, "Nightly"},
	}
	for _, tc := range refused {
		t.Run("create: "+tc.name, func(t *testing.T) {
			status, body := admin.do("POST", "/simulation/unit_test_set/", tc.body)
			mustStatus(t, tc.name, status, tc.want, body)
			if tc.detail != "" && !strings.Contains(detail(body), tc.detail) {
				t.Errorf("detail %q does not name %q", detail(body), tc.detail)
			}
			if n := admin.utSetCount(); n != 2 {
				t.Errorf("%d sets stored, want 2", n)
			}
		})
	}

	// Update changes what it is given (the path has no trailing slash).
	path := "/simulation/unit_test_set/" + id
	update := func(what string, body map[string]any, want int) {
		t.Helper()
		f.clock.advance(time.Second)
		status, resp := admin.do("POST", path, body)
		mustStatus(t, what, status, want, resp)
	}
	update("rename", map[string]any{"name": " Nightly full "}, http.StatusNoContent)
	if s := admin.utSetGet(id); s["name"] != "Nightly full" || s["description"] != "Runs every night." || s["updated_at"] == s["created_at"] {
		t.Errorf("after renaming: %v", s)
	}
	update("rename to a live name", map[string]any{"name": "Quiet"}, http.StatusConflict)
	update("new description", map[string]any{"description": " New words. "}, http.StatusNoContent)
	if s := admin.utSetGet(id); s["description"] != "New words." || s["name"] != "Nightly full" {
		t.Errorf("after a new description: %v", s)
	}
	update("description {}", map[string]any{"description": map[string]any{}, "name": nil, "unit_test_runs": nil, "tags": nil}, http.StatusNoContent)
	s := admin.utSetGet(id)
	if s["description"] != "New words." || s["name"] != "Nightly full" || len(s["unit_test_runs"].([]any)) != 2 || len(s["tags"].([]any)) != 2 {
		t.Errorf("after {} and nulls: %v", s)
	}
	update("description null", map[string]any{"description": nil}, http.StatusNoContent)
	if s := admin.utSetGet(id); s["description"] != nil {
		t.Errorf("after clearing the description: %v", s)
	}
	update("unit tests replaced", map[string]any{"unit_test_runs": []any{utRun(u2, 5)}}, http.StatusNoContent)
	update("tags replaced", map[string]any{"tags": map[string]any{"suite": "smoke"}}, http.StatusNoContent)
	want := admin.utSetGet(id)
	if fmt.Sprint(want["unit_test_runs"]) != fmt.Sprintf("[map[run_count:5 unit_test_id:%s]]", u2) ||
		fmt.Sprint(want["tags"]) != "[map[key:suite value:smoke]]" || want["description"] != nil || want["name"] != "Nightly full" {
		t.Errorf("after replacing unit tests and tags: %v", want)
	}
	for _, tc := range []struct {
		name string
		body map[string]any
		want int
	}{
		{"unknown unit test", map[string]any{"unit_test_runs": []any{utRun(missing, 1)}}, http.StatusNotFound},
		{"deleted unit test", map[string]any{"unit_test_runs": []any{utRun(u2, 1), utRun(u3, 1)}}, http.StatusBadRequest},
		{"the same unit test twice", map[string]any{"unit_test_runs": []any{utRun(u2, 1), utRun(u2, 1)}}, http.StatusBadRequest},
		{"run_count 0", map[string]any{"unit_test_runs": []any{utRun(u2, 0)}}, http.StatusUnprocessableEntity},
		{"no unit tests", map[string]any{"unit_test_runs": []any{}}, http.StatusUnprocessableEntity},
		{"blank name", map[string]any{"name": " "}, http.StatusUnprocessableEntity},
		{"description not an empty object", map[string]any{"description": map[string]any{"a": 1}}, http.StatusUnprocessableEntity},
		{"live name with a good change", map[string]any{"name": "Quiet", "description": "Never stored."}, http.StatusConflict},
	} {
		update(tc.name, tc.body, tc.want)
		if got := admin.utSetGet(id); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s changed the set:\n got %v\nwant %v", tc.name, got, want)
		}
	}
	status, body = admin.do("POST", "/simulation/unit_test_set/"+missing, map[string]any{"name": "x"})
	mustStatus(t, "update an unknown set", status, http.StatusNotFound, body)

	// Lists: unit_test_id filters, and filter_values.
	names := map[string]string{id: "nightly", quiet: "quiet"}
	for _, tc := range []struct{ query, want string }{
		{"?unit_test_id=" + u2, "nightly,quiet"},
		{"?unit_test_id=" + u1, ""},
		{"?unit_test_id=" + u1 + "&unit_test_id=" + u2, "nightly,quiet"},
		{"?tag=suite:smoke", "nightly"},
		{"?creator=" + f.srv.UserID, "nightly,quiet"},
		{"?sort_by=-updated_at", "nightly,quiet"},
		{"?sort_by=updated_at", "quiet,nightly"},
		{"?limit=1", "nightly"},
		{"?limit=1&continuation_token=1", "quiet"},
		{"?limit=20", "nightly,quiet"},
	} {
		t.Run("sets "+tc.query, func(t *testing.T) {
			if sets, _ := admin.utSets(tc.query); utNames(sets, "id", names, false) != tc.want {
				t.Errorf("sets %s: got %s, want %s", tc.query, utNames(sets, "id", names, false), tc.want)
			}
		})
	}
	for _, q := range []string{"?limit=21", "?unit_test_id=xyz", "?sort_by=name", "?tag=x", "?is_deleted=maybe"} {
		if status, body := admin.do("GET", "/simulation/unit_test_set/"+q, nil); status != http.StatusUnprocessableEntity {
			t.Errorf("sets %s: %d %v, want 422", q, status, body)
		}
	}
	_, page := admin.utSets("?limit=1")
	fv := page["filter_values"].(map[string]any)
	if fmt.Sprint(fv["unit_test_ids"]) != "["+u2+"]" || fmt.Sprint(fv["tags"]) != "[suite]" || len(fv["creators"].([]any)) != 1 ||
		page["has_more"] != true || page["continuation_token"] != float64(1) {
		t.Errorf("sets first page: %v", page)
	}
	if _, page := admin.utSets("?limit=1&continuation_token=1"); page["filter_values"] != nil || page["continuation_token"] != nil {
		t.Errorf("sets second page: %v", page)
	}

	// Delete: 204, then listed with is_deleted=true, and its name is free.
	status, body = admin.do("DELETE", path, nil)
	mustStatus(t, "delete the set", status, http.StatusNoContent, body)
	deleted, _ := admin.utSets("?is_deleted=true")
	if len(deleted) != 1 || deleted[0]["id"] != id || deleted[0]["is_deleted"] != true || deleted[0]["name"] != "Nightly full" {
		t.Errorf("deleted sets: %v", deleted)
	}
	if live, _ := admin.utSets("?is_deleted=false"); len(live) != 1 || live[0]["id"] != quiet {
		t.Errorf("live sets: %v", live)
	}
	status, body = admin.do("DELETE", path, nil)
	mustStatus(t, "delete the set again", status, http.StatusNotFound, body)
	status, body = admin.do("POST", path, map[string]any{"name": "Revived"})
	mustStatus(t, "update a deleted set", status, http.StatusNotFound, body)
	status, body = admin.do("DELETE", "/simulation/unit_test_set/"+missing, nil)
	mustStatus(t, "delete an unknown set", status, http.StatusNotFound, body)
	again := admin.utSetCreate(utSetBody("Nightly full", nil, utRun(u1, 1)))
	if s := admin.utSetGet(again); s["name"] != "Nightly full" || s["is_deleted"] != false {
		t.Errorf("a set reusing a deleted set's name: %v", s)
	}
}

func TestUnitTestSetSearch(t *testing.T) {
	t.Parallel()
	f := utSetup(t)
	admin := f.admin
	u1 := admin.utCreate(f.body("Refund flow"))
	u2 := admin.utCreate(f.body("Shipping"))
	nightly := admin.utSetCreate(utSetBody("Nightly regression", "Every refund scenario.", utRun(u1, 2)))
	smoke := admin.utSetCreate(utWith(utSetBody("Smoke", "Quick checks before a release.", utRun(u2, 1)),
		"tags", map[string]any{"team": "ops"}))
	bare := admin.utSetCreate(utSetBody("Refunds weekly", nil, utRun(u1, 1), utRun(u2, 1)))
	gone := admin.utSetCreate(utSetBody("Refund archive", nil, utRun(u1, 1)))
	status, body := admin.do("DELETE", "/simulation/unit_test_set/"+gone, nil)
	mustStatus(t, "delete archive", status, http.StatusNoContent, body)
	names := map[string]string{nightly: "nightly", smoke: "smoke", bare: "weekly", gone: "archive"}

	search := func(c *client, query string) string {
		t.Helper()
		sets := c.utSetSearch(query)
		for _, s := range sets {
			if s["_id"] == nil || s["id"] != nil || s["name"] == nil || s["unit_test_runs"] == nil || s["is_deleted"] != false {
				t.Errorf("search result: %v", s)
			}
			if v, ok := s["last_triggered_run_id"]; !ok || v != nil {
				t.Errorf("search result's last_triggered_run_id: %v", s)
			}
		}
		return utNames(sets, "_id", names, true)
	}
	for _, tc := range []struct{ query, want string }{
		{"?query=refund", "nightly,weekly"}, // description, and a name word in another form
		{"?query=nightly", "nightly"},       // a name word
		{"?query=release+checks", "smoke"},  // description words
		{"?query=archive", ""},              // deleted sets are not found
		{"?query=refund&unit_test_id=" + u2, "weekly"},
		{"?query=quick&tag=team:ops", "smoke"},
		{"?query=quick&tag=team:dev", ""},
		{"?query=refund&creator=" + f.srv.UserID, "nightly,weekly"},
	} {
		t.Run(tc.query, func(t *testing.T) {
			if got := search(admin, tc.query); got != tc.want {
				t.Errorf("search %s: got %q, want %q", tc.query, got, tc.want)
			}
		})
	}
	// A changed name or description is searched, the old one no longer.
	status, body = admin.do("POST", "/simulation/unit_test_set/"+smoke, map[string]any{"name": "Canary", "description": "Tried first."})
	mustStatus(t, "update smoke", status, http.StatusNoContent, body)
	for _, tc := range []struct{ query, want string }{{"?query=smoke", ""}, {"?query=quick", ""}, {"?query=canary", "smoke"}, {"?query=tried", "smoke"}} {
		if got := search(admin, tc.query); got != tc.want {
			t.Errorf("search %s after the update: got %q, want %q", tc.query, got, tc.want)
		}
	}
	// A cleared description is no longer found.
	status, body = admin.do("POST", "/simulation/unit_test_set/"+smoke, map[string]any{"description": nil})
	mustStatus(t, "clear smoke's description", status, http.StatusNoContent, body)
	if got := search(admin, "?query=tried"); got != "" {
		t.Errorf("a cleared description is still found: %s", got)
	}
	for _, q := range []string{"", "?query=", "?query=%20", "?query=x&unit_test_id=xyz"} {
		if status, body := admin.do("GET", "/simulation/unit_test_set/search/"+q, nil); status != http.StatusUnprocessableEntity {
			t.Errorf("search %q: %d %v, want 422", q, status, body)
		}
	}
}

func TestUnitTestSetPermissions(t *testing.T) {
	t.Parallel()
	f := utSetup(t)
	admin := f.admin
	u1 := admin.utCreate(f.body("Refund flow"))
	id := admin.utSetCreate(utSetBody("Nightly", "Every night.", utRun(u1, 1)))

	// Without Simulation:GetSimulationUnitTestSet, listings and searches
	// are empty; the unit test permissions do not stand in for it.
	writer := admin.utRoleClient("SetWriter", "Simulation:CreateSimulationUnitTestSet", "Simulation:ModifySimulationUnitTestSet",
		"Simulation:DeleteSimulationUnitTestSet", "Simulation:GetSimulationUnitTest")
	f.clock.advance(time.Second) // listings order by creation: no ties
	mine := writer.utSetCreate(utSetBody("Weekly", "Every week.", utRun(u1, 2)))
	sets, page := writer.utSets("")
	if len(sets) != 0 || fmt.Sprint(page["filter_values"].(map[string]any)["unit_test_ids"]) != "["+u1+"]" {
		t.Errorf("writer lists sets: %v", page)
	}
	if found := writer.utSetSearch("?query=every"); len(found) != 0 {
		t.Errorf("writer finds sets: %v", found)
	}
	status, body := writer.do("POST", "/simulation/unit_test_set/"+id, map[string]any{"description": "By the writer."})
	mustStatus(t, "writer updates", status, http.StatusNoContent, body)

	reader := admin.utRoleClient("SetReader", "Simulation:GetSimulationUnitTestSet")
	if sets, _ := reader.utSets(""); utNames(sets, "id", map[string]string{id: "nightly", mine: "weekly"}, false) != "nightly,weekly" {
		t.Errorf("reader lists: %v", sets)
	}
	if found := reader.utSetSearch("?query=writer"); len(found) != 1 || found[0]["_id"] != id {
		t.Errorf("reader finds: %v", found)
	}
	for _, call := range []struct {
		name, method, path string
		body               any
	}{
		{"create", "POST", "/simulation/unit_test_set/", utSetBody("Not allowed", nil, utRun(u1, 1))},
		{"update", "POST", "/simulation/unit_test_set/" + id, map[string]any{"description": "By the reader."}},
		{"delete", "DELETE", "/simulation/unit_test_set/" + id, nil},
	} {
		status, body := reader.do(call.method, call.path, call.body)
		mustStatus(t, "reader "+call.name, status, http.StatusForbidden, body)
	}
	if n := admin.utSetCount(); n != 2 {
		t.Errorf("%d sets after the reader's create, want 2", n)
	}
	if s := admin.utSetGet(id); s["description"] != "By the writer." || s["is_deleted"] != false {
		t.Errorf("after the reader's attempts: %v", s)
	}
	status, body = writer.do("DELETE", "/simulation/unit_test_set/"+mine, nil)
	mustStatus(t, "writer deletes", status, http.StatusNoContent, body)
}
