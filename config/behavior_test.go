package config

import (
	"encoding/json"
	"reflect"
	"slices"
	"testing"
)

func TestBehaviorCheck(t *testing.T) {
	t.Parallel()
	loc := []any{"body", "initial_version"}
	at := func(more ...any) []any { return append(slices.Clone(loc), more...) }
	const goodSpec = `{"tool_id":"t1","tool_name":" Echo ","version_constraint":"~=1.0","additional_instruction":" Say it. ",
		"audio_fillers":[" Hmm. "],"audio_filler_triggered_after":2,"result_persistence":"ephemeral"}`
	tests := []struct {
		name       string
		body       string
		want       string // the stored actions, as JSON
		wantWheres []string
		wantFaults Faults
	}{
		{name: "inject instruction, trimmed",
			body: `{"conversation_triggers":[" hi "],"actions":[{"type":"inject-instruction","instruction":" Be brief. ","overrides_instructions":true}]}`,
			want: `[{"type":"inject-instruction","instruction":"Be brief.","overrides_instructions":true}]`},
		{name: "change tool candidates",
			body: `{"conversation_triggers":["hi"],"actions":[{"type":"change-tool-candidates","overrides_existing_tool_call_specs":true,"tool_call_specs":[` + goodSpec + `]}]}`,
			want: `[{"type":"change-tool-candidates","tool_call_specs":[{"tool_id":"t1","version_constraint":"~=1.0","additional_instruction":"Say it.",` +
				`"audio_fillers":["Hmm."],"audio_filler_triggered_after":2,"result_persistence":"ephemeral","tool_name":"Echo"}],"overrides_existing_tool_call_specs":true}]`,
			wantWheres: []string{"initial_version.actions[0].tool_call_specs[0]"}},
		{name: "tool_specs, the other name",
			body: `{"conversation_triggers":["hi"],"actions":[{"type":"change-tool-candidates","tool_specs":[` + goodSpec + `]}]}`,
			want: `[{"type":"change-tool-candidates","tool_call_specs":[{"tool_id":"t1","version_constraint":"~=1.0","additional_instruction":"Say it.",` +
				`"audio_fillers":["Hmm."],"audio_filler_triggered_after":2,"result_persistence":"ephemeral","tool_name":"Echo"}],"overrides_existing_tool_call_specs":false}]`,
			wantWheres: []string{"initial_version.actions[0].tool_specs[0]"}},
		{name: "both names",
			body:       `{"conversation_triggers":["hi"],"actions":[{"type":"change-tool-candidates","tool_specs":[],"tool_call_specs":[]}]}`,
			wantFaults: Faults{{Loc: at("actions", 0, "tool_specs"), Type: "extra_forbidden", Msg: "Give tool_call_specs or its other name tool_specs, not both"}}},
		{name: "neither name",
			body:       `{"conversation_triggers":["hi"],"actions":[{"type":"change-tool-candidates"}]}`,
			wantFaults: Faults{{Loc: at("actions", 0, "tool_call_specs"), Type: "missing", Msg: "Field required"}}},
		{name: "blank texts and a bad spec",
			body: `{"conversation_triggers":[" "],"actions":[{"type":"inject-instruction","instruction":""},
				{"type":"change-tool-candidates","tool_call_specs":[{"tool_id":"t1","tool_name":" ","version_constraint":">=1","additional_instruction":"x"}]}]}`,
			wantFaults: Faults{
				{Loc: at("conversation_triggers", 0), Type: "value_error", Msg: "String should not be empty or only whitespace", Input: " "},
				{Loc: at("actions", 0, "instruction"), Type: "value_error", Msg: "String should not be empty or only whitespace", Input: ""},
				{Loc: at("actions", 1, "tool_call_specs", 0, "tool_name"), Type: "value_error", Msg: "String should not be empty or only whitespace", Input: " "},
				{Loc: at("actions", 1, "tool_call_specs", 0, "result_persistence"), Type: "missing",
					Msg: "Field required: every tool call spec must say its result_persistence (ephemeral, persisted-preferred, persisted)"},
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var c BehaviorContent
			if err := json.Unmarshal([]byte(tc.body), &c); err != nil {
				t.Fatal(err)
			}
			var f Faults
			b, specs := c.Check(&f, loc)
			if tc.wantFaults != nil {
				if !reflect.DeepEqual(f, tc.wantFaults) {
					t.Errorf("got faults %#v, want %#v", f, tc.wantFaults)
				}
				return
			}
			if len(f) > 0 {
				t.Fatalf("got faults %v, want none", f)
			}
			got, _ := json.Marshal(b.Actions)
			if string(got) != tc.want {
				t.Errorf("actions: got %s, want %s", got, tc.want)
			}
			var wheres []string
			for _, s := range specs {
				wheres = append(wheres, s.Where)
			}
			if !slices.Equal(wheres, tc.wantWheres) {
				t.Errorf("specs: got %q, want %q", wheres, tc.wantWheres)
			}
			// What is stored reads back as the same actions.
			back, err := ParseBehavior(b.ConversationTriggers, got)
			if err != nil || !reflect.DeepEqual(back, b) {
				t.Errorf("ParseBehavior: got %#v, %v; want %#v", back, err, b)
			}
		})
	}
	if _, err := ParseBehavior(nil, []byte(`[{"type":"dance"}]`)); err == nil {
		t.Error("ParseBehavior of an unknown action type: got no error")
	}
}
