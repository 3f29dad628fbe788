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

// The kinds of the simulation building blocks, for *NotFoundError and
// refusals.
const (
	KindSimulationPersona  Kind = "simulation persona"
	KindSimulationScenario Kind = "simulation scenario"
	KindUnitTest           Kind = "simulation unit test"
	KindUnitTestSet        Kind = "simulation unit test set"
)

// SimulationKind is one of the two versioned building blocks of a
// simulation, personas and scenarios: a record with a name and tags, and
// numbered immutable versions holding its content. The two are stored
// alike, in tables named after them.
type SimulationKind struct {
	kind     Kind
	table    string
	versions string
	// key is the versions' column naming the record, and the unit tests'
	// column naming the records they use.
	key string
	fts string
	// role says the records have a role (personas do).
	role bool
}

// The two versioned simulation kinds.
var (
	SimulationPersonas = SimulationKind{kind: KindSimulationPersona, table: "simulation_personas",
		versions: "simulation_persona_versions", key: "persona_id", fts: "simulation_personas_fts", role: true}
	SimulationScenarios = SimulationKind{kind: KindSimulationScenario, table: "simulation_scenarios",
		versions: "simulation_scenario_versions", key: "scenario_id", fts: "simulation_scenarios_fts"}
)

// Kind is the kind of the records.
func (k SimulationKind) Kind() Kind { return k.kind }

// SimulationRecord is a persona or a scenario without its versions. Role
// is empty for a scenario. A deleted record stays stored and readable by
// its ID; its name is free for a new one.
type SimulationRecord struct {
	ID        string
	OrgID     string
	Name      string
	Role      string
	Tags      map[string]*string
	IsDeleted bool
	Creator   Actor
	UpdatedBy Actor
	CreatedAt time.Time
	UpdatedAt time.Time
}

// PersonaContent is what a persona version says of the simulated user.
type PersonaContent struct {
	Background string
	// PreferredLanguage and Timezone are nil when not set.
	PreferredLanguage         *string
	Timezone                  *string
	UserModels                []string
	NonsensitiveUserVariables map[string]string
	SensitiveUserVariables    map[string]string
}

// ScenarioContent is what a scenario version asks of the simulated user.
type ScenarioContent struct {
	Objective          string
	Instructions       string
	InitialMessageType string
	// ConversationStartsAt is nil for "when the conversation runs".
	ConversationStartsAt *time.Time
}

// SimulationVersion is one immutable version of a persona or a scenario.
type SimulationVersion[C PersonaContent | ScenarioContent] struct {
	ID        string
	OrgID     string
	RecordID  string
	Version   int
	Content   C
	Creator   Actor
	CreatedAt time.Time
}

// versionCodec says how a kind's version content is kept in its columns,
// and what of it the kind's search matches besides the name.
type versionCodec[C any] struct {
	columns []string
	encode  func(C) ([]any, error)
	// decode scans a row whose content columns follow the common ones:
	// scan scans them into targets.
	decode func(scan func(targets ...any) error) (C, error)
	// searched is the text matched with the name (a persona's background),
	// or nil.
	searched func(C) *string
}

var personaCodec = versionCodec[PersonaContent]{
	columns: []string{"background", "preferred_language", "timezone", "user_models", "nonsensitive_user_variables",
		"sensitive_user_variables"},
	encode: func(c PersonaContent) ([]any, error) {
		models, err := json.Marshal(nonNil(c.UserModels))
		if err != nil {
			return nil, err
		}
		plain, err := json.Marshal(nonNilVars(c.NonsensitiveUserVariables))
		if err != nil {
			return nil, err
		}
		secret, err := json.Marshal(nonNilVars(c.SensitiveUserVariables))
		if err != nil {
			return nil, err
		}
		return []any{c.Background, c.PreferredLanguage, c.Timezone, string(models), string(plain), string(secret)}, nil
	},
	decode: func(scan func(...any) error) (PersonaContent, error) {
		var c PersonaContent
		var models, plain, secret string
		if err := scan(&c.Background, &c.PreferredLanguage, &c.Timezone, &models, &plain, &secret); err != nil {
			return c, err
		}
		for _, f := range []struct {
			raw string
			to  any
		}{{models, &c.UserModels}, {plain, &c.NonsensitiveUserVariables}, {secret, &c.SensitiveUserVariables}} {
			if err := json.Unmarshal([]byte(f.raw), f.to); err != nil {
				return c, err
			}
		}
		return c, nil
	},
	searched: func(c PersonaContent) *string { return &c.Background },
}

