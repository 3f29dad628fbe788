package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Agents and service hierarchical state machines are the same kind of
// record: a named record whose content lives in numbered, immutable
// versions, kept in a pair of tables of the same shape. One implementation
// serves both, told apart by a versionedKind.

// versionedKind names a kind's tables. The table and column names are
// constants, never input.
type versionedKind struct {
	kind     Kind
	what     string // the record in log messages
	records  string // the records' table
	versions string // the versions' table
	key      string // the column naming the record in versions and services
	// resource is the record's resource_type in resource-updated events.
	resource string
}

// VersionedRecord is an agent or a state machine.
type VersionedRecord struct {
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

// RecordVersion is one immutable version of a VersionedRecord. Body is its
// content as a JSON document; the store neither reads nor checks it.
type RecordVersion struct {
	OrgID     string
	RecordID  string
	Version   int
	Body      json.RawMessage
	Creator   Actor
	CreatedAt time.Time
}

// RecordFilter selects records for ListAgents and ListStateMachines. An
// empty slice or nil pointer does not filter.
type RecordFilter struct {
	IDs        []string
	Deprecated *bool
}

// VersionRange selects versions by number, bounds inclusive. A nil Min has
// no lower bound; a nil Max means up to the newest version. Latest selects
// only the newest version and ignores the bounds.
type VersionRange struct {
	Min, Max *int
	Latest   bool
}

// versionSortColumns maps the API's sort fields to columns.
var versionSortColumns = map[string]string{"version": "version"}

func (s *Store) createRecord(ctx context.Context, k versionedKind, r VersionedRecord) (VersionedRecord, error) {
	now := s.now()
	r.ID = NewID()
	r.CreatedAt, r.UpdatedAt = now, now
	r.Deprecated, r.LatestVersion = false, nil
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		q := `INSERT INTO ` + k.records + ` (id, org_id, name, creator_org_id, creator_user_id, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?)`
		_, err := tx.ExecContext(ctx, q, r.ID, r.OrgID, r.Name, r.Creator.OrgID, r.Creator.UserID,
			formatTime(now), formatTime(now))
		if isUniqueViolation(err) {
			return &ConflictError{Refusal{Rule: RuleNameTaken, Kind: k.kind, Name: r.Name}}
		}
		if err != nil {
			return err
		}
		return s.resourceUpdated(ctx, tx, r.OrgID, k.resource, r.ID, ChangeCreated, nil)
	})
	if err != nil {
		return VersionedRecord{}, fmt.Errorf("store: create %s: %w", k.what, err)
	}
	return r, nil
}

// selectRecords starts a query of k's records, aliased r, with their newest
// version numbers.
func (k versionedKind) selectRecords() string {
	return `SELECT r.id, r.org_id, r.name, r.deprecated, r.creator_org_id, r.creator_user_id, r.created_at,
		r.updated_at, (SELECT MAX(v.version) FROM ` + k.versions + ` v WHERE v.` + k.key + ` = r.id)
		FROM ` + k.records + ` r`
}

func scanRecord(row interface{ Scan(...any) error }) (VersionedRecord, error) {
	var r VersionedRecord
	var created, updated string
	var latest sql.NullInt64
	err := row.Scan(&r.ID, &r.OrgID, &r.Name, &r.Deprecated, &r.Creator.OrgID, &r.Creator.UserID,
		&created, &updated, &latest)
	if err != nil {
		return VersionedRecord{}, err
	}
	if latest.Valid {
		n := int(latest.Int64)
		r.LatestVersion = &n
	}
	if r.CreatedAt, err = parseTime(created); err != nil {
		return VersionedRecord{}, err
	}
	if r.UpdatedAt, err = parseTime(updated); err != nil {
		return VersionedRecord{}, err
	}
	return r, nil
}

func getRecord(ctx context.Context, db queryer, k versionedKind, orgID, id string) (VersionedRecord, error) {
	q := k.selectRecords() + ` WHERE r.org_id = ? AND r.id = ?`
	r, err := scanRecord(db.QueryRowContext(ctx, q, orgID, id))
	if errors.Is(err, sql.ErrNoRows) {
		return VersionedRecord{}, missing(k.kind, id)
	}
	if err != nil {
		return VersionedRecord{}, fmt.Errorf("store: get %s %s: %w", k.what, id, err)
	}
	return r, nil
}

