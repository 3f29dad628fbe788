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

// Evaluation sources: why a judge was asked.
const (
	SourceManual      = "manual"
	SourcePostSession = "post-session"
	SourceSimulation  = "simulation"
)

// EvaluationSource says why a metric result was produced, with the fields
// of its Type only.
type EvaluationSource struct {
	Type string
	// ConversationID: manual and post-session sources.
	ConversationID string
	// EvaluateToInteractionID and InvokedBy: manual sources.
	EvaluateToInteractionID *string
	InvokedBy               Actor
	// SimulationRunID, UnitTestID and RunIndex: simulation sources.
	SimulationRunID string
	UnitTestID      string
	RunIndex        int
}

// MetricResult is what a judge answered about a conversation for one
// version of a metric.
type MetricResult struct {
	ID            string
	OrgID         string
	MetricID      string
	MetricVersion int
	// Result is JSON: a boolean, a number, a category, or null for "not
	// applicable".
	Result        json.RawMessage
	Justification string
	// References are the IDs of the messages the judge's answer rests on.
	References []string
	Source     EvaluationSource
	CreatedAt  time.Time
	UpdatedAt  time.Time
}

// LatestMetricVersion returns the organization's metric, deleted or not,
// and its latest version.
func (s *Store) LatestMetricVersion(ctx context.Context, orgID, metricID string) (Metric, MetricVersion, error) {
	m, err := s.GetMetric(ctx, orgID, metricID)
	if err != nil {
		return Metric{}, MetricVersion{}, err
	}
	vs, _, err := s.ListMetricVersions(ctx, orgID, metricID, VersionFilter{Range: VersionRange{Latest: true}, Limit: 1})
	if err != nil {
		return Metric{}, MetricVersion{}, err
	}
	if len(vs) == 0 {
		return Metric{}, MetricVersion{}, fmt.Errorf("store: metric %s has no version", metricID)
	}
	return m, vs[0], nil
}

// Transcript returns the conversation's messages, oldest first, up to and
// including those of the interaction upTo when it is not nil, and how many
// interactions that covers. An upTo the conversation does not have is a
// *NotFoundError.
func (s *Store) Transcript(ctx context.Context, orgID, conversationID string, upTo *string) ([]Message, int, error) {
	last := -1
	if upTo != nil {
		const q = `SELECT seq FROM interactions WHERE org_id = ? AND conversation_id = ? AND id = ?`
		err := s.read.QueryRowContext(ctx, q, orgID, conversationID, *upTo).Scan(&last)
		if errors.Is(err, sql.ErrNoRows) {
			return nil, 0, missing(KindInteraction, *upTo)
		}
		if err != nil {
			return nil, 0, fmt.Errorf("store: transcript: %w", err)
		}
	}
	var count int
	const cq = `SELECT count(*) FROM interactions WHERE org_id = ? AND conversation_id = ? AND (? < 0 OR seq <= ?)`
	if err := s.read.QueryRowContext(ctx, cq, orgID, conversationID, last, last).Scan(&count); err != nil {
		return nil, 0, fmt.Errorf("store: transcript: %w", err)
	}
	const q = `SELECT m.id, m.org_id, m.conversation_id, m.interaction_id, m.sender, m.message, m.format,
		m.message_type, m.created_at, m.source_blob_id
		FROM messages m JOIN interactions i ON i.id = m.interaction_id
		WHERE m.org_id = ? AND m.conversation_id = ? AND (? < 0 OR i.seq <= ?)
		ORDER BY i.seq, m.created_at, m.rowid`
	rows, err := s.read.QueryContext(ctx, q, orgID, conversationID, last, last)
	if err != nil {
		return nil, 0, fmt.Errorf("store: transcript: %w", err)
	}
	defer rows.Close()
	var out []Message
	for rows.Next() {
		var m Message
		var created string
		if err := rows.Scan(&m.ID, &m.OrgID, &m.ConversationID, &m.InteractionID, &m.Sender, &m.Message, &m.Format,
			&m.MessageType, &created, &m.SourceBlobID); err != nil {
			return nil, 0, fmt.Errorf("store: transcript: %w", err)
		}
		if m.CreatedAt, err = parseTime(created); err != nil {
			return nil, 0, err
		}
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, fmt.Errorf("store: transcript: %w", err)
	}
	return out, count, nil
}