var scenarioCodec = versionCodec[ScenarioContent]{
	columns: []string{"objective", "instructions", "initial_message_type", "conversation_starts_at"},
	encode: func(c ScenarioContent) ([]any, error) {
		var starts *string
		if c.ConversationStartsAt != nil {
			s := formatTime(*c.ConversationStartsAt)
			starts = &s
		}
		return []any{c.Objective, c.Instructions, c.InitialMessageType, starts}, nil
	},
	decode: func(scan func(...any) error) (ScenarioContent, error) {
		var c ScenarioContent
		var starts *string
		if err := scan(&c.Objective, &c.Instructions, &c.InitialMessageType, &starts); err != nil {
			return c, err
		}
		if starts != nil {
			t, err := parseTime(*starts)
			if err != nil {
				return c, err
			}
			c.ConversationStartsAt = &t
		}
		return c, nil
	},
	searched: func(ScenarioContent) *string { return nil },
}

func nonNilVars(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

// CreatePersona stores a persona and its first version in one transaction;
// a live persona of the same name is a *ConflictError.
func (s *Store) CreatePersona(ctx context.Context, rec SimulationRecord, first PersonaContent) (SimulationRecord, error) {
	return createSimulationRecord(ctx, s, SimulationPersonas, personaCodec, rec, first)
}

// CreateScenario stores a scenario and its first version in one
// transaction; a live scenario of the same name is a *ConflictError.
func (s *Store) CreateScenario(ctx context.Context, rec SimulationRecord, first ScenarioContent) (SimulationRecord, error) {
	return createSimulationRecord(ctx, s, SimulationScenarios, scenarioCodec, rec, first)
}

func createSimulationRecord[C PersonaContent | ScenarioContent](ctx context.Context, s *Store, k SimulationKind,
	codec versionCodec[C], rec SimulationRecord, first C) (SimulationRecord, error) {
	now := s.now()
	if rec.ID == "" {
		rec.ID = NewID()
	}
	rec.CreatedAt, rec.UpdatedAt, rec.UpdatedBy, rec.IsDeleted = now, now, rec.Creator, false
	if rec.Tags == nil {
		rec.Tags = map[string]*string{}
	}
	tags, err := json.Marshal(rec.Tags)
	if err != nil {
		return SimulationRecord{}, err
	}
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		cols := []string{"id", "org_id", "name", "tags", "creator_org_id", "creator_user_id", "updated_by_org_id",
			"updated_by_user_id", "created_at", "updated_at"}
		args := []any{rec.ID, rec.OrgID, rec.Name, string(tags), rec.Creator.OrgID, rec.Creator.UserID,
			rec.Creator.OrgID, rec.Creator.UserID, formatTime(now), formatTime(now)}
		if k.role {
			cols, args = append(cols, "role"), append(args, rec.Role)
		}
		q := `INSERT INTO ` + k.table + ` (` + strings.Join(cols, ", ") + `) VALUES (` + placeholders(len(cols)) + `)`
		_, err := tx.ExecContext(ctx, q, args...)
		if isUniqueViolation(err) {
			return &ConflictError{Refusal{Rule: RuleNameTaken, Kind: k.kind, Name: rec.Name}}
		}
		if err != nil {
			return err
		}
		if _, err := insertSimulationVersion(ctx, tx, k, codec, rec.OrgID, rec.ID, 1, first, rec.Creator, now); err != nil {
			return err
		}
		ftsCols, ftsArgs := []string{k.key, "name"}, []any{rec.ID, rec.Name}
		if text := codec.searched(first); text != nil {
			ftsCols, ftsArgs = append(ftsCols, "background"), append(ftsArgs, *text)
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO `+k.fts+` (`+strings.Join(ftsCols, ", ")+`) VALUES (`+
			placeholders(len(ftsCols))+`)`, ftsArgs...)
		return err
	})
	if err != nil {
		return SimulationRecord{}, fmt.Errorf("store: create %s: %w", k.kind, err)
	}
	return rec, nil
}

func insertSimulationVersion[C PersonaContent | ScenarioContent](ctx context.Context, tx *sql.Tx, k SimulationKind,
	codec versionCodec[C], orgID, recordID string, version int, c C, by Actor, now time.Time) (SimulationVersion[C], error) {
	v := SimulationVersion[C]{ID: NewID(), OrgID: orgID, RecordID: recordID, Version: version, Content: c, Creator: by,
		CreatedAt: now}
	content, err := codec.encode(c)
	if err != nil {
		return v, err
	}
	cols := append([]string{"id", "org_id", k.key, "version", "creator_org_id", "creator_user_id", "created_at"},
		codec.columns...)
	args := append([]any{v.ID, orgID, recordID, version, by.OrgID, by.UserID, formatTime(now)}, content...)
	q := `INSERT INTO ` + k.versions + ` (` + strings.Join(cols, ", ") + `) VALUES (` + placeholders(len(cols)) + `)`
	if _, err := tx.ExecContext(ctx, q, args...); err != nil {
		return v, fmt.Errorf("insert %s version %d: %w", k.kind, version, err)
	}
	return v, nil
}

func (k SimulationKind) columns() string {
	cols := `r.id, r.org_id, r.name, r.tags, r.is_deleted, r.creator_org_id, r.creator_user_id, r.updated_by_org_id,
		r.updated_by_user_id, r.created_at, r.updated_at`
	if k.role {
		return cols + `, r.role`
	}
	return cols + `, ''`
}

func scanSimulationRecord(row interface{ Scan(...any) error }) (SimulationRecord, error) {
	var r SimulationRecord
	var tags, created, updated string
	err := row.Scan(&r.ID, &r.OrgID, &r.Name, &tags, &r.IsDeleted, &r.Creator.OrgID, &r.Creator.UserID,
		&r.UpdatedBy.OrgID, &r.UpdatedBy.UserID, &created, &updated, &r.Role)
	if err != nil {
		return r, err
	}
	if err := json.Unmarshal([]byte(tags), &r.Tags); err != nil {
		return r, fmt.Errorf("%s tags: %w", r.ID, err)
	}
	if r.CreatedAt, err = parseTime(created); err != nil {
		return r, err
	}
	r.UpdatedAt, err = parseTime(updated)
	return r, err
}

// GetSimulationRecord returns the organization's persona or scenario with
// the given ID, deleted or not.
func (s *Store) GetSimulationRecord(ctx context.Context, k SimulationKind, orgID, id string) (SimulationRecord, error) {
	return getSimulationRecord(ctx, s.read, k, orgID, id)
}

func getSimulationRecord(ctx context.Context, db queryer, k SimulationKind, orgID, id string) (SimulationRecord, error) {
	return getByID(ctx, db, k.kind, k.table, k.columns(), orgID, id, scanSimulationRecord)
}

// getByID loads the row of table (aliased r) with the organization and
// ID, selecting columns and scanning them with scan; none is a
// *NotFoundError of kind.
func getByID[T any](ctx context.Context, db queryer, kind Kind, table, columns, orgID, id string,
	scan func(interface{ Scan(...any) error }) (T, error)) (T, error) {
	q := `SELECT ` + columns + ` FROM ` + table + ` r WHERE r.org_id = ? AND r.id = ?`
	v, err := scan(db.QueryRowContext(ctx, q, orgID, id))
	if errors.Is(err, sql.ErrNoRows) {
		return v, missing(kind, id)
	}
	if err != nil {
		return v, fmt.Errorf("store: get %s %s: %w", kind, id, err)
	}
	return v, nil
}

// simulationSortColumns maps the API's sort fields to columns, for every
// list of simulation building blocks.
var simulationSortColumns = map[string]string{"updated_at": "r.updated_at"}

// ValidSimulationSortField reports whether the lists of personas,
// scenarios, unit tests and unit test sets can sort by field.
var ValidSimulationSortField = sortable(simulationSortColumns)

// SimulationFilter selects personas or scenarios. Empty slices and nil
// pointers do not filter; Roles filters personas only. A record matches
// Creators if any of them made it (an empty Actor.OrgID matching the user
// in any organization) and every tag filter.
type SimulationFilter struct {
	IDs       []string
	IsDeleted *bool
	Roles     []string
	Creators  []Actor
	Tags      []TagFilter
	Sort      []SortKey
}

func (f SimulationFilter) where(k SimulationKind, orgID string) (string, []any) {
	var b strings.Builder
	args := []any{orgID}
	b.WriteString(`r.org_id = ?`)
	args = andIn(&b, args, "r.id", f.IDs)
	args = andDeleted(&b, args, f.IsDeleted)
	if k.role {
		args = andIn(&b, args, "r.role", f.Roles)
	}
	args = andCreatedBy(&b, args, "r", f.Creators)
	for _, tf := range f.Tags {
		cond, targs := tagMapCondition("r.tags", tf)
		b.WriteString(` AND ` + cond)
		args = append(args, targs...)
	}
	return b.String(), args
}

func andDeleted(b *strings.Builder, args []any, deleted *bool) []any {
	if deleted == nil {
		return args
	}
	b.WriteString(` AND r.is_deleted = ?`)
	return append(args, *deleted)
}

// tagMapCondition is tagCondition for tags kept as a JSON object of key to
// value rather than a list of {key, value}.
func tagMapCondition(column string, f TagFilter) (string, []any) {
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

// ListSimulationRecords returns every persona or scenario of the
// organization matching f, in f.Sort order with ties broken by creation.
// Callers filter by visibility and page the result.
func (s *Store) ListSimulationRecords(ctx context.Context, k SimulationKind, orgID string, f SimulationFilter) ([]SimulationRecord, error) {
	where, args := f.where(k, orgID)
	out, err := listSimulation(ctx, s, k.table, k.columns(), where, args, f.Sort, scanSimulationRecord)
	if err != nil {
		return nil, fmt.Errorf("store: list %s: %w", k.kind, err)
	}
	return out, nil
}

// SearchSimulationRecords returns the personas or scenarios matching f
// whose name (or, for a persona, the background of its latest version)
// holds every word of query, stemmed, best match first.
func (s *Store) SearchSimulationRecords(ctx context.Context, k SimulationKind, orgID, query string, f SimulationFilter) ([]SimulationRecord, error) {
	where, args := f.where(k, orgID)
	out, err := searchSimulation(ctx, s, k.table, k.fts, k.key, k.columns(), query, where, args, scanSimulationRecord)
	if err != nil {
		return nil, fmt.Errorf("store: search %s: %w", k.kind, err)
	}
	return out, nil
}

// listSimulation returns the rows of table (aliased r) matching where, in
// sortBy order with ties broken by creation.
func listSimulation[T any](ctx context.Context, s *Store, table, columns, where string, args []any, sortBy []SortKey,
	scan func(interface{ Scan(...any) error }) (T, error)) ([]T, error) {
	order, err := orderBy(sortBy, simulationSortColumns)
	if err != nil {
		return nil, err
	}
	q := `SELECT ` + columns + ` FROM ` + table + ` r WHERE ` + where + ` ORDER BY ` +
		strings.Join(append(order, "r.created_at", "r.id"), ", ")
	return queryAll(ctx, s.read, scan, q, args...)
}

// searchSimulation returns the rows of table (aliased r) matching where
// whose full-text row in fts, keyed by its column key, holds every word of
// query, stemmed, best match first.
func searchSimulation[T any](ctx context.Context, s *Store, table, fts, key, columns, query, where string, args []any,
	scan func(interface{ Scan(...any) error }) (T, error)) ([]T, error) {
	match := ftsQuery(query)
	if match == "" {
		return []T{}, nil
	}
	q := `SELECT ` + columns + ` FROM ` + fts + ` JOIN ` + table + ` r ON r.id = ` + fts + `.` + key + ` WHERE ` + fts +
		` MATCH ? AND ` + where + ` ORDER BY ` + fts + `.rank, r.created_at, r.id`
	return queryAll(ctx, s.read, scan, q, append([]any{match}, args...)...)
}

// rowsQueryer runs a query returning rows: the store's read pool or a
// transaction.
type rowsQueryer interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// queryAll runs q and scans every row with scan; no rows is an empty,
// non-nil slice.
func queryAll[T any](ctx context.Context, db rowsQueryer, scan func(interface{ Scan(...any) error }) (T, error),
	q string, args ...any) ([]T, error) {
	rows, err := db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []T{}
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// liveSimulationRecord loads a record that may still change: a deleted one
// is as missing as one that never existed, which is how the reference
// words the unit tests' "not found or is inactive".
func liveSimulationRecord(ctx context.Context, tx *sql.Tx, k SimulationKind, orgID, id string) (SimulationRecord, error) {
	r, err := getSimulationRecord(ctx, tx, k, orgID, id)
	if err == nil && r.IsDeleted {
		return SimulationRecord{}, missing(k.kind, id)
	}
	return r, err
}

// UpdateSimulationTags replaces the tags of the live persona or scenario.
func (s *Store) UpdateSimulationTags(ctx context.Context, k SimulationKind, orgID, id string, by Actor, tags map[string]*string) error {
	if tags == nil {
		tags = map[string]*string{}
	}
	raw, err := json.Marshal(tags)
	if err != nil {
		return err
	}
	return s.inTx(ctx, func(tx *sql.Tx) error {
		r, err := getSimulationRecord(ctx, tx, k, orgID, id)
		if err != nil {
			return err
		}
		if r.IsDeleted {
			return missing(k.kind, id)
		}
		q := `UPDATE ` + k.table + ` SET tags = ?, updated_by_org_id = ?, updated_by_user_id = ?, updated_at = ?
			WHERE org_id = ? AND id = ?`
		_, err = tx.ExecContext(ctx, q, string(raw), by.OrgID, by.UserID, formatTime(s.now()), orgID, id)
		return err
	})
}

// DeleteSimulationRecord marks the live persona or scenario deleted,
// freeing its name; it stays stored with its versions, and the unit tests
// made before keep naming it. One a live unit test uses is a *RuleError
// (RuleInUse, the unit tests in Others).
func (s *Store) DeleteSimulationRecord(ctx context.Context, k SimulationKind, orgID, id string, by Actor) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		r, err := getSimulationRecord(ctx, tx, k, orgID, id)
		if err != nil {
			return err
		}
		if r.IsDeleted {
			return missing(k.kind, id)
		}
		users, err := queryAll(ctx, tx, scanString, `SELECT id FROM simulation_unit_tests
			WHERE org_id = ? AND `+k.key+` = ? AND is_deleted = 0 ORDER BY created_at, id`, orgID, id)
		if err != nil {
			return err
		}
		if len(users) > 0 {
			return &RuleError{Refusal{Rule: RuleInUse, Kind: k.kind, ID: id, Of: string(KindUnitTest), Others: users}, nil}
		}
		return markDeleted(ctx, tx, k.table, orgID, id, by, s.now())
	})
}

func scanString(row interface{ Scan(...any) error }) (string, error) {
	var s string
	err := row.Scan(&s)
	return s, err
}

// markDeleted marks a record of a soft-deleted table deleted by by.
func markDeleted(ctx context.Context, tx *sql.Tx, table, orgID, id string, by Actor, now time.Time) error {
	q := `UPDATE ` + table + ` SET is_deleted = 1, updated_by_org_id = ?, updated_by_user_id = ?, updated_at = ?
		WHERE org_id = ? AND id = ?`
	_, err := tx.ExecContext(ctx, q, by.OrgID, by.UserID, formatTime(now), orgID, id)
	return err
}

// CreatePersonaVersion adds the next version to the live persona. If want
// is not nil it must be that next number, else the write is a *RuleError
// (RuleNextVersion), as the reference answers 400 here.
func (s *Store) CreatePersonaVersion(ctx context.Context, orgID, id string, c PersonaContent, by Actor, want *int) (SimulationVersion[PersonaContent], error) {
	return createSimulationVersion(ctx, s, SimulationPersonas, personaCodec, orgID, id, c, by, want)
}

// CreateScenarioVersion is CreatePersonaVersion for a scenario.
func (s *Store) CreateScenarioVersion(ctx context.Context, orgID, id string, c ScenarioContent, by Actor, want *int) (SimulationVersion[ScenarioContent], error) {
	return createSimulationVersion(ctx, s, SimulationScenarios, scenarioCodec, orgID, id, c, by, want)
}

func createSimulationVersion[C PersonaContent | ScenarioContent](ctx context.Context, s *Store, k SimulationKind,
	codec versionCodec[C], orgID, id string, c C, by Actor, want *int) (SimulationVersion[C], error) {
	var v SimulationVersion[C]
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := liveSimulationRecord(ctx, tx, k, orgID, id); err != nil {
			return err
		}
		var latest int
		if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM `+k.versions+` WHERE `+k.key+` = ?`,
			id).Scan(&latest); err != nil {
			return err
		}
		next := latest + 1
		if want != nil && *want != next {
			return &RuleError{Refusal{Rule: RuleNextVersion, Kind: k.kind, ID: id, Next: next, Want: *want}, nil}
		}
		now := s.now()
		var err error
		if v, err = insertSimulationVersion(ctx, tx, k, codec, orgID, id, next, c, by, now); err != nil {
			return err
		}
		if text := codec.searched(c); text != nil {
			if _, err := tx.ExecContext(ctx, `UPDATE `+k.fts+` SET background = ? WHERE `+k.key+` = ?`, *text, id); err != nil {
				return err
			}
		}
		q := `UPDATE ` + k.table + ` SET updated_by_org_id = ?, updated_by_user_id = ?, updated_at = ? WHERE id = ?`
		_, err = tx.ExecContext(ctx, q, by.OrgID, by.UserID, formatTime(now), id)
		return err
	})
	if err != nil {
		return v, fmt.Errorf("store: create %s version: %w", k.kind, err)
	}
	return v, nil
}

