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

// The version sets every service has. Edge follows the newest agent and
// state machine versions with no model preference and is never changed;
// release is what conversations use unless they name another set.
const (
	EdgeVersionSet    = "edge"
	ReleaseVersionSet = "release"
)

// LLMConfig is the model a service prefers for one kind of LLM interaction.
type LLMConfig struct {
	LLMName string         `json:"llm_name"`
	Params  map[string]any `json:"params"`
}

// VersionSet pins the agent and state machine versions (nil: the newest)
// and the model preferences of a service's conversations.
type VersionSet struct {
	AgentVersion        *int                 `json:"agent_version_number"`
	StateMachineVersion *int                 `json:"service_hierarchical_state_machine_version_number"`
	LLMModelPreferences map[string]LLMConfig `json:"llm_model_preferences"`
}

// Service pairs an agent with a state machine under a name. Tags map keys
// to optional values; VersionSets are keyed by name.
type Service struct {
	ID             string
	OrgID          string
	Name           string
	Description    string
	IsActive       bool
	AgentID        string
	StateMachineID string
	Tags           map[string]*string
	Keyterms       []string
	VersionSets    map[string]VersionSet
	Creator        Actor
	UpdatedBy      Actor
	CreatedAt      time.Time
	UpdatedAt      time.Time
}

// resourceService is a service's resource_type in resource-updated events.
const resourceService = "service"

