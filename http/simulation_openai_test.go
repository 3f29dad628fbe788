package httpapi_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/compadre-dev/compadre/compadretest"
	"github.com/compadre-dev/compadre/llm"
)

// scriptedModel is an OpenAI-compatible chat-completions server that plays
// every part of a simulation by simple rules, and keeps each request: the
// simulated user (its system prompt says "You play a user") says goodbye;
// the agent says "Certainly."; a choice takes the option about goodbye
// when the latest user message says goodbye, else option 0; a judge's
// verdict is true, or a numerical metric's upper bound, with a
// justification the test can recognise.
type scriptedModel struct {
	mu       sync.Mutex
	requests []map[string]any
}

const scriptedJustification = "The scripted judge read the transcript."

func (m *scriptedModel) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// The server's model list, which the model registry asks for, is not
	// a part of the simulation.
	if r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/models") {
		_, _ = io.WriteString(w, `{"data":[{"id":"scripted"}]}`)
		return
	}
	raw, _ := io.ReadAll(r.Body)
	var req map[string]any
	_ = json.Unmarshal(raw, &req)
	m.mu.Lock()
	m.requests = append(m.requests, req)
	m.mu.Unlock()
	msgs, _ := req["messages"].([]any)
	text := func(i int) string { return msgs[i].(map[string]any)["content"].(string) }
	lastUser := ""
	for i := range msgs {
		if msgs[i].(map[string]any)["role"] == "user" {
			lastUser = text(i)
		}
	}
	var content string
	format, _ := req["response_format"].(map[string]any)
	switch {
	case format == nil && strings.Contains(text(0), "You play a user"):
		content = "Thanks, goodbye"
	case format == nil:
		content = "Certainly."
	case format["json_schema"].(map[string]any)["name"] == "choice":
		choice := 0
		if strings.Contains(strings.ToLower(lastUser), "goodbye") {
			for _, line := range strings.Split(text(len(msgs)-1), "\n") {
				if n := regexp.MustCompile(`^(\d+): .*goodbye`).FindStringSubmatch(line); n != nil {
					choice = int(n[1][0] - '0')
				}
			}
		}
		content = `{"choice": ` + string(rune('0'+choice)) + `}`
	default:
		schema := format["json_schema"].(map[string]any)["schema"].(map[string]any)
		props, _ := schema["properties"].(map[string]any)
		result, ok := props["result"]
		if !ok {
			content = "{}"
			break
		}
		verdict := map[string]any{"result": true, "justification": scriptedJustification, "references": []any{}}
		if upper := findKey(result, "maximum"); upper != nil {
			verdict["result"] = upper
		}
		b, _ := json.Marshal(verdict)
		content = string(b)
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"model": "scripted",
		"choices": []any{map[string]any{"index": 0, "message": map[string]any{"role": "assistant", "content": content}}}})
}

// findKey returns the first value of key anywhere in v.
func findKey(v any, key string) any {
	switch x := v.(type) {
	case map[string]any:
		if got, ok := x[key]; ok {
			return got
		}
		for _, sub := range x {
			if got := findKey(sub, key); got != nil {
				return got
			}
		}
	case []any:
		for _, sub := range x {
			if got := findKey(sub, key); got != nil {
				return got
			}
		}
	}
	return nil
}

