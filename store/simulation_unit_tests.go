package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"
)

// SuccessCriterion is one thing a unit test expects of a simulated
// conversation: what a metric's result must be. Criterion is the
// criterion's JSON as the API carries it, checked by the caller; Type is
// its type, which must be the metric's value type.
type SuccessCriterion struct {
	Name      string          `json:"name"`
	MetricID  string          `json:"metric_id"`
	Criterion json.RawMessage `json:"criterion"`
}

// criterionType reads the type of a criterion.
func (c SuccessCriterion) criterionType() string {
	var head struct {
		Type string `json:"type"`
	}
	_ = json.Unmarshal(c.Criterion, &head)
	return head.Type
}

// SimulationUnitTest is a persona following a scenario against a service's
// version set, judged by metrics against success criteria. A deleted unit
// test stays stored and readable by its ID; its name is free.
type SimulationUnitTest struct {
	ID              string
	OrgID           string
	Name            string
	Description     string
	ServiceID       string
	VersionSetName  string
	PersonaID       string
	ScenarioID      string
	MaxInteractions int
	SuccessCriteria []SuccessCriterion
	Tags            []Tag
	IsDeleted       bool
	Creator         Actor
	UpdatedBy       Actor
	CreatedAt       time.Time
	UpdatedAt       time.Time
}

// UnitTestRun is a unit test of a set and how many times a run of the set
// runs it.
type UnitTestRun struct {
	UnitTestID string `json:"unit_test_id"`
	RunCount   int    `json:"run_count"`
}

// SimulationUnitTestSet is unit tests with run counts, run together.
type SimulationUnitTestSet struct {
	ID                 string
	OrgID              string
	Name               string
	Description        *string
	UnitTestRuns       []UnitTestRun
	LastTriggeredRunID *string
	Tags               []Tag
	IsDeleted          bool
	Creator            Actor
	UpdatedBy          Actor
	CreatedAt          time.Time
	UpdatedAt          time.Time
}

// checkUnitTestReferences makes sure what u names can be used by a new or
// changed unit test: the service and its version set, the persona and the
// scenario (not deleted), and every criterion's metric (not deleted, of
// the criterion's type). Only the references changed since before are
// checked, so that a record deleted after the unit test was made blocks
// none of its other changes; before is nil for a new unit test.
func checkUnitTestReferences(ctx context.Context, tx *sql.Tx, u SimulationUnitTest, before *SimulationUnitTest) error {
	changed := func(now, was func(SimulationUnitTest) string) bool { return before == nil || now(u) != was(*before) }
	service := func(t SimulationUnitTest) string { return t.ServiceID + "\x00" + t.VersionSetName }
	if changed(service, service) {
		svc, err := getService(ctx, tx, u.OrgID, u.ServiceID)
		if err != nil {
			return err
		}
		if _, ok := svc.VersionSets[u.VersionSetName]; !ok {
			return &NotFoundError{Kind: KindVersionSet, ID: u.VersionSetName, Owner: missing(KindService, u.ServiceID)}
		}
	}
	for _, ref := range []struct {
		k  SimulationKind
		of func(SimulationUnitTest) string
	}{
		{SimulationPersonas, func(t SimulationUnitTest) string { return t.PersonaID }},
		{SimulationScenarios, func(t SimulationUnitTest) string { return t.ScenarioID }},
	} {
		if !changed(ref.of, ref.of) {
			continue
		}
		r, err := getSimulationRecord(ctx, tx, ref.k, u.OrgID, ref.of(u))
		if err != nil {
			return err
		}
		if r.IsDeleted {
			return &RuleError{Refusal{Rule: RuleRetired, Kind: ref.k.kind, ID: r.ID}, nil}
		}
	}
	if before != nil && slices.EqualFunc(u.SuccessCriteria, before.SuccessCriteria, func(a, b SuccessCriterion) bool {
		return a.MetricID == b.MetricID && string(a.Criterion) == string(b.Criterion)
	}) {
		return nil
	}
	for _, sc := range u.SuccessCriteria {
		m, err := getMetric(ctx, tx, u.OrgID, sc.MetricID)
		if err != nil {
			return err
		}
		if m.IsDeleted {
			return &RuleError{Refusal{Rule: RuleRetired, Kind: KindMetric, ID: m.ID}, nil}
		}
		if typ := sc.criterionType(); typ != m.ValueType {
			return &RuleError{Refusal{Rule: RuleCriterionType, Kind: KindMetric, ID: m.ID, Name: m.ValueType, Of: typ}, nil}
		}
	}
	return nil
}

