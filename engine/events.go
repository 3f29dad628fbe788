package engine

// The events an interaction streams, shaped as the reference's event
// schemas; http/ writes each as one line of NDJSON.

// Event is one streamed event.
type Event interface{ EventType() string }

// ConversationCreated opens create-conversation's stream.
type ConversationCreated struct {
	Type           string `json:"type"`
	ConversationID string `json:"conversation_id"`
}

// UserMessageAvailable opens an interact stream: the user's message as the
// agent reads it (for voice, the transcript).
type UserMessageAvailable struct {
	Type        string `json:"type"`
	MessageID   string `json:"message_id"`
	UserMessage string `json:"user_message"`
}

// CurrentAgentAction reports one step of the agent's work. Action is one
// of the action types below; ActionType names it for filtering.
type CurrentAgentAction struct {
	Type   string `json:"type"`
	Action Action `json:"action"`
}

// NewMessage is one piece of the agent's message.
type NewMessage struct {
	Type    string `json:"type"`
	Message string `json:"message"`
	// TranscriptAlignment is null for text.
	TranscriptAlignment *[][2]any `json:"transcript_alignment"`
	Stop                bool      `json:"stop"`
	SequenceNumber      int       `json:"sequence_number"`
	MessageID           string    `json:"message_id"`
}

// InteractionComplete closes a stream once the interaction is committed.
type InteractionComplete struct {
	Type                  string `json:"type"`
	MessageID             string `json:"message_id"`
	InteractionID         string `json:"interaction_id"`
	FullMessage           string `json:"full_message"`
	ConversationCompleted bool   `json:"conversation_completed"`
}

// Error ends a stream that failed; before InteractionComplete it means
// nothing of the interaction was kept.
type Error struct {
	Type             string `json:"type"`
	HTTPErrorCode    int    `json:"http_error_code"`
	ErrorDescription string `json:"error_description"`
}

func (ConversationCreated) EventType() string  { return "conversation-created" }
func (UserMessageAvailable) EventType() string { return "user-message-available" }
func (CurrentAgentAction) EventType() string   { return "current-agent-action" }
func (NewMessage) EventType() string           { return "new-message" }
func (InteractionComplete) EventType() string  { return "interaction-complete" }
func (Error) EventType() string                { return "error" }

// Action is one of the agent action types of actions.go.
type Action interface {
	// ActionType is the action's type, which current_agent_action_type
	// filters on.
	ActionType() string
}
