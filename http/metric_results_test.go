package httpapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/compadre-dev/compadre/compadretest"
	"github.com/compadre-dev/compadre/llm"
	"github.com/compadre-dev/compadre/store"
)

// judged is a conversation of the walker graph with two interactions: the
// agent's welcome, then an invoice question and the agent's explanation.
type judged struct {
	conv, first, second string
	messages            []string
}

func (c *client) judgedConversation(t testing.TB) judged {
	t.Helper()
	svc := c.talkingService(t, "Walker", walkerGraph())
	opened := c.open(t, "", map[string]any{"service_id": svc})
	j := judged{conv: opened.events[0]["conversation_id"].(string), first: opened.last()["interaction_id"].(string)}
	s := c.interact(t, j.conv, "", userMessage("I have a question about my invoice"))
	j.second = s.last()["interaction_id"].(string)
	status, body := c.do("GET", "/conversation/"+j.conv+"/messages/", nil)
	mustStatus(t, "messages", status, http.StatusOK, body)
	for _, m := range body["messages"].([]any) {
		j.messages = append(j.messages, m.(map[string]any)["id"].(string))
	}
	if len(j.messages) != 3 {
		t.Fatalf("messages: %v", body)
	}
	return j
}

func (c *client) evaluate(t testing.TB, body map[string]any) (int, map[string]any) {
	t.Helper()
	return c.do("POST", "/metric/evaluate", body)
}

func (c *client) metricResults(t *testing.T, query string) ([]map[string]any, map[string]any) {
	t.Helper()
	status, body := c.do("GET", "/metric/metric_evaluation_result"+query, nil)
	mustStatus(t, "get metric evaluation results "+query, status, http.StatusOK, body)
	return behaviorItems(body, "metric_evaluation_results"), body
}

func metricWithDescription(name, description string, value map[string]any) map[string]any {
	b := metricBody(name, value)
	b["initial_version_metric_value"].(map[string]any)["description"] = description
	return b
}