// CreateSimulationUnitTest stores a unit test. What it names must exist
// (*NotFoundError) and be usable (*RuleError); a live unit test of the
// same name is a *ConflictError.
func (s *Store) CreateSimulationUnitTest(ctx context.Context, u SimulationUnitTest) (SimulationUnitTest, error) {
	now := s.now()
	if u.ID == "" {
		u.ID = NewID()
	}
	u.CreatedAt, u.UpdatedAt, u.UpdatedBy, u.IsDeleted, u.Tags = now, now, u.Creator, false, nonNil(u.Tags)
	criteria, tags, err := jsonPair(u.SuccessCriteria, nonNil(u.Tags))
	if err != nil {
		return SimulationUnitTest{}, err
	}
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		if err := checkUnitTestReferences(ctx, tx, u, nil); err != nil {
			return err
		}
		const q = `INSERT INTO simulation_unit_tests (id, org_id, name, description, service_id, service_version_set_name,
			persona_id, scenario_id, max_interactions, success_criterions, tags, creator_org_id, creator_user_id,
			updated_by_org_id, updated_by_user_id, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
		_, err := tx.ExecContext(ctx, q, u.ID, u.OrgID, u.Name, u.Description, u.ServiceID, u.VersionSetName,
			u.PersonaID, u.ScenarioID, u.MaxInteractions, criteria, tags, u.Creator.OrgID, u.Creator.UserID,
			u.Creator.OrgID, u.Creator.UserID, formatTime(now), formatTime(now))
		if isUniqueViolation(err) {
			return &ConflictError{Refusal{Rule: RuleNameTaken, Kind: KindUnitTest, Name: u.Name}}
		}
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO simulation_unit_tests_fts (unit_test_id, name, description) VALUES (?, ?, ?)`,
			u.ID, u.Name, u.Description)
		return err
	})
	if err != nil {
		return SimulationUnitTest{}, fmt.Errorf("store: create simulation unit test: %w", err)
	}
	return u, nil
}

const unitTestColumns = `r.id, r.org_id, r.name, r.description, r.service_id, r.service_version_set_name, r.persona_id,
	r.scenario_id, r.max_interactions, r.success_criterions, r.tags, r.is_deleted, r.creator_org_id, r.creator_user_id,
	r.updated_by_org_id, r.updated_by_user_id, r.created_at, r.updated_at`

func scanUnitTest(row interface{ Scan(...any) error }) (SimulationUnitTest, error) {
	var u SimulationUnitTest
	var criteria, tags, created, updated string
	err := row.Scan(&u.ID, &u.OrgID, &u.Name, &u.Description, &u.ServiceID, &u.VersionSetName, &u.PersonaID,
		&u.ScenarioID, &u.MaxInteractions, &criteria, &tags, &u.IsDeleted, &u.Creator.OrgID, &u.Creator.UserID,
		&u.UpdatedBy.OrgID, &u.UpdatedBy.UserID, &created, &updated)
	if err != nil {
		return u, err
	}
	if err := json.Unmarshal([]byte(criteria), &u.SuccessCriteria); err != nil {
		return u, fmt.Errorf("unit test %s criteria: %w", u.ID, err)
	}
	if err := json.Unmarshal([]byte(tags), &u.Tags); err != nil {
		return u, fmt.Errorf("unit test %s tags: %w", u.ID, err)
	}
	if u.CreatedAt, err = parseTime(created); err != nil {
		return u, err
	}
	u.UpdatedAt, err = parseTime(updated)
	return u, err
}

