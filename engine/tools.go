package engine

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/compadre-dev/compadre/config"
	"github.com/compadre-dev/compadre/llm"
	"github.com/compadre-dev/compadre/pep440"
	"github.com/compadre-dev/compadre/store"
	"github.com/compadre-dev/compadre/tools"
)

// Where in the agent's work a tool was called, as invocation metadata
// names it.
const (
	metaStateTransition = "state-transition"
	metaEngageUser      = "engage-user"
	metaToolCallState   = "tool-call-state"
)

// Output limits of result persistence (seed: Tools API).
const (
	// MaxToolOutput is the most characters any tool output may have.
	MaxToolOutput = 20000
	// MaxKeptOutput is the most characters a kept output may have.
	MaxKeptOutput = 5000
)

// noTool is the option of a tool round that ends it.
const noTool = "Call no tool: answer with what is known."

// resolvedTool is a tool call spec resolved to the version that runs.
type resolvedTool struct {
	spec    config.ToolSpec
	tool    store.Tool
	version store.ToolVersion
}

func (r resolvedTool) versionString() string {
	return fmt.Sprintf("%d.%d.%d", r.version.Major, r.version.Minor, r.version.Patch)
}

// resolve finds the newest non-deprecated version of the spec's tool that
// its version constraint admits.
func (t *turn) resolve(spec config.ToolSpec) (resolvedTool, error) {
	if t.e.cfg.Tools == nil {
		return resolvedTool{}, &Failure{ToolsUnavailable,
			"The Python sandbox is not running; the context graph calls tools, which cannot run"}
	}
	st := t.e.cfg.Store
	tool, err := st.GetTool(t.ctx, t.conv.OrgID, spec.ToolID)
	if err != nil {
		return resolvedTool{}, err
	}
	c, err := pep440.ParseConstraint(spec.VersionConstraint)
	if err != nil {
		return resolvedTool{}, err
	}
	versions, err := st.ListToolVersions(t.ctx, t.conv.OrgID, tool.ID)
	if err != nil {
		return resolvedTool{}, err
	}
	var best *store.ToolVersion
	for i, v := range versions {
		if v.Deprecated || !c.Match(pep440.Version{Major: v.Major, Minor: v.Minor, Patch: v.Patch}) {
			continue
		}
		if best == nil || newer(v, *best) {
			best = &versions[i]
		}
	}
	if tool.Deprecated || best == nil {
		return resolvedTool{}, &Failure{ToolFailed, fmt.Sprintf(
			"No published, non-deprecated version of tool %s (%s) satisfies %q", tool.ID, tool.Name, spec.VersionConstraint)}
	}
	return resolvedTool{spec: spec, tool: tool, version: *best}, nil
}

func newer(a, b store.ToolVersion) bool {
	return slices.Compare([]int{a.Major, a.Minor, a.Patch}, []int{b.Major, b.Minor, b.Patch}) > 0
}

// toolRounds lets the model call the given tools, one a round, until it
// calls none or the rounds run out; a tool is called at most once. Each
// round's log is one entry of the result. See DECISIONS.md, "When does the
// agent call a state's tools, and how are the calls recorded?".
func (t *turn) toolRounds(specs []config.ToolSpec, purpose, meta, state string) ([][]ToolCallLog, error) {
	logs := [][]ToolCallLog{}
	if len(specs) == 0 {
		return logs, nil
	}
	left := make([]resolvedTool, 0, len(specs))
	for _, sp := range specs {
		r, err := t.resolve(sp)
		if err != nil {
			return nil, err
		}
		left = append(left, r)
	}
	for round := 0; round < t.e.cfg.MaxToolRounds && len(left) > 0; round++ {
		options := []string{noTool}
		for _, r := range left {
			options = append(options, fmt.Sprintf("Call tool %s: %s %s", r.tool.Name, r.tool.Description, r.spec.AdditionalInstruction))
		}
		ans, err := t.ask(llm.Call{Purpose: purpose, Kind: llm.Choice, Options: options,
			Messages: t.prompt(state, "Choose a tool to call, or none.")})
		if err != nil {
			return nil, err
		}
		if ans.Choice == 0 {
			break
		}
		r := left[ans.Choice-1]
		left = slices.Delete(left, ans.Choice-1, ans.Choice)
		raw, params, err := t.toolParams(r, state, r.spec.AdditionalInstruction)
		if err != nil {
			return nil, err
		}
		log, _, err := t.runTool(r, round, meta, state, raw, params)
		if err != nil {
			return nil, err
		}
		logs = append(logs, []ToolCallLog{log})
	}
	return logs, nil
}

