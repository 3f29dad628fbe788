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

// Variable is a user variable handed to tools at invocation. A secret's Value
// is sealed by the caller before it is stored and is never listed.
type Variable struct {
	Name     string
	Value    []byte
	IsSecret bool
}

// User is a member of an organization.
type User struct {
	ID                  string
	OrgID               string
	FirstName           string
	LastName            string
	Email               string
	RoleID              string
	Preferences         Preferences
	AdditionalContext   []string
	EnableActionsAccess bool
	// Variables holds every variable; secret ones carry no Value when read back.
	Variables []Variable
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Limits on user variables. The nonsensitive limit counts the user_id
// variable every user has implicitly. See DECISIONS.md, "Why may a user have
// only 19 nonsensitive variables?".
const (
	MaxNonsensitiveVariables = 19
	MaxSensitiveVariables    = 20
)

// CreateUser creates a user with its variables. A user with the same email in
// the organization is a *ConflictError.
func (s *Store) CreateUser(ctx context.Context, u User) (User, error) {
	var out User
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var err error
		out, err = s.createUser(ctx, tx, u, u.Variables)
		return err
	})
	return out, err
}

func (s *Store) createUser(ctx context.Context, tx *sql.Tx, u User, vars []Variable) (User, error) {
	now := s.now()
	if u.ID == "" {
		u.ID = NewID()
	}
	u.CreatedAt, u.UpdatedAt = now, now
	if u.AdditionalContext == nil {
		u.AdditionalContext = []string{}
	}
	if u.Preferences.AudioKeyterms == nil {
		u.Preferences.AudioKeyterms = []string{}
	}
	prefs, err := json.Marshal(u.Preferences)
	if err != nil {
		return User{}, err
	}
	extra, err := json.Marshal(u.AdditionalContext)
	if err != nil {
		return User{}, err
	}
	const q = `INSERT INTO users (id, org_id, first_name, last_name, email, role_id, preferences,
		additional_context, enable_actions_access, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
	_, err = tx.ExecContext(ctx, q, u.ID, u.OrgID, u.FirstName, u.LastName, u.Email, u.RoleID, string(prefs),
		string(extra), u.EnableActionsAccess, formatTime(now), formatTime(now))
	if isUniqueViolation(err) {
		return User{}, &ConflictError{Refusal{Rule: RuleNameTaken, Kind: KindUser, Name: u.Email}}
	}
	if err != nil {
		return User{}, fmt.Errorf("store: create user: %w", err)
	}
	for _, v := range vars {
		if err := putVariable(ctx, tx, u.ID, v); err != nil {
			return User{}, err
		}
	}
	u.Variables = vars
	return u, nil
}

func putVariable(ctx context.Context, tx *sql.Tx, userID string, v Variable) error {
	const q = `INSERT INTO user_variables (user_id, name, is_secret, value) VALUES (?, ?, ?, ?)
		ON CONFLICT (user_id, name) DO UPDATE SET is_secret = excluded.is_secret, value = excluded.value`
	if _, err := tx.ExecContext(ctx, q, userID, v.Name, v.IsSecret, v.Value); err != nil {
		return fmt.Errorf("store: put variable %s: %w", v.Name, err)
	}
	return nil
}

// userColumns reads a user and, as a JSON array of [name, is_secret, value]
// triples, its variables; secret values are left out.
const userColumns = `u.id, u.org_id, u.first_name, u.last_name, u.email, u.role_id, u.preferences,
	u.additional_context, u.enable_actions_access, u.created_at, u.updated_at,
	(SELECT json_group_array(json_array(v.name, v.is_secret,
		CASE WHEN v.is_secret THEN NULL ELSE CAST(v.value AS TEXT) END))
	 FROM (SELECT * FROM user_variables WHERE user_id = u.id ORDER BY name) v)`

func scanUser(row interface{ Scan(...any) error }) (User, error) {
	var u User
	var prefs, extra, created, updated, vars string
	if err := row.Scan(&u.ID, &u.OrgID, &u.FirstName, &u.LastName, &u.Email, &u.RoleID, &prefs, &extra,
		&u.EnableActionsAccess, &created, &updated, &vars); err != nil {
		return User{}, err
	}
	if err := json.Unmarshal([]byte(prefs), &u.Preferences); err != nil {
		return User{}, fmt.Errorf("user %s preferences: %w", u.ID, err)
	}
	if err := json.Unmarshal([]byte(extra), &u.AdditionalContext); err != nil {
		return User{}, fmt.Errorf("user %s context: %w", u.ID, err)
	}
	var triples [][3]any
	if err := json.Unmarshal([]byte(vars), &triples); err != nil {
		return User{}, fmt.Errorf("user %s variables: %w", u.ID, err)
	}
	for _, t := range triples {
		name, _ := t[0].(string)
		secret, _ := t[1].(float64)
		v := Variable{Name: name, IsSecret: secret != 0}
		if val, ok := t[2].(string); ok {
			v.Value = []byte(val)
		}
		u.Variables = append(u.Variables, v)
	}
	var err error
	if u.CreatedAt, err = parseTime(created); err != nil {
		return User{}, err
	}
	if u.UpdatedAt, err = parseTime(updated); err != nil {
		return User{}, err
	}
	return u, nil
}

// GetUser returns the organization's user with the given ID.
func (s *Store) GetUser(ctx context.Context, orgID, id string) (User, error) {
	return getUser(ctx, s.read, orgID, id)
}

type queryer interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func getUser(ctx context.Context, db queryer, orgID, id string) (User, error) {
	q := `SELECT ` + userColumns + ` FROM users u WHERE u.org_id = ? AND u.id = ?`
	u, err := scanUser(db.QueryRowContext(ctx, q, orgID, id))
	if errors.Is(err, sql.ErrNoRows) {
		return User{}, missing(KindUser, id)
	}
	if err != nil {
		return User{}, fmt.Errorf("store: get user %s: %w", id, err)
	}
	return u, nil
}

// sortable returns whether a listing with these sort columns can sort by a
// field of the API.
func sortable(columns map[string]string) func(field string) bool {
	return func(field string) bool {
		_, ok := columns[field]
		return ok
	}
}

// SortKey orders a listing by one field, ascending unless Desc.
type SortKey struct {
	Field string
	Desc  bool
}

// userSortColumns maps the API's sort fields to columns. The user_stats
// fields are accepted but add nothing to the ordering while every user's
// statistics are zero (no conversations are recorded yet).
var userSortColumns = map[string]string{
	"first_name":                   "u.first_name",
	"last_name":                    "u.last_name",
	"email":                        "u.email",
	"user_stats.num_conversations": "",
	"user_stats.num_messages":      "",
	"user_stats.last_message_time": "",
}

// ValidUserSortField reports whether ListUsers can sort by field.
var ValidUserSortField = sortable(userSortColumns)

// UserFilter selects users for ListUsers. Empty slices do not filter.
type UserFilter struct {
	IDs    []string
	Emails []string
	Sort   []SortKey
	// Limit < 0 means no limit.
	Limit  int
	Offset int
}

// ListUsers returns the organization's users matching f, in f.Sort order
// (ties broken by creation time), and whether more follow the page.
func (s *Store) ListUsers(ctx context.Context, orgID string, f UserFilter) ([]User, bool, error) {
	var where strings.Builder
	args := []any{orgID}
	where.WriteString(`u.org_id = ?`)
	args = andIn(&where, args, "u.id", f.IDs)
	args = andIn(&where, args, "u.email", f.Emails)
	var order []string
	for _, k := range f.Sort {
		col, ok := userSortColumns[k.Field]
		if !ok {
			return nil, false, fmt.Errorf("store: list users: unknown sort field %q", k.Field)
		}
		if col == "" {
			continue
		}
		if k.Desc {
			col += " DESC"
		}
		order = append(order, col)
	}
	order = append(order, "u.created_at", "u.id")
	q := `SELECT ` + userColumns + ` FROM users u WHERE ` + where.String() + ` ORDER BY ` + strings.Join(order, ", ")
	if f.Limit >= 0 {
		q += ` LIMIT ? OFFSET ?`
		args = append(args, f.Limit+1, f.Offset)
	}
	users, err := s.queryUsers(ctx, q, args...)
	if err != nil {
		return nil, false, fmt.Errorf("store: list users: %w", err)
	}
	more := false
	if f.Limit >= 0 && len(users) > f.Limit {
		users, more = users[:f.Limit], true
	}
	return users, more, nil
}

// SearchUsers returns the organization's users whose name or email contains
// query (case-insensitively), optionally only among ids.
func (s *Store) SearchUsers(ctx context.Context, orgID, query string, ids []string) ([]User, error) {
	pattern := "%" + escapeLike(query) + "%"
	q := `SELECT ` + userColumns + ` FROM users u WHERE u.org_id = ?
		AND (u.first_name LIKE ? ESCAPE '\' OR u.last_name LIKE ? ESCAPE '\' OR u.email LIKE ? ESCAPE '\'
		     OR (u.first_name || ' ' || u.last_name) LIKE ? ESCAPE '\')`
	args := []any{orgID, pattern, pattern, pattern, pattern}
	if len(ids) > 0 {
		q += ` AND u.id IN (` + placeholders(len(ids)) + `)`
		for _, id := range ids {
			args = append(args, id)
		}
	}
	q += ` ORDER BY u.first_name, u.last_name, u.id`
	users, err := s.queryUsers(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("store: search users: %w", err)
	}
	return users, nil
}

func (s *Store) queryUsers(ctx context.Context, q string, args ...any) ([]User, error) {
	rows, err := s.read.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	users := []User{}
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, err
		}
		users = append(users, u)
	}
	return users, rows.Err()
}

