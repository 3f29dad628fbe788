package httpapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/compadre-dev/compadre/compadretest"
	"github.com/compadre-dev/compadre/engine"
	"github.com/compadre-dev/compadre/llm"
	"github.com/compadre-dev/compadre/store"
	"github.com/compadre-dev/compadre/tools"
)

// probeTool answers as its arguments ask: text back, n x's, its
// invocation mode, an exception, after sleeping if told to.
const probeTool = `import time


def run(text: str = "", n: int = 0, sleep: float = 0, fail: bool = False, mode: bool = False,
        invocation_mode: str = "") -> str:
    """Answers as asked."""
    if sleep:
        time.sleep(sleep)
    if fail:
        raise ValueError("asked to fail")
    if mode:
        return invocation_mode
    if n:
        return "x" * n
    return text
`

// publishProbeTool publishes probeTool as versions 1.0.0 and 2.0.0 of a
// tool named probe and returns its ID.
func publishProbeTool(t testing.TB, srv *compadretest.Server, c *client) string {
	t.Helper()
	g := newGitRepo(t)
	g.write("probe", map[string]string{
		"pyproject.toml": `[project]
name = "probe"
version = "0.1.0"
requires-python = ">=3.14"

[tool.ruff]
target-version = "py314"

[tool.amigo]
entrypoint = "probe.main:run"
`,
		"probe/__init__.py": "",
		"probe/main.py":     probeTool,
	})
	branch := "releases/" + srv.Organization
	g.commitAndPush(srv.ToolsRepo, branch, "probe")
	status, body := c.do("POST", "/tool/", map[string]any{"name": "probe", "description": "Diagnostic probe", "tags": map[string]any{}})
	mustStatus(t, "create tool", status, http.StatusCreated, body)
	id := body["id"].(string)
	for _, want := range []string{"1.0.0", "2.0.0"} {
		g.commitAndPush(srv.ToolsRepo, branch, "probe "+want)
		status, body = c.do("POST", "/tool/"+id+"/version", map[string]any{"project_path": "probe", "bump_type": "major"})
		mustStatus(t, "publish probe "+want, status, http.StatusCreated, body)
		if body["new_version"] != want {
			t.Fatalf("published %v, want %s", body["new_version"], want)
		}
	}
	return id
}

func toolCallSpec(toolID, constraint, persistence, instruction string, after float64, fillers ...string) map[string]any {
	if fillers == nil {
		fillers = []string{}
	}
	return map[string]any{"tool_id": toolID, "version_constraint": constraint, "additional_instruction": instruction,
		"audio_fillers": fillers, "audio_filler_triggered_after": after, "result_persistence": persistence}
}

// toolsGraph puts probe in every place a state calls tools. The built-in
// model calls a tool when the user's message has a word of its
// instruction: "inspect" (exit condition tool, versions below 2),
// "fetch" (engage-user, persisted-preferred), "wait" (engage-user,
// ephemeral, with a filler after 0.2 s); "lookup" leaves for the
// tool-call state, whose designated tool is persisted and has a filler
// for parameters that take over 0.2 s to write, and which offers probe
// ("verify", ephemeral) before it.
//
//	start --lookup--> lookup (tool-call) --> answer --goodbye--> end
func toolsGraph(probe string) map[string]any {
	exit := func(desc, next string) map[string]any { return map[string]any{"description": desc, "next_state": next} }
	start := stateMachineAction("start", "Welcome the user", exit("The user wants the lookup", "lookup"),
		exit("The user says goodbye", "end"))
	start["exit_condition_tool_call_specs"] = []any{toolCallSpec(probe, "<2", "ephemeral", "Inspect the route.", 10)}
	start["action_tool_call_specs"] = []any{
		toolCallSpec(probe, ">=1.0.0", "persisted-preferred", "Fetch the details.", 10, "Fetching."),
		toolCallSpec(probe, ">=1.0.0", "ephemeral", "Wait patiently.", 0.2, "One moment please.", "Still working."),
	}
	lookup := map[string]any{
		"type": "tool-call", "name": "lookup", "next_state": "answer",
		"tool_call_specs":                []any{toolCallSpec(probe, ">=1.0.0", "ephemeral", "Verify the record.", 10)},
		"designated_tool":                toolCallSpec(probe, ">=1.0.0", "persisted", "Look it up.", 10),
		"designated_tool_call_objective": "Look up what was asked for",
		"designated_tool_call_context":   "A lookup was asked for",
		"designated_tool_call_guidances": []any{}, "designated_tool_call_validations": []any{},
		"designated_tool_call_params_generation_audio_fillers":                []any{"Preparing the lookup."},
		"designated_tool_call_params_generation_audio_filler_triggered_after": 0.2,
	}
	g := stateMachineMinimal()
	g["states"] = []any{start, lookup, stateMachineAction("answer", "Report the lookup", exit("The user says goodbye", "end")),
		stateMachineAction("end", "Say goodbye")}
	return g
}

