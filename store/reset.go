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

// Resetting organizations to their first state. See DECISIONS.md, "What
// does a reset keep?".

// OrgReset says how ResetOrganization brings an organization back to its
// first state.
type OrgReset struct {
	// Roles are the built-in roles an organization is created with; one
	// that is missing is created again.
	Roles []Role
	// Replace picks, for a custom role (which a reset deletes), the
	// built-in role its users and API keys hold afterwards: one of
	// builtin, the organization's built-in roles.
	Replace func(custom Role, builtin []Role) Role
	// Settings, if set, are the organization's first settings: its
	// record's preferences, dimensions, images, tenant and team are set
	// back to theirs. Its ID, name and creation time never change.
	Settings *Organization
}

// keptTables are the tables with an org_id column whose rows a reset does
// not simply delete: it keeps the built-in roles, the API keys and the
// users they need (see resetOrganization).
var keptTables = map[string]bool{"roles": true, "users": true, "api_keys": true}

// ftsOwners are the full-text indexes whose rows name their record by an
// unindexed ID column instead of sharing its rowid: rows of a deleted
// organization's records must be deleted by hand (deleteFullText), since
// no cascade reaches them. (tool_invocations_fts follows its table by
// triggers.)
var ftsOwners = []struct{ fts, idColumn, table string }{
	{"dynamic_behavior_sets_fts", "set_id", "dynamic_behavior_sets"},
	{"metrics_fts", "metric_id", "metrics"},
	{"simulation_personas_fts", "persona_id", "simulation_personas"},
	{"simulation_scenarios_fts", "scenario_id", "simulation_scenarios"},
	{"simulation_unit_tests_fts", "unit_test_id", "simulation_unit_tests"},
	{"simulation_unit_test_sets_fts", "unit_test_set_id", "simulation_unit_test_sets"},
}

// deleteFullText deletes the ftsOwners rows of the records of the
// organization orgID (others false) or of every other organization (others
// true). It must run before the records themselves go.
func deleteFullText(ctx context.Context, tx *sql.Tx, orgID string, others bool) error {
	op := "="
	if others {
		op = "!="
	}
	for _, f := range ftsOwners {
		q := `DELETE FROM ` + f.fts + ` WHERE ` + f.idColumn + ` IN (SELECT id FROM ` + f.table + ` WHERE org_id ` + op + ` ?)`
		if _, err := tx.ExecContext(ctx, q, orgID); err != nil {
			return err
		}
	}
	return nil
}

// ResetOrganization brings the organization back to its first state in
// one transaction, keeping every API key it holds working:
//
//   - kept: the organization (its settings set back if r.Settings is
//     given), its built-in roles, every API key, the first user (its
//     administrator) and every user who created one of its keys. Kept
//     users and keys holding a custom role hold r.Replace's built-in role
//     instead; kept users lose their variables.
//   - deleted: every other row of the organization in every table —
//     custom roles, other users, tools, invocations, agents, context
//     graphs, services, conversations, metrics, simulations, webhooks and
//     their deliveries, prompt logs, sign-in links, temporary grants.
//
// Other organizations are untouched. A missing organization is a
// *NotFoundError.
func (s *Store) ResetOrganization(ctx context.Context, orgID string, r OrgReset) error {
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		return s.resetOrganization(ctx, tx, orgID, r)
	})
	if err != nil {
		return fmt.Errorf("store: reset organization %s: %w", orgID, err)
	}
	return nil
}

// ResetAll resets the organization keep as ResetOrganization does and
// deletes every other organization with all its data (so their keys stop
// working), in one transaction.
func (s *Store) ResetAll(ctx context.Context, keep string, r OrgReset) error {
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		if err := s.resetOrganization(ctx, tx, keep, r); err != nil {
			return err
		}
		if err := deleteFullText(ctx, tx, keep, true); err != nil {
			return err
		}
		// The rest follows by cascade.
		_, err := tx.ExecContext(ctx, `DELETE FROM organizations WHERE id != ?`, keep)
		return err
	})
	if err != nil {
		return fmt.Errorf("store: reset all but %s: %w", keep, err)
	}
	return nil
}

