package tools

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/compadre-dev/compadre/pep440"
	"github.com/compadre-dev/compadre/store"
	"github.com/compadre-dev/compadre/wasmrt"
)

// Repositories a version can be published from.
const (
	RepoTeam = "team"
	RepoMain = "main"
)

// PublishRequest asks for a tool's next version.
type PublishRequest struct {
	OrgID       string
	ToolID      string
	Repo        string // RepoTeam or RepoMain
	ProjectPath string
	Bump        string // major, minor or patch
	By          store.Actor
}

// ErrStaleCommit means the branch tip is older than the commit the tool's
// newest version was published from.
var ErrStaleCommit = errors.New("the commit is older than the last published one")

// Publish builds the tool from the branch tip and stores it as the tool's
// next version. It holds the tool's lock throughout: ErrBusy if another
// publish or deprecation of the tool is running.
func (s *Service) Publish(ctx context.Context, req PublishRequest) (store.ToolVersion, error) {
	unlock, err := s.Lock(req.ToolID)
	if err != nil {
		return store.ToolVersion{}, err
	}
	defer unlock()

	tool, err := s.cfg.Store.GetTool(ctx, req.OrgID, req.ToolID)
	if err != nil {
		return store.ToolVersion{}, err
	}
	if tool.Deprecated {
		return store.ToolVersion{}, &store.NotFoundError{Kind: store.KindTool, ID: tool.ID, Deprecated: true}
	}
	branch := RepoMain
	if req.Repo != RepoMain {
		branch = TeamBranch(s.cfg.TeamBranch, req.OrgID)
	}
	commit, err := s.cfg.Repo.Resolve(branch)
	if err != nil {
		return store.ToolVersion{}, err
	}
	if tool.LastCommit != "" && tool.LastCommit != commit.Hash {
		older, err := s.cfg.Repo.IsAncestor(commit.Hash, tool.LastCommit)
		if err != nil {
			return store.ToolVersion{}, err
		}
		if older {
			return store.ToolVersion{}, &SourceError{Fault: StaleCommit, Branch: branch, Commit: commit.Hash, Since: tool.LastCommit}
		}
	}
	files, err := s.cfg.Repo.Files(commit.Hash, req.ProjectPath)
	if err != nil {
		return store.ToolVersion{}, err
	}
	project, err := ParseProject(files)
	if err != nil {
		return store.ToolVersion{}, projectProblems(err)
	}
	env, err := s.toolEnv(ctx, req.OrgID, tool.ID)
	if err != nil {
		return store.ToolVersion{}, err
	}
	if missing := missingEnvVars(project, env); len(missing) > 0 {
		return store.ToolVersion{}, &Problems{Summary: "The tool lacks environment variables this version requires:", List: missing}
	}
	schema, _, err := s.build(ctx, files, project, envFor(project, env, ""))
	if err != nil {
		return store.ToolVersion{}, err
	}
	return s.cfg.Store.PublishToolVersion(ctx, store.ToolVersion{
		OrgID: req.OrgID, ToolID: tool.ID,
		RequiredEnvVars: project.EnvVars, RequiredSecretEnvVars: project.SecretEnvVars,
		InputSchema: schema, Entrypoint: project.Entrypoint,
		Repo: req.Repo, CommitHash: commit.Hash, ScaffoldHash: s.cfg.ScaffoldHash,
		ProjectDirectory: req.ProjectPath, Creator: req.By,
	}, files, func(latest *[3]int) [3]int {
		if latest == nil {
			return [3]int{1, 0, 0}
		}
		v, _ := pep440.Version{Major: latest[0], Minor: latest[1], Patch: latest[2]}.Bump(req.Bump)
		return [3]int{v.Major, v.Minor, v.Patch}
	})
}

// projectProblems turns a project parse failure into Problems.
func projectProblems(err error) error {
	var pe *ProjectError
	if errors.As(err, &pe) {
		return &Problems{Summary: "The tool project does not follow the contract:", List: pe.Problems}
	}
	return err
}