// recordingModel is the built-in model, remembering the system prompt of
// every call by the user's message it was about. Calls of the purposes in
// slow take half a second when the message says "slowly".
type recordingModel struct {
	llm.Builtin
	slow    map[string]bool
	mu      sync.Mutex
	prompts map[string][]string
}

func (m *recordingModel) Complete(ctx context.Context, c llm.Call) (llm.Answer, error) {
	m.mu.Lock()
	if len(c.Messages) > 0 {
		m.prompts[c.Subject] = append(m.prompts[c.Subject], c.Messages[0].Content)
	}
	m.mu.Unlock()
	if m.slow[c.Purpose] && strings.Contains(c.Subject, "slowly") {
		select {
		case <-time.After(500 * time.Millisecond):
		case <-ctx.Done():
			return llm.Answer{}, ctx.Err()
		}
	}
	return m.Builtin.Complete(ctx, c)
}

func (m *recordingModel) systemPrompts(subject string) []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.prompts[subject]
}

// actions are a stream's agent actions of the given type.
func (s stream) actions(typ string) []map[string]any {
	var out []map[string]any
	for _, ev := range s.events {
		if a, ok := ev["action"].(map[string]any); ok && a["type"] == typ {
			out = append(out, a)
		}
	}
	return out
}

// invocations are the conversation's tool invocation records, oldest first.
func (c *client) invocations(t testing.TB, convID string) []map[string]any {
	t.Helper()
	status, body := c.do("GET", "/tool/invocation?conversation_id="+convID+"&sort_by=%2Bcreated_at", nil)
	mustStatus(t, "get tool invocations", status, http.StatusOK, body)
	var out []map[string]any
	for _, inv := range body["tool_invocations"].([]any) {
		out = append(out, inv.(map[string]any))
	}
	return out
}

func (c *client) insights(t testing.TB, convID string, s stream) map[string]any {
	t.Helper()
	status, body := c.do("GET", "/conversation/"+convID+"/interaction/"+s.last()["interaction_id"].(string)+"/insights", nil)
	mustStatus(t, "insights", status, http.StatusOK, body)
	return body
}

