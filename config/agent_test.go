package config

import (
	"encoding/json"
	"errors"
	"reflect"
	"testing"
)

func TestAgentPatchCheck(t *testing.T) {
	t.Parallel()
	blank := func(loc ...any) Fault {
		return Fault{Loc: append([]any{"body"}, loc...), Type: "value_error", Msg: "String should not be empty or only whitespace", Input: " "}
	}
	tests := []struct {
		name      string
		body      string
		want      Agent
		wantFault Faults
	}{
		{name: "texts trimmed, unset fields left zero", body: `{"initials":" AB ","behaviors":[" kind "],"voice_config":{"voice_id":" v1 "}}`,
			want: Agent{Initials: "AB", Behaviors: []string{"kind"}, VoiceConfig: &AgentVoiceConfig{VoiceID: "v1"}}},
		{name: "default spoken language kept as given", body: `{"identity":{"name":"Ann","role":"Guide","developed_by":"Us","default_spoken_language":"eng",
			"relationship_to_developer":{"ownership":"o","type":"t","conversation_visibility":"c","thought_visibility":"v"}}}`,
			want: Agent{Identity: AgentIdentity{Name: "Ann", Role: "Guide", DevelopedBy: "Us", DefaultSpokenLanguage: "eng",
				RelationshipToDeveloper: AgentRelationship{Ownership: "o", Type: "t", ConversationVisibility: "c", ThoughtVisibility: "v"}}}},
		{name: "blank texts, each located", body: `{"background":" ","communication_patterns":["ok"," "],
			"identity":{"name":"Ann","role":"Guide","developed_by":"Us","relationship_to_developer":{"ownership":" ","type":"t","conversation_visibility":"c","thought_visibility":"v"}}}`,
			wantFault: Faults{blank("identity", "relationship_to_developer", "ownership"), blank("background"), blank("communication_patterns", 1)}},
		{name: "voice fields v0.7.0 removed", body: `{"voice_config":{"voice_id":"v1","stability":0.5,"style":1}}`,
			wantFault: Faults{
				{Loc: []any{"body", "voice_config", "stability"}, Type: "value_error", Input: json.RawMessage(`0.5`),
					Msg: "stability was removed from voice_config in v0.7.0: a voice config takes only voice_id. Remove stability, similarity_boost and style"},
				{Loc: []any{"body", "voice_config", "style"}, Type: "value_error", Input: json.RawMessage(`1`),
					Msg: "style was removed from voice_config in v0.7.0: a voice config takes only voice_id. Remove stability, similarity_boost and style"},
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var p AgentPatch
			if err := json.Unmarshal([]byte(tc.body), &p); err != nil {
				t.Fatal(err)
			}
			got, err := p.Check()
			if tc.wantFault != nil {
				if faults := faultsOf(t, err); !reflect.DeepEqual(faults, tc.wantFault) {
					t.Errorf("got faults %#v, want %#v", faults, tc.wantFault)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %#v, want %#v", got, tc.want)
			}
		})
	}
}

func TestAgentPatchOver(t *testing.T) {
	t.Parallel()
	prev := &Agent{Initials: "AB", Background: "Old", Behaviors: []string{"kind"}, VoiceConfig: &AgentVoiceConfig{VoiceID: "v1"}}
	identity := AgentIdentity{Name: "Ann", Role: "Guide", DevelopedBy: "Us",
		RelationshipToDeveloper: AgentRelationship{Ownership: "o", Type: "t", ConversationVisibility: "c", ThoughtVisibility: "v"}}
	idJSON, _ := json.Marshal(identity)
	full := `{"initials":"CD","identity":` + string(idJSON) + `,"background":"New","behaviors":[],"communication_patterns":[],"voice_config":{"voice_id":"v2"}}`
	tests := []struct {
		name        string
		body        string
		prev        *Agent
		want        Agent
		wantMissing []string
	}{
		{name: "first version with every field", body: full,
			want: Agent{Initials: "CD", Identity: identity, Background: "New", Behaviors: []string{}, CommunicationPatterns: []string{}, VoiceConfig: &AgentVoiceConfig{VoiceID: "v2"}}},
		{name: "first version missing fields", body: `{"initials":"CD","behaviors":[]}`,
			wantMissing: []string{"identity", "background", "communication_patterns", "voice_config"}},
		{name: "later version keeps what it leaves out", body: `{"background":"New"}`, prev: prev,
			want: Agent{Initials: "AB", Background: "New", Behaviors: []string{"kind"}, VoiceConfig: &AgentVoiceConfig{VoiceID: "v1"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var p AgentPatch
			if err := json.Unmarshal([]byte(tc.body), &p); err != nil {
				t.Fatal(err)
			}
			c, err := p.Check()
			if err != nil {
				t.Fatal(err)
			}
			got, err := p.Over(tc.prev, c)
			if tc.wantMissing != nil {
				var inc *Incomplete
				if !errors.As(err, &inc) || !reflect.DeepEqual(inc.Missing, tc.wantMissing) {
					t.Fatalf("got %v, want *Incomplete missing %v", err, tc.wantMissing)
				}
				want := "The agent has no versions yet, so the first one needs every field; missing: identity, background, communication_patterns, voice_config."
				if inc.Error() != want {
					t.Errorf("message: got %q, want %q", inc.Error(), want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %#v, want %#v", got, tc.want)
			}
		})
	}
}

func TestParseAgent(t *testing.T) {
	t.Parallel()
	a, err := ParseAgent([]byte(`{"initials":"AB","identity":{"default_spoken_language":"eng"},"voice_config":null}`))
	if err != nil || a.Initials != "AB" || a.Identity.DefaultSpokenLanguage != "eng" || a.VoiceConfig != nil {
		t.Errorf("got %+v, %v; want initials AB, language eng, no voice", a, err)
	}
	if _, err := ParseAgent([]byte(`{"initials":1}`)); err == nil {
		t.Error("malformed agent: got no error")
	}
}
