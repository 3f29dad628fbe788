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

// StateMachine is a service hierarchical state machine (a context graph):
// a named record whose content lives in numbered, immutable versions.
type StateMachine struct {
	ID         string
	OrgID      string
	Name       string
	Deprecated bool
	// LatestVersion is the newest version's number, nil before the first.
	LatestVersion *int
	Creator       Actor
	CreatedAt     time.Time
	UpdatedAt     time.Time
}

// CreateStateMachine creates a state machine without versions. A live
// state machine with the same name is a *ConflictError.
func (s *Store) CreateStateMachine(ctx context.Context, m StateMachine) (StateMachine, error) {
	now := s.now()
	m.ID = NewID()
	m.CreatedAt, m.UpdatedAt = now, now
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		const q = `INSERT INTO state_machines (id, org_id, name, creator_org_id, creator_user_id, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?)`
		_, err := tx.ExecContext(ctx, q, m.ID, m.OrgID, m.Name, m.Creator.OrgID, m.Creator.UserID, formatTime(now), formatTime(now))
		if isUniqueViolation(err) {
			return &ConflictError{Reason: fmt.Sprintf("A state machine named %q already exists.", m.Name)}
		}
		return err
	})
	if err != nil {
		return StateMachine{}, fmt.Errorf("store: create state machine: %w", err)
	}
	return m, nil
}

const stateMachineColumns = `m.id, m.org_id, m.name, m.deprecated, m.creator_org_id, m.creator_user_id, m.created_at,
	m.updated_at, (SELECT MAX(v.version) FROM state_machine_versions v WHERE v.state_machine_id = m.id)`

func scanStateMachine(row interface{ Scan(...any) error }) (StateMachine, error) {
	var m StateMachine
	var created, updated string
	var latest sql.NullInt64
	err := row.Scan(&m.ID, &m.OrgID, &m.Name, &m.Deprecated, &m.Creator.OrgID, &m.Creator.UserID, &created, &updated, &latest)
	if err != nil {
		return StateMachine{}, err
	}
	if latest.Valid {
		n := int(latest.Int64)
		m.LatestVersion = &n
	}
	if m.CreatedAt, err = parseTime(created); err != nil {
		return StateMachine{}, err
	}
	if m.UpdatedAt, err = parseTime(updated); err != nil {
		return StateMachine{}, err
	}
	return m, nil
}

// GetStateMachine returns the organization's state machine with the given
// ID, deprecated or not.
func (s *Store) GetStateMachine(ctx context.Context, orgID, id string) (StateMachine, error) {
	return getStateMachine(ctx, s.read, orgID, id)
}

func getStateMachine(ctx context.Context, db queryer, orgID, id string) (StateMachine, error) {
	q := `SELECT ` + stateMachineColumns + ` FROM state_machines m WHERE m.org_id = ? AND m.id = ?`
	m, err := scanStateMachine(db.QueryRowContext(ctx, q, orgID, id))
	if errors.Is(err, sql.ErrNoRows) {
		return StateMachine{}, &NotFoundError{Reason: fmt.Sprintf("Service hierarchical state machine %q not found.", id)}
	}
	if err != nil {
		return StateMachine{}, fmt.Errorf("store: get state machine %s: %w", id, err)
	}
	return m, nil
}

// StateMachineFilter selects state machines for ListStateMachines. Empty
// slices and nil pointers do not filter.
type StateMachineFilter struct {
	IDs        []string
	Deprecated *bool
}

// ListStateMachines returns the organization's state machines matching f,
// oldest first; callers page the result.
func (s *Store) ListStateMachines(ctx context.Context, orgID string, f StateMachineFilter) ([]StateMachine, error) {
	var where strings.Builder
	args := []any{orgID}
	where.WriteString(`m.org_id = ?`)
	if len(f.IDs) > 0 {
		where.WriteString(` AND m.id IN (` + placeholders(len(f.IDs)) + `)`)
		for _, id := range f.IDs {
			args = append(args, id)
		}
	}
	if f.Deprecated != nil {
		where.WriteString(` AND m.deprecated = ?`)
		args = append(args, *f.Deprecated)
	}
	q := `SELECT ` + stateMachineColumns + ` FROM state_machines m WHERE ` + where.String() + ` ORDER BY m.created_at, m.id`
	rows, err := s.read.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("store: list state machines: %w", err)
	}
	defer rows.Close()
	out := []StateMachine{}
	for rows.Next() {
		m, err := scanStateMachine(rows)
		if err != nil {
			return nil, fmt.Errorf("store: list state machines: %w", err)
		}
		out = append(out, m)
	}
	return out, rows.Err()
}

// DeprecateStateMachine marks a state machine deprecated after check
// (typically a permission check) accepts it. Its versions stay readable.
// An already deprecated state machine is a *ConflictError; one that an
// active service still uses is a *RuleError.
func (s *Store) DeprecateStateMachine(ctx context.Context, orgID, id string, check func(StateMachine) error) error {
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		m, err := getStateMachine(ctx, tx, orgID, id)
		if err != nil {
			return err
		}
		if err := check(m); err != nil {
			return err
		}
		if m.Deprecated {
			return &ConflictError{Reason: fmt.Sprintf("The service hierarchical state machine %s is already deleted.", id)}
		}
		var active []string
		rows, err := tx.QueryContext(ctx, `SELECT id FROM services WHERE org_id = ? AND state_machine_id = ? AND is_active = 1
			ORDER BY created_at, id`, orgID, id)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var sid string
			if err := rows.Scan(&sid); err != nil {
				return err
			}
			active = append(active, sid)
		}
		if err := rows.Err(); err != nil {
			return err
		}
		if len(active) > 0 {
			return &RuleError{Reason: fmt.Sprintf(
				"The service hierarchical state machine %s is used by active services (%s); deactivate them first.",
				id, strings.Join(active, ", "))}
		}
		_, err = tx.ExecContext(ctx, `UPDATE state_machines SET deprecated = 1, updated_at = ? WHERE org_id = ? AND id = ?`,
			formatTime(s.now()), orgID, id)
		return err
	})
	if err != nil {
		return fmt.Errorf("store: delete state machine %s: %w", id, err)
	}
	return nil
}

