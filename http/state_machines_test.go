package httpapi_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/compadre-dev/compadre/compadretest"
)

// stateMachinePath is the path of the state machine collection, or of one
// state machine and what follows it.
func stateMachinePath(more ...string) string {
	p := "/organization/service_hierarchical_state_machine"
	for _, m := range more {
		p += "/" + m
	}
	return p
}

// stateMachineMinimal is the smallest valid version: a start state whose
// one exit condition leads to the terminal state.
func stateMachineMinimal() map[string]any {
	return map[string]any{
		"description": "A greeting and a goodbye.",
		"states": []any{
			stateMachineAction("start", "Greet the user", map[string]any{"description": "The user was greeted", "next_state": "end"}),
			stateMachineAction("end", "Say goodbye"),
		},
		"new_user_initial_state":                   "start",
		"returning_user_initial_state":             "start",
		"terminal_state":                           "end",
		"references":                               map[string]any{},
		"global_intra_state_navigation_guidelines": []any{},
		"global_action_guidelines":                 []any{},
		"global_boundary_constraints":              []any{},
	}
}

// stateMachineAction is an action state with one action and the given exit
// conditions.
func stateMachineAction(name, action string, exits ...map[string]any) map[string]any {
	ecs := []any{}
	for _, e := range exits {
		ecs = append(ecs, e)
	}
	return map[string]any{
		"type": "action", "name": name, "objective": "Objective of " + name, "actions": []any{action},
		"intra_state_navigation_guidelines": []any{}, "action_guidelines": []any{}, "boundary_constraints": []any{},
		"exit_conditions": ecs, "action_tool_call_specs": []any{}, "exit_condition_tool_call_specs": []any{},
		"skip_active_memory_retrieval": false,
	}
}

// newStateMachine creates a state machine named name with one valid,
// minimal version (no tools) through the API and returns its ID.
func (c *client) newStateMachine(t testing.TB, name string) string {
	t.Helper()
	status, body := c.do("POST", stateMachinePath(), map[string]any{"state_machine_name": name})
	mustStatus(t, "create state machine "+name, status, http.StatusCreated, body)
	id := body["id"].(string)
	status, body = c.do("POST", stateMachinePath(id)+"/", stateMachineMinimal())
	mustStatus(t, "create state machine version", status, http.StatusCreated, body)
	return id
}

func TestStateMachineFixture(t *testing.T) {
	t.Parallel()
	_, c := newTestServer(t)
	id := c.newStateMachine(t, "greeter")
	status, body := c.do("GET", stateMachinePath(id, "version"), nil)
	mustStatus(t, "get versions", status, http.StatusOK, body)
	vs := body["state_machine_versions"].([]any)
	if len(vs) != 1 || vs[0].(map[string]any)["version"] != float64(1) {
		t.Fatalf("versions: got %v, want version 1 only", vs)
	}
}

// stateMachineSpec is a tool call spec for toolID; an empty persistence
// leaves result_persistence out.
func stateMachineSpec(toolID, persistence string, fillers ...string) map[string]any {
	if fillers == nil {
		fillers = []string{}
	}
	spec := map[string]any{
		"tool_id": toolID, "version_constraint": ">=1.0.0", "additional_instruction": "Echo what the user said.",
		"audio_fillers": fillers, "audio_filler_triggered_after": 2,
	}
	if persistence != "" {
		spec["result_persistence"] = persistence
	}
	return spec
}

// stateMachineKinds returns a valid state of each kind, named mid and
// leading to end; toolID is the tool their specs name.
func stateMachineKinds(toolID string) map[string]map[string]any {
	return map[string]map[string]any{
		"action": stateMachineAction("mid", "Do it", map[string]any{"description": "Done", "next_state": "end"}),
		"decision": {
			"type": "decision", "name": "mid", "objective": "Pick the way",
			"exit_conditions":     []any{map[string]any{"description": "Always", "next_state": "end"}},
			"decision_guidelines": []any{"Be quick"}, "tool_call_specs": []any{stateMachineSpec(toolID, "ephemeral")},
			"audio_fillers": []any{"One moment."}, "audio_filler_triggered_after": 2,
		},
		"recall":     {"type": "recall", "name": "mid", "queries": []any{"favourite colour"}, "requested_information": nil, "next_state": "end"},
		"annotation": {"type": "annotation", "name": "mid", "inner_thought": "The user is in a hurry.", "next_state": "end"},
		"reflection": {
			"type": "reflection", "name": "mid", "problem": "What does the user want?", "word_limit": 100, "next_state": "end",
			"tool_call_specs": []any{stateMachineSpec(toolID, "persisted-preferred")}, "audio_fillers": []any{}, "audio_filler_triggered_after": 1,
		},
		"tool-call": {
			"type": "tool-call", "name": "mid", "next_state": "end",
			"designated_tool": stateMachineSpec(toolID, "persisted"),
			"designated_tool_call_params_generation_audio_fillers":                []any{"Looking that up."},
			"designated_tool_call_params_generation_audio_filler_triggered_after": 1.5,
			"designated_tool_call_objective":                                      "Echo the request",
			"designated_tool_call_context":                                        "The user asked to hear it back",
			"designated_tool_call_guidances":                                      []any{"Quote the user"},
			"designated_tool_call_validations":                                    []any{"The text is not empty"},
			"tool_call_specs":                                                     []any{stateMachineSpec(toolID, "ephemeral")},
		},
	}
}

// stateMachineThrough is a version start → mid → end around mid.
func stateMachineThrough(mid map[string]any) map[string]any {
	g := stateMachineMinimal()
	g["states"] = []any{
		stateMachineAction("start", "Greet the user", map[string]any{"description": "Greeted", "next_state": "mid"}),
		mid,
		stateMachineAction("end", "Say goodbye"),
	}
	return g
}

// stateMachineState returns state i of version g, to change it in place.
func stateMachineState(g map[string]any, i int) map[string]any {
	return g["states"].([]any)[i].(map[string]any)
}

