package httpapi

import (
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/gorilla/mux"

	"github.com/compadre-dev/compadre/auth"
	assets "github.com/compadre-dev/compadre/embed"
	"github.com/compadre-dev/compadre/pep440"
	"github.com/compadre-dev/compadre/store"
	"github.com/compadre-dev/compadre/tools"
)

type userInfo struct {
	OrgID  string `json:"org_id"`
	UserID string `json:"user_id"`
}

type toolInstance struct {
	ID            string      `json:"id"`
	OrgID         string      `json:"org_id"`
	CreatedAt     string      `json:"created_at"`
	UpdatedAt     string      `json:"updated_at"`
	Name          string      `json:"name"`
	Description   string      `json:"description"`
	Deprecated    bool        `json:"deprecated"`
	EnvVars       []string    `json:"envvars"`
	SecretEnvVars []string    `json:"secret_envvars"`
	Tags          []store.Tag `json:"tags"`
	Creator       userInfo    `json:"creator"`
	UpdatedBy     userInfo    `json:"updated_by"`
}

func toolOut(t store.Tool) toolInstance {
	out := toolInstance{
		ID: t.ID, OrgID: t.OrgID, CreatedAt: apiTime(t.CreatedAt), UpdatedAt: apiTime(t.UpdatedAt),
		Name: t.Name, Description: t.Description, Deprecated: t.Deprecated, Tags: t.Tags,
		EnvVars: []string{}, SecretEnvVars: []string{},
		Creator:   userInfo{OrgID: t.Creator.OrgID, UserID: t.Creator.UserID},
		UpdatedBy: userInfo{OrgID: t.UpdatedBy.OrgID, UserID: t.UpdatedBy.UserID},
	}
	for _, v := range t.EnvVars {
		if v.IsSecret {
			out.SecretEnvVars = append(out.SecretEnvVars, v.Name)
		} else {
			out.EnvVars = append(out.EnvVars, v.Name)
		}
	}
	return out
}

func toolAttrs(t store.Tool) auth.Attributes {
	return auth.Attributes{"org_id": t.OrgID, "tool_id": t.ID, "name": t.Name}
}

// loadTool finds the tool named in the path and checks the caller may act
// on it with perm ("" for none).
func (s *Server) loadTool(r *http.Request, perm auth.Permission) (store.Tool, error) {
	st := state(r.Context())
	id := mux.Vars(r)["tool_id"]
	t, err := s.store.GetTool(r.Context(), st.org.ID, id)
	if err != nil {
		return store.Tool{}, err
	}
	if perm != "" {
		if err := st.allow(perm, toolAttrs(t)); err != nil {
			return store.Tool{}, err
		}
	}
	return t, nil
}

// toolsService is the tool service, or 503 when the server runs without
// one.
func (s *Server) toolsService() (*tools.Service, error) {
	if s.tools == nil {
		return nil, tools.ErrSandboxUnavailable
	}
	return s.tools, nil
}

