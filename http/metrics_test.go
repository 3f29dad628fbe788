package httpapi_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/compadre-dev/compadre/store"
)

// metricValue is a metric_value of type typ with the fields given in pairs.
func metricValue(typ string, fields ...any) map[string]any {
	v := map[string]any{"type": typ}
	for i := 0; i+1 < len(fields); i += 2 {
		v[fields[i].(string)] = fields[i+1]
	}
	return v
}

// metricBody is a create-metric body without services, notes or tags.
func metricBody(name string, value map[string]any) map[string]any {
	return map[string]any{
		"name": name, "applied_to_services": []any{}, "additional_notes": nil, "tags": map[string]any{},
		"initial_version_metric_value": map[string]any{"description": "Judge " + name + ".", "metric_value": value},
	}
}

func metricVersionBody(description string, value map[string]any) map[string]any {
	return map[string]any{"description": description, "metric_value": value}
}

func (c *client) metricCreate(body map[string]any) string {
	c.t.Helper()
	status, resp := c.do("POST", "/metric/", body)
	mustStatus(c.t, "create metric", status, http.StatusCreated, resp)
	return resp["id"].(string)
}

// metrics lists the metrics the client sees with query and returns them
// with the whole answer.
func (c *client) metrics(query string) ([]map[string]any, map[string]any) {
	c.t.Helper()
	status, body := c.do("GET", "/metric/"+query, nil)
	mustStatus(c.t, "get metrics "+query, status, http.StatusOK, body)
	return behaviorItems(body, "metrics"), body
}

func (c *client) metricVersions(id, query string) []map[string]any {
	c.t.Helper()
	status, body := c.do("GET", "/metric/"+id+"/version"+query, nil)
	mustStatus(c.t, "get metric versions "+query, status, http.StatusOK, body)
	return behaviorItems(body, "metric_versions")
}

func categories(n int) []any {
	out := make([]any, n)
	for i := range out {
		out[i] = fmt.Sprintf("category %d", i)
	}
	return out
}

