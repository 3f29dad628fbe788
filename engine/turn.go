package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/compadre-dev/compadre/config"
	"github.com/compadre-dev/compadre/llm"
	"github.com/compadre-dev/compadre/store"
)

// turn is one interaction being played: where it is, and everything it
// will write when it completes.
type turn struct {
	e     *Engine
	ctx   context.Context
	conv  store.Conversation
	agent config.Agent
	in    *Input
	run   Run
	emit  Emit
	open  bool

	pos           position
	g             *graph
	interactionID string
	// subject is what the agent answers: the user's message or event.
	subject string
	history []llm.Message
	// earlier are the conversation's messages before the turn, as history
	// holds them.
	earlier []store.Message
	// behavior is the dynamic behavior the turn took on, if any.
	behavior *behavior
	// latest is when the conversation's newest message was written; every
	// message the turn adds comes after it.
	latest time.Time

	// logTag sets apart the prompt log keys of calls made for an
	// interaction after it (recommendations) from its own.
	logTag   string
	messages []store.Message
	blobs    []store.Blob
	prompts  []store.PromptLog
	insights Insights
	// transitions counts the states entered, against the cap and as the
	// state transition index tool runs are recorded with.
	transitions int
	completed   bool
}

func (e *Engine) newTurn(ctx context.Context, c store.Conversation, in *Input, run Run, emit Emit, open bool) (*turn, error) {
	av, err := e.cfg.Store.GetAgentVersion(ctx, c.OrgID, c.AgentID, c.AgentVersion)
	if err != nil {
		return nil, err
	}
	agent, err := config.ParseAgent(av.Body)
	if err != nil {
		return nil, err
	}
	pos, err := engineState(c)
	if err != nil {
		return nil, err
	}
	t := &turn{e: e, ctx: ctx, conv: c, agent: agent, in: in, run: run, emit: emit, open: open, pos: pos,
		interactionID: store.NewID()}
	t.insights = Insights{StateTransitionLogs: []TransitionLog{}, WorkingMemory: []WorkingMemory{}, Reflections: []string{},
		SelectNextActionToolCallLogs: [][]ToolCallLog{}, EngageUserToolCallLogs: [][]ToolCallLog{}}
	if !open {
		if err := t.loadHistory(); err != nil {
			return nil, err
		}
	}
	return t, nil
}

// loadHistory reads the conversation's latest messages as prompt history.
func (t *turn) loadHistory() error {
	msgs, _, err := t.e.cfg.Store.ListMessages(t.ctx, t.conv.OrgID, t.conv.ID, store.MessageFilter{
		Sort: []store.SortKey{{Field: "created_at", Desc: true}}, Limit: historyMessages})
	if err != nil {
		return err
	}
	slices.Reverse(msgs)
	t.earlier = msgs
	if n := len(msgs); n > 0 {
		t.latest = msgs[n-1].CreatedAt
	}
	for _, m := range msgs {
		t.history = append(t.history, historyMessage(m))
	}
	return nil
}

func historyMessage(m store.Message) llm.Message {
	switch m.MessageType {
	case store.MessageAgent:
		return llm.Message{Role: "assistant", Content: m.Message}
	case store.MessageAgentInnerThought:
		return llm.Message{Role: "assistant", Content: "(inner thought) " + m.Message}
	case store.MessageExternalEvent:
		return llm.Message{Role: "user", Content: "(external event) " + m.Message}
	}
	return llm.Message{Role: "user", Content: m.Message}
}

func (t *turn) now() time.Time { return t.e.cfg.Now() }

// play runs the turn to its end: input, walk, commit, completion event.
func (t *turn) play() error {
	if err := t.takeInput(); err != nil {
		return err
	}
	if err := t.start(); err != nil {
		return err
	}
	if err := t.selectBehavior(); err != nil {
		return err
	}
	agentMessage, err := t.walk()
	if err != nil {
		return err
	}
	return t.commit(agentMessage)
}

