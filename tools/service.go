package tools

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"

	"github.com/compadre-dev/compadre/auth"
	"github.com/compadre-dev/compadre/store"
	"github.com/compadre-dev/compadre/wasmrt"
)

// Errors the service returns besides the store's and the repository's.
var (
	// ErrBusy means another publish or deprecation of the same tool is
	// running.
	ErrBusy = errors.New("a related operation on this tool is in progress")
	// ErrSandboxUnavailable means the Python sandbox is off, still
	// starting, or failed to start.
	ErrSandboxUnavailable = errors.New("the Python sandbox is not running")
	// ErrSandboxStarting means the Python sandbox is still starting and
	// did not finish within the time a request waits for it.
	ErrSandboxStarting = errors.New("the Python sandbox is still starting")
)

// Problems is a request refused for reasons the caller can fix, each a
// sentence: a project that breaks the contract, a build that failed, inputs
// that do not fit the schema.
type Problems struct {
	Summary string
	List    []string
}

func (p *Problems) Error() string {
	return p.Summary + " " + strings.Join(p.List, " ")
}

// Config is what the service needs.
type Config struct {
	Store *store.Store
	Repo  *Repo
	// TeamBranch is the branch template of repo "team"; "{org}" is replaced
	// by the organization's ID.
	TeamBranch string
	Sealer     *auth.Sealer
	// Sandbox returns the running sandbox, waiting (as long as it sees fit
	// and ctx allows) while it starts; else ErrSandboxStarting or
	// ErrSandboxUnavailable.
	Sandbox func(ctx context.Context) (*wasmrt.Runtime, error)
	// ScaffoldHash is recorded on every version as the scaffold it was
	// published against.
	ScaffoldHash string
	// EnvVarReuseAfter is how long a deleted environment variable's name
	// stays taken.
	EnvVarReuseAfter time.Duration
}

// Service publishes, tests and invokes tools. Operations that change a
// tool's versions are serialized per tool.
type Service struct {
	cfg   Config
	locks sync.Map // tool ID -> *sync.Mutex
	// versions caches the most recently invoked versions' snapshots.
	versions *lru.Cache[string, versionSnapshot]
}

// New returns the service.
func New(cfg Config) (*Service, error) {
	if cfg.Store == nil || cfg.Repo == nil || cfg.Sealer == nil || cfg.Sandbox == nil {
		return nil, errors.New("tools: store, repository, sealer and sandbox are required")
	}
	if cfg.TeamBranch == "" {
		cfg.TeamBranch = DefaultTeamBranch
	}
	if cfg.EnvVarReuseAfter == 0 {
		cfg.EnvVarReuseAfter = DefaultEnvVarReuseAfter
	}
	versions, err := lru.New[string, versionSnapshot](64)
	if err != nil {
		return nil, err
	}
	return &Service{cfg: cfg, versions: versions}, nil
}

// DefaultTeamBranch is the branch repo "team" publishes from.
const DefaultTeamBranch = "releases/{org}"

// DefaultEnvVarReuseAfter is how long a deleted variable's name stays
// taken. See DECISIONS.md, "How long is a deleted environment variable's
// name taken?".
const DefaultEnvVarReuseAfter = 5 * time.Minute

// EnvVarReuseAfter is the configured window.
func (s *Service) EnvVarReuseAfter() time.Duration { return s.cfg.EnvVarReuseAfter }

// Forget drops the version files kept from earlier invocations; the
// database they came from was replaced.
func (s *Service) Forget() { s.versions.Purge() }

// Lock takes the tool's operation lock without waiting: ErrBusy if another
// operation holds it.
func (s *Service) Lock(toolID string) (unlock func(), err error) {
	m, _ := s.locks.LoadOrStore(toolID, &sync.Mutex{})
	mu := m.(*sync.Mutex)
	if !mu.TryLock() {
		return nil, fmt.Errorf("tool %s: %w", toolID, ErrBusy)
	}
	return mu.Unlock, nil
}

func (s *Service) sandbox(ctx context.Context) (*wasmrt.Runtime, error) {
	rt, err := s.cfg.Sandbox(ctx)
	switch {
	case errors.Is(err, ErrSandboxStarting), errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return nil, err
	case err != nil || rt == nil:
		return nil, ErrSandboxUnavailable
	}
	return rt, nil
}

// SealEnvVar seals a tool's secret variable, bound to the tool and name.
func (s *Service) SealEnvVar(toolID, name string, value []byte) []byte {
	return s.cfg.Sealer.Seal(value, envVarLabel(toolID, name))
}

func envVarLabel(toolID, name string) string { return "tool-envvar/" + toolID + "/" + name }

// toolEnv returns the tool's live variables with their values in clear.
func (s *Service) toolEnv(ctx context.Context, orgID, toolID string) (map[string]store.EnvVar, error) {
	vars, err := s.cfg.Store.ToolEnvValues(ctx, orgID, toolID)
	if err != nil {
		return nil, err
	}
	out := make(map[string]store.EnvVar, len(vars))
	for _, v := range vars {
		if v.IsSecret {
			plain, err := s.cfg.Sealer.Open(v.Value, envVarLabel(toolID, v.Name))
			if err != nil {
				return nil, fmt.Errorf("tools: open secret %s of tool %s: %w", v.Name, toolID, err)
			}
			v.Value = plain
		}
		out[v.Name] = v
	}
	return out, nil
}
