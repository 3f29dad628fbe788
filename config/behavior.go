package config

import (
	"encoding/json"
	"fmt"
)

// Action types of a dynamic behavior set version.
const (
	ActionInjectInstruction    = "inject-instruction"
	ActionChangeToolCandidates = "change-tool-candidates"
)

// BehaviorToolSpec is a tool call spec of a change-tool-candidates action:
// the spec context graphs use, plus the name the tool is shown under in the
// set's description.
type BehaviorToolSpec struct {
	ToolSpec
	ToolName string `json:"tool_name"`
}

// BehaviorActionIn is an action as a request carries it: the fields of
// every action type, told apart by Type. ToolSpecs is the name the v0.7.0
// release notes use for ToolCallSpecs; either is accepted.
type BehaviorActionIn struct {
	Type                           string             `json:"type"`
	Instruction                    string             `json:"instruction"`
	OverridesInstructions          bool               `json:"overrides_instructions"`
	ToolCallSpecs                  []BehaviorToolSpec `json:"tool_call_specs"`
	ToolSpecs                      []BehaviorToolSpec `json:"tool_specs"`
	OverridesExistingToolCallSpecs bool               `json:"overrides_existing_tool_call_specs"`
}

// BehaviorAction is an action as it is stored and returned:
// *BehaviorInjectInstruction or *BehaviorChangeToolCandidates.
type BehaviorAction interface {
	ActionType() string
}

// BehaviorInjectInstruction adds its instruction to the agent's, or
// replaces them when OverridesInstructions is set.
type BehaviorInjectInstruction struct {
	Type                  string `json:"type"`
	Instruction           string `json:"instruction"`
	OverridesInstructions bool   `json:"overrides_instructions"`
}

// BehaviorChangeToolCandidates adds its tool call specs to those the agent
// may call, or replaces them when OverridesExistingToolCallSpecs is set.
type BehaviorChangeToolCandidates struct {
	Type                           string             `json:"type"`
	ToolCallSpecs                  []BehaviorToolSpec `json:"tool_call_specs"`
	OverridesExistingToolCallSpecs bool               `json:"overrides_existing_tool_call_specs"`
}

func (a *BehaviorInjectInstruction) ActionType() string    { return a.Type }
func (a *BehaviorChangeToolCandidates) ActionType() string { return a.Type }

// BehaviorContent is a dynamic behavior set version's content as a request
// carries it.
type BehaviorContent struct {
	ConversationTriggers []string           `json:"conversation_triggers"`
	Actions              []BehaviorActionIn `json:"actions"`
}

// Behavior is a dynamic behavior set version's content as it is stored:
// trimmed triggers, and each action as its type.
type Behavior struct {
	ConversationTriggers []string
	Actions              []BehaviorAction
}

// Check checks the content found at loc and returns it as stored, with the
// tool call specs to resolve. Faults are added to f.
func (c BehaviorContent) Check(f *Faults, loc []any) (Behavior, []LocatedSpec) {
	triggers := make([]string, len(c.ConversationTriggers))
	for i, t := range c.ConversationTriggers {
		triggers[i] = f.Stripped(t, extend(loc, "conversation_triggers", i)...)
	}
	var specs []LocatedSpec
	actions := make([]BehaviorAction, len(c.Actions))
	for i, act := range c.Actions {
		switch act.Type {
		case ActionInjectInstruction:
			actions[i] = &BehaviorInjectInstruction{Type: act.Type, OverridesInstructions: act.OverridesInstructions,
				Instruction: f.Stripped(act.Instruction, extend(loc, "actions", i, "instruction")...)}
		case ActionChangeToolCandidates:
			field, in := "tool_call_specs", act.ToolCallSpecs
			switch {
			case in != nil && act.ToolSpecs != nil:
				f.Add(extend(loc, "actions", i, "tool_specs"), "extra_forbidden", "Give tool_call_specs or its other name tool_specs, not both")
			case in == nil && act.ToolSpecs == nil:
				f.Add(extend(loc, "actions", i, "tool_call_specs"), "missing", "Field required")
			case in == nil:
				field, in = "tool_specs", act.ToolSpecs
			}
			out := make([]BehaviorToolSpec, len(in))
			for j, spec := range in {
				sl := extend(loc, "actions", i, field, j)
				spec.AdditionalInstruction = f.Stripped(spec.AdditionalInstruction, extend(sl, "additional_instruction")...)
				spec.ToolName = f.Stripped(spec.ToolName, extend(sl, "tool_name")...)
				for k, filler := range spec.AudioFillers {
					spec.AudioFillers[k] = f.Stripped(filler, extend(sl, "audio_fillers", k)...)
				}
				spec.checkShape(f, sl)
				out[j] = spec
				specs = append(specs, LocatedSpec{Where: locString(sl), Spec: spec.ToolSpec})
			}
			actions[i] = &BehaviorChangeToolCandidates{Type: act.Type, ToolCallSpecs: out,
				OverridesExistingToolCallSpecs: act.OverridesExistingToolCallSpecs}
		}
	}
	return Behavior{ConversationTriggers: triggers, Actions: actions}, specs
}

// ParseBehavior reads a version's content as the store holds it: its
// triggers and its actions, a JSON list.
func ParseBehavior(triggers []string, actions []byte) (Behavior, error) {
	var raw []json.RawMessage
	if err := json.Unmarshal(actions, &raw); err != nil {
		return Behavior{}, fmt.Errorf("config: behavior actions: %w", err)
	}
	b := Behavior{ConversationTriggers: triggers, Actions: make([]BehaviorAction, len(raw))}
	for i, r := range raw {
		var head struct {
			Type string `json:"type"`
		}
		if err := json.Unmarshal(r, &head); err != nil {
			return Behavior{}, fmt.Errorf("config: behavior actions[%d]: %w", i, err)
		}
		var act BehaviorAction
		switch head.Type {
		case ActionInjectInstruction:
			act = &BehaviorInjectInstruction{}
		case ActionChangeToolCandidates:
			act = &BehaviorChangeToolCandidates{}
		default:
			return Behavior{}, fmt.Errorf("config: behavior actions[%d]: unknown action type %q", i, head.Type)
		}
		if err := json.Unmarshal(r, act); err != nil {
			return Behavior{}, fmt.Errorf("config: behavior actions[%d]: %w", i, err)
		}
		b.Actions[i] = act
	}
	return b, nil
}
