package httpapi

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/compadre-dev/compadre/ssml"
	"github.com/compadre-dev/compadre/store"
	"github.com/compadre-dev/compadre/tools"
)

// Result persistence modes of a tool call spec. v0.7.0 made the field
// required: a spec without it is refused rather than given a default.
const (
	persistEphemeral          = "ephemeral"
	persistPersistedPreferred = "persisted-preferred"
	persistPersisted          = "persisted"
)

var resultPersistences = []string{persistEphemeral, persistPersistedPreferred, persistPersisted}

// toolSpec is a tool call spec as context graph states and
// change-tool-candidates actions carry it: which tool, which of its
// versions, and how the agent treats the call. ResultPersistence is a
// pointer so a missing field can be told from an empty one.
type toolSpec struct {
	ToolID                    string   `json:"tool_id"`
	VersionConstraint         string   `json:"version_constraint"`
	AdditionalInstruction     string   `json:"additional_instruction"`
	AudioFillers              []string `json:"audio_fillers"`
	AudioFillerTriggeredAfter float64  `json:"audio_filler_triggered_after"`
	ResultPersistence         *string  `json:"result_persistence"`
}

// checkShape records in f what is wrong with spec on its own, located under loc:
// a missing or unknown result persistence, a version constraint that is not
// a PEP 440 specifier set, and audio fillers that are too long or not the
// SSML subset a filler may use (reported with the character position).
func (spec toolSpec) checkShape(f *faults, loc []any) {
	switch {
	case spec.ResultPersistence == nil:
		f.add(extend(loc, "result_persistence"), "missing", "Field required: every tool call spec must say its result_persistence ("+
			strings.Join(resultPersistences, ", ")+")")
	case !slices.Contains(resultPersistences, *spec.ResultPersistence):
		f.add(extend(loc, "result_persistence"), "enum", "Input should be "+strings.Join(quoted(resultPersistences), ", "),
			*spec.ResultPersistence)
	}
	if _, err := tools.ParseConstraint(spec.VersionConstraint); err != nil {
		f.add(extend(loc, "version_constraint"), "value_error", "Not a version constraint: "+err.Error(), spec.VersionConstraint)
	}
	for i, filler := range spec.AudioFillers {
		if err := ssml.CheckFiller(filler); err != nil {
			f.add(extend(loc, "audio_fillers", i), "value_error", "Invalid audio filler "+err.Error(), filler)
		}
	}
}

func quoted(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = "'" + s + "'"
	}
	return out
}

// locatedSpec is a tool call spec and where in the request it was found,
// for messages that name it.
type locatedSpec struct {
	where string
	spec  toolSpec
}

// resolveToolSpecs checks that every spec names a live tool of the
// organization whose version constraint matches at least one live version.
// Every failure is listed in one 400: the body was well formed, but what
// it points at does not exist or may no longer be used.
func (s *Server) resolveToolSpecs(ctx context.Context, orgID string, specs []locatedSpec) error {
	type toolInfo struct {
		tool     store.Tool
		versions []store.ToolVersion
		missing  bool
	}
	cache := map[string]*toolInfo{}
	var problems []string
	for _, ls := range specs {
		info, ok := cache[ls.spec.ToolID]
		if !ok {
			info = &toolInfo{}
			cache[ls.spec.ToolID] = info
			t, err := s.store.GetTool(ctx, orgID, ls.spec.ToolID)
			switch {
			case errors.Is(err, store.ErrNotFound):
				info.missing = true
			case err != nil:
				return err
			default:
				info.tool = t
				if info.versions, err = s.store.ListToolVersions(ctx, orgID, t.ID); err != nil {
					return err
				}
			}
		}
		switch {
		case info.missing:
			problems = append(problems, fmt.Sprintf("%s: tool %s does not exist", ls.where, ls.spec.ToolID))
			continue
		case info.tool.Deprecated:
			problems = append(problems, fmt.Sprintf("%s: tool %s (%s) is deprecated", ls.where, info.tool.ID, info.tool.Name))
			continue
		}
		c, err := tools.ParseConstraint(ls.spec.VersionConstraint)
		if err != nil {
			// checkShape reports it; nothing can match an unreadable constraint.
			continue
		}
		matched := slices.ContainsFunc(info.versions, func(v store.ToolVersion) bool {
			return !v.Deprecated && c.Match(tools.Version{Major: v.Major, Minor: v.Minor, Patch: v.Patch})
		})
		if !matched {
			problems = append(problems, fmt.Sprintf("%s: no published, non-deprecated version of tool %s (%s) satisfies %q",
				ls.where, info.tool.ID, info.tool.Name, ls.spec.VersionConstraint))
		}
	}
	if len(problems) > 0 {
		return badRequest("Tool call specs that do not resolve: " + strings.Join(problems, "; "))
	}
	return nil
}