// takeInput records the input's messages and announces the user's.
func (t *turn) takeInput() error {
	in := t.in
	if in == nil {
		return nil
	}
	for _, ev := range in.Events {
		t.addMessage(store.Message{Sender: "External event", Message: ev.Content, Format: "text",
			MessageType: store.MessageExternalEvent, CreatedAt: ev.At})
	}
	if in.Kind == InputSkip {
		if t.open {
			return nil
		}
		return t.emit(UserMessageAvailable{Type: "user-message-available"})
	}
	typ := store.MessageUser
	if in.Kind == InputExternalEvent {
		typ = store.MessageExternalEvent
	}
	m := store.Message{Sender: in.Sender, Message: in.Text, Format: in.Format, MessageType: typ}
	if in.Audio != nil {
		t.blobs = append(t.blobs, *in.Audio)
		m.SourceBlobID = &in.Audio.ID
	}
	m = t.addMessage(m)
	t.subject = in.Text
	if t.open {
		// create-conversation's stream has no user-message-available.
		return nil
	}
	return t.emit(UserMessageAvailable{Type: "user-message-available", MessageID: m.ID, UserMessage: in.Text})
}

// addMessage adds a message to the turn's record and the prompt history.
// Messages are timed in the order they are added, each at least a
// microsecond (the API's precision) after the conversation's newest: an
// external event may be stamped a little ahead of the clock, and the
// messages after it must still sort after it.
func (t *turn) addMessage(m store.Message) store.Message {
	m.ID, m.InteractionID = store.NewID(), t.interactionID
	if m.CreatedAt.IsZero() {
		m.CreatedAt = t.now()
		if t.run.Clock != nil {
			m.CreatedAt = t.run.Clock()
		}
	}
	if !m.CreatedAt.After(t.latest) {
		m.CreatedAt = t.latest.Add(time.Microsecond)
	}
	t.latest = m.CreatedAt
	t.messages = append(t.messages, m)
	t.history = append(t.history, historyMessage(m))
	return m
}

// start places an opening turn at its initial state; other turns go on
// from where the conversation is.
func (t *turn) start() error {
	if !t.open && t.pos.State != "" {
		g, err := t.e.graph(t.ctx, t.conv.OrgID, t.pos.Graph)
		t.g = g
		return err
	}
	key := graphKey{ID: t.conv.StateMachineID, Version: t.conv.StateMachineVersion}
	g, err := t.e.graph(t.ctx, t.conv.OrgID, key)
	if err != nil {
		return err
	}
	returning, err := t.returningUser()
	if err != nil {
		return err
	}
	initial := g.spec.NewUserInitialState
	if returning {
		initial = g.spec.ReturningUserInitialState
	}
	t.g, t.pos = g, position{Graph: key, State: initial}
	return nil
}

// returningUser reports whether the user has talked with the service
// before: any earlier conversation counts. A simulated user never has.
func (t *turn) returningUser() (bool, error) {
	if t.conv.SimulationRunID != nil {
		// A simulated user meets the agent for the first time.
		return false, nil
	}
	earlier, _, err := t.e.cfg.Store.ListConversations(t.ctx, t.conv.OrgID, store.ConversationFilter{
		UserIDs: []string{t.conv.UserID}, ServiceIDs: []string{t.conv.ServiceID}, Limit: 1})
	if err != nil {
		return false, err
	}
	for _, c := range earlier {
		if c.ID != t.conv.ID {
			return true, nil
		}
	}
	return false, nil
}

// action reports an agent action.
func (t *turn) action(a Action) error {
	return t.emit(CurrentAgentAction{Type: "current-agent-action", Action: a})
}