// GetSimulationUnitTest returns the organization's unit test with the
// given ID, deleted or not.
func (s *Store) GetSimulationUnitTest(ctx context.Context, orgID, id string) (SimulationUnitTest, error) {
	return getUnitTest(ctx, s.read, orgID, id)
}

func getUnitTest(ctx context.Context, db queryer, orgID, id string) (SimulationUnitTest, error) {
	return getByID(ctx, db, KindUnitTest, "simulation_unit_tests", unitTestColumns, orgID, id, scanUnitTest)
}

// UnitTestFilter selects unit tests. Empty slices and nil pointers do not
// filter; a unit test matches MetricIDs if any of its criteria names one.
type UnitTestFilter struct {
	IDs         []string
	IsDeleted   *bool
	ServiceIDs  []string
	PersonaIDs  []string
	ScenarioIDs []string
	MetricIDs   []string
	Creators    []Actor
	Tags        []TagFilter
	Sort        []SortKey
}

func (f UnitTestFilter) where(orgID string) (string, []any) {
	var b strings.Builder
	args := []any{orgID}
	b.WriteString(`r.org_id = ?`)
	args = andIn(&b, args, "r.id", f.IDs)
	args = andDeleted(&b, args, f.IsDeleted)
	args = andIn(&b, args, "r.service_id", f.ServiceIDs)
	args = andIn(&b, args, "r.persona_id", f.PersonaIDs)
	args = andIn(&b, args, "r.scenario_id", f.ScenarioIDs)
	args = andAnyFieldIn(&b, args, "r.success_criterions", "metric_id", f.MetricIDs)
	args = andCreatedBy(&b, args, "r", f.Creators)
	args = andTags(&b, args, "r.tags", f.Tags)
	return b.String(), args
}

// andTags adds a condition for each tag filter on the {key, value} list
// in column.
func andTags(b *strings.Builder, args []any, column string, tags []TagFilter) []any {
	for _, tf := range tags {
		cond, targs := tagCondition(column, tf)
		b.WriteString(` AND ` + cond)
		args = append(args, targs...)
	}
	return args
}

// ListSimulationUnitTests returns every unit test of the organization
// matching f, in f.Sort order with ties broken by creation.
func (s *Store) ListSimulationUnitTests(ctx context.Context, orgID string, f UnitTestFilter) ([]SimulationUnitTest, error) {
	where, args := f.where(orgID)
	out, err := listSimulation(ctx, s, "simulation_unit_tests", unitTestColumns, where, args, f.Sort, scanUnitTest)
	if err != nil {
		return nil, fmt.Errorf("store: list simulation unit tests: %w", err)
	}
	return out, nil
}

// SearchSimulationUnitTests returns the unit tests matching f whose name
// or description holds every word of query, stemmed, best match first.
func (s *Store) SearchSimulationUnitTests(ctx context.Context, orgID, query string, f UnitTestFilter) ([]SimulationUnitTest, error) {
	where, args := f.where(orgID)
	out, err := searchSimulation(ctx, s, "simulation_unit_tests", "simulation_unit_tests_fts", "unit_test_id",
		unitTestColumns, query, where, args, scanUnitTest)
	if err != nil {
		return nil, fmt.Errorf("store: search simulation unit tests: %w", err)
	}
	return out, nil
}