func TestEvaluateMetrics(t *testing.T) {
	t.Parallel()
	srv, c := newTestServer(t)
	j := c.judgedConversation(t)
	explained := c.metricCreate(metricWithDescription("Explained", `Did the agent "explain the invoice"?`, metricValue("boolean")))
	farewell := c.metricCreate(metricWithDescription("Farewell", `Did the agent say "goodbye"?`, metricValue("boolean")))
	coverage := c.metricCreate(metricWithDescription("Coverage", `"invoice", "welcome", "refund", "coupon"`,
		metricValue("numerical", "lower_bound", 0, "upper_bound", 10)))
	topic := c.metricCreate(metricWithDescription("Topic", "What was the conversation about?",
		metricValue("categorical", "categories", []any{"shipping", "billing invoice"})))

	status, body := c.evaluate(t, map[string]any{"metric_ids": []any{explained, farewell, coverage, topic}, "conversation_id": j.conv})
	mustStatus(t, "evaluate", status, http.StatusOK, body)
	got := body["metrics"].([]any)
	want := []struct {
		id    string
		value any
		refs  []string
	}{
		{explained, true, []string{j.messages[2]}},
		{farewell, false, []string{}},
		{coverage, 5.0, []string{j.messages[0], j.messages[1], j.messages[2]}},
		{topic, "billing invoice", []string{j.messages[1], j.messages[2]}},
	}
	if len(got) != len(want) {
		t.Fatalf("evaluations: %v", body)
	}
	for i, w := range want {
		e := got[i].(map[string]any)
		if e["metric_id"] != w.id || e["value"] != w.value || fmt.Sprint(e["references"]) != fmt.Sprint(w.refs) ||
			e["justification"] == "" {
			t.Errorf("evaluation %d: got %v, want %v %v %v", i, e, w.id, w.value, w.refs)
		}
	}

	results, page := c.metricResults(t, "")
	if len(results) != 4 || page["has_more"] != false {
		t.Fatalf("results: %v", page)
	}
	for i, r := range results {
		src := r["source"].(map[string]any)
		invoker := src["invoked_by"].(map[string]any)
		if r["metric_id"] != want[i].id || r["result"] != want[i].value || r["metric_version"] != 1.0 ||
			src["type"] != "manual" || src["conversation_id"] != j.conv || src["evaluate_to_interaction_id"] != nil ||
			invoker["user_id"] != srv.UserID || invoker["org_id"] != srv.Organization ||
			fmt.Sprint(src["references"]) != fmt.Sprint(want[i].refs) {
			t.Errorf("result %d: %v", i, r)
		}
	}
	if fv := page["filter_values"].(map[string]any); len(fv["metric_ids"].([]any)) != 4 {
		t.Errorf("filter values: %v", fv)
	}

	// A later manual evaluation of the same conversation and metric replaces
	// the earlier one; up to the first interaction the invoice is not yet
	// explained.
	status, body = c.evaluate(t, map[string]any{"metric_ids": []any{explained}, "conversation_id": j.conv,
		"evaluate_to_interaction_id": j.first})
	mustStatus(t, "evaluate up to the first interaction", status, http.StatusOK, body)
	if e := body["metrics"].([]any)[0].(map[string]any); e["value"] != false {
		t.Errorf("up to the first interaction: %v", e)
	}
	results, _ = c.metricResults(t, "?metric_id="+explained)
	if len(results) != 1 || results[0]["result"] != false ||
		results[0]["source"].(map[string]any)["evaluate_to_interaction_id"] != j.first {
		t.Errorf("the replaced result: %v", results)
	}
	if all, _ := c.metricResults(t, ""); len(all) != 4 {
		t.Errorf("results after a replacement: %d, want 4", len(all))
	}

	// The latest version is judged.
	status, body = c.do("POST", "/metric/"+coverage+"/version/", metricVersionBody(`"invoice"`,
		metricValue("numerical", "lower_bound", 0, "upper_bound", 4)))
	mustStatus(t, "create version", status, http.StatusCreated, body)
	status, body = c.evaluate(t, map[string]any{"metric_ids": []any{coverage}, "conversation_id": j.conv})
	mustStatus(t, "evaluate version 2", status, http.StatusOK, body)
	if e := body["metrics"].([]any)[0].(map[string]any); e["value"] != 4.0 {
		t.Errorf("version 2: %v", e)
	}
	if rs, _ := c.metricResults(t, "?metric_id_and_version="+coverage+"-2"); len(rs) != 1 || rs[0]["metric_version"] != 2.0 {
		t.Errorf("results of version 2: %v", rs)
	}
	if rs, _ := c.metricResults(t, "?metric_id_and_version="+coverage+"-1"); len(rs) != 0 {
		t.Errorf("results of version 1 after the replacement: %v", rs)
	}

	// Each judging is in the prompt log, under the conversation.
	logs, err := srv.Store().PromptLogs(context.Background(), srv.Organization, "conversation/"+j.conv+"/evaluation/", 100)
	if err != nil || len(logs) != 6 {
		t.Fatalf("judge prompt logs: %d %v", len(logs), err)
	}
	if l := logs[0]; l.Purpose != llm.PurposeEvaluateMetric || !strings.HasSuffix(l.Key, "/01-evaluate-metric") ||
		!strings.Contains(string(l.Prompt), "explain the invoice") || !strings.Contains(l.Completion, `"result":true`) {
		t.Errorf("first judge log: %+v", l)
	}
}

func TestEvaluateMetricsRefusals(t *testing.T) {
	t.Parallel()
	srv, c := newTestServer(t)
	j := c.judgedConversation(t)
	live := c.metricCreate(metricBody("Live", metricValue("boolean")))
	gone := c.metricCreate(metricBody("Gone", metricValue("boolean")))
	if status, body := c.do("DELETE", "/metric/"+gone+"/", nil); status != http.StatusOK {
		t.Fatalf("delete: %d %v", status, body)
	}
	empty, err := srv.Store().CreateConversation(context.Background(), store.NewConversation{OrgID: srv.Organization,
		UserID: srv.UserID, ServiceID: c.talkingService(t, "Quiet", walkerGraph()), VersionSetName: store.ReleaseVersionSet})
	if err != nil {
		t.Fatal(err)
	}
	eleven := make([]any, 11)
	for i := range eleven {
		eleven[i] = store.NewID()
	}
	tests := []struct {
		name   string
		body   map[string]any
		status int
		says   string
	}{
		{"eleven metrics", map[string]any{"metric_ids": eleven, "conversation_id": j.conv}, http.StatusUnprocessableEntity, "metric_ids"},
		{"no metric", map[string]any{"metric_ids": []any{}, "conversation_id": j.conv}, http.StatusUnprocessableEntity, "metric_ids"},
		{"a metric twice", map[string]any{"metric_ids": []any{live, live}, "conversation_id": j.conv}, http.StatusUnprocessableEntity, "metric_ids"},
		{"no conversation", map[string]any{"metric_ids": []any{live}}, http.StatusUnprocessableEntity, "conversation_id"},
		{"unknown metric", map[string]any{"metric_ids": []any{live, store.NewID()}, "conversation_id": j.conv}, http.StatusNotFound, "metric"},
		{"unknown conversation", map[string]any{"metric_ids": []any{live}, "conversation_id": store.NewID()}, http.StatusNotFound, "conversation"},
		{"unknown interaction", map[string]any{"metric_ids": []any{live}, "conversation_id": j.conv,
			"evaluate_to_interaction_id": store.NewID()}, http.StatusNotFound, "interaction"},
		{"deleted metric", map[string]any{"metric_ids": []any{live, gone}, "conversation_id": j.conv}, http.StatusBadRequest, "deleted"},
		{"no interactions", map[string]any{"metric_ids": []any{live}, "conversation_id": empty.ID}, http.StatusBadRequest, "no interactions"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := c.evaluate(t, tt.body)
			if status != tt.status || !strings.Contains(strings.ToLower(errorText(body)), tt.says) {
				t.Errorf("status %d, want %d saying %q: %v", status, tt.status, tt.says, body)
			}
		})
	}
	if rs, _ := c.metricResults(t, ""); len(rs) != 0 {
		t.Errorf("results stored by refused evaluations: %v", rs)
	}
}