// VersionFilter selects, orders and pages the versions of one record.
type VersionFilter struct {
	Range  VersionRange
	Sort   []SortKey
	Limit  int
	Offset int
}

// ValidVersionSortField reports whether version lists can sort by field.
var ValidVersionSortField = sortable(versionSortColumns)

// andVersionRange adds the conditions selecting r among the versions in
// table whose column key names the record id.
func andVersionRange(b *strings.Builder, args []any, table, key, id string, r VersionRange) []any {
	switch {
	case r.Latest:
		b.WriteString(` AND version = (SELECT MAX(version) FROM ` + table + ` WHERE ` + key + ` = ?)`)
		args = append(args, id)
	default:
		if r.Min != nil {
			b.WriteString(` AND version >= ?`)
			args = append(args, *r.Min)
		}
		if r.Max != nil {
			b.WriteString(` AND version <= ?`)
			args = append(args, *r.Max)
		}
	}
	return args
}

// ListPersonaVersions returns a page of the persona's versions matching f,
// oldest first unless sorted otherwise, and whether more follow. The
// persona may be deleted; a missing one is a *NotFoundError.
func (s *Store) ListPersonaVersions(ctx context.Context, orgID, id string, f VersionFilter) ([]SimulationVersion[PersonaContent], bool, error) {
	return listSimulationVersions(ctx, s, SimulationPersonas, personaCodec, orgID, id, f)
}