// UpdateUser loads the user, lets change modify it and writes the result back,
// all in one transaction. Variables are not written; see ModifyUserVariables.
func (s *Store) UpdateUser(ctx context.Context, orgID, id string, change func(*User) error) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		u, err := getUser(ctx, tx, orgID, id)
		if err != nil {
			return err
		}
		if err := change(&u); err != nil {
			return err
		}
		prefs, err := json.Marshal(u.Preferences)
		if err != nil {
			return err
		}
		extra, err := json.Marshal(u.AdditionalContext)
		if err != nil {
			return err
		}
		const q = `UPDATE users SET first_name = ?, last_name = ?, role_id = ?, preferences = ?,
			additional_context = ?, enable_actions_access = ?, updated_at = ? WHERE org_id = ? AND id = ?`
		_, err = tx.ExecContext(ctx, q, u.FirstName, u.LastName, u.RoleID, string(prefs), string(extra),
			u.EnableActionsAccess, formatTime(s.now()), orgID, id)
		if err != nil {
			return fmt.Errorf("store: update user %s: %w", id, err)
		}
		return nil
	})
}

// DeleteUser removes the user and its variables.
func (s *Store) DeleteUser(ctx context.Context, orgID, id string) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM users WHERE org_id = ? AND id = ?`, orgID, id)
		if err != nil {
			return fmt.Errorf("store: delete user %s: %w", id, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return missing(KindUser, id)
		}
		return nil
	})
}

// ModifyUserVariables deletes and upserts the user's variables in one
// transaction. Deleting a variable that does not exist, or ending above the
// limits, is a *RuleError and changes nothing.
func (s *Store) ModifyUserVariables(ctx context.Context, orgID, userID string, upserts []Variable, deletes []string) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := getUser(ctx, tx, orgID, userID); err != nil {
			return err
		}
		for _, name := range deletes {
			res, err := tx.ExecContext(ctx, `DELETE FROM user_variables WHERE user_id = ? AND name = ?`, userID, name)
			if err != nil {
				return fmt.Errorf("store: delete variable %s: %w", name, err)
			}
			if n, _ := res.RowsAffected(); n == 0 {
				return &RuleError{Refusal{Rule: RuleNoVariable, Kind: KindUserVariable, Name: name}, nil}
			}
		}
		for _, v := range upserts {
			if err := putVariable(ctx, tx, userID, v); err != nil {
				return err
			}
		}
		var plain, secret int
		const q = `SELECT COALESCE(SUM(is_secret = 0), 0), COALESCE(SUM(is_secret), 0) FROM user_variables WHERE user_id = ?`
		if err := tx.QueryRowContext(ctx, q, userID).Scan(&plain, &secret); err != nil {
			return fmt.Errorf("store: count variables: %w", err)
		}
		if plain > MaxNonsensitiveVariables {
			return &RuleError{Refusal{Rule: RuleLimit, Kind: KindUser, Of: "nonsensitive variables besides user_id", Limit: MaxNonsensitiveVariables}, nil}
		}
		if secret > MaxSensitiveVariables {
			return &RuleError{Refusal{Rule: RuleLimit, Kind: KindUser, Of: "sensitive variables", Limit: MaxSensitiveVariables}, nil}
		}
		return nil
	})
}

func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?,", n), ",")
}

// andIn adds "AND column IN (values)" to a WHERE clause being built in b
// and returns args with the values appended; no values add no condition.
func andIn(b *strings.Builder, args []any, column string, values []string) []any {
	if len(values) == 0 {
		return args
	}
	b.WriteString(` AND ` + column + ` IN (` + placeholders(len(values)) + `)`)
	for _, v := range values {
		args = append(args, v)
	}
	return args
}

// andAnyIn adds a condition that the JSON array in column holds at least
// one of values, when there are any.
func andAnyIn(b *strings.Builder, args []any, column string, values []string) []any {
	if len(values) == 0 {
		return args
	}
	b.WriteString(` AND EXISTS (SELECT 1 FROM json_each(` + column + `) j WHERE j.value IN (` + placeholders(len(values)) + `))`)
	for _, v := range values {
		args = append(args, v)
	}
	return args
}

// andAnyFieldIn adds a condition that the JSON array of objects in column
// holds one whose field is one of values, when there are any.
func andAnyFieldIn(b *strings.Builder, args []any, column, field string, values []string) []any {
	if len(values) == 0 {
		return args
	}
	b.WriteString(` AND EXISTS (SELECT 1 FROM json_each(` + column + `) j WHERE j.value ->> '` + field + `' IN (` +
		placeholders(len(values)) + `))`)
	for _, v := range values {
		args = append(args, v)
	}
	return args
}

// andCreatedBy adds a condition that the record of table alias a was
// created by one of creators; a creator without an organization matches
// its user in any.
func andCreatedBy(b *strings.Builder, args []any, a string, creators []Actor) []any {
	if len(creators) == 0 {
		return args
	}
	terms := make([]string, len(creators))
	for i, c := range creators {
		if c.OrgID == "" {
			terms[i] = a + `.creator_user_id = ?`
			args = append(args, c.UserID)
		} else {
			terms[i] = `(` + a + `.creator_org_id = ? AND ` + a + `.creator_user_id = ?)`
			args = append(args, c.OrgID, c.UserID)
		}
	}
	b.WriteString(` AND (` + strings.Join(terms, " OR ") + `)`)
	return args
}

func escapeLike(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}