// UpdateSimulationUnitTest loads the live unit test (a deleted one is
// missing), lets change modify it, checks the references it changed and
// writes it back in one transaction. Its ID and name are kept whatever
// change does.
func (s *Store) UpdateSimulationUnitTest(ctx context.Context, orgID, id string, by Actor, change func(*SimulationUnitTest) error) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		before, err := getUnitTest(ctx, tx, orgID, id)
		if err != nil {
			return err
		}
		u := before
		u.SuccessCriteria, u.Tags = slices.Clone(before.SuccessCriteria), slices.Clone(before.Tags)
		if err := change(&u); err != nil {
			return err
		}
		if before.IsDeleted {
			return missing(KindUnitTest, id)
		}
		u.ID, u.OrgID, u.Name = before.ID, before.OrgID, before.Name
		if err := checkUnitTestReferences(ctx, tx, u, &before); err != nil {
			return err
		}
		criteria, tags, err := jsonPair(u.SuccessCriteria, nonNil(u.Tags))
		if err != nil {
			return err
		}
		const q = `UPDATE simulation_unit_tests SET description = ?, service_id = ?, service_version_set_name = ?,
			persona_id = ?, scenario_id = ?, max_interactions = ?, success_criterions = ?, tags = ?,
			updated_by_org_id = ?, updated_by_user_id = ?, updated_at = ? WHERE org_id = ? AND id = ?`
		if _, err := tx.ExecContext(ctx, q, u.Description, u.ServiceID, u.VersionSetName, u.PersonaID, u.ScenarioID,
			u.MaxInteractions, criteria, tags, by.OrgID, by.UserID, formatTime(s.now()), orgID, id); err != nil {
			return fmt.Errorf("store: update simulation unit test %s: %w", id, err)
		}
		_, err = tx.ExecContext(ctx, `UPDATE simulation_unit_tests_fts SET description = ? WHERE unit_test_id = ?`,
			u.Description, id)
		return err
	})
}

// DeleteSimulationUnitTest marks the live unit test deleted (a deleted one
// is missing, as the reference says). One a live unit test set runs is a
// *RuleError (RuleInUse, the sets in Others); runs already made go on.
func (s *Store) DeleteSimulationUnitTest(ctx context.Context, orgID, id string, by Actor) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		u, err := getUnitTest(ctx, tx, orgID, id)
		if err != nil {
			return err
		}
		if u.IsDeleted {
			return missing(KindUnitTest, id)
		}
		sets, err := queryAll(ctx, tx, scanString, `SELECT s.id FROM simulation_unit_test_sets s
			WHERE s.org_id = ? AND s.is_deleted = 0
			AND EXISTS (SELECT 1 FROM json_each(s.unit_test_runs) j WHERE j.value ->> 'unit_test_id' = ?)
			ORDER BY s.created_at, s.id`, orgID, id)
		if err != nil {
			return err
		}
		if len(sets) > 0 {
			return &RuleError{Refusal{Rule: RuleInUse, Kind: KindUnitTest, ID: id, Of: string(KindUnitTestSet), Others: sets}, nil}
		}
		return markDeleted(ctx, tx, "simulation_unit_tests", orgID, id, by, s.now())
	})
}

// checkSetUnitTests makes sure every unit test a set runs exists
// (*NotFoundError) and is not deleted (*RuleError).
func checkSetUnitTests(ctx context.Context, tx *sql.Tx, orgID string, runs []UnitTestRun) error {
	for _, r := range runs {
		u, err := getUnitTest(ctx, tx, orgID, r.UnitTestID)
		if err != nil {
			return err
		}
		if u.IsDeleted {
			return &RuleError{Refusal{Rule: RuleRetired, Kind: KindUnitTest, ID: u.ID}, nil}
		}
	}
	return nil
}

