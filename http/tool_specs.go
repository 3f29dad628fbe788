package httpapi

import (
	"context"
	"errors"

	"github.com/compadre-dev/compadre/config"
	"github.com/compadre-dev/compadre/pep440"
	"github.com/compadre-dev/compadre/store"
)

// resolveToolSpecs checks that every spec names a live tool of the
// organization whose version constraint matches at least one live version.
// The rule is config's; this reads the tools it asks for from the store.
func (s *Server) resolveToolSpecs(ctx context.Context, orgID string, specs []config.LocatedSpec) error {
	return config.ResolveToolSpecs(specs, func(toolID string) (*config.Tool, error) {
		t, err := s.store.GetTool(ctx, orgID, toolID)
		switch {
		case errors.Is(err, store.ErrNotFound):
			return nil, nil
		case err != nil:
			return nil, err
		}
		tool := &config.Tool{ID: t.ID, Name: t.Name, Deprecated: t.Deprecated}
		versions, err := s.store.ListToolVersions(ctx, orgID, t.ID)
		if err != nil {
			return nil, err
		}
		for _, v := range versions {
			tool.Versions = append(tool.Versions, config.ToolVersion{
				Version:    pep440.Version{Major: v.Major, Minor: v.Minor, Patch: v.Patch},
				Deprecated: v.Deprecated,
			})
		}
		return tool, nil
	})
}