// stateMachineVersionCount is how many versions the state machine has.
func (c *client) stateMachineVersionCount(t testing.TB, id string) int {
	t.Helper()
	total := 0
	for token := 0; ; {
		status, body := c.do("GET", stateMachinePath(id, "version")+"?continuation_token="+strconv.Itoa(token), nil)
		mustStatus(t, "get versions", status, http.StatusOK, body)
		total += len(body["state_machine_versions"].([]any))
		if body["has_more"] != true {
			return total
		}
		token = int(body["continuation_token"].(float64))
	}
}

// stateMachineHasError reports whether a 422 body lists an error at loc
// whose message contains msg.
func stateMachineHasError(body map[string]any, loc []any, msg string) bool {
	list, _ := body["detail"].([]any)
	for _, e := range list {
		fe := e.(map[string]any)
		if fmt.Sprint(fe["loc"]) == fmt.Sprint(loc) && strings.Contains(fe["msg"].(string), msg) {
			return true
		}
	}
	return false
}

// stateMachineFiller is a filler of exactly n characters wrapped in markup.
func stateMachineFiller(n int) string {
	open, closing := `<prosody rate="1.2" volume="1.5">`, `</prosody>`
	return open + strings.Repeat("a", n-len(open)-len(closing)) + closing
}

// TestStateMachineVersionShape runs each kind of state and each shape rule
// through create-service-hierarchical-state-machine-version: an accepted
// version is stored as the next one, a refused one (422, located) stores
// nothing.
func TestStateMachineVersionShape(t *testing.T) {
	t.Parallel()
	srv, c := newTestServer(t, compadretest.WithSandbox())
	tool := publishEchoTool(t, srv, c, "echo")
	status, body := c.do("POST", stateMachinePath(), map[string]any{"state_machine_name": "shapes"})
	mustStatus(t, "create", status, http.StatusCreated, body)
	id := body["id"].(string)

	kinds := stateMachineKinds(tool)
	mid := func(kind string, change func(s map[string]any)) func() map[string]any {
		return func() map[string]any {
			g := stateMachineThrough(kinds[kind])
			// A fresh copy: cases change the state in place.
			var fresh map[string]any
			b, _ := json.Marshal(g)
			_ = json.Unmarshal(b, &fresh)
			if change != nil {
				change(stateMachineState(fresh, 1))
			}
			return fresh
		}
	}
	graph := func(change func(g map[string]any)) func() map[string]any {
		return func() map[string]any {
			g := mid("action", nil)()
			change(g)
			return g
		}
	}
	mid1 := []any{"body", "states", 1}
	loc := func(more ...any) []any { return append(slices.Clip(mid1), more...) }
	type shapeCase struct {
		name    string
		version func() map[string]any
		// wantLoc and wantMsg describe the error a refusal must list; a
		// nil wantLoc means the version is accepted.
		wantLoc []any
		wantMsg string
		// alsoOthers allows other errors beside the wanted one.
		alsoOthers bool
	}
	cases := []shapeCase{}
	for _, kind := range []string{"action", "decision", "recall", "annotation", "reflection", "tool-call"} {
		cases = append(cases,
			shapeCase{name: kind + " accepted", version: mid(kind, nil)},
			shapeCase{name: kind + " without a name", version: mid(kind, func(s map[string]any) { delete(s, "name") }),
				wantLoc: loc("name"), wantMsg: "Field required"},
			shapeCase{name: kind + " with a name that is not a word", version: mid(kind, func(s map[string]any) { s["name"] = "the mid" }),
				wantLoc: loc("name"), wantMsg: ""},
		)
	}
	required := map[string][]string{
		"action": {"objective", "actions", "intra_state_navigation_guidelines", "action_guidelines", "boundary_constraints",
			"exit_conditions", "action_tool_call_specs", "exit_condition_tool_call_specs", "skip_active_memory_retrieval"},
		"decision":   {"exit_conditions", "decision_guidelines", "objective", "tool_call_specs", "audio_fillers", "audio_filler_triggered_after"},
		"recall":     {"queries", "requested_information", "next_state"},
		"annotation": {"inner_thought", "next_state"},
		"reflection": {"problem", "word_limit", "next_state", "tool_call_specs", "audio_fillers", "audio_filler_triggered_after"},
		"tool-call": {"next_state", "designated_tool", "designated_tool_call_params_generation_audio_fillers",
			"designated_tool_call_params_generation_audio_filler_triggered_after", "designated_tool_call_objective",
			"designated_tool_call_context", "designated_tool_call_guidances", "designated_tool_call_validations", "tool_call_specs"},
	}
	for kind, fields := range required {
		for _, f := range fields {
			cases = append(cases, shapeCase{name: kind + " without " + f,
				version: mid(kind, func(s map[string]any) { delete(s, f) }), wantLoc: loc(f), wantMsg: "Field required"})
		}
	}
	set := func(kind, field string, v any) func() map[string]any {
		return mid(kind, func(s map[string]any) { s[field] = v })
	}
	specAt := func(kind, field string, spec map[string]any) func() map[string]any {
		if field == "designated_tool" {
			return set(kind, field, spec)
		}
		return set(kind, field, []any{spec})
	}
	noPersistence := stateMachineSpec(tool, "")
	cases = append(cases, []shapeCase{
		{name: "unknown state type", version: set("action", "type", "wait"), wantLoc: loc("type")},
		{name: "state without a type", version: mid("action", func(s map[string]any) { delete(s, "type") }), wantLoc: loc("type"), wantMsg: "Field required"},
		{name: "action without actions", version: set("action", "actions", []any{}), wantLoc: loc("actions")},
		{name: "action with a blank objective", version: set("action", "objective", "   "), wantLoc: loc("objective"), wantMsg: "empty"},
		{name: "action with a blank exit condition", version: set("action", "exit_conditions", []any{map[string]any{"description": " ", "next_state": "end"}}),
			wantLoc: loc("exit_conditions", 0, "description"), wantMsg: "empty"},
		{name: "decision with no exit conditions", version: set("decision", "exit_conditions", []any{}), wantLoc: loc("exit_conditions"), wantMsg: "minItems"},
		{name: "decision filler delay of zero", version: set("decision", "audio_filler_triggered_after", 0), wantLoc: loc("audio_filler_triggered_after")},
		{name: "decision filler delay above ten", version: set("decision", "audio_filler_triggered_after", 10.5), wantLoc: loc("audio_filler_triggered_after")},
		{name: "decision with six fillers", version: set("decision", "audio_fillers", []any{"a", "b", "c", "d", "e", "f"}), wantLoc: loc("audio_fillers")},
		{name: "recall with neither queries nor information", version: set("recall", "queries", nil), wantLoc: loc("queries"), wantMsg: "exactly one"},
		{name: "recall with both queries and information", version: set("recall", "requested_information", "Their name"), wantLoc: loc("queries"), wantMsg: "exactly one"},
		{name: "recall with information only", version: mid("recall", func(s map[string]any) { s["queries"] = nil; s["requested_information"] = "Their name" })},
		{name: "recall with an empty query list", version: set("recall", "queries", []any{}), wantLoc: loc("queries")},
		{name: "reflection with a word limit of zero", version: set("reflection", "word_limit", 0), wantLoc: loc("word_limit")},
		{name: "tool-call designated tool persisted-preferred", version: specAt("tool-call", "designated_tool", stateMachineSpec(tool, "persisted-preferred")),
			wantLoc: loc("designated_tool", "result_persistence"), wantMsg: `must use result_persistence "persisted", not "persisted-preferred"`},
		{name: "tool-call designated tool ephemeral", version: specAt("tool-call", "designated_tool", stateMachineSpec(tool, "ephemeral")),
			wantLoc: loc("designated_tool", "result_persistence"), wantMsg: `must use result_persistence "persisted", not "ephemeral"`},
		{name: "tool-call designated tool without result_persistence", version: specAt("tool-call", "designated_tool", noPersistence),
			wantLoc: loc("designated_tool", "result_persistence"), wantMsg: "Field required"},
		{name: "tool spec of a tool-call state without result_persistence", version: specAt("tool-call", "tool_call_specs", noPersistence),
			wantLoc: loc("tool_call_specs", 0, "result_persistence"), wantMsg: "Field required"},
		{name: "action tool spec without result_persistence", version: specAt("action", "action_tool_call_specs", noPersistence),
			wantLoc: loc("action_tool_call_specs", 0, "result_persistence"), wantMsg: "Field required"},
		{name: "exit condition tool spec without result_persistence", version: specAt("action", "exit_condition_tool_call_specs", noPersistence),
			wantLoc: loc("exit_condition_tool_call_specs", 0, "result_persistence"), wantMsg: "Field required"},
		{name: "decision tool spec without result_persistence", version: specAt("decision", "tool_call_specs", noPersistence),
			wantLoc: loc("tool_call_specs", 0, "result_persistence"), wantMsg: "Field required"},
		{name: "reflection tool spec without result_persistence", version: specAt("reflection", "tool_call_specs", noPersistence),
			wantLoc: loc("tool_call_specs", 0, "result_persistence"), wantMsg: "Field required"},
		{name: "tool spec with an unknown result_persistence", version: specAt("decision", "tool_call_specs", stateMachineSpec(tool, "forever")),
			wantLoc: loc("tool_call_specs", 0, "result_persistence")},
		{name: "tool spec with an unreadable version constraint", version: mid("decision", func(s map[string]any) {
			s["tool_call_specs"].([]any)[0].(map[string]any)["version_constraint"] = "one point oh"
		}), wantLoc: loc("tool_call_specs", 0, "version_constraint"), wantMsg: "Not a version constraint"},
		{name: "tool spec with a malformed tool ID", version: specAt("decision", "tool_call_specs", stateMachineSpec("echo", "ephemeral")),
			wantLoc: loc("tool_call_specs", 0, "tool_id")},

		// Audio fillers, wherever a version has them.
		{name: "decision filler of 512 characters", version: set("decision", "audio_fillers", []any{stateMachineFiller(512)})},
		{name: "decision filler of 513 characters", version: set("decision", "audio_fillers", []any{stateMachineFiller(513)}),
			wantLoc: loc("audio_fillers", 0), wantMsg: "at most 512 characters"},
		{name: "reflection filler of 513 characters", version: set("reflection", "audio_fillers", []any{stateMachineFiller(513)}),
			wantLoc: loc("audio_fillers", 0), wantMsg: "at most 512 characters"},
		{name: "designated tool params filler of 512 characters", version: set("tool-call", "designated_tool_call_params_generation_audio_fillers", []any{stateMachineFiller(512)})},
		{name: "designated tool params filler of 513 characters", version: set("tool-call", "designated_tool_call_params_generation_audio_fillers", []any{stateMachineFiller(513)}),
			wantLoc: loc("designated_tool_call_params_generation_audio_fillers", 0), wantMsg: "at most 512 characters"},
		{name: "designated tool filler of 512 characters", version: specAt("tool-call", "designated_tool", stateMachineSpec(tool, "persisted", stateMachineFiller(512)))},
		{name: "designated tool filler of 513 characters", version: specAt("tool-call", "designated_tool", stateMachineSpec(tool, "persisted", stateMachineFiller(513))),
			wantLoc: loc("designated_tool", "audio_fillers", 0), wantMsg: "at most 512 characters"},
		{name: "tool spec filler of 513 characters", version: specAt("action", "action_tool_call_specs", stateMachineSpec(tool, "ephemeral", stateMachineFiller(513))),
			wantLoc: loc("action_tool_call_specs", 0, "audio_fillers", 0), wantMsg: "at most 512 characters"},
		{name: "prosody rate 1.5", version: set("decision", "audio_fillers", []any{`<prosody rate="1.5">Just a second.</prosody>`})},
		{name: "prosody rate 1.51", version: set("decision", "audio_fillers", []any{`<prosody rate="1.51">Just a second.</prosody>`}),
			wantLoc: loc("audio_fillers", 0), wantMsg: "at character 1"},
		{name: "prosody rate 0.6", version: set("decision", "audio_fillers", []any{`<prosody rate="0.6">Just a second.</prosody>`})},
		{name: "prosody rate 0.59", version: set("decision", "audio_fillers", []any{`<prosody rate="0.59">Just a second.</prosody>`}),
			wantLoc: loc("audio_fillers", 0), wantMsg: "rate"},
		{name: "prosody volume 2.0", version: set("decision", "audio_fillers", []any{`<prosody volume="2.0">Just a second.</prosody>`})},
		{name: "prosody volume 2.01", version: set("decision", "audio_fillers", []any{`<prosody volume="2.01">Just a second.</prosody>`}),
			wantLoc: loc("audio_fillers", 0), wantMsg: "volume"},
		{name: "break and emotion", version: set("decision", "audio_fillers", []any{`Hmm<break time="500ms"/> <emotion name="happy">sure</emotion>`})},
		{name: "malformed SSML", version: set("decision", "audio_fillers", []any{`Wait <break time="1s"> please`}),
			wantLoc: loc("audio_fillers", 0), wantMsg: "at character"},
		{name: "malformed SSML in a tool spec", version: specAt("reflection", "tool_call_specs", stateMachineSpec(tool, "ephemeral", `One <prosody rate="1.2">moment`)),
			wantLoc: loc("tool_call_specs", 0, "audio_fillers", 0), wantMsg: "at character"},
		{name: "a tag fillers may not use", version: set("decision", "audio_fillers", []any{`Please <audio src="x.mp3"/> wait`}),
			wantLoc: loc("audio_fillers", 0), wantMsg: "at character 8"},

		// Transitions and the graph as a whole.
		{name: "exit condition to a missing state", version: graph(func(g map[string]any) {
			stateMachineState(g, 0)["exit_conditions"] = []any{map[string]any{"description": "Greeted", "next_state": "nowhere"}}
		}), wantLoc: []any{"body", "states", 0, "exit_conditions", 0, "next_state"}, wantMsg: `State "nowhere" does not exist`},
		{name: "next state to a missing state", version: set("annotation", "next_state", "nowhere"),
			wantLoc: loc("next_state"), wantMsg: `State "nowhere" does not exist`},
		{name: "tool-call next state to a missing state", version: set("tool-call", "next_state", "nowhere"),
			wantLoc: loc("next_state"), wantMsg: `State "nowhere" does not exist`},
		{name: "transition to itself", version: set("recall", "next_state", "mid"), wantLoc: loc("next_state"), wantMsg: "itself"},
		{name: "external state of an unlisted reference", version: set("annotation", "next_state", []any{"other.start", "end"}),
			wantLoc: loc("next_state", 0), wantMsg: `Reference "other" is not listed`},
		{name: "jumpback to a missing state", version: func() map[string]any {
			g := set("annotation", "next_state", []any{"other.start", "nowhere"})()
			g["references"] = map[string]any{"other": []any{id, 1}}
			return g
		}, wantLoc: loc("next_state", 1), wantMsg: `State "nowhere" does not exist`},
		// Either form of next_state could be meant, so both are reported.
		{name: "external state that is not reference.state", version: set("annotation", "next_state", []any{"start", "end"}),
			wantLoc: loc("next_state", 0), wantMsg: "pattern", alsoOthers: true},
		{name: "new user initial state missing", version: graph(func(g map[string]any) { g["new_user_initial_state"] = "nowhere" }),
			wantLoc: []any{"body", "new_user_initial_state"}, wantMsg: "does not exist"},
		{name: "returning user initial state missing", version: graph(func(g map[string]any) { g["returning_user_initial_state"] = "nowhere" }),
			wantLoc: []any{"body", "returning_user_initial_state"}, wantMsg: "does not exist"},
		{name: "terminal state missing", version: graph(func(g map[string]any) { g["terminal_state"] = "nowhere" }),
			wantLoc: []any{"body", "terminal_state"}, wantMsg: "does not exist"},
		{name: "initial state that is not an action state", version: func() map[string]any {
			g := mid("decision", nil)()
			g["new_user_initial_state"] = "mid"
			return g
		}, wantLoc: []any{"body", "new_user_initial_state"}, wantMsg: "must be an action state"},
		{name: "terminal state with an exit condition", version: graph(func(g map[string]any) {
			stateMachineState(g, 2)["exit_conditions"] = []any{map[string]any{"description": "Again", "next_state": "start"}}
		}), wantLoc: []any{"body", "states", 2, "exit_conditions"}, wantMsg: "cannot have exit conditions"},
		{name: "terminal state with two actions", version: graph(func(g map[string]any) {
			stateMachineState(g, 2)["actions"] = []any{"Say goodbye", "Wave"}
		}), wantLoc: []any{"body", "states", 2, "actions"}, wantMsg: "exactly one action"},
		{name: "two states with one name", version: graph(func(g map[string]any) {
			g["states"] = append(g["states"].([]any), stateMachineAction("end", "Again"))
		}), wantLoc: []any{"body", "states", 3, "name"}, wantMsg: "already used by states[2]"},
		{name: "blank description", version: graph(func(g map[string]any) { g["description"] = " " }),
			wantLoc: []any{"body", "description"}, wantMsg: "empty"},
		{name: "blank global guideline", version: graph(func(g map[string]any) { g["global_action_guidelines"] = []any{"ok", "\t"} }),
			wantLoc: []any{"body", "global_action_guidelines", 1}, wantMsg: "empty"},
		{name: "reference name that is not a word", version: graph(func(g map[string]any) {
			g["references"] = map[string]any{"the other": []any{id, 1}}
		}), wantLoc: []any{"body", "references", "the other"}, wantMsg: "letters, digits and underscores"},
	}...)

	want := 0
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status, body := c.do("POST", stateMachinePath(id)+"/", tc.version())
			if tc.wantLoc == nil {
				mustStatus(t, "create version", status, http.StatusCreated, body)
				want++
				if body["version"] != float64(want) {
					t.Errorf("version: got %v, want %d", body["version"], want)
				}
			} else {
				mustStatus(t, "create version", status, http.StatusUnprocessableEntity, body)
				// One fault, reported once, at its place: a state of one kind
				// is not also checked against the other kinds' schemas.
				if errs, _ := body["detail"].([]any); len(errs) != 1 && !tc.alsoOthers || !stateMachineHasError(body, tc.wantLoc, tc.wantMsg) {
					t.Errorf("got errors %s; want only one, at %v, containing %q", errorText(body), tc.wantLoc, tc.wantMsg)
				}
			}
			if got := c.stateMachineVersionCount(t, id); got != want {
				t.Errorf("versions stored: got %d, want %d", got, want)
			}
		})
	}
}