// CreateSimulationUnitTestSet stores a unit test set. Its unit tests must
// exist and be live; a live set of the same name is a *ConflictError.
func (s *Store) CreateSimulationUnitTestSet(ctx context.Context, set SimulationUnitTestSet) (SimulationUnitTestSet, error) {
	now := s.now()
	if set.ID == "" {
		set.ID = NewID()
	}
	set.CreatedAt, set.UpdatedAt, set.UpdatedBy, set.IsDeleted, set.Tags = now, now, set.Creator, false, nonNil(set.Tags)
	set.LastTriggeredRunID = nil
	runs, tags, err := jsonPair(set.UnitTestRuns, nonNil(set.Tags))
	if err != nil {
		return SimulationUnitTestSet{}, err
	}
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		if err := checkSetUnitTests(ctx, tx, set.OrgID, set.UnitTestRuns); err != nil {
			return err
		}
		const q = `INSERT INTO simulation_unit_test_sets (id, org_id, name, description, unit_test_runs, tags,
			creator_org_id, creator_user_id, updated_by_org_id, updated_by_user_id, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
		_, err := tx.ExecContext(ctx, q, set.ID, set.OrgID, set.Name, set.Description, runs, tags, set.Creator.OrgID,
			set.Creator.UserID, set.Creator.OrgID, set.Creator.UserID, formatTime(now), formatTime(now))
		if isUniqueViolation(err) {
			return &ConflictError{Refusal{Rule: RuleNameTaken, Kind: KindUnitTestSet, Name: set.Name}}
		}
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO simulation_unit_test_sets_fts (unit_test_set_id, name, description)
			VALUES (?, ?, ?)`, set.ID, set.Name, set.Description)
		return err
	})
	if err != nil {
		return SimulationUnitTestSet{}, fmt.Errorf("store: create simulation unit test set: %w", err)
	}
	return set, nil
}

const unitTestSetColumns = `r.id, r.org_id, r.name, r.description, r.unit_test_runs, r.last_triggered_run_id, r.tags,
	r.is_deleted, r.creator_org_id, r.creator_user_id, r.updated_by_org_id, r.updated_by_user_id, r.created_at,
	r.updated_at`

func scanUnitTestSet(row interface{ Scan(...any) error }) (SimulationUnitTestSet, error) {
	var set SimulationUnitTestSet
	var runs, tags, created, updated string
	err := row.Scan(&set.ID, &set.OrgID, &set.Name, &set.Description, &runs, &set.LastTriggeredRunID, &tags,
		&set.IsDeleted, &set.Creator.OrgID, &set.Creator.UserID, &set.UpdatedBy.OrgID, &set.UpdatedBy.UserID,
		&created, &updated)
	if err != nil {
		return set, err
	}
	if err := json.Unmarshal([]byte(runs), &set.UnitTestRuns); err != nil {
		return set, fmt.Errorf("unit test set %s runs: %w", set.ID, err)
	}
	if err := json.Unmarshal([]byte(tags), &set.Tags); err != nil {
		return set, fmt.Errorf("unit test set %s tags: %w", set.ID, err)
	}
	if set.CreatedAt, err = parseTime(created); err != nil {
		return set, err
	}
	set.UpdatedAt, err = parseTime(updated)
	return set, err
}

// GetSimulationUnitTestSet returns the organization's unit test set with
// the given ID, deleted or not.
func (s *Store) GetSimulationUnitTestSet(ctx context.Context, orgID, id string) (SimulationUnitTestSet, error) {
	return getUnitTestSet(ctx, s.read, orgID, id)
}

func getUnitTestSet(ctx context.Context, db queryer, orgID, id string) (SimulationUnitTestSet, error) {
	return getByID(ctx, db, KindUnitTestSet, "simulation_unit_test_sets", unitTestSetColumns, orgID, id, scanUnitTestSet)
}

// UnitTestSetFilter selects unit test sets; a set matches UnitTestIDs if
// it runs any of them.
type UnitTestSetFilter struct {
	IDs         []string
	IsDeleted   *bool
	UnitTestIDs []string
	Creators    []Actor
	Tags        []TagFilter
	Sort        []SortKey
}

func (f UnitTestSetFilter) where(orgID string) (string, []any) {
	var b strings.Builder
	args := []any{orgID}
	b.WriteString(`r.org_id = ?`)
	args = andIn(&b, args, "r.id", f.IDs)
	args = andDeleted(&b, args, f.IsDeleted)
	args = andAnyFieldIn(&b, args, "r.unit_test_runs", "unit_test_id", f.UnitTestIDs)
	args = andCreatedBy(&b, args, "r", f.Creators)
	args = andTags(&b, args, "r.tags", f.Tags)
	return b.String(), args
}

