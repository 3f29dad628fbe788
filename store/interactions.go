package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// KindInteraction is the kind of a missing interaction.
const KindInteraction Kind = "interaction"

// Interaction is one committed turn of a conversation: the opening turn of
// create-conversation is Seq 0, and every interact adds one.
type Interaction struct {
	ID             string
	OrgID          string
	ConversationID string
	Seq            int
	// StateMachineID and StateMachineVersion are the context graph the
	// interaction ended in, which may be one a state referenced.
	StateMachineID      string
	StateMachineVersion int
	// Insights is the engine's record of the interaction; the store does
	// not read it.
	Insights  json.RawMessage
	CreatedAt time.Time
}

// PromptLog is one prompt sent to a model and the completion received (or
// the error instead of one).
type PromptLog struct {
	OrgID          string
	Key            string
	ConversationID *string
	InteractionID  *string
	Purpose        string
	Model          string
	// Prompt is the rendered messages, as JSON.
	Prompt     json.RawMessage
	Completion string
	Error      string
	CreatedAt  time.Time
}

// Blob is stored audio, kept as a message's source.
type Blob struct {
	ID          string
	OrgID       string
	ContentType string
	Data        []byte
	CreatedAt   time.Time
}

// Turn is everything one interaction writes, committed together.
type Turn struct {
	// New is the conversation the turn opens, written with it; nil when
	// the turn continues a stored conversation.
	New *Conversation
	// OrgID and ConversationID name the conversation when New is nil.
	OrgID          string
	ConversationID string
	// After is how many interactions the conversation had when the turn
	// began: a turn committed in between makes this one a *ConflictError.
	After       int
	Interaction Interaction
	// Messages are written in order with the IDs and times they carry.
	Messages    []Message
	EngineState json.RawMessage
	// Finish marks the conversation finished: it reached its terminal state.
	Finish  bool
	Prompts []PromptLog
	Blobs   []Blob
	// Invocations are the dynamic behavior set versions the turn invoked.
	// One whose set version is gone by the time the turn commits is left
	// out, as deleting the set would have deleted its record anyway.
	Invocations []DynamicBehaviorInvocation
}

// CommitTurn writes a turn. A conversation finished meanwhile is a
// *ConflictError, as is a turn that lost a race with another; New is
// checked again against another unfinished conversation of the same user
// and service (a *RuleError).
func (s *Store) CommitTurn(ctx context.Context, t Turn) error {
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		orgID, convID := t.OrgID, t.ConversationID
		if t.New != nil {
			orgID, convID = t.New.OrgID, t.New.ID
			if err := checkNoOpenConversation(ctx, tx, orgID, t.New.UserID, t.New.ServiceID); err != nil {
				return err
			}
			if err := insertConversation(ctx, tx, *t.New); err != nil {
				return err
			}
		} else {
			// Only the two columns the checks need: a whole conversation
			// counts its messages, which under the write lock would
			// take longer the longer the conversation.
			var finished bool
			var interactions int
			const q = `SELECT is_finished, interaction_count FROM conversations WHERE org_id = ? AND id = ?`
			err := tx.QueryRowContext(ctx, q, orgID, convID).Scan(&finished, &interactions)
			if errors.Is(err, sql.ErrNoRows) {
				return missing(KindConversation, convID)
			}
			if err != nil {
				return err
			}
			if finished {
				return &ConflictError{Refusal{Rule: RuleFinished, Kind: KindConversation, ID: convID}}
			}
			if interactions != t.After {
				return &ConflictError{Refusal{Rule: RuleBusy, Kind: KindConversation, ID: convID}}
			}
		}
		now := s.now()
		for _, b := range t.Blobs {
			const q = `INSERT INTO blobs (id, org_id, content_type, data, created_at) VALUES (?, ?, ?, ?, ?)`
			if _, err := tx.ExecContext(ctx, q, b.ID, orgID, b.ContentType, b.Data, formatTime(now)); err != nil {
				return err
			}
		}
		for _, m := range t.Messages {
			m.OrgID, m.ConversationID = orgID, convID
			if _, err := insertMessage(ctx, tx, m, now); err != nil {
				return err
			}
		}
		in := t.Interaction
		const qi = `INSERT INTO interactions (id, org_id, conversation_id, seq, state_machine_id, state_machine_version,
			insights, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`
		if _, err := tx.ExecContext(ctx, qi, in.ID, orgID, convID, t.After, in.StateMachineID, in.StateMachineVersion,
			string(in.Insights), formatTime(now)); err != nil {
			return err
		}
		for i := range t.Prompts {
			t.Prompts[i].OrgID = orgID
		}
		if err := insertPromptLogs(ctx, tx, t.Prompts); err != nil {
			return err
		}
		for _, inv := range t.Invocations {
			inv.ID, inv.OrgID, inv.ConversationID = NewID(), orgID, convID
			if _, err := insertDynamicBehaviorInvocation(ctx, tx, inv, now); err != nil {
				return err
			}
		}
		nowText := formatTime(now)
		const qc = `UPDATE conversations SET engine_state = ?, interaction_count = interaction_count + 1, updated_at = ?,
			is_finished = is_finished OR ?, finished_at = CASE WHEN ? THEN ? ELSE finished_at END
			WHERE org_id = ? AND id = ?`
		if _, err := tx.ExecContext(ctx, qc, string(t.EngineState), nowText, t.Finish, t.Finish, nowText, orgID, convID); err != nil {
			return err
		}
		if t.Finish {
			return queuePostProcessing(ctx, tx, orgID, convID, now)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("store: commit turn: %w", err)
	}
	if t.Finish {
		signal(s.postProcessing)
	}
	return nil
}

