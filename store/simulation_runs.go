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

// KindSimulationRun is the kind of a missing simulation unit test set run.
const KindSimulationRun Kind = "simulation unit test set run"

// Statuses of a simulation run item.
const (
	ItemPending = "pending"
	ItemRunning = "running"
	ItemDone    = "done"
	// ItemStopped: the run was cancelled before the item finished.
	ItemStopped = "stopped"
)

// SimulationRun is a run of a simulation unit test set. Specs is the JSON
// array of what the run pinned for each unit test; the store keeps it as
// the simulation package writes it.
type SimulationRun struct {
	ID                 string
	OrgID              string
	UnitTestSetID      string
	Creator            Actor
	Specs              json.RawMessage
	IsCompleted        bool
	FailedMetrics      bool
	Errored            bool
	ArtifactsGenerated bool
	Cancelled          bool
	ArtifactsBlobID    *string
	CreatedAt          time.Time
	CompletedAt        *time.Time
	// Items are the run's unit test runs, by spec and run index; filled by
	// GetSimulationRun and ListSimulationRuns.
	Items []RunItem
}

// RunItem is one run of one unit test within a run: a simulated
// conversation and its judging.
type RunItem struct {
	RunID          string
	OrgID          string
	SpecIndex      int
	UnitTestID     string
	RunIndex       int
	Status         string
	ConversationID *string
	// Error says why the item failed to run or to finish; nil if it did not.
	Error    *string
	Criteria []CriterionResult
	Attempts int
}

// CriterionResult is how one success criterion of a unit test fared in one
// run: the metric result it was judged by and whether it passed.
type CriterionResult struct {
	MetricID      string `json:"metric_id"`
	MetricVersion int    `json:"metric_version"`
	ResultID      string `json:"result_id"`
	Passed        bool   `json:"passed"`
}

// RunCount is one unit test of a new run and how many times it runs.
type RunCount struct {
	UnitTestID string
	Count      int
}

// CreateSimulationRun stores a run with an item per unit test and run
// index, pending, and makes it the set's last triggered run. A user with
// an unfinished run of the set is refused with a *ConflictError
// (RuleUnfinishedRun).
func (s *Store) CreateSimulationRun(ctx context.Context, run SimulationRun, counts []RunCount) (SimulationRun, error) {
	now := s.now()
	run.CreatedAt = now
	if run.ID == "" {
		run.ID = NewID()
	}
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var open int
		const cq = `SELECT count(*) FROM simulation_runs WHERE org_id = ? AND unit_test_set_id = ? AND creator_user_id = ?
			AND is_completed = 0`
		if err := tx.QueryRowContext(ctx, cq, run.OrgID, run.UnitTestSetID, run.Creator.UserID).Scan(&open); err != nil {
			return err
		}
		if open > 0 {
			return &ConflictError{Refusal{Rule: RuleUnfinishedRun, Kind: KindSimulationRun, ID: run.UnitTestSetID}}
		}
		const q = `INSERT INTO simulation_runs (id, org_id, unit_test_set_id, creator_org_id, creator_user_id, specs,
			created_at) VALUES (?, ?, ?, ?, ?, ?, ?)`
		if _, err := tx.ExecContext(ctx, q, run.ID, run.OrgID, run.UnitTestSetID, run.Creator.OrgID, run.Creator.UserID,
			string(run.Specs), formatTime(now)); err != nil {
			return err
		}
		for i, c := range counts {
			for n := range c.Count {
				const iq = `INSERT INTO simulation_run_items (run_id, org_id, spec_index, unit_test_id, run_index)
					VALUES (?, ?, ?, ?, ?)`
				if _, err := tx.ExecContext(ctx, iq, run.ID, run.OrgID, i, c.UnitTestID, n); err != nil {
					return err
				}
			}
		}
		const sq = `UPDATE simulation_unit_test_sets SET last_triggered_run_id = ? WHERE org_id = ? AND id = ?`
		_, err := tx.ExecContext(ctx, sq, run.ID, run.OrgID, run.UnitTestSetID)
		return err
	})
	if err != nil {
		var ce *ConflictError
		if errors.As(err, &ce) {
			return SimulationRun{}, err
		}
		return SimulationRun{}, fmt.Errorf("store: create simulation run: %w", err)
	}
	return run, nil
}

