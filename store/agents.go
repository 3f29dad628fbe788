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

// Agent is a named persona of an organization. What it says and how it
// sounds lives in its numbered versions.
type Agent struct {
	ID         string
	OrgID      string
	Name       string
	Deprecated bool
	// LatestVersion is the newest version's number, or nil before the first.
	LatestVersion *int
	Creator       Actor
	CreatedAt     time.Time
	UpdatedAt     time.Time
}

// AgentVersion is one immutable version of an agent. Body is the version's
// content as a JSON document; the store neither reads nor checks it.
type AgentVersion struct {
	OrgID     string
	AgentID   string
	Version   int
	Body      json.RawMessage
	Creator   Actor
	CreatedAt time.Time
}

// CreateAgent creates an agent with no versions. A live agent with the same
// name is a *ConflictError.
func (s *Store) CreateAgent(ctx context.Context, a Agent) (Agent, error) {
	now := s.now()
	a.ID = NewID()
	a.CreatedAt, a.UpdatedAt = now, now
	a.Deprecated, a.LatestVersion = false, nil
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		const q = `INSERT INTO agents (id, org_id, name, creator_org_id, creator_user_id, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?)`
		_, err := tx.ExecContext(ctx, q, a.ID, a.OrgID, a.Name, a.Creator.OrgID, a.Creator.UserID,
			formatTime(now), formatTime(now))
		if isUniqueViolation(err) {
			return &ConflictError{Reason: fmt.Sprintf("An agent named %q already exists.", a.Name)}
		}
		return err
	})
	if err != nil {
		return Agent{}, fmt.Errorf("store: create agent: %w", err)
	}
	return a, nil
}

const agentColumns = `a.id, a.org_id, a.name, a.deprecated, a.creator_org_id, a.creator_user_id, a.created_at,
	a.updated_at, (SELECT MAX(v.version) FROM agent_versions v WHERE v.agent_id = a.id)`

func scanAgent(row interface{ Scan(...any) error }) (Agent, error) {
	var a Agent
	var created, updated string
	var latest sql.NullInt64
	err := row.Scan(&a.ID, &a.OrgID, &a.Name, &a.Deprecated, &a.Creator.OrgID, &a.Creator.UserID,
		&created, &updated, &latest)
	if err != nil {
		return Agent{}, err
	}
	if latest.Valid {
		n := int(latest.Int64)
		a.LatestVersion = &n
	}
	if a.CreatedAt, err = parseTime(created); err != nil {
		return Agent{}, err
	}
	if a.UpdatedAt, err = parseTime(updated); err != nil {
		return Agent{}, err
	}
	return a, nil
}

// GetAgent returns the organization's agent with the given ID, deprecated or
// not.
func (s *Store) GetAgent(ctx context.Context, orgID, id string) (Agent, error) {
	return getAgent(ctx, s.read, orgID, id)
}

func getAgent(ctx context.Context, db queryer, orgID, id string) (Agent, error) {
	q := `SELECT ` + agentColumns + ` FROM agents a WHERE a.org_id = ? AND a.id = ?`
	a, err := scanAgent(db.QueryRowContext(ctx, q, orgID, id))
	if errors.Is(err, sql.ErrNoRows) {
		return Agent{}, &NotFoundError{Reason: fmt.Sprintf("The agent %s does not exist.", id)}
	}
	if err != nil {
		return Agent{}, fmt.Errorf("store: get agent %s: %w", id, err)
	}
	return a, nil
}

// AgentFilter selects agents for ListAgents. An empty slice or nil pointer
// does not filter.
type AgentFilter struct {
	IDs        []string
	Deprecated *bool
}

