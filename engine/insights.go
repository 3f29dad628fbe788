package engine

import (
	"encoding/json"
	"fmt"

	"github.com/compadre-dev/compadre/store"
)

// Insights is what an interaction records of itself, shaped as
// get-interaction-insights answers.
type Insights struct {
	CurrentStateName      string          `json:"current_state_name"`
	CurrentStateAction    string          `json:"current_state_action"`
	CurrentStateObjective string          `json:"current_state_objective"`
	StateTransitionLogs   []TransitionLog `json:"state_transition_logs"`
	WorkingMemory         []WorkingMemory `json:"working_memory"`
	// Reflections are the texts of the inner thoughts a reflection state
	// produced.
	Reflections                            []string        `json:"reflections"`
	TriggeredDynamicBehaviorSetVersionInfo *VersionInfo    `json:"triggered_dynamic_behavior_set_version_info"`
	SelectNextActionToolCallLogs           [][]ToolCallLog `json:"select_next_action_tool_call_logs"`
	EngageUserToolCallLogs                 [][]ToolCallLog `json:"engage_user_tool_call_logs"`
}

// TransitionLog is one state left during the interaction; Type is the
// kind of the state left ("jumpback" for a return from a referenced
// graph), and the pointer fields are those that kind carries.
type TransitionLog struct {
	Type                                  string          `json:"type"`
	PreviousState                         string          `json:"previous_state"`
	PreviousVersionInfo                   VersionInfo     `json:"previous_service_hierarchical_state_machine_version_info"`
	NextState                             string          `json:"next_state"`
	NextVersionInfo                       VersionInfo     `json:"next_service_hierarchical_state_machine_version_info"`
	PreviousStateExitConditionDescription *string         `json:"previous_state_exit_condition_description,omitempty"`
	ToolCallLogs                          [][]ToolCallLog `json:"tool_call_logs,omitempty"`
	PerformedQueries                      []string        `json:"performed_queries,omitempty"`
	InnerThoughtMessageID                 *string         `json:"inner_thought_message_id,omitempty"`
	DesignatedToolCallLog                 *ToolCallLog    `json:"designated_tool_call_log,omitempty"`
}

// MarshalJSON writes the list fields a kind requires even when empty,
// which omitempty alone would drop.
func (l TransitionLog) MarshalJSON() ([]byte, error) {
	type plain TransitionLog
	m := map[string]any{}
	b, err := json.Marshal(plain(l))
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	switch l.Type {
	case "action", "decision", "reflection", "tool-call":
		if l.ToolCallLogs == nil {
			m["tool_call_logs"] = [][]ToolCallLog{}
		}
	case "recall":
		if l.PerformedQueries == nil {
			m["performed_queries"] = []string{}
		}
	}
	return json.Marshal(m)
}

// WorkingMemory is one thing the agent recalled, and the query that
// recalled it.
type WorkingMemory struct {
	Content string `json:"content"`
	Context string `json:"context"`
}

// ToolCallLog is one tool call. Output is null when the tool's result
// persistence did not keep it.
type ToolCallLog struct {
	ToolName    string         `json:"tool_name"`
	ToolID      string         `json:"tool_id"`
	ToolVersion string         `json:"tool_version"`
	Input       map[string]any `json:"input"`
	Output      *string        `json:"output"`
	Duration    float64        `json:"duration"`
}

// ReadInsights reads an interaction's stored record.
func ReadInsights(in store.Interaction) (Insights, error) {
	var out Insights
	if err := json.Unmarshal(in.Insights, &out); err != nil {
		return Insights{}, fmt.Errorf("engine: insights of interaction %s: %w", in.ID, err)
	}
	return out, nil
}
