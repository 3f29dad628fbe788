package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Message types, as the API names them.
const (
	MessageUser              = "user-message"
	MessageAgent             = "agent-message"
	MessageAgentInnerThought = "agent-inner-thought"
	MessageExternalEvent     = "external-event"
)

// MaxConversationTags is how many tags a conversation may carry.
const MaxConversationTags = 20

// Conversation is one user's conversation with a service, pinned when it
// was created to concrete agent and state machine versions.
type Conversation struct {
	ID                  string
	OrgID               string
	UserID              string
	ServiceID           string
	VersionSetName      string
	AgentID             string
	AgentVersion        int
	StateMachineID      string
	StateMachineVersion int
	LLMModelPreferences map[string]LLMConfig
	Tags                map[string]*string
	IsFinished          bool
	// FinalMessage is the text of the newest message; nil before the first.
	FinalMessage *string
	NumMessages  int
	FinishedAt   *time.Time
	CreatedAt    time.Time
	UpdatedAt    time.Time
	// Seed is fixed at creation; the conversation's model calls pass it.
	Seed uint64
	// EngineState is where the conversation engine left the conversation
	// after its last interaction; the store does not read it.
	EngineState json.RawMessage
	// Interactions is how many interactions have been committed.
	Interactions int
	// SimulationRunID is set on a conversation a simulation run had with a
	// simulated user; lists of conversations leave those out.
	SimulationRunID *string
	// CompletedPostProcessings are the post-processing steps done since
	// the conversation finished, in the order done.
	CompletedPostProcessings []string
}

// Message is one message of a conversation.
type Message struct {
	ID             string
	OrgID          string
	ConversationID string
	InteractionID  string
	Sender         string
	Message        string
	// Format is "text" or "voice".
	Format      string
	MessageType string
	CreatedAt   time.Time
	// SourceBlobID names the audio a voice message came from, if kept.
	SourceBlobID *string
}

// NewConversation is what CreateConversation starts a conversation from.
type NewConversation struct {
	OrgID          string
	UserID         string
	ServiceID      string
	VersionSetName string
	Tags           map[string]*string
	// Initial, if set, becomes the conversation's first message.
	Initial *Message
	// Check, if set, may refuse the conversation once its version set is
	// resolved to concrete versions, before anything is written. It is
	// given the agent version resolved, read in the same transaction.
	Check func(Conversation, AgentVersion) error
	// Simulation, if set, makes the conversation a simulated one: its
	// versions are the ones pinned, and it is not held to the rule against
	// a second unfinished conversation of its user with the service.
	Simulation *SimulatedConversation
	// hypothetical skips the rule against a second unfinished conversation.
	hypothetical bool
}

// SimulatedConversation is what a simulation run pins for one of its
// conversations.
type SimulatedConversation struct {
	RunID               string
	AgentVersion        int
	StateMachineVersion int
	LLMModelPreferences map[string]LLMConfig
	// StartsAt, if not zero, is the conversation's creation time.
	StartsAt time.Time
}

// PrepareConversation resolves what a new conversation of the user with
// the service would be, without writing it: the named version set becomes
// the agent and state machine versions it means now. A missing service or
// version set is a *NotFoundError; a version set that cannot be resolved
// (its agent deprecated, say), or an unfinished conversation of the same
// user with the same service, is a *RuleError. CommitTurn writes it,
// together with its opening interaction.
func (s *Store) PrepareConversation(ctx context.Context, n NewConversation) (Conversation, error) {
	c, err := prepareConversation(ctx, s.read, n, s.now())
	if err != nil {
		return Conversation{}, fmt.Errorf("store: prepare conversation: %w", err)
	}
	return c, nil
}

// CreateConversation prepares a conversation and writes it at once, with
// no interaction; see PrepareConversation for the refusals.
func (s *Store) CreateConversation(ctx context.Context, n NewConversation) (Conversation, error) {
	var c Conversation
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var err error
		if c, err = prepareConversation(ctx, tx, n, s.now()); err != nil {
			return err
		}
		if err := insertConversation(ctx, tx, c); err != nil {
			return err
		}
		if n.Initial != nil {
			m := *n.Initial
			m.OrgID, m.ConversationID = c.OrgID, c.ID
			if _, err := insertMessage(ctx, tx, m, c.CreatedAt); err != nil {
				return err
			}
			c.FinalMessage, c.NumMessages = &m.Message, 1
		}
		return nil
	})
	if err != nil {
		return Conversation{}, fmt.Errorf("store: create conversation: %w", err)
	}
	return c, nil
}