// TestStateMachineVersionReportsEveryFault checks that one refusal lists
// every dangling state name, each at its place.
func TestStateMachineVersionReportsEveryFault(t *testing.T) {
	t.Parallel()
	_, c := newTestServer(t)
	status, body := c.do("POST", stateMachinePath(), map[string]any{"state_machine_name": "faults"})
	mustStatus(t, "create", status, http.StatusCreated, body)
	id := body["id"].(string)
	g := stateMachineMinimal()
	stateMachineState(g, 0)["exit_conditions"] = []any{
		map[string]any{"description": "One", "next_state": "a"},
		map[string]any{"description": "Two", "next_state": "end"},
		map[string]any{"description": "Three", "next_state": "b"},
	}
	g["returning_user_initial_state"] = "c"
	status, body = c.do("POST", stateMachinePath(id)+"/", g)
	mustStatus(t, "create version", status, http.StatusUnprocessableEntity, body)
	for _, want := range []struct {
		loc   []any
		state string
	}{
		{[]any{"body", "states", 0, "exit_conditions", 0, "next_state"}, "a"},
		{[]any{"body", "states", 0, "exit_conditions", 2, "next_state"}, "b"},
		{[]any{"body", "returning_user_initial_state"}, "c"},
	} {
		if !stateMachineHasError(body, want.loc, strconv.Quote(want.state)+" does not exist") {
			t.Errorf("got %s; want %q reported at %v", errorText(body), want.state, want.loc)
		}
	}
	if n := len(body["detail"].([]any)); n != 3 {
		t.Errorf("got %d errors (%s), want 3", n, errorText(body))
	}
	if got := c.stateMachineVersionCount(t, id); got != 0 {
		t.Errorf("versions stored: got %d, want 0", got)
	}
}