// judgeSays answers every judge call with one fixed object, and leaves
// the rest to the built-in provider: a model that breaks the rules a
// judge's answer must keep.
type judgeSays struct {
	llm.Builtin
	answer string
}

func (p judgeSays) Complete(ctx context.Context, c llm.Call) (llm.Answer, error) {
	if c.Purpose != llm.PurposeEvaluateMetric {
		return p.Builtin.Complete(ctx, c)
	}
	return llm.Answer{Object: json.RawMessage(p.answer), Completion: p.answer, Model: "judge"}, nil
}

func TestEvaluateMetricsRefusesAnswersThatDoNotFit(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		value  map[string]any
		answer string
	}{
		{"number above the bound", metricValue("numerical", "lower_bound", 0, "upper_bound", 10),
			`{"result": 10.5, "justification": "j", "references": []}`},
		{"number below the bound", metricValue("numerical", "lower_bound", 0, "upper_bound", 10),
			`{"result": -1, "justification": "j", "references": []}`},
		{"string for a boolean", metricValue("boolean"), `{"result": "yes", "justification": "j", "references": []}`},
		{"unknown category", metricValue("categorical", "categories", []any{"a", "b"}),
			`{"result": "c", "justification": "j", "references": []}`},
		{"reference to no message", metricValue("boolean"), `{"result": true, "justification": "j", "references": ["x"]}`},
		{"not JSON", metricValue("boolean"), `yes`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv, c := newTestServer(t, compadretest.WithModel(judgeSays{answer: tt.answer}))
			j := c.judgedConversation(t)
			id := c.metricCreate(metricBody("M", tt.value))
			status, body := c.evaluate(t, map[string]any{"metric_ids": []any{id}, "conversation_id": j.conv})
			if status != http.StatusBadGateway {
				t.Fatalf("status %d, want 502: %v", status, body)
			}
			if rs, _ := c.metricResults(t, ""); len(rs) != 0 {
				t.Errorf("stored: %v", rs)
			}
			logs, err := srv.Store().PromptLogs(context.Background(), srv.Organization, "conversation/"+j.conv+"/evaluation/", 10)
			if err != nil || len(logs) != 1 || logs[0].Error == "" {
				t.Errorf("the failed judging's log: %+v %v", logs, err)
			}
		})
	}
}