// ListScenarioVersions is ListPersonaVersions for a scenario.
func (s *Store) ListScenarioVersions(ctx context.Context, orgID, id string, f VersionFilter) ([]SimulationVersion[ScenarioContent], bool, error) {
	return listSimulationVersions(ctx, s, SimulationScenarios, scenarioCodec, orgID, id, f)
}

// LatestPersonaVersion returns the persona's newest version.
func (s *Store) LatestPersonaVersion(ctx context.Context, orgID, id string) (SimulationVersion[PersonaContent], error) {
	return latestSimulationVersion(ctx, s, SimulationPersonas, personaCodec, orgID, id)
}

// LatestScenarioVersion returns the scenario's newest version.
func (s *Store) LatestScenarioVersion(ctx context.Context, orgID, id string) (SimulationVersion[ScenarioContent], error) {
	return latestSimulationVersion(ctx, s, SimulationScenarios, scenarioCodec, orgID, id)
}

func latestSimulationVersion[C PersonaContent | ScenarioContent](ctx context.Context, s *Store, k SimulationKind,
	codec versionCodec[C], orgID, id string) (SimulationVersion[C], error) {
	vs, _, err := listSimulationVersions(ctx, s, k, codec, orgID, id, VersionFilter{Range: VersionRange{Latest: true}, Limit: 1})
	if err != nil {
		return SimulationVersion[C]{}, err
	}
	if len(vs) == 0 {
		return SimulationVersion[C]{}, &NotFoundError{Kind: k.kind, ID: id, NoVersions: true}
	}
	return vs[0], nil
}