// TestStateMachineVersionResolvesTools checks that tool call specs must name
// live tools of the organization with a live version the constraint
// matches, and that a refusal stores nothing.
func TestStateMachineVersionResolvesTools(t *testing.T) {
	t.Parallel()
	srv, c := newTestServer(t, compadretest.WithSandbox())
	live := publishEchoTool(t, srv, c, "echo")
	gone := publishEchoTool(t, srv, c, "gone")
	status, body := c.do("DELETE", "/tool/"+gone, nil)
	mustStatus(t, "deprecate tool", status, http.StatusNoContent, body)
	retired := publishEchoTool(t, srv, c, "retired")
	status, body = c.do("DELETE", "/tool/"+retired+"/version/%3D%3D1.0.0", nil)
	mustStatus(t, "deprecate tool version", status, http.StatusNoContent, body)
	status, body = c.do("POST", stateMachinePath(), map[string]any{"state_machine_name": "tools"})
	mustStatus(t, "create", status, http.StatusCreated, body)
	id := body["id"].(string)

	const missing = "0123456789abcdef01234567"
	withConstraint := func(toolID, constraint string) map[string]any {
		spec := stateMachineSpec(toolID, "persisted")
		spec["version_constraint"] = constraint
		return spec
	}
	designated := func(spec map[string]any) map[string]any {
		s := stateMachineKinds(live)["tool-call"]
		s["designated_tool"] = spec
		return stateMachineThrough(s)
	}
	want := 0
	for _, tc := range []struct {
		name    string
		version map[string]any
		wantMsg string
	}{
		{"live tool and matching constraint", designated(withConstraint(live, "==1.0.0")), ""},
		{"tool that does not exist", designated(withConstraint(missing, ">=1.0.0")), "states[1] (mid).designated_tool: tool " + missing + " does not exist"},
		{"deprecated tool", designated(withConstraint(gone, ">=1.0.0")), "states[1] (mid).designated_tool: tool " + gone + " (gone) is deprecated"},
		{"constraint matching no version", designated(withConstraint(live, ">=2.0.0")), `no published, non-deprecated version of tool ` + live + ` (echo) satisfies ">=2.0.0"`},
		{"constraint matching only a deprecated version", designated(withConstraint(retired, ">=1.0.0")), `tool ` + retired + ` (retired) satisfies ">=1.0.0"`},
		{"missing tool in an action state's exit condition specs", func() map[string]any {
			a := stateMachineKinds(live)["action"]
			a["exit_condition_tool_call_specs"] = []any{stateMachineSpec(missing, "ephemeral")}
			return stateMachineThrough(a)
		}(), "states[1] (mid).exit_condition_tool_call_specs[0]: tool " + missing + " does not exist"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, body := c.do("POST", stateMachinePath(id)+"/", tc.version)
			if tc.wantMsg == "" {
				mustStatus(t, "create version", status, http.StatusCreated, body)
				want++
			} else {
				mustStatus(t, "create version", status, http.StatusBadRequest, body)
				if !strings.Contains(detail(body), tc.wantMsg) {
					t.Errorf("detail: got %q, want it to contain %q", detail(body), tc.wantMsg)
				}
			}
			if got := c.stateMachineVersionCount(t, id); got != want {
				t.Errorf("versions stored: got %d, want %d", got, want)
			}
		})
	}
	// Every unresolved spec is named in one answer.
	a := stateMachineKinds(live)["action"]
	a["action_tool_call_specs"] = []any{stateMachineSpec(missing, "ephemeral"), stateMachineSpec(gone, "ephemeral")}
	status, body = c.do("POST", stateMachinePath(id)+"/", stateMachineThrough(a))
	mustStatus(t, "two bad specs", status, http.StatusBadRequest, body)
	for _, w := range []string{"action_tool_call_specs[0]: tool " + missing, "action_tool_call_specs[1]: tool " + gone} {
		if !strings.Contains(detail(body), w) {
			t.Errorf("detail: got %q, want it to contain %q", detail(body), w)
		}
	}
}

