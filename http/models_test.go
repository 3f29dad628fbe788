package httpapi_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/compadre-dev/compadre/compadretest"
	"github.com/compadre-dev/compadre/llm"
)

// hostedModels are the model names the hosted API's reference accepts in
// a version set (its LLMType), in its order.
var hostedModels = []string{
	"azure_gpt-4.1-2025-04-14", "openai_gpt-4.1-2025-04-14", "azure_gpt-4.1-mini-2025-04-14",
	"openai_gpt-4.1-mini-2025-04-14", "azure_gpt-5-nano-2025-08-07", "azure_gpt-5.1-2025-11-13",
	"openai_gpt-5.1-2025-11-13", "azure_gpt-5.2-2025-12-11", "openai_gpt-5-nano-2025-08-07",
	"openai_gpt-5-mini-2025-08-07", "openai_gpt-5.2-2025-12-11", "aws_claude-sonnet-4-5-20250929",
	"aws_claude-haiku-4-5-20251001", "aws_claude-sonnet-4-6", "aws_claude-opus-4-6", "google_gemini-2.5-pro",
	"google_gemini-2.5-flash",
}

// models calls get-models and returns the models by name, in order.
func (c *client) models(t testing.TB) ([]string, map[string]map[string]any) {
	t.Helper()
	status, body := c.do("GET", "/admin/get_models/", nil)
	mustStatus(t, "get models", status, http.StatusOK, body)
	var names []string
	byName := map[string]map[string]any{}
	for _, m := range body["models"].([]any) {
		m := m.(map[string]any)
		names = append(names, m["name"].(string))
		byName[m["name"].(string)] = m
	}
	return names, byName
}

// compileParams compiles a model's params_model_schema as the JSON Schema
// it claims to be.
func compileParams(t testing.TB, name string, schema any) *jsonschema.Schema {
	t.Helper()
	raw, err := json.Marshal(schema)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	comp := jsonschema.NewCompiler()
	if err := comp.AddResource("urn:params", doc); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	s, err := comp.Compile("urn:params")
	if err != nil {
		t.Fatalf("%s: params_model_schema does not compile: %v", name, err)
	}
	return s
}

func TestGetModelsBuiltin(t *testing.T) {
	t.Parallel()
	_, c := newTestServer(t)
	names, byName := c.models(t)
	if want := append([]string{llm.BuiltinName}, hostedModels...); !slices.Equal(names, want) {
		t.Fatalf("models: got %v, want %v", names, want)
	}
	for _, name := range names {
		m := byName[name]
		if d, _ := m["description"].(string); d == "" {
			t.Errorf("%s: no description", name)
		}
		s := compileParams(t, name, m["params_model_schema"])
		// Every model takes no parameters at all, and refuses what it
		// does not know.
		if err := s.Validate(map[string]any{}); err != nil {
			t.Errorf("%s: no parameters refused: %v", name, err)
		}
		if err := s.Validate(map[string]any{"no_such_parameter": true}); err == nil {
			t.Errorf("%s: an unknown parameter accepted", name)
		}
	}
	if d := byName["aws_claude-opus-4-6"]["description"].(string); !strings.Contains(d, "built-in rules") {
		t.Errorf("a hosted model's description does not say the built-in rules answer it: %q", d)
	}
}

func TestGetModelsPermission(t *testing.T) {
	t.Parallel()
	_, admin := newTestServer(t)
	user := admin.newUser("user@example.com", "DefaultUserRole")
	status, body := admin.keyFor(user, "DefaultUserRole").do("GET", "/admin/get_models/", nil)
	mustStatus(t, "get models without Admin:GetModels", status, http.StatusForbidden, body)
	if !strings.Contains(detail(body), "Admin:GetModels") {
		t.Errorf("detail %q does not name the permission", detail(body))
	}
	status, body = admin.do("GET", "/admin/get_models/", nil)
	mustStatus(t, "get models as administrator", status, http.StatusOK, body)
}

func TestGetModelsRateLimit(t *testing.T) {
	t.Parallel()
	_, c := newTestServer(t, compadretest.WithRateLimits(1))
	for i := range 20 {
		status, body := c.do("GET", "/admin/get_models/", nil)
		mustStatus(t, fmt.Sprintf("request %d of 20", i+1), status, http.StatusOK, body)
	}
	status, body := c.do("GET", "/admin/get_models/", nil)
	mustStatus(t, "request 21", status, http.StatusTooManyRequests, body)
	if want := "The user has exceeded the rate limit of 20 requests per minute for this endpoint."; detail(body) != want {
		t.Errorf("detail: got %q, want %q", detail(body), want)
	}
}