// walk moves through states until an action state answers, and returns
// the agent's message. Only the state the conversation was in when the
// user spoke weighs its exit conditions against the message; a state
// arrived at during the walk answers.
func (t *turn) walk() (string, error) {
	navigate := t.in != nil
	for {
		st, ok := t.g.states[t.pos.State]
		if !ok {
			return "", &Failure{GraphBroken, fmt.Sprintf(
				"The context graph %s version %d has no state %q", t.g.key.ID, t.g.key.Version, t.pos.State)}
		}
		switch s := st.(type) {
		case *config.ActionState:
			if s.Name == t.g.spec.TerminalState {
				if n := len(t.pos.Stack); n > 0 {
					f := t.pos.Stack[n-1]
					t.pos.Stack = t.pos.Stack[:n-1]
					if err := t.moveTo(f.Graph, f.Jumpback, TransitionLog{Type: "jumpback"}); err != nil {
						return "", err
					}
					navigate = false
					continue
				}
				t.completed = true
				return t.speak(s)
			}
			if navigate && len(s.ExitConditions) > 0 {
				left, err := t.leaveAction(s)
				if err != nil || left {
					navigate = false
					if err != nil {
						return "", err
					}
					continue
				}
			}
			return t.speak(s)
		case *config.DecisionState:
			if err := t.decide(s); err != nil {
				return "", err
			}
		case *config.RecallState:
			if err := t.recall(s); err != nil {
				return "", err
			}
		case *config.AnnotationState:
			if err := t.annotate(s); err != nil {
				return "", err
			}
		case *config.ReflectionState:
			if err := t.reflect(s); err != nil {
				return "", err
			}
		case *config.ToolCallState:
			if err := t.callDesignated(s); err != nil {
				return "", err
			}
		}
		navigate = false
	}
}

// follow takes a transition out of the current state: within the graph,
// or into a referenced graph, remembering where to come back to.
func (t *turn) follow(next config.NextState, log TransitionLog) error {
	if next.External == "" {
		return t.moveTo(t.g.key, next.State, log)
	}
	refName, state, _ := strings.Cut(next.External, ".")
	ref, ok := t.g.spec.References[refName]
	if !ok {
		return &Failure{GraphBroken, fmt.Sprintf("The context graph names no reference %q", refName)}
	}
	t.pos.Stack = append(t.pos.Stack, frame{Graph: t.g.key, Jumpback: next.State})
	return t.moveTo(graphKey{ID: ref.ID, Version: ref.Version}, state, log)
}

// targetOf is the graph and state a transition leads to, for events
// announcing it before it is taken.
func (t *turn) targetOf(next config.NextState) (graphKey, string) {
	if next.External == "" {
		return t.g.key, next.State
	}
	refName, state, _ := strings.Cut(next.External, ".")
	ref := t.g.spec.References[refName]
	return graphKey{ID: ref.ID, Version: ref.Version}, state
}

// moveTo enters state of graph key, logging the transition and counting
// it against the interaction's cap.
func (t *turn) moveTo(key graphKey, state string, log TransitionLog) error {
	t.transitions++
	if t.transitions > t.e.cfg.MaxTransitions {
		return &Failure{GraphBroken, fmt.Sprintf(
			"The interaction took more than %d state transitions without reaching an action state that answers; "+
				"the context graph loops", t.e.cfg.MaxTransitions)}
	}
	g := t.g
	if key != t.g.key {
		var err error
		if g, err = t.e.graph(t.ctx, t.conv.OrgID, key); err != nil {
			return err
		}
	}
	log.PreviousState, log.PreviousVersionInfo = t.pos.State, versionInfo(t.g.key)
	log.NextState, log.NextVersionInfo = state, versionInfo(key)
	t.insights.StateTransitionLogs = append(t.insights.StateTransitionLogs, log)
	prev, prevGraph := t.pos.State, t.g.key
	t.g, t.pos.Graph, t.pos.State = g, key, state
	return t.action(StateTransitioned{Type: "navigate-state-machine-state-transitioned", PrevState: prev,
		PrevStateStateMachineVersionInfo: versionInfo(prevGraph), NextState: state,
		NextStateStateMachineVersionInfo: versionInfo(key)})
}