// callDesignated runs a tool-call state's tool exactly once, after the
// state's other tools had their rounds; if it fails the state is not left
// and the interaction ends in an error.
func (t *turn) callDesignated(s *config.ToolCallState) error {
	r, err := t.resolve(s.DesignatedTool)
	if err != nil {
		return err
	}
	retrieved := DesignatedToolRetrieved{Type: "designated-tool-retrieved", ToolID: r.tool.ID, ToolVersion: r.versionString()}
	if err := t.action(retrieved); err != nil {
		return err
	}
	logs, err := t.toolRounds(s.ToolCallSpecs, "tool-call-state-tool", metaToolCallState, s.Name)
	if err != nil {
		return err
	}
	var raw json.RawMessage
	var params map[string]any
	if err := t.unlessSlow(s.DesignatedToolCallParamsGenerationAudioFillers,
		s.DesignatedToolCallParamsGenerationAudioFillerTriggeredAfter, retrieved, func() {
			raw, params, err = t.toolParams(r, s.Name, designatedInstruction(s))
		}); err != nil {
		return err
	}
	if err != nil {
		return err
	}
	if err := t.action(DesignatedToolCallParamsGenerated{Type: "designated-tool-call-params-generated",
		ToolID: r.tool.ID, ToolVersion: r.versionString(), ToolCallParams: params}); err != nil {
		return err
	}
	log, res, err := t.runTool(r, 0, metaToolCallState, s.Name, raw, params)
	if err != nil {
		return err
	}
	if !res.ok {
		return &Failure{ToolFailed, fmt.Sprintf("The designated tool %s of state %q failed: %s",
			r.tool.Name, s.Name, res.text)}
	}
	if err := t.action(ToolOutputAvailable{Type: "navigate-state-machine-tool-call-state-tool-output-available",
		ToolID: r.tool.ID, ToolVersion: r.versionString(), ToolOutput: res.text, Duration: log.Duration,
		InputArguments: log.Input}); err != nil {
		return err
	}
	return t.follow(s.NextState, TransitionLog{Type: "tool-call", ToolCallLogs: logs, DesignatedToolCallLog: &log})
}

// designatedInstruction is what a tool-call state tells the model about
// the parameters of its designated tool.
func designatedInstruction(s *config.ToolCallState) string {
	var b strings.Builder
	b.WriteString(s.DesignatedTool.AdditionalInstruction)
	if s.DesignatedToolCallObjective != "" {
		b.WriteString("\nObjective: " + s.DesignatedToolCallObjective)
	}
	if s.DesignatedToolCallContext != "" {
		b.WriteString("\nContext: " + s.DesignatedToolCallContext)
	}
	writeList(&b, "\nGuidances", s.DesignatedToolCallGuidances)
	writeList(&b, "\nThe parameters must satisfy", s.DesignatedToolCallValidations)
	return strings.TrimSpace(b.String())
}

// toolResult is what a call gave the agent: the output, or why it failed.
type toolResult struct {
	ok   bool
	text string
}

// toolParams has the model write the tool's parameters against its input
// schema: the raw object the tool is given, and the same decoded for
// events and logs.
func (t *turn) toolParams(r resolvedTool, state, instruction string) (json.RawMessage, map[string]any, error) {
	ans, err := t.ask(llm.Call{Purpose: "tool-params", Kind: llm.Object, Schema: r.version.InputSchema,
		Messages: t.prompt(state, fmt.Sprintf("Write the parameters for tool %s (%s). %s", r.tool.Name,
			r.tool.Description, instruction))})
	if err != nil {
		return nil, nil, err
	}
	params := map[string]any{}
	if err := json.Unmarshal(ans.Object, &params); err != nil {
		return nil, nil, &Failure{ModelFailed, "The language model's tool parameters are not a JSON object"}
	}
	return ans.Object, params, nil
}

