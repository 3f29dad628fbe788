package store

import (
	"context"
)

// StateMachine is a service hierarchical state machine (a context graph):
// a named record whose content lives in numbered, immutable versions.
type StateMachine = VersionedRecord

// StateMachineVersion is one immutable version of a state machine; RecordID
// is the state machine's ID.
type StateMachineVersion = RecordVersion

// StateMachineFilter selects state machines for ListStateMachines.
type StateMachineFilter = RecordFilter

// stateMachineKind names state machines' tables.
var stateMachineKind = versionedKind{
	kind: KindStateMachine, what: "service hierarchical state machine", records: "state_machines",
	versions: "state_machine_versions", key: "state_machine_id", resource: "service_hierarchical_state_machine",
}

// CreateStateMachine creates a state machine without versions. A live
// state machine with the same name is a *ConflictError.
func (s *Store) CreateStateMachine(ctx context.Context, m StateMachine) (StateMachine, error) {
	return s.createRecord(ctx, stateMachineKind, m)
}

// GetStateMachine returns the organization's state machine with the given
// ID, deprecated or not.
func (s *Store) GetStateMachine(ctx context.Context, orgID, id string) (StateMachine, error) {
	return getRecord(ctx, s.read, stateMachineKind, orgID, id)
}

// ListStateMachines returns the organization's state machines matching f,
// oldest first; callers page the result.
func (s *Store) ListStateMachines(ctx context.Context, orgID string, f StateMachineFilter) ([]StateMachine, error) {
	return s.listRecords(ctx, stateMachineKind, orgID, f)
}

// DeprecateStateMachine marks a state machine deprecated as deprecate does:
// already deprecated is a *ConflictError, used by an active service a
// *RuleError. Its versions stay readable.
func (s *Store) DeprecateStateMachine(ctx context.Context, orgID, id string, check func(StateMachine) error) error {
	return s.deprecate(ctx, stateMachineKind, orgID, id, check)
}

// CreateStateMachineVersion stores v.Body as the next version of the state
// machine v.RecordID as createVersion does.
func (s *Store) CreateStateMachineVersion(ctx context.Context, v StateMachineVersion, want *int,
	check func(StateMachine) error) (StateMachineVersion, error) {
	return s.createVersion(ctx, stateMachineKind, v, want, check, nil)
}

// ValidStateMachineVersionSortField reports whether ListStateMachineVersions
// can sort by field.
var ValidStateMachineVersionSortField = sortable(versionSortColumns)

// ListStateMachineVersions returns the versions of a state machine of the
// organization in r, in sortBy order (ascending version by default). A
// missing state machine is a *NotFoundError.
func (s *Store) ListStateMachineVersions(ctx context.Context, orgID, id string, r VersionRange, sortBy []SortKey) ([]StateMachineVersion, error) {
	return s.listVersions(ctx, stateMachineKind, orgID, id, r, sortBy)
}

// GetStateMachineVersion returns one version of a state machine of the
// organization, deprecated or not.
func (s *Store) GetStateMachineVersion(ctx context.Context, orgID, id string, version int) (StateMachineVersion, error) {
	return getVersion(ctx, s.read, stateMachineKind, orgID, id, version)
}

// ResolveStateMachineVersion is ResolveAgentVersion for service
// hierarchical state machines.
func (s *Store) ResolveStateMachineVersion(ctx context.Context, orgID, stateMachineID string, version *int) (int, error) {
	return resolveVersion(ctx, s.read, stateMachineKind, orgID, stateMachineID, version)
}
