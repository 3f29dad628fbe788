package app

import (
	"context"
	"path/filepath"

	"github.com/compadre-dev/compadre/auth"
	assets "github.com/compadre-dev/compadre/embed"
	"github.com/compadre-dev/compadre/tools"
	"github.com/compadre-dev/compadre/wasmrt"
)

// ToolsRepoDir is the default tool source repository inside the data
// directory.
const ToolsRepoDir = "tools.git"

// openTools opens (creating on first start) the tool source repository and
// builds the tool service over it. Without a sandbox the service still
// answers, and publishing or running a tool is 503.
func (a *App) openTools(cfg Config, sealer *auth.Sealer) (*tools.Service, error) {
	path := cfg.ToolsRepo
	if path == "" {
		path = filepath.Join(cfg.DataDir, ToolsRepoDir)
	}
	repo, err := tools.OpenRepo(path)
	if err != nil {
		return nil, err
	}
	a.repo = repo
	sandbox := func(context.Context) (*wasmrt.Runtime, error) { return nil, tools.ErrSandboxUnavailable }
	if a.sandbox != nil {
		sandbox = a.sandbox.runtime
	}
	return tools.New(tools.Config{
		Store: a.Store, Repo: repo, TeamBranch: cfg.TeamBranch, Sealer: sealer, Sandbox: sandbox,
		ScaffoldHash: assets.ScaffoldHash(),
	})
}