// HypotheticalConversation is PrepareConversation without the rule
// against a second unfinished conversation: what a conversation started
// now would use, for generating its openers.
func (s *Store) HypotheticalConversation(ctx context.Context, n NewConversation) (Conversation, error) {
	n.hypothetical = true
	c, err := prepareConversation(ctx, s.read, n, s.now())
	if err != nil {
		return Conversation{}, fmt.Errorf("store: hypothetical conversation: %w", err)
	}
	return c, nil
}

func prepareConversation(ctx context.Context, db queryer, n NewConversation, now time.Time) (Conversation, error) {
	svc, err := getService(ctx, db, n.OrgID, n.ServiceID)
	if err != nil {
		return Conversation{}, err
	}
	vs, ok := svc.VersionSets[n.VersionSetName]
	if !ok {
		return Conversation{}, &NotFoundError{Kind: KindVersionSet, ID: n.VersionSetName, Owner: missing(KindService, n.ServiceID)}
	}
	prefs := vs.LLMModelPreferences
	var agentVersion, smVersion int
	var runID *string
	if sim := n.Simulation; sim != nil {
		agentVersion, smVersion, prefs, runID = sim.AgentVersion, sim.StateMachineVersion, sim.LLMModelPreferences, &sim.RunID
		if !sim.StartsAt.IsZero() {
			now = sim.StartsAt
		}
	} else {
		if agentVersion, err = resolveVersion(ctx, db, agentKind, n.OrgID, svc.AgentID, vs.AgentVersion); err != nil {
			return Conversation{}, asRule(err)
		}
		if smVersion, err = resolveVersion(ctx, db, stateMachineKind, n.OrgID, svc.StateMachineID, vs.StateMachineVersion); err != nil {
			return Conversation{}, asRule(err)
		}
	}
	if !n.hypothetical && n.Simulation == nil {
		if err := checkNoOpenConversation(ctx, db, n.OrgID, n.UserID, n.ServiceID); err != nil {
			return Conversation{}, err
		}
	}
	c := Conversation{
		ID: NewID(), OrgID: n.OrgID, UserID: n.UserID, ServiceID: n.ServiceID, VersionSetName: n.VersionSetName,
		AgentID: svc.AgentID, AgentVersion: agentVersion, StateMachineID: svc.StateMachineID,
		StateMachineVersion: smVersion, LLMModelPreferences: prefs, Tags: n.Tags,
		CreatedAt: now, UpdatedAt: now, Seed: newSeed(), EngineState: json.RawMessage(`{}`), SimulationRunID: runID,
	}
	if c.Tags == nil {
		c.Tags = map[string]*string{}
	}
	if n.Check != nil {
		agent, err := getVersion(ctx, db, agentKind, c.OrgID, c.AgentID, c.AgentVersion)
		if err != nil {
			return Conversation{}, err
		}
		if err := n.Check(c, agent); err != nil {
			return Conversation{}, err
		}
	}
	return c, nil
}

// checkNoOpenConversation refuses a second unfinished conversation of a
// user with a service.
func checkNoOpenConversation(ctx context.Context, db queryer, orgID, userID, serviceID string) error {
	var open int
	const q = `SELECT COUNT(*) FROM conversations WHERE org_id = ? AND user_id = ? AND service_id = ? AND is_finished = 0
		AND simulation_run_id IS NULL`
	if err := db.QueryRowContext(ctx, q, orgID, userID, serviceID).Scan(&open); err != nil {
		return err
	}
	if open > 0 {
		return &RuleError{Refusal{Rule: RuleUnfinishedConversation, Kind: KindService, ID: serviceID}, nil}
	}
	return nil
}

