package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// MaxActiveToolVersions is how many non-deprecated versions a tool may have.
const MaxActiveToolVersions = 3

// ToolVersion is an immutable, published build of a tool.
type ToolVersion struct {
	ID                    string
	OrgID                 string
	ToolID                string
	Major, Minor, Patch   int
	RequiredEnvVars       []string
	RequiredSecretEnvVars []string
	InputSchema           json.RawMessage
	Entrypoint            string
	Repo                  string
	CommitHash            string
	ScaffoldHash          string
	ProjectDirectory      string
	// LambdaVersion counts the tool's versions: 1 for the first published.
	LambdaVersion int
	Deprecated    bool
	Creator       Actor
	UpdatedBy     Actor
	CreatedAt     time.Time
	UpdatedAt     time.Time
}

// NextVersion computes a new version number from the tool's newest one:
// 1.0.0 for the first, then major, minor or patch bumped.
type NextVersion func(latest *[3]int) [3]int

// PublishToolVersion stores v with its files as the tool's next version, in
// one transaction: the number comes from next applied to the newest version
// published so far, and the tool's last commit becomes v.CommitHash. A
// deprecated tool is ErrNotFound; a tool that already has
// MaxActiveToolVersions live versions is a *RuleError.
func (s *Store) PublishToolVersion(ctx context.Context, v ToolVersion, files map[string][]byte, next NextVersion) (ToolVersion, error) {
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		t, err := getTool(ctx, tx, v.OrgID, v.ToolID)
		if err != nil {
			return err
		}
		if t.Deprecated {
			return &NotFoundError{Kind: KindTool, ID: t.ID, Deprecated: true}
		}
		var active, count int
		var latest [3]int
		var hasLatest bool
		const qc = `SELECT COALESCE(SUM(deprecated = 0), 0), COUNT(*) FROM tool_versions WHERE tool_id = ?`
		if err := tx.QueryRowContext(ctx, qc, t.ID).Scan(&active, &count); err != nil {
			return fmt.Errorf("store: publish: %w", err)
		}
		if active >= MaxActiveToolVersions {
			return &RuleError{Refusal{Rule: RuleLimit, Kind: KindTool, ID: t.ID, Of: "active versions", Limit: active}, nil}
		}
		const ql = `SELECT major, minor, patch FROM tool_versions WHERE tool_id = ?
			ORDER BY major DESC, minor DESC, patch DESC LIMIT 1`
		err = tx.QueryRowContext(ctx, ql, t.ID).Scan(&latest[0], &latest[1], &latest[2])
		switch {
		case errors.Is(err, sql.ErrNoRows):
		case err != nil:
			return fmt.Errorf("store: publish: %w", err)
		default:
			hasLatest = true
		}
		var n [3]int
		if hasLatest {
			n = next(&latest)
		} else {
			n = next(nil)
		}
		now := s.now()
		v.ID = NewID()
		v.Major, v.Minor, v.Patch = n[0], n[1], n[2]
		v.LambdaVersion = count + 1
		v.UpdatedBy = v.Creator
		v.CreatedAt, v.UpdatedAt = now, now
		if v.RequiredEnvVars == nil {
			v.RequiredEnvVars = []string{}
		}
		if v.RequiredSecretEnvVars == nil {
			v.RequiredSecretEnvVars = []string{}
		}
		plain, _ := json.Marshal(v.RequiredEnvVars)
		secret, _ := json.Marshal(v.RequiredSecretEnvVars)
		const q = `INSERT INTO tool_versions (id, org_id, tool_id, major, minor, patch, required_envvars,
			required_secret_envvars, input_schema, entrypoint, tool_repo, tool_commit_hash, scaffold_hash,
			project_directory, lambda_version, creator_org_id, creator_user_id, updated_by_org_id,
			updated_by_user_id, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
		if _, err := tx.ExecContext(ctx, q, v.ID, v.OrgID, v.ToolID, v.Major, v.Minor, v.Patch, string(plain),
			string(secret), string(v.InputSchema), v.Entrypoint, v.Repo, v.CommitHash, v.ScaffoldHash,
			v.ProjectDirectory, v.LambdaVersion, v.Creator.OrgID, v.Creator.UserID, v.Creator.OrgID,
			v.Creator.UserID, formatTime(now), formatTime(now)); err != nil {
			return fmt.Errorf("store: publish: %w", err)
		}
		for path, content := range files {
			const qf = `INSERT INTO tool_version_files (version_id, path, content) VALUES (?, ?, ?)`
			if _, err := tx.ExecContext(ctx, qf, v.ID, path, content); err != nil {
				return fmt.Errorf("store: publish file %s: %w", path, err)
			}
		}
		const qt = `UPDATE tools SET last_commit = ?, updated_by_org_id = ?, updated_by_user_id = ?, updated_at = ?
			WHERE id = ?`
		if _, err := tx.ExecContext(ctx, qt, v.CommitHash, v.Creator.OrgID, v.Creator.UserID, formatTime(now), t.ID); err != nil {
			return fmt.Errorf("store: publish: %w", err)
		}
		return nil
	})
	if err != nil {
		return ToolVersion{}, err
	}
	return v, nil
}

const toolVersionColumns = `id, org_id, tool_id, major, minor, patch, required_envvars, required_secret_envvars,
	input_schema, entrypoint, tool_repo, tool_commit_hash, scaffold_hash, project_directory, lambda_version,
	deprecated, creator_org_id, creator_user_id, updated_by_org_id, updated_by_user_id, created_at, updated_at`

func scanToolVersion(row interface{ Scan(...any) error }) (ToolVersion, error) {
	var v ToolVersion
	var plain, secret, schema, created, updated string
	err := row.Scan(&v.ID, &v.OrgID, &v.ToolID, &v.Major, &v.Minor, &v.Patch, &plain, &secret, &schema,
		&v.Entrypoint, &v.Repo, &v.CommitHash, &v.ScaffoldHash, &v.ProjectDirectory, &v.LambdaVersion,
		&v.Deprecated, &v.Creator.OrgID, &v.Creator.UserID, &v.UpdatedBy.OrgID, &v.UpdatedBy.UserID,
		&created, &updated)
	if err != nil {
		return ToolVersion{}, err
	}
	if err := json.Unmarshal([]byte(plain), &v.RequiredEnvVars); err != nil {
		return ToolVersion{}, fmt.Errorf("tool version %s: %w", v.ID, err)
	}
	if err := json.Unmarshal([]byte(secret), &v.RequiredSecretEnvVars); err != nil {
		return ToolVersion{}, fmt.Errorf("tool version %s: %w", v.ID, err)
	}
	v.InputSchema = json.RawMessage(schema)
	if v.CreatedAt, err = parseTime(created); err != nil {
		return ToolVersion{}, err
	}
	if v.UpdatedAt, err = parseTime(updated); err != nil {
		return ToolVersion{}, err
	}
	return v, nil
}

// ListToolVersions returns every version of the tool, oldest first. A tool
// has a handful of versions, so callers filter and page the result.
func (s *Store) ListToolVersions(ctx context.Context, orgID, toolID string) ([]ToolVersion, error) {
	q := `SELECT ` + toolVersionColumns + ` FROM tool_versions WHERE org_id = ? AND tool_id = ?
		ORDER BY created_at, major, minor, patch`
	rows, err := s.read.QueryContext(ctx, q, orgID, toolID)
	if err != nil {
		return nil, fmt.Errorf("store: list tool versions: %w", err)
	}
	defer rows.Close()
	versions := []ToolVersion{}
	for rows.Next() {
		v, err := scanToolVersion(rows)
		if err != nil {
			return nil, fmt.Errorf("store: list tool versions: %w", err)
		}
		versions = append(versions, v)
	}
	return versions, rows.Err()
}

// GetToolVersion returns one version of the tool by number.
func (s *Store) GetToolVersion(ctx context.Context, orgID, toolID string, major, minor, patch int) (ToolVersion, error) {
	q := `SELECT ` + toolVersionColumns + ` FROM tool_versions
		WHERE org_id = ? AND tool_id = ? AND major = ? AND minor = ? AND patch = ?`
	v, err := scanToolVersion(s.read.QueryRowContext(ctx, q, orgID, toolID, major, minor, patch))
	if errors.Is(err, sql.ErrNoRows) {
		return ToolVersion{}, &NotFoundError{Kind: KindTool, ID: toolID, Version: fmt.Sprintf("%d.%d.%d", major, minor, patch)}
	}
	if err != nil {
		return ToolVersion{}, fmt.Errorf("store: get tool version: %w", err)
	}
	return v, nil
}

// ToolVersionFiles returns the snapshot of files a version runs.
func (s *Store) ToolVersionFiles(ctx context.Context, orgID, versionID string) (map[string][]byte, error) {
	const q = `SELECT f.path, f.content FROM tool_version_files f JOIN tool_versions v ON v.id = f.version_id
		WHERE v.org_id = ? AND f.version_id = ?`
	rows, err := s.read.QueryContext(ctx, q, orgID, versionID)
	if err != nil {
		return nil, fmt.Errorf("store: tool version files: %w", err)
	}
	defer rows.Close()
	files := map[string][]byte{}
	for rows.Next() {
		var path string
		var content []byte
		if err := rows.Scan(&path, &content); err != nil {
			return nil, fmt.Errorf("store: tool version files: %w", err)
		}
		files[path] = content
	}
	return files, rows.Err()
}

// DeprecateToolVersions marks the given versions of the tool deprecated.
func (s *Store) DeprecateToolVersions(ctx context.Context, orgID, toolID string, versionIDs []string, by Actor) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := getTool(ctx, tx, orgID, toolID); err != nil {
			return err
		}
		now := formatTime(s.now())
		for _, id := range versionIDs {
			const q = `UPDATE tool_versions SET deprecated = 1, updated_by_org_id = ?, updated_by_user_id = ?,
				updated_at = ? WHERE org_id = ? AND tool_id = ? AND id = ? AND deprecated = 0`
			if _, err := tx.ExecContext(ctx, q, by.OrgID, by.UserID, now, orgID, toolID, id); err != nil {
				return fmt.Errorf("store: deprecate tool version %s: %w", id, err)
			}
		}
		return nil
	})
}
