package config

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// action is an action state with one action and the given exit conditions.
func action(name, act string, exits ...map[string]any) map[string]any {
	ecs := []any{}
	for _, e := range exits {
		ecs = append(ecs, e)
	}
	return map[string]any{
		"type": "action", "name": name, "objective": "Objective of " + name, "actions": []any{act},
		"intra_state_navigation_guidelines": []any{}, "action_guidelines": []any{}, "boundary_constraints": []any{},
		"exit_conditions": ecs, "action_tool_call_specs": []any{}, "exit_condition_tool_call_specs": []any{},
	}
}

func spec(toolID, persistence string, fillers ...string) map[string]any {
	s := map[string]any{"tool_id": toolID, "version_constraint": ">=1.0.0", "additional_instruction": "Echo it.",
		"audio_fillers": append([]string{}, fillers...), "audio_filler_triggered_after": 2}
	if persistence != "" {
		s["result_persistence"] = persistence
	}
	return s
}

// kinds is a valid state of each kind, named mid and leading to end.
func kinds() map[string]map[string]any {
	return map[string]map[string]any{
		"action": action("mid", "Do it", map[string]any{"description": "Done", "next_state": "end"}),
		"decision": {"type": "decision", "name": "mid", "objective": "Pick the way",
			"exit_conditions":     []any{map[string]any{"description": "Always", "next_state": "end"}},
			"decision_guidelines": []any{"Be quick"}, "tool_call_specs": []any{spec("echo", "ephemeral")},
			"audio_fillers": []any{"One moment."}, "audio_filler_triggered_after": 2},
		"recall":     {"type": "recall", "name": "mid", "queries": []any{"favourite colour"}, "requested_information": nil, "next_state": "end"},
		"annotation": {"type": "annotation", "name": "mid", "inner_thought": "The user is in a hurry.", "next_state": "end"},
		"reflection": {"type": "reflection", "name": "mid", "problem": "What does the user want?", "word_limit": 100, "next_state": "end",
			"tool_call_specs": []any{spec("echo", "persisted-preferred")}, "audio_fillers": []any{}},
		"tool-call": {"type": "tool-call", "name": "mid", "next_state": "end", "designated_tool": spec("echo", "persisted"),
			"designated_tool_call_params_generation_audio_fillers": []any{"Looking that up."},
			"designated_tool_call_objective":                       "Echo the request", "designated_tool_call_context": "Asked",
			"designated_tool_call_guidances": []any{"Quote"}, "designated_tool_call_validations": []any{"Not empty"},
			"tool_call_specs": []any{spec("echo", "ephemeral")}},
	}
}

// through is a version start → mid → end around a state of the given kind,
// changed by change.
func through(kind string, change func(g map[string]any, mid map[string]any)) map[string]any {
	g := map[string]any{
		"description": "A greeting and a goodbye.",
		"states": []any{
			action("start", "Greet", map[string]any{"description": "Greeted", "next_state": "mid"}),
			kinds()[kind],
			action("end", "Say goodbye"),
		},
		"new_user_initial_state": "start", "returning_user_initial_state": "start", "terminal_state": "end",
		"references": map[string]any{}, "global_intra_state_navigation_guidelines": []any{},
		"global_action_guidelines": []any{}, "global_boundary_constraints": []any{},
	}
	if change != nil {
		change(g, g["states"].([]any)[1].(map[string]any))
	}
	return g
}