// runTool runs the tool in the sandbox with the given parameters, in the
// turn's mode and recorded as made at this point of the conversation, and
// applies the spec's result persistence.
func (t *turn) runTool(r resolvedTool, round int, meta, state string, raw json.RawMessage, params map[string]any) (ToolCallLog, toolResult, error) {
	started := ToolCallStarted{Type: "tool-call-started", ToolRoundIndex: round, ToolID: r.tool.ID,
		ToolVersion: r.versionString(), InputParams: params}
	if err := t.action(started); err != nil {
		return ToolCallLog{}, toolResult{}, err
	}
	metadata, err := json.Marshal(t.metadata(meta, state, round))
	if err != nil {
		return ToolCallLog{}, toolResult{}, err
	}
	mode := t.run.Mode
	if mode == "" {
		mode = tools.ModeRegular
	}
	var results []tools.Result
	if err := t.unlessSlow(r.spec.AudioFillers, r.spec.AudioFillerTriggeredAfter, started, func() {
		results, err = t.e.cfg.Tools.Invoke(t.ctx, tools.InvokeRequest{
			OrgID: t.conv.OrgID, Tool: r.tool, Version: r.version,
			Inputs: []tools.Input{{Parameters: raw, Mode: mode, UserVariables: t.run.UserVariables,
				SensitiveUserVariables: t.run.SensitiveUserVariables, Background: t.run.SimulationRunID != nil}},
			By: store.Actor{OrgID: t.conv.OrgID, UserID: t.conv.UserID},
			Origin: &tools.Origin{ConversationID: t.conv.ID, InteractionID: t.interactionID, SimulationRunID: t.run.SimulationRunID,
				UnitTestID: t.run.UnitTestID, RunIndex: t.run.RunIndex, Metadata: metadata},
		})
	}); err != nil {
		return ToolCallLog{}, toolResult{}, err
	}
	var res toolResult
	var duration float64
	var problems *tools.Problems
	switch {
	case errors.As(err, &problems):
		// The model's parameters do not fit the schema: a failed call the
		// agent hears of, not a broken interaction.
		res.text = "The parameters do not fit the tool's input schema: " + problems.Error()
	case err != nil:
		return ToolCallLog{}, toolResult{}, err
	default:
		out := results[0]
		duration = float64(out.DurationMS) / 1000
		if out.Succeeded {
			res = toolResult{ok: true, text: out.Output}
		} else {
			res.text = out.ExceptionType + ": " + out.ExceptionMessage
		}
	}
	kept, res := persist(r.spec, res)
	if kept != nil {
		t.pos.Kept = append(t.pos.Kept, keptOutput{Tool: r.tool.Name, Output: *kept})
		if n := len(t.pos.Kept); n > maxKept {
			t.pos.Kept = t.pos.Kept[n-maxKept:]
		}
	}
	if err := t.action(ToolCallEnded{Type: "tool-call-ended", ToolRoundIndex: round, ToolID: r.tool.ID,
		ToolVersion: r.versionString(), InputParameters: params, Result: res.text, Duration: duration}); err != nil {
		return ToolCallLog{}, toolResult{}, err
	}
	t.history = append(t.history, llm.Message{Role: "system", Content: "Tool " + r.tool.Name + " returned: " + res.text})
	return ToolCallLog{ToolName: r.tool.Name, ToolID: r.tool.ID, ToolVersion: r.versionString(), Input: params,
		Output: kept, Duration: duration}, res, nil
}

// unlessSlow runs work and, if it is still running after the given
// seconds, reports action-too-long once with the first of fillers and
// the event that started the step, then waits for it to end. Without
// fillers there is nothing to say, so nothing is reported. See
// DECISIONS.md, "What does action-too-long carry without a speech synthesizer?".
func (t *turn) unlessSlow(fillers []string, after float64, started Action, work func()) error {
	if len(fillers) == 0 || after <= 0 {
		work()
		return nil
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		work()
	}()
	timer := time.NewTimer(time.Duration(after * float64(time.Second)))
	defer timer.Stop()
	select {
	case <-done:
		return nil
	case <-timer.C:
	}
	err := t.action(ActionTooLong{Type: "action-too-long", Filler: fillers[0], PreviouslyStartedEvent: started})
	// The step is bounded (the sandbox's deadline, the model's timeout,
	// the request's context), and its results belong to this goroutine
	// once it ends.
	<-done
	return err
}

// persist applies a spec's result persistence to a call's result: what is
// kept for later interactions (nil if nothing), and the result as the
// agent sees it now. Any output over MaxToolOutput characters fails the
// call; "persisted" fails it over MaxKeptOutput; "persisted-preferred"
// keeps up to MaxKeptOutput and is otherwise ephemeral; "ephemeral" keeps
// nothing. See DECISIONS.md, "What does a tool call keep, by its result
// persistence?".
func persist(spec config.ToolSpec, res toolResult) (*string, toolResult) {
	if !res.ok {
		return nil, res
	}
	n := utf8.RuneCountInString(res.text)
	if n > MaxToolOutput {
		return nil, toolResult{text: fmt.Sprintf("The tool's output has %d characters; at most %d are allowed", n, MaxToolOutput)}
	}
	mode := config.PersistEphemeral
	if spec.ResultPersistence != nil {
		mode = *spec.ResultPersistence
	}
	switch mode {
	case config.PersistPersisted:
		if n > MaxKeptOutput {
			return nil, toolResult{text: fmt.Sprintf(
				"The tool's output has %d characters; a persisted result may have at most %d", n, MaxKeptOutput)}
		}
		return &res.text, res
	case config.PersistPersistedPreferred:
		if n <= MaxKeptOutput {
			return &res.text, res
		}
	}
	return nil, res
}

// metadata is the invocation metadata of a call made at this point.
func (t *turn) metadata(kind, state string, round int) map[string]any {
	m := map[string]any{"type": kind, "current_state_machine_and_version": versionInfo(t.g.key)}
	switch kind {
	case metaStateTransition:
		m["state_name"], m["state_transition_index"], m["tool_call_round_index"] = state, t.transitions+1, round
	case metaEngageUser:
		m["tool_call_round_index"] = round
	case metaToolCallState:
		m["state_name"] = state
	}
	return m
}