func (s *Store) resetOrganization(ctx context.Context, tx *sql.Tx, orgID string, r OrgReset) error {
	var exists int
	err := tx.QueryRowContext(ctx, `SELECT 1 FROM organizations WHERE id = ?`, orgID).Scan(&exists)
	if errors.Is(err, sql.ErrNoRows) {
		return missing(KindOrganization, orgID)
	}
	if err != nil {
		return err
	}
	// Rows are deleted table by table in no particular order; the foreign
	// keys are checked at the commit, when everything is consistent again.
	if _, err := tx.ExecContext(ctx, `PRAGMA defer_foreign_keys = ON`); err != nil {
		return err
	}
	builtin, custom, err := s.resetRoles(ctx, tx, orgID, r.Roles)
	if err != nil {
		return err
	}
	for _, c := range custom {
		to := r.Replace(c, builtin)
		for _, table := range []string{"users", "api_keys"} {
			q := `UPDATE ` + table + ` SET role_id = ? WHERE org_id = ? AND role_id = ?`
			if _, err := tx.ExecContext(ctx, q, to.ID, orgID, c.ID); err != nil {
				return err
			}
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM roles WHERE id = ?`, c.ID); err != nil {
			return err
		}
	}
	// The first user is the administrator the organization was made with;
	// a key signs in only with a user, and its creator is the one it was
	// made for.
	const keptUsers = `SELECT id FROM (SELECT id FROM users WHERE org_id = ?1 ORDER BY created_at, id LIMIT 1)
		UNION SELECT creator_user_id FROM api_keys WHERE org_id = ?1 AND creator_org_id = ?1`
	if _, err := tx.ExecContext(ctx, `DELETE FROM users WHERE org_id = ?1 AND id NOT IN (`+keptUsers+`)`, orgID); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM user_variables WHERE user_id IN (`+keptUsers+`)`, orgID); err != nil {
		return err
	}
	if err := deleteFullText(ctx, tx, orgID, false); err != nil {
		return err
	}
	tables, err := orgTables(ctx, tx)
	if err != nil {
		return err
	}
	for _, table := range tables {
		if keptTables[table] {
			continue
		}
		// The name comes from the schema, never from a caller.
		if _, err := tx.ExecContext(ctx, `DELETE FROM "`+table+`" WHERE org_id = ?`, orgID); err != nil {
			return fmt.Errorf("%s: %w", table, err)
		}
	}
	if r.Settings != nil {
		return resetSettings(ctx, tx, orgID, *r.Settings, s.now())
	}
	return nil
}

// resetRoles makes sure the built-in roles roles exist and returns the
// organization's built-in and custom roles.
func (s *Store) resetRoles(ctx context.Context, tx *sql.Tx, orgID string, roles []Role) (builtin, custom []Role, err error) {
	rows, err := tx.QueryContext(ctx, `SELECT `+roleColumns+` FROM roles WHERE org_id = ? ORDER BY created_at, id`, orgID)
	if err != nil {
		return nil, nil, err
	}
	defer rows.Close()
	have := map[string]bool{}
	for rows.Next() {
		r, err := scanRole(rows)
		if err != nil {
			return nil, nil, err
		}
		if r.Builtin {
			builtin = append(builtin, r)
			have[r.Name] = true
		} else {
			custom = append(custom, r)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, nil, err
	}
	rows.Close()
	// Built-in roles cannot be modified or deleted, and their names are
	// taken from the start, so one is missing only if the built-in roles
	// grew since the organization was made.
	for _, r := range roles {
		if have[r.Name] {
			continue
		}
		r.OrgID, r.Builtin = orgID, true
		created, err := s.createRole(ctx, tx, r)
		if err != nil {
			return nil, nil, err
		}
		builtin = append(builtin, created)
	}
	if len(builtin) == 0 {
		return nil, nil, fmt.Errorf("organization %s has no built-in role", orgID)
	}
	return builtin, custom, nil
}

// orgTables lists the tables with an org_id column, virtual ones aside.
func orgTables(ctx context.Context, tx interface {
	QueryContext(context.Context, string, ...any) (*sql.Rows, error)
}) ([]string, error) {
	const q = `SELECT m.name FROM sqlite_schema m
		WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' AND m.sql NOT LIKE 'CREATE VIRTUAL%'
		AND EXISTS (SELECT 1 FROM pragma_table_info(m.name) c WHERE c.name = 'org_id')
		ORDER BY m.name`
	rows, err := tx.QueryContext(ctx, q)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var names []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, err
		}
		if strings.ContainsRune(n, '"') {
			return nil, fmt.Errorf("table name %q", n)
		}
		names = append(names, n)
	}
	return names, rows.Err()
}

func resetSettings(ctx context.Context, tx *sql.Tx, orgID string, o Organization, now time.Time) error {
	if o.UserDimensions == nil {
		o.UserDimensions = []UserDimension{}
	}
	prefs, err := json.Marshal(o.DefaultUserPreferences)
	if err != nil {
		return err
	}
	dims, err := json.Marshal(o.UserDimensions)
	if err != nil {
		return err
	}
	const q = `UPDATE organizations SET tenant_id = ?, default_user_preferences = ?, user_dimensions = ?,
		logo = ?, square_logo = ?, favicon = ?, azure_devops_team_name = ?, updated_at = ? WHERE id = ?`
	_, err = tx.ExecContext(ctx, q, o.TenantID, string(prefs), string(dims), o.Logo, o.SquareLogo, o.Favicon,
		o.AzureDevopsTeamName, formatTime(now), orgID)
	return err
}
