package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// DynamicBehaviorSet is a named set of behaviors (instructions to inject,
// tools to offer) that a conversation of the services it applies to takes
// on when one of its triggers matches. Its content lives in numbered,
// immutable versions; the set itself carries what can change in place.
type DynamicBehaviorSet struct {
	ID                string
	OrgID             string
	Name              string
	IsActive          bool
	AppliedToServices []string
	Tags              []Tag
	// LatestVersion is the number of the newest version (read only).
	LatestVersion int
	Creator       Actor
	UpdatedBy     Actor
	CreatedAt     time.Time
	UpdatedAt     time.Time
}

// DynamicBehaviorSetVersion is one immutable version of a set.
type DynamicBehaviorSetVersion struct {
	ID                   string
	OrgID                string
	SetID                string
	Version              int
	ConversationTriggers []string
	// Actions is the JSON array of the version's actions, as the API shapes
	// them; the caller has validated it.
	Actions   json.RawMessage
	Creator   Actor
	CreatedAt time.Time
	UpdatedAt time.Time
}

// dynamicBehaviorBody is what a version stores in its body column.
type dynamicBehaviorBody struct {
	ConversationTriggers []string        `json:"conversation_triggers"`
	Actions              json.RawMessage `json:"actions"`
}

// resourceBehaviorSet is a dynamic behavior set's resource_type in
// resource-updated events.
const resourceBehaviorSet = "dynamic_behavior_set"

