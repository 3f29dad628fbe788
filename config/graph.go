package config

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"

	"github.com/compadre-dev/compadre/ssml"
)

// A context graph (service hierarchical state machine version) is checked
// in two passes. CheckGraph looks at the version alone: the shape of every
// state, the SSML of every audio filler, and that every state a field names
// exists in the same version; its faults (Invalid) are located in the body.
// Only a graph that passes is resolved against other records (tools,
// referenced state machines: ResolveToolSpecs, UnknownExternalStates),
// whose problems are Unresolved.

// stateNamePattern is what state and reference names may look like; a
// reference name is checked here rather than by the document so the fault
// is located at the name.
var stateNamePattern = regexp.MustCompile(`^[A-Za-z0-9_]+$`)

// NextState is where a transition leads: a state of this graph (State), or
// a state of a referenced graph (External, "reference.state") followed, once
// that graph ends, by State of this one.
type NextState struct {
	State    string
	External string
}

func (n *NextState) UnmarshalJSON(b []byte) error {
	if bytes.HasPrefix(bytes.TrimSpace(b), []byte(`"`)) {
		return json.Unmarshal(b, &n.State)
	}
	var pair [2]string
	if err := json.Unmarshal(b, &pair); err != nil {
		return err
	}
	n.External, n.State = pair[0], pair[1]
	return nil
}

func (n NextState) MarshalJSON() ([]byte, error) {
	if n.External == "" {
		return json.Marshal(n.State)
	}
	return json.Marshal([2]string{n.External, n.State})
}

// GraphRef is an entry of a version's references: another state machine and
// one of its versions, written as a [id, version] pair.
type GraphRef struct {
	ID      string
	Version int
}

func (g *GraphRef) UnmarshalJSON(b []byte) error {
	var pair [2]json.RawMessage
	if err := json.Unmarshal(b, &pair); err != nil {
		return err
	}
	if err := json.Unmarshal(pair[0], &g.ID); err != nil {
		return err
	}
	return json.Unmarshal(pair[1], &g.Version)
}

func (g GraphRef) MarshalJSON() ([]byte, error) { return json.Marshal([2]any{g.ID, g.Version}) }

// Graph is a context graph version as the API carries it and as the store
// keeps it. States stay raw here because each kind of state has its own
// shape, and so that a stored version is returned as it was written;
// Decode and State read them as their kinds.
type Graph struct {
	Description                          string              `json:"description"`
	States                               []json.RawMessage   `json:"states"`
	NewUserInitialState                  string              `json:"new_user_initial_state"`
	ReturningUserInitialState            string              `json:"returning_user_initial_state"`
	TerminalState                        string              `json:"terminal_state"`
	References                           map[string]GraphRef `json:"references"`
	GlobalIntraStateNavigationGuidelines []string            `json:"global_intra_state_navigation_guidelines"`
	GlobalActionGuidelines               []string            `json:"global_action_guidelines"`
	GlobalBoundaryConstraints            []string            `json:"global_boundary_constraints"`
}

// ExitCondition is a way out of an action or decision state.
type ExitCondition struct {
	Description string    `json:"description"`
	NextState   NextState `json:"next_state"`
}

// ActionState, DecisionState, RecallState, AnnotationState,
// ReflectionState and ToolCallState are the six kinds of state, each told
// by its Type field.
type ActionState struct {
	Type                           string          `json:"type"`
	Name                           string          `json:"name"`
	Objective                      string          `json:"objective"`
	Actions                        []string        `json:"actions"`
	IntraStateNavigationGuidelines []string        `json:"intra_state_navigation_guidelines"`
	ActionGuidelines               []string        `json:"action_guidelines"`
	BoundaryConstraints            []string        `json:"boundary_constraints"`
	ExitConditions                 []ExitCondition `json:"exit_conditions"`
	ActionToolCallSpecs            []ToolSpec      `json:"action_tool_call_specs"`
	ExitConditionToolCallSpecs     []ToolSpec      `json:"exit_condition_tool_call_specs"`
	SkipActiveMemoryRetrieval      bool            `json:"skip_active_memory_retrieval"`
}