func toGraph(t *testing.T, m map[string]any) Graph {
	t.Helper()
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	g, err := ParseGraph(b)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// faultsOf returns the faults of err, failing unless it is an *Invalid.
func faultsOf(t *testing.T, err error) Faults {
	t.Helper()
	inv, ok := err.(*Invalid)
	if !ok {
		t.Fatalf("got error %v (%T), want *Invalid", err, err)
	}
	return inv.Faults
}

func TestCheckGraph(t *testing.T) {
	t.Parallel()
	mid := func(more ...any) []any { return append([]any{"body", "states", 1}, more...) }
	tests := []struct {
		name string
		kind string
		// change alters the valid version; nil leaves it valid.
		change func(g, mid map[string]any)
		want   Faults
	}{
		{name: "action", kind: "action"},
		{name: "decision", kind: "decision"},
		{name: "recall", kind: "recall"},
		{name: "annotation", kind: "annotation"},
		{name: "reflection", kind: "reflection"},
		{name: "tool-call", kind: "tool-call"},
		{name: "unknown state type", kind: "action", change: func(_, m map[string]any) { m["type"] = "dance" },
			// A state that cannot be read has no name for others to lead to.
			want: Faults{{Loc: mid("type"), Type: "union_tag_invalid", Msg: `Unknown state type "dance"`},
				{Loc: []any{"body", "states", 0, "exit_conditions", 0, "next_state"}, Type: "value_error", Msg: `State "mid" does not exist in this version`}}},
		{name: "field of the wrong type", kind: "reflection", change: func(_, m map[string]any) { m["word_limit"] = "many" },
			want: Faults{{Loc: mid("word_limit"), Type: "int_type", Msg: "Input should be a whole number within the range this field allows"},
				{Loc: []any{"body", "states", 0, "exit_conditions", 0, "next_state"}, Type: "value_error", Msg: `State "mid" does not exist in this version`}}},
		{name: "blank objective", kind: "action", change: func(_, m map[string]any) { m["objective"] = "  " },
			want: Faults{{Loc: mid("objective"), Type: "value_error", Msg: "String should not be empty or only whitespace", Input: "  "}}},
		{name: "blank exit condition description", kind: "decision", change: func(_, m map[string]any) {
			m["exit_conditions"] = []any{map[string]any{"description": "\t", "next_state": "end"}}
		}, want: Faults{{Loc: mid("exit_conditions", 0, "description"), Type: "value_error", Msg: "String should not be empty or only whitespace", Input: "\t"}}},
		{name: "recall with queries and requested information", kind: "recall", change: func(_, m map[string]any) { m["requested_information"] = "colour" },
			want: Faults{{Loc: mid("queries"), Type: "value_error", Msg: "A recall state sets exactly one of queries and requested_information; the other must be null"}}},
		{name: "recall with neither", kind: "recall", change: func(_, m map[string]any) { m["queries"] = nil },
			want: Faults{{Loc: mid("queries"), Type: "value_error", Msg: "A recall state sets exactly one of queries and requested_information; the other must be null"}}},
		{name: "recall with requested information only", kind: "recall", change: func(_, m map[string]any) {
			m["queries"], m["requested_information"] = nil, "colour"
		}},
		{name: "decision filler that is not SSML", kind: "decision", change: func(_, m map[string]any) { m["audio_fillers"] = []any{`Wait <break time="1s"> please`} },
			want: Faults{{Loc: mid("audio_fillers", 0), Type: "value_error", Input: `Wait <break time="1s"> please`}}},
		{name: "blank filler is reported once", kind: "decision", change: func(_, m map[string]any) { m["audio_fillers"] = []any{" "} },
			want: Faults{{Loc: mid("audio_fillers", 0), Type: "value_error", Msg: "String should not be empty or only whitespace", Input: " "}}},
		{name: "designated tool not persisted", kind: "tool-call", change: func(_, m map[string]any) { m["designated_tool"] = spec("echo", "ephemeral") },
			want: Faults{{Loc: mid("designated_tool", "result_persistence"), Type: "value_error",
				Msg: `The designated tool of a tool-call state must use result_persistence "persisted", not "ephemeral": the states after it rely on its result`}}},
		{name: "tool spec without result persistence", kind: "reflection", change: func(_, m map[string]any) { m["tool_call_specs"] = []any{spec("echo", "")} },
			want: Faults{{Loc: mid("tool_call_specs", 0, "result_persistence"), Type: "missing",
				Msg: "Field required: every tool call spec must say its result_persistence (ephemeral, persisted-preferred, persisted)"}}},
		{name: "transition to a missing state", kind: "annotation", change: func(_, m map[string]any) { m["next_state"] = "nowhere" },
			want: Faults{{Loc: mid("next_state"), Type: "value_error", Msg: `State "nowhere" does not exist in this version`}}},
		{name: "transition to itself", kind: "recall", change: func(_, m map[string]any) { m["next_state"] = "mid" },
			want: Faults{{Loc: mid("next_state"), Type: "value_error", Msg: `State "mid" cannot graphTransition to itself`}}},
		{name: "external state of an unlisted reference", kind: "annotation", change: func(_, m map[string]any) { m["next_state"] = []any{"other.start", "end"} },
			want: Faults{{Loc: mid("next_state", 0), Type: "value_error", Msg: `Reference "other" is not listed in references`}}},
		{name: "jumpback to a missing state", kind: "annotation", change: func(g, m map[string]any) {
			m["next_state"] = []any{"other.start", "nowhere"}
			g["references"] = map[string]any{"other": []any{"a1", 1}}
		}, want: Faults{{Loc: mid("next_state", 1), Type: "value_error", Msg: `State "nowhere" does not exist in this version`}}},
		{name: "reference name that is not a word", kind: "action", change: func(g, _ map[string]any) {
			g["references"] = map[string]any{"the other": []any{"a1", 1}}
		}, want: Faults{{Loc: []any{"body", "references", "the other"}, Type: "string_pattern_mismatch",
			Msg: `Reference name "the other" may use only letters, digits and underscores`}}},
		{name: "initial state missing", kind: "action", change: func(g, _ map[string]any) { g["new_user_initial_state"] = "nowhere" },
			want: Faults{{Loc: []any{"body", "new_user_initial_state"}, Type: "value_error", Msg: `State "nowhere" does not exist in this version`}}},
		{name: "initial state that is not an action state", kind: "decision", change: func(g, _ map[string]any) { g["returning_user_initial_state"] = "mid" },
			want: Faults{{Loc: []any{"body", "returning_user_initial_state"}, Type: "value_error",
				Msg: `returning_user_initial_state must be an action state; "mid" is a decision state`}}},
		{name: "terminal state with an exit condition and two actions", kind: "action", change: func(g, _ map[string]any) {
			end := g["states"].([]any)[2].(map[string]any)
			end["exit_conditions"] = []any{map[string]any{"description": "Again", "next_state": "start"}}
			end["actions"] = []any{"Bye", "Wave"}
		}, want: Faults{
			{Loc: []any{"body", "states", 2, "exit_conditions"}, Type: "value_error", Msg: `The terminal state "end" cannot have exit conditions`},
			{Loc: []any{"body", "states", 2, "actions"}, Type: "value_error", Msg: `The terminal state "end" must have exactly one action; it has 2`},
		}},
		{name: "two states with one name", kind: "action", change: func(g, _ map[string]any) {
			g["states"] = append(g["states"].([]any), action("end", "Again"))
		}, want: Faults{{Loc: []any{"body", "states", 3, "name"}, Type: "value_error", Msg: `State name "end" is already used by states[2]`}}},
		{name: "every fault at once", kind: "action", change: func(g, m map[string]any) {
			g["description"] = ""
			g["global_boundary_constraints"] = []any{"ok", " "}
			m["exit_conditions"] = []any{map[string]any{"description": "One", "next_state": "a"}, map[string]any{"description": "Two", "next_state": "b"}}
		}, want: Faults{
			{Loc: []any{"body", "description"}, Type: "value_error", Msg: "String should not be empty or only whitespace", Input: ""},
			{Loc: []any{"body", "global_boundary_constraints", 1}, Type: "value_error", Msg: "String should not be empty or only whitespace", Input: " "},
			{Loc: mid("exit_conditions", 0, "next_state"), Type: "value_error", Msg: `State "a" does not exist in this version`},
			{Loc: mid("exit_conditions", 1, "next_state"), Type: "value_error", Msg: `State "b" does not exist in this version`},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			checked, err := CheckGraph(toGraph(t, through(tc.kind, tc.change)))
			if tc.want == nil {
				if err != nil {
					t.Fatalf("got error %v, want none", err)
				}
				if len(checked.Graph.States) != 3 || checked.Graph.References == nil {
					t.Errorf("checked graph: got %d states, references %v; want 3 states and a non-nil map",
						len(checked.Graph.States), checked.Graph.References)
				}
				return
			}
			got := faultsOf(t, err)
			if len(got) != len(tc.want) {
				t.Fatalf("got faults %v, want %v", got, tc.want)
			}
			for i, w := range tc.want {
				g := got[i]
				// An SSML fault's wording is the ssml package's; its
				// location and type are this check's.
				if w.Msg == "" && strings.HasPrefix(g.Msg, "Invalid audio filler ") {
					g.Msg = ""
				}
				if !reflect.DeepEqual(g, w) {
					t.Errorf("fault %d: got %#v, want %#v", i, g, w)
				}
			}
		})
	}
}

// TestCheckGraphCleansAndLocates checks what a passing version yields:
// texts trimmed, the tool call specs and external targets located by the
// names messages use.
func TestCheckGraphCleansAndLocates(t *testing.T) {
	t.Parallel()
	m := through("tool-call", func(g, m map[string]any) {
		g["description"] = "  Padded.  "
		g["references"] = map[string]any{"other": []any{"a1", 3}}
		m["next_state"] = []any{"other.start", "end"}
	})
	checked, err := CheckGraph(toGraph(t, m))
	if err != nil {
		t.Fatal(err)
	}
	if checked.Graph.Description != "Padded." {
		t.Errorf("description: got %q, want %q", checked.Graph.Description, "Padded.")
	}
	var wheres []string
	for _, s := range checked.Specs {
		wheres = append(wheres, s.Where)
	}
	if want := []string{"states[1] (mid).designated_tool", "states[1] (mid).tool_call_specs[0]"}; !slices.Equal(wheres, want) {
		t.Errorf("specs: got %q, want %q", wheres, want)
	}
	wantExt := []ExternalTarget{{Where: "states[1] (mid).next_state", Ref: "other", State: "start"}}
	if !reflect.DeepEqual(checked.External, wantExt) {
		t.Errorf("external: got %+v, want %+v", checked.External, wantExt)
	}
	tests := []struct {
		name   string
		states map[string][]string
		want   []string
	}{
		{name: "state exists", states: map[string][]string{"other": {"start", "end"}}},
		{name: "reference not resolved", states: map[string][]string{}},
		{name: "state missing", states: map[string][]string{"other": {"begin"}},
			want: []string{`states[1] (mid).next_state: version 3 of state machine a1 (reference "other") has no state "start"`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := checked.UnknownExternalStates(tc.states); !slices.Equal(got, tc.want) {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

// TestGraphStates checks what the engine reads of a stored version: each
// state as its kind, found by name.
func TestGraphStates(t *testing.T) {
	t.Parallel()
	for kind, wantType := range map[string]string{
		KindAction: "*config.ActionState", KindDecision: "*config.DecisionState", KindRecall: "*config.RecallState",
		KindAnnotation: "*config.AnnotationState", KindReflection: "*config.ReflectionState", KindToolCall: "*config.ToolCallState",
	} {
		t.Run(kind, func(t *testing.T) {
			checked, err := CheckGraph(toGraph(t, through(kind, nil)))
			if err != nil {
				t.Fatal(err)
			}
			body, _ := json.Marshal(checked.Graph)
			g, err := ParseGraph(body)
			if err != nil {
				t.Fatal(err)
			}
			st, ok, err := g.State("mid")
			if err != nil || !ok {
				t.Fatalf("State(mid): got ok %v, error %v; want the state", ok, err)
			}
			if got := fmt.Sprintf("%T", st); got != wantType || st.Kind() != kind || st.StateName() != "mid" {
				t.Errorf("got %s of kind %q named %q, want %s of kind %q named mid", got, st.Kind(), st.StateName(), wantType, kind)
			}
			if _, ok, err := g.State("nowhere"); ok || err != nil {
				t.Errorf("State(nowhere): got ok %v, error %v; want neither", ok, err)
			}
			all, err := g.Decode()
			if err != nil || len(all) != 3 {
				t.Fatalf("Decode: got %d states, error %v; want 3", len(all), err)
			}
			end, isAction := all[2].(*ActionState)
			if !isAction || end.Actions[0] != "Say goodbye" {
				t.Errorf("Decode: states[2] got %#v, want the end action state", all[2])
			}
			names, err := g.StateNames()
			if want := []string{"start", "mid", "end"}; err != nil || !slices.Equal(names, want) {
				t.Errorf("StateNames: got %q, %v; want %q", names, err, want)
			}
		})
	}
	if _, err := ParseGraph([]byte(`{"states": 3}`)); err == nil {
		t.Error("ParseGraph of a malformed version: got no error")
	}
	g := Graph{States: []json.RawMessage{json.RawMessage(`{"type":"dance","name":"x"}`)}}
	if _, err := g.Decode(); err == nil || !strings.Contains(err.Error(), `unknown state type "dance"`) {
		t.Errorf("Decode of an unknown kind: got %v, want it named", err)
	}
}

func TestNextStateJSON(t *testing.T) {
	t.Parallel()
	tests := []struct {
		json string
		want NextState
	}{
		{`"end"`, NextState{State: "end"}},
		{`["other.start","end"]`, NextState{External: "other.start", State: "end"}},
	}
	for _, tc := range tests {
		t.Run(tc.json, func(t *testing.T) {
			var got NextState
			if err := json.Unmarshal([]byte(tc.json), &got); err != nil || got != tc.want {
				t.Fatalf("decode: got %+v, %v; want %+v", got, err, tc.want)
			}
			back, _ := json.Marshal(got)
			if string(back) != tc.json {
				t.Errorf("encode: got %s, want %s", back, tc.json)
			}
		})
	}
}
