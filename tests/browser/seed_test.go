package browser_test

// Builders of the configuration the tests seed: the API's bodies are
// long, and each test needs only a few of their values to differ.

// agentVersion is a complete first version of an agent named Amy.
func agentVersion() map[string]any {
	return map[string]any{
		"initials": "AM",
		"identity": map[string]any{
			"name": "Amy", "role": "Support agent", "developed_by": "Example Inc.", "default_spoken_language": "eng",
			"relationship_to_developer": map[string]any{"ownership": "Example Inc.", "type": "assistant",
				"conversation_visibility": "visible", "thought_visibility": "hidden"},
		},
		"background": "Amy helps customers.", "behaviors": []any{"Be polite."},
		"communication_patterns": []any{"Short sentences."}, "voice_config": map[string]any{"voice_id": "voice-1"},
	}
}

// exitTo is an exit condition of a state.
func exitTo(desc, next string) map[string]any {
	return map[string]any{"description": desc, "next_state": next}
}

// actionState is an action state of a context graph doing act, leaving by
// exits (exitTo).
func actionState(name, act string, exits ...map[string]any) map[string]any {
	ecs := []any{}
	for _, e := range exits {
		ecs = append(ecs, e)
	}
	return map[string]any{
		"type": "action", "name": name, "objective": "Objective of " + name, "actions": []any{act},
		"intra_state_navigation_guidelines": []any{}, "action_guidelines": []any{}, "boundary_constraints": []any{},
		"exit_conditions": ecs, "action_tool_call_specs": []any{}, "exit_condition_tool_call_specs": []any{},
		"skip_active_memory_retrieval": false,
	}
}