type DecisionState struct {
	Type                      string          `json:"type"`
	Name                      string          `json:"name"`
	ExitConditions            []ExitCondition `json:"exit_conditions"`
	DecisionGuidelines        []string        `json:"decision_guidelines"`
	Objective                 string          `json:"objective"`
	ToolCallSpecs             []ToolSpec      `json:"tool_call_specs"`
	AudioFillers              []string        `json:"audio_fillers"`
	AudioFillerTriggeredAfter float64         `json:"audio_filler_triggered_after"`
}

// RecallState has exactly one of Queries and RequestedInformation; both are
// written out, the other as null.
type RecallState struct {
	Type                 string    `json:"type"`
	Name                 string    `json:"name"`
	Queries              []string  `json:"queries"`
	RequestedInformation *string   `json:"requested_information"`
	NextState            NextState `json:"next_state"`
}

type AnnotationState struct {
	Type         string    `json:"type"`
	Name         string    `json:"name"`
	InnerThought string    `json:"inner_thought"`
	NextState    NextState `json:"next_state"`
}

type ReflectionState struct {
	Type                      string     `json:"type"`
	Name                      string     `json:"name"`
	Problem                   string     `json:"problem"`
	WordLimit                 int        `json:"word_limit"`
	NextState                 NextState  `json:"next_state"`
	ToolCallSpecs             []ToolSpec `json:"tool_call_specs"`
	AudioFillers              []string   `json:"audio_fillers"`
	AudioFillerTriggeredAfter float64    `json:"audio_filler_triggered_after"`
}

type ToolCallState struct {
	Type                                                        string     `json:"type"`
	Name                                                        string     `json:"name"`
	NextState                                                   NextState  `json:"next_state"`
	DesignatedTool                                              ToolSpec   `json:"designated_tool"`
	DesignatedToolCallParamsGenerationAudioFillers              []string   `json:"designated_tool_call_params_generation_audio_fillers"`
	DesignatedToolCallParamsGenerationAudioFillerTriggeredAfter float64    `json:"designated_tool_call_params_generation_audio_filler_triggered_after"`
	DesignatedToolCallObjective                                 string     `json:"designated_tool_call_objective"`
	DesignatedToolCallContext                                   string     `json:"designated_tool_call_context"`
	DesignatedToolCallGuidances                                 []string   `json:"designated_tool_call_guidances"`
	DesignatedToolCallValidations                               []string   `json:"designated_tool_call_validations"`
	ToolCallSpecs                                               []ToolSpec `json:"tool_call_specs"`
}

// transition is one outgoing edge of a state; at is its location relative
// to the state.
type transition struct {
	at   []any
	next NextState
}

// stateSpec is a tool call spec of a state; at is its location relative to
// the state.
type stateSpec struct {
	at   []any
	spec ToolSpec
}

// State is one state of any kind: *ActionState, *DecisionState,
// *RecallState, *AnnotationState, *ReflectionState or *ToolCallState.
// check cleans its texts and reports the faults it has on its own, located
// under loc.
type State interface {
	StateName() string
	// Kind is the state's type field, one of the Kind constants.
	Kind() string
	check(c *graphCheck, loc []any)
	transitions() []transition
	specs() []stateSpec
}

func (s *ActionState) StateName() string     { return s.Name }
func (s *DecisionState) StateName() string   { return s.Name }
func (s *RecallState) StateName() string     { return s.Name }
func (s *AnnotationState) StateName() string { return s.Name }
func (s *ReflectionState) StateName() string { return s.Name }
func (s *ToolCallState) StateName() string   { return s.Name }

func (s *ActionState) Kind() string     { return s.Type }
func (s *DecisionState) Kind() string   { return s.Type }
func (s *RecallState) Kind() string     { return s.Type }
func (s *AnnotationState) Kind() string { return s.Type }
func (s *ReflectionState) Kind() string { return s.Type }
func (s *ToolCallState) Kind() string   { return s.Type }