// CreateDynamicBehaviorSet stores a set and its first version (number 1) in
// one transaction. The set keeps its ID if it has one (the caller may need
// it before the set exists, to check permissions against it). A service in
// AppliedToServices that the organization does not have is a
// *NotFoundError; an active set named like another active one is a
// *ConflictError.
func (s *Store) CreateDynamicBehaviorSet(ctx context.Context, set DynamicBehaviorSet, first DynamicBehaviorSetVersion) (DynamicBehaviorSet, error) {
	now := s.now()
	if set.ID == "" {
		set.ID = NewID()
	}
	set.CreatedAt, set.UpdatedAt, set.UpdatedBy = now, now, set.Creator
	set.LatestVersion = 1
	if set.AppliedToServices == nil {
		set.AppliedToServices = []string{}
	}
	if set.Tags == nil {
		set.Tags = []Tag{}
	}
	services, tags, err := jsonPair(set.AppliedToServices, set.Tags)
	if err != nil {
		return DynamicBehaviorSet{}, err
	}
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		if err := checkServices(ctx, tx, set.OrgID, set.AppliedToServices); err != nil {
			return err
		}
		const q = `INSERT INTO dynamic_behavior_sets (id, org_id, name, is_active, applied_to_services, tags,
			creator_org_id, creator_user_id, updated_by_org_id, updated_by_user_id, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
		_, err := tx.ExecContext(ctx, q, set.ID, set.OrgID, set.Name, set.IsActive, services, tags,
			set.Creator.OrgID, set.Creator.UserID, set.Creator.OrgID, set.Creator.UserID, formatTime(now), formatTime(now))
		if isUniqueViolation(err) {
			return activeNameConflict(set.Name)
		}
		if err != nil {
			return err
		}
		first.SetID, first.OrgID, first.Version = set.ID, set.OrgID, 1
		if _, err := insertDynamicBehaviorVersion(ctx, tx, first, now); err != nil {
			return err
		}
		const qf = `INSERT INTO dynamic_behavior_sets_fts (set_id, name, conversation_triggers) VALUES (?, ?, ?)`
		if _, err = tx.ExecContext(ctx, qf, set.ID, set.Name, strings.Join(first.ConversationTriggers, "\n")); err != nil {
			return err
		}
		return s.resourceUpdated(ctx, tx, set.OrgID, resourceBehaviorSet, set.ID, ChangeCreated, nil)
	})
	if err != nil {
		return DynamicBehaviorSet{}, fmt.Errorf("store: create dynamic behavior set: %w", err)
	}
	return set, nil
}

func activeNameConflict(name string) error {
	return &ConflictError{Refusal{Rule: RuleNameTaken, Kind: KindDynamicBehaviorSet, Name: name}}
}

// checkServices makes sure every ID names a service of the organization.
func checkServices(ctx context.Context, tx *sql.Tx, orgID string, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	args := []any{orgID}
	for _, id := range ids {
		args = append(args, id)
	}
	rows, err := tx.QueryContext(ctx, `SELECT id FROM services WHERE org_id = ? AND id IN (`+placeholders(len(ids))+`)`, args...)
	if err != nil {
		return fmt.Errorf("check services: %w", err)
	}
	defer rows.Close()
	found := map[string]bool{}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return err
		}
		found[id] = true
	}
	if err := rows.Err(); err != nil {
		return err
	}
	var absent []string
	for _, id := range ids {
		if !found[id] {
			absent = append(absent, id)
		}
	}
	if len(absent) > 0 {
		return &NotFoundError{Kind: KindService, ID: absent[0], More: absent[1:]}
	}
	return nil
}

func insertDynamicBehaviorVersion(ctx context.Context, tx *sql.Tx, v DynamicBehaviorSetVersion, now time.Time) (DynamicBehaviorSetVersion, error) {
	v.ID = NewID()
	v.CreatedAt, v.UpdatedAt = now, now
	if v.ConversationTriggers == nil {
		v.ConversationTriggers = []string{}
	}
	if len(v.Actions) == 0 {
		v.Actions = json.RawMessage(`[]`)
	}
	body, err := json.Marshal(dynamicBehaviorBody{ConversationTriggers: v.ConversationTriggers, Actions: v.Actions})
	if err != nil {
		return DynamicBehaviorSetVersion{}, err
	}
	const q = `INSERT INTO dynamic_behavior_set_versions (id, org_id, set_id, version, body, creator_org_id,
		creator_user_id, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`
	if _, err := tx.ExecContext(ctx, q, v.ID, v.OrgID, v.SetID, v.Version, string(body), v.Creator.OrgID,
		v.Creator.UserID, formatTime(now), formatTime(now)); err != nil {
		return DynamicBehaviorSetVersion{}, fmt.Errorf("insert version %d: %w", v.Version, err)
	}
	return v, nil
}

const dynamicBehaviorSetColumns = `d.id, d.org_id, d.name, d.is_active, d.applied_to_services, d.tags,
	d.creator_org_id, d.creator_user_id, d.updated_by_org_id, d.updated_by_user_id, d.created_at, d.updated_at,
	(SELECT COALESCE(MAX(v.version), 0) FROM dynamic_behavior_set_versions v WHERE v.set_id = d.id)`

func scanDynamicBehaviorSet(row interface{ Scan(...any) error }) (DynamicBehaviorSet, error) {
	var d DynamicBehaviorSet
	var services, tags, created, updated string
	err := row.Scan(&d.ID, &d.OrgID, &d.Name, &d.IsActive, &services, &tags, &d.Creator.OrgID, &d.Creator.UserID,
		&d.UpdatedBy.OrgID, &d.UpdatedBy.UserID, &created, &updated, &d.LatestVersion)
	if err != nil {
		return DynamicBehaviorSet{}, err
	}
	if err := json.Unmarshal([]byte(services), &d.AppliedToServices); err != nil {
		return DynamicBehaviorSet{}, fmt.Errorf("dynamic behavior set %s services: %w", d.ID, err)
	}
	if err := json.Unmarshal([]byte(tags), &d.Tags); err != nil {
		return DynamicBehaviorSet{}, fmt.Errorf("dynamic behavior set %s tags: %w", d.ID, err)
	}
	if d.CreatedAt, err = parseTime(created); err != nil {
		return DynamicBehaviorSet{}, err
	}
	if d.UpdatedAt, err = parseTime(updated); err != nil {
		return DynamicBehaviorSet{}, err
	}
	return d, nil
}

// GetDynamicBehaviorSet returns the organization's set with the given ID.
func (s *Store) GetDynamicBehaviorSet(ctx context.Context, orgID, id string) (DynamicBehaviorSet, error) {
	return getDynamicBehaviorSet(ctx, s.read, orgID, id)
}

func getDynamicBehaviorSet(ctx context.Context, db queryer, orgID, id string) (DynamicBehaviorSet, error) {
	q := `SELECT ` + dynamicBehaviorSetColumns + ` FROM dynamic_behavior_sets d WHERE d.org_id = ? AND d.id = ?`
	d, err := scanDynamicBehaviorSet(db.QueryRowContext(ctx, q, orgID, id))
	if errors.Is(err, sql.ErrNoRows) {
		return DynamicBehaviorSet{}, missing(KindDynamicBehaviorSet, id)
	}
	if err != nil {
		return DynamicBehaviorSet{}, fmt.Errorf("store: get dynamic behavior set %s: %w", id, err)
	}
	return d, nil
}

// dynamicBehaviorSetSortColumns maps the API's sort fields to columns.
var dynamicBehaviorSetSortColumns = map[string]string{"updated_at": "d.updated_at"}

// ValidDynamicBehaviorSetSortField reports whether ListDynamicBehaviorSets
// can sort by field.
var ValidDynamicBehaviorSetSortField = sortable(dynamicBehaviorSetSortColumns)

// DynamicBehaviorSetFilter selects sets. Empty slices and nil pointers do
// not filter. A set matches AppliedToServices if it applies to any of them,
// and Creators if any of them made it (an empty Actor.OrgID matching the
// user in any organization).
type DynamicBehaviorSetFilter struct {
	IDs               []string
	IsActive          *bool
	AppliedToServices []string
	Creators          []Actor
	Tags              []TagFilter
	Sort              []SortKey
}

func (f DynamicBehaviorSetFilter) where(orgID string) (string, []any) {
	var b strings.Builder
	args := []any{orgID}
	b.WriteString(`d.org_id = ?`)
	args = andIn(&b, args, "d.id", f.IDs)
	if f.IsActive != nil {
		b.WriteString(` AND d.is_active = ?`)
		args = append(args, *f.IsActive)
	}
	args = andAnyIn(&b, args, "d.applied_to_services", f.AppliedToServices)
	args = andCreatedBy(&b, args, "d", f.Creators)
	for _, tf := range f.Tags {
		cond, targs := tagCondition("d.tags", tf)
		b.WriteString(` AND ` + cond)
		args = append(args, targs...)
	}
	return b.String(), args
}

// ListDynamicBehaviorSets returns every set of the organization matching f,
// in f.Sort order with ties broken by creation. Callers filter by
// visibility and page the result.
func (s *Store) ListDynamicBehaviorSets(ctx context.Context, orgID string, f DynamicBehaviorSetFilter) ([]DynamicBehaviorSet, error) {
	where, args := f.where(orgID)
	order, err := orderBy(f.Sort, dynamicBehaviorSetSortColumns)
	if err != nil {
		return nil, fmt.Errorf("store: list dynamic behavior sets: %w", err)
	}
	order = append(order, "d.created_at", "d.id")
	q := `SELECT ` + dynamicBehaviorSetColumns + ` FROM dynamic_behavior_sets d WHERE ` + where +
		` ORDER BY ` + strings.Join(order, ", ")
	sets, err := s.queryDynamicBehaviorSets(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("store: list dynamic behavior sets: %w", err)
	}
	return sets, nil
}

// SearchDynamicBehaviorSets returns the sets matching f whose name or the
// conversation triggers of whose newest version contain every word of
// query (stemmed, so "refund" finds "refunds"), best match first.
func (s *Store) SearchDynamicBehaviorSets(ctx context.Context, orgID, query string, f DynamicBehaviorSetFilter) ([]DynamicBehaviorSet, error) {
	match := ftsQuery(query)
	if match == "" {
		return []DynamicBehaviorSet{}, nil
	}
	where, args := f.where(orgID)
	q := `SELECT ` + dynamicBehaviorSetColumns + ` FROM dynamic_behavior_sets_fts
		JOIN dynamic_behavior_sets d ON d.id = dynamic_behavior_sets_fts.set_id
		WHERE dynamic_behavior_sets_fts MATCH ? AND ` + where + `
		ORDER BY dynamic_behavior_sets_fts.rank, d.created_at, d.id`
	sets, err := s.queryDynamicBehaviorSets(ctx, q, append([]any{match}, args...)...)
	if err != nil {
		return nil, fmt.Errorf("store: search dynamic behavior sets: %w", err)
	}
	return sets, nil
}

func (s *Store) queryDynamicBehaviorSets(ctx context.Context, q string, args ...any) ([]DynamicBehaviorSet, error) {
	rows, err := s.read.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	sets := []DynamicBehaviorSet{}
	for rows.Next() {
		d, err := scanDynamicBehaviorSet(rows)
		if err != nil {
			return nil, err
		}
		sets = append(sets, d)
	}
	return sets, rows.Err()
}

// UpdateDynamicBehaviorSet loads the set, lets change modify its name,
// activity, services and tags, and writes them back in one transaction.
// Services it newly applies to must exist (*NotFoundError); an active set
// may not take the name of another active one (*ConflictError).
func (s *Store) UpdateDynamicBehaviorSet(ctx context.Context, orgID, id string, by Actor, change func(*DynamicBehaviorSet) error) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		d, err := getDynamicBehaviorSet(ctx, tx, orgID, id)
		if err != nil {
			return err
		}
		before := slices.Clone(d.AppliedToServices)
		if err := change(&d); err != nil {
			return err
		}
		// A service deleted since it was applied does not block other changes.
		var added []string
		for _, svc := range d.AppliedToServices {
			if !slices.Contains(before, svc) {
				added = append(added, svc)
			}
		}
		if err := checkServices(ctx, tx, orgID, added); err != nil {
			return err
		}
		if d.AppliedToServices == nil {
			d.AppliedToServices = []string{}
		}
		if d.Tags == nil {
			d.Tags = []Tag{}
		}
		services, tags, err := jsonPair(d.AppliedToServices, d.Tags)
		if err != nil {
			return err
		}
		const q = `UPDATE dynamic_behavior_sets SET name = ?, is_active = ?, applied_to_services = ?, tags = ?,
			updated_by_org_id = ?, updated_by_user_id = ?, updated_at = ? WHERE org_id = ? AND id = ?`
		_, err = tx.ExecContext(ctx, q, d.Name, d.IsActive, services, tags, by.OrgID, by.UserID,
			formatTime(s.now()), orgID, id)
		if isUniqueViolation(err) {
			return activeNameConflict(d.Name)
		}
		if err != nil {
			return fmt.Errorf("store: update dynamic behavior set %s: %w", id, err)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE dynamic_behavior_sets_fts SET name = ? WHERE set_id = ?`, d.Name, id); err != nil {
			return fmt.Errorf("store: update dynamic behavior set %s index: %w", id, err)
		}
		return s.resourceUpdated(ctx, tx, orgID, resourceBehaviorSet, id, ChangeUpdated, nil)
	})
}

