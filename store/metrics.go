package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Metric is a question a judge answers about a conversation: a yes or no,
// a number within bounds, or one of some categories (its ValueType). Its
// name and value type never change; its description and the specifics of
// its value live in numbered, immutable versions. A deleted metric stays
// stored and readable by its ID.
type Metric struct {
	ID                string
	OrgID             string
	Name              string
	ValueType         string
	AppliedToServices []string
	AdditionalNotes   *string
	Tags              []Tag
	IsDeleted         bool
	Creator           Actor
	UpdatedBy         Actor
	CreatedAt         time.Time
	UpdatedAt         time.Time
}

// MetricVersion is one immutable version of a metric.
type MetricVersion struct {
	ID          string
	OrgID       string
	MetricID    string
	Version     int
	Description string
	// ValueType is the type Value declares; it must be the metric's.
	ValueType string
	// Value is the JSON object describing the values a result may take, as
	// the API shapes it; the caller has validated it.
	Value     json.RawMessage
	Creator   Actor
	CreatedAt time.Time
}

// CreateMetric stores a metric and its first version (number 1) in one
// transaction. The metric keeps its ID if it has one. A service in
// AppliedToServices that the organization does not have is a
// *NotFoundError; a live metric of the same name is a *ConflictError.
func (s *Store) CreateMetric(ctx context.Context, m Metric, first MetricVersion) (Metric, error) {
	now := s.now()
	if m.ID == "" {
		m.ID = NewID()
	}
	m.CreatedAt, m.UpdatedAt, m.UpdatedBy = now, now, m.Creator
	m.AppliedToServices, m.Tags = nonNil(m.AppliedToServices), nonNil(m.Tags)
	services, tags, err := jsonPair(m.AppliedToServices, m.Tags)
	if err != nil {
		return Metric{}, err
	}
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		if err := checkServices(ctx, tx, m.OrgID, m.AppliedToServices); err != nil {
			return err
		}
		const q = `INSERT INTO metrics (id, org_id, name, value_type, applied_to_services, additional_notes, tags,
			creator_org_id, creator_user_id, updated_by_org_id, updated_by_user_id, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
		_, err := tx.ExecContext(ctx, q, m.ID, m.OrgID, m.Name, m.ValueType, services, m.AdditionalNotes, tags,
			m.Creator.OrgID, m.Creator.UserID, m.Creator.OrgID, m.Creator.UserID, formatTime(now), formatTime(now))
		if isUniqueViolation(err) {
			return &ConflictError{Refusal{Rule: RuleNameTaken, Kind: KindMetric, Name: m.Name}}
		}
		if err != nil {
			return err
		}
		first.OrgID, first.MetricID, first.Version = m.OrgID, m.ID, 1
		if _, err := insertMetricVersion(ctx, tx, first, now); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO metrics_fts (metric_id, name) VALUES (?, ?)`, m.ID, m.Name)
		return err
	})
	if err != nil {
		return Metric{}, fmt.Errorf("store: create metric: %w", err)
	}
	return m, nil
}

func insertMetricVersion(ctx context.Context, tx *sql.Tx, v MetricVersion, now time.Time) (MetricVersion, error) {
	v.ID, v.CreatedAt = NewID(), now
	const q = `INSERT INTO metric_versions (id, org_id, metric_id, version, description, metric_value,
		creator_org_id, creator_user_id, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`
	if _, err := tx.ExecContext(ctx, q, v.ID, v.OrgID, v.MetricID, v.Version, v.Description, string(v.Value),
		v.Creator.OrgID, v.Creator.UserID, formatTime(now)); err != nil {
		return MetricVersion{}, fmt.Errorf("insert metric version %d: %w", v.Version, err)
	}
	return v, nil
}

const metricColumns = `m.id, m.org_id, m.name, m.value_type, m.applied_to_services, m.additional_notes, m.tags,
	m.is_deleted, m.creator_org_id, m.creator_user_id, m.updated_by_org_id, m.updated_by_user_id, m.created_at,
	m.updated_at`