func TestMetricResultFilters(t *testing.T) {
	t.Parallel()
	_, c := newTestServer(t)
	j := c.judgedConversation(t)
	a := c.metricCreate(metricBody("A", metricValue("boolean")))
	b := c.metricCreate(metricBody("B", metricValue("boolean")))
	before := time.Now().UTC().Add(-time.Second).Format(time.RFC3339Nano)
	status, body := c.evaluate(t, map[string]any{"metric_ids": []any{a, b}, "conversation_id": j.conv})
	mustStatus(t, "evaluate", status, http.StatusOK, body)
	after := time.Now().UTC().Add(time.Second).Format(time.RFC3339Nano)
	q := url.QueryEscape
	tests := []struct {
		query string
		want  []string
	}{
		{"", []string{a, b}},
		{"?metric_id=" + b, []string{b}},
		{"?metric_id_and_version=" + a + "-", []string{a}},
		{"?metric_id_and_version=" + a + "-1&metric_id_and_version=" + b + "-1", []string{a, b}},
		{"?metric_id_and_version=" + a + "-2", nil},
		{"?source_type=manual", []string{a, b}},
		{"?source_type=simulation&source_type=post-session", nil},
		{"?conversation_id=" + j.conv, []string{a, b}},
		{"?conversation_id=" + store.NewID(), nil},
		{"?simulation_unit_test_set_run_id=" + store.NewID(), nil},
		{"?timestamp_after=" + q(before), []string{a, b}},
		{"?timestamp_after=" + q(after), nil},
		{"?timestamp_before=" + q(before), nil},
		{"?timestamp_before=" + q(after) + "&sort_by=-created_at", []string{a, b}},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			rs, _ := c.metricResults(t, tt.query)
			var got []string
			for _, r := range rs {
				got = append(got, r["metric_id"].(string))
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}

	// Pages of one.
	first, page := c.metricResults(t, "?limit=1")
	if len(first) != 1 || page["has_more"] != true || page["continuation_token"] != 1.0 || page["filter_values"] == nil {
		t.Fatalf("first page: %v", page)
	}
	second, page := c.metricResults(t, "?limit=1&continuation_token=1")
	if len(second) != 1 || page["has_more"] != false || page["filter_values"] != nil || second[0]["id"] == first[0]["id"] {
		t.Errorf("second page: %v", page)
	}

	for _, bad := range []string{"?metric_id_and_version=" + a, "?metric_id_and_version=" + a + "-0",
		"?metric_id_and_version=" + a + "-x", "?timestamp_after=yesterday", "?source_type=other", "?limit=501",
		"?sort_by=updated_at"} {
		if status, body := c.do("GET", "/metric/metric_evaluation_result"+bad, nil); status != http.StatusUnprocessableEntity {
			t.Errorf("%s: status %d, want 422: %v", bad, status, body)
		}
	}
}

func TestMetricResultPermissions(t *testing.T) {
	t.Parallel()
	_, admin := newTestServer(t)
	j := admin.judgedConversation(t)
	a := admin.metricCreate(metricBody("A", metricValue("boolean")))
	b := admin.metricCreate(metricBody("B", metricValue("boolean")))
	status, body := admin.evaluate(t, map[string]any{"metric_ids": []any{a, b}, "conversation_id": j.conv})
	mustStatus(t, "evaluate", status, http.StatusOK, body)

	// A reader of A's results only sees A's, and may not evaluate.
	admin.newRole("ReadsA", grant("Metric:GetMetricEvaluationResult", map[string]any{"metric_id": equals(a)}))
	reader := admin.keyFor(admin.newUser("reader@example.com", "ReadsA"), "ReadsA")
	rs, page := reader.metricResults(t, "")
	if len(rs) != 1 || rs[0]["metric_id"] != a {
		t.Errorf("results a reader of A sees: %v", rs)
	}
	if ids := page["filter_values"].(map[string]any)["metric_ids"].([]any); len(ids) != 2 {
		t.Errorf("filter values count every result, as the reference says: %v", ids)
	}
	if status, body := reader.evaluate(t, map[string]any{"metric_ids": []any{a}, "conversation_id": j.conv}); status != http.StatusForbidden {
		t.Errorf("evaluate without the permissions: %d %v", status, body)
	}

	// Every metric permission, on A only, and no sight of the conversation.
	metricPerms := func(cond map[string]any) []map[string]any {
		var gs []map[string]any
		for _, p := range []string{"Metric:GetMetric", "Metric:EvaluateMetric", "Metric:GetMetricEvaluationResult"} {
			gs = append(gs, grant(p, cond))
		}
		return gs
	}
	admin.newRole("JudgesA", metricPerms(map[string]any{"metric_id": equals(a)})...)
	judge := admin.keyFor(admin.newUser("judge@example.com", "JudgesA"), "JudgesA")
	if status, body := judge.evaluate(t, map[string]any{"metric_ids": []any{a}, "conversation_id": j.conv}); status != http.StatusForbidden {
		t.Errorf("evaluate a conversation the caller cannot see: %d %v", status, body)
	}
	admin.newRole("JudgesASeesAll", append(metricPerms(map[string]any{"metric_id": equals(a)}),
		grant("Conversation:GetConversation", map[string]any{}))...)
	seer := admin.keyFor(admin.newUser("seer@example.com", "JudgesASeesAll"), "JudgesASeesAll")
	if status, body := seer.evaluate(t, map[string]any{"metric_ids": []any{a}, "conversation_id": j.conv}); status != http.StatusOK {
		t.Errorf("evaluate A: %d %v", status, body)
	}
	if status, body := seer.evaluate(t, map[string]any{"metric_ids": []any{a, b}, "conversation_id": j.conv}); status != http.StatusForbidden {
		t.Errorf("evaluate B without its permissions: %d %v", status, body)
	}
}