const simulationRunColumns = `r.id, r.org_id, r.unit_test_set_id, r.creator_org_id, r.creator_user_id, r.specs,
	r.is_completed, r.failed_metrics, r.errored, r.artifacts_generated, r.cancelled, r.artifacts_blob_id, r.created_at,
	r.completed_at`

func scanSimulationRun(row interface{ Scan(...any) error }) (SimulationRun, error) {
	var r SimulationRun
	var specs, created string
	var completed sql.NullString
	if err := row.Scan(&r.ID, &r.OrgID, &r.UnitTestSetID, &r.Creator.OrgID, &r.Creator.UserID, &specs, &r.IsCompleted,
		&r.FailedMetrics, &r.Errored, &r.ArtifactsGenerated, &r.Cancelled, &r.ArtifactsBlobID, &created,
		&completed); err != nil {
		return SimulationRun{}, err
	}
	r.Specs = json.RawMessage(specs)
	var err error
	if r.CreatedAt, err = parseTime(created); err != nil {
		return SimulationRun{}, err
	}
	if completed.Valid {
		t, err := parseTime(completed.String)
		if err != nil {
			return SimulationRun{}, err
		}
		r.CompletedAt = &t
	}
	return r, nil
}

// GetSimulationRun returns the organization's run with its items.
func (s *Store) GetSimulationRun(ctx context.Context, orgID, id string) (SimulationRun, error) {
	q := `SELECT ` + simulationRunColumns + ` FROM simulation_runs r WHERE r.org_id = ? AND r.id = ?`
	r, err := scanSimulationRun(s.read.QueryRowContext(ctx, q, orgID, id))
	if errors.Is(err, sql.ErrNoRows) {
		return SimulationRun{}, missing(KindSimulationRun, id)
	}
	if err != nil {
		return SimulationRun{}, fmt.Errorf("store: get simulation run %s: %w", id, err)
	}
	runs := []SimulationRun{r}
	if err := s.attachRunItems(ctx, runs); err != nil {
		return SimulationRun{}, err
	}
	return runs[0], nil
}

// SimulationRunFilter selects runs. Empty slices and nil pointers do not
// filter; Creators match as MetricFilter's do.
type SimulationRunFilter struct {
	IDs            []string
	UnitTestSetIDs []string
	Creators       []Actor
	IsCompleted    *bool
	FailedMetrics  *bool
	Errored        *bool
	CreatedAfter   *time.Time
	CreatedBefore  *time.Time
	Sort           []SortKey
}

// simulationRunSortColumns maps the API's sort fields to columns.
var simulationRunSortColumns = map[string]string{"created_at": "r.created_at"}

// ValidSimulationRunSortField reports whether ListSimulationRuns can sort
// by field.
var ValidSimulationRunSortField = sortable(simulationRunSortColumns)