func scanMetric(row interface{ Scan(...any) error }) (Metric, error) {
	var m Metric
	var services, tags, created, updated string
	err := row.Scan(&m.ID, &m.OrgID, &m.Name, &m.ValueType, &services, &m.AdditionalNotes, &tags, &m.IsDeleted,
		&m.Creator.OrgID, &m.Creator.UserID, &m.UpdatedBy.OrgID, &m.UpdatedBy.UserID, &created, &updated)
	if err != nil {
		return Metric{}, err
	}
	if err := json.Unmarshal([]byte(services), &m.AppliedToServices); err != nil {
		return Metric{}, fmt.Errorf("metric %s services: %w", m.ID, err)
	}
	if err := json.Unmarshal([]byte(tags), &m.Tags); err != nil {
		return Metric{}, fmt.Errorf("metric %s tags: %w", m.ID, err)
	}
	if m.CreatedAt, err = parseTime(created); err != nil {
		return Metric{}, err
	}
	if m.UpdatedAt, err = parseTime(updated); err != nil {
		return Metric{}, err
	}
	return m, nil
}

// GetMetric returns the organization's metric with the given ID, deleted
// or not.
func (s *Store) GetMetric(ctx context.Context, orgID, id string) (Metric, error) {
	return getMetric(ctx, s.read, orgID, id)
}

func getMetric(ctx context.Context, db queryer, orgID, id string) (Metric, error) {
	q := `SELECT ` + metricColumns + ` FROM metrics m WHERE m.org_id = ? AND m.id = ?`
	m, err := scanMetric(db.QueryRowContext(ctx, q, orgID, id))
	if errors.Is(err, sql.ErrNoRows) {
		return Metric{}, missing(KindMetric, id)
	}
	if err != nil {
		return Metric{}, fmt.Errorf("store: get metric %s: %w", id, err)
	}
	return m, nil
}

// metricSortColumns maps the API's sort fields to columns.
var metricSortColumns = map[string]string{"updated_at": "m.updated_at"}

// ValidMetricSortField reports whether ListMetrics can sort by field.
var ValidMetricSortField = sortable(metricSortColumns)

// MetricFilter selects metrics. Empty slices and nil pointers do not
// filter. A metric matches AppliedToServices if it applies to any of them,
// Types if it has any of them, and Creators if any of them made it (an
// empty Actor.OrgID matching the user in any organization).
type MetricFilter struct {
	IDs               []string
	Types             []string
	IsDeleted         *bool
	AppliedToServices []string
	Creators          []Actor
	Tags              []TagFilter
	Sort              []SortKey
}

func (f MetricFilter) where(orgID string) (string, []any) {
	var b strings.Builder
	args := []any{orgID}
	b.WriteString(`m.org_id = ?`)
	args = andIn(&b, args, "m.id", f.IDs)
	args = andIn(&b, args, "m.value_type", f.Types)
	if f.IsDeleted != nil {
		b.WriteString(` AND m.is_deleted = ?`)
		args = append(args, *f.IsDeleted)
	}
	args = andAnyIn(&b, args, "m.applied_to_services", f.AppliedToServices)
	args = andCreatedBy(&b, args, "m", f.Creators)
	for _, tf := range f.Tags {
		cond, targs := tagCondition("m.tags", tf)
		b.WriteString(` AND ` + cond)
		args = append(args, targs...)
	}
	return b.String(), args
}

// ListMetrics returns every metric of the organization matching f, in
// f.Sort order with ties broken by creation. Callers filter by visibility
// and page the result.
func (s *Store) ListMetrics(ctx context.Context, orgID string, f MetricFilter) ([]Metric, error) {
	where, args := f.where(orgID)
	order, err := orderBy(f.Sort, metricSortColumns)
	if err != nil {
		return nil, fmt.Errorf("store: list metrics: %w", err)
	}
	order = append(order, "m.created_at", "m.id")
	q := `SELECT ` + metricColumns + ` FROM metrics m WHERE ` + where + ` ORDER BY ` + strings.Join(order, ", ")
	ms, err := s.queryMetrics(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("store: list metrics: %w", err)
	}
	return ms, nil
}

// SearchMetrics returns the metrics matching f whose name contains every
// word of query (stemmed, so "refund" finds "refunds"), best match first.
func (s *Store) SearchMetrics(ctx context.Context, orgID, query string, f MetricFilter) ([]Metric, error) {
	match := ftsQuery(query)
	if match == "" {
		return []Metric{}, nil
	}
	where, args := f.where(orgID)
	q := `SELECT ` + metricColumns + ` FROM metrics_fts JOIN metrics m ON m.id = metrics_fts.metric_id
		WHERE metrics_fts MATCH ? AND ` + where + ` ORDER BY metrics_fts.rank, m.created_at, m.id`
	ms, err := s.queryMetrics(ctx, q, append([]any{match}, args...)...)
	if err != nil {
		return nil, fmt.Errorf("store: search metrics: %w", err)
	}
	return ms, nil
}

