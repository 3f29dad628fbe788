package engine

import (
	"slices"
	"strings"

	"github.com/compadre-dev/compadre/config"
	"github.com/compadre-dev/compadre/llm"
	"github.com/compadre-dev/compadre/store"
)

// Dynamic behaviors: each interaction with a message weighs the active
// dynamic behavior sets applied to the conversation's service against it
// and takes on at most one. See DECISIONS.md, "How does a conversation take
// on a dynamic behavior?".

// behaviorKey names a dynamic behavior set version.
type behaviorKey struct {
	ID      string `json:"id"`
	Version int    `json:"version"`
}

// info is the key as a version info pair; nil for no key.
func (k *behaviorKey) info() *VersionInfo {
	if k == nil {
		return nil
	}
	return &VersionInfo{k.ID, k.Version}
}

// behavior is the dynamic behavior set version a turn took on.
type behavior struct {
	key behaviorKey
	// added are instructions every prompt of the turn shows beside the
	// state's; overriding replace the action state's action when the
	// agent engages the user.
	added, overriding []string
	// tools are the tool call specs offered when engaging the user; they
	// replace the state's when overridesTools is set, else join them.
	tools          []config.ToolSpec
	overridesTools bool
	invocation     store.DynamicBehaviorInvocation
}

// noBehavior is the selection's first option, which the built-in model
// takes when no set's triggers share a word with the message.
const noBehavior = "No behavior applies"

// selectBehavior has the model pick the dynamic behavior the user's message
// triggers, if any, among the newest versions of the active sets applied
// to the service. It runs only for a turn with a message and a service
// with such sets; every turn forgets the behavior the previous one took on
// unless it takes it on again.
func (t *turn) selectBehavior() error {
	previous := t.pos.Behavior
	t.pos.Behavior = nil
	if strings.TrimSpace(t.subject) == "" {
		return nil
	}
	versions, err := t.e.cfg.Store.ServiceDynamicBehaviors(t.ctx, t.conv.OrgID, t.conv.ServiceID)
	if err != nil || len(versions) == 0 {
		return err
	}
	options := []string{noBehavior}
	for _, v := range versions {
		options = append(options, strings.Join(v.ConversationTriggers, "; "))
	}
	ans, err := t.ask(llm.Call{Purpose: "select-dynamic-behavior", Kind: llm.Choice, Options: options,
		Messages: t.prompt(t.pos.State, "Decide which dynamic behavior the user's latest message triggers, if any. "+
			"Each option after the first lists the triggers of one behavior.")})
	if err != nil {
		return err
	}
	if ans.Choice > 0 {
		v := versions[ans.Choice-1]
		spec, err := config.ParseBehavior(v.ConversationTriggers, v.Actions)
		if err != nil {
			return err
		}
		t.behavior = t.takeOn(behaviorKey{ID: v.SetID, Version: v.Version}, spec)
		t.pos.Behavior = &t.behavior.key
		t.insights.TriggeredDynamicBehaviorSetVersionInfo = t.behavior.key.info()
	}
	if err := t.action(SelectDynamicBehaviorCompleted{Type: "select-dynamic-behavior-completed",
		SelectedDynamicBehaviorSetVersionInfo:     t.pos.Behavior.info(),
		PreviousSelectedDynamicBehaviorSetVersion: previous.info()}); err != nil {
		return err
	}
	b := t.behavior
	if b == nil || len(b.added)+len(b.overriding) == 0 {
		return nil
	}
	// Navigation reads the instructions; its tools (exit-condition and
	// decision tools) stay the state's.
	return t.action(DynamicBehaviorOverride{Type: "navigate-state-machine-dynamic-behavior-override",
		OverridingInstructions: len(b.overriding) > 0, OverridingToolCandidates: false})
}