// TestStateMachineVersionReferences checks transitions into other state
// machines: the reference must name a live state machine's existing
// version, and the state must be one of that version's.
func TestStateMachineVersionReferences(t *testing.T) {
	t.Parallel()
	_, c := newTestServer(t)
	other := c.newStateMachine(t, "other")
	retired := c.newStateMachine(t, "retired")
	status, body := c.do("DELETE", stateMachinePath(retired)+"/", nil)
	mustStatus(t, "delete", status, http.StatusOK, body)
	status, body = c.do("POST", stateMachinePath(), map[string]any{"state_machine_name": "main"})
	mustStatus(t, "create", status, http.StatusCreated, body)
	id := body["id"].(string)

	referring := func(ref []any, target string) map[string]any {
		g := stateMachineThrough(map[string]any{"type": "annotation", "name": "mid", "inner_thought": "Hand over.",
			"next_state": []any{target, "end"}})
		g["references"] = map[string]any{"other": ref}
		return g
	}
	want := 0
	for _, tc := range []struct {
		name    string
		version map[string]any
		wantMsg string
	}{
		{"state of a referenced version", referring([]any{other, 1}, "other.start"), ""},
		{"state the referenced version lacks", referring([]any{other, 1}, "other.nowhere"), `version 1 of state machine ` + other + ` (reference "other") has no state "nowhere"`},
		{"version the referenced state machine lacks", referring([]any{other, 2}, "other.start"), "references.other: The service hierarchical state machine " + other + " has no version 2"},
		{"deprecated state machine", referring([]any{retired, 1}, "other.start"), "references.other: The service hierarchical state machine " + retired + " is deprecated"},
		{"state machine that does not exist", referring([]any{"0123456789abcdef01234567", 1}, "other.start"), `references.other: Service hierarchical state machine "0123456789abcdef01234567" not found`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, body := c.do("POST", stateMachinePath(id)+"/", tc.version)
			if tc.wantMsg == "" {
				mustStatus(t, "create version", status, http.StatusCreated, body)
				want++
			} else {
				mustStatus(t, "create version", status, http.StatusBadRequest, body)
				if !strings.Contains(detail(body), tc.wantMsg) {
					t.Errorf("detail: got %q, want it to contain %q", detail(body), tc.wantMsg)
				}
			}
			if got := c.stateMachineVersionCount(t, id); got != want {
				t.Errorf("versions stored: got %d, want %d", got, want)
			}
		})
	}
}