func (s *ActionState) check(c *graphCheck, loc []any) {
	c.text(&s.Objective, loc, "objective")
	c.texts(s.Actions, loc, "actions")
	c.texts(s.IntraStateNavigationGuidelines, loc, "intra_state_navigation_guidelines")
	c.texts(s.ActionGuidelines, loc, "action_guidelines")
	c.texts(s.BoundaryConstraints, loc, "boundary_constraints")
	c.exitConditions(s.ExitConditions, loc)
	c.specs(s.ActionToolCallSpecs, loc, "action_tool_call_specs")
	c.specs(s.ExitConditionToolCallSpecs, loc, "exit_condition_tool_call_specs")
}

func (s *DecisionState) check(c *graphCheck, loc []any) {
	c.exitConditions(s.ExitConditions, loc)
	c.texts(s.DecisionGuidelines, loc, "decision_guidelines")
	c.text(&s.Objective, loc, "objective")
	c.specs(s.ToolCallSpecs, loc, "tool_call_specs")
	c.fillers(s.AudioFillers, loc, "audio_fillers")
}

func (s *RecallState) check(c *graphCheck, loc []any) {
	if s.RequestedInformation != nil {
		c.text(s.RequestedInformation, loc, "requested_information")
	}
	if (s.Queries == nil) == (s.RequestedInformation == nil) {
		c.Add(extend(loc, "queries"), "value_error",
			"A recall state sets exactly one of queries and requested_information; the other must be null")
	}
	c.texts(s.Queries, loc, "queries")
}

func (s *AnnotationState) check(c *graphCheck, loc []any) {
	c.text(&s.InnerThought, loc, "inner_thought")
}

func (s *ReflectionState) check(c *graphCheck, loc []any) {
	c.text(&s.Problem, loc, "problem")
	c.specs(s.ToolCallSpecs, loc, "tool_call_specs")
	c.fillers(s.AudioFillers, loc, "audio_fillers")
}

func (s *ToolCallState) check(c *graphCheck, loc []any) {
	c.spec(&s.DesignatedTool, extend(loc, "designated_tool"))
	if p := s.DesignatedTool.ResultPersistence; p != nil && *p != PersistPersisted && slices.Contains(ResultPersistences, *p) {
		c.Add(extend(loc, "designated_tool", "result_persistence"), "value_error", fmt.Sprintf(
			"The designated tool of a tool-call state must use result_persistence %q, not %q: the states after it rely on its result",
			PersistPersisted, *p))
	}
	c.fillers(s.DesignatedToolCallParamsGenerationAudioFillers, loc, "designated_tool_call_params_generation_audio_fillers")
	c.text(&s.DesignatedToolCallObjective, loc, "designated_tool_call_objective")
	c.text(&s.DesignatedToolCallContext, loc, "designated_tool_call_context")
	c.texts(s.DesignatedToolCallGuidances, loc, "designated_tool_call_guidances")
	c.texts(s.DesignatedToolCallValidations, loc, "designated_tool_call_validations")
	c.specs(s.ToolCallSpecs, loc, "tool_call_specs")
}

func exitTransitions(ecs []ExitCondition) []transition {
	out := make([]transition, len(ecs))
	for i, ec := range ecs {
		out[i] = transition{at: []any{"exit_conditions", i, "next_state"}, next: ec.NextState}
	}
	return out
}

func singleTransition(n NextState) []transition {
	return []transition{{at: []any{"next_state"}, next: n}}
}

func (s *ActionState) transitions() []transition     { return exitTransitions(s.ExitConditions) }
func (s *DecisionState) transitions() []transition   { return exitTransitions(s.ExitConditions) }
func (s *RecallState) transitions() []transition     { return singleTransition(s.NextState) }
func (s *AnnotationState) transitions() []transition { return singleTransition(s.NextState) }
func (s *ReflectionState) transitions() []transition { return singleTransition(s.NextState) }
func (s *ToolCallState) transitions() []transition   { return singleTransition(s.NextState) }