// RecordPromptLogs stores prompt logs made outside an interaction's turn
// (recommendations for a conversation, say).
func (s *Store) RecordPromptLogs(ctx context.Context, logs []PromptLog) error {
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		return insertPromptLogs(ctx, tx, logs)
	})
	if err != nil {
		return fmt.Errorf("store: record prompt logs: %w", err)
	}
	return nil
}

func insertPromptLogs(ctx context.Context, tx *sql.Tx, logs []PromptLog) error {
	for _, p := range logs {
		const q = `INSERT INTO prompt_logs (org_id, key, conversation_id, interaction_id, purpose, model, prompt,
			completion, error, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
		if _, err := tx.ExecContext(ctx, q, p.OrgID, p.Key, p.ConversationID, p.InteractionID, p.Purpose, p.Model,
			string(p.Prompt), p.Completion, p.Error, formatTime(p.CreatedAt)); err != nil {
			return err
		}
	}
	return nil
}

// PromptLogs returns the organization's prompt logs whose key starts with
// prefix, oldest first, at most limit of them.
func (s *Store) PromptLogs(ctx context.Context, orgID, prefix string, limit int) ([]PromptLog, error) {
	const q = `SELECT key, conversation_id, interaction_id, purpose, model, prompt, completion, error, created_at
		FROM prompt_logs WHERE org_id = ? AND substr(key, 1, ?) = ? ORDER BY created_at, key LIMIT ?`
	rows, err := s.read.QueryContext(ctx, q, orgID, len(prefix), prefix, limit)
	if err != nil {
		return nil, fmt.Errorf("store: prompt logs: %w", err)
	}
	defer rows.Close()
	var out []PromptLog
	for rows.Next() {
		p := PromptLog{OrgID: orgID}
		var prompt, created string
		if err := rows.Scan(&p.Key, &p.ConversationID, &p.InteractionID, &p.Purpose, &p.Model, &prompt, &p.Completion,
			&p.Error, &created); err != nil {
			return nil, fmt.Errorf("store: prompt logs: %w", err)
		}
		p.Prompt = json.RawMessage(prompt)
		if p.CreatedAt, err = parseTime(created); err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

const interactionColumns = `id, org_id, conversation_id, seq, state_machine_id, state_machine_version, insights, created_at`

func scanInteraction(row interface{ Scan(...any) error }) (Interaction, error) {
	var in Interaction
	var insights, created string
	if err := row.Scan(&in.ID, &in.OrgID, &in.ConversationID, &in.Seq, &in.StateMachineID, &in.StateMachineVersion,
		&insights, &created); err != nil {
		return Interaction{}, err
	}
	in.Insights = json.RawMessage(insights)
	var err error
	in.CreatedAt, err = parseTime(created)
	return in, err
}

// GetInteraction returns an interaction of the organization's
// conversation; a missing one is a *NotFoundError.
func (s *Store) GetInteraction(ctx context.Context, orgID, conversationID, id string) (Interaction, error) {
	q := `SELECT ` + interactionColumns + ` FROM interactions WHERE org_id = ? AND conversation_id = ? AND id = ?`
	in, err := scanInteraction(s.read.QueryRowContext(ctx, q, orgID, conversationID, id))
	if errors.Is(err, sql.ErrNoRows) {
		return Interaction{}, missing(KindInteraction, id)
	}
	if err != nil {
		return Interaction{}, fmt.Errorf("store: get interaction %s: %w", id, err)
	}
	return in, nil
}

// LatestInteraction returns the conversation's newest interaction; a
// conversation without one is a *NotFoundError naming the conversation's
// interactions.
func (s *Store) LatestInteraction(ctx context.Context, orgID, conversationID string) (Interaction, error) {
	q := `SELECT ` + interactionColumns + ` FROM interactions WHERE org_id = ? AND conversation_id = ?
		ORDER BY seq DESC LIMIT 1`
	in, err := scanInteraction(s.read.QueryRowContext(ctx, q, orgID, conversationID))
	if errors.Is(err, sql.ErrNoRows) {
		return Interaction{}, &NotFoundError{Kind: KindInteraction, Owner: missing(KindConversation, conversationID)}
	}
	if err != nil {
		return Interaction{}, fmt.Errorf("store: latest interaction of %s: %w", conversationID, err)
	}
	return in, nil
}

// GetBlob returns the organization's stored audio; a missing one is a
// *NotFoundError.
func (s *Store) GetBlob(ctx context.Context, orgID, id string) (Blob, error) {
	b := Blob{ID: id, OrgID: orgID}
	var created string
	const q = `SELECT content_type, data, created_at FROM blobs WHERE org_id = ? AND id = ?`
	err := s.read.QueryRowContext(ctx, q, orgID, id).Scan(&b.ContentType, &b.Data, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return Blob{}, missing(KindBlob, id)
	}
	if err != nil {
		return Blob{}, fmt.Errorf("store: get blob %s: %w", id, err)
	}
	b.CreatedAt, err = parseTime(created)
	return b, err
}