func listSimulationVersions[C PersonaContent | ScenarioContent](ctx context.Context, s *Store, k SimulationKind,
	codec versionCodec[C], orgID, id string, f VersionFilter) ([]SimulationVersion[C], bool, error) {
	if _, err := getSimulationRecord(ctx, s.read, k, orgID, id); err != nil {
		return nil, false, err
	}
	var where strings.Builder
	where.WriteString(`org_id = ? AND ` + k.key + ` = ?`)
	args := andVersionRange(&where, []any{orgID, id}, k.versions, k.key, id, f.Range)
	order, err := orderBy(f.Sort, versionSortColumns)
	if err != nil {
		return nil, false, fmt.Errorf("store: list %s versions: %w", k.kind, err)
	}
	q := `SELECT id, org_id, ` + k.key + `, version, creator_org_id, creator_user_id, created_at, ` +
		strings.Join(codec.columns, ", ") + ` FROM ` + k.versions + ` WHERE ` + where.String() + ` ORDER BY ` +
		strings.Join(append(order, "version"), ", ") + ` LIMIT ? OFFSET ?`
	scan := func(row interface{ Scan(...any) error }) (SimulationVersion[C], error) {
		var v SimulationVersion[C]
		var created string
		var err error
		v.Content, err = codec.decode(func(targets ...any) error {
			return row.Scan(append([]any{&v.ID, &v.OrgID, &v.RecordID, &v.Version, &v.Creator.OrgID,
				&v.Creator.UserID, &created}, targets...)...)
		})
		if err != nil {
			return v, err
		}
		v.CreatedAt, err = parseTime(created)
		return v, err
	}
	out, err := queryAll(ctx, s.read, scan, q, append(args, f.Limit+1, f.Offset)...)
	if err != nil {
		return nil, false, fmt.Errorf("store: list %s versions: %w", k.kind, err)
	}
	more := len(out) > f.Limit
	if more {
		out = out[:f.Limit]
	}
	return out, more, nil
}