// stateMachineVersionNumbers lists the version numbers a query returns,
// with the page's has_more and continuation token.
func (c *client) stateMachineVersionNumbers(t testing.TB, id, query string) ([]int, bool, any) {
	t.Helper()
	status, body := c.do("GET", stateMachinePath(id, "version")+query, nil)
	mustStatus(t, "get versions "+query, status, http.StatusOK, body)
	var out []int
	for _, v := range body["state_machine_versions"].([]any) {
		out = append(out, int(v.(map[string]any)["version"].(float64)))
	}
	return out, body["has_more"].(bool), body["continuation_token"]
}

// stateMachineNames lists the state machines the client sees, by name.
func (c *client) stateMachineNames(t testing.TB, query string) map[string]map[string]any {
	t.Helper()
	status, body := c.do("GET", stateMachinePath()+query, nil)
	mustStatus(t, "get state machines "+query, status, http.StatusOK, body)
	out := map[string]map[string]any{}
	for _, m := range body["service_hierarchical_state_machines"].([]any) {
		out[m.(map[string]any)["name"].(string)] = m.(map[string]any)
	}
	return out
}

func TestStateMachineLifecycle(t *testing.T) {
	t.Parallel()
	srv, c := newTestServer(t)
	status, body := c.do("POST", stateMachinePath(), map[string]any{"state_machine_name": " support "})
	mustStatus(t, "create", status, http.StatusCreated, body)
	id := body["id"].(string)
	for _, name := range []string{"support", "  support"} {
		status, body = c.do("POST", stateMachinePath(), map[string]any{"state_machine_name": name})
		mustStatus(t, "create a second "+strconv.Quote(name), status, http.StatusConflict, body)
	}
	status, body = c.do("POST", stateMachinePath(), map[string]any{"state_machine_name": "   "})
	mustStatus(t, "blank name", status, http.StatusUnprocessableEntity, body)
	if got := c.stateMachineNames(t, "")["support"]; got["id"] != id || got["latest_version"] != nil || got["deprecated"] != false {
		t.Errorf("listed before any version: got %v", got)
	}

	// Versions are numbered 1, 2, 3; a wrong expected number and a dry run
	// store nothing.
	v1 := stateMachineMinimal()
	v1["description"] = "  First draft.  "
	stateMachineState(v1, 0)["actions"] = []any{"  Greet the user  "}
	status, body = c.do("POST", stateMachinePath(id)+"/", v1)
	mustStatus(t, "version 1", status, http.StatusCreated, body)
	if body["version"] != float64(1) || body["created_at"] == nil {
		t.Errorf("version 1: got %v", body)
	}
	status, body = c.do("POST", stateMachinePath(id)+"/?version=2", stateMachineMinimal())
	mustStatus(t, "version 2 as expected", status, http.StatusCreated, body)
	status, body = c.do("POST", stateMachinePath(id)+"/?version=2", stateMachineMinimal())
	mustStatus(t, "version 2 again", status, http.StatusConflict, body)
	status, raw := c.raw("POST", "/v1/"+c.org+stateMachinePath(id)+"/?dry_run=true", stateMachineMinimal(),
		map[string]string{"Authorization": "Bearer " + c.token})
	if status != http.StatusCreated || string(raw) != "null" {
		t.Errorf("dry run: got %d %s, want 201 null", status, raw)
	}
	bad := stateMachineMinimal()
	bad["terminal_state"] = "nowhere"
	status, body = c.do("POST", stateMachinePath(id)+"/?dry_run=true", bad)
	mustStatus(t, "dry run of a bad version", status, http.StatusUnprocessableEntity, body)
	status, body = c.do("POST", stateMachinePath(id)+"/?dry_run=true&version=7", stateMachineMinimal())
	mustStatus(t, "dry run expecting the wrong number", status, http.StatusConflict, body)
	if got := c.stateMachineVersionCount(t, id); got != 2 {
		t.Fatalf("versions after refusals and a dry run: got %d, want 2", got)
	}
	status, body = c.do("POST", stateMachinePath(id)+"/", stateMachineMinimal())
	mustStatus(t, "version 3", status, http.StatusCreated, body)
	if got := c.stateMachineNames(t, "")["support"]["latest_version"]; got != float64(3) {
		t.Errorf("latest_version: got %v, want 3", got)
	}

	// A version reads back as it was created, texts trimmed.
	status, body = c.do("GET", stateMachinePath(id, "version")+"?version=1", nil)
	mustStatus(t, "get version 1", status, http.StatusOK, body)
	got := body["state_machine_versions"].([]any)[0].(map[string]any)
	want := stateMachineMinimal()
	want["description"] = "First draft."
	for k, w := range want {
		if !reflect.DeepEqual(normalizedJSON(t, got[k]), normalizedJSON(t, w)) {
			t.Errorf("version 1 %s: got %v, want %v", k, got[k], w)
		}
	}
	if got["org_id"] != srv.Organization || got["service_hierarchical_state_machine_id"] != id ||
		got["creator"].(map[string]any)["user_id"] != srv.UserID {
		t.Errorf("version 1 metadata: got %v", got)
	}

	for _, tc := range []struct {
		query string
		want  []int
		more  bool
		token any
	}{
		{"", []int{1, 2, 3}, false, nil},
		{"?sort_by=-version", []int{3, 2, 1}, false, nil},
		{"?sort_by=%2Bversion", []int{1, 2, 3}, false, nil},
		{"?version=2", []int{2}, false, nil},
		{"?version=latest", []int{3}, false, nil},
		{"?version=2-latest", []int{2, 3}, false, nil},
		{"?version=1-2", []int{1, 2}, false, nil},
		{"?version=9", nil, false, nil},
		{"?limit=2", []int{1, 2}, true, float64(2)},
		{"?limit=2&continuation_token=2", []int{3}, false, nil},
	} {
		got, more, token := c.stateMachineVersionNumbers(t, id, tc.query)
		if !slices.Equal(got, tc.want) || more != tc.more || token != tc.token {
			t.Errorf("versions %s: got %v more=%v token=%v, want %v more=%v token=%v", tc.query, got, more, token, tc.want, tc.more, tc.token)
		}
	}
	for _, q := range []string{"?version=3-1", "?version=two", "?version=0", "?sort_by=created_at", "?limit=11", "?limit=0"} {
		status, body = c.do("GET", stateMachinePath(id, "version")+q, nil)
		mustStatus(t, "versions "+q, status, http.StatusUnprocessableEntity, body)
	}

	// Listing filters and pages.
	status, body = c.do("POST", stateMachinePath(), map[string]any{"state_machine_name": "billing"})
	mustStatus(t, "create billing", status, http.StatusCreated, body)
	billing := body["id"].(string)
	if got := c.stateMachineNames(t, "?id="+billing); len(got) != 1 || got["billing"] == nil {
		t.Errorf("filtered by id: got %v", got)
	}
	status, body = c.do("GET", stateMachinePath()+"?limit=1", nil)
	mustStatus(t, "first page", status, http.StatusOK, body)
	if ms := body["service_hierarchical_state_machines"].([]any); len(ms) != 1 || ms[0].(map[string]any)["name"] != "support" ||
		body["has_more"] != true || body["continuation_token"] != float64(1) {
		t.Errorf("first page: got %v", body)
	}
	status, body = c.do("GET", stateMachinePath()+"?limit=1&continuation_token=1", nil)
	mustStatus(t, "second page", status, http.StatusOK, body)
	if ms := body["service_hierarchical_state_machines"].([]any); len(ms) != 1 || ms[0].(map[string]any)["name"] != "billing" ||
		body["has_more"] != false || body["continuation_token"] != nil {
		t.Errorf("second page: got %v", body)
	}

	// Deleting marks deprecated: versions stay readable, no new ones, the
	// name is free again.
	status, body = c.do("DELETE", stateMachinePath(id)+"/", nil)
	mustStatus(t, "delete", status, http.StatusOK, body)
	status, body = c.do("DELETE", stateMachinePath(id)+"/", nil)
	mustStatus(t, "delete again", status, http.StatusConflict, body)
	if got := c.stateMachineNames(t, "?deprecated=true"); len(got) != 1 || got["support"]["deprecated"] != true {
		t.Errorf("deprecated ones: got %v", got)
	}
	if got := c.stateMachineNames(t, "?deprecated=false"); len(got) != 1 || got["billing"] == nil {
		t.Errorf("live ones: got %v", got)
	}
	status, body = c.do("POST", stateMachinePath(id)+"/", stateMachineMinimal())
	mustStatus(t, "version of a deleted state machine", status, http.StatusNotFound, body)
	if got := c.stateMachineVersionCount(t, id); got != 3 {
		t.Errorf("versions of the deleted state machine: got %d, want 3", got)
	}
	status, body = c.do("POST", stateMachinePath(), map[string]any{"state_machine_name": "support"})
	mustStatus(t, "reuse the name", status, http.StatusCreated, body)

	const missing = "0123456789abcdef01234567"
	for _, call := range [][2]string{
		{"GET", stateMachinePath(missing, "version")}, {"POST", stateMachinePath(missing) + "/"}, {"DELETE", stateMachinePath(missing) + "/"},
	} {
		status, body = c.do(call[0], call[1], stateMachineMinimal())
		mustStatus(t, call[0]+" a missing state machine", status, http.StatusNotFound, body)
	}
}