// ListSimulationUnitTestSets returns every unit test set of the
// organization matching f, in f.Sort order with ties broken by creation.
func (s *Store) ListSimulationUnitTestSets(ctx context.Context, orgID string, f UnitTestSetFilter) ([]SimulationUnitTestSet, error) {
	where, args := f.where(orgID)
	out, err := listSimulation(ctx, s, "simulation_unit_test_sets", unitTestSetColumns, where, args, f.Sort, scanUnitTestSet)
	if err != nil {
		return nil, fmt.Errorf("store: list simulation unit test sets: %w", err)
	}
	return out, nil
}

// SearchSimulationUnitTestSets returns the unit test sets matching f whose
// name or description holds every word of query, best match first.
func (s *Store) SearchSimulationUnitTestSets(ctx context.Context, orgID, query string, f UnitTestSetFilter) ([]SimulationUnitTestSet, error) {
	where, args := f.where(orgID)
	out, err := searchSimulation(ctx, s, "simulation_unit_test_sets", "simulation_unit_test_sets_fts", "unit_test_set_id",
		unitTestSetColumns, query, where, args, scanUnitTestSet)
	if err != nil {
		return nil, fmt.Errorf("store: search simulation unit test sets: %w", err)
	}
	return out, nil
}

// UpdateSimulationUnitTestSet loads the live set (a deleted one is
// missing), lets change modify its name, description, unit tests and
// tags, and writes them back. Unit tests it newly runs must exist and be
// live; a name a live set has is a *ConflictError.
func (s *Store) UpdateSimulationUnitTestSet(ctx context.Context, orgID, id string, by Actor, change func(*SimulationUnitTestSet) error) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		before, err := getUnitTestSet(ctx, tx, orgID, id)
		if err != nil {
			return err
		}
		set := before
		set.UnitTestRuns, set.Tags = slices.Clone(before.UnitTestRuns), slices.Clone(before.Tags)
		if err := change(&set); err != nil {
			return err
		}
		if before.IsDeleted {
			return missing(KindUnitTestSet, id)
		}
		var added []UnitTestRun
		for _, r := range set.UnitTestRuns {
			if !slices.ContainsFunc(before.UnitTestRuns, func(b UnitTestRun) bool { return b.UnitTestID == r.UnitTestID }) {
				added = append(added, r)
			}
		}
		if err := checkSetUnitTests(ctx, tx, orgID, added); err != nil {
			return err
		}
		runs, tags, err := jsonPair(set.UnitTestRuns, nonNil(set.Tags))
		if err != nil {
			return err
		}
		const q = `UPDATE simulation_unit_test_sets SET name = ?, description = ?, unit_test_runs = ?, tags = ?,
			updated_by_org_id = ?, updated_by_user_id = ?, updated_at = ? WHERE org_id = ? AND id = ?`
		_, err = tx.ExecContext(ctx, q, set.Name, set.Description, runs, tags, by.OrgID, by.UserID,
			formatTime(s.now()), orgID, id)
		if isUniqueViolation(err) {
			return &ConflictError{Refusal{Rule: RuleNameTaken, Kind: KindUnitTestSet, Name: set.Name}}
		}
		if err != nil {
			return fmt.Errorf("store: update simulation unit test set %s: %w", id, err)
		}
		_, err = tx.ExecContext(ctx, `UPDATE simulation_unit_test_sets_fts SET name = ?, description = ?
			WHERE unit_test_set_id = ?`, set.Name, set.Description, id)
		return err
	})
}

// DeleteSimulationUnitTestSet marks the live set deleted (a deleted one is
// missing). Its runs, finished or not, go on and stay readable.
func (s *Store) DeleteSimulationUnitTestSet(ctx context.Context, orgID, id string, by Actor) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		set, err := getUnitTestSet(ctx, tx, orgID, id)
		if err != nil {
			return err
		}
		if set.IsDeleted {
			return missing(KindUnitTestSet, id)
		}
		return markDeleted(ctx, tx, "simulation_unit_test_sets", orgID, id, by, s.now())
	})
}