func insertConversation(ctx context.Context, tx *sql.Tx, c Conversation) error {
	prefs, err := json.Marshal(c.LLMModelPreferences)
	if err != nil {
		return err
	}
	tags, err := json.Marshal(c.Tags)
	if err != nil {
		return err
	}
	state := c.EngineState
	if len(state) == 0 {
		state = json.RawMessage(`{}`)
	}
	const q = `INSERT INTO conversations (id, org_id, user_id, service_id, version_set_name, agent_id,
		agent_version, state_machine_id, state_machine_version, llm_model_preferences, tags, created_at, updated_at,
		seed, engine_state, simulation_run_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
	_, err = tx.ExecContext(ctx, q, c.ID, c.OrgID, c.UserID, c.ServiceID, c.VersionSetName, c.AgentID,
		c.AgentVersion, c.StateMachineID, c.StateMachineVersion, string(prefs), string(tags),
		formatTime(c.CreatedAt), formatTime(c.UpdatedAt), int64(c.Seed), string(state), c.SimulationRunID)
	return err
}

const conversationColumns = `c.id, c.org_id, c.user_id, c.service_id, c.version_set_name, c.agent_id, c.agent_version,
	c.state_machine_id, c.state_machine_version, c.llm_model_preferences, c.tags, c.is_finished, c.final_message,
	c.finished_at, c.created_at, c.updated_at,
	c.num_messages, c.seed, c.engine_state, c.interaction_count, c.simulation_run_id, c.completed_post_processings`

func scanConversation(row interface{ Scan(...any) error }) (Conversation, error) {
	var c Conversation
	var prefs, tags, created, updated, state, done string
	var final, finished sql.NullString
	var seed int64
	err := row.Scan(&c.ID, &c.OrgID, &c.UserID, &c.ServiceID, &c.VersionSetName, &c.AgentID, &c.AgentVersion,
		&c.StateMachineID, &c.StateMachineVersion, &prefs, &tags, &c.IsFinished, &final, &finished, &created,
		&updated, &c.NumMessages, &seed, &state, &c.Interactions, &c.SimulationRunID, &done)
	if err != nil {
		return Conversation{}, err
	}
	if err := json.Unmarshal([]byte(done), &c.CompletedPostProcessings); err != nil {
		return Conversation{}, fmt.Errorf("conversation %s post-processings: %w", c.ID, err)
	}
	c.Seed, c.EngineState = uint64(seed), json.RawMessage(state)
	if err := json.Unmarshal([]byte(prefs), &c.LLMModelPreferences); err != nil {
		return Conversation{}, fmt.Errorf("conversation %s preferences: %w", c.ID, err)
	}
	if err := json.Unmarshal([]byte(tags), &c.Tags); err != nil {
		return Conversation{}, fmt.Errorf("conversation %s tags: %w", c.ID, err)
	}
	if final.Valid {
		c.FinalMessage = &final.String
	}
	if finished.Valid {
		t, err := parseTime(finished.String)
		if err != nil {
			return Conversation{}, err
		}
		c.FinishedAt = &t
	}
	if c.CreatedAt, err = parseTime(created); err != nil {
		return Conversation{}, err
	}
	if c.UpdatedAt, err = parseTime(updated); err != nil {
		return Conversation{}, err
	}
	return c, nil
}

// GetConversation returns the organization's conversation with the given
// ID; a missing one is a *NotFoundError naming it.
func (s *Store) GetConversation(ctx context.Context, orgID, id string) (Conversation, error) {
	return getConversation(ctx, s.read, orgID, id)
}

func getConversation(ctx context.Context, db queryer, orgID, id string) (Conversation, error) {
	q := `SELECT ` + conversationColumns + ` FROM conversations c WHERE c.org_id = ? AND c.id = ?`
	c, err := scanConversation(db.QueryRowContext(ctx, q, orgID, id))
	if errors.Is(err, sql.ErrNoRows) {
		return Conversation{}, missing(KindConversation, id)
	}
	if err != nil {
		return Conversation{}, fmt.Errorf("store: get conversation %s: %w", id, err)
	}
	return c, nil
}

// conversationSortColumns maps the API's sort fields to columns.
var conversationSortColumns = map[string]string{"created_at": "c.created_at"}

// ValidConversationSortField reports whether ListConversations can sort by field.
var ValidConversationSortField = sortable(conversationSortColumns)

// ConversationFilter selects conversations for ListConversations. Empty
// slices and nil pointers do not filter.
type ConversationFilter struct {
	IDs        []string
	UserIDs    []string
	ServiceIDs []string
	IsFinished *bool
	Tags       []TagFilter
	Sort       []SortKey
	// Limit < 0 means no limit.
	Limit  int
	Offset int
}

// ListConversations returns a page of the organization's conversations
// matching f, in f.Sort order with ties broken by creation, and whether
// more follow.
func (s *Store) ListConversations(ctx context.Context, orgID string, f ConversationFilter) ([]Conversation, bool, error) {
	var where strings.Builder
	args := []any{orgID}
	// A simulation's conversations belong to its run, not to the lists.
	where.WriteString(`c.org_id = ? AND c.simulation_run_id IS NULL`)
	args = andIn(&where, args, "c.id", f.IDs)
	args = andIn(&where, args, "c.user_id", f.UserIDs)
	args = andIn(&where, args, "c.service_id", f.ServiceIDs)
	if f.IsFinished != nil {
		where.WriteString(` AND c.is_finished = ?`)
		args = append(args, *f.IsFinished)
	}
	for _, tf := range f.Tags {
		cond, targs := tagObjectCondition("c.tags", tf)
		where.WriteString(` AND ` + cond)
		args = append(args, targs...)
	}
	order, err := orderBy(f.Sort, conversationSortColumns)
	if err != nil {
		return nil, false, fmt.Errorf("store: list conversations: %w", err)
	}
	order = append(order, "c.created_at", "c.rowid")
	q := `SELECT ` + conversationColumns + ` FROM conversations c WHERE ` + where.String() +
		` ORDER BY ` + strings.Join(order, ", ")
	if f.Limit >= 0 {
		q += ` LIMIT ? OFFSET ?`
		args = append(args, f.Limit+1, f.Offset)
	}
	rows, err := s.read.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, false, fmt.Errorf("store: list conversations: %w", err)
	}
	defer rows.Close()
	out := []Conversation{}
	for rows.Next() {
		c, err := scanConversation(rows)
		if err != nil {
			return nil, false, fmt.Errorf("store: list conversations: %w", err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, false, fmt.Errorf("store: list conversations: %w", err)
	}
	more := false
	if f.Limit >= 0 && len(out) > f.Limit {
		out, more = out[:f.Limit], true
	}
	return out, more, nil
}

// AddMessage appends a message to an unfinished conversation of the
// organization and makes it the conversation's final message. An empty ID
// or interaction ID gets a new one. A finished conversation is a
// *ConflictError.
func (s *Store) AddMessage(ctx context.Context, m Message) (Message, error) {
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		c, err := getConversation(ctx, tx, m.OrgID, m.ConversationID)
		if err != nil {
			return err
		}
		if c.IsFinished {
			return &ConflictError{Refusal{Rule: RuleFinished, Kind: KindConversation, ID: c.ID}}
		}
		m, err = insertMessage(ctx, tx, m, s.now())
		return err
	})
	if err != nil {
		return Message{}, fmt.Errorf("store: add message: %w", err)
	}
	return m, nil
}

func insertMessage(ctx context.Context, tx *sql.Tx, m Message, now time.Time) (Message, error) {
	if m.ID == "" {
		m.ID = NewID()
	}
	if m.InteractionID == "" {
		m.InteractionID = NewID()
	}
	if m.CreatedAt.IsZero() {
		m.CreatedAt = now
	}
	const q = `INSERT INTO messages (id, org_id, conversation_id, interaction_id, sender, message, format, message_type,
		created_at, source_blob_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
	if _, err := tx.ExecContext(ctx, q, m.ID, m.OrgID, m.ConversationID, m.InteractionID, m.Sender, m.Message,
		m.Format, m.MessageType, formatTime(m.CreatedAt), m.SourceBlobID); err != nil {
		return Message{}, err
	}
	const u = `UPDATE conversations SET final_message = ?, num_messages = num_messages + 1, updated_at = ?
		WHERE org_id = ? AND id = ?`
	if _, err := tx.ExecContext(ctx, u, m.Message, formatTime(now), m.OrgID, m.ConversationID); err != nil {
		return Message{}, err
	}
	return m, nil
}

// messageSortColumns maps the API's sort fields to columns.
var messageSortColumns = map[string]string{"interaction_id": "m.interaction_id", "created_at": "m.created_at"}

// ValidMessageSortField reports whether ListMessages can sort by field.
var ValidMessageSortField = sortable(messageSortColumns)

// MessageFilter selects messages for ListMessages. Empty slices do not
// filter.
type MessageFilter struct {
	IDs            []string
	Types          []string
	InteractionIDs []string
	Sort           []SortKey
	// Limit < 0 means no limit.
	Limit  int
	Offset int
}

// ListMessages returns a page of the conversation's messages matching f,
// oldest first unless f.Sort says otherwise, and whether more follow.
func (s *Store) ListMessages(ctx context.Context, orgID, conversationID string, f MessageFilter) ([]Message, bool, error) {
	var where strings.Builder
	args := []any{orgID, conversationID}
	where.WriteString(`m.org_id = ? AND m.conversation_id = ?`)
	args = andIn(&where, args, "m.id", f.IDs)
	args = andIn(&where, args, "m.message_type", f.Types)
	args = andIn(&where, args, "m.interaction_id", f.InteractionIDs)
	order, err := orderBy(f.Sort, messageSortColumns)
	if err != nil {
		return nil, false, fmt.Errorf("store: list messages: %w", err)
	}
	order = append(order, "m.created_at", "m.rowid")
	q := `SELECT m.id, m.org_id, m.conversation_id, m.interaction_id, m.sender, m.message, m.format, m.message_type,
		m.created_at, m.source_blob_id FROM messages m WHERE ` + where.String() + ` ORDER BY ` + strings.Join(order, ", ")
	if f.Limit >= 0 {
		q += ` LIMIT ? OFFSET ?`
		args = append(args, f.Limit+1, f.Offset)
	}
	rows, err := s.read.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, false, fmt.Errorf("store: list messages: %w", err)
	}
	defer rows.Close()
	out := []Message{}
	for rows.Next() {
		var m Message
		var created string
		if err := rows.Scan(&m.ID, &m.OrgID, &m.ConversationID, &m.InteractionID, &m.Sender, &m.Message, &m.Format,
			&m.MessageType, &created, &m.SourceBlobID); err != nil {
			return nil, false, fmt.Errorf("store: list messages: %w", err)
		}
		if m.CreatedAt, err = parseTime(created); err != nil {
			return nil, false, err
		}
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		return nil, false, fmt.Errorf("store: list messages: %w", err)
	}
	more := false
	if f.Limit >= 0 && len(out) > f.Limit {
		out, more = out[:f.Limit], true
	}
	return out, more, nil
}