// ListSimulationRuns returns every run of the organization matching f,
// with their items, oldest first unless sorted otherwise.
func (s *Store) ListSimulationRuns(ctx context.Context, orgID string, f SimulationRunFilter) ([]SimulationRun, error) {
	var b strings.Builder
	args := []any{orgID}
	b.WriteString(`r.org_id = ?`)
	args = andIn(&b, args, "r.id", f.IDs)
	args = andIn(&b, args, "r.unit_test_set_id", f.UnitTestSetIDs)
	args = andCreatedBy(&b, args, "r", f.Creators)
	for _, flag := range []struct {
		column string
		value  *bool
	}{{"r.is_completed", f.IsCompleted}, {"r.failed_metrics", f.FailedMetrics}, {"r.errored", f.Errored}} {
		if flag.value != nil {
			b.WriteString(` AND ` + flag.column + ` = ?`)
			args = append(args, *flag.value)
		}
	}
	args = andCreatedBetween(&b, args, "r.created_at", f.CreatedAfter, f.CreatedBefore)
	order, err := orderBy(f.Sort, simulationRunSortColumns)
	if err != nil {
		return nil, fmt.Errorf("store: list simulation runs: %w", err)
	}
	order = append(order, "r.created_at", "r.rowid")
	q := `SELECT ` + simulationRunColumns + ` FROM simulation_runs r WHERE ` + b.String() + ` ORDER BY ` +
		strings.Join(order, ", ")
	rows, err := s.read.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("store: list simulation runs: %w", err)
	}
	defer rows.Close()
	out := []SimulationRun{}
	for rows.Next() {
		r, err := scanSimulationRun(rows)
		if err != nil {
			return nil, fmt.Errorf("store: list simulation runs: %w", err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: list simulation runs: %w", err)
	}
	if err := s.attachRunItems(ctx, out); err != nil {
		return nil, err
	}
	return out, nil
}

const runItemColumns = `i.run_id, i.org_id, i.spec_index, i.unit_test_id, i.run_index, i.status, i.conversation_id,
	i.error, i.criteria, i.attempts`

func scanRunItem(row interface{ Scan(...any) error }) (RunItem, error) {
	var it RunItem
	var criteria string
	if err := row.Scan(&it.RunID, &it.OrgID, &it.SpecIndex, &it.UnitTestID, &it.RunIndex, &it.Status,
		&it.ConversationID, &it.Error, &criteria, &it.Attempts); err != nil {
		return RunItem{}, err
	}
	if err := json.Unmarshal([]byte(criteria), &it.Criteria); err != nil {
		return RunItem{}, fmt.Errorf("run item criteria: %w", err)
	}
	return it, nil
}

// attachRunItems reads the items of the runs, in spec and run index order.
func (s *Store) attachRunItems(ctx context.Context, runs []SimulationRun) error {
	for i := range runs {
		q := `SELECT ` + runItemColumns + ` FROM simulation_run_items i WHERE i.run_id = ?
			ORDER BY i.spec_index, i.run_index`
		rows, err := s.read.QueryContext(ctx, q, runs[i].ID)
		if err != nil {
			return fmt.Errorf("store: simulation run items: %w", err)
		}
		runs[i].Items = []RunItem{}
		for rows.Next() {
			it, err := scanRunItem(rows)
			if err != nil {
				rows.Close()
				return fmt.Errorf("store: simulation run items: %w", err)
			}
			runs[i].Items = append(runs[i].Items, it)
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return fmt.Errorf("store: simulation run items: %w", err)
		}
	}
	return nil
}

// ClaimRunItem takes the oldest pending item of any run that is not
// cancelled, marks it running and returns it; ok is false when there is
// none.
func (s *Store) ClaimRunItem(ctx context.Context) (it RunItem, ok bool, err error) {
	if found, err := s.anyRow(ctx, `SELECT 1 FROM simulation_run_items i JOIN simulation_runs r ON r.id = i.run_id
		WHERE i.status = 'pending' AND r.cancelled = 0 LIMIT 1`); err != nil || !found {
		return RunItem{}, false, err
	}
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		q := `SELECT ` + runItemColumns + ` FROM simulation_run_items i JOIN simulation_runs r ON r.id = i.run_id
			WHERE i.status = 'pending' AND r.cancelled = 0 ORDER BY r.created_at, i.spec_index, i.run_index LIMIT 1`
		it, err = scanRunItem(tx.QueryRowContext(ctx, q))
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
		const u = `UPDATE simulation_run_items SET status = 'running', attempts = attempts + 1, started_at = ?
			WHERE run_id = ? AND spec_index = ? AND run_index = ?`
		if _, err := tx.ExecContext(ctx, u, formatTime(s.now()), it.RunID, it.SpecIndex, it.RunIndex); err != nil {
			return err
		}
		it.Status, it.Attempts, ok = ItemRunning, it.Attempts+1, true
		return nil
	})
	if err != nil {
		return RunItem{}, false, fmt.Errorf("store: claim simulation run item: %w", err)
	}
	return it, ok, nil
}