// DeleteDynamicBehaviorSet deletes the set with its versions and the
// records of its invocations.
func (s *Store) DeleteDynamicBehaviorSet(ctx context.Context, orgID, id string) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM dynamic_behavior_sets WHERE org_id = ? AND id = ?`, orgID, id)
		if err != nil {
			return fmt.Errorf("store: delete dynamic behavior set %s: %w", id, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return missing(KindDynamicBehaviorSet, id)
		}
		const qi = `DELETE FROM dynamic_behavior_invocations WHERE org_id = ? AND set_id = ?`
		if _, err := tx.ExecContext(ctx, qi, orgID, id); err != nil {
			return fmt.Errorf("store: delete dynamic behavior set %s invocations: %w", id, err)
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM dynamic_behavior_sets_fts WHERE set_id = ?`, id); err != nil {
			return fmt.Errorf("store: delete dynamic behavior set %s index: %w", id, err)
		}
		return s.resourceUpdated(ctx, tx, orgID, resourceBehaviorSet, id, ChangeDeleted, nil)
	})
}

// CreateDynamicBehaviorSetVersion adds the next version to the set and
// returns it. If want is not nil it must be that next number, else the
// write is a *RuleError: the caller's idea of the set is out of date. The
// set counts as updated by the version's creator.
func (s *Store) CreateDynamicBehaviorSetVersion(ctx context.Context, orgID, setID string, v DynamicBehaviorSetVersion, want *int) (DynamicBehaviorSetVersion, error) {
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		d, err := getDynamicBehaviorSet(ctx, tx, orgID, setID)
		if err != nil {
			return err
		}
		next := d.LatestVersion + 1
		if want != nil && *want != next {
			return &RuleError{Refusal{Rule: RuleNextVersion, Kind: KindDynamicBehaviorSet, ID: setID, Next: next, Want: *want}, nil}
		}
		now := s.now()
		v.OrgID, v.SetID, v.Version = orgID, setID, next
		if v, err = insertDynamicBehaviorVersion(ctx, tx, v, now); err != nil {
			return err
		}
		const q = `UPDATE dynamic_behavior_sets SET updated_by_org_id = ?, updated_by_user_id = ?, updated_at = ?
			WHERE id = ?`
		if _, err := tx.ExecContext(ctx, q, v.Creator.OrgID, v.Creator.UserID, formatTime(now), setID); err != nil {
			return err
		}
		const qf = `UPDATE dynamic_behavior_sets_fts SET conversation_triggers = ? WHERE set_id = ?`
		if _, err = tx.ExecContext(ctx, qf, strings.Join(v.ConversationTriggers, "\n"), setID); err != nil {
			return err
		}
		return s.resourceUpdated(ctx, tx, orgID, resourceBehaviorSet, setID, ChangeVersionCreated, &v.Version)
	})
	if err != nil {
		return DynamicBehaviorSetVersion{}, fmt.Errorf("store: create dynamic behavior set version: %w", err)
	}
	return v, nil
}

