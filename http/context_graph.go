package httpapi

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
// in two passes. checkGraph looks at the request alone: the shape of every
// state, the SSML of every audio filler, and that every state a field names
// exists in the same version; faults are 422s located in the body. Only a
// graph that passes is resolved against other records (tools, referenced
// state machines), whose faults are 400s.

// stateNamePattern is what state and reference names may look like; a
// reference name is checked here rather than by the document so the fault
// is located at the name.
var stateNamePattern = regexp.MustCompile(`^[A-Za-z0-9_]+$`)

// graphNextState is where a transition leads: a state of this graph (State), or
// a state of a referenced graph (External, "reference.state") followed, once
// that graph ends, by State of this one.
type graphNextState struct {
	State    string
	External string
}

func (n *graphNextState) UnmarshalJSON(b []byte) error {
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

func (n graphNextState) MarshalJSON() ([]byte, error) {
	if n.External == "" {
		return json.Marshal(n.State)
	}
	return json.Marshal([2]string{n.External, n.State})
}

// graphRef is an entry of a version's references: another state machine and
// one of its versions, written as a [id, version] pair.
type graphRef struct {
	ID      string
	Version int
}

func (g *graphRef) UnmarshalJSON(b []byte) error {
	var pair [2]json.RawMessage
	if err := json.Unmarshal(b, &pair); err != nil {
		return err
	}
	if err := json.Unmarshal(pair[0], &g.ID); err != nil {
		return err
	}
	return json.Unmarshal(pair[1], &g.Version)
}

func (g graphRef) MarshalJSON() ([]byte, error) { return json.Marshal([2]any{g.ID, g.Version}) }

// graphContent is a version as the request carries it and as it is stored:
// states stay raw here because each kind of state has its own shape.
type graphContent struct {
	Description                          string              `json:"description"`
	States                               []json.RawMessage   `json:"states"`
	NewUserInitialState                  string              `json:"new_user_initial_state"`
	ReturningUserInitialState            string              `json:"returning_user_initial_state"`
	TerminalState                        string              `json:"terminal_state"`
	References                           map[string]graphRef `json:"references"`
	GlobalIntraStateNavigationGuidelines []string            `json:"global_intra_state_navigation_guidelines"`
	GlobalActionGuidelines               []string            `json:"global_action_guidelines"`
	GlobalBoundaryConstraints            []string            `json:"global_boundary_constraints"`
}

type graphExitCondition struct {
	Description string         `json:"description"`
	NextState   graphNextState `json:"next_state"`
}

type actionState struct {
	Type                           string               `json:"type"`
	Name                           string               `json:"name"`
	Objective                      string               `json:"objective"`
	Actions                        []string             `json:"actions"`
	IntraStateNavigationGuidelines []string             `json:"intra_state_navigation_guidelines"`
	ActionGuidelines               []string             `json:"action_guidelines"`
	BoundaryConstraints            []string             `json:"boundary_constraints"`
	ExitConditions                 []graphExitCondition `json:"exit_conditions"`
	ActionToolCallSpecs            []toolSpec           `json:"action_tool_call_specs"`
	ExitConditionToolCallSpecs     []toolSpec           `json:"exit_condition_tool_call_specs"`
	SkipActiveMemoryRetrieval      bool                 `json:"skip_active_memory_retrieval"`
}

type decisionState struct {
	Type                      string               `json:"type"`
	Name                      string               `json:"name"`
	ExitConditions            []graphExitCondition `json:"exit_conditions"`
	DecisionGuidelines        []string             `json:"decision_guidelines"`
	Objective                 string               `json:"objective"`
	ToolCallSpecs             []toolSpec           `json:"tool_call_specs"`
	AudioFillers              []string             `json:"audio_fillers"`
	AudioFillerTriggeredAfter float64              `json:"audio_filler_triggered_after"`
}

// recallState has exactly one of Queries and RequestedInformation; both are
// written out, the other as null.
type recallState struct {
	Type                 string         `json:"type"`
	Name                 string         `json:"name"`
	Queries              []string       `json:"queries"`
	RequestedInformation *string        `json:"requested_information"`
	NextState            graphNextState `json:"next_state"`
}

type annotationState struct {
	Type         string         `json:"type"`
	Name         string         `json:"name"`
	InnerThought string         `json:"inner_thought"`
	NextState    graphNextState `json:"next_state"`
}

type reflectionState struct {
	Type                      string         `json:"type"`
	Name                      string         `json:"name"`
	Problem                   string         `json:"problem"`
	WordLimit                 int            `json:"word_limit"`
	NextState                 graphNextState `json:"next_state"`
	ToolCallSpecs             []toolSpec     `json:"tool_call_specs"`
	AudioFillers              []string       `json:"audio_fillers"`
	AudioFillerTriggeredAfter float64        `json:"audio_filler_triggered_after"`
}

type toolCallState struct {
	Type                                                        string         `json:"type"`
	Name                                                        string         `json:"name"`
	NextState                                                   graphNextState `json:"next_state"`
	DesignatedTool                                              toolSpec       `json:"designated_tool"`
	DesignatedToolCallParamsGenerationAudioFillers              []string       `json:"designated_tool_call_params_generation_audio_fillers"`
	DesignatedToolCallParamsGenerationAudioFillerTriggeredAfter float64        `json:"designated_tool_call_params_generation_audio_filler_triggered_after"`
	DesignatedToolCallObjective                                 string         `json:"designated_tool_call_objective"`
	DesignatedToolCallContext                                   string         `json:"designated_tool_call_context"`
	DesignatedToolCallGuidances                                 []string       `json:"designated_tool_call_guidances"`
	DesignatedToolCallValidations                               []string       `json:"designated_tool_call_validations"`
	ToolCallSpecs                                               []toolSpec     `json:"tool_call_specs"`
}

// graphTransition is one outgoing edge of a state; at is its location relative
// to the state.
type graphTransition struct {
	at   []any
	next graphNextState
}

// graphStateSpec is a tool call spec of a state; at is its location relative to
// the state.
type graphStateSpec struct {
	at   []any
	spec toolSpec
}

// graphState is one state of any kind. check cleans its texts and reports
// the faults it has on its own, located under loc.
type graphState interface {
	name() string
	kind() string
	check(c *graphCheck, loc []any)
	transitions() []graphTransition
	specs() []graphStateSpec
}

func (s *actionState) name() string     { return s.Name }
func (s *decisionState) name() string   { return s.Name }
func (s *recallState) name() string     { return s.Name }
func (s *annotationState) name() string { return s.Name }
func (s *reflectionState) name() string { return s.Name }
func (s *toolCallState) name() string   { return s.Name }

func (s *actionState) kind() string     { return s.Type }
func (s *decisionState) kind() string   { return s.Type }
func (s *recallState) kind() string     { return s.Type }
func (s *annotationState) kind() string { return s.Type }
func (s *reflectionState) kind() string { return s.Type }
func (s *toolCallState) kind() string   { return s.Type }

func (s *actionState) check(c *graphCheck, loc []any) {
	c.text(&s.Objective, loc, "objective")
	c.texts(s.Actions, loc, "actions")
	c.texts(s.IntraStateNavigationGuidelines, loc, "intra_state_navigation_guidelines")
	c.texts(s.ActionGuidelines, loc, "action_guidelines")
	c.texts(s.BoundaryConstraints, loc, "boundary_constraints")
	c.exitConditions(s.ExitConditions, loc)
	c.specs(s.ActionToolCallSpecs, loc, "action_tool_call_specs")
	c.specs(s.ExitConditionToolCallSpecs, loc, "exit_condition_tool_call_specs")
}

func (s *decisionState) check(c *graphCheck, loc []any) {
	c.exitConditions(s.ExitConditions, loc)
	c.texts(s.DecisionGuidelines, loc, "decision_guidelines")
	c.text(&s.Objective, loc, "objective")
	c.specs(s.ToolCallSpecs, loc, "tool_call_specs")
	c.fillers(s.AudioFillers, loc, "audio_fillers")
}

func (s *recallState) check(c *graphCheck, loc []any) {
	if s.RequestedInformation != nil {
		c.text(s.RequestedInformation, loc, "requested_information")
	}
	if (s.Queries == nil) == (s.RequestedInformation == nil) {
		c.add(extend(loc, "queries"), "value_error",
			"A recall state sets exactly one of queries and requested_information; the other must be null")
	}
	c.texts(s.Queries, loc, "queries")
}

func (s *annotationState) check(c *graphCheck, loc []any) {
	c.text(&s.InnerThought, loc, "inner_thought")
}

func (s *reflectionState) check(c *graphCheck, loc []any) {
	c.text(&s.Problem, loc, "problem")
	c.specs(s.ToolCallSpecs, loc, "tool_call_specs")
	c.fillers(s.AudioFillers, loc, "audio_fillers")
}

func (s *toolCallState) check(c *graphCheck, loc []any) {
	c.spec(&s.DesignatedTool, extend(loc, "designated_tool"))
	if p := s.DesignatedTool.ResultPersistence; p != nil && *p != persistPersisted && slices.Contains(resultPersistences, *p) {
		c.add(extend(loc, "designated_tool", "result_persistence"), "value_error", fmt.Sprintf(
			"The designated tool of a tool-call state must use result_persistence %q, not %q: the states after it rely on its result",
			persistPersisted, *p))
	}
	c.fillers(s.DesignatedToolCallParamsGenerationAudioFillers, loc, "designated_tool_call_params_generation_audio_fillers")
	c.text(&s.DesignatedToolCallObjective, loc, "designated_tool_call_objective")
	c.text(&s.DesignatedToolCallContext, loc, "designated_tool_call_context")
	c.texts(s.DesignatedToolCallGuidances, loc, "designated_tool_call_guidances")
	c.texts(s.DesignatedToolCallValidations, loc, "designated_tool_call_validations")
	c.specs(s.ToolCallSpecs, loc, "tool_call_specs")
}

func exitTransitions(ecs []graphExitCondition) []graphTransition {
	out := make([]graphTransition, len(ecs))
	for i, ec := range ecs {
		out[i] = graphTransition{at: []any{"exit_conditions", i, "next_state"}, next: ec.NextState}
	}
	return out
}

func singleTransition(n graphNextState) []graphTransition {
	return []graphTransition{{at: []any{"next_state"}, next: n}}
}

func (s *actionState) transitions() []graphTransition     { return exitTransitions(s.ExitConditions) }
func (s *decisionState) transitions() []graphTransition   { return exitTransitions(s.ExitConditions) }
func (s *recallState) transitions() []graphTransition     { return singleTransition(s.NextState) }
func (s *annotationState) transitions() []graphTransition { return singleTransition(s.NextState) }
func (s *reflectionState) transitions() []graphTransition { return singleTransition(s.NextState) }
func (s *toolCallState) transitions() []graphTransition   { return singleTransition(s.NextState) }

func listedSpecs(field string, specs []toolSpec) []graphStateSpec {
	out := make([]graphStateSpec, len(specs))
	for i, sp := range specs {
		out[i] = graphStateSpec{at: []any{field, i}, spec: sp}
	}
	return out
}

func (s *actionState) specs() []graphStateSpec {
	return append(listedSpecs("action_tool_call_specs", s.ActionToolCallSpecs),
		listedSpecs("exit_condition_tool_call_specs", s.ExitConditionToolCallSpecs)...)
}
func (s *decisionState) specs() []graphStateSpec {
	return listedSpecs("tool_call_specs", s.ToolCallSpecs)
}
func (s *recallState) specs() []graphStateSpec     { return nil }
func (s *annotationState) specs() []graphStateSpec { return nil }
func (s *reflectionState) specs() []graphStateSpec {
	return listedSpecs("tool_call_specs", s.ToolCallSpecs)
}
func (s *toolCallState) specs() []graphStateSpec {
	return append([]graphStateSpec{{at: []any{"designated_tool"}, spec: s.DesignatedTool}},
		listedSpecs("tool_call_specs", s.ToolCallSpecs)...)
}

// newGraphState picks the Go type of a state by its type field. The
// document's schema has already refused unknown types.
func newGraphState(kind string) graphState {
	switch kind {
	case "action":
		return &actionState{}
	case "decision":
		return &decisionState{}
	case "recall":
		return &recallState{}
	case "annotation":
		return &annotationState{}
	case "reflection":
		return &reflectionState{}
	case "tool-call":
		return &toolCallState{}
	}
	return nil
}

// graphCheck collects the faults of a version, so one answer lists all.
type graphCheck struct{ faults }

// text trims *s in place and reports it if nothing is left.
func (c *graphCheck) text(s *string, loc []any, more ...any) {
	*s = c.stripped(*s, extend(loc, more...)...)
}

func (c *graphCheck) texts(ss []string, loc []any, field string) {
	for i := range ss {
		c.text(&ss[i], loc, field, i)
	}
}

func (c *graphCheck) fillers(ss []string, loc []any, field string) {
	for i := range ss {
		n := len(c.faults)
		c.text(&ss[i], loc, field, i)
		if len(c.faults) > n {
			continue
		}
		if err := ssml.CheckFiller(ss[i]); err != nil {
			c.add(extend(loc, field, i), "value_error", "Invalid audio filler "+err.Error(), ss[i])
		}
	}
}

// spec cleans a tool call spec's texts, then lets the spec check itself
// (result persistence, version constraint, audio fillers).
func (c *graphCheck) spec(sp *toolSpec, loc []any) {
	c.text(&sp.AdditionalInstruction, loc, "additional_instruction")
	for i := range sp.AudioFillers {
		c.text(&sp.AudioFillers[i], loc, "audio_fillers", i)
	}
	sp.checkShape(&c.faults, loc)
}

func (c *graphCheck) specs(sps []toolSpec, loc []any, field string) {
	for i := range sps {
		c.spec(&sps[i], extend(loc, field, i))
	}
}

func (c *graphCheck) exitConditions(ecs []graphExitCondition, loc []any) {
	for i := range ecs {
		c.text(&ecs[i].Description, loc, "exit_conditions", i, "description")
	}
}

// externalTarget is a state of a referenced graph that a transition leads
// to, for resolving once the version's own shape is sound.
type externalTarget struct {
	where string
	ref   string
	state string
}

// checkedGraph is a version that passed checkGraph: its content with states
// cleaned, and what it points at outside itself.
type checkedGraph struct {
	content  graphContent
	specs    []locatedSpec
	external []externalTarget
}

// checkGraph checks a version on its own and returns it cleaned for
// storing, or a 422 listing every fault.
func checkGraph(g graphContent) (checkedGraph, error) {
	c := &graphCheck{}
	body := []any{"body"}
	c.text(&g.Description, body, "description")
	c.texts(g.GlobalIntraStateNavigationGuidelines, body, "global_intra_state_navigation_guidelines")
	c.texts(g.GlobalActionGuidelines, body, "global_action_guidelines")
	c.texts(g.GlobalBoundaryConstraints, body, "global_boundary_constraints")

	for _, name := range slices.Sorted(maps.Keys(g.References)) {
		if !stateNamePattern.MatchString(name) {
			c.add(extend(body, "references", name), "string_pattern_mismatch",
				fmt.Sprintf("Reference name %q may use only letters, digits and underscores", name))
		}
	}

	states := make([]graphState, len(g.States))
	byName := map[string]int{}
	for i, raw := range g.States {
		loc := extend(body, "states", i)
		var head struct {
			Type string `json:"type"`
		}
		_ = json.Unmarshal(raw, &head)
		st := newGraphState(head.Type)
		if st == nil {
			c.add(extend(loc, "type"), "union_tag_invalid", fmt.Sprintf("Unknown state type %q", head.Type))
			continue
		}
		if err := json.Unmarshal(raw, st); err != nil {
			c.faults = append(c.faults, decodeFailure(err, loc...))
			continue
		}
		states[i] = st
		st.check(c, loc)
		if j, dup := byName[st.name()]; dup {
			c.add(extend(loc, "name"), "value_error", fmt.Sprintf("State name %q is already used by states[%d]", st.name(), j))
			continue
		}
		byName[st.name()] = i
	}

	// lookup returns the state named name, or nil after reporting it at loc.
	lookup := func(name string, loc []any) graphState {
		i, ok := byName[name]
		if !ok {
			c.add(loc, "value_error", fmt.Sprintf("State %q does not exist in this version", name))
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
		if st != nil && st.kind() != "action" {
			c.add(extend(body, f.field), "value_error", fmt.Sprintf("%s must be an action state; %q is a %s state", f.field, f.name, st.kind()))
		}
	}
	if i, ok := byName[g.TerminalState]; ok {
		if t, isAction := states[i].(*actionState); isAction {
			if len(t.ExitConditions) > 0 {
				c.add(extend(body, "states", i, "exit_conditions"), "value_error",
					fmt.Sprintf("The terminal state %q cannot have exit conditions", t.Name))
			}
			if len(t.Actions) != 1 {
				c.add(extend(body, "states", i, "actions"), "value_error",
					fmt.Sprintf("The terminal state %q must have exactly one action; it has %d", t.Name, len(t.Actions)))
			}
		}
	}

	var out checkedGraph
	for i, st := range states {
		if st == nil {
			continue
		}
		loc := extend(body, "states", i)
		where := fmt.Sprintf("states[%d] (%s)", i, st.name())
		for _, tr := range st.transitions() {
			tloc := extend(loc, tr.at...)
			if tr.next.External == "" {
				if tr.next.State == st.name() {
					c.add(tloc, "value_error", fmt.Sprintf("State %q cannot graphTransition to itself", st.name()))
					continue
				}
				lookup(tr.next.State, tloc)
				continue
			}
			ref, extState, _ := strings.Cut(tr.next.External, ".")
			if _, ok := g.References[ref]; !ok {
				c.add(extend(tloc, 0), "value_error", fmt.Sprintf("Reference %q is not listed in references", ref))
			} else {
				out.external = append(out.external, externalTarget{where: where + "." + graphPath(tr.at), ref: ref, state: extState})
			}
			lookup(tr.next.State, extend(tloc, 1))
		}
		for _, sp := range st.specs() {
			out.specs = append(out.specs, locatedSpec{where: where + "." + graphPath(sp.at), spec: sp.spec})
		}
	}
	if err := c.err(); err != nil {
		return checkedGraph{}, err
	}
	for i, st := range states {
		b, err := json.Marshal(st)
		if err != nil {
			return checkedGraph{}, err
		}
		g.States[i] = b
	}
	if g.References == nil {
		g.References = map[string]graphRef{}
	}
	out.content = g
	return out, nil
}

// graphPath writes a relative location as a dotted path with indexes, as
// messages name places in the body.
func graphPath(loc []any) string {
	var b strings.Builder
	for _, p := range loc {
		switch p := p.(type) {
		case int:
			fmt.Fprintf(&b, "[%d]", p)
		default:
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			fmt.Fprint(&b, p)
		}
	}
	return b.String()
}
