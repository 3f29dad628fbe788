package engine

// The agent actions the engine reports, named and shaped as the
// reference's CurrentAgentActionEvent leaves. Version infos are
// [state machine ID, version] pairs.

// VersionInfo is a [id, version] pair.
type VersionInfo [2]any

func versionInfo(g graphKey) VersionInfo { return VersionInfo{g.ID, g.Version} }

type SelectDynamicBehaviorCompleted struct {
	Type                                      string       `json:"type"`
	SelectedDynamicBehaviorSetVersionInfo     *VersionInfo `json:"selected_dynamic_behavior_set_version_info"`
	PreviousSelectedDynamicBehaviorSetVersion *VersionInfo `json:"previous_selected_dynamic_behavior_set_version_info"`
}

// DynamicBehaviorOverride says a dynamic behavior's instructions and tools
// are merged with the state's, and whether they replace the state's own.
type DynamicBehaviorOverride struct {
	Type                     string `json:"type"`
	OverridingInstructions   bool   `json:"overriding_instructions"`
	OverridingToolCandidates bool   `json:"overriding_tool_candidates"`
}

type ActionSelected struct {
	Type   string `json:"type"`
	Action string `json:"action"`
}

type DecisionStarted struct {
	Type string `json:"type"`
}

type ExitConditionSelected struct {
	Type                             string      `json:"type"`
	ExitCondition                    string      `json:"exit_condition"`
	NextStateStateMachineVersionInfo VersionInfo `json:"next_state_state_machine_version_info"`
	NextStateName                    string      `json:"next_state_name"`
}

type RecallDynamicQueriesGenerated struct {
	Type                 string   `json:"type"`
	DynamicQueries       []string `json:"dynamic_queries"`
	RequestedInformation string   `json:"requested_information"`
}

type RecallStaticQueriesRetrieved struct {
	Type          string   `json:"type"`
	StaticQueries []string `json:"static_queries"`
}

type RecallActiveMemoryRetrieved struct {
	Type                string      `json:"type"`
	QueriesAndResponses [][2]string `json:"queries_and_responses"`
}

type ReflectionPromptRetrieved struct {
	Type   string `json:"type"`
	Prompt string `json:"prompt"`
}

type ReflectionGenerated struct {
	Type       string `json:"type"`
	Reflection string `json:"reflection"`
}

type AnnotationRetrieved struct {
	Type       string `json:"type"`
	Annotation string `json:"annotation"`
}

type StateTransitioned struct {
	Type                             string      `json:"type"`
	PrevState                        string      `json:"prev_state"`
	PrevStateStateMachineVersionInfo VersionInfo `json:"prev_state_state_machine_version_info"`
	NextState                        string      `json:"next_state"`
	NextStateStateMachineVersionInfo VersionInfo `json:"next_state_state_machine_version_info"`
}

type DesignatedToolRetrieved struct {
	Type        string `json:"type"`
	ToolID      string `json:"tool_id"`
	ToolVersion string `json:"tool_version"`
}

type DesignatedToolCallParamsGenerated struct {
	Type           string         `json:"type"`
	ToolID         string         `json:"tool_id"`
	ToolVersion    string         `json:"tool_version"`
	ToolCallParams map[string]any `json:"tool_call_params"`
}

type ToolOutputAvailable struct {
	Type           string         `json:"type"`
	ToolID         string         `json:"tool_id"`
	ToolVersion    string         `json:"tool_version"`
	ToolOutput     string         `json:"tool_output"`
	Duration       float64        `json:"duration"`
	InputArguments map[string]any `json:"input_arguments"`
}

type ToolCallStarted struct {
	Type           string         `json:"type"`
	ToolRoundIndex int            `json:"tool_round_index"`
	ToolID         string         `json:"tool_id"`
	ToolVersion    string         `json:"tool_version"`
	InputParams    map[string]any `json:"input_params"`
}

type ToolCallEnded struct {
	Type            string         `json:"type"`
	ToolRoundIndex  int            `json:"tool_round_index"`
	ToolID          string         `json:"tool_id"`
	ToolVersion     string         `json:"tool_version"`
	InputParameters map[string]any `json:"input_parameters"`
	Result          string         `json:"result"`
	Duration        float64        `json:"duration"`
}

type ActionTooLong struct {
	Type                   string `json:"type"`
	Filler                 string `json:"filler"`
	PreviouslyStartedEvent any    `json:"previously_started_event"`
}

type MessageFragmentGenerated struct {
	Type     string `json:"type"`
	Index    int    `json:"index"`
	Fragment string `json:"fragment"`
	IsFinal  bool   `json:"is_final"`
}

func (a SelectDynamicBehaviorCompleted) ActionType() string    { return a.Type }
func (a DynamicBehaviorOverride) ActionType() string           { return a.Type }
func (a ActionSelected) ActionType() string                    { return a.Type }
func (a DecisionStarted) ActionType() string                   { return a.Type }
func (a ExitConditionSelected) ActionType() string             { return a.Type }
func (a RecallDynamicQueriesGenerated) ActionType() string     { return a.Type }
func (a RecallStaticQueriesRetrieved) ActionType() string      { return a.Type }
func (a RecallActiveMemoryRetrieved) ActionType() string       { return a.Type }
func (a ReflectionPromptRetrieved) ActionType() string         { return a.Type }
func (a ReflectionGenerated) ActionType() string               { return a.Type }
func (a AnnotationRetrieved) ActionType() string               { return a.Type }
func (a StateTransitioned) ActionType() string                 { return a.Type }
func (a DesignatedToolRetrieved) ActionType() string           { return a.Type }
func (a DesignatedToolCallParamsGenerated) ActionType() string { return a.Type }
func (a ToolOutputAvailable) ActionType() string               { return a.Type }
func (a ToolCallStarted) ActionType() string                   { return a.Type }
func (a ToolCallEnded) ActionType() string                     { return a.Type }
func (a ActionTooLong) ActionType() string                     { return a.Type }
func (a MessageFragmentGenerated) ActionType() string          { return a.Type }