func (s *Store) queryMetrics(ctx context.Context, q string, args ...any) ([]Metric, error) {
	rows, err := s.read.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	ms := []Metric{}
	for rows.Next() {
		m, err := scanMetric(rows)
		if err != nil {
			return nil, err
		}
		ms = append(ms, m)
	}
	return ms, rows.Err()
}

// liveMetric loads a metric that may still change: a deleted one is a
// *RuleError.
func liveMetric(ctx context.Context, tx *sql.Tx, orgID, id string) (Metric, error) {
	m, err := getMetric(ctx, tx, orgID, id)
	if err != nil {
		return Metric{}, err
	}
	if m.IsDeleted {
		return Metric{}, &RuleError{Refusal{Rule: RuleDeleted, Kind: KindMetric, ID: id}, nil}
	}
	return m, nil
}

// UpdateMetric loads the live metric, lets change modify its services,
// notes and tags, and writes them back in one transaction. Services it
// newly applies to must exist (*NotFoundError). Its name and value type
// are kept whatever change does.
func (s *Store) UpdateMetric(ctx context.Context, orgID, id string, by Actor, change func(*Metric) error) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		m, err := getMetric(ctx, tx, orgID, id)
		if err != nil {
			return err
		}
		before := slices.Clone(m.AppliedToServices)
		if err := change(&m); err != nil {
			return err
		}
		// Checked after change, so that a caller without permission
		// learns nothing about the metric's state.
		if m.IsDeleted {
			return &RuleError{Refusal{Rule: RuleDeleted, Kind: KindMetric, ID: id}, nil}
		}
		// A service deleted since it was applied does not block other changes.
		var added []string
		for _, svc := range m.AppliedToServices {
			if !slices.Contains(before, svc) {
				added = append(added, svc)
			}
		}
		if err := checkServices(ctx, tx, orgID, added); err != nil {
			return err
		}
		m.AppliedToServices, m.Tags = nonNil(m.AppliedToServices), nonNil(m.Tags)
		services, tags, err := jsonPair(m.AppliedToServices, m.Tags)
		if err != nil {
			return err
		}
		const q = `UPDATE metrics SET applied_to_services = ?, additional_notes = ?, tags = ?,
			updated_by_org_id = ?, updated_by_user_id = ?, updated_at = ? WHERE org_id = ? AND id = ?`
		if _, err := tx.ExecContext(ctx, q, services, m.AdditionalNotes, tags, by.OrgID, by.UserID,
			formatTime(s.now()), orgID, id); err != nil {
			return fmt.Errorf("store: update metric %s: %w", id, err)
		}
		return nil
	})
}

// DeleteMetric marks the live metric deleted, freeing its name; it stays
// stored with its versions. A metric a simulation unit test uses is a
// *RuleError (RuleInUse), checked before check, which the caller uses to
// decide its permission on the metric as loaded.
func (s *Store) DeleteMetric(ctx context.Context, orgID, id string, by Actor, check func(Metric) error) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		m, err := getMetric(ctx, tx, orgID, id)
		if err != nil {
			return err
		}
		if err := check(m); err != nil {
			return err
		}
		if m.IsDeleted {
			return &RuleError{Refusal{Rule: RuleDeleted, Kind: KindMetric, ID: id}, nil}
		}
		users, err := metricUnitTests(ctx, tx, orgID, id)
		if err != nil {
			return err
		}
		if len(users) > 0 {
			return &RuleError{Refusal{Rule: RuleInUse, Kind: KindMetric, ID: id, Others: users}, nil}
		}
		const q = `UPDATE metrics SET is_deleted = 1, updated_by_org_id = ?, updated_by_user_id = ?, updated_at = ?
			WHERE org_id = ? AND id = ?`
		if _, err := tx.ExecContext(ctx, q, by.OrgID, by.UserID, formatTime(s.now()), orgID, id); err != nil {
			return fmt.Errorf("store: delete metric %s: %w", id, err)
		}
		return nil
	})
}

// metricUnitTests returns the IDs of the live simulation unit tests whose
// success criteria name the metric: such a metric cannot be deleted.
func metricUnitTests(ctx context.Context, tx *sql.Tx, orgID, id string) ([]string, error) {
	return queryAll(ctx, tx, scanString, `SELECT u.id FROM simulation_unit_tests u WHERE u.org_id = ? AND u.is_deleted = 0
		AND EXISTS (SELECT 1 FROM json_each(u.success_criterions) j WHERE j.value ->> 'metric_id' = ?)
		ORDER BY u.created_at, u.id`, orgID, id)
}