func TestMetricLifecycle(t *testing.T) {
	t.Parallel()
	srv, admin := newTestServer(t)
	svc := behaviorService(t, srv, srv.Organization, srv.UserID, "support")
	body := metricBody(" Politeness ", metricValue("categorical", "categories", []any{" rude ", "neutral", "polite"}))
	body["tags"] = map[string]any{"team": "quality", "draft": nil}
	body["applied_to_services"] = []any{svc, svc}
	body["additional_notes"] = "  Scored by the support team.  "
	id := admin.metricCreate(body)

	ms, page := admin.metrics("")
	if len(ms) != 1 {
		t.Fatalf("metrics: %v", page)
	}
	m := ms[0]
	creator := m["creator"].(map[string]any)
	if m["id"] != id || m["org_id"] != srv.Organization || m["name"] != "Politeness" || m["metric_value_type"] != "categorical" ||
		fmt.Sprint(m["applied_to_services"]) != "["+svc+"]" || m["additional_notes"] != "Scored by the support team." ||
		fmt.Sprint(m["tags"]) != "[map[key:draft value:<nil>] map[key:team value:quality]]" || m["is_deleted"] != false ||
		creator["user_id"] != srv.UserID || creator["org_id"] != srv.Organization ||
		fmt.Sprint(m["updated_by"]) != fmt.Sprint(m["creator"]) || m["created_at"] != m["updated_at"] {
		t.Errorf("metric: %v", m)
	}
	if _, ok := m["description"]; ok {
		t.Errorf("a metric carries its description, which belongs to versions: %v", m)
	}

	versions := admin.metricVersions(id, "")
	if len(versions) != 1 {
		t.Fatalf("versions: %v", versions)
	}
	v := versions[0]
	if v["metric_id"] != id || v["version"] != float64(1) || v["description"] != "Judge  Politeness ." ||
		fmt.Sprint(v["metric_value"]) != "map[categories:[rude neutral polite] type:categorical]" ||
		v["creator"].(map[string]any)["user_id"] != srv.UserID || v["created_at"] == "" {
		t.Errorf("version 1: %v", v)
	}

	// A version may change the categories but never the type.
	status, resp := admin.do("POST", "/metric/"+id+"/version/", metricVersionBody("Two classes.", metricValue("categorical", "categories", []any{"rude", "polite"})))
	mustStatus(t, "version 2", status, http.StatusCreated, resp)
	if len(resp) != 1 || resp["version"] != float64(2) {
		t.Errorf("version 2: %v", resp)
	}
	for _, value := range []map[string]any{metricValue("boolean"), metricValue("numerical", "lower_bound", 0, "upper_bound", 1)} {
		status, resp = admin.do("POST", "/metric/"+id+"/version/", metricVersionBody("Changed type.", value))
		mustStatus(t, "version of type "+value["type"].(string), status, http.StatusBadRequest, resp)
		if !strings.Contains(fmt.Sprint(resp["detail"]), "categorical") {
			t.Errorf("type change detail: %v", resp)
		}
	}
	status, resp = admin.do("POST", "/metric/"+id+"/version/?version=3", metricVersionBody("Three.", metricValue("categorical", "categories", []any{"a"})))
	mustStatus(t, "version 3", status, http.StatusCreated, resp)
	for _, q := range []string{"?version=5", "?version=3"} {
		status, resp = admin.do("POST", "/metric/"+id+"/version/"+q, metricVersionBody("x", metricValue("categorical", "categories", []any{"a"})))
		mustStatus(t, "wrong next version "+q, status, http.StatusConflict, resp)
	}
	if got := behaviorField(admin.metricVersions(id, ""), "version"); got != "1,2,3" {
		t.Errorf("versions after refusals: %s", got)
	}
	if ms, _ := admin.metrics(""); ms[0]["updated_at"] == ms[0]["created_at"] {
		t.Errorf("updated_at not moved by a new version: %v", ms[0])
	}
	for _, tc := range []struct{ query, want string }{
		{"?version=2", "2"},
		{"?version=latest", "3"},
		{"?version=2-latest", "2,3"},
		{"?sort_by=-version", "3,2,1"},
		{"?limit=2&continuation_token=2", "3"},
	} {
		if got := behaviorField(admin.metricVersions(id, tc.query), "version"); got != tc.want {
			t.Errorf("versions %s: got %q, want %q", tc.query, got, tc.want)
		}
	}
	for _, q := range []string{"?version=3-1", "?limit=11", "?limit=0", "?sort_by=created_at"} {
		if status, resp := admin.do("GET", "/metric/"+id+"/version"+q, nil); status != http.StatusUnprocessableEntity {
			t.Errorf("versions %s: %d %v, want 422", q, status, resp)
		}
	}

	// Update changes what is given: {} leaves the notes, null clears them.
	update := func(what string, body map[string]any, want int) {
		t.Helper()
		status, resp := admin.do("POST", "/metric/"+id+"/", body)
		mustStatus(t, what, status, want, resp)
		if want == http.StatusOK && len(resp) != 0 {
			t.Errorf("%s answer: %v", what, resp)
		}
	}
	get := func() map[string]any {
		t.Helper()
		ms, _ := admin.metrics("?id=" + id + "&is_deleted=false")
		if len(ms) != 1 {
			t.Fatalf("metric %s: %v", id, ms)
		}
		return ms[0]
	}
	update("notes left", map[string]any{"additional_notes": map[string]any{}, "tags": nil}, http.StatusOK)
	if m := get(); m["additional_notes"] != "Scored by the support team." || len(m["tags"].([]any)) != 2 {
		t.Errorf("after {} notes: %v", m)
	}
	update("notes replaced", map[string]any{"additional_notes": " New notes ", "tags": map[string]any{"team": "ops"}}, http.StatusOK)
	if m := get(); m["additional_notes"] != "New notes" || fmt.Sprint(m["tags"]) != "[map[key:team value:ops]]" ||
		fmt.Sprint(m["applied_to_services"]) != "["+svc+"]" {
		t.Errorf("after replacing notes: %v", m)
	}
	update("notes cleared", map[string]any{"additional_notes": nil, "applied_to_services": []any{}}, http.StatusOK)
	if m := get(); m["additional_notes"] != nil || len(m["applied_to_services"].([]any)) != 0 || m["name"] != "Politeness" {
		t.Errorf("after clearing notes: %v", m)
	}
	update("notes not a NotSet object", map[string]any{"additional_notes": map[string]any{"a": 1}}, http.StatusUnprocessableEntity)
	update("blank notes", map[string]any{"additional_notes": "  "}, http.StatusUnprocessableEntity)
	update("notes as a number", map[string]any{"additional_notes": 5}, http.StatusUnprocessableEntity)
	// Like every body, fields the request does not have are ignored: the
	// name stays.
	update("a name, which cannot change", map[string]any{"name": "Other"}, http.StatusOK)
	update("unknown service", map[string]any{"applied_to_services": []any{store.NewID()}, "additional_notes": "x"}, http.StatusNotFound)
	if m := get(); m["additional_notes"] != nil || m["name"] != "Politeness" {
		t.Errorf("after refused updates: %v", m)
	}

	// Names are unique among live metrics.
	status, resp = admin.do("POST", "/metric/", metricBody("Politeness", metricValue("boolean")))
	mustStatus(t, "live duplicate name", status, http.StatusConflict, resp)

	status, resp = admin.do("DELETE", "/metric/"+id+"/", nil)
	mustStatus(t, "delete", status, http.StatusOK, resp)
	if len(resp) != 0 {
		t.Errorf("delete answer: %v", resp)
	}
	if ms, _ := admin.metrics(""); len(ms) != 0 {
		t.Errorf("deleted metric listed by default: %v", ms)
	}
	ms, _ = admin.metrics("?is_deleted=true")
	if len(ms) != 1 || ms[0]["id"] != id || ms[0]["is_deleted"] != true || ms[0]["name"] != "Politeness" {
		t.Errorf("deleted metrics: %v", ms)
	}
	if got := behaviorField(admin.metricVersions(id, ""), "version"); got != "1,2,3" {
		t.Errorf("versions of a deleted metric: %s", got)
	}
	// A deleted metric can no longer change.
	for _, call := range []struct {
		method, path string
		body         any
	}{
		{"DELETE", "/metric/" + id + "/", nil},
		{"POST", "/metric/" + id + "/", map[string]any{"additional_notes": "late"}},
		{"POST", "/metric/" + id + "/version/", metricVersionBody("late", metricValue("categorical", "categories", []any{"a"}))},
	} {
		if status, resp := admin.do(call.method, call.path, call.body); status != http.StatusBadRequest {
			t.Errorf("%s %s of a deleted metric: %d %v, want 400", call.method, call.path, status, resp)
		}
	}
	if got := behaviorField(admin.metricVersions(id, ""), "version"); got != "1,2,3" {
		t.Errorf("versions after refused changes: %s", got)
	}
	// Its name is free again.
	again := admin.metricCreate(metricBody("Politeness", metricValue("boolean")))
	if ms, _ := admin.metrics(""); len(ms) != 1 || ms[0]["id"] != again || ms[0]["metric_value_type"] != "boolean" {
		t.Errorf("after reusing the name: %v", ms)
	}

	missing := store.NewID()
	for _, call := range []struct {
		method, path string
		body         any
	}{
		{"DELETE", "/metric/" + missing + "/", nil},
		{"POST", "/metric/" + missing + "/", map[string]any{}},
		{"GET", "/metric/" + missing + "/version", nil},
		{"POST", "/metric/" + missing + "/version/", metricVersionBody("x", metricValue("boolean"))},
	} {
		if status, resp := admin.do(call.method, call.path, call.body); status != http.StatusNotFound {
			t.Errorf("%s %s of a missing metric: %d %v, want 404", call.method, call.path, status, resp)
		}
	}
	if status, resp := admin.do("GET", "/metric/not-an-id/version", nil); status != http.StatusUnprocessableEntity {
		t.Errorf("malformed metric ID: %d %v", status, resp)
	}
}