// RequeueRunningItems makes every item left running (by a server that
// stopped mid-way) pending again, to be run from its start, and returns
// how many there were.
func (s *Store) RequeueRunningItems(ctx context.Context) (int, error) {
	n := 0
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		items, err := queryAll(ctx, tx, func(row interface{ Scan(...any) error }) (RunItem, error) {
			var it RunItem
			err := row.Scan(&it.RunID, &it.OrgID, &it.UnitTestID, &it.RunIndex)
			return it, err
		}, `SELECT run_id, org_id, unit_test_id, run_index FROM simulation_run_items WHERE status = 'running'`)
		if err != nil {
			return err
		}
		// The abandoned attempt's prompt logs and metric results go, so
		// the new attempt's take their keys and nothing is counted twice.
		// Its tool invocations stay: the tools did run.
		for _, it := range items {
			prefix := SimulationLogPrefix(it.RunID, it.UnitTestID, it.RunIndex)
			if _, err := tx.ExecContext(ctx, `DELETE FROM prompt_logs WHERE org_id = ? AND substr(key, 1, length(?)) = ?`,
				it.OrgID, prefix, prefix); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `DELETE FROM metric_evaluation_results WHERE org_id = ?
				AND source_type = ? AND simulation_run_id = ? AND unit_test_id = ? AND run_index = ?`,
				it.OrgID, SourceSimulation, it.RunID, it.UnitTestID, it.RunIndex); err != nil {
				return err
			}
		}
		_, err = tx.ExecContext(ctx, `UPDATE simulation_run_items SET status = 'pending', conversation_id = NULL
			WHERE status = 'running'`)
		n = len(items)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("store: requeue simulation run items: %w", err)
	}
	return n, nil
}

// SimulationLogPrefix is the prefix of the prompt log keys of one run of a
// unit test in a simulation run: the simulated user's, the engine's and
// the judge's calls all sit under it, so one prefix selects them all.
func SimulationLogPrefix(runID, unitTestID string, runIndex int) string {
	return fmt.Sprintf("simulation/%s/unit_test/%s/run/%d/", runID, unitTestID, runIndex)
}

// SetRunItemConversation records the conversation an item is having.
func (s *Store) SetRunItemConversation(ctx context.Context, it RunItem, conversationID string) error {
	_, err := s.write.ExecContext(ctx, `UPDATE simulation_run_items SET conversation_id = ?
		WHERE run_id = ? AND spec_index = ? AND run_index = ?`, conversationID, it.RunID, it.SpecIndex, it.RunIndex)
	if err != nil {
		return fmt.Errorf("store: simulation run item conversation: %w", err)
	}
	return nil
}

// FinishRunItem records how an item ended (status ItemDone or ItemStopped)
// and folds it into its run: a failed criterion sets FailedMetrics, an
// error sets Errored. last is true for the call that finished the run's
// final item, whose caller completes the run.
func (s *Store) FinishRunItem(ctx context.Context, it RunItem) (last bool, err error) {
	if it.Criteria == nil {
		it.Criteria = []CriterionResult{}
	}
	criteria, err := json.Marshal(it.Criteria)
	if err != nil {
		return false, err
	}
	failed := false
	for _, c := range it.Criteria {
		failed = failed || !c.Passed
	}
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		const q = `UPDATE simulation_run_items SET status = ?, conversation_id = ?, error = ?, criteria = ?,
			finished_at = ? WHERE run_id = ? AND spec_index = ? AND run_index = ? AND status = 'running'`
		res, err := tx.ExecContext(ctx, q, it.Status, it.ConversationID, it.Error, string(criteria), formatTime(s.now()),
			it.RunID, it.SpecIndex, it.RunIndex)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			// Cancelled meanwhile: the cancellation wrote the item's end.
			return nil
		}
		const r = `UPDATE simulation_runs SET failed_metrics = failed_metrics OR ?, errored = errored OR ? WHERE id = ?`
		if _, err := tx.ExecContext(ctx, r, failed, it.Error != nil, it.RunID); err != nil {
			return err
		}
		last, err = noItemLeft(ctx, tx, it.RunID)
		return err
	})
	if err != nil {
		return false, fmt.Errorf("store: finish simulation run item: %w", err)
	}
	return last, nil
}