// missingEnvVars lists the project's variables the tool lacks, or has with
// the other secrecy.
func missingEnvVars(p Project, env map[string]store.EnvVar) []string {
	var out []string
	check := func(names []string, secret bool) {
		for _, n := range names {
			v, ok := env[n]
			switch {
			case !ok:
				out = append(out, fmt.Sprintf("%q is not defined on the tool.", n))
			case v.IsSecret != secret && secret:
				out = append(out, fmt.Sprintf("%q is declared secret but is not secret on the tool.", n))
			case v.IsSecret != secret:
				out = append(out, fmt.Sprintf("%q is declared non-secret but is secret on the tool.", n))
			}
		}
	}
	check(p.EnvVars, false)
	check(p.SecretEnvVars, true)
	return out
}

// envFor is the environment of one run: the variables the project
// declares, and the invocation mode.
func envFor(p Project, env map[string]store.EnvVar, mode string) map[string]string {
	out := map[string]string{}
	for _, n := range slices.Concat(p.EnvVars, p.SecretEnvVars) {
		if v, ok := env[n]; ok {
			out[n] = string(v.Value)
		}
	}
	if mode != "" {
		out["INVOCATION_MODE"] = mode
	}
	return out
}

// build byte-compiles the project and imports its entrypoint in the
// sandbox, and returns the input schema: the project's input_schema.json if
// it has one, else the one derived from the function's type hints, and
// that schema compiled.
func (s *Service) build(ctx context.Context, files map[string][]byte, p Project, env map[string]string) (json.RawMessage, *jsonschema.Schema, error) {
	rt, err := s.sandbox(ctx)
	if err != nil {
		return nil, nil, err
	}
	report, err := rt.BuildTool(ctx, wasmrt.BuildCall{
		Files: mapFS(files), Entrypoint: p.Entrypoint, DeriveSchema: p.InputSchema == nil, Env: env,
	})
	if err != nil {
		var re *wasmrt.RunError
		if errors.As(err, &re) {
			return nil, nil, &Problems{Summary: "The tool build failed:", List: []string{re.Error()}}
		}
		return nil, nil, err
	}
	if len(report.Problems) > 0 {
		return nil, nil, &Problems{Summary: "The tool build failed:", List: report.Problems}
	}
	schema := p.InputSchema
	if schema == nil {
		schema = report.InputSchema
	}
	compiled, err := compileSchema(schema)
	if err != nil {
		return nil, nil, &Problems{Summary: "The tool's input schema is not a valid JSON Schema:", List: []string{err.Error()}}
	}
	return schema, compiled, nil
}

// TestRequest runs a project from a branch tip without publishing it.
type TestRequest struct {
	OrgID       string
	Branch      string
	ProjectPath string
	EnvVars     map[string]string
	SecretVars  map[string]string
	Inputs      []Input
}

// Test runs the publish checks and then the inputs against the branch tip,
// with the variables given in the request. Nothing is stored.
func (s *Service) Test(ctx context.Context, req TestRequest) ([]Result, error) {
	var clash []string
	for n := range req.EnvVars {
		if _, ok := req.SecretVars[n]; ok {
			clash = append(clash, fmt.Sprintf("%q is given as both secret and non-secret.", n))
		}
	}
	if len(clash) > 0 {
		sort.Strings(clash)
		return nil, &Problems{Summary: "The environment variables conflict:", List: clash}
	}
	commit, err := s.cfg.Repo.Resolve(req.Branch)
	if err != nil {
		return nil, err
	}
	files, err := s.cfg.Repo.Files(commit.Hash, req.ProjectPath)
	if err != nil {
		return nil, err
	}
	project, err := ParseProject(files)
	if err != nil {
		return nil, projectProblems(err)
	}
	env := map[string]store.EnvVar{}
	for n, v := range req.EnvVars {
		env[n] = store.EnvVar{Name: n, Value: []byte(v)}
	}
	for n, v := range req.SecretVars {
		env[n] = store.EnvVar{Name: n, Value: []byte(v), IsSecret: true}
	}
	if missing := missingEnvVars(project, env); len(missing) > 0 {
		return nil, &Problems{Summary: "The request lacks environment variables the tool requires:", List: missing}
	}
	_, schema, err := s.build(ctx, files, project, envFor(project, env, ""))
	if err != nil {
		return nil, err
	}
	if err := validateInputs(schema, req.Inputs); err != nil {
		return nil, err
	}
	run := runnable{files: mapFS(files), entrypoint: project.Entrypoint, project: project, env: env}
	return s.runAll(ctx, run, req.Inputs)
}