func TestMetricValidation(t *testing.T) {
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
	n := 0
	// with is a valid boolean metric's body, named uniquely, that change
	// spoils (or not).
	with := func(change func(b map[string]any)) map[string]any {
		n++
		b := metricBody(fmt.Sprintf("Metric %d", n), metricValue("boolean"))
		change(b)
		return b
	}
	value := func(v map[string]any) func(b map[string]any) {
		return func(b map[string]any) { b["initial_version_metric_value"].(map[string]any)["metric_value"] = v }
	}
	tests := []struct {
		name string
		body map[string]any
		want int
	}{
		{"50 categories", with(value(metricValue("categorical", "categories", categories(50)))), http.StatusCreated},
		{"51 categories", with(value(metricValue("categorical", "categories", categories(51)))), http.StatusUnprocessableEntity},
		{"no categories", with(value(metricValue("categorical", "categories", []any{}))), http.StatusUnprocessableEntity},
		{"categories missing", with(value(metricValue("categorical"))), http.StatusUnprocessableEntity},
		{"blank category", with(value(metricValue("categorical", "categories", []any{"a", " "}))), http.StatusUnprocessableEntity},
		{"category twice", with(value(metricValue("categorical", "categories", []any{"a", " a"}))), http.StatusUnprocessableEntity},
		{"ordered bounds", with(value(metricValue("numerical", "lower_bound", -1, "upper_bound", 10.5))), http.StatusCreated},
		{"equal bounds", with(value(metricValue("numerical", "lower_bound", 3, "upper_bound", 3))), http.StatusCreated},
		{"inverted bounds", with(value(metricValue("numerical", "lower_bound", 3, "upper_bound", 2.9))), http.StatusUnprocessableEntity},
		{"a bound missing", with(value(metricValue("numerical", "lower_bound", 3))), http.StatusUnprocessableEntity},
		{"a bound not a number", with(value(metricValue("numerical", "lower_bound", "0", "upper_bound", 1))), http.StatusUnprocessableEntity},
		{"unknown type", with(value(metricValue("text"))), http.StatusUnprocessableEntity},
		{"no type", with(value(map[string]any{})), http.StatusUnprocessableEntity},
		{"20 tags", with(func(b map[string]any) { b["tags"] = tagsOf(20) }), http.StatusCreated},
		{"21 tags", with(func(b map[string]any) { b["tags"] = tagsOf(21) }), http.StatusUnprocessableEntity},
		{"tag key with a dash", with(func(b map[string]any) { b["tags"] = map[string]any{"a-b": "v"} }), http.StatusUnprocessableEntity},
		{"no name", with(func(b map[string]any) { delete(b, "name") }), http.StatusUnprocessableEntity},
		{"blank name", with(func(b map[string]any) { b["name"] = " \t" }), http.StatusUnprocessableEntity},
		{"name of 257 characters", with(func(b map[string]any) { b["name"] = strings.Repeat("n", 257) }), http.StatusUnprocessableEntity},
		{"blank notes", with(func(b map[string]any) { b["additional_notes"] = " " }), http.StatusUnprocessableEntity},
		{"notes missing", with(func(b map[string]any) { delete(b, "additional_notes") }), http.StatusUnprocessableEntity},
		{"blank description", with(func(b map[string]any) {
			b["initial_version_metric_value"].(map[string]any)["description"] = "  "
		}), http.StatusUnprocessableEntity},
		{"no initial version", with(func(b map[string]any) { delete(b, "initial_version_metric_value") }), http.StatusUnprocessableEntity},
		{"malformed service ID", with(func(b map[string]any) { b["applied_to_services"] = []any{"svc"} }), http.StatusUnprocessableEntity},
		{"a service", with(func(b map[string]any) { b["applied_to_services"] = []any{svc} }), http.StatusCreated},
		{"unknown service", with(func(b map[string]any) { b["applied_to_services"] = []any{store.NewID()} }), http.StatusNotFound},
		{"another organization's service", with(func(b map[string]any) { b["applied_to_services"] = []any{svc, betaSvc} }), http.StatusNotFound},
	}
	created := 0
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, body := admin.do("POST", "/metric/", tc.body)
			mustStatus(t, tc.name, status, tc.want, body)
			if status == http.StatusCreated {
				created++
			}
			if ms, _ := admin.metrics(""); len(ms) != created {
				t.Errorf("%d metrics stored, want %d", len(ms), created)
			}
		})
	}

	// Versions are checked like initial versions, and within the type.
	id := admin.metricCreate(metricBody("Score", metricValue("numerical", "lower_bound", 0, "upper_bound", 10)))
	for _, tc := range []struct {
		name string
		body map[string]any
		want int
	}{
		{"inverted bounds", metricVersionBody("x", metricValue("numerical", "lower_bound", 1, "upper_bound", 0)), http.StatusUnprocessableEntity},
		{"blank description", metricVersionBody(" ", metricValue("numerical", "lower_bound", 0, "upper_bound", 1)), http.StatusUnprocessableEntity},
		{"categorical", metricVersionBody("x", metricValue("categorical", "categories", []any{"a"})), http.StatusBadRequest},
		{"51 categories, wrong type too", metricVersionBody("x", metricValue("categorical", "categories", categories(51))), http.StatusUnprocessableEntity},
		{"new bounds", metricVersionBody(" Out of a hundred. ", metricValue("numerical", "lower_bound", 0, "upper_bound", 100)), http.StatusCreated},
		{"equal bounds", metricVersionBody("One value.", metricValue("numerical", "lower_bound", 5, "upper_bound", 5)), http.StatusCreated},
	} {
		status, body := admin.do("POST", "/metric/"+id+"/version/", tc.body)
		mustStatus(t, "version: "+tc.name, status, tc.want, body)
	}
	versions := admin.metricVersions(id, "")
	if got := behaviorField(versions, "version"); got != "1,2,3" {
		t.Fatalf("versions: %s", got)
	}
	if fmt.Sprint(versions[1]["metric_value"]) != "map[lower_bound:0 type:numerical upper_bound:100]" ||
		versions[1]["description"] != "Out of a hundred." {
		t.Errorf("version 2: %v", versions[1])
	}
}

