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

// The post-processing steps of a finished conversation, as the reference's
// PostAnalysisType names them, in the order they are queued.
const (
	StepUserModels = "generate-user-models"
	StepMemories   = "extract-memories"
	StepMetrics    = "compute-metrics"
)

// PostProcessingSteps lists the steps.
var PostProcessingSteps = []string{StepUserModels, StepMemories, StepMetrics}

// PostProcessingCompleteEvent is the webhook event type a finished step is
// announced by.
const PostProcessingCompleteEvent = "conversation-post-processing-complete"

// queuePostProcessing queues every step for the conversation that has
// just finished, in the transaction that finishes it. Simulated
// conversations are not processed: they are not a real user's.
func queuePostProcessing(ctx context.Context, tx *sql.Tx, orgID, conversationID string, now time.Time) error {
	steps, _ := json.Marshal(PostProcessingSteps)
	_, err := tx.ExecContext(ctx, `INSERT INTO post_processing_jobs (conversation_id, org_id, step, created_at)
		SELECT c.id, c.org_id, s.value, ? FROM conversations c, json_each(?) s
		WHERE c.org_id = ? AND c.id = ? AND c.simulation_run_id IS NULL
		ON CONFLICT (conversation_id, step) DO NOTHING`, formatTime(now), string(steps), orgID, conversationID)
	return err
}

// PostProcessingSignal is signalled when a commit has finished a
// conversation.
func (s *Store) PostProcessingSignal() <-chan struct{} { return s.postProcessing }

// PostProcessingJob is one step to run for one conversation.
type PostProcessingJob struct {
	ConversationID string
	OrgID          string
	Step           string
	// Attempts counts this one.
	Attempts int
}

// ClaimPostProcessingJob leases the oldest pending step not leased (or
// whose lease ran out: its worker stopped) for lease, counting an attempt.
func (s *Store) ClaimPostProcessingJob(ctx context.Context, lease time.Duration) (PostProcessingJob, bool, error) {
	var job PostProcessingJob
	found := false
	now := s.now()
	if found, err := s.anyRow(ctx, `SELECT 1 FROM post_processing_jobs WHERE status = 'pending'
		AND (leased_until IS NULL OR leased_until <= ?) LIMIT 1`, formatTime(now)); err != nil || !found {
		return job, false, err
	}
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		err := tx.QueryRowContext(ctx, `SELECT conversation_id, org_id, step, attempts FROM post_processing_jobs
			WHERE status = 'pending' AND (leased_until IS NULL OR leased_until <= ?)
			ORDER BY created_at, conversation_id, step LIMIT 1`, formatTime(now)).
			Scan(&job.ConversationID, &job.OrgID, &job.Step, &job.Attempts)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
		found = true
		job.Attempts++
		_, err = tx.ExecContext(ctx, `UPDATE post_processing_jobs SET attempts = ?, leased_until = ?
			WHERE conversation_id = ? AND step = ?`, job.Attempts, formatTime(now.Add(lease)), job.ConversationID, job.Step)
		return err
	})
	if err != nil {
		return PostProcessingJob{}, false, fmt.Errorf("store: claim post-processing: %w", err)
	}
	return job, found, nil
}

// UserModel is what a conversation taught about its user.
type UserModel struct {
	ID             string
	OrgID          string
	UserID         string
	ConversationID string
	Content        string
	Dimensions     []UserDimension
	InsightIDs     []string
	CreatedAt      time.Time
}

// Memory is one thing a conversation's user said worth remembering.
type Memory struct {
	ID             string
	OrgID          string
	UserID         string
	ConversationID string
	Content        string
	Context        string
	References     []string
	CreatedAt      time.Time
}

// StepResults is what a step produced.
type StepResults struct {
	UserModels []UserModel
	Memories   []Memory
}