// takeOn gathers what a set version does, and the record of its
// invocation by the turn's message.
func (t *turn) takeOn(key behaviorKey, spec config.Behavior) *behavior {
	b := &behavior{key: key}
	for _, a := range spec.Actions {
		switch a := a.(type) {
		case *config.BehaviorInjectInstruction:
			if a.OverridesInstructions {
				b.overriding = append(b.overriding, a.Instruction)
			} else {
				b.added = append(b.added, a.Instruction)
			}
		case *config.BehaviorChangeToolCandidates:
			b.overridesTools = b.overridesTools || a.OverridesExistingToolCallSpecs
			for _, s := range a.ToolCallSpecs {
				b.tools = withSpec(b.tools, s.ToolSpec)
			}
		}
	}
	inv := store.DynamicBehaviorInvocation{OrgID: t.conv.OrgID, ConversationID: t.conv.ID, ServiceID: t.conv.ServiceID,
		UserID: t.conv.UserID, SetID: key.ID, SetVersion: key.Version, InvokedAt: t.now(),
		AgentInnerThoughtsIDs: []string{}, ExternalEventMessageIDs: []string{}}
	// The turn's messages so far are its input: the external events sent
	// with it, then the message that triggered the behavior.
	for i, m := range t.messages {
		switch {
		case i == len(t.messages)-1:
			inv.InitialMessageID = m.ID
		case m.MessageType == store.MessageExternalEvent:
			inv.ExternalEventMessageIDs = append(inv.ExternalEventMessageIDs, m.ID)
		}
	}
	// The agent's latest message is what the user answered; the inner
	// thoughts of the interaction that wrote it led to it.
	for i := len(t.earlier) - 1; i >= 0; i-- {
		if m := t.earlier[i]; m.MessageType == store.MessageAgent {
			id := m.ID
			inv.AgentMessageID = &id
			for _, th := range t.earlier {
				if th.MessageType == store.MessageAgentInnerThought && th.InteractionID == m.InteractionID {
					inv.AgentInnerThoughtsIDs = append(inv.AgentInnerThoughtsIDs, th.ID)
				}
			}
			break
		}
	}
	b.invocation = inv
	return b
}

// withSpec adds spec to specs, in place of a spec of the same tool.
func withSpec(specs []config.ToolSpec, spec config.ToolSpec) []config.ToolSpec {
	specs = slices.DeleteFunc(specs, func(s config.ToolSpec) bool { return s.ToolID == spec.ToolID })
	return append(specs, spec)
}

// invocations are the records the turn commits: the behavior it took on.
func (t *turn) invocations() []store.DynamicBehaviorInvocation {
	if t.behavior == nil {
		return nil
	}
	return []store.DynamicBehaviorInvocation{t.behavior.invocation}
}

// engageOverride announces that the behavior's instructions and tools are
// merged with the action state's for engaging the user.
func (t *turn) engageOverride() error {
	b := t.behavior
	if b == nil {
		return nil
	}
	return t.action(DynamicBehaviorOverride{Type: "engage-user-dynamic-behavior-override",
		OverridingInstructions: len(b.overriding) > 0, OverridingToolCandidates: b.overridesTools})
}

// engageTools are the tool call specs the agent may call while engaging
// the user in s: the state's, with the behavior's added or in their place.
// A behavior's spec of a tool the state also names takes the state's place.
func (t *turn) engageTools(s *config.ActionState) []config.ToolSpec {
	b := t.behavior
	if b == nil || (len(b.tools) == 0 && !b.overridesTools) {
		return s.ActionToolCallSpecs
	}
	var specs []config.ToolSpec
	if !b.overridesTools {
		specs = slices.Clone(s.ActionToolCallSpecs)
	}
	for _, spec := range b.tools {
		specs = withSpec(specs, spec)
	}
	return specs
}

// engageGuidance is what the agent is to do when it engages the user: the
// action chosen, or the behavior's overriding instructions in its place.
func (t *turn) engageGuidance(action string) string {
	if b := t.behavior; b != nil && len(b.overriding) > 0 {
		return strings.Join(b.overriding, " ")
	}
	return action
}

// writeBehavior adds the behavior's instructions to a system prompt.
func (t *turn) writeBehavior(sb *strings.Builder) {
	if b := t.behavior; b != nil {
		writeList(sb, "Instructions of the dynamic behavior in force", b.added)
		writeList(sb, "Instructions of the dynamic behavior in force, in place of the current state's actions", b.overriding)
	}
}