// RecordMetricResults stores results and the prompt logs of the judging
// that produced them, in one transaction, and returns the results as
// stored. A manual result replaces the conversation's earlier manual
// result for the same metric. A result for a metric deleted meanwhile is
// a *RuleError (RuleDeleted) unless it comes from a simulation, which
// keeps evaluating the metrics its unit tests named.
func (s *Store) RecordMetricResults(ctx context.Context, results []MetricResult, logs []PromptLog) ([]MetricResult, error) {
	now := s.now()
	out := make([]MetricResult, len(results))
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		if err := insertPromptLogs(ctx, tx, logs); err != nil {
			return err
		}
		for i, r := range results {
			if r.Source.Type != SourceSimulation {
				m, err := getMetric(ctx, tx, r.OrgID, r.MetricID)
				if err != nil {
					return err
				}
				if m.IsDeleted {
					return &RuleError{Refusal{Rule: RuleRetired, Kind: KindMetric, ID: m.ID}, nil}
				}
			}
			// A conversation has one manual and one post-session result per
			// metric: a later one (a rerun of post-processing too) replaces it.
			if r.Source.Type == SourceManual || r.Source.Type == SourcePostSession {
				const del = `DELETE FROM metric_evaluation_results
					WHERE source_type = ? AND conversation_id = ? AND metric_id = ?`
				if _, err := tx.ExecContext(ctx, del, r.Source.Type, r.Source.ConversationID, r.MetricID); err != nil {
					return err
				}
			}
			if r.ID == "" {
				r.ID = NewID()
			}
			r.CreatedAt, r.UpdatedAt = now, now
			if r.References == nil {
				r.References = []string{}
			}
			refs, err := json.Marshal(r.References)
			if err != nil {
				return err
			}
			src := r.Source
			var conv, upTo, byOrg, byUser, run, unitTest any
			var runIndex any
			switch src.Type {
			case SourceManual:
				conv, upTo, byOrg, byUser = src.ConversationID, src.EvaluateToInteractionID, src.InvokedBy.OrgID, src.InvokedBy.UserID
			case SourcePostSession:
				conv = src.ConversationID
			case SourceSimulation:
				run, unitTest, runIndex = src.SimulationRunID, src.UnitTestID, src.RunIndex
			default:
				return fmt.Errorf("unknown evaluation source %q", src.Type)
			}
			const q = `INSERT INTO metric_evaluation_results (id, org_id, metric_id, metric_version, result,
				justification, message_references, source_type, conversation_id, evaluate_to_interaction_id,
				invoked_by_org_id, invoked_by_user_id, simulation_run_id, unit_test_id, run_index, created_at,
				updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
			if _, err := tx.ExecContext(ctx, q, r.ID, r.OrgID, r.MetricID, r.MetricVersion, string(r.Result),
				r.Justification, string(refs), src.Type, conv, upTo, byOrg, byUser, run, unitTest, runIndex,
				formatTime(now), formatTime(now)); err != nil {
				return err
			}
			out[i] = r
		}
		return nil
	})
	if err != nil {
		var re *RuleError
		var ne *NotFoundError
		if errors.As(err, &re) || errors.As(err, &ne) {
			return nil, err
		}
		return nil, fmt.Errorf("store: record metric results: %w", err)
	}
	return out, nil
}

// MetricIDVersion names a metric and, unless Version is nil, one of its
// versions.
type MetricIDVersion struct {
	MetricID string
	Version  *int
}

// metricResultSortColumns maps the API's sort fields to columns.
var metricResultSortColumns = map[string]string{"created_at": "r.created_at"}

// ValidMetricResultSortField reports whether ListMetricResults can sort by
// field.
var ValidMetricResultSortField = sortable(metricResultSortColumns)

// MetricResultFilter selects metric results. Empty slices and nil pointers
// do not filter, except Visible: when it is not nil, only results of the
// metrics it names are returned.
type MetricResultFilter struct {
	After, Before *time.Time
	MetricIDs     []string
	// MetricVersions match a result of any of them.
	MetricVersions   []MetricIDVersion
	SourceTypes      []string
	ConversationIDs  []string
	SimulationRunIDs []string
	Visible          []string
	Sort             []SortKey
	Limit            int
	Offset           int
}

func (f MetricResultFilter) where(orgID string) (string, []any) {
	var b strings.Builder
	args := []any{orgID}
	b.WriteString(`r.org_id = ?`)
	if f.After != nil {
		b.WriteString(` AND r.created_at >= ?`)
		args = append(args, formatTime(*f.After))
	}
	if f.Before != nil {
		b.WriteString(` AND r.created_at <= ?`)
		args = append(args, formatTime(*f.Before))
	}
	args = andIn(&b, args, "r.metric_id", f.MetricIDs)
	if len(f.MetricVersions) > 0 {
		b.WriteString(` AND (`)
		for i, mv := range f.MetricVersions {
			if i > 0 {
				b.WriteString(` OR `)
			}
			if mv.Version == nil {
				b.WriteString(`r.metric_id = ?`)
				args = append(args, mv.MetricID)
			} else {
				b.WriteString(`(r.metric_id = ? AND r.metric_version = ?)`)
				args = append(args, mv.MetricID, *mv.Version)
			}
		}
		b.WriteString(`)`)
	}
	args = andIn(&b, args, "r.source_type", f.SourceTypes)
	args = andIn(&b, args, "r.conversation_id", f.ConversationIDs)
	args = andIn(&b, args, "r.simulation_run_id", f.SimulationRunIDs)
	if f.Visible != nil {
		if len(f.Visible) == 0 {
			b.WriteString(` AND 0`)
		}
		args = andIn(&b, args, "r.metric_id", f.Visible)
	}
	return b.String(), args
}

// ListMetricResults returns a page of the organization's metric results
// matching f, oldest first unless sorted otherwise, whether more follow,
// and the IDs of the metrics all the results matching f but Visible are of.
func (s *Store) ListMetricResults(ctx context.Context, orgID string, f MetricResultFilter) ([]MetricResult, bool, []string, error) {
	where, args := f.where(orgID)
	order, err := orderBy(f.Sort, metricResultSortColumns)
	if err != nil {
		return nil, false, nil, fmt.Errorf("store: list metric results: %w", err)
	}
	order = append(order, "r.created_at", "r.rowid")
	q := `SELECT r.id, r.org_id, r.metric_id, r.metric_version, r.result, r.justification, r.message_references,
		r.source_type, r.conversation_id, r.evaluate_to_interaction_id, r.invoked_by_org_id, r.invoked_by_user_id,
		r.simulation_run_id, r.unit_test_id, r.run_index, r.created_at, r.updated_at
		FROM metric_evaluation_results r WHERE ` + where + ` ORDER BY ` + strings.Join(order, ", ") + ` LIMIT ? OFFSET ?`
	rows, err := s.read.QueryContext(ctx, q, append(args, f.Limit+1, f.Offset)...)
	if err != nil {
		return nil, false, nil, fmt.Errorf("store: list metric results: %w", err)
	}
	defer rows.Close()
	out := []MetricResult{}
	for rows.Next() {
		r, err := scanMetricResult(rows)
		if err != nil {
			return nil, false, nil, fmt.Errorf("store: list metric results: %w", err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, false, nil, fmt.Errorf("store: list metric results: %w", err)
	}
	more := len(out) > f.Limit
	if more {
		out = out[:f.Limit]
	}
	// The reference counts filter values as if the caller could see every
	// result, as get-metrics does.
	f.Visible = nil
	where, args = f.where(orgID)
	ids, err := s.distinctStrings(ctx, `SELECT DISTINCT r.metric_id FROM metric_evaluation_results r WHERE `+where+
		` ORDER BY r.metric_id`, args...)
	if err != nil {
		return nil, false, nil, fmt.Errorf("store: list metric results: %w", err)
	}
	return out, more, ids, nil
}

func (s *Store) distinctStrings(ctx context.Context, q string, args ...any) ([]string, error) {
	rows, err := s.read.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []string{}
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

func scanMetricResult(row interface{ Scan(...any) error }) (MetricResult, error) {
	var r MetricResult
	var result, refs, created, updated string
	var conv, byOrg, byUser, run, unitTest sql.NullString
	var runIndex sql.NullInt64
	if err := row.Scan(&r.ID, &r.OrgID, &r.MetricID, &r.MetricVersion, &result, &r.Justification, &refs,
		&r.Source.Type, &conv, &r.Source.EvaluateToInteractionID, &byOrg, &byUser, &run, &unitTest, &runIndex,
		&created, &updated); err != nil {
		return MetricResult{}, err
	}
	r.Result = json.RawMessage(result)
	if err := json.Unmarshal([]byte(refs), &r.References); err != nil {
		return MetricResult{}, fmt.Errorf("metric result %s references: %w", r.ID, err)
	}
	r.Source.ConversationID = conv.String
	r.Source.InvokedBy = Actor{OrgID: byOrg.String, UserID: byUser.String}
	r.Source.SimulationRunID, r.Source.UnitTestID, r.Source.RunIndex = run.String, unitTest.String, int(runIndex.Int64)
	var err error
	if r.CreatedAt, err = parseTime(created); err != nil {
		return MetricResult{}, err
	}
	if r.UpdatedAt, err = parseTime(updated); err != nil {
		return MetricResult{}, err
	}
	return r, nil
}