func listedSpecs(field string, specs []ToolSpec) []stateSpec {
	out := make([]stateSpec, len(specs))
	for i, sp := range specs {
		out[i] = stateSpec{at: []any{field, i}, spec: sp}
	}
	return out
}

func (s *ActionState) specs() []stateSpec {
	return append(listedSpecs("action_tool_call_specs", s.ActionToolCallSpecs),
		listedSpecs("exit_condition_tool_call_specs", s.ExitConditionToolCallSpecs)...)
}
func (s *DecisionState) specs() []stateSpec {
	return listedSpecs("tool_call_specs", s.ToolCallSpecs)
}
func (s *RecallState) specs() []stateSpec     { return nil }
func (s *AnnotationState) specs() []stateSpec { return nil }
func (s *ReflectionState) specs() []stateSpec {
	return listedSpecs("tool_call_specs", s.ToolCallSpecs)
}
func (s *ToolCallState) specs() []stateSpec {
	return append([]stateSpec{{at: []any{"designated_tool"}, spec: s.DesignatedTool}},
		listedSpecs("tool_call_specs", s.ToolCallSpecs)...)
}

// The kinds of state, as a state's type field names them.
const (
	KindAction     = "action"
	KindDecision   = "decision"
	KindRecall     = "recall"
	KindAnnotation = "annotation"
	KindReflection = "reflection"
	KindToolCall   = "tool-call"
)

// newState picks the Go type of a state by its type field, or nil for a
// type that is none of the kinds.
func newState(kind string) State {
	switch kind {
	case KindAction:
		return &ActionState{}
	case KindDecision:
		return &DecisionState{}
	case KindRecall:
		return &RecallState{}
	case KindAnnotation:
		return &AnnotationState{}
	case KindReflection:
		return &ReflectionState{}
	case KindToolCall:
		return &ToolCallState{}
	}
	return nil
}

// graphCheck collects the faults of a version, so one answer lists all.
type graphCheck struct{ Faults }

// text trims *s in place and reports it if nothing is left.
func (c *graphCheck) text(s *string, loc []any, more ...any) {
	*s = c.Stripped(*s, extend(loc, more...)...)
}

func (c *graphCheck) texts(ss []string, loc []any, field string) {
	for i := range ss {
		c.text(&ss[i], loc, field, i)
	}
}

func (c *graphCheck) fillers(ss []string, loc []any, field string) {
	for i := range ss {
		n := len(c.Faults)
		c.text(&ss[i], loc, field, i)
		if len(c.Faults) > n {
			continue
		}
		if err := ssml.CheckFiller(ss[i]); err != nil {
			c.Add(extend(loc, field, i), "value_error", "Invalid audio filler "+err.Error(), ss[i])
		}
	}
}

// spec cleans a tool call spec's texts, then lets the spec check itself
// (result persistence, version constraint, audio fillers).
func (c *graphCheck) spec(sp *ToolSpec, loc []any) {
	c.text(&sp.AdditionalInstruction, loc, "additional_instruction")
	for i := range sp.AudioFillers {
		c.text(&sp.AudioFillers[i], loc, "audio_fillers", i)
	}
	sp.checkShape(&c.Faults, loc)
}

func (c *graphCheck) specs(sps []ToolSpec, loc []any, field string) {
	for i := range sps {
		c.spec(&sps[i], extend(loc, field, i))
	}
}

func (c *graphCheck) exitConditions(ecs []ExitCondition, loc []any) {
	for i := range ecs {
		c.text(&ecs[i].Description, loc, "exit_conditions", i, "description")
	}
}

// ExternalTarget is a state of a referenced graph that a transition leads
// to, for resolving once the version's own shape is sound: Where names the
// transition, Ref the reference and State the state.
type ExternalTarget struct {
	Where string
	Ref   string
	State string
}