func mustJSONText(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestConversationTools runs tools from every place a context graph calls
// them, in the sandbox, and checks what the stream, the invocation
// records, the insights and later prompts say of each run. The subtests
// share one server and take turns, each with its own conversation.
func TestConversationTools(t *testing.T) {
	t.Parallel()
	model := &recordingModel{prompts: map[string][]string{}, slow: map[string]bool{"tool-params": true}}
	srv, c := newTestServer(t, compadretest.WithSandbox(), compadretest.WithModel(model))
	probe := publishProbeTool(t, srv, c)
	status, body := c.do("POST", stateMachinePath(), map[string]any{"state_machine_name": "tools"})
	mustStatus(t, "create state machine", status, http.StatusCreated, body)
	smID := body["id"].(string)
	status, body = c.do("POST", stateMachinePath(smID)+"/", toolsGraph(probe))
	mustStatus(t, "create state machine version", status, http.StatusCreated, body)
	svc := c.serviceNew(t, "Tools", c.newAgent(t, "Tools agent"), smID, nil)
	graphVersion := []any{smID, float64(1)}

	// start opens a conversation; its cleanup finishes it, since a user
	// has one unfinished conversation with a service at a time.
	start := func(t *testing.T) string {
		t.Helper()
		s := c.open(t, "", map[string]any{"service_id": svc})
		if s.status != http.StatusCreated {
			t.Fatalf("create: status %d: %s", s.status, s.raw)
		}
		id := s.events[0]["conversation_id"].(string)
		t.Cleanup(func() { c.do("POST", "/conversation/"+id+"/finish/", nil) })
		return id
	}
	interact := func(t *testing.T, convID, text string) stream {
		t.Helper()
		s := c.interact(t, convID, "", userMessage(text))
		if s.status != http.StatusOK {
			t.Fatalf("interact %q: status %d: %s", text, s.status, s.raw)
		}
		checkLines(t, s, false)
		return s
	}

	t.Run("designated tool", func(t *testing.T) {
		convID := start(t)
		s := interact(t, convID, `lookup {"text": "hi"}`)
		want := []string{"user-message-available",
			"navigate-state-machine-exit-condition-selected", "navigate-state-machine-state-transitioned",
			"designated-tool-retrieved", "designated-tool-call-params-generated", "tool-call-started", "tool-call-ended",
			"navigate-state-machine-tool-call-state-tool-output-available", "navigate-state-machine-state-transitioned",
			"navigate-state-machine-action-state-action-selected", "engage-user-message-fragment-generated", "new-message",
			"interaction-complete"}
		if got := s.types(); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("events:\n got %v\nwant %v", got, want)
		}
		params := s.actions("designated-tool-call-params-generated")[0]
		output := s.actions("navigate-state-machine-tool-call-state-tool-output-available")[0]
		if fmt.Sprint(params["tool_call_params"]) != "map[text:hi]" || params["tool_version"] != "2.0.0" ||
			output["tool_output"] != "hi" || output["tool_id"] != probe || fmt.Sprint(output["input_arguments"]) != "map[text:hi]" {
			t.Errorf("designated tool events: %v, %v", params, output)
		}
		if got := s.last()["full_message"]; got != "Report the lookup" {
			t.Errorf("message %v, want the action of the state after the tool-call state", got)
		}

		invs := c.invocations(t, convID)
		if len(invs) != 1 {
			t.Fatalf("got %d invocations, want 1: %v", len(invs), invs)
		}
		inv := invs[0]
		wantSource := map[string]any{"type": "regular-conversation", "user_id": srv.UserID, "conversation_id": convID,
			"interaction_id": s.last()["interaction_id"], "invocation_metadata": map[string]any{
				"type": "tool-call-state", "current_state_machine_and_version": graphVersion, "state_name": "lookup"}}
		if got, want := mustJSONText(t, inv["invocation_source"]), mustJSONText(t, wantSource); got != want {
			t.Errorf("invocation source:\n got %s\nwant %s", got, want)
		}
		if got := mustJSONText(t, inv["tool_version"]); got != `{"major":2,"minor":0,"patch":0}` {
			t.Errorf("version run: got %s, want the newest, 2.0.0", got)
		}
		if got := mustJSONText(t, inv["inputs"]); got != `{"text":"hi"}` || inv["invocation_status"].(map[string]any)["output"] != "hi" {
			t.Errorf("invocation: inputs %s, status %v", got, inv["invocation_status"])
		}

		ins := c.insights(t, convID, s)
		logs := ins["state_transition_logs"].([]any)
		if len(logs) != 2 {
			t.Fatalf("transition logs: %v", logs)
		}
		toolLog := logs[1].(map[string]any)
		designated, _ := toolLog["designated_tool_call_log"].(map[string]any)
		if toolLog["type"] != "tool-call" || toolLog["previous_state"] != "lookup" || toolLog["next_state"] != "answer" ||
			designated["output"] != "hi" || designated["tool_version"] != "2.0.0" || designated["tool_name"] != "probe" ||
			len(toolLog["tool_call_logs"].([]any)) != 0 {
			t.Errorf("tool-call transition log: %v", toolLog)
		}

		// The persisted output is in the prompts of the next interaction.
		next := interact(t, convID, "anything else")
		if next.last()["type"] != "interaction-complete" {
			t.Fatalf("next interaction: %s", next.raw)
		}
		prompts := append(model.systemPrompts("anything else"), "")
		if !strings.Contains(prompts[0], "Results of earlier tool calls:\n- probe: hi") {
			t.Errorf("the next interaction's system prompt does not show the kept output: %q", prompts)
		}
	})

	t.Run("designated tool fails", func(t *testing.T) {
		convID := start(t)
		before := c.conversationGet(t, convID)["num_messages"]
		cases := []struct {
			name, message, reason string
			succeeded             bool
		}{
			{"raises", `lookup {"fail": true}`, "ValueError: asked to fail", false},
			{"persisted output past 5000 characters", `lookup {"n": 5001}`,
				"The tool's output has 5001 characters; a persisted result may have at most 5000", true},
		}
		for i, tc := range cases {
			s := interact(t, convID, tc.message)
			last := s.last()
			if last["type"] != "error" || last["http_error_code"] != float64(400) ||
				!strings.Contains(last["error_description"].(string), tc.reason) {
				t.Fatalf("%s: last event %v", tc.name, last)
			}
			for _, typ := range s.types() {
				if typ == "navigate-state-machine-tool-call-state-tool-output-available" || typ == "interaction-complete" ||
					(typ == "navigate-state-machine-state-transitioned" && len(s.actions(typ)) > 1) {
					t.Errorf("%s: a failed designated tool streamed %s: %v", tc.name, typ, s.types())
				}
			}
			invs := c.invocations(t, convID)
			if len(invs) != i+1 || invs[i]["invocation_status"].(map[string]any)["succeeded"] != tc.succeeded {
				t.Errorf("%s: invocations %v, want the run recorded", tc.name, invs)
			}
		}
		if after := c.conversationGet(t, convID)["num_messages"]; after != before {
			t.Errorf("messages: %v before, %v after failed interactions", before, after)
		}
		// Nothing moved: the conversation is still in start.
		s := interact(t, convID, "hello again")
		if s.last()["full_message"] != "Welcome the user" {
			t.Errorf("after failures the agent says %v, want start's action", s.last()["full_message"])
		}
		// At exactly 5000 characters a persisted output is kept. The
		// state's other tool runs first, and is logged with the transition.
		s = interact(t, convID, `lookup and verify {"n": 5000}`)
		types := s.types()
		first := slices.Index(types, "tool-call-started")
		if len(s.actions("tool-call-started")) != 2 || first < slices.Index(types, "designated-tool-retrieved") ||
			first > slices.Index(types, "designated-tool-call-params-generated") {
			t.Errorf("events %v, want the state's tool before the designated tool's parameters", types)
		}
		toolLog := c.insights(t, convID, s)["state_transition_logs"].([]any)[1].(map[string]any)
		designated := toolLog["designated_tool_call_log"].(map[string]any)
		if out, _ := designated["output"].(string); out != strings.Repeat("x", 5000) {
			t.Errorf("kept output of 5000 characters: got %d characters", len(out))
		}
		if rounds := toolLog["tool_call_logs"].([]any); len(rounds) != 1 || rounds[0].([]any)[0].(map[string]any)["output"] != nil {
			t.Errorf("the tool-call state's tool logs: %.200v, want one ephemeral call", rounds)
		}
		invs := c.invocations(t, convID)
		wantMeta := mustJSONText(t, map[string]any{"type": "tool-call-state", "current_state_machine_and_version": graphVersion,
			"state_name": "lookup"})
		if len(invs) != 4 {
			t.Fatalf("got %d invocations, want 4", len(invs))
		}
		for _, inv := range invs[2:] {
			if got := mustJSONText(t, inv["invocation_source"].(map[string]any)["invocation_metadata"]); got != wantMeta {
				t.Errorf("metadata %s, want %s", got, wantMeta)
			}
		}
	})

	t.Run("engage-user tool persistence", func(t *testing.T) {
		convID := start(t)
		x := func(n int) string { return strings.Repeat("x", n) }
		// Past 20,000 characters the sandbox itself fails the run, as it
		// does a direct invocation; the engine's own check is the same.
		tooLong := "OutputTooLongError: wasmrt: output limit: more than 20000 characters of output"
		cases := []struct {
			n          int
			wantResult string
			wantKept   bool
		}{
			{5000, x(5000), true},
			{5001, x(5001), false},
			{20000, x(20000), false},
			{20001, tooLong, false},
		}
		var interactions []string
		for _, tc := range cases {
			s := interact(t, convID, fmt.Sprintf(`fetch {"n": %d}`, tc.n))
			interactions = append(interactions, s.last()["interaction_id"].(string))
			ended := s.actions("tool-call-ended")
			if len(ended) != 1 || ended[0]["result"] != tc.wantResult || ended[0]["tool_round_index"] != float64(0) {
				t.Errorf("%d characters: tool-call-ended %.200v", tc.n, ended)
			}
			logs := c.insights(t, convID, s)["engage_user_tool_call_logs"].([]any)
			if len(logs) != 1 || len(logs[0].([]any)) != 1 {
				t.Fatalf("%d characters: engage-user logs %.200v", tc.n, logs)
			}
			out := logs[0].([]any)[0].(map[string]any)["output"]
			if tc.wantKept && out != x(tc.n) || !tc.wantKept && out != nil {
				t.Errorf("%d characters: logged output %.80v, kept %v", tc.n, out, tc.wantKept)
			}
		}
		invs := c.invocations(t, convID)
		if len(invs) != len(cases) {
			t.Fatalf("got %d invocations, want %d", len(invs), len(cases))
		}
		for i, inv := range invs {
			wantMeta := map[string]any{"type": "engage-user", "current_state_machine_and_version": graphVersion,
				"tool_call_round_index": float64(0)}
			src := inv["invocation_source"].(map[string]any)
			if src["interaction_id"] != interactions[i] || mustJSONText(t, src["invocation_metadata"]) != mustJSONText(t, wantMeta) {
				t.Errorf("invocation %d: source %v", i, src)
			}
			if inv["invocation_status"].(map[string]any)["succeeded"] != (cases[i].wantResult != tooLong) {
				t.Errorf("invocation %d: %v", i, inv["invocation_status"])
			}
		}

		// Only the 5000-character output was kept for later prompts.
		s := interact(t, convID, `fetch {"mode": true}`)
		if ended := s.actions("tool-call-ended"); len(ended) != 1 || ended[0]["result"] != "regular" {
			t.Errorf("the tool saw mode %v, want regular", ended)
		}
		prompts := append(model.systemPrompts(`fetch {"mode": true}`), "")
		if p := prompts[0]; strings.Count(p, "- probe: ") != 1 || !strings.Contains(p, "- probe: "+x(5000)) || strings.Contains(p, x(5001)) {
			t.Errorf("the system prompt does not show exactly the kept output: %d x's in %.300q", strings.Count(p, "x"), p)
		}
	})

	t.Run("exit condition tool", func(t *testing.T) {
		convID := start(t)
		s := interact(t, convID, `inspect {"text": "route"}`)
		started := s.actions("tool-call-started")
		if len(started) != 1 || started[0]["tool_version"] != "1.0.0" {
			t.Fatalf("tool-call-started %v, want one call of 1.0.0, the newest below 2", started)
		}
		ins := c.insights(t, convID, s)
		logs := ins["select_next_action_tool_call_logs"].([]any)
		if len(logs) != 1 || len(ins["engage_user_tool_call_logs"].([]any)) != 0 {
			t.Fatalf("insights: %v", ins)
		}
		log := logs[0].([]any)[0].(map[string]any)
		if log["tool_id"] != probe || log["tool_version"] != "1.0.0" || fmt.Sprint(log["input"]) != "map[text:route]" ||
			log["output"] != nil {
			t.Errorf("exit condition tool log %v (ephemeral: no output)", log)
		}
		invs := c.invocations(t, convID)
		if len(invs) != 1 {
			t.Fatalf("got %d invocations, want 1", len(invs))
		}
		wantMeta := map[string]any{"type": "state-transition", "current_state_machine_and_version": graphVersion,
			"state_name": "start", "state_transition_index": float64(1), "tool_call_round_index": float64(0)}
		if got := mustJSONText(t, invs[0]["invocation_source"].(map[string]any)["invocation_metadata"]); got != mustJSONText(t, wantMeta) {
			t.Errorf("metadata:\n got %s\nwant %s", got, mustJSONText(t, wantMeta))
		}
	})

	t.Run("action too long", func(t *testing.T) {
		convID := start(t)
		s := interact(t, convID, `wait {"sleep": 1}`)
		var got []string
		for _, typ := range s.types() {
			if strings.HasPrefix(typ, "tool-call") || typ == "action-too-long" {
				got = append(got, typ)
			}
		}
		if fmt.Sprint(got) != "[tool-call-started action-too-long tool-call-ended]" {
			t.Fatalf("events %v", s.types())
		}
		tooLong := s.actions("action-too-long")[0]
		if tooLong["filler"] != "One moment please." ||
			mustJSONText(t, tooLong["previously_started_event"]) != mustJSONText(t, s.actions("tool-call-started")[0]) {
			t.Errorf("action-too-long %v", tooLong)
		}
		if d := s.actions("tool-call-ended")[0]["duration"].(float64); d < 1 {
			t.Errorf("the call took %v s, want at least the 1 s it slept", d)
		}
		// A quick call under a long trigger says nothing meanwhile.
		if s := interact(t, convID, `fetch {"text": "quick"}`); len(s.actions("action-too-long")) != 0 {
			t.Errorf("a quick call reported action-too-long: %v", s.types())
		}

		// Writing the designated tool's parameters slowly: the state's
		// filler, after the event that started the step.
		s = interact(t, convID, `lookup slowly {"text": "hi"}`)
		types := s.types()
		i := slices.Index(types, "action-too-long")
		if i < 1 || types[i-1] != "designated-tool-retrieved" || types[i+1] != "designated-tool-call-params-generated" ||
			len(s.actions("action-too-long")) != 1 {
			t.Fatalf("events %v", types)
		}
		tooLong = s.actions("action-too-long")[0]
		if tooLong["filler"] != "Preparing the lookup." ||
			mustJSONText(t, tooLong["previously_started_event"]) != mustJSONText(t, s.actions("designated-tool-retrieved")[0]) {
			t.Errorf("action-too-long %v", tooLong)
		}
	})

	t.Run("simulation mode", func(t *testing.T) {
		// A simulation runs conversations through the engine with
		// Mode set; the tool sees the mode and the record says so.
		eng := engine.New(engine.Config{Store: srv.Store(), Model: llm.Builtin{}, Tools: srv.Tools()})
		ctx := context.Background()
		conv, err := srv.Store().PrepareConversation(ctx, store.NewConversation{OrgID: srv.Organization, UserID: srv.UserID,
			ServiceID: svc, VersionSetName: store.ReleaseVersionSet})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.do("POST", "/conversation/"+conv.ID+"/finish/", nil) })
		runID, unitTest := "run-1", "unit-test-1"
		var ended []engine.ToolCallEnded
		var last engine.Event
		err = eng.Open(ctx, conv, &engine.Input{Kind: engine.InputUserMessage, Text: `fetch {"mode": true}`, Format: "text",
			Sender: "Simulated user"}, engine.Run{Mode: tools.ModeSimulation, SimulationRunID: &runID, UnitTestID: &unitTest},
			func(ev engine.Event) error {
				if a, ok := ev.(engine.CurrentAgentAction); ok {
					if e, ok := a.Action.(engine.ToolCallEnded); ok {
						ended = append(ended, e)
					}
				}
				last = ev
				return nil
			})
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := last.(engine.InteractionComplete); !ok || len(ended) != 1 || ended[0].Result != tools.ModeSimulation {
			t.Fatalf("tool calls %v, last event %v; want one that saw %s", ended, last, tools.ModeSimulation)
		}
		invs := c.invocations(t, conv.ID)
		if len(invs) != 1 {
			t.Fatalf("got %d invocations, want 1", len(invs))
		}
		want := map[string]any{"type": "simulation-conversation", "simulation_unit_test_set_run_id": runID,
			"unit_test_id": unitTest, "run_index": nil, "invocation_metadata": map[string]any{"type": "engage-user",
				"current_state_machine_and_version": graphVersion, "tool_call_round_index": float64(0)}}
		if got := mustJSONText(t, invs[0]["invocation_source"]); got != mustJSONText(t, want) {
			t.Errorf("invocation source:\n got %s\nwant %s", got, mustJSONText(t, want))
		}
	})

	t.Run("deprecated version", func(t *testing.T) {
		status, body := c.do("DELETE", "/tool/"+probe+"/version/%3D%3D2.0.0", nil)
		mustStatus(t, "deprecate 2.0.0", status, http.StatusNoContent, body)
		convID := start(t)
		s := interact(t, convID, `fetch {"text": "older"}`)
		if started := s.actions("tool-call-started"); len(started) != 1 || started[0]["tool_version"] != "1.0.0" {
			t.Errorf("with 2.0.0 deprecated: %v, want 1.0.0 to run", started)
		}
	})
}

