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

// Tag is a key with an optional value, as tools and conversations carry them.
type Tag struct {
	Key   string  `json:"key"`
	Value *string `json:"value"`
}

// TagFilter matches records carrying Key. Any matches whatever the value;
// otherwise Value must equal the tag's value (nil matching a null value).
type TagFilter struct {
	Key   string
	Value *string
	Any   bool
}

// Actor names who made or last changed a record.
type Actor struct {
	OrgID  string
	UserID string
}

// EnvVar is a tool's environment variable. A secret's Value is sealed by the
// caller before it is stored; listings carry names only.
type EnvVar struct {
	Name     string
	Value    []byte
	IsSecret bool
}

// Tool is a named, versioned capability of an organization.
type Tool struct {
	ID          string
	OrgID       string
	Name        string
	Description string
	Tags        []Tag
	Deprecated  bool
	// EnvVars are the live variables, by name, without values.
	EnvVars []EnvVar
	// LastCommit is the newest commit a version was published from.
	LastCommit string
	Creator    Actor
	UpdatedBy  Actor
	CreatedAt  time.Time
	UpdatedAt  time.Time
}

// CreateTool creates a tool. A live tool with the same name is a *ConflictError.
func (s *Store) CreateTool(ctx context.Context, t Tool) (Tool, error) {
	now := s.now()
	t.ID = NewID()
	t.CreatedAt, t.UpdatedAt = now, now
	t.UpdatedBy = t.Creator
	if t.Tags == nil {
		t.Tags = []Tag{}
	}
	tags, err := json.Marshal(t.Tags)
	if err != nil {
		return Tool{}, err
	}
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		const q = `INSERT INTO tools (id, org_id, name, description, tags, creator_org_id, creator_user_id,
			updated_by_org_id, updated_by_user_id, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
		_, err := tx.ExecContext(ctx, q, t.ID, t.OrgID, t.Name, t.Description, string(tags), t.Creator.OrgID,
			t.Creator.UserID, t.Creator.OrgID, t.Creator.UserID, formatTime(now), formatTime(now))
		if isUniqueViolation(err) {
			return &ConflictError{Refusal{Rule: RuleNameTaken, Kind: KindTool, Name: t.Name}}
		}
		return err
	})
	if err != nil {
		return Tool{}, fmt.Errorf("store: create tool: %w", err)
	}
	return t, nil
}

// toolColumns reads a tool and, as a JSON array of [name, is_secret] pairs,
// its live environment variables.
const toolColumns = `t.id, t.org_id, t.name, t.description, t.tags, t.deprecated, COALESCE(t.last_commit, ''),
	t.creator_org_id, t.creator_user_id, t.updated_by_org_id, t.updated_by_user_id, t.created_at, t.updated_at,
	(SELECT json_group_array(json_array(e.name, e.is_secret))
	 FROM (SELECT name, is_secret FROM tool_envvars WHERE tool_id = t.id AND deleted_at IS NULL ORDER BY name) e)`

func scanTool(row interface{ Scan(...any) error }) (Tool, error) {
	var t Tool
	var tags, created, updated, vars string
	err := row.Scan(&t.ID, &t.OrgID, &t.Name, &t.Description, &tags, &t.Deprecated, &t.LastCommit,
		&t.Creator.OrgID, &t.Creator.UserID, &t.UpdatedBy.OrgID, &t.UpdatedBy.UserID, &created, &updated, &vars)
	if err != nil {
		return Tool{}, err
	}
	if err := json.Unmarshal([]byte(tags), &t.Tags); err != nil {
		return Tool{}, fmt.Errorf("tool %s tags: %w", t.ID, err)
	}
	var pairs [][2]any
	if err := json.Unmarshal([]byte(vars), &pairs); err != nil {
		return Tool{}, fmt.Errorf("tool %s variables: %w", t.ID, err)
	}
	for _, p := range pairs {
		name, _ := p[0].(string)
		secret, _ := p[1].(float64)
		t.EnvVars = append(t.EnvVars, EnvVar{Name: name, IsSecret: secret != 0})
	}
	if t.CreatedAt, err = parseTime(created); err != nil {
		return Tool{}, err
	}
	if t.UpdatedAt, err = parseTime(updated); err != nil {
		return Tool{}, err
	}
	return t, nil
}

// GetTool returns the organization's tool with the given ID.
func (s *Store) GetTool(ctx context.Context, orgID, id string) (Tool, error) {
	return getTool(ctx, s.read, orgID, id)
}

func getTool(ctx context.Context, db queryer, orgID, id string) (Tool, error) {
	q := `SELECT ` + toolColumns + ` FROM tools t WHERE t.org_id = ? AND t.id = ?`
	t, err := scanTool(db.QueryRowContext(ctx, q, orgID, id))
	if errors.Is(err, sql.ErrNoRows) {
		return Tool{}, missing(KindTool, id)
	}
	if err != nil {
		return Tool{}, fmt.Errorf("store: get tool %s: %w", id, err)
	}
	return t, nil
}

// toolSortColumns maps the API's sort fields to columns.
var toolSortColumns = map[string]string{"name": "t.name", "deprecated": "t.deprecated"}

// ValidToolSortField reports whether ListTools can sort by field.
var ValidToolSortField = sortable(toolSortColumns)

// ToolFilter selects tools for ListTools. Empty slices and nil pointers do
// not filter.
type ToolFilter struct {
	IDs        []string
	Deprecated *bool
	Tags       []TagFilter
	Sort       []SortKey
}

// ListTools returns every tool of the organization matching f, in f.Sort
// order, ties broken by creation. Organizations have tens of tools, not
// millions, so callers page the result themselves.
func (s *Store) ListTools(ctx context.Context, orgID string, f ToolFilter) ([]Tool, error) {
	var where strings.Builder
	args := []any{orgID}
	where.WriteString(`t.org_id = ?`)
	args = andIn(&where, args, "t.id", f.IDs)
	if f.Deprecated != nil {
		where.WriteString(` AND t.deprecated = ?`)
		args = append(args, *f.Deprecated)
	}
	for _, tf := range f.Tags {
		cond, targs := tagCondition("t.tags", tf)
		where.WriteString(` AND ` + cond)
		args = append(args, targs...)
	}
	order, err := orderBy(f.Sort, toolSortColumns)
	if err != nil {
		return nil, fmt.Errorf("store: list tools: %w", err)
	}
	order = append(order, "t.created_at", "t.id")
	q := `SELECT ` + toolColumns + ` FROM tools t WHERE ` + where.String() + ` ORDER BY ` + strings.Join(order, ", ")
	rows, err := s.read.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("store: list tools: %w", err)
	}
	defer rows.Close()
	tools := []Tool{}
	for rows.Next() {
		t, err := scanTool(rows)
		if err != nil {
			return nil, fmt.Errorf("store: list tools: %w", err)
		}
		tools = append(tools, t)
	}
	return tools, rows.Err()
}

// tagCondition is the SQL matching a JSON array of tags in column against f.
func tagCondition(column string, f TagFilter) (string, []any) {
	base := `EXISTS (SELECT 1 FROM json_each(` + column + `) j WHERE j.value ->> 'key' = ?`
	switch {
	case f.Any:
		return base + `)`, []any{f.Key}
	case f.Value == nil:
		return base + ` AND j.value ->> 'value' IS NULL)`, []any{f.Key}
	default:
		return base + ` AND j.value ->> 'value' = ?)`, []any{f.Key, *f.Value}
	}
}

// orderBy turns sort keys into ORDER BY terms through the column map.
func orderBy(keys []SortKey, columns map[string]string) ([]string, error) {
	var order []string
	for _, k := range keys {
		col, ok := columns[k.Field]
		if !ok {
			return nil, fmt.Errorf("unknown sort field %q", k.Field)
		}
		if k.Desc {
			col += " DESC"
		}
		order = append(order, col)
	}
	return order, nil
}

// UpdateTool loads the tool, lets change modify its description and tags,
// and writes them back in one transaction.
func (s *Store) UpdateTool(ctx context.Context, orgID, id string, by Actor, change func(*Tool) error) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		t, err := getTool(ctx, tx, orgID, id)
		if err != nil {
			return err
		}
		if err := change(&t); err != nil {
			return err
		}
		tags, err := json.Marshal(t.Tags)
		if err != nil {
			return err
		}
		const q = `UPDATE tools SET description = ?, tags = ?, updated_by_org_id = ?, updated_by_user_id = ?,
			updated_at = ? WHERE org_id = ? AND id = ?`
		if _, err := tx.ExecContext(ctx, q, t.Description, string(tags), by.OrgID, by.UserID,
			formatTime(s.now()), orgID, id); err != nil {
			return fmt.Errorf("store: update tool %s: %w", id, err)
		}
		return nil
	})
}

// DeprecateTool marks the tool and every version of it deprecated. Its name
// becomes free for a new tool.
func (s *Store) DeprecateTool(ctx context.Context, orgID, id string, by Actor) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		now := formatTime(s.now())
		const q = `UPDATE tools SET deprecated = 1, updated_by_org_id = ?, updated_by_user_id = ?, updated_at = ?
			WHERE org_id = ? AND id = ?`
		res, err := tx.ExecContext(ctx, q, by.OrgID, by.UserID, now, orgID, id)
		if err != nil {
			return fmt.Errorf("store: deprecate tool %s: %w", id, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return missing(KindTool, id)
		}
		const qv = `UPDATE tool_versions SET deprecated = 1, updated_by_org_id = ?, updated_by_user_id = ?,
			updated_at = ? WHERE tool_id = ? AND deprecated = 0`
		if _, err := tx.ExecContext(ctx, qv, by.OrgID, by.UserID, now, id); err != nil {
			return fmt.Errorf("store: deprecate tool %s versions: %w", id, err)
		}
		return nil
	})
}

// EnvVarChanges is one request's changes to a tool's environment variables.
// Values are sealed by the caller where secret.
type EnvVarChanges struct {
	Inserts []EnvVar
	Updates []EnvVar
	Deletes []string
	// ReuseAfter is how long a deleted name stays taken.
	ReuseAfter time.Duration
}

// ModifyToolEnvVars applies the changes in one transaction: all or nothing.
// Inserting a live name, or one deleted within ReuseAfter, is a
// *ConflictError; updating or deleting an unknown name, or deleting one a
// live version requires, is a *RuleError.
func (s *Store) ModifyToolEnvVars(ctx context.Context, orgID, toolID string, by Actor, c EnvVarChanges) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := getTool(ctx, tx, orgID, toolID); err != nil {
			return err
		}
		now := s.now()
		required, err := requiredEnvVars(ctx, tx, toolID)
		if err != nil {
			return err
		}
		for _, name := range c.Deletes {
			if slices.Contains(required, name) {
				return &RuleError{Refusal{Rule: RuleVariableRequired, Kind: KindToolVariable, Name: name}, nil}
			}
			const q = `UPDATE tool_envvars SET value = NULL, deleted_at = ? WHERE tool_id = ? AND name = ? AND deleted_at IS NULL`
			res, err := tx.ExecContext(ctx, q, formatTime(now), toolID, name)
			if err != nil {
				return fmt.Errorf("store: delete tool variable %s: %w", name, err)
			}
			if n, _ := res.RowsAffected(); n == 0 {
				return &RuleError{Refusal{Rule: RuleNoVariable, Kind: KindToolVariable, Name: name}, nil}
			}
		}
		for _, v := range c.Updates {
			const q = `UPDATE tool_envvars SET value = ? WHERE tool_id = ? AND name = ? AND deleted_at IS NULL AND is_secret = ?`
			res, err := tx.ExecContext(ctx, q, v.Value, toolID, v.Name, v.IsSecret)
			if err != nil {
				return fmt.Errorf("store: update tool variable %s: %w", v.Name, err)
			}
			if n, _ := res.RowsAffected(); n == 0 {
				return &RuleError{Refusal{Rule: RuleNoVariable, Kind: KindToolVariable, Name: v.Name}, nil}
			}
		}
		for _, v := range c.Inserts {
			var deletedAt sql.NullString
			err := tx.QueryRowContext(ctx, `SELECT deleted_at FROM tool_envvars WHERE tool_id = ? AND name = ?`,
				toolID, v.Name).Scan(&deletedAt)
			switch {
			case errors.Is(err, sql.ErrNoRows):
			case err != nil:
				return fmt.Errorf("store: insert tool variable %s: %w", v.Name, err)
			case !deletedAt.Valid:
				return &ConflictError{Refusal{Rule: RuleVariableExists, Kind: KindToolVariable, Name: v.Name}}
			default:
				deleted, err := parseTime(deletedAt.String)
				if err != nil {
					return err
				}
				if now.Sub(deleted) < c.ReuseAfter {
					return &ConflictError{Refusal{Rule: RuleNameResting, Kind: KindToolVariable, Name: v.Name, Wait: c.ReuseAfter.String()}}
				}
			}
			const q = `INSERT INTO tool_envvars (tool_id, name, is_secret, value) VALUES (?, ?, ?, ?)
				ON CONFLICT (tool_id, name) DO UPDATE SET is_secret = excluded.is_secret, value = excluded.value,
				deleted_at = NULL`
			if _, err := tx.ExecContext(ctx, q, toolID, v.Name, v.IsSecret, v.Value); err != nil {
				return fmt.Errorf("store: insert tool variable %s: %w", v.Name, err)
			}
		}
		const q = `UPDATE tools SET updated_by_org_id = ?, updated_by_user_id = ?, updated_at = ? WHERE id = ?`
		if _, err := tx.ExecContext(ctx, q, by.OrgID, by.UserID, formatTime(now), toolID); err != nil {
			return fmt.Errorf("store: touch tool %s: %w", toolID, err)
		}
		return nil
	})
}

// requiredEnvVars lists the names that live versions of the tool require,
// secret or not.
func requiredEnvVars(ctx context.Context, tx *sql.Tx, toolID string) ([]string, error) {
	const q = `SELECT DISTINCT j.value FROM tool_versions v,
		json_each(json_array(json(v.required_envvars), json(v.required_secret_envvars))) a, json_each(a.value) j
		WHERE v.tool_id = ? AND v.deprecated = 0`
	rows, err := tx.QueryContext(ctx, q, toolID)
	if err != nil {
		return nil, fmt.Errorf("store: required variables: %w", err)
	}
	defer rows.Close()
	var names []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, err
		}
		names = append(names, n)
	}
	return names, rows.Err()
}

// ToolEnvValues returns the tool's live variables with their stored values
// (secret ones still sealed), for running the tool.
func (s *Store) ToolEnvValues(ctx context.Context, orgID, toolID string) ([]EnvVar, error) {
	const q = `SELECT e.name, e.is_secret, e.value FROM tool_envvars e JOIN tools t ON t.id = e.tool_id
		WHERE t.org_id = ? AND e.tool_id = ? AND e.deleted_at IS NULL ORDER BY e.name`
	rows, err := s.read.QueryContext(ctx, q, orgID, toolID)
	if err != nil {
		return nil, fmt.Errorf("store: tool variables: %w", err)
	}
	defer rows.Close()
	var vars []EnvVar
	for rows.Next() {
		var v EnvVar
		if err := rows.Scan(&v.Name, &v.IsSecret, &v.Value); err != nil {
			return nil, fmt.Errorf("store: tool variables: %w", err)
		}
		vars = append(vars, v)
	}
	return vars, rows.Err()
}