// CheckedGraph is a version that passed CheckGraph: its content with states
// cleaned, and what it points at outside itself.
type CheckedGraph struct {
	Graph    Graph
	Specs    []LocatedSpec
	External []ExternalTarget
}

// CheckGraph checks a version on its own and returns it cleaned for
// storing, or an *Invalid listing every fault.
func CheckGraph(g Graph) (CheckedGraph, error) {
	c := &graphCheck{}
	body := []any{"body"}
	c.text(&g.Description, body, "description")
	c.texts(g.GlobalIntraStateNavigationGuidelines, body, "global_intra_state_navigation_guidelines")
	c.texts(g.GlobalActionGuidelines, body, "global_action_guidelines")
	c.texts(g.GlobalBoundaryConstraints, body, "global_boundary_constraints")

	for _, name := range slices.Sorted(maps.Keys(g.References)) {
		if !stateNamePattern.MatchString(name) {
			c.Add(extend(body, "references", name), "string_pattern_mismatch",
				fmt.Sprintf("Reference name %q may use only letters, digits and underscores", name))
		}
	}

	states := make([]State, len(g.States))
	byName := map[string]int{}
	for i, raw := range g.States {
		loc := extend(body, "states", i)
		var head struct {
			Type string `json:"type"`
		}
		_ = json.Unmarshal(raw, &head)
		st := newState(head.Type)
		if st == nil {
			c.Add(extend(loc, "type"), "union_tag_invalid", fmt.Sprintf("Unknown state type %q", head.Type))
			continue
		}
		if err := json.Unmarshal(raw, st); err != nil {
			c.Faults = append(c.Faults, DecodeFault(err, loc...))
			continue
		}
		states[i] = st
		st.check(c, loc)
		if j, dup := byName[st.StateName()]; dup {
			c.Add(extend(loc, "name"), "value_error", fmt.Sprintf("State name %q is already used by states[%d]", st.StateName(), j))
			continue
		}
		byName[st.StateName()] = i
	}

	// lookup returns the state named name, or nil after reporting it at loc.
	lookup := func(name string, loc []any) State {
		i, ok := byName[name]
		if !ok {
			c.Add(loc, "value_error", fmt.Sprintf("State %q does not exist in this version", name))
			return nil
		}
		return states[i]
	}
	for _, f := range []struct {
		field, name string
	}{
		{"new_user_initial_state", g.NewUserInitialState},
		{"returning_user_initial_state", g.ReturningUserInitialState},
		{"terminal_state", g.TerminalState},
	} {
		st := lookup(f.name, extend(body, f.field))
		if st != nil && st.Kind() != KindAction {
			c.Add(extend(body, f.field), "value_error", fmt.Sprintf("%s must be an action state; %q is a %s state", f.field, f.name, st.Kind()))
		}
	}
	if i, ok := byName[g.TerminalState]; ok {
		if t, isAction := states[i].(*ActionState); isAction {
			if len(t.ExitConditions) > 0 {
				c.Add(extend(body, "states", i, "exit_conditions"), "value_error",
					fmt.Sprintf("The terminal state %q cannot have exit conditions", t.Name))
			}
			if len(t.Actions) != 1 {
				c.Add(extend(body, "states", i, "actions"), "value_error",
					fmt.Sprintf("The terminal state %q must have exactly one action; it has %d", t.Name, len(t.Actions)))
			}
		}
	}

	var out CheckedGraph
	for i, st := range states {
		if st == nil {
			continue
		}
		loc := extend(body, "states", i)
		where := fmt.Sprintf("states[%d] (%s)", i, st.StateName())
		for _, tr := range st.transitions() {
			tloc := extend(loc, tr.at...)
			if tr.next.External == "" {
				if tr.next.State == st.StateName() {
					c.Add(tloc, "value_error", fmt.Sprintf("State %q cannot graphTransition to itself", st.StateName()))
					continue
				}
				lookup(tr.next.State, tloc)
				continue
			}
			ref, extState, _ := strings.Cut(tr.next.External, ".")
			if _, ok := g.References[ref]; !ok {
				c.Add(extend(tloc, 0), "value_error", fmt.Sprintf("Reference %q is not listed in references", ref))
			} else {
				out.External = append(out.External, ExternalTarget{Where: where + "." + locString(tr.at), Ref: ref, State: extState})
			}
			lookup(tr.next.State, extend(tloc, 1))
		}
		for _, sp := range st.specs() {
			out.Specs = append(out.Specs, LocatedSpec{Where: where + "." + locString(sp.at), Spec: sp.spec})
		}
	}
	if err := c.Err(); err != nil {
		return CheckedGraph{}, err
	}
	for i, st := range states {
		b, err := json.Marshal(st)
		if err != nil {
			return CheckedGraph{}, err
		}
		g.States[i] = b
	}
	if g.References == nil {
		g.References = map[string]GraphRef{}
	}
	out.Graph = g
	return out, nil
}