// normalizedJSON round-trips v through JSON so values built in Go compare
// with decoded ones.
func normalizedJSON(t testing.TB, v any) any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestStateMachineDeleteRefusedWhileAnActiveServiceUsesIt(t *testing.T) {
	t.Parallel()
	_, c := newTestServer(t)
	id := c.newStateMachine(t, "flow")
	agent := c.newAgent(t, "Amy")
	status, body := c.do("POST", "/service/", map[string]any{
		"name": "helpdesk", "description": "Answers questions", "is_active": true, "agent_id": agent,
		"service_hierarchical_state_machine_id": id, "keyterms": []any{}, "tags": map[string]any{},
	})
	mustStatus(t, "create service", status, http.StatusCreated, body)
	service := body["id"].(string)
	status, body = c.do("DELETE", stateMachinePath(id)+"/", nil)
	mustStatus(t, "delete while in use", status, http.StatusBadRequest, body)
	if !strings.Contains(detail(body), service) {
		t.Errorf("detail: got %q, want it to name service %s", detail(body), service)
	}
	if got := c.stateMachineNames(t, "")["flow"]["deprecated"]; got != false {
		t.Errorf("deprecated after a refused delete: got %v", got)
	}
	status, body = c.do("POST", "/service/"+service+"/", map[string]any{"is_active": false})
	if status/100 != 2 {
		t.Fatalf("deactivate service: status %d; body %v", status, body)
	}
	status, body = c.do("DELETE", stateMachinePath(id)+"/", nil)
	mustStatus(t, "delete once unused", status, http.StatusOK, body)
}