// A simulation with a real provider: the simulated user, the agent and the
// judge are each a chat-completions request to the configured server, the
// judge's held to the metric by its JSON Schema.
func TestSimulationRunThroughAnOpenAIServer(t *testing.T) {
	model := &scriptedModel{}
	fake := httptest.NewServer(model)
	t.Cleanup(fake.Close)
	provider, err := llm.New(llm.OpenAIName, llm.OpenAIConfig{URL: fake.URL + "/v1/", Model: "scripted"})
	if err != nil {
		t.Fatal(err)
	}
	srv, c := newTestServer(t, compadretest.WithModel(provider))
	exit := map[string]any{"description": "The user says goodbye", "next_state": "end"}
	g := stateMachineMinimal()
	g["states"] = []any{stateMachineAction("start", "Help the user", exit), stateMachineAction("end", "Say goodbye")}
	service := c.talkingService(t, "scripted", g)
	persona := c.simCreate(t, "/simulation/persona/", map[string]any{"name": "Quinn", "role": "customer", "tags": map[string]any{},
		"initial_version": map[string]any{"background": "Quinn runs a bakery.", "user_models": []any{},
			"nonsensitive_user_variables": map[string]any{}, "sensitive_user_variables": map[string]any{}}}, "simulation_persona_id")
	scenario := c.simCreate(t, "/simulation/scenario/", map[string]any{"name": "quick", "tags": map[string]any{},
		"initial_version": map[string]any{"objective": "Order bread for Friday", "instructions": "Be brief.",
			"initial_message_type": "skip", "conversation_starts_at": nil}}, "simulation_scenario_id")
	polite := c.metricCreate(metricBody("polite", metricValue("boolean")))
	score := c.metricCreate(metricBody("score", metricValue("numerical", "lower_bound", 1, "upper_bound", 5)))
	unitTest := c.simCreate(t, "/simulation/unit_test/", map[string]any{"name": "scripted", "description": "d",
		"service_id": service, "service_version_set_name": "release", "persona_id": persona, "scenario_id": scenario,
		"max_interactions": 3, "tags": map[string]any{}, "success_criterions": []any{
			map[string]any{"name": "polite", "metric_id": polite, "criterion": map[string]any{"type": "boolean", "expected_value": true}},
			map[string]any{"name": "score", "metric_id": score, "criterion": map[string]any{"type": "numerical", "verb": "==", "threshold": 5}},
		}}, "simulation_unit_test_id")
	runID := c.simCreate(t, "/simulation/unit_test_set_run/", map[string]any{
		"simulation_unit_test_set_id": c.simSet(t, "scripted", unitTest, 1)}, "simulation_unit_test_set_run_id")
	run := c.simAwait(t, runID)
	if run["errored"] != false || run["failed_metrics"] != false {
		t.Fatalf("run: %s", mustJSONText(t, run))
	}

	// The agent opened (skip), the simulated user said goodbye, and the
	// agent left for the terminal state: one user turn.
	results, body := c.metricResults(t, "?simulation_unit_test_set_run_id="+runID)
	if len(results) != 2 {
		t.Fatalf("results: %s", mustJSONText(t, body))
	}
	for _, r := range results {
		if r["justification"] != scriptedJustification {
			t.Errorf("justification %v", r["justification"])
		}
	}
	model.mu.Lock()
	requests := model.requests
	model.mu.Unlock()
	var user, judged []map[string]any
	for _, req := range requests {
		msgs := req["messages"].([]any)
		first := msgs[0].(map[string]any)["content"].(string)
		switch {
		case strings.Contains(first, "You play a user"):
			user = append(user, req)
		case findKey(req["response_format"], "result") != nil:
			judged = append(judged, req)
		}
	}
	if len(user) != 1 || !strings.Contains(mustJSONText(t, user[0]), "Quinn runs a bakery.") ||
		!strings.Contains(mustJSONText(t, user[0]), "Order bread for Friday") {
		t.Errorf("simulated user's requests: %s", mustJSONText(t, user))
	}
	if len(judged) != 2 {
		t.Fatalf("judge requests: %d", len(judged))
	}
	// The numerical metric's schema bounds the result to [1, 5].
	var bounds []any
	for _, req := range judged {
		if max := findKey(req["response_format"], "maximum"); max != nil {
			bounds = append(bounds, findKey(req["response_format"], "minimum"), max)
		}
	}
	if mustJSONText(t, bounds) != "[1,5]" {
		t.Errorf("numerical verdict schema bounds %v", bounds)
	}
	logs, err := srv.Store().PromptLogs(t.Context(), srv.Organization, "simulation/"+runID+"/", 100)
	if err != nil || len(logs) != len(requests) {
		t.Errorf("prompt logs under the run: %d for %d requests (%v)", len(logs), len(requests), err)
	}
}
