// Package engine runs conversations: it walks an agent's context graphs,
// asks the language model what to do at each state, runs the tools the
// states name, and streams what happens as typed events. It knows nothing
// of HTTP; an interaction's records are written in one transaction when it
// completes, so one that fails or is abandoned leaves nothing but the tool
// runs it made.
package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"

	"github.com/compadre-dev/compadre/config"
	"github.com/compadre-dev/compadre/llm"
	"github.com/compadre-dev/compadre/store"
	"github.com/compadre-dev/compadre/tools"
	"github.com/compadre-dev/compadre/voice"
)

// Defaults of Config's limits.
const (
	// DefaultMaxTransitions bounds the state transitions of one
	// interaction, so a graph whose states lead into each other without an
	// action state between cannot loop forever.
	DefaultMaxTransitions = 25
	// DefaultMaxToolRounds bounds the tool calls the agent makes in one
	// place (while choosing an exit, while engaging the user).
	DefaultMaxToolRounds = 3
	// DefaultModelTimeout bounds one call to the language model.
	DefaultModelTimeout = 60 * time.Second
	// historyMessages is how many of a conversation's latest messages
	// prompts show.
	historyMessages = 50
)

// ToolInvoker runs published tool versions; *tools.Service is one.
type ToolInvoker interface {
	Invoke(ctx context.Context, req tools.InvokeRequest) ([]tools.Result, error)
}

// Config is what an Engine works with.
type Config struct {
	Store *store.Store
	Model llm.Provider
	Tools ToolInvoker
	// Synthesizer speaks voice replies; nil means none (Run.Speak then
	// fails the interaction).
	Synthesizer voice.Synthesizer
	Now         func() time.Time
	// MaxTransitions, MaxToolRounds and ModelTimeout default to the
	// Default constants when zero.
	MaxTransitions int
	MaxToolRounds  int
	ModelTimeout   time.Duration
}

// Engine runs interactions, one at a time per conversation.
type Engine struct {
	cfg    Config
	mu     sync.Mutex
	busy   map[string]bool
	graphs *lru.Cache[graphCacheKey, *graph]
}