// StateMachineVersion is one immutable version of a state machine. Body is
// its content as a JSON document, stored and returned whole.
type StateMachineVersion struct {
	OrgID          string
	StateMachineID string
	Version        int
	Body           json.RawMessage
	Creator        Actor
	CreatedAt      time.Time
}

// CreateStateMachineVersion stores v.Body as the state machine's next
// version (1 for the first) after check accepts the state machine as it is
// inside the transaction. If want is set and is not the next number, the
// version is refused with a *ConflictError. A deprecated state machine is a
// *NotFoundError, as it is wherever a version is resolved.
func (s *Store) CreateStateMachineVersion(ctx context.Context, v StateMachineVersion, want *int,
	check func(StateMachine) error) (StateMachineVersion, error) {
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		m, err := getStateMachine(ctx, tx, v.OrgID, v.StateMachineID)
		if err != nil {
			return err
		}
		if err := check(m); err != nil {
			return err
		}
		if m.Deprecated {
			return &NotFoundError{Reason: fmt.Sprintf("The service hierarchical state machine %s is deprecated.", m.ID)}
		}
		v.Version = 1
		if m.LatestVersion != nil {
			v.Version = *m.LatestVersion + 1
		}
		if want != nil && *want != v.Version {
			return &ConflictError{Reason: fmt.Sprintf("The next version of the state machine is %d, not %d.", v.Version, *want)}
		}
		v.CreatedAt = s.now()
		const q = `INSERT INTO state_machine_versions (org_id, state_machine_id, version, body, creator_org_id,
			creator_user_id, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)`
		if _, err := tx.ExecContext(ctx, q, v.OrgID, v.StateMachineID, v.Version, string(v.Body), v.Creator.OrgID,
			v.Creator.UserID, formatTime(v.CreatedAt)); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE state_machines SET updated_at = ? WHERE id = ?`, formatTime(v.CreatedAt), m.ID)
		return err
	})
	if err != nil {
		return StateMachineVersion{}, fmt.Errorf("store: create state machine version: %w", err)
	}
	return v, nil
}

// stateMachineVersionSortColumns maps the API's sort fields to columns.
var stateMachineVersionSortColumns = map[string]string{"version": "version"}

// ValidStateMachineVersionSortField reports whether ListStateMachineVersions
// can sort by field.
var ValidStateMachineVersionSortField = sortable(stateMachineVersionSortColumns)

// VersionRange selects versions by number, bounds inclusive. A nil Min has
// no lower bound; a nil Max means up to the newest version. Latest selects
// only the newest version and ignores the bounds.
type VersionRange struct {
	Min, Max *int
	Latest   bool
}

// ListStateMachineVersions returns the versions of a state machine of the
// organization in r, in sortBy order (ascending version by default).
func (s *Store) ListStateMachineVersions(ctx context.Context, orgID, id string, r VersionRange, sortBy []SortKey) ([]StateMachineVersion, error) {
	var where strings.Builder
	args := []any{orgID, id}
	where.WriteString(`org_id = ? AND state_machine_id = ?`)
	switch {
	case r.Latest:
		where.WriteString(` AND version = (SELECT MAX(version) FROM state_machine_versions WHERE state_machine_id = ?)`)
		args = append(args, id)
	default:
		if r.Min != nil {
			where.WriteString(` AND version >= ?`)
			args = append(args, *r.Min)
		}
		if r.Max != nil {
			where.WriteString(` AND version <= ?`)
			args = append(args, *r.Max)
		}
	}
	order, err := orderBy(sortBy, stateMachineVersionSortColumns)
	if err != nil {
		return nil, fmt.Errorf("store: list state machine versions: %w", err)
	}
	order = append(order, "version")
	q := `SELECT org_id, state_machine_id, version, body, creator_org_id, creator_user_id, created_at
		FROM state_machine_versions WHERE ` + where.String() + ` ORDER BY ` + strings.Join(order, ", ")
	rows, err := s.read.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("store: list state machine versions: %w", err)
	}
	defer rows.Close()
	out := []StateMachineVersion{}
	for rows.Next() {
		var v StateMachineVersion
		var body, created string
		if err := rows.Scan(&v.OrgID, &v.StateMachineID, &v.Version, &body, &v.Creator.OrgID, &v.Creator.UserID, &created); err != nil {
			return nil, fmt.Errorf("store: list state machine versions: %w", err)
		}
		v.Body = json.RawMessage(body)
		if v.CreatedAt, err = parseTime(created); err != nil {
			return nil, fmt.Errorf("store: list state machine versions: %w", err)
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// GetStateMachineVersion returns one version of a state machine of the
// organization.
func (s *Store) GetStateMachineVersion(ctx context.Context, orgID, id string, version int) (StateMachineVersion, error) {
	vs, err := s.ListStateMachineVersions(ctx, orgID, id, VersionRange{Min: &version, Max: &version}, nil)
	if err != nil {
		return StateMachineVersion{}, err
	}
	if len(vs) == 0 {
		return StateMachineVersion{}, &NotFoundError{Reason: fmt.Sprintf(
			"The service hierarchical state machine %s has no version %d.", id, version)}
	}
	return vs[0], nil
}