// leaveAction weighs the state's exit conditions against the user's
// message, calling the state's exit-condition tools first; left is
// whether one was taken.
func (t *turn) leaveAction(s *config.ActionState) (left bool, err error) {
	logs, err := t.toolRounds(s.ExitConditionToolCallSpecs, "select-exit-condition-tool", metaStateTransition, s.Name)
	if err != nil {
		return false, err
	}
	t.insights.SelectNextActionToolCallLogs = append(t.insights.SelectNextActionToolCallLogs, logs...)
	options := []string{"Stay in the current state: " + s.Objective}
	for _, ec := range s.ExitConditions {
		options = append(options, ec.Description)
	}
	ans, err := t.ask(llm.Call{Purpose: "select-exit-condition", Kind: llm.Choice, Options: options,
		Messages: t.prompt(s.Name, "Decide whether the conversation should stay in the current state or leave it "+
			"by one of the exit conditions.")})
	if err != nil {
		return false, err
	}
	if ans.Choice == 0 {
		return false, nil
	}
	ec := s.ExitConditions[ans.Choice-1]
	if err := t.announceExit(ec); err != nil {
		return false, err
	}
	desc := ec.Description
	return true, t.follow(ec.NextState, TransitionLog{Type: "action", PreviousStateExitConditionDescription: &desc,
		ToolCallLogs: logs})
}

func (t *turn) announceExit(ec config.ExitCondition) error {
	key, state := t.targetOf(ec.NextState)
	return t.action(ExitConditionSelected{Type: "navigate-state-machine-exit-condition-selected",
		ExitCondition: ec.Description, NextStateStateMachineVersionInfo: versionInfo(key), NextStateName: state})
}

// decide leaves a decision state by the exit condition the model picks.
func (t *turn) decide(s *config.DecisionState) error {
	started := DecisionStarted{Type: "navigate-state-machine-decision-state-decision-started"}
	if err := t.action(started); err != nil {
		return err
	}
	logs, err := t.toolRounds(s.ToolCallSpecs, "decision-tool", metaStateTransition, s.Name)
	if err != nil {
		return err
	}
	options := make([]string, len(s.ExitConditions))
	for i, ec := range s.ExitConditions {
		options[i] = ec.Description
	}
	var ans llm.Answer
	if err := t.unlessSlow(s.AudioFillers, s.AudioFillerTriggeredAfter, started, func() {
		ans, err = t.ask(llm.Call{Purpose: "decide", Kind: llm.Choice, Options: options,
			Messages: t.prompt(s.Name, "Decide which exit condition holds. Objective: "+s.Objective+"\n"+
				strings.Join(s.DecisionGuidelines, "\n"))})
	}); err != nil {
		return err
	}
	if err != nil {
		return err
	}
	ec := s.ExitConditions[ans.Choice]
	if err := t.announceExit(ec); err != nil {
		return err
	}
	desc := ec.Description
	return t.follow(ec.NextState, TransitionLog{Type: "decision", PreviousStateExitConditionDescription: &desc,
		ToolCallLogs: logs})
}