// TestConversationFillersWhileThinking: a decision or a reflection that
// takes longer than its state's audio_filler_triggered_after reports
// action-too-long with the state's first filler, once, while it thinks.
func TestConversationFillersWhileThinking(t *testing.T) {
	t.Parallel()
	model := &recordingModel{prompts: map[string][]string{}, slow: map[string]bool{"decide": true, "reflect": true}}
	_, c := newTestServer(t, compadretest.WithModel(model))
	g := walkerGraph()
	route, think := stateMachineState(g, 1), stateMachineState(g, 3)
	route["audio_fillers"], route["audio_filler_triggered_after"] = []any{"Let me see."}, 0.05
	think["audio_fillers"], think["audio_filler_triggered_after"] = []any{"Thinking it over.", "Nearly there."}, 0.05
	svc := c.talkingService(t, "Thinker", g)
	convID := c.open(t, "", map[string]any{"service_id": svc}).events[0]["conversation_id"].(string)

	s := c.interact(t, convID, "", userMessage("I have a question about my invoice, answer slowly"))
	checkLines(t, s, false)
	types := s.types()
	var got []string
	for i, typ := range types {
		if typ == "action-too-long" {
			a := s.events[i]["action"].(map[string]any)
			prev := a["previously_started_event"].(map[string]any)["type"]
			got = append(got, fmt.Sprintf("%s after %s: %s (started by %s)", typ, types[i-1], a["filler"], prev))
		}
	}
	want := []string{
		"action-too-long after navigate-state-machine-decision-state-decision-started: Let me see. " +
			"(started by navigate-state-machine-decision-state-decision-started)",
		"action-too-long after navigate-state-machine-reflection-state-prompt-retrieved: Thinking it over. " +
			"(started by navigate-state-machine-reflection-state-prompt-retrieved)",
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("fillers:\n got %q\nwant %q\nevents %v", got, want, types)
	}
	if s.last()["type"] != "interaction-complete" {
		t.Errorf("last event %v", s.last())
	}
}