// preferring is a version set preferring model with params for the
// engage-user calls, written as the hosted API spells interaction names.
func preferring(model string, params map[string]any) map[string]any {
	pref := map[string]any{"llm_name": model}
	if params != nil {
		pref["params"] = params
	}
	return map[string]any{"agent_version_number": nil, "service_hierarchical_state_machine_version_number": nil,
		"llm_model_preferences": map[string]any{"engage_user": pref}}
}

// TestVersionSetModelPreferences: a version set may prefer only a model
// get-models lists, with parameters its schema takes; anything else is a
// 400 naming the model (and the parameter) that changes nothing.
func TestVersionSetModelPreferences(t *testing.T) {
	t.Parallel()
	_, c := newTestServer(t)
	svc := c.talkingService(t, "Prefs", stateMachineMinimal())
	tests := []struct {
		name    string
		model   string
		params  map[string]any
		status  int
		mention []string // what the 400's detail names
	}{
		{"a hosted model with parameters", "openai_gpt-5-mini-2025-08-07", map[string]any{"temperature": 0.2, "max_tokens": 100},
			http.StatusNoContent, nil},
		{"the built-in model with a seed", llm.BuiltinName, map[string]any{"seed": 7}, http.StatusNoContent, nil},
		{"a hosted model without params", "google_gemini-2.5-flash", nil, http.StatusNoContent, nil},
		{"the edge temperature", "aws_claude-sonnet-4-6", map[string]any{"temperature": 2}, http.StatusNoContent, nil},
		{"an unknown model", "gpt-0", nil, http.StatusBadRequest, []string{`"gpt-0"`, `"engage_user"`, "get-models"}},
		{"a temperature above its maximum", "aws_claude-sonnet-4-6", map[string]any{"temperature": 2.5},
			http.StatusBadRequest, []string{`"aws_claude-sonnet-4-6"`, `"temperature"`}},
		{"a top_p below its minimum", "aws_claude-sonnet-4-6", map[string]any{"top_p": -0.5},
			http.StatusBadRequest, []string{`"aws_claude-sonnet-4-6"`, `"top_p"`}},
		{"a parameter the model does not take", "aws_claude-sonnet-4-6", map[string]any{"temprature": 1},
			http.StatusBadRequest, []string{`"aws_claude-sonnet-4-6"`, `"temprature"`}},
		{"a temperature for the built-in model", llm.BuiltinName, map[string]any{"temperature": 1},
			http.StatusBadRequest, []string{`"builtin"`, `"temperature"`}},
		{"an empty name", "", nil, http.StatusUnprocessableEntity, nil},
		{"a name of 257 characters", strings.Repeat("m", 257), nil, http.StatusUnprocessableEntity, nil},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			set := fmt.Sprintf("set%d", i)
			status, body := c.do("PUT", "/service/"+svc+"/version_sets/"+set+"/",
				map[string]any{"version_set": preferring(tt.model, tt.params)})
			mustStatus(t, "upsert", status, tt.status, body)
			for _, m := range tt.mention {
				if !strings.Contains(detail(body), m) {
					t.Errorf("detail %q does not name %s", detail(body), m)
				}
			}
			sets := c.serviceGet(t, svc)["version_sets"].(map[string]any)
			stored, ok := sets[set].(map[string]any)
			if ok != (tt.status == http.StatusNoContent) {
				t.Fatalf("version set stored: %v, want %v", ok, tt.status == http.StatusNoContent)
			}
			if ok {
				pref := stored["llm_model_preferences"].(map[string]any)["engage_user"].(map[string]any)
				if pref["llm_name"] != tt.model {
					t.Errorf("stored preference: %v", pref)
				}
			}
		})
	}

	// A refused change leaves the version set as it was.
	status, body := c.do("PUT", "/service/"+svc+"/version_sets/set0/", map[string]any{"version_set": preferring("gpt-0", nil)})
	mustStatus(t, "upsert an existing set with an unknown model", status, http.StatusBadRequest, body)
	pref := c.serviceGet(t, svc)["version_sets"].(map[string]any)["set0"].(map[string]any)["llm_model_preferences"].(map[string]any)
	if pref["engage_user"].(map[string]any)["llm_name"] != "openai_gpt-5-mini-2025-08-07" {
		t.Errorf("set0 after a refused change: %v", pref)
	}

	// create-service checks its release version set the same way, and
	// creates nothing when it refuses.
	agent, sm := c.newAgent(t, "Prefs agent 2"), c.newStateMachine(t, "Prefs graph 2")
	status, body = c.do("POST", "/service/", serviceBody("Refused", agent, sm, map[string]any{
		"release_version_set": preferring("aws_claude-opus-4-6", map[string]any{"max_tokens": 0})}))
	mustStatus(t, "create with a bad parameter", status, http.StatusBadRequest, body)
	if !strings.Contains(detail(body), `"max_tokens"`) {
		t.Errorf("detail %q does not name max_tokens", detail(body))
	}
	if got, _ := c.serviceList(t, ""); serviceNames(got) != "Prefs" {
		t.Errorf("services after a refused create: %s", serviceNames(got))
	}
	c.serviceNew(t, "Accepted", agent, sm, map[string]any{"release_version_set": preferring("aws_claude-opus-4-6", nil)})
}