// recall runs the state's queries (or has the model write them from the
// information requested) against what the user has said, into working
// memory.
func (t *turn) recall(s *config.RecallState) error {
	queries := s.Queries
	if s.RequestedInformation != nil {
		ans, err := t.ask(llm.Call{Purpose: "recall-queries", Kind: llm.Text, Guidance: *s.RequestedInformation,
			Messages: t.prompt(s.Name, "Write one search query, on one line, for this information about the user: "+
				*s.RequestedInformation)})
		if err != nil {
			return err
		}
		queries = nonEmptyLines(ans.Text)
		if err := t.action(RecallDynamicQueriesGenerated{Type: "navigate-state-machine-recall-state-dynamic-queries-generated",
			DynamicQueries: queries, RequestedInformation: *s.RequestedInformation}); err != nil {
			return err
		}
	} else if err := t.action(RecallStaticQueriesRetrieved{Type: "navigate-state-machine-recall-state-static-queries-retrieved",
		StaticQueries: queries}); err != nil {
		return err
	}
	pairs := make([][2]string, len(queries))
	for i, q := range queries {
		answer := t.remember(q)
		pairs[i] = [2]string{q, answer}
		t.insights.WorkingMemory = append(t.insights.WorkingMemory, WorkingMemory{Content: answer, Context: q})
	}
	if err := t.action(RecallActiveMemoryRetrieved{Type: "navigate-state-machine-recall-state-active-memory-retrieved",
		QueriesAndResponses: pairs}); err != nil {
		return err
	}
	return t.follow(s.NextState, TransitionLog{Type: "recall", PerformedQueries: queries})
}

// nothingRecalled answers a query nothing the user said matches.
const nothingRecalled = "Nothing the user has said answers this."

// remember answers a query from the user's own messages in the history:
// the one sharing the most words with it. There is no long-term memory
// yet, so this is all an agent can recall.
func (t *turn) remember(query string) string {
	want := wordSet(query)
	best, bestScore := nothingRecalled, 0
	for _, m := range t.history {
		if m.Role != "user" {
			continue
		}
		score := 0
		for w := range wordSet(m.Content) {
			if want[w] {
				score++
			}
		}
		if score > bestScore {
			best, bestScore = m.Content, score
		}
	}
	return best
}

// annotate stores the state's inner thought.
func (t *turn) annotate(s *config.AnnotationState) error {
	if err := t.action(AnnotationRetrieved{Type: "navigate-state-machine-annotation-state-annotation-retrieved",
		Annotation: s.InnerThought}); err != nil {
		return err
	}
	m := t.innerThought(s.InnerThought)
	return t.follow(s.NextState, TransitionLog{Type: "annotation", InnerThoughtMessageID: &m.ID})
}

// reflect has the model think about the state's problem, within its word
// limit, and stores the thought.
func (t *turn) reflect(s *config.ReflectionState) error {
	started := ReflectionPromptRetrieved{Type: "navigate-state-machine-reflection-state-prompt-retrieved", Prompt: s.Problem}
	if err := t.action(started); err != nil {
		return err
	}
	logs, err := t.toolRounds(s.ToolCallSpecs, "reflection-tool", metaStateTransition, s.Name)
	if err != nil {
		return err
	}
	var ans llm.Answer
	if err := t.unlessSlow(s.AudioFillers, s.AudioFillerTriggeredAfter, started, func() {
		ans, err = t.ask(llm.Call{Purpose: "reflect", Kind: llm.Text, Guidance: s.Problem, WordLimit: s.WordLimit,
			Messages: t.prompt(s.Name, fmt.Sprintf("Reflect on this problem in at most %d words: %s", s.WordLimit, s.Problem))})
	}); err != nil {
		return err
	}
	if err != nil {
		return err
	}
	thought := limitWords(ans.Text, s.WordLimit)
	if err := t.action(ReflectionGenerated{Type: "navigate-state-machine-reflection-state-reflection-generated",
		Reflection: thought}); err != nil {
		return err
	}
	m := t.innerThought(thought)
	t.insights.Reflections = append(t.insights.Reflections, thought)
	return t.follow(s.NextState, TransitionLog{Type: "reflection", InnerThoughtMessageID: &m.ID, ToolCallLogs: logs})
}

func (t *turn) innerThought(text string) store.Message {
	return t.addMessage(store.Message{Sender: t.agentName(), Message: text, Format: "text",
		MessageType: store.MessageAgentInnerThought})
}

func (t *turn) agentName() string {
	if n := t.agent.Identity.Name; n != "" {
		return n
	}
	return "Agent"
}