func (s *Server) getToolScaffold(w http.ResponseWriter, r *http.Request) error {
	archive, err := assets.ScaffoldArchive()
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/gzip")
	w.Header().Set("Content-Disposition", `attachment; filename="amigo_tool_scaffold.tar.gz"`)
	w.Header().Set("Content-Length", strconv.Itoa(len(archive)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(archive)
	return nil
}

type createToolRequest struct {
	Name        string             `json:"name"`
	Description string             `json:"description"`
	Tags        map[string]*string `json:"tags"`
}

func (s *Server) createTool(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	st := state(ctx)
	var req createToolRequest
	if err := decodeBody(r, &req); err != nil {
		return err
	}
	t := store.Tool{OrgID: st.org.ID, Name: req.Name, Description: strings.TrimSpace(req.Description), Tags: tagsIn(req.Tags), Creator: actor(r)}
	if err := st.allow(auth.ToolCreateTool, auth.Attributes{"org_id": t.OrgID, "name": t.Name}); err != nil {
		return err
	}
	t, err := s.store.CreateTool(ctx, t)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, map[string]string{"id": t.ID})
	return nil
}

type toolsPage struct {
	Tools             []toolInstance `json:"tools"`
	HasMore           bool           `json:"has_more"`
	ContinuationToken *int           `json:"continuation_token"`
	FilterValues      struct {
		Tags []string `json:"tags"`
	} `json:"filter_values"`
}

func (s *Server) getTools(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	st := state(ctx)
	sortBy, err := sortKeys(r, store.ValidToolSortField)
	if err != nil {
		return err
	}
	tags, err := tagFilters(r, "tag")
	if err != nil {
		return err
	}
	all, err := s.store.ListTools(ctx, st.org.ID, store.ToolFilter{
		IDs: queryStrings(r, "id"), Deprecated: queryBool(r, "deprecated"), Tags: tags, Sort: sortBy,
	})
	if err != nil {
		return err
	}
	offset := max(0, queryInt(r, "continuation_token"))
	page, more := page(all, offset, queryInt(r, "limit"))
	resp := toolsPage{Tools: make([]toolInstance, len(page)), HasMore: more}
	for i, t := range page {
		resp.Tools[i] = toolOut(t)
	}
	resp.ContinuationToken = nextToken(offset, len(page), more)
	resp.FilterValues.Tags = tagValues(all, func(t store.Tool) []store.Tag { return t.Tags })
	writeJSON(w, http.StatusOK, resp)
	return nil
}

type modifyToolRequest struct {
	Description *string             `json:"description"`
	Tags        *map[string]*string `json:"tags"`
}

func (s *Server) modifyTool(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	st := state(ctx)
	var req modifyToolRequest
	if err := decodeBody(r, &req); err != nil {
		return err
	}
	id := mux.Vars(r)["tool_id"]
	err := s.store.UpdateTool(ctx, st.org.ID, id, actor(r), func(t *store.Tool) error {
		if err := st.allow(auth.ToolModifyTool, toolAttrs(*t)); err != nil {
			return err
		}
		if req.Description != nil {
			t.Description = strings.TrimSpace(*req.Description)
		}
		if req.Tags != nil {
			t.Tags = tagsIn(*req.Tags)
		}
		return nil
	})
	if err != nil {
		return err
	}
	writeNoContent(w)
	return nil
}

func (s *Server) deprecateTool(w http.ResponseWriter, r *http.Request) error {
	t, err := s.loadTool(r, auth.ToolDeleteTool)
	if err != nil {
		return err
	}
	svc, err := s.toolsService()
	if err != nil {
		return err
	}
	unlock, err := svc.Lock(t.ID)
	if err != nil {
		return err
	}
	defer unlock()
	if err := s.store.DeprecateTool(r.Context(), t.OrgID, t.ID, actor(r)); err != nil {
		return err
	}
	writeNoContent(w)
	return nil
}

func (s *Server) deprecateToolVersions(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	t, err := s.loadTool(r, auth.ToolModifyTool)
	if err != nil {
		return err
	}
	constraint, err := pep440.ParseConstraint(mux.Vars(r)["versions"])
	if err != nil {
		return badRequest("versions is not a valid version constraint: " + err.Error())
	}
	svc, err := s.toolsService()
	if err != nil {
		return err
	}
	unlock, err := svc.Lock(t.ID)
	if err != nil {
		return err
	}
	defer unlock()
	versions, err := s.store.ListToolVersions(ctx, t.OrgID, t.ID)
	if err != nil {
		return err
	}
	var ids []string
	for _, v := range versions {
		if constraint.Match(pep440.Version{Major: v.Major, Minor: v.Minor, Patch: v.Patch}) {
			ids = append(ids, v.ID)
		}
	}
	if err := s.store.DeprecateToolVersions(ctx, t.OrgID, t.ID, ids, actor(r)); err != nil {
		return err
	}
	writeNoContent(w)
	return nil
}

type envVarInsert struct {
	Name     string `json:"name"`
	Value    string `json:"value"`
	IsSecret bool   `json:"is_secret"`
}

type envVarUpdate struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

type envVarDelete struct {
	Name string `json:"name"`
}

type modifyToolEnvVarsRequest struct {
	Inserts []envVarInsert `json:"inserts"`
	Updates []envVarUpdate `json:"updates"`
	Deletes []envVarDelete `json:"deletes"`
}

func (s *Server) modifyToolEnvVars(w http.ResponseWriter, r *http.Request) error {
	var req modifyToolEnvVarsRequest
	if err := decodeBody(r, &req); err != nil {
		return err
	}
	t, err := s.loadTool(r, auth.ToolModifyTool)
	if err != nil {
		return err
	}
	svc, err := s.toolsService()
	if err != nil {
		return err
	}
	seen := map[string]bool{}
	once := func(name string) error {
		if seen[name] {
			return badRequest("Environment variable " + strconv.Quote(name) + " appears more than once in the request.")
		}
		seen[name] = true
		return nil
	}
	secret := map[string]bool{}
	for _, v := range t.EnvVars {
		secret[v.Name] = v.IsSecret
	}
	c := store.EnvVarChanges{ReuseAfter: svc.EnvVarReuseAfter()}
	for _, in := range req.Inserts {
		if err := once(in.Name); err != nil {
			return err
		}
		v := store.EnvVar{Name: in.Name, Value: []byte(in.Value), IsSecret: in.IsSecret}
		if v.IsSecret {
			v.Value = svc.SealEnvVar(t.ID, v.Name, v.Value)
		}
		c.Inserts = append(c.Inserts, v)
	}
	for _, up := range req.Updates {
		if err := once(up.Name); err != nil {
			return err
		}
		isSecret, ok := secret[up.Name]
		if !ok {
			return badRequest("Environment variable " + strconv.Quote(up.Name) + " does not exist.")
		}
		v := store.EnvVar{Name: up.Name, Value: []byte(up.Value), IsSecret: isSecret}
		if v.IsSecret {
			v.Value = svc.SealEnvVar(t.ID, v.Name, v.Value)
		}
		c.Updates = append(c.Updates, v)
	}
	for _, d := range req.Deletes {
		if err := once(d.Name); err != nil {
			return err
		}
		c.Deletes = append(c.Deletes, d.Name)
	}
	if err := s.store.ModifyToolEnvVars(r.Context(), t.OrgID, t.ID, actor(r), c); err != nil {
		return err
	}
	writeNoContent(w)
	return nil
}

type publishRequest struct {
	Repo        string `json:"repo"`
	ProjectPath string `json:"project_path"`
	BumpType    string `json:"bump_type"`
}

func (s *Server) publishToolVersion(w http.ResponseWriter, r *http.Request) error {
	var req publishRequest
	if err := decodeBody(r, &req); err != nil {
		return err
	}
	t, err := s.loadTool(r, auth.ToolModifyTool)
	if err != nil {
		return err
	}
	svc, err := s.toolsService()
	if err != nil {
		return err
	}
	if req.Repo == "" {
		req.Repo = tools.RepoTeam
	}
	v, err := svc.Publish(r.Context(), tools.PublishRequest{
		OrgID: t.OrgID, ToolID: t.ID, Repo: req.Repo, ProjectPath: req.ProjectPath, Bump: req.BumpType, By: actor(r),
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, map[string]string{"new_version": versionString(v)})
	return nil
}

func versionString(v store.ToolVersion) string {
	return pep440.Version{Major: v.Major, Minor: v.Minor, Patch: v.Patch}.String()
}

type versionNumber struct {
	Major int `json:"major"`
	Minor int `json:"minor"`
	Patch int `json:"patch"`
}

type versionUserInfo struct {
	UserID    string `json:"user_id"`
	UserOrgID string `json:"user_org_id"`
}

type toolVersionInstance struct {
	ID                    string          `json:"id"`
	OrgID                 string          `json:"org_id"`
	CreatedAt             string          `json:"created_at"`
	UpdatedAt             string          `json:"updated_at"`
	ToolID                string          `json:"tool_id"`
	Version               versionNumber   `json:"version"`
	RequiredEnvVars       []string        `json:"required_envvars"`
	RequiredSecretEnvVars []string        `json:"required_secret_envvars"`
	InputSchema           json.RawMessage `json:"input_schema"`
	ToolRepo              string          `json:"tool_repo"`
	ToolCommitHash        string          `json:"tool_commit_hash"`
	ScaffoldCommitHash    string          `json:"amigo_scaffold_commit_hash"`
	ProjectDirectory      string          `json:"project_directory"`
	LambdaVersion         int             `json:"lambda_version"`
	Creator               versionUserInfo `json:"creator"`
	UpdatedBy             versionUserInfo `json:"updated_by"`
	Deprecated            bool            `json:"deprecated"`
}

func toolVersionOut(v store.ToolVersion) toolVersionInstance {
	return toolVersionInstance{
		ID: v.ID, OrgID: v.OrgID, CreatedAt: apiTime(v.CreatedAt), UpdatedAt: apiTime(v.UpdatedAt), ToolID: v.ToolID,
		Version:         versionNumber{v.Major, v.Minor, v.Patch},
		RequiredEnvVars: v.RequiredEnvVars, RequiredSecretEnvVars: v.RequiredSecretEnvVars,
		InputSchema: v.InputSchema, ToolRepo: v.Repo, ToolCommitHash: v.CommitHash, ScaffoldCommitHash: v.ScaffoldHash,
		ProjectDirectory: v.ProjectDirectory, LambdaVersion: v.LambdaVersion,
		Creator:    versionUserInfo{UserID: v.Creator.UserID, UserOrgID: v.Creator.OrgID},
		UpdatedBy:  versionUserInfo{UserID: v.UpdatedBy.UserID, UserOrgID: v.UpdatedBy.OrgID},
		Deprecated: v.Deprecated,
	}
}

// versionSortFields are get-tool-versions' sort fields.
var versionSortFields = map[string]func(a, b store.ToolVersion) int{
	"created_at":    func(a, b store.ToolVersion) int { return a.CreatedAt.Compare(b.CreatedAt) },
	"version.major": func(a, b store.ToolVersion) int { return a.Major - b.Major },
	"version.minor": func(a, b store.ToolVersion) int { return a.Minor - b.Minor },
	"version.patch": func(a, b store.ToolVersion) int { return a.Patch - b.Patch },
	"deprecated":    func(a, b store.ToolVersion) int { return boolCompare(a.Deprecated, b.Deprecated) },
}

func boolCompare(a, b bool) int {
	switch {
	case a == b:
		return 0
	case b:
		return -1
	}
	return 1
}

type toolVersionsPage struct {
	ToolVersions      []toolVersionInstance `json:"tool_versions"`
	HasMore           bool                  `json:"has_more"`
	ContinuationToken *int                  `json:"continuation_token"`
	FilterValues      struct {
		Creators []versionUserInfo `json:"creators"`
	} `json:"filter_values"`
}

// getToolVersions filters, sorts and pages a tool's versions here: a tool
// has a handful, and PEP 440 matching is not SQL.
func (s *Server) getToolVersions(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	t, err := s.loadTool(r, "")
	if err != nil {
		return err
	}
	sortBy, err := sortKeys(r, func(f string) bool { _, ok := versionSortFields[f]; return ok })
	if err != nil {
		return err
	}
	// versions is the reference's name and version_constraint the Tools
	// page's; a client may send both, and only a disagreement is an error.
	var constraint *pep440.Constraint
	versions, versionConstraint := queryString(r, "versions"), queryString(r, "version_constraint")
	if versions != "" && versionConstraint != "" && versions != versionConstraint {
		return validationFailed(
			fieldError{Loc: []any{"query", "versions"}, Type: "value_error", Input: versions,
				Msg: "versions and version_constraint name the same filter and must be equal when both are given"},
			fieldError{Loc: []any{"query", "version_constraint"}, Type: "value_error", Input: versionConstraint,
				Msg: "versions and version_constraint name the same filter and must be equal when both are given"})
	}
	for _, name := range []string{"versions", "version_constraint"} {
		raw := queryString(r, name)
		if raw == "" {
			continue
		}
		c, err := pep440.ParseConstraint(raw)
		if err != nil {
			return validationFailed(fieldError{Loc: []any{"query", name}, Msg: err.Error(), Type: "value_error", Input: raw})
		}
		constraint = &c
		break
	}
	creators := map[store.Actor]bool{}
	for i, raw := range queryStrings(r, "creator") {
		org, user, ok := strings.Cut(raw, ",")
		if !ok || org == "" || user == "" {
			return validationFailed(fieldError{Loc: []any{"query", "creator", i},
				Msg: "A creator must be org_id,user_id", Type: "value_error", Input: raw})
		}
		creators[store.Actor{OrgID: org, UserID: user}] = true
	}
	all, err := s.store.ListToolVersions(ctx, t.OrgID, t.ID)
	if err != nil {
		return err
	}
	deprecated := queryBool(r, "deprecated")
	var matched []store.ToolVersion
	resp := toolVersionsPage{}
	resp.FilterValues.Creators = []versionUserInfo{}
	seen := map[store.Actor]bool{}
	for _, v := range all {
		if !seen[v.Creator] {
			seen[v.Creator] = true
			resp.FilterValues.Creators = append(resp.FilterValues.Creators, versionUserInfo{UserID: v.Creator.UserID, UserOrgID: v.Creator.OrgID})
		}
		if deprecated != nil && v.Deprecated != *deprecated {
			continue
		}
		if constraint != nil && !constraint.Match(pep440.Version{Major: v.Major, Minor: v.Minor, Patch: v.Patch}) {
			continue
		}
		if len(creators) > 0 && !creators[v.Creator] {
			continue
		}
		matched = append(matched, v)
	}
	slices.SortStableFunc(matched, func(a, b store.ToolVersion) int {
		for _, k := range sortBy {
			c := versionSortFields[k.Field](a, b)
			if k.Desc {
				c = -c
			}
			if c != 0 {
				return c
			}
		}
		return 0
	})
	offset := max(0, queryInt(r, "continuation_token"))
	page, more := page(matched, offset, queryInt(r, "limit"))
	resp.ToolVersions = make([]toolVersionInstance, len(page))
	for i, v := range page {
		resp.ToolVersions[i] = toolVersionOut(v)
	}
	resp.HasMore = more
	resp.ContinuationToken = nextToken(offset, len(page), more)
	writeJSON(w, http.StatusOK, resp)
	return nil
}
