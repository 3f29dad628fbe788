package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// ResolveAgentVersion returns the version of a live agent of the
// organization that version names, or its newest version when version is
// nil. A missing or deprecated agent, or a version it does not have, is a
// *NotFoundError saying which.
func (s *Store) ResolveAgentVersion(ctx context.Context, orgID, agentID string, version *int) (int, error) {
	return resolveVersion(ctx, s.read, "agent", "agents", "agent_versions", "agent_id", orgID, agentID, version)
}

// ResolveStateMachineVersion is ResolveAgentVersion for service
// hierarchical state machines.
func (s *Store) ResolveStateMachineVersion(ctx context.Context, orgID, stateMachineID string, version *int) (int, error) {
	return resolveVersion(ctx, s.read, "service hierarchical state machine", "state_machines", "state_machine_versions",
		"state_machine_id", orgID, stateMachineID, version)
}

// resolveVersion implements both: records and versions are kept in pairs of
// tables of the same shape. The names are constants of this file, never input.
func resolveVersion(ctx context.Context, db queryer, what, records, versions, key, orgID, id string, version *int) (int, error) {
	var deprecated bool
	err := db.QueryRowContext(ctx, `SELECT deprecated FROM `+records+` WHERE org_id = ? AND id = ?`, orgID, id).Scan(&deprecated)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, &NotFoundError{Reason: fmt.Sprintf("The %s %s does not exist.", what, id)}
	}
	if err != nil {
		return 0, fmt.Errorf("store: resolve %s %s: %w", what, id, err)
	}
	if deprecated {
		return 0, &NotFoundError{Reason: fmt.Sprintf("The %s %s is deprecated.", what, id)}
	}
	var got sql.NullInt64
	if version == nil {
		err = db.QueryRowContext(ctx, `SELECT MAX(version) FROM `+versions+` WHERE `+key+` = ?`, id).Scan(&got)
	} else {
		err = db.QueryRowContext(ctx, `SELECT version FROM `+versions+` WHERE `+key+` = ? AND version = ?`, id, *version).Scan(&got)
	}
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return 0, fmt.Errorf("store: resolve %s %s: %w", what, id, err)
	}
	if !got.Valid {
		if version == nil {
			return 0, &NotFoundError{Reason: fmt.Sprintf("The %s %s has no versions yet.", what, id)}
		}
		return 0, &NotFoundError{Reason: fmt.Sprintf("The %s %s has no version %d.", what, id, *version)}
	}
	return int(got.Int64), nil
}