// CreateMetricVersion adds the next version to the live metric and returns
// it. A version whose ValueType differs from the metric's is a *RuleError
// (RuleFixedType). If want is not nil it must be that next number, else the
// write is a *ConflictError: the caller's idea of the metric is out of
// date. The metric counts as updated by the version's creator.
func (s *Store) CreateMetricVersion(ctx context.Context, orgID, metricID string, v MetricVersion, want *int) (MetricVersion, error) {
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		m, err := liveMetric(ctx, tx, orgID, metricID)
		if err != nil {
			return err
		}
		if v.ValueType != m.ValueType {
			return &RuleError{Refusal{Rule: RuleFixedType, Kind: KindMetric, ID: metricID, Name: m.ValueType}, nil}
		}
		var latest int
		if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM metric_versions WHERE metric_id = ?`,
			metricID).Scan(&latest); err != nil {
			return err
		}
		next := latest + 1
		if want != nil && *want != next {
			return &ConflictError{Refusal{Rule: RuleNextVersion, Kind: KindMetric, ID: metricID, Next: next, Want: *want}}
		}
		now := s.now()
		v.OrgID, v.MetricID, v.Version = orgID, metricID, next
		if v, err = insertMetricVersion(ctx, tx, v, now); err != nil {
			return err
		}
		const q = `UPDATE metrics SET updated_by_org_id = ?, updated_by_user_id = ?, updated_at = ? WHERE id = ?`
		_, err = tx.ExecContext(ctx, q, v.Creator.OrgID, v.Creator.UserID, formatTime(now), metricID)
		return err
	})
	if err != nil {
		return MetricVersion{}, fmt.Errorf("store: create metric version: %w", err)
	}
	return v, nil
}

// metricVersionSortColumns maps the API's sort fields to columns.
var metricVersionSortColumns = map[string]string{"version": "v.version"}

// ValidMetricVersionSortField reports whether ListMetricVersions can sort
// by field.
var ValidMetricVersionSortField = sortable(metricVersionSortColumns)

// ListMetricVersions returns a page of the metric's versions matching f,
// oldest first unless sorted otherwise, and whether more follow.
func (s *Store) ListMetricVersions(ctx context.Context, orgID, metricID string, f VersionFilter) ([]MetricVersion, bool, error) {
	var where strings.Builder
	where.WriteString(`v.org_id = ? AND v.metric_id = ?`)
	args := andVersionRange(&where, []any{orgID, metricID}, "metric_versions", "metric_id", metricID, f.Range)
	order, err := orderBy(f.Sort, metricVersionSortColumns)
	if err != nil {
		return nil, false, fmt.Errorf("store: list metric versions: %w", err)
	}
	order = append(order, "v.version")
	q := `SELECT v.id, v.org_id, v.metric_id, v.version, v.description, v.metric_value, v.creator_org_id,
		v.creator_user_id, v.created_at FROM metric_versions v WHERE ` + where.String() + ` ORDER BY ` +
		strings.Join(order, ", ") + ` LIMIT ? OFFSET ?`
	args = append(args, f.Limit+1, f.Offset)
	rows, err := s.read.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, false, fmt.Errorf("store: list metric versions: %w", err)
	}
	defer rows.Close()
	out := []MetricVersion{}
	for rows.Next() {
		var v MetricVersion
		var value, created string
		if err := rows.Scan(&v.ID, &v.OrgID, &v.MetricID, &v.Version, &v.Description, &value, &v.Creator.OrgID,
			&v.Creator.UserID, &created); err != nil {
			return nil, false, fmt.Errorf("store: list metric versions: %w", err)
		}
		v.Value = json.RawMessage(value)
		var head struct {
			Type string `json:"type"`
		}
		if err := json.Unmarshal(v.Value, &head); err != nil {
			return nil, false, fmt.Errorf("store: metric version %s value: %w", v.ID, err)
		}
		v.ValueType = head.Type
		if v.CreatedAt, err = parseTime(created); err != nil {
			return nil, false, err
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, false, err
	}
	more := len(out) > f.Limit
	if more {
		out = out[:f.Limit]
	}
	return out, more, nil
}
