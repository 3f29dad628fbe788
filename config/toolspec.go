package config

import (
	"fmt"
	"slices"
	"strings"

	"github.com/compadre-dev/compadre/pep440"
	"github.com/compadre-dev/compadre/ssml"
)

// Result persistence modes of a tool call spec. v0.7.0 made the field
// required: a spec without it is refused rather than given a default.
const (
	PersistEphemeral          = "ephemeral"
	PersistPersistedPreferred = "persisted-preferred"
	PersistPersisted          = "persisted"
)

// ResultPersistences lists the result persistence modes, in the order
// messages name them.
var ResultPersistences = []string{PersistEphemeral, PersistPersistedPreferred, PersistPersisted}

// ToolSpec is a tool call spec as context graph states and
// change-tool-candidates actions carry it: which tool, which of its
// versions, and how the agent treats the call. ResultPersistence is a
// pointer so a missing field can be told from an empty one.
type ToolSpec struct {
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
func (spec ToolSpec) checkShape(f *Faults, loc []any) {
	switch {
	case spec.ResultPersistence == nil:
		f.Add(extend(loc, "result_persistence"), "missing", "Field required: every tool call spec must say its result_persistence ("+
			strings.Join(ResultPersistences, ", ")+")")
	case !slices.Contains(ResultPersistences, *spec.ResultPersistence):
		f.Add(extend(loc, "result_persistence"), "enum", "Input should be "+strings.Join(quoted(ResultPersistences), ", "),
			*spec.ResultPersistence)
	}
	if _, err := pep440.ParseConstraint(spec.VersionConstraint); err != nil {
		f.Add(extend(loc, "version_constraint"), "value_error", "Not a version constraint: "+err.Error(), spec.VersionConstraint)
	}
	for i, filler := range spec.AudioFillers {
		if err := ssml.CheckFiller(filler); err != nil {
			f.Add(extend(loc, "audio_fillers", i), "value_error", "Invalid audio filler "+err.Error(), filler)
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

// LocatedSpec is a tool call spec and where in the declaration it was
// found (states[0] (greet).tool_call_specs[1]), for messages that name it.
type LocatedSpec struct {
	Where string
	Spec  ToolSpec
}

// Tool is what resolving a tool call spec needs to know of a stored tool.
type Tool struct {
	ID         string
	Name       string
	Deprecated bool
	Versions   []ToolVersion
}

// ToolVersion is a published version of a Tool.
type ToolVersion struct {
	Version    pep440.Version
	Deprecated bool
}

// ResolveToolSpecs checks that every spec names a live tool whose version
// constraint matches at least one live version. lookup finds a tool by ID,
// once per ID, returning nil if there is none; its errors are returned as
// they are. Every spec that does not resolve is listed in one *Unresolved.
func ResolveToolSpecs(specs []LocatedSpec, lookup func(toolID string) (*Tool, error)) error {
	cache := map[string]*Tool{}
	var problems []string
	for _, ls := range specs {
		tool, ok := cache[ls.Spec.ToolID]
		if !ok {
			var err error
			if tool, err = lookup(ls.Spec.ToolID); err != nil {
				return err
			}
			cache[ls.Spec.ToolID] = tool
		}
		switch {
		case tool == nil:
			problems = append(problems, fmt.Sprintf("%s: tool %s does not exist", ls.Where, ls.Spec.ToolID))
			continue
		case tool.Deprecated:
			problems = append(problems, fmt.Sprintf("%s: tool %s (%s) is deprecated", ls.Where, tool.ID, tool.Name))
			continue
		}
		c, err := pep440.ParseConstraint(ls.Spec.VersionConstraint)
		if err != nil {
			// checkShape reports it; nothing can match an unreadable constraint.
			continue
		}
		matched := slices.ContainsFunc(tool.Versions, func(v ToolVersion) bool {
			return !v.Deprecated && c.Match(v.Version)
		})
		if !matched {
			problems = append(problems, fmt.Sprintf("%s: no published, non-deprecated version of tool %s (%s) satisfies %q",
				ls.Where, tool.ID, tool.Name, ls.Spec.VersionConstraint))
		}
	}
	if len(problems) > 0 {
		return &Unresolved{Problems: []string{"Tool call specs that do not resolve: " + strings.Join(problems, "; ")}}
	}
	return nil
}