func TestMetricListing(t *testing.T) {
	t.Parallel()
	srv, admin := newTestServer(t)
	billing := behaviorService(t, srv, srv.Organization, srv.UserID, "billing")
	support := behaviorService(t, srv, srv.Organization, srv.UserID, "support")
	editorID := admin.newUser("editor@example.com", "DefaultSuperAdministratorRole")
	editor := admin.keyFor(editorID, "DefaultSuperAdministratorRole")

	newMetric := func(c *client, name string, value map[string]any, services []any, tags map[string]any) string {
		b := metricBody(name, value)
		b["applied_to_services"], b["tags"] = services, tags
		return c.metricCreate(b)
	}
	a := newMetric(admin, "A", metricValue("boolean"), []any{billing}, map[string]any{"team": "billing", "flag": nil})
	b := newMetric(admin, "B", metricValue("numerical", "lower_bound", 0, "upper_bound", 5), []any{support}, map[string]any{"team": "support"})
	c := newMetric(editor, "C", metricValue("categorical", "categories", []any{"x"}), []any{billing, support}, map[string]any{})
	d := newMetric(admin, "D", metricValue("boolean"), []any{}, map[string]any{"team": "gone"})
	status, body := admin.do("DELETE", "/metric/"+d+"/", nil)
	mustStatus(t, "delete D", status, http.StatusOK, body)
	names := map[string]string{a: "A", b: "B", c: "C", d: "D"}
	ids := func(ms []map[string]any) string {
		var out []string
		for _, m := range ms {
			out = append(out, names[m["id"].(string)])
		}
		return strings.Join(out, ",")
	}
	// B was updated last, then A.
	time.Sleep(2 * time.Millisecond)
	status, body = admin.do("POST", "/metric/"+a+"/", map[string]any{"additional_notes": "touched"})
	mustStatus(t, "touch A", status, http.StatusOK, body)
	time.Sleep(2 * time.Millisecond)
	status, body = admin.do("POST", "/metric/"+b+"/", map[string]any{"additional_notes": "touched"})
	mustStatus(t, "touch B", status, http.StatusOK, body)

	tests := []struct{ query, want string }{
		{"", "A,B,C"},
		{"?is_deleted=true", "D"},
		{"?is_deleted=false", "A,B,C"},
		{"?id=" + c + "&id=" + a, "A,C"},
		{"?id=" + d, ""},
		{"?id=" + d + "&is_deleted=true", "D"},
		{"?type=boolean", "A"},
		{"?type=numerical&type=categorical", "B,C"},
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
			ms, _ := admin.metrics(tc.query)
			if got := ids(ms); got != tc.want {
				t.Errorf("got %s, want %s", got, tc.want)
			}
		})
	}
	for _, q := range []string{"?sort_by=name", "?limit=51", "?tag=nocolon", "?id=xyz", "?creator=,u", "?is_deleted=maybe", "?type=text"} {
		if status, body := admin.do("GET", "/metric/"+q, nil); status != http.StatusUnprocessableEntity {
			t.Errorf("%s: %d %v, want 422", q, status, body)
		}
	}

	// filter_values describe the matching metrics, on the first page only.
	_, page := admin.metrics("?limit=1")
	fv := page["filter_values"].(map[string]any)
	wantServices := []string{billing, support}
	if billing > support {
		wantServices = []string{support, billing}
	}
	if fmt.Sprint(fv["applied_to_services_ids"]) != fmt.Sprint(wantServices) || fmt.Sprint(fv["tags"]) != "[flag team]" ||
		fmt.Sprint(fv["types"]) != "[boolean categorical numerical]" || len(fv["creators"].([]any)) != 2 ||
		page["has_more"] != true || page["continuation_token"] != float64(1) {
		t.Errorf("first page: %v", page)
	}
	_, page = admin.metrics("?tag=team:support")
	if fv := page["filter_values"].(map[string]any); fmt.Sprint(fv["tags"]) != "[team]" || fmt.Sprint(fv["types"]) != "[numerical]" ||
		fmt.Sprint(fv["applied_to_services_ids"]) != "["+support+"]" || len(fv["creators"].([]any)) != 1 {
		t.Errorf("filtered filter_values: %v", fv)
	}
	if _, page = admin.metrics("?limit=1&continuation_token=1"); page["filter_values"] != nil {
		t.Errorf("second page has filter_values: %v", page)
	}

	// Metric:GetMetric decides which metrics a caller sees, and pages are
	// cut from what it sees.
	admin.newRole("SeesAC", grant("Metric:GetMetric", map[string]any{"name": map[string]any{"type": "In", "values": []any{"A", "C"}}}))
	viewer := admin.keyFor(admin.newUser("viewer@example.com", "SeesAC"), "SeesAC")
	if ms, _ := viewer.metrics(""); ids(ms) != "A,C" {
		t.Errorf("viewer sees %s", ids(ms))
	}
	if ms, _ := viewer.metrics("?limit=1&continuation_token=1"); ids(ms) != "C" {
		t.Errorf("viewer's second page: %s", ids(ms))
	}
	if status, body := viewer.do("GET", "/metric/"+b+"/version", nil); status != http.StatusForbidden {
		t.Errorf("viewer reads B's versions: %d %v", status, body)
	}
	if got := behaviorField(viewer.metricVersions(a, ""), "version"); got != "1" {
		t.Errorf("viewer reads A's versions: %s", got)
	}
	for _, call := range []struct {
		method, path string
		body         any
	}{
		{"POST", "/metric/", metricBody("E", metricValue("boolean"))},
		{"POST", "/metric/" + a + "/", map[string]any{"additional_notes": "x"}},
		{"POST", "/metric/" + a + "/version/", metricVersionBody("x", metricValue("boolean"))},
		{"DELETE", "/metric/" + a + "/", nil},
	} {
		if status, body := viewer.do(call.method, call.path, call.body); status != http.StatusForbidden {
			t.Errorf("viewer %s %s: %d %v, want 403", call.method, call.path, status, body)
		}
	}
	plain := admin.keyFor(admin.newUser("plain@example.com", "DefaultUserRole"), "DefaultUserRole")
	if ms, _ := plain.metrics(""); len(ms) != 0 {
		t.Errorf("a user without the permission sees %s", ids(ms))
	}

	// Grants conditioned on the name: a missing metric is 404, another 403.
	admin.newRole("EditsA",
		grant("Metric:ModifyMetric", map[string]any{"name": equals("A")}),
		grant("Metric:DeleteMetric", map[string]any{"name": equals("A")}),
		grant("Metric:CreateMetric", map[string]any{"name": equals("A2")}))
	editsA := admin.keyFor(admin.newUser("editsa@example.com", "EditsA"), "EditsA")
	missing := store.NewID()
	for _, tc := range []struct {
		method, path string
		body         any
		want         int
	}{
		{"DELETE", "/metric/" + missing + "/", nil, http.StatusNotFound},
		{"POST", "/metric/" + missing + "/", map[string]any{}, http.StatusNotFound},
		{"DELETE", "/metric/" + b + "/", nil, http.StatusForbidden},
		{"POST", "/metric/" + b + "/", map[string]any{"additional_notes": "x"}, http.StatusForbidden},
		{"POST", "/metric/" + b + "/version/", metricVersionBody("x", metricValue("numerical", "lower_bound", 0, "upper_bound", 1)), http.StatusForbidden},
		{"POST", "/metric/", metricBody("E", metricValue("boolean")), http.StatusForbidden},
		{"POST", "/metric/" + a + "/", map[string]any{"tags": map[string]any{"ok": "yes"}}, http.StatusOK},
		{"POST", "/metric/" + a + "/version/", metricVersionBody("y", metricValue("boolean")), http.StatusCreated},
		{"POST", "/metric/", metricBody("A2", metricValue("boolean")), http.StatusCreated},
	} {
		if status, body := editsA.do(tc.method, tc.path, tc.body); status != tc.want {
			t.Errorf("editsA %s %s: %d %v, want %d", tc.method, tc.path, status, body, tc.want)
		}
	}
	ms, _ := admin.metrics("?id=" + b)
	if len(ms) != 1 || ms[0]["additional_notes"] != "touched" {
		t.Errorf("B after refused changes: %v", ms)
	}
	if got := behaviorField(admin.metricVersions(b, ""), "version"); got != "1" {
		t.Errorf("B's versions: %s", got)
	}

	// Another organization sees none of it.
	beta, _ := betaOrg(t, srv, admin)
	if ms, _ := beta.metrics("?is_deleted=false"); len(ms) != 0 {
		t.Errorf("beta sees %s", ids(ms))
	}
	if ms, _ := beta.metrics("?is_deleted=true"); len(ms) != 0 {
		t.Errorf("beta sees deleted %s", ids(ms))
	}
	status, body = beta.do("GET", "/metric/search/?query=A", nil)
	if status != http.StatusOK || len(body["metrics"].([]any)) != 0 {
		t.Errorf("beta searches: %d %v", status, body)
	}
	for _, call := range []struct {
		method, path string
		body         any
	}{
		{"GET", "/metric/" + a + "/version", nil},
		{"POST", "/metric/" + a + "/version/", metricVersionBody("x", metricValue("boolean"))},
		{"POST", "/metric/" + a + "/", map[string]any{"additional_notes": "stolen"}},
		{"DELETE", "/metric/" + a + "/", nil},
	} {
		if status, body := beta.do(call.method, call.path, call.body); status != http.StatusNotFound {
			t.Errorf("beta %s %s: %d %v, want 404", call.method, call.path, status, body)
		}
	}
	bb := metricBody("A", metricValue("boolean"))
	bb["applied_to_services"] = []any{billing}
	if status, body := beta.do("POST", "/metric/", bb); status != http.StatusNotFound {
		t.Errorf("beta applies a metric to alpha's service: %d %v", status, body)
	}
	// Names are unique per organization: beta may have its own A.
	beta.metricCreate(metricBody("A", metricValue("boolean")))
	if ms, _ := admin.metrics("?id=" + a); len(ms) != 1 || ms[0]["name"] != "A" || ms[0]["additional_notes"] != "touched" {
		t.Errorf("A after beta's attempts: %v", ms)
	}
}