// ListAgents returns the organization's agents matching f, oldest first.
// Organizations have tens of agents, so callers filter by permission and
// page the result themselves.
func (s *Store) ListAgents(ctx context.Context, orgID string, f AgentFilter) ([]Agent, error) {
	var where strings.Builder
	args := []any{orgID}
	where.WriteString(`a.org_id = ?`)
	if len(f.IDs) > 0 {
		where.WriteString(` AND a.id IN (` + placeholders(len(f.IDs)) + `)`)
		for _, id := range f.IDs {
			args = append(args, id)
		}
	}
	if f.Deprecated != nil {
		where.WriteString(` AND a.deprecated = ?`)
		args = append(args, *f.Deprecated)
	}
	q := `SELECT ` + agentColumns + ` FROM agents a WHERE ` + where.String() + ` ORDER BY a.created_at, a.id`
	rows, err := s.read.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("store: list agents: %w", err)
	}
	defer rows.Close()
	agents := []Agent{}
	for rows.Next() {
		a, err := scanAgent(rows)
		if err != nil {
			return nil, fmt.Errorf("store: list agents: %w", err)
		}
		agents = append(agents, a)
	}
	return agents, rows.Err()
}

// CreateAgentVersion adds the next version of a live agent, all inside one
// transaction. check is called with the agent and may refuse (a permission
// check); a deprecated agent is then a *NotFoundError; build is called with
// the newest version (nil before the first) and returns the new version's
// body. Errors of check and build abort the write and are returned as they
// are. When want is not nil and the next version number is not *want, the
// write is a *ConflictError: of two writers that read the same newest
// version, only one adds a version on top of it.
func (s *Store) CreateAgentVersion(ctx context.Context, orgID, agentID string, by Actor, want *int,
	check func(Agent) error, build func(prev *AgentVersion) (json.RawMessage, error)) (AgentVersion, error) {
	var v AgentVersion
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		a, err := getAgent(ctx, tx, orgID, agentID)
		if err != nil {
			return err
		}
		if err := check(a); err != nil {
			return err
		}
		if a.Deprecated {
			return &NotFoundError{Reason: fmt.Sprintf("The agent %s is deprecated.", agentID)}
		}
		next := 1
		if a.LatestVersion != nil {
			next = *a.LatestVersion + 1
		}
		if want != nil && *want != next {
			return &ConflictError{Reason: fmt.Sprintf("The next version of the agent %s is %d, not %d.", agentID, next, *want)}
		}
		var prev *AgentVersion
		if a.LatestVersion != nil {
			p, err := getAgentVersion(ctx, tx, agentID, *a.LatestVersion)
			if err != nil {
				return err
			}
			prev = &p
		}
		body, err := build(prev)
		if err != nil {
			return err
		}
		now := s.now()
		v = AgentVersion{OrgID: orgID, AgentID: agentID, Version: next, Body: body, Creator: by, CreatedAt: now}
		const q = `INSERT INTO agent_versions (org_id, agent_id, version, body, creator_org_id, creator_user_id, created_at)
			VALUES (?, ?, ?, ?, ?, ?, ?)`
		if _, err := tx.ExecContext(ctx, q, orgID, agentID, next, string(body), by.OrgID, by.UserID, formatTime(now)); err != nil {
			return fmt.Errorf("store: create agent %s version %d: %w", agentID, next, err)
		}
		const qa = `UPDATE agents SET updated_at = ? WHERE org_id = ? AND id = ?`
		if _, err := tx.ExecContext(ctx, qa, formatTime(now), orgID, agentID); err != nil {
			return fmt.Errorf("store: create agent %s version %d: %w", agentID, next, err)
		}
		return nil
	})
	if err != nil {
		return AgentVersion{}, err
	}
	return v, nil
}

const agentVersionColumns = `org_id, agent_id, version, body, creator_org_id, creator_user_id, created_at`

func scanAgentVersion(row interface{ Scan(...any) error }) (AgentVersion, error) {
	var v AgentVersion
	var body, created string
	if err := row.Scan(&v.OrgID, &v.AgentID, &v.Version, &body, &v.Creator.OrgID, &v.Creator.UserID, &created); err != nil {
		return AgentVersion{}, err
	}
	v.Body = json.RawMessage(body)
	var err error
	if v.CreatedAt, err = parseTime(created); err != nil {
		return AgentVersion{}, err
	}
	return v, nil
}