// CompletePostProcessingStep records a step's results, marks it done,
// adds it to the conversation's completed post-processings and queues its
// webhook event, in one transaction.
func (s *Store) CompletePostProcessingStep(ctx context.Context, job PostProcessingJob, res StepResults) error {
	now := s.now()
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		for _, m := range res.UserModels {
			dims, insights, err := jsonPair(nonNil(m.Dimensions), nonNil(m.InsightIDs))
			if err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO user_models (id, org_id, user_id, conversation_id, content,
				dimensions, insight_ids, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, NewID(), job.OrgID, m.UserID,
				job.ConversationID, m.Content, dims, insights, formatTime(now)); err != nil {
				return err
			}
		}
		for _, m := range res.Memories {
			refs, err := json.Marshal(nonNil(m.References))
			if err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO memories (id, org_id, user_id, conversation_id, content,
				context, refs, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, NewID(), job.OrgID, m.UserID,
				job.ConversationID, m.Content, m.Context, string(refs), formatTime(now)); err != nil {
				return err
			}
		}
		if _, err := tx.ExecContext(ctx, `UPDATE post_processing_jobs SET status = 'done', leased_until = NULL, error = NULL
			WHERE conversation_id = ? AND step = ?`, job.ConversationID, job.Step); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE conversations SET completed_post_processings =
			json_insert(completed_post_processings, '$[#]', ?) WHERE org_id = ? AND id = ?
			AND NOT EXISTS (SELECT 1 FROM json_each(completed_post_processings) j WHERE j.value = ?)`,
			job.Step, job.OrgID, job.ConversationID, job.Step); err != nil {
			return err
		}
		_, err := s.enqueueWebhookEvent(ctx, tx, job.OrgID, PostProcessingCompleteEvent, map[string]string{
			"type": PostProcessingCompleteEvent, "post_processing_type": job.Step,
			"conversation_id": job.ConversationID, "org_id": job.OrgID}, now)
		return err
	})
	if err != nil {
		return fmt.Errorf("store: complete post-processing %s: %w", job.Step, err)
	}
	return nil
}

// FailPostProcessingStep records why a step failed. A last attempt marks
// it failed for good; otherwise it waits retryAfter before its next.
func (s *Store) FailPostProcessingStep(ctx context.Context, job PostProcessingJob, reason string, last bool, retryAfter time.Duration) error {
	status := "pending"
	if last {
		status = "failed"
	}
	_, err := s.write.ExecContext(ctx, `UPDATE post_processing_jobs SET status = ?, error = ?, leased_until = ?
		WHERE conversation_id = ? AND step = ?`, status, reason, formatTime(s.now().Add(retryAfter)),
		job.ConversationID, job.Step)
	if err != nil {
		return fmt.Errorf("store: fail post-processing %s: %w", job.Step, err)
	}
	return nil
}

// ReleasePostProcessingLeases frees the steps a stopped process was
// running, so they run again at once rather than when their lease ends.
// One process serves a data directory, so at its start no lease is live.
func (s *Store) ReleasePostProcessingLeases(ctx context.Context) error {
	_, err := s.write.ExecContext(ctx, `UPDATE post_processing_jobs SET leased_until = NULL
		WHERE status = 'pending' AND leased_until IS NOT NULL AND error IS NULL`)
	return err
}

// LatestUserModel returns the user's newest user model, if any.
func (s *Store) LatestUserModel(ctx context.Context, orgID, userID string) (UserModel, bool, error) {
	var m UserModel
	var dims, insights, created string
	err := s.read.QueryRowContext(ctx, `SELECT id, org_id, user_id, conversation_id, content, dimensions, insight_ids,
		created_at FROM user_models WHERE org_id = ? AND user_id = ? ORDER BY created_at DESC, id DESC LIMIT 1`,
		orgID, userID).Scan(&m.ID, &m.OrgID, &m.UserID, &m.ConversationID, &m.Content, &dims, &insights, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return UserModel{}, false, nil
	}
	if err != nil {
		return UserModel{}, false, fmt.Errorf("store: user model: %w", err)
	}
	if err := json.Unmarshal([]byte(dims), &m.Dimensions); err != nil {
		return UserModel{}, false, err
	}
	if err := json.Unmarshal([]byte(insights), &m.InsightIDs); err != nil {
		return UserModel{}, false, err
	}
	m.CreatedAt, err = parseTime(created)
	return m, true, err
}

// memorySortColumns maps the API's sort fields to columns.
var memorySortColumns = map[string]string{"conversation_id": "conversation_id", "created_at": "created_at"}

// ValidMemorySortField reports whether ListMemories can sort by field.
var ValidMemorySortField = sortable(memorySortColumns)

// MemoryFilter selects and pages a user's memories.
type MemoryFilter struct {
	IDs             []string
	ConversationIDs []string
	Sort            []SortKey
	Limit           int
	Offset          int
}

// ListMemories returns a page of the user's memories matching f, oldest
// first unless sorted otherwise, and whether more follow.
func (s *Store) ListMemories(ctx context.Context, orgID, userID string, f MemoryFilter) ([]Memory, bool, error) {
	var b strings.Builder
	b.WriteString(`org_id = ? AND user_id = ?`)
	args := andIn(&b, []any{orgID, userID}, "id", f.IDs)
	args = andIn(&b, args, "conversation_id", f.ConversationIDs)
	order, err := orderBy(f.Sort, memorySortColumns)
	if err != nil {
		return nil, false, fmt.Errorf("store: list memories: %w", err)
	}
	q := `SELECT id, org_id, user_id, conversation_id, content, context, refs, created_at FROM memories WHERE ` +
		b.String() + ` ORDER BY ` + strings.Join(append(order, "created_at", "id"), ", ") + ` LIMIT ? OFFSET ?`
	out, err := queryAll(ctx, s.read, func(row interface{ Scan(...any) error }) (Memory, error) {
		var m Memory
		var refs, created string
		if err := row.Scan(&m.ID, &m.OrgID, &m.UserID, &m.ConversationID, &m.Content, &m.Context, &refs, &created); err != nil {
			return m, err
		}
		if err := json.Unmarshal([]byte(refs), &m.References); err != nil {
			return m, err
		}
		var err error
		m.CreatedAt, err = parseTime(created)
		return m, err
	}, q, append(args, f.Limit+1, f.Offset)...)
	if err != nil {
		return nil, false, fmt.Errorf("store: list memories: %w", err)
	}
	more := len(out) > f.Limit
	if more {
		out = out[:f.Limit]
	}
	return out, more, nil
}