// ParseGraph reads a version as the store holds it. It does not check it:
// only versions CheckGraph passed are stored.
func ParseGraph(body []byte) (Graph, error) {
	var g Graph
	if err := json.Unmarshal(body, &g); err != nil {
		return Graph{}, fmt.Errorf("config: context graph: %w", err)
	}
	return g, nil
}

// Decode reads every state as its kind, in the version's order.
func (g Graph) Decode() ([]State, error) {
	out := make([]State, len(g.States))
	for i, raw := range g.States {
		st, err := decodeState(raw)
		if err != nil {
			return nil, fmt.Errorf("config: states[%d]: %w", i, err)
		}
		out[i] = st
	}
	return out, nil
}

// State reads the state named name as its kind; ok is false if the
// version has no such state.
func (g Graph) State(name string) (st State, ok bool, err error) {
	for i, raw := range g.States {
		var head struct {
			Name string `json:"name"`
		}
		if err := json.Unmarshal(raw, &head); err != nil {
			return nil, false, fmt.Errorf("config: states[%d]: %w", i, err)
		}
		if head.Name != name {
			continue
		}
		st, err := decodeState(raw)
		if err != nil {
			return nil, false, fmt.Errorf("config: state %q: %w", name, err)
		}
		return st, true, nil
	}
	return nil, false, nil
}

// StateNames lists the names of the version's states, reading nothing else
// of them.
func (g Graph) StateNames() ([]string, error) {
	names := make([]string, len(g.States))
	for i, raw := range g.States {
		var head struct {
			Name string `json:"name"`
		}
		if err := json.Unmarshal(raw, &head); err != nil {
			return nil, fmt.Errorf("config: states[%d]: %w", i, err)
		}
		names[i] = head.Name
	}
	return names, nil
}

func decodeState(raw json.RawMessage) (State, error) {
	var head struct {
		Type string `json:"type"`
	}
	if err := json.Unmarshal(raw, &head); err != nil {
		return nil, err
	}
	st := newState(head.Type)
	if st == nil {
		return nil, fmt.Errorf("unknown state type %q", head.Type)
	}
	if err := json.Unmarshal(raw, st); err != nil {
		return nil, err
	}
	return st, nil
}

// UnknownExternalStates lists, as sentences, the transitions of g that lead
// to a state its referenced version does not have. states holds the state
// names of each reference that resolved; a reference missing from it was
// reported as unresolved already and is skipped.
func (g CheckedGraph) UnknownExternalStates(states map[string][]string) []string {
	var problems []string
	for _, ext := range g.External {
		have, resolved := states[ext.Ref]
		if resolved && !slices.Contains(have, ext.State) {
			ref := g.Graph.References[ext.Ref]
			problems = append(problems, fmt.Sprintf("%s: version %d of state machine %s (reference %q) has no state %q",
				ext.Where, ref.Version, ref.ID, ext.Ref, ext.State))
		}
	}
	return problems
}