func TestMetricSearch(t *testing.T) {
	t.Parallel()
	srv, admin := newTestServer(t)
	svc := behaviorService(t, srv, srv.Organization, srv.UserID, "support")
	refund := admin.metricCreate(metricBody("Refund handled", metricValue("boolean")))
	withSvc := metricBody("Refunds explained clearly", metricValue("numerical", "lower_bound", 0, "upper_bound", 5))
	withSvc["applied_to_services"], withSvc["tags"] = []any{svc}, map[string]any{"team": "billing"}
	explained := admin.metricCreate(withSvc)
	admin.metricCreate(metricBody("Shipping delay", metricValue("boolean")))
	gone := admin.metricCreate(metricBody("Refund denied", metricValue("boolean")))
	status, body := admin.do("DELETE", "/metric/"+gone+"/", nil)
	mustStatus(t, "delete", status, http.StatusOK, body)
	names := map[string]string{refund: "handled", explained: "explained", gone: "denied"}

	search := func(c *client, query string) string {
		t.Helper()
		status, body := c.do("GET", "/metric/search/"+query, nil)
		mustStatus(t, "search "+query, status, http.StatusOK, body)
		var out []string
		for _, m := range behaviorItems(body, "metrics") {
			if m["_id"] == nil || m["name"] == nil || m["metric_value_type"] == nil || m["is_deleted"] != false {
				t.Errorf("search result: %v", m)
			}
			out = append(out, names[m["_id"].(string)])
		}
		return strings.Join(out, ",")
	}
	tests := []struct{ query, want string }{
		{"?query=refund+handled", "handled"},
		{"?query=refund", "handled,explained"},
		{"?query=explain", "explained"},
		{"?query=REFUNDS", "handled,explained"},
		{"?query=refund&type=numerical", "explained"},
		{"?query=refund&applied_to_service=" + svc, "explained"},
		{"?query=refund&tag=team:billing", "explained"},
		{"?query=refund&creator=" + srv.UserID, "handled,explained"},
		{"?query=refund&creator=beta," + srv.UserID, ""},
		{"?query=parcel", ""},
		{"?query=%22refund", "handled,explained"},
	}
	for _, tc := range tests {
		if got := search(admin, tc.query); got != tc.want {
			t.Errorf("search %s: got %q, want %q", tc.query, got, tc.want)
		}
	}
	for _, q := range []string{"", "?query=", "?query=%20%20", "?query=x&type=text"} {
		if status, body := admin.do("GET", "/metric/search/"+q, nil); status != http.StatusUnprocessableEntity {
			t.Errorf("search %q: %d %v, want 422", q, status, body)
		}
	}
	admin.newRole("SeesExplained", grant("Metric:GetMetric", map[string]any{"metric_id": equals(explained)}))
	viewer := admin.keyFor(admin.newUser("viewer@example.com", "SeesExplained"), "SeesExplained")
	if got := search(viewer, "?query=refund"); got != "explained" {
		t.Errorf("viewer's search: %s", got)
	}
}