func getAgentVersion(ctx context.Context, db queryer, agentID string, version int) (AgentVersion, error) {
	q := `SELECT ` + agentVersionColumns + ` FROM agent_versions WHERE agent_id = ? AND version = ?`
	v, err := scanAgentVersion(db.QueryRowContext(ctx, q, agentID, version))
	if err != nil {
		return AgentVersion{}, fmt.Errorf("store: get agent %s version %d: %w", agentID, version, err)
	}
	return v, nil
}

// agentVersionSortColumns maps the API's sort fields to columns.
var agentVersionSortColumns = map[string]string{"version": "version"}

// ValidAgentVersionSortField reports whether ListAgentVersions can sort by
// field.
var ValidAgentVersionSortField = sortable(agentVersionSortColumns)

// ListAgentVersions returns the versions of an agent of the organization,
// deprecated or not, in r, in sortBy order (ascending version by default).
// A missing agent is a *NotFoundError.
func (s *Store) ListAgentVersions(ctx context.Context, orgID, agentID string, r VersionRange,
	sortBy []SortKey) ([]AgentVersion, error) {
	if _, err := getAgent(ctx, s.read, orgID, agentID); err != nil {
		return nil, err
	}
	q := `SELECT ` + agentVersionColumns + ` FROM agent_versions WHERE org_id = ? AND agent_id = ?`
	args := []any{orgID, agentID}
	switch {
	case r.Latest:
		q += ` AND version = (SELECT MAX(version) FROM agent_versions WHERE agent_id = ?)`
		args = append(args, agentID)
	default:
		if r.Min != nil {
			q += ` AND version >= ?`
			args = append(args, *r.Min)
		}
		if r.Max != nil {
			q += ` AND version <= ?`
			args = append(args, *r.Max)
		}
	}
	order, err := orderBy(sortBy, agentVersionSortColumns)
	if err != nil {
		return nil, fmt.Errorf("store: list agent %s versions: %w", agentID, err)
	}
	q += ` ORDER BY ` + strings.Join(append(order, "version"), ", ")
	rows, err := s.read.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("store: list agent %s versions: %w", agentID, err)
	}
	defer rows.Close()
	versions := []AgentVersion{}
	for rows.Next() {
		v, err := scanAgentVersion(rows)
		if err != nil {
			return nil, fmt.Errorf("store: list agent %s versions: %w", agentID, err)
		}
		versions = append(versions, v)
	}
	return versions, rows.Err()
}

// DeleteAgent marks an agent deprecated; it and its versions stay, so the
// conversations that ran it keep their history, and its name becomes free.
// check is called with the agent inside the transaction and may refuse. An
// agent already deprecated is a *ConflictError; one an active service uses
// is a *RuleError.
func (s *Store) DeleteAgent(ctx context.Context, orgID, id string, check func(Agent) error) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		a, err := getAgent(ctx, tx, orgID, id)
		if err != nil {
			return err
		}
		if err := check(a); err != nil {
			return err
		}
		if a.Deprecated {
			return &ConflictError{Reason: fmt.Sprintf("The agent %s is already deleted.", id)}
		}
		var inUse bool
		const qs = `SELECT EXISTS (SELECT 1 FROM services WHERE org_id = ? AND agent_id = ? AND is_active = 1)`
		if err := tx.QueryRowContext(ctx, qs, orgID, id).Scan(&inUse); err != nil {
			return fmt.Errorf("store: delete agent %s: %w", id, err)
		}
		if inUse {
			return &RuleError{Reason: fmt.Sprintf("The agent %s is used by an active service; deactivate the service first.", id)}
		}
		const q = `UPDATE agents SET deprecated = 1, updated_at = ? WHERE org_id = ? AND id = ?`
		if _, err := tx.ExecContext(ctx, q, formatTime(s.now()), orgID, id); err != nil {
			return fmt.Errorf("store: delete agent %s: %w", id, err)
		}
		return nil
	})
}