// New returns an Engine.
func New(cfg Config) *Engine {
	if cfg.MaxTransitions == 0 {
		cfg.MaxTransitions = DefaultMaxTransitions
	}
	if cfg.MaxToolRounds == 0 {
		cfg.MaxToolRounds = DefaultMaxToolRounds
	}
	if cfg.ModelTimeout == 0 {
		cfg.ModelTimeout = DefaultModelTimeout
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	graphs, _ := lru.New[graphCacheKey, *graph](512)
	return &Engine{cfg: cfg, busy: map[string]bool{}, graphs: graphs}
}

// Forget drops the context graph versions read so far; the database
// they came from was replaced.
func (e *Engine) Forget() { e.graphs.Purge() }

// Hold claims the conversation for one operation (an interaction, a
// finish). ok is false while another holds it; release ends the claim.
func (e *Engine) Hold(conversationID string) (release func(), ok bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.busy[conversationID] {
		return nil, false
	}
	e.busy[conversationID] = true
	return func() {
		e.mu.Lock()
		delete(e.busy, conversationID)
		e.mu.Unlock()
	}, true
}

// ErrBusy is returned for a conversation another operation holds.
var ErrBusy = errors.New("engine: another operation on the conversation is in process")

// Failure is an interaction that could not go on, and why; Kind says
// whose fault it is, which the error event's status code tells the client.
type Failure struct {
	Kind   FailureKind
	Reason string
}

// FailureKind is whose fault a Failure is.
type FailureKind int

const (
	// GraphBroken: the context graph cannot be walked (it loops, or names
	// what does not exist).
	GraphBroken FailureKind = iota
	// ToolFailed: a tool the graph needs failed or cannot run any version.
	ToolFailed
	// ToolsUnavailable: the sandbox is not running.
	ToolsUnavailable
	// ModelFailed: the language model failed or answered nonsense.
	ModelFailed
	// ModelTimedOut: the language model did not answer in time.
	ModelTimedOut
)

func (f *Failure) Error() string { return f.Reason }

// Input kinds.
const (
	InputUserMessage   = "user-message"
	InputExternalEvent = "external-event"
	InputSkip          = "skip"
)

// Input is what a user (or the system around them) puts into an
// interaction.
type Input struct {
	// Kind is InputUserMessage, InputExternalEvent or InputSkip.
	Kind string
	// Text is the message; for voice, its transcript.
	Text string
	// Format is "text" or "voice".
	Format string
	// Sender is the name the message is shown under.
	Sender string
	// Audio, for voice, is the recording, kept as the message's source.
	Audio *store.Blob
	// Events are external events stored before the message, in order.
	Events []ExternalEvent
}

// ExternalEvent is an event from outside the conversation that the agent
// should know of.
type ExternalEvent struct {
	Content string
	At      time.Time
}

// Run says on whose behalf tools run: a regular conversation or a
// simulated one.
type Run struct {
	// Mode is tools.ModeRegular (the default) or tools.ModeSimulation.
	Mode string
	// SimulationRunID and UnitTestID are recorded on a simulated
	// conversation's tool runs.
	SimulationRunID *string
	UnitTestID      *string
	RunIndex        *int
	// UserVariables and SensitiveUserVariables are given to the tools the
	// agent calls (a simulated persona's variables).
	UserVariables          map[string]string
	SensitiveUserVariables map[string]string
	// Clock, when set, times the conversation's messages instead of the
	// server's clock: a simulated conversation runs from its scenario's
	// conversation_starts_at. Prompt logs keep the server's time.
	Clock func() time.Time
	// LogPrefix comes before the keys of the interaction's prompt logs
	// ("simulation/{run}/..." for a simulated conversation), so one prefix
	// selects a simulation run's logs.
	LogPrefix string
	// Speak has the agent answer in voice, in Language (ISO 639-3), with
	// the configured Synthesizer.
	Speak    bool
	Language string
}

// Emit sends one event to the client. An error (the client went away)
// stops the interaction, which then leaves nothing behind.
type Emit func(Event) error

// Open runs the opening turn of a conversation that PrepareConversation
// returned: the agent enters its initial state and speaks first, or
// answers initial if given. The conversation is written with the turn.
func (e *Engine) Open(ctx context.Context, c store.Conversation, initial *Input, run Run, emit Emit) error {
	if err := emit(ConversationCreated{Type: "conversation-created", ConversationID: c.ID}); err != nil {
		return err
	}
	t, err := e.newTurn(ctx, c, initial, run, emit, true)
	if err != nil {
		return err
	}
	return t.play()
}

// Interact runs one interaction of a stored, unfinished conversation.
func (e *Engine) Interact(ctx context.Context, c store.Conversation, in Input, run Run, emit Emit) error {
	t, err := e.newTurn(ctx, c, &in, run, emit, false)
	if err != nil {
		return err
	}
	err = t.play()
	if n := len(t.prompts); err != nil && n > 0 && t.prompts[n-1].Error != "" {
		// A failed model call ends the turn before it is written, and the
		// prompt logs with it; they are kept on their own, so the failure
		// can be read in get-prompt-logs. (A conversation's first turn is
		// not: the conversation it belongs to is not written either.)
		if lerr := e.cfg.Store.RecordPromptLogs(context.WithoutCancel(ctx), t.prompts); lerr != nil {
			return errors.Join(err, lerr)
		}
	}
	return err
}

// graphKey names a context graph version.
type graphKey struct {
	ID      string `json:"id"`
	Version int    `json:"version"`
}

// frame is a graph the conversation left for a referenced one, and the
// state it returns to when the referenced graph ends.
type frame struct {
	Graph    graphKey `json:"graph"`
	Jumpback string   `json:"jumpback"`
}

// position is where a conversation is, kept as the conversation's engine
// state between interactions.
type position struct {
	Graph graphKey `json:"graph"`
	State string   `json:"state"`
	Stack []frame  `json:"stack,omitempty"`
	// Kept are tool outputs kept by their result persistence, newest last,
	// which later prompts show.
	Kept []keptOutput `json:"kept,omitempty"`
	// Behavior is the dynamic behavior set version the latest interaction
	// took on, if any.
	Behavior *behaviorKey `json:"behavior,omitempty"`
}

// keptOutput is a tool output later interactions may read.
type keptOutput struct {
	Tool   string `json:"tool"`
	Output string `json:"output"`
}

// maxKept is how many kept tool outputs a conversation carries forward.
const maxKept = 10

type graphCacheKey struct {
	org string
	key graphKey
}

// graph is a context graph version read for walking.
type graph struct {
	key    graphKey
	spec   config.Graph
	states map[string]config.State
}

// graph returns a context graph version, read once: versions never change.
func (e *Engine) graph(ctx context.Context, orgID string, key graphKey) (*graph, error) {
	ck := graphCacheKey{orgID, key}
	if g, ok := e.graphs.Get(ck); ok {
		return g, nil
	}
	v, err := e.cfg.Store.GetStateMachineVersion(ctx, orgID, key.ID, key.Version)
	if err != nil {
		return nil, err
	}
	spec, err := config.ParseGraph(v.Body)
	if err != nil {
		return nil, err
	}
	states, err := spec.Decode()
	if err != nil {
		return nil, err
	}
	g := &graph{key: key, spec: spec, states: make(map[string]config.State, len(states))}
	for _, st := range states {
		g.states[st.StateName()] = st
	}
	e.graphs.Add(ck, g)
	return g, nil
}

// engineState reads a conversation's position; an empty one means the
// conversation has not had its opening turn.
func engineState(c store.Conversation) (position, error) {
	var p position
	if len(c.EngineState) == 0 {
		return p, nil
	}
	if err := json.Unmarshal(c.EngineState, &p); err != nil {
		return p, fmt.Errorf("engine: state of conversation %s: %w", c.ID, err)
	}
	return p, nil
}