// listRecords returns the organization's records matching f, oldest first.
// Organizations have tens of them, so callers filter by permission and page
// the result themselves.
func (s *Store) listRecords(ctx context.Context, k versionedKind, orgID string, f RecordFilter) ([]VersionedRecord, error) {
	q := k.selectRecords() + ` WHERE r.org_id = ?`
	args := []any{orgID}
	if len(f.IDs) > 0 {
		q += ` AND r.id IN (` + placeholders(len(f.IDs)) + `)`
		for _, id := range f.IDs {
			args = append(args, id)
		}
	}
	if f.Deprecated != nil {
		q += ` AND r.deprecated = ?`
		args = append(args, *f.Deprecated)
	}
	rows, err := s.read.QueryContext(ctx, q+` ORDER BY r.created_at, r.id`, args...)
	if err != nil {
		return nil, fmt.Errorf("store: list %ss: %w", k.what, err)
	}
	defer rows.Close()
	out := []VersionedRecord{}
	for rows.Next() {
		r, err := scanRecord(rows)
		if err != nil {
			return nil, fmt.Errorf("store: list %ss: %w", k.what, err)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// createVersion adds v as the next version of a live record, all inside one
// transaction. check is called with the record and may refuse (a permission
// check); a deprecated record is then a *NotFoundError, as it is wherever a
// version is resolved. A nil build keeps v.Body; otherwise build is called
// with the newest version (nil before the first) and returns the body.
// Errors of check and build abort the write and are returned as they are.
// When want is not nil and the next version number is not *want, the write
// is a *ConflictError: of two writers that read the same newest version,
// only one adds a version on top of it.
func (s *Store) createVersion(ctx context.Context, k versionedKind, v RecordVersion, want *int,
	check func(VersionedRecord) error, build func(prev *RecordVersion) (json.RawMessage, error)) (RecordVersion, error) {
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		r, err := getRecord(ctx, tx, k, v.OrgID, v.RecordID)
		if err != nil {
			return err
		}
		if err := check(r); err != nil {
			return err
		}
		if r.Deprecated {
			return &NotFoundError{Kind: k.kind, ID: r.ID, Deprecated: true}
		}
		v.Version = 1
		if r.LatestVersion != nil {
			v.Version = *r.LatestVersion + 1
		}
		if want != nil && *want != v.Version {
			return &ConflictError{Refusal{Rule: RuleNextVersion, Kind: k.kind, ID: r.ID, Next: v.Version, Want: *want}}
		}
		if build != nil {
			var prev *RecordVersion
			if r.LatestVersion != nil {
				p, err := getVersion(ctx, tx, k, r.OrgID, r.ID, *r.LatestVersion)
				if err != nil {
					return err
				}
				prev = &p
			}
			if v.Body, err = build(prev); err != nil {
				return err
			}
		}
		v.CreatedAt = s.now()
		q := `INSERT INTO ` + k.versions + ` (org_id, ` + k.key + `, version, body, creator_org_id, creator_user_id,
			created_at) VALUES (?, ?, ?, ?, ?, ?, ?)`
		if _, err := tx.ExecContext(ctx, q, v.OrgID, v.RecordID, v.Version, string(v.Body), v.Creator.OrgID,
			v.Creator.UserID, formatTime(v.CreatedAt)); err != nil {
			return fmt.Errorf("store: create %s %s version %d: %w", k.what, r.ID, v.Version, err)
		}
		q = `UPDATE ` + k.records + ` SET updated_at = ? WHERE org_id = ? AND id = ?`
		if _, err := tx.ExecContext(ctx, q, formatTime(v.CreatedAt), r.OrgID, r.ID); err != nil {
			return fmt.Errorf("store: create %s %s version %d: %w", k.what, r.ID, v.Version, err)
		}
		return s.resourceUpdated(ctx, tx, r.OrgID, k.resource, r.ID, ChangeVersionCreated, &v.Version)
	})
	if err != nil {
		return RecordVersion{}, err
	}
	return v, nil
}

// selectVersions starts a query of k's versions.
func (k versionedKind) selectVersions() string {
	return `SELECT org_id, ` + k.key + `, version, body, creator_org_id, creator_user_id, created_at FROM ` + k.versions
}

func scanVersion(row interface{ Scan(...any) error }) (RecordVersion, error) {
	var v RecordVersion
	var body, created string
	if err := row.Scan(&v.OrgID, &v.RecordID, &v.Version, &body, &v.Creator.OrgID, &v.Creator.UserID, &created); err != nil {
		return RecordVersion{}, err
	}
	v.Body = json.RawMessage(body)
	var err error
	if v.CreatedAt, err = parseTime(created); err != nil {
		return RecordVersion{}, err
	}
	return v, nil
}

// getVersion returns one version of a record of the organization, deprecated
// or not; a version the record does not have, or a missing record, is a
// *NotFoundError.
func getVersion(ctx context.Context, db queryer, k versionedKind, orgID, id string, version int) (RecordVersion, error) {
	q := k.selectVersions() + ` WHERE org_id = ? AND ` + k.key + ` = ? AND version = ?`
	v, err := scanVersion(db.QueryRowContext(ctx, q, orgID, id, version))
	if errors.Is(err, sql.ErrNoRows) {
		return RecordVersion{}, &NotFoundError{Kind: k.kind, ID: id, Version: strconv.Itoa(version)}
	}
	if err != nil {
		return RecordVersion{}, fmt.Errorf("store: get %s %s version %d: %w", k.what, id, version, err)
	}
	return v, nil
}

// listVersions returns the versions of a record of the organization,
// deprecated or not, in r, in sortBy order (ascending version by default).
// A missing record is a *NotFoundError.
func (s *Store) listVersions(ctx context.Context, k versionedKind, orgID, id string, r VersionRange,
	sortBy []SortKey) ([]RecordVersion, error) {
	if _, err := getRecord(ctx, s.read, k, orgID, id); err != nil {
		return nil, err
	}
	q := k.selectVersions() + ` WHERE org_id = ? AND ` + k.key + ` = ?`
	args := []any{orgID, id}
	switch {
	case r.Latest:
		q += ` AND version = (SELECT MAX(version) FROM ` + k.versions + ` WHERE ` + k.key + ` = ?)`
		args = append(args, id)
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
	order, err := orderBy(sortBy, versionSortColumns)
	if err != nil {
		return nil, fmt.Errorf("store: list %s %s versions: %w", k.what, id, err)
	}
	q += ` ORDER BY ` + strings.Join(append(order, "version"), ", ")
	rows, err := s.read.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("store: list %s %s versions: %w", k.what, id, err)
	}
	defer rows.Close()
	out := []RecordVersion{}
	for rows.Next() {
		v, err := scanVersion(rows)
		if err != nil {
			return nil, fmt.Errorf("store: list %s %s versions: %w", k.what, id, err)
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// deprecate marks a record deprecated; it and its versions stay, so the
// services and conversations that name it keep their history, and its name
// becomes free. check is called with the record inside the transaction and
// may refuse. A record already deprecated is a *ConflictError; one an
// active service uses is a *RuleError.
func (s *Store) deprecate(ctx context.Context, k versionedKind, orgID, id string, check func(VersionedRecord) error) error {
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		r, err := getRecord(ctx, tx, k, orgID, id)
		if err != nil {
			return err
		}
		if err := check(r); err != nil {
			return err
		}
		if r.Deprecated {
			return &ConflictError{Refusal{Rule: RuleDeleted, Kind: k.kind, ID: id}}
		}
		rows, err := tx.QueryContext(ctx, `SELECT id FROM services WHERE org_id = ? AND `+k.key+` = ? AND is_active = 1
			ORDER BY created_at, id`, orgID, id)
		if err != nil {
			return err
		}
		defer rows.Close()
		var active []string
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
			return &RuleError{Refusal{Rule: RuleInUse, Kind: k.kind, ID: id, Others: active}, nil}
		}
		q := `UPDATE ` + k.records + ` SET deprecated = 1, updated_at = ? WHERE org_id = ? AND id = ?`
		if _, err = tx.ExecContext(ctx, q, formatTime(s.now()), orgID, id); err != nil {
			return err
		}
		return s.resourceUpdated(ctx, tx, orgID, k.resource, id, ChangeDeleted, nil)
	})
	if err != nil {
		return fmt.Errorf("store: delete %s %s: %w", k.what, id, err)
	}
	return nil
}

// resolveVersion returns the version of a live record of the organization
// that version names, or its newest version when version is nil. A missing
// or deprecated record, or a version it does not have, is a *NotFoundError
// saying which.
func resolveVersion(ctx context.Context, db queryer, k versionedKind, orgID, id string, version *int) (int, error) {
	var deprecated bool
	err := db.QueryRowContext(ctx, `SELECT deprecated FROM `+k.records+` WHERE org_id = ? AND id = ?`, orgID, id).Scan(&deprecated)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, missing(k.kind, id)
	}
	if err != nil {
		return 0, fmt.Errorf("store: resolve %s %s: %w", k.what, id, err)
	}
	if deprecated {
		return 0, &NotFoundError{Kind: k.kind, ID: id, Deprecated: true}
	}
	var got sql.NullInt64
	if version == nil {
		err = db.QueryRowContext(ctx, `SELECT MAX(version) FROM `+k.versions+` WHERE `+k.key+` = ?`, id).Scan(&got)
	} else {
		err = db.QueryRowContext(ctx, `SELECT version FROM `+k.versions+` WHERE `+k.key+` = ? AND version = ?`, id, *version).Scan(&got)
	}
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return 0, fmt.Errorf("store: resolve %s %s: %w", k.what, id, err)
	}
	if !got.Valid {
		if version == nil {
			return 0, &NotFoundError{Kind: k.kind, ID: id, NoVersions: true}
		}
		return 0, &NotFoundError{Kind: k.kind, ID: id, Version: strconv.Itoa(*version)}
	}
	return int(got.Int64), nil
}