// FinishConversation finishes the organization's conversation once allow
// accepts it and the user who started it (nil if that user is gone), both
// read in the finishing transaction. An already finished one is a
// *ConflictError.
func (s *Store) FinishConversation(ctx context.Context, orgID, id string, allow func(c Conversation, owner *User) error) error {
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		c, err := getConversation(ctx, tx, orgID, id)
		if err != nil {
			return err
		}
		var owner *User
		switch u, err := getUser(ctx, tx, c.OrgID, c.UserID); {
		case err == nil:
			owner = &u
		case !errors.Is(err, ErrNotFound):
			return err
		}
		if err := allow(c, owner); err != nil {
			return err
		}
		if c.IsFinished {
			return &ConflictError{Refusal{Rule: RuleFinished, Kind: KindConversation, ID: id}}
		}
		now := s.now()
		const q = `UPDATE conversations SET is_finished = 1, finished_at = ?, updated_at = ? WHERE org_id = ? AND id = ?`
		if _, err = tx.ExecContext(ctx, q, formatTime(now), formatTime(now), orgID, id); err != nil {
			return err
		}
		return queuePostProcessing(ctx, tx, orgID, id, now)
	})
	if err != nil {
		return fmt.Errorf("store: finish conversation %s: %w", id, err)
	}
	signal(s.postProcessing)
	return nil
}