// chatServer is an OpenAI-compatible server in the test process: it lists
// its models and answers every chat completion plainly, keeping each
// request's model and parameters.
type chatServer struct {
	*httptest.Server
	mu    sync.Mutex
	calls []map[string]any
}

func newChatServer(t *testing.T, models ...string) *chatServer {
	t.Helper()
	s := &chatServer{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.Method == http.MethodGet && r.URL.Path == "/v1/models" {
			data := []any{}
			for _, m := range models {
				data = append(data, map[string]any{"id": m, "object": "model"})
			}
			_ = json.NewEncoder(w).Encode(map[string]any{"object": "list", "data": data})
			return
		}
		var req map[string]any
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil || r.URL.Path != "/v1/chat/completions" {
			http.Error(w, `{"error":"unexpected request"}`, http.StatusBadRequest)
			return
		}
		s.mu.Lock()
		s.calls = append(s.calls, req)
		s.mu.Unlock()
		content := "Hello, how can I help?"
		if rf, ok := req["response_format"].(map[string]any); ok {
			content = "{}"
			if strings.Contains(fmt.Sprint(rf), "choice") {
				content = `{"choice": 0}`
			}
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"model": req["model"],
			"choices": []any{map[string]any{"index": 0, "message": map[string]any{"role": "assistant", "content": content}}}})
	}))
	t.Cleanup(s.Close)
	return s
}

// taken returns the chat requests received since the last call.
func (s *chatServer) taken() []map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.calls
	s.calls = nil
	return out
}

// TestModelsFromAnOpenAIServer: with an OpenAI-compatible provider,
// get-models lists the server's models beside the configured one, a
// version set may prefer one of them (and no hosted model), and the
// engine's calls of the preferred kind ask that model with its parameters.
func TestModelsFromAnOpenAIServer(t *testing.T) {
	t.Parallel()
	chat := newChatServer(t, "llama-test", "qwen-test")
	provider, err := llm.New(llm.OpenAIName, llm.OpenAIConfig{URL: chat.URL + "/v1", Model: "default-test"})
	if err != nil {
		t.Fatal(err)
	}
	_, c := newTestServer(t, compadretest.WithModel(provider))
	names, byName := c.models(t)
	if want := []string{"default-test", "llama-test", "qwen-test"}; !slices.Equal(names, want) {
		t.Fatalf("models: got %v, want %v", names, want)
	}
	for _, name := range names {
		compileParams(t, name, byName[name]["params_model_schema"])
	}

	svc := c.talkingService(t, "Chat", stateMachineMinimal())
	status, body := c.do("PUT", "/service/"+svc+"/version_sets/hosted/", map[string]any{
		"version_set": preferring("aws_claude-opus-4-6", nil)})
	mustStatus(t, "prefer a hosted model the server lacks", status, http.StatusBadRequest, body)
	status, body = c.do("PUT", "/service/"+svc+"/version_sets/qwen/", map[string]any{
		"version_set": preferring("qwen-test", map[string]any{"temperature": 0.3, "stop": "END"})})
	mustStatus(t, "prefer a model of the server", status, http.StatusNoContent, body)
	chat.taken()

	opened := c.open(t, "", map[string]any{"service_id": svc, "service_version_set_name": "qwen"})
	if opened.status != http.StatusCreated || opened.last()["type"] != "interaction-complete" {
		t.Fatalf("create: status %d: %s", opened.status, opened.raw)
	}
	convID := opened.events[0]["conversation_id"].(string)
	s := c.interact(t, convID, "", userMessage("Hello there"))
	if s.status != http.StatusOK || s.last()["type"] != "interaction-complete" {
		t.Fatalf("interact: status %d: %s", s.status, s.raw)
	}
	// Each interaction's engage-user call (the only plain-text one here)
	// asks the preferred model with its parameters; every other call asks
	// the default model with none.
	var engaged int
	for _, call := range chat.taken() {
		if call["response_format"] == nil {
			engaged++
			if call["model"] != "qwen-test" || call["temperature"] != 0.3 || fmt.Sprint(call["stop"]) != "[END]" {
				t.Errorf("engage-user call: model %v, temperature %v, stop %v; want qwen-test, 0.3, [END]",
					call["model"], call["temperature"], call["stop"])
			}
			continue
		}
		if call["model"] != "default-test" || call["temperature"] != nil {
			t.Errorf("another call: model %v, temperature %v; want default-test and none", call["model"], call["temperature"])
		}
	}
	if engaged != 2 {
		t.Errorf("engage-user calls: got %d, want one an interaction", engaged)
	}
}