func TestStateMachinePermissions(t *testing.T) {
	t.Parallel()
	srv, admin := newTestServer(t)
	visible := admin.newStateMachine(t, "visible")
	hidden := admin.newStateMachine(t, "hidden")
	onlyVisible := map[string]any{"name": equals("visible")}
	admin.newRole("StateMachineReader", grant("Organization:GetServiceHierarchicalStateMachine", onlyVisible))
	admin.newRole("StateMachineEditor",
		grant("Organization:GetServiceHierarchicalStateMachine", nil),
		grant("Organization:CreateServiceHierarchicalStateMachine", map[string]any{"name": equals("mine")}),
		grant("Organization:CreateServiceHierarchicalStateMachineVersion", onlyVisible),
		grant("Organization:DeleteServiceHierarchicalStateMachine", onlyVisible))
	reader := admin.keyFor(admin.newUser("reader@example.com", "StateMachineReader"), "StateMachineReader")
	editor := admin.keyFor(admin.newUser("editor@example.com", "StateMachineEditor"), "StateMachineEditor")

	if got := reader.stateMachineNames(t, ""); len(got) != 1 || got["visible"] == nil {
		t.Errorf("reader lists: got %v, want visible only", got)
	}
	status, body := reader.do("GET", stateMachinePath(visible, "version"), nil)
	mustStatus(t, "reader reads visible versions", status, http.StatusOK, body)
	status, body = reader.do("GET", stateMachinePath(hidden, "version"), nil)
	mustStatus(t, "reader reads hidden versions", status, http.StatusForbidden, body)
	status, body = reader.do("POST", stateMachinePath(visible)+"/", stateMachineMinimal())
	mustStatus(t, "reader creates a version", status, http.StatusForbidden, body)
	status, body = reader.do("POST", stateMachinePath(), map[string]any{"state_machine_name": "mine"})
	mustStatus(t, "reader creates a state machine", status, http.StatusForbidden, body)

	status, body = editor.do("POST", stateMachinePath(), map[string]any{"state_machine_name": "theirs"})
	mustStatus(t, "editor creates theirs", status, http.StatusForbidden, body)
	status, body = editor.do("POST", stateMachinePath(), map[string]any{"state_machine_name": "mine"})
	mustStatus(t, "editor creates mine", status, http.StatusCreated, body)
	status, body = editor.do("POST", stateMachinePath(hidden)+"/", stateMachineMinimal())
	mustStatus(t, "editor versions hidden", status, http.StatusForbidden, body)
	status, body = editor.do("POST", stateMachinePath(visible)+"/", stateMachineMinimal())
	mustStatus(t, "editor versions visible", status, http.StatusCreated, body)
	status, body = editor.do("DELETE", stateMachinePath(hidden)+"/", nil)
	mustStatus(t, "editor deletes hidden", status, http.StatusForbidden, body)
	if got := admin.stateMachineVersionCount(t, hidden); got != 1 {
		t.Errorf("hidden versions after refusals: got %d, want 1", got)
	}
	if got := admin.stateMachineNames(t, "")["hidden"]["deprecated"]; got != false {
		t.Errorf("hidden deprecated after a refused delete: got %v", got)
	}
	status, body = editor.do("DELETE", stateMachinePath(visible)+"/", nil)
	mustStatus(t, "editor deletes visible", status, http.StatusOK, body)

	// Another organization's state machines do not exist for its members.
	beta, _ := betaOrg(t, srv, admin)
	if got := beta.stateMachineNames(t, ""); len(got) != 0 {
		t.Errorf("beta lists: got %v, want none", got)
	}
	for _, call := range [][2]string{
		{"GET", stateMachinePath(hidden, "version")}, {"POST", stateMachinePath(hidden) + "/"}, {"DELETE", stateMachinePath(hidden) + "/"},
	} {
		status, body = beta.do(call[0], call[1], stateMachineMinimal())
		mustStatus(t, "beta "+call[0]+" alpha's state machine", status, http.StatusNotFound, body)
	}
	if got := admin.stateMachineVersionCount(t, hidden); got != 1 {
		t.Errorf("hidden versions after beta's attempts: got %d, want 1", got)
	}
}