// CreateService creates a service with its edge version set and a release
// set that is release, or edge's content when release is nil. allow sees
// the service with its new ID before anything is written, to check the
// caller's permissions on it.
//
// A missing or deprecated agent or state machine, or one without versions,
// is a *NotFoundError; a pinned version either lacks is a *RuleError; an
// active service of the same name is a *ConflictError.
func (s *Store) CreateService(ctx context.Context, svc Service, release *VersionSet, allow func(Service) error) (Service, error) {
	now := s.now()
	svc.ID = NewID()
	svc.CreatedAt, svc.UpdatedAt = now, now
	svc.UpdatedBy = svc.Creator
	if release == nil {
		release = &VersionSet{}
	}
	svc.VersionSets = map[string]VersionSet{EdgeVersionSet: normalized(VersionSet{}), ReleaseVersionSet: normalized(*release)}
	if err := allow(svc); err != nil {
		return Service{}, err
	}
	tags, keyterms, err := serviceJSON(svc)
	if err != nil {
		return Service{}, err
	}
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		if err := checkServiceTargets(ctx, tx, svc); err != nil {
			return err
		}
		const q = `INSERT INTO services (id, org_id, name, description, is_active, agent_id, state_machine_id, tags,
			keyterms, creator_org_id, creator_user_id, updated_by_org_id, updated_by_user_id, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
		_, err := tx.ExecContext(ctx, q, svc.ID, svc.OrgID, svc.Name, svc.Description, svc.IsActive, svc.AgentID,
			svc.StateMachineID, tags, keyterms, svc.Creator.OrgID, svc.Creator.UserID, svc.Creator.OrgID,
			svc.Creator.UserID, formatTime(now), formatTime(now))
		if isUniqueViolation(err) {
			return activeNameTaken(svc.Name)
		}
		if err != nil {
			return err
		}
		for _, name := range []string{EdgeVersionSet, ReleaseVersionSet} {
			if err := putVersionSet(ctx, tx, svc.ID, name, svc.VersionSets[name], now); err != nil {
				return err
			}
		}
		return s.resourceUpdated(ctx, tx, svc.OrgID, resourceService, svc.ID, ChangeCreated, nil)
	})
	if err != nil {
		return Service{}, fmt.Errorf("store: create service: %w", err)
	}
	return svc, nil
}

func activeNameTaken(name string) error {
	return &ConflictError{Refusal{Rule: RuleNameTaken, Kind: KindService, Name: name}}
}

// normalized gives a version set's preferences and their params empty
// values instead of nil, so they read back as they were written.
func normalized(vs VersionSet) VersionSet {
	prefs := make(map[string]LLMConfig, len(vs.LLMModelPreferences))
	for k, c := range vs.LLMModelPreferences {
		if c.Params == nil {
			c.Params = map[string]any{}
		}
		prefs[k] = c
	}
	vs.LLMModelPreferences = prefs
	return vs
}

func serviceJSON(svc Service) (tags, keyterms string, err error) {
	if svc.Tags == nil {
		svc.Tags = map[string]*string{}
	}
	if svc.Keyterms == nil {
		svc.Keyterms = []string{}
	}
	t, err := json.Marshal(svc.Tags)
	if err != nil {
		return "", "", err
	}
	k, err := json.Marshal(svc.Keyterms)
	if err != nil {
		return "", "", err
	}
	return string(t), string(k), nil
}

func putVersionSet(ctx context.Context, tx *sql.Tx, serviceID, name string, vs VersionSet, now time.Time) error {
	prefs, err := json.Marshal(normalized(vs).LLMModelPreferences)
	if err != nil {
		return err
	}
	const q = `INSERT INTO service_version_sets (service_id, name, agent_version, state_machine_version,
		llm_model_preferences, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (service_id, name) DO UPDATE SET agent_version = excluded.agent_version,
		state_machine_version = excluded.state_machine_version, llm_model_preferences = excluded.llm_model_preferences,
		updated_at = excluded.updated_at`
	if _, err := tx.ExecContext(ctx, q, serviceID, name, vs.AgentVersion, vs.StateMachineVersion, string(prefs),
		formatTime(now), formatTime(now)); err != nil {
		return fmt.Errorf("store: put version set %s: %w", name, err)
	}
	return nil
}

// checkServiceTargets checks, through db (the write transaction), that the
// service's agent and state machine are live and have a version, and that
// every version its sets pin exists. A pinned version that does not is a
// *RuleError: the request names it, not a record.
func checkServiceTargets(ctx context.Context, db queryer, svc Service) error {
	if _, err := resolveVersion(ctx, db, agentKind, svc.OrgID, svc.AgentID, nil); err != nil {
		return err
	}
	if _, err := resolveVersion(ctx, db, stateMachineKind, svc.OrgID, svc.StateMachineID, nil); err != nil {
		return err
	}
	for _, vs := range svc.VersionSets {
		if err := checkPinned(ctx, db, svc, vs); err != nil {
			return err
		}
	}
	return nil
}

// checkPinned checks, through db, that the versions vs pins exist for the
// service's agent and state machine.
func checkPinned(ctx context.Context, db queryer, svc Service, vs VersionSet) error {
	if vs.AgentVersion != nil {
		if _, err := resolveVersion(ctx, db, agentKind, svc.OrgID, svc.AgentID, vs.AgentVersion); err != nil {
			return asRule(err)
		}
	}
	if vs.StateMachineVersion != nil {
		if _, err := resolveVersion(ctx, db, stateMachineKind, svc.OrgID, svc.StateMachineID, vs.StateMachineVersion); err != nil {
			return asRule(err)
		}
	}
	return nil
}

// asRule turns a *NotFoundError into a *RuleError with the same reason, for
// a missing record that a request refers to indirectly.
func asRule(err error) error {
	var nf *NotFoundError
	if errors.As(err, &nf) {
		return &RuleError{Missing: nf}
	}
	return err
}

// serviceColumns reads a service and, as a JSON object by name, its version
// sets.
const serviceColumns = `s.id, s.org_id, s.name, s.description, s.is_active, s.agent_id, s.state_machine_id, s.tags,
	s.keyterms, s.creator_org_id, s.creator_user_id, s.updated_by_org_id, s.updated_by_user_id, s.created_at,
	s.updated_at,
	(SELECT json_group_object(v.name, json_object('agent_version_number', v.agent_version,
		'service_hierarchical_state_machine_version_number', v.state_machine_version,
		'llm_model_preferences', json(v.llm_model_preferences)))
	 FROM service_version_sets v WHERE v.service_id = s.id)`

func scanService(row interface{ Scan(...any) error }) (Service, error) {
	var svc Service
	var tags, keyterms, created, updated, sets string
	err := row.Scan(&svc.ID, &svc.OrgID, &svc.Name, &svc.Description, &svc.IsActive, &svc.AgentID,
		&svc.StateMachineID, &tags, &keyterms, &svc.Creator.OrgID, &svc.Creator.UserID, &svc.UpdatedBy.OrgID,
		&svc.UpdatedBy.UserID, &created, &updated, &sets)
	if err != nil {
		return Service{}, err
	}
	if err := json.Unmarshal([]byte(tags), &svc.Tags); err != nil {
		return Service{}, fmt.Errorf("service %s tags: %w", svc.ID, err)
	}
	if err := json.Unmarshal([]byte(keyterms), &svc.Keyterms); err != nil {
		return Service{}, fmt.Errorf("service %s keyterms: %w", svc.ID, err)
	}
	if err := json.Unmarshal([]byte(sets), &svc.VersionSets); err != nil {
		return Service{}, fmt.Errorf("service %s version sets: %w", svc.ID, err)
	}
	for name, vs := range svc.VersionSets {
		svc.VersionSets[name] = normalized(vs)
	}
	if svc.CreatedAt, err = parseTime(created); err != nil {
		return Service{}, err
	}
	if svc.UpdatedAt, err = parseTime(updated); err != nil {
		return Service{}, err
	}
	return svc, nil
}

// GetService returns the organization's service with the given ID; a
// missing one is a *NotFoundError naming it.
func (s *Store) GetService(ctx context.Context, orgID, id string) (Service, error) {
	return getService(ctx, s.read, orgID, id)
}

func getService(ctx context.Context, db queryer, orgID, id string) (Service, error) {
	q := `SELECT ` + serviceColumns + ` FROM services s WHERE s.org_id = ? AND s.id = ?`
	svc, err := scanService(db.QueryRowContext(ctx, q, orgID, id))
	if errors.Is(err, sql.ErrNoRows) {
		return Service{}, missing(KindService, id)
	}
	if err != nil {
		return Service{}, fmt.Errorf("store: get service %s: %w", id, err)
	}
	return svc, nil
}

// serviceSortColumns maps the API's sort fields to columns.
var serviceSortColumns = map[string]string{"name": "s.name", "is_active": "s.is_active"}

// ValidServiceSortField reports whether ListServices can sort by field.
var ValidServiceSortField = sortable(serviceSortColumns)

// ServiceFilter selects services for ListServices. Empty slices and nil
// pointers do not filter.
type ServiceFilter struct {
	IDs      []string
	IsActive *bool
	Tags     []TagFilter
	Sort     []SortKey
}

// ListServices returns the organization's services matching f, in f.Sort
// order with ties broken by creation. Organizations have a handful of
// services, so callers filter by visibility and page the result.
func (s *Store) ListServices(ctx context.Context, orgID string, f ServiceFilter) ([]Service, error) {
	var where strings.Builder
	args := []any{orgID}
	where.WriteString(`s.org_id = ?`)
	args = andIn(&where, args, "s.id", f.IDs)
	if f.IsActive != nil {
		where.WriteString(` AND s.is_active = ?`)
		args = append(args, *f.IsActive)
	}
	for _, tf := range f.Tags {
		cond, targs := tagObjectCondition("s.tags", tf)
		where.WriteString(` AND ` + cond)
		args = append(args, targs...)
	}
	order, err := orderBy(f.Sort, serviceSortColumns)
	if err != nil {
		return nil, fmt.Errorf("store: list services: %w", err)
	}
	order = append(order, "s.created_at", "s.id")
	q := `SELECT ` + serviceColumns + ` FROM services s WHERE ` + where.String() + ` ORDER BY ` + strings.Join(order, ", ")
	rows, err := s.read.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("store: list services: %w", err)
	}
	defer rows.Close()
	out := []Service{}
	for rows.Next() {
		svc, err := scanService(rows)
		if err != nil {
			return nil, fmt.Errorf("store: list services: %w", err)
		}
		out = append(out, svc)
	}
	return out, rows.Err()
}

// tagObjectCondition is tagCondition for a column holding tags as a JSON
// object from key to value (null for a flag).
func tagObjectCondition(column string, f TagFilter) (string, []any) {
	base := `EXISTS (SELECT 1 FROM json_each(` + column + `) j WHERE j.key = ?`
	switch {
	case f.Any:
		return base + `)`, []any{f.Key}
	case f.Value == nil:
		return base + ` AND j.type = 'null')`, []any{f.Key}
	default:
		return base + ` AND j.type = 'text' AND j.value = ?)`, []any{f.Key, *f.Value}
	}
}

// UpdateService loads the service, lets change modify its name,
// description, activeness, agent, state machine, tags and keyterms, and
// writes them back. A service that is active afterwards, or whose agent or
// state machine changed, must name live ones that have every version its
// sets pin (a *RuleError otherwise); an active name taken by another active
// service is a *ConflictError.
func (s *Store) UpdateService(ctx context.Context, orgID, id string, by Actor, change func(*Service) error) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		svc, err := getService(ctx, tx, orgID, id)
		if err != nil {
			return err
		}
		old := svc
		if err := change(&svc); err != nil {
			return err
		}
		if svc.AgentID != old.AgentID || svc.StateMachineID != old.StateMachineID || svc.IsActive && !old.IsActive {
			if err := checkServiceTargets(ctx, tx, svc); err != nil {
				return asRule(err)
			}
		}
		tags, keyterms, err := serviceJSON(svc)
		if err != nil {
			return err
		}
		const q = `UPDATE services SET name = ?, description = ?, is_active = ?, agent_id = ?, state_machine_id = ?,
			tags = ?, keyterms = ?, updated_by_org_id = ?, updated_by_user_id = ?, updated_at = ?
			WHERE org_id = ? AND id = ?`
		_, err = tx.ExecContext(ctx, q, svc.Name, svc.Description, svc.IsActive, svc.AgentID, svc.StateMachineID,
			tags, keyterms, by.OrgID, by.UserID, formatTime(s.now()), orgID, id)
		if isUniqueViolation(err) {
			return activeNameTaken(svc.Name)
		}
		if err != nil {
			return fmt.Errorf("store: update service %s: %w", id, err)
		}
		return s.resourceUpdated(ctx, tx, orgID, resourceService, id, ChangeUpdated, nil)
	})
}

// UpsertVersionSet creates or replaces the service's version set named
// name. allow sees the service and whether the set exists, to check the
// permission that applies. Edge cannot be changed, and the versions vs
// pins must exist (a *RuleError otherwise).
func (s *Store) UpsertVersionSet(ctx context.Context, orgID, serviceID, name string, vs VersionSet, by Actor,
	allow func(svc Service, exists bool) error) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		svc, err := getService(ctx, tx, orgID, serviceID)
		if err != nil {
			return err
		}
		_, exists := svc.VersionSets[name]
		if err := allow(svc, exists); err != nil {
			return err
		}
		if name == EdgeVersionSet {
			return &RuleError{Refusal{Rule: RuleFixedVersionSet, Kind: KindVersionSet, Name: name}, nil}
		}
		if err := checkPinned(ctx, tx, svc, vs); err != nil {
			return err
		}
		now := s.now()
		if err := touchService(ctx, tx, orgID, serviceID, by, now); err != nil {
			return err
		}
		if err := putVersionSet(ctx, tx, serviceID, name, vs, now); err != nil {
			return err
		}
		return s.resourceUpdated(ctx, tx, orgID, resourceService, serviceID, ChangeUpdated, nil)
	})
}

// DeleteVersionSet deletes the service's version set named name. allow
// checks the caller's permission on it once the service is found. Edge and
// release cannot be deleted (a *RuleError); a missing set is a
// *NotFoundError.
func (s *Store) DeleteVersionSet(ctx context.Context, orgID, serviceID, name string, by Actor, allow func(Service) error) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		svc, err := getService(ctx, tx, orgID, serviceID)
		if err != nil {
			return err
		}
		if err := allow(svc); err != nil {
			return err
		}
		if name == EdgeVersionSet || name == ReleaseVersionSet {
			return &RuleError{Refusal{Rule: RulePermanentVersionSet, Kind: KindVersionSet, Name: name}, nil}
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM service_version_sets WHERE service_id = ? AND name = ?`, serviceID, name)
		if err != nil {
			return fmt.Errorf("store: delete version set %s: %w", name, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return &NotFoundError{Kind: KindVersionSet, ID: name, Owner: missing(KindService, serviceID)}
		}
		if err := touchService(ctx, tx, orgID, serviceID, by, s.now()); err != nil {
			return err
		}
		return s.resourceUpdated(ctx, tx, orgID, resourceService, serviceID, ChangeUpdated, nil)
	})
}

// touchService records who last changed the service and when.
func touchService(ctx context.Context, tx *sql.Tx, orgID, id string, by Actor, now time.Time) error {
	const q = `UPDATE services SET updated_by_org_id = ?, updated_by_user_id = ?, updated_at = ? WHERE org_id = ? AND id = ?`
	res, err := tx.ExecContext(ctx, q, by.OrgID, by.UserID, formatTime(now), orgID, id)
	if err != nil {
		return fmt.Errorf("store: touch service %s: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return missing(KindService, id)
	}
	return nil
}
