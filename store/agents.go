package store

import (
	"context"
	"encoding/json"
)

// Agent is a named persona of an organization. What it says and how it
// sounds lives in its numbered versions.
type Agent = VersionedRecord

// AgentVersion is one immutable version of an agent; RecordID is the
// agent's ID.
type AgentVersion = RecordVersion

// AgentFilter selects agents for ListAgents.
type AgentFilter = RecordFilter

// agentKind names agents' tables.
var agentKind = versionedKind{
	kind: KindAgent, what: "agent", records: "agents", versions: "agent_versions", key: "agent_id", resource: "agent",
}

// CreateAgent creates an agent with no versions. A live agent with the same
// name is a *ConflictError.
func (s *Store) CreateAgent(ctx context.Context, a Agent) (Agent, error) {
	return s.createRecord(ctx, agentKind, a)
}

// GetAgent returns the organization's agent with the given ID, deprecated or
// not.
func (s *Store) GetAgent(ctx context.Context, orgID, id string) (Agent, error) {
	return getRecord(ctx, s.read, agentKind, orgID, id)
}

// ListAgents returns the organization's agents matching f, oldest first.
func (s *Store) ListAgents(ctx context.Context, orgID string, f AgentFilter) ([]Agent, error) {
	return s.listRecords(ctx, agentKind, orgID, f)
}

// CreateAgentVersion adds the next version of a live agent as createVersion
// does, with the body build returns.
func (s *Store) CreateAgentVersion(ctx context.Context, orgID, agentID string, by Actor, want *int,
	check func(Agent) error, build func(prev *AgentVersion) (json.RawMessage, error)) (AgentVersion, error) {
	return s.createVersion(ctx, agentKind, AgentVersion{OrgID: orgID, RecordID: agentID, Creator: by}, want, check, build)
}

// ValidAgentVersionSortField reports whether ListAgentVersions can sort by
// field.
var ValidAgentVersionSortField = sortable(versionSortColumns)

// ListAgentVersions returns the versions of an agent of the organization,
// deprecated or not, in r, in sortBy order (ascending version by default).
// A missing agent is a *NotFoundError.
func (s *Store) ListAgentVersions(ctx context.Context, orgID, agentID string, r VersionRange,
	sortBy []SortKey) ([]AgentVersion, error) {
	return s.listVersions(ctx, agentKind, orgID, agentID, r, sortBy)
}

// GetAgentVersion returns one version of an agent of the organization,
// deprecated or not.
func (s *Store) GetAgentVersion(ctx context.Context, orgID, agentID string, version int) (AgentVersion, error) {
	return getVersion(ctx, s.read, agentKind, orgID, agentID, version)
}

// DeleteAgent marks an agent deprecated as deprecate does: already
// deprecated is a *ConflictError, used by an active service a *RuleError.
func (s *Store) DeleteAgent(ctx context.Context, orgID, id string, check func(Agent) error) error {
	return s.deprecate(ctx, agentKind, orgID, id, check)
}

// ResolveAgentVersion returns the version of a live agent of the
// organization that version names, or its newest version when version is
// nil. A missing or deprecated agent, or a version it does not have, is a
// *NotFoundError saying which.
func (s *Store) ResolveAgentVersion(ctx context.Context, orgID, agentID string, version *int) (int, error) {
	return resolveVersion(ctx, s.read, agentKind, orgID, agentID, version)
}