func noItemLeft(ctx context.Context, tx *sql.Tx, runID string) (bool, error) {
	var left int
	const q = `SELECT count(*) FROM simulation_run_items WHERE run_id = ? AND status IN ('pending', 'running')`
	if err := tx.QueryRowContext(ctx, q, runID).Scan(&left); err != nil {
		return false, err
	}
	return left == 0, nil
}

// CancelSimulationRun marks a run cancelled and stops its pending items
// (their error says why); the items running go on until their workers
// notice. A completed or already cancelled run is a *ConflictError. last
// is true when no item is left running, so the caller completes the run.
func (s *Store) CancelSimulationRun(ctx context.Context, orgID, id, reason string) (last bool, err error) {
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		var completed, cancelled bool
		err := tx.QueryRowContext(ctx, `SELECT is_completed, cancelled FROM simulation_runs WHERE org_id = ? AND id = ?`,
			orgID, id).Scan(&completed, &cancelled)
		if errors.Is(err, sql.ErrNoRows) {
			return missing(KindSimulationRun, id)
		}
		if err != nil {
			return err
		}
		if completed || cancelled {
			return &ConflictError{Refusal{Rule: RuleNotInProgress, Kind: KindSimulationRun, ID: id}}
		}
		if _, err := tx.ExecContext(ctx, `UPDATE simulation_runs SET cancelled = 1, errored = 1 WHERE id = ?`, id); err != nil {
			return err
		}
		const q = `UPDATE simulation_run_items SET status = 'stopped', error = ?, finished_at = ?
			WHERE run_id = ? AND status = 'pending'`
		if _, err := tx.ExecContext(ctx, q, reason, formatTime(s.now()), id); err != nil {
			return err
		}
		last, err = noItemLeft(ctx, tx, id)
		return err
	})
	if err != nil {
		var ne *NotFoundError
		var ce *ConflictError
		if errors.As(err, &ne) || errors.As(err, &ce) {
			return false, err
		}
		return false, fmt.Errorf("store: cancel simulation run: %w", err)
	}
	return last, nil
}

// RunsToComplete returns the IDs and organizations of runs not completed
// that have no item left to run: a server that stopped between a run's
// last item and its completion left them so.
func (s *Store) RunsToComplete(ctx context.Context) ([][2]string, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT r.org_id, r.id FROM simulation_runs r WHERE r.is_completed = 0
		AND NOT EXISTS (SELECT 1 FROM simulation_run_items i WHERE i.run_id = r.id AND i.status IN ('pending', 'running'))`)
	if err != nil {
		return nil, fmt.Errorf("store: runs to complete: %w", err)
	}
	defer rows.Close()
	var out [][2]string
	for rows.Next() {
		var org, id string
		if err := rows.Scan(&org, &id); err != nil {
			return nil, err
		}
		out = append(out, [2]string{org, id})
	}
	return out, rows.Err()
}

// CompleteSimulationRun stores the run's artifacts and marks it completed.
func (s *Store) CompleteSimulationRun(ctx context.Context, orgID, id string, artifacts Blob) error {
	now := s.now()
	if artifacts.ID == "" {
		artifacts.ID = NewID()
	}
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		const b = `INSERT INTO blobs (id, org_id, content_type, data, created_at) VALUES (?, ?, ?, ?, ?)`
		if _, err := tx.ExecContext(ctx, b, artifacts.ID, orgID, artifacts.ContentType, artifacts.Data, formatTime(now)); err != nil {
			return err
		}
		const q = `UPDATE simulation_runs SET is_completed = 1, artifacts_generated = 1, artifacts_blob_id = ?,
			completed_at = ? WHERE org_id = ? AND id = ? AND is_completed = 0`
		_, err := tx.ExecContext(ctx, q, artifacts.ID, formatTime(now), orgID, id)
		return err
	})
	if err != nil {
		return fmt.Errorf("store: complete simulation run: %w", err)
	}
	return nil
}