// ModifyConversationTags sets the updated tags and removes the deleted ones
// (absent ones are no error) once allow accepts the conversation. More than
// MaxConversationTags tags afterwards is a *RuleError, and nothing changes.
func (s *Store) ModifyConversationTags(ctx context.Context, orgID, id string, updates map[string]*string, deletes []string,
	allow func(Conversation) error) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		c, err := getConversation(ctx, tx, orgID, id)
		if err != nil {
			return err
		}
		if err := allow(c); err != nil {
			return err
		}
		for _, k := range deletes {
			delete(c.Tags, k)
		}
		for k, v := range updates {
			c.Tags[k] = v
		}
		if len(c.Tags) > MaxConversationTags {
			return &RuleError{Refusal{Rule: RuleLimit, Kind: KindConversation, ID: id, Of: "tags", Limit: MaxConversationTags}, nil}
		}
		tags, err := json.Marshal(c.Tags)
		if err != nil {
			return err
		}
		const q = `UPDATE conversations SET tags = ?, updated_at = ? WHERE org_id = ? AND id = ?`
		if _, err := tx.ExecContext(ctx, q, string(tags), formatTime(s.now()), orgID, id); err != nil {
			return fmt.Errorf("store: modify tags of conversation %s: %w", id, err)
		}
		return nil
	})
}