// speak chooses one of the action state's actions, lets the agent use the
// state's tools, and has the model say it.
func (t *turn) speak(s *config.ActionState) (string, error) {
	act := ""
	switch len(s.Actions) {
	case 0:
	case 1:
		act = s.Actions[0]
	default:
		ans, err := t.ask(llm.Call{Purpose: "select-action", Kind: llm.Choice, Options: s.Actions,
			Messages: t.prompt(s.Name, "Choose the action to take next.")})
		if err != nil {
			return "", err
		}
		act = s.Actions[ans.Choice]
	}
	if err := t.action(ActionSelected{Type: "navigate-state-machine-action-state-action-selected", Action: act}); err != nil {
		return "", err
	}
	if err := t.engageOverride(); err != nil {
		return "", err
	}
	logs, err := t.toolRounds(t.engageTools(s), "engage-user-tool", metaEngageUser, s.Name)
	if err != nil {
		return "", err
	}
	t.insights.EngageUserToolCallLogs = append(t.insights.EngageUserToolCallLogs, logs...)
	guidance := t.engageGuidance(act)
	ans, err := t.ask(llm.Call{Purpose: "engage-user", Kind: llm.Text, Guidance: guidance,
		Messages: t.prompt(s.Name, "Reply to the user now, doing this: "+guidance)})
	if err != nil {
		return "", err
	}
	text := strings.TrimSpace(ans.Text)
	if text == "" {
		return "", &Failure{ModelFailed, "The language model gave an empty message"}
	}
	t.insights.CurrentStateName, t.insights.CurrentStateAction, t.insights.CurrentStateObjective = s.Name, act, s.Objective
	return text, nil
}

// commit streams the agent's message, writes the interaction, and then
// announces its completion: a client that sees interaction-complete knows
// everything before it is kept.
func (t *turn) commit(text string) error {
	reply := store.Message{Sender: t.agentName(), Message: text, Format: "text", MessageType: store.MessageAgent}
	pieces := fragments(text)
	for i, p := range pieces {
		if err := t.action(MessageFragmentGenerated{Type: "engage-user-message-fragment-generated", Index: i,
			Fragment: p, IsFinal: i == len(pieces)-1}); err != nil {
			return err
		}
	}
	if t.run.Speak {
		audio, err := t.voice(text)
		if err != nil {
			return err
		}
		reply.Format, reply.SourceBlobID = "voice", &audio.blob.ID
		t.blobs = append(t.blobs, audio.blob)
		pieces = audio.pieces
	}
	agentMsg := t.addMessage(reply)
	for i, p := range pieces {
		if err := t.emit(NewMessage{Type: "new-message", Message: p, Stop: i == len(pieces)-1, SequenceNumber: i,
			MessageID: agentMsg.ID}); err != nil {
			return err
		}
	}
	state, err := json.Marshal(t.pos)
	if err != nil {
		return err
	}
	insights, err := json.Marshal(t.insights)
	if err != nil {
		return err
	}
	turn := store.Turn{OrgID: t.conv.OrgID, ConversationID: t.conv.ID, After: t.conv.Interactions,
		Interaction: store.Interaction{ID: t.interactionID, StateMachineID: t.pos.Graph.ID,
			StateMachineVersion: t.pos.Graph.Version, Insights: insights},
		Messages: t.messages, EngineState: state, Finish: t.completed, Prompts: t.prompts, Blobs: t.blobs,
		Invocations: t.invocations()}
	if t.open {
		c := t.conv
		c.EngineState = state
		turn.New = &c
	}
	if err := t.e.cfg.Store.CommitTurn(t.ctx, turn); err != nil {
		return err
	}
	return t.emit(InteractionComplete{Type: "interaction-complete", MessageID: agentMsg.ID, InteractionID: t.interactionID,
		FullMessage: text, ConversationCompleted: t.completed})
}