// dynamicBehaviorVersionSortColumns maps the API's sort fields to columns.
var dynamicBehaviorVersionSortColumns = map[string]string{"version": "v.version"}

// ValidDynamicBehaviorVersionSortField reports whether
// ListDynamicBehaviorSetVersions can sort by field.
var ValidDynamicBehaviorVersionSortField = sortable(dynamicBehaviorVersionSortColumns)

// DynamicBehaviorVersionFilter selects, orders and pages versions of one set.
type DynamicBehaviorVersionFilter struct {
	Range  VersionRange
	Sort   []SortKey
	Limit  int
	Offset int
}

// ListDynamicBehaviorSetVersions returns a page of the set's versions
// matching f, oldest first unless sorted otherwise, and whether more follow.
func (s *Store) ListDynamicBehaviorSetVersions(ctx context.Context, orgID, setID string, f DynamicBehaviorVersionFilter) ([]DynamicBehaviorSetVersion, bool, error) {
	var where strings.Builder
	args := []any{orgID, setID}
	where.WriteString(`v.org_id = ? AND v.set_id = ?`)
	switch {
	case f.Range.Latest:
		where.WriteString(` AND v.version = (SELECT MAX(version) FROM dynamic_behavior_set_versions WHERE set_id = ?)`)
		args = append(args, setID)
	default:
		if f.Range.Min != nil {
			where.WriteString(` AND v.version >= ?`)
			args = append(args, *f.Range.Min)
		}
		if f.Range.Max != nil {
			where.WriteString(` AND v.version <= ?`)
			args = append(args, *f.Range.Max)
		}
	}
	order, err := orderBy(f.Sort, dynamicBehaviorVersionSortColumns)
	if err != nil {
		return nil, false, fmt.Errorf("store: list dynamic behavior set versions: %w", err)
	}
	order = append(order, "v.version")
	q := `SELECT v.id, v.org_id, v.set_id, v.version, v.body, v.creator_org_id, v.creator_user_id, v.created_at,
		v.updated_at FROM dynamic_behavior_set_versions v WHERE ` + where.String() + ` ORDER BY ` +
		strings.Join(order, ", ") + ` LIMIT ? OFFSET ?`
	args = append(args, f.Limit+1, f.Offset)
	rows, err := s.read.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, false, fmt.Errorf("store: list dynamic behavior set versions: %w", err)
	}
	defer rows.Close()
	out := []DynamicBehaviorSetVersion{}
	for rows.Next() {
		var v DynamicBehaviorSetVersion
		var body, created, updated string
		if err := rows.Scan(&v.ID, &v.OrgID, &v.SetID, &v.Version, &body, &v.Creator.OrgID, &v.Creator.UserID,
			&created, &updated); err != nil {
			return nil, false, fmt.Errorf("store: list dynamic behavior set versions: %w", err)
		}
		var b dynamicBehaviorBody
		if err := json.Unmarshal([]byte(body), &b); err != nil {
			return nil, false, fmt.Errorf("store: dynamic behavior set version %s body: %w", v.ID, err)
		}
		v.ConversationTriggers, v.Actions = b.ConversationTriggers, b.Actions
		if v.CreatedAt, err = parseTime(created); err != nil {
			return nil, false, err
		}
		if v.UpdatedAt, err = parseTime(updated); err != nil {
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

// ServiceDynamicBehaviors returns the newest version of each active set of
// the organization applied to the service, in the sets' creation order:
// the behaviors a conversation of the service may take on.
func (s *Store) ServiceDynamicBehaviors(ctx context.Context, orgID, serviceID string) ([]DynamicBehaviorSetVersion, error) {
	const q = `SELECT v.id, v.set_id, v.version, v.body, v.creator_org_id, v.creator_user_id, v.created_at, v.updated_at
		FROM dynamic_behavior_sets d JOIN dynamic_behavior_set_versions v ON v.set_id = d.id
		WHERE d.org_id = ? AND d.is_active = 1
			AND EXISTS (SELECT 1 FROM json_each(d.applied_to_services) j WHERE j.value = ?)
			AND v.version = (SELECT MAX(version) FROM dynamic_behavior_set_versions WHERE set_id = d.id)
		ORDER BY d.created_at, d.id`
	rows, err := s.read.QueryContext(ctx, q, orgID, serviceID)
	if err != nil {
		return nil, fmt.Errorf("store: dynamic behaviors of service %s: %w", serviceID, err)
	}
	defer rows.Close()
	out := []DynamicBehaviorSetVersion{}
	for rows.Next() {
		v := DynamicBehaviorSetVersion{OrgID: orgID}
		var body, created, updated string
		if err := rows.Scan(&v.ID, &v.SetID, &v.Version, &body, &v.Creator.OrgID, &v.Creator.UserID, &created, &updated); err != nil {
			return nil, fmt.Errorf("store: dynamic behaviors of service %s: %w", serviceID, err)
		}
		var b dynamicBehaviorBody
		if err := json.Unmarshal([]byte(body), &b); err != nil {
			return nil, fmt.Errorf("store: dynamic behavior set version %s body: %w", v.ID, err)
		}
		v.ConversationTriggers, v.Actions = b.ConversationTriggers, b.Actions
		if v.CreatedAt, err = parseTime(created); err != nil {
			return nil, err
		}
		if v.UpdatedAt, err = parseTime(updated); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// DynamicBehaviorInvocation records that one version of a set fired in a
// conversation, and the messages that led to it.
type DynamicBehaviorInvocation struct {
	ID             string
	OrgID          string
	ConversationID string
	ServiceID      string
	// UserID is the user whose conversation it is.
	UserID     string
	SetID      string
	SetVersion int
	// InitialMessageID is the message that led to the invocation.
	InitialMessageID string
	// AgentMessageID is the agent's message that led to it, if any.
	AgentMessageID          *string
	AgentInnerThoughtsIDs   []string
	ExternalEventMessageIDs []string
	InvokedAt               time.Time
	CreatedAt               time.Time
	UpdatedAt               time.Time
}

// dynamicBehaviorInvocationBody is what an invocation stores in its body column.
type dynamicBehaviorInvocationBody struct {
	InitialMessageID        string   `json:"initial_message_id"`
	AgentMessageID          *string  `json:"agent_message_id"`
	AgentInnerThoughtsIDs   []string `json:"agent_inner_thoughts_ids"`
	ExternalEventMessageIDs []string `json:"external_event_message_ids"`
}

// RecordDynamicBehaviorInvocation stores an invocation on its own (the
// conversation engine records its invocations with the turn, through
// Turn.Invocations), stamping it with an
// ID and the current time (also its InvokedAt, if that is zero). The set
// version it names must exist in the organization (*NotFoundError).
func (s *Store) RecordDynamicBehaviorInvocation(ctx context.Context, inv DynamicBehaviorInvocation) (DynamicBehaviorInvocation, error) {
	now := s.now()
	inv.ID, inv.CreatedAt, inv.UpdatedAt = NewID(), now, now
	if inv.InvokedAt.IsZero() {
		inv.InvokedAt = now
	}
	inv.AgentInnerThoughtsIDs, inv.ExternalEventMessageIDs = nonNil(inv.AgentInnerThoughtsIDs), nonNil(inv.ExternalEventMessageIDs)
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		recorded, err := insertDynamicBehaviorInvocation(ctx, tx, inv, now)
		if err == nil && !recorded {
			err = &NotFoundError{Kind: KindDynamicBehaviorSet, ID: inv.SetID, Version: strconv.Itoa(inv.SetVersion)}
		}
		return err
	})
	if err != nil {
		return DynamicBehaviorInvocation{}, fmt.Errorf("store: record dynamic behavior invocation: %w", err)
	}
	return inv, nil
}

// insertDynamicBehaviorInvocation writes inv if the set version it names
// exists in its organization; recorded is false when it does not.
func insertDynamicBehaviorInvocation(ctx context.Context, tx *sql.Tx, inv DynamicBehaviorInvocation, now time.Time) (recorded bool, err error) {
	body, err := json.Marshal(dynamicBehaviorInvocationBody{InitialMessageID: inv.InitialMessageID, AgentMessageID: inv.AgentMessageID,
		AgentInnerThoughtsIDs: nonNil(inv.AgentInnerThoughtsIDs), ExternalEventMessageIDs: nonNil(inv.ExternalEventMessageIDs)})
	if err != nil {
		return false, err
	}
	if inv.InvokedAt.IsZero() {
		inv.InvokedAt = now
	}
	const q = `INSERT INTO dynamic_behavior_invocations (id, org_id, conversation_id, service_id, user_id, set_id,
		set_version, body, invoked_at, created_at, updated_at)
		SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM dynamic_behavior_set_versions
			WHERE org_id = ? AND set_id = ? AND version = ?)`
	res, err := tx.ExecContext(ctx, q, inv.ID, inv.OrgID, inv.ConversationID, inv.ServiceID, inv.UserID, inv.SetID,
		inv.SetVersion, string(body), formatTime(inv.InvokedAt), formatTime(now), formatTime(now),
		inv.OrgID, inv.SetID, inv.SetVersion)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// nonNil is s, or an empty slice for nil, so a JSON column holds [] and
// never null.
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// jsonPair encodes two values as the JSON their TEXT columns hold.
func jsonPair(a, b any) (string, string, error) {
	ab, err := json.Marshal(a)
	if err != nil {
		return "", "", err
	}
	bb, err := json.Marshal(b)
	return string(ab), string(bb), err
}

// dynamicBehaviorInvocationSortColumns maps the API's sort fields to columns.
var dynamicBehaviorInvocationSortColumns = map[string]string{"invoked_at": "i.invoked_at"}

// ValidDynamicBehaviorInvocationSortField reports whether
// ListDynamicBehaviorInvocations can sort by field.
var ValidDynamicBehaviorInvocationSortField = sortable(dynamicBehaviorInvocationSortColumns)

// DynamicBehaviorInvocationFilter orders and pages a set's invocations.
type DynamicBehaviorInvocationFilter struct {
	Sort []SortKey
	// Limit < 0 means no limit.
	Limit  int
	Offset int
}

// ListDynamicBehaviorInvocations returns the set's invocations in f.Sort
// order (newest first unless sorted otherwise), and whether more follow the
// page.
func (s *Store) ListDynamicBehaviorInvocations(ctx context.Context, orgID, setID string, f DynamicBehaviorInvocationFilter) ([]DynamicBehaviorInvocation, bool, error) {
	order, err := orderBy(f.Sort, dynamicBehaviorInvocationSortColumns)
	if err != nil {
		return nil, false, fmt.Errorf("store: list dynamic behavior invocations: %w", err)
	}
	order = append(order, "i.invoked_at DESC", "i.created_at DESC", "i.id")
	q := `SELECT i.id, i.org_id, i.conversation_id, i.service_id, i.user_id, i.set_id, i.set_version, i.body,
		i.invoked_at, i.created_at, i.updated_at FROM dynamic_behavior_invocations i
		WHERE i.org_id = ? AND i.set_id = ? ORDER BY ` + strings.Join(order, ", ")
	args := []any{orgID, setID}
	if f.Limit >= 0 {
		q += ` LIMIT ? OFFSET ?`
		args = append(args, f.Limit+1, f.Offset)
	}
	rows, err := s.read.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, false, fmt.Errorf("store: list dynamic behavior invocations: %w", err)
	}
	defer rows.Close()
	out := []DynamicBehaviorInvocation{}
	for rows.Next() {
		var inv DynamicBehaviorInvocation
		var body, invoked, created, updated string
		if err := rows.Scan(&inv.ID, &inv.OrgID, &inv.ConversationID, &inv.ServiceID, &inv.UserID, &inv.SetID,
			&inv.SetVersion, &body, &invoked, &created, &updated); err != nil {
			return nil, false, fmt.Errorf("store: list dynamic behavior invocations: %w", err)
		}
		var b dynamicBehaviorInvocationBody
		if err := json.Unmarshal([]byte(body), &b); err != nil {
			return nil, false, fmt.Errorf("store: dynamic behavior invocation %s body: %w", inv.ID, err)
		}
		inv.InitialMessageID, inv.AgentMessageID = b.InitialMessageID, b.AgentMessageID
		inv.AgentInnerThoughtsIDs, inv.ExternalEventMessageIDs = b.AgentInnerThoughtsIDs, b.ExternalEventMessageIDs
		for _, t := range []struct {
			dst *time.Time
			src string
		}{{&inv.InvokedAt, invoked}, {&inv.CreatedAt, created}, {&inv.UpdatedAt, updated}} {
			if *t.dst, err = parseTime(t.src); err != nil {
				return nil, false, err
			}
		}
		out = append(out, inv)
	}
	if err := rows.Err(); err != nil {
		return nil, false, err
	}
	more := false
	if f.Limit >= 0 && len(out) > f.Limit {
		out, more = out[:f.Limit], true
	}
	return out, more, nil
}
