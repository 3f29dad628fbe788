package httpapi

import (
	"encoding/json"
	"net/http"
	"slices"

	"github.com/gorilla/mux"

	"github.com/compadre-dev/compadre/auth"
	"github.com/compadre-dev/compadre/pep440"
	"github.com/compadre-dev/compadre/store"
	"github.com/compadre-dev/compadre/tools"
)

type invocationInput struct {
	InputParameters           json.RawMessage   `json:"input_parameters"`
	InvocationMode            string            `json:"invocation_mode"`
	NonsensitiveUserVariables map[string]string `json:"nonsensitive_user_variables"`
	SensitiveUserVariables    map[string]string `json:"sensitive_user_variables"`
}

func inputsIn(in []invocationInput) []tools.Input {
	out := make([]tools.Input, len(in))
	for i, x := range in {
		out[i] = tools.Input{Parameters: x.InputParameters, Mode: x.InvocationMode,
			UserVariables: x.NonsensitiveUserVariables, SensitiveUserVariables: x.SensitiveUserVariables}
	}
	return out
}

// invocationResult is SucceededInvocationResult or FailedInvocationResult.
type invocationResult struct {
	Succeeded           bool      `json:"succeeded"`
	Output              *string   `json:"output,omitempty"`
	ExceptionMessage    *string   `json:"exception_message,omitempty"`
	ExceptionType       *string   `json:"exception_type,omitempty"`
	ExceptionStackTrace *[]string `json:"exception_stack_trace,omitempty"`
	DurationMS          int64     `json:"duration_ms"`
}

func resultsOut(results []tools.Result) map[string]any {
	out := make([]invocationResult, len(results))
	for i, r := range results {
		out[i] = invocationResult{Succeeded: r.Succeeded, DurationMS: r.DurationMS}
		if r.Succeeded {
			out[i].Output = &r.Output
		} else {
			out[i].ExceptionMessage, out[i].ExceptionType = &r.ExceptionMessage, &r.ExceptionType
			// A pointer, so an empty trace is [] rather than left out.
			trace := r.StackTrace
			if trace == nil {
				trace = []string{}
			}
			out[i].ExceptionStackTrace = &trace
		}
	}
	return map[string]any{"invocation_results": out}
}

type invokeRequest struct {
	Inputs []invocationInput `json:"inputs"`
}

func (s *Server) invokeToolVersion(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	var req invokeRequest
	if err := decodeBody(r, &req); err != nil {
		return err
	}
	t, err := s.loadTool(r, auth.ToolInvokeTool)
	if err != nil {
		return err
	}
	raw := mux.Vars(r)["version"]
	n, err := pep440.ParseVersion(raw)
	if err != nil {
		return validationFailed(fieldError{Loc: []any{"path", "version"}, Msg: "The version must be major.minor.patch",
			Type: "value_error", Input: raw})
	}
	v, err := s.store.GetToolVersion(ctx, t.OrgID, t.ID, n.Major, n.Minor, n.Patch)
	if err != nil {
		return err
	}
	svc, err := s.toolsService()
	if err != nil {
		return err
	}
	results, err := svc.Invoke(ctx, tools.InvokeRequest{OrgID: t.OrgID, Tool: t, Version: v, Inputs: inputsIn(req.Inputs), By: actor(r)})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, resultsOut(results))
	return nil
}

type testToolRequest struct {
	Inputs                []invocationInput `json:"inputs"`
	CommitBranch          string            `json:"commit_branch"`
	ProjectPath           string            `json:"project_path"`
	RequiredEnvVars       map[string]string `json:"required_envvars"`
	RequiredSecretEnvVars map[string]string `json:"required_secret_envvars"`
}

// testTool builds and runs a project from a branch tip. Nothing is stored:
// the runs belong to no tool version, so they are not invocation records.
func (s *Server) testTool(w http.ResponseWriter, r *http.Request) error {
	var req testToolRequest
	if err := decodeBody(r, &req); err != nil {
		return err
	}
	svc, err := s.toolsService()
	if err != nil {
		return err
	}
	results, err := svc.Test(r.Context(), tools.TestRequest{
		OrgID: state(r.Context()).org.ID, Branch: req.CommitBranch, ProjectPath: req.ProjectPath,
		EnvVars: req.RequiredEnvVars, SecretVars: req.RequiredSecretEnvVars, Inputs: inputsIn(req.Inputs),
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, resultsOut(results))
	return nil
}

type invocationStatus struct {
	Succeeded           bool      `json:"succeeded"`
	Output              *string   `json:"output,omitempty"`
	ExceptionMessage    *string   `json:"exception_message,omitempty"`
	ExceptionType       *string   `json:"exception_type,omitempty"`
	ExceptionStackTrace *[]string `json:"exception_stack_trace,omitempty"`
}

type toolInvocationInstance struct {
	ID               string           `json:"id"`
	OrgID            string           `json:"org_id"`
	CreatedAt        string           `json:"created_at"`
	UpdatedAt        string           `json:"updated_at"`
	InvocationStatus invocationStatus `json:"invocation_status"`
	InvocationSource map[string]any   `json:"invocation_source"`
	Logs             []string         `json:"logs"`
	DurationMS       int64            `json:"duration_ms"`
	ToolID           string           `json:"tool_id"`
	ToolVersion      versionNumber    `json:"tool_version"`
	Inputs           json.RawMessage  `json:"inputs"`
}

func invocationOut(inv store.ToolInvocation) toolInvocationInstance {
	out := toolInvocationInstance{
		ID: inv.ID, OrgID: inv.OrgID, CreatedAt: apiTime(inv.CreatedAt), UpdatedAt: apiTime(inv.CreatedAt),
		Logs: inv.Logs, DurationMS: inv.DurationMS, ToolID: inv.ToolID,
		ToolVersion: versionNumber{inv.Major, inv.Minor, inv.Patch}, Inputs: inv.Inputs,
		InvocationStatus: invocationStatus{Succeeded: inv.Succeeded},
	}
	if inv.Succeeded {
		out.InvocationStatus.Output = &inv.Output
	} else {
		st := &out.InvocationStatus
		st.ExceptionMessage, st.ExceptionType, st.ExceptionStackTrace = &inv.ExceptionMessage, &inv.ExceptionType, &inv.StackTrace
	}
	var metadata any
	if inv.Metadata != nil {
		metadata = inv.Metadata
	}
	if inv.SourceType == store.SourceSimulationConversation {
		out.InvocationSource = map[string]any{
			"type": inv.SourceType, "simulation_unit_test_set_run_id": inv.SimulationRunID,
			"unit_test_id": inv.UnitTestID, "run_index": inv.RunIndex, "invocation_metadata": metadata,
		}
	} else {
		user := ""
		if inv.UserID != nil {
			user = *inv.UserID
		}
		out.InvocationSource = map[string]any{
			"type": inv.SourceType, "user_id": user, "conversation_id": inv.ConversationID,
			"interaction_id": inv.InteractionID, "invocation_metadata": metadata,
		}
	}
	return out
}

// invocationPermission is what it takes to see an invocation of the given
// source.
func invocationPermission(sourceType string) auth.Permission {
	if sourceType == store.SourceSimulationConversation {
		return auth.SimulationGetUnitTestSetRun
	}
	return auth.ConversationGetInteractionInsights
}

func invocationAttrs(inv store.ToolInvocation) auth.Attributes {
	a := auth.Attributes{"org_id": inv.OrgID, "tool_id": inv.ToolID}
	if inv.ConversationID != nil {
		a["conversation_id"] = *inv.ConversationID
	}
	if inv.UserID != nil {
		a["user_id"] = *inv.UserID
	}
	return a
}

// visibleInvocations keeps the invocations the caller may see.
func visibleInvocations(grants []store.PermissionGrant, invs []store.ToolInvocation) []store.ToolInvocation {
	out := invs[:0:0]
	for _, inv := range invs {
		if auth.Allowed(grants, invocationPermission(inv.SourceType), invocationAttrs(inv)) {
			out = append(out, inv)
		}
	}
	return out
}

// invocationFilter reads the filters get-tool-invocations and
// search-tool-invocations share.
func invocationFilter(r *http.Request) store.InvocationFilter {
	return store.InvocationFilter{
		ToolIDs:         queryStrings(r, "tool_id"),
		SourceTypes:     queryStrings(r, "invocation_source_type"),
		ConversationIDs: queryStrings(r, "conversation_id"),
		RunIDs:          queryStrings(r, "simulation_unit_test_set_run_id"),
		Succeeded:       queryBool(r, "succeeded"),
	}
}

type invocationsPage struct {
	ToolInvocations   []toolInvocationInstance `json:"tool_invocations"`
	HasMore           bool                     `json:"has_more"`
	ContinuationToken *int                     `json:"continuation_token"`
}

// getToolInvocations lists invocations. version[i] constrains the versions
// of tool_id[i]; an empty constraint matches every version.
func (s *Server) getToolInvocations(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	st := state(ctx)
	sortBy, err := sortKeys(r, store.ValidInvocationSortField)
	if err != nil {
		return err
	}
	f := invocationFilter(r)
	f.Sort = sortBy
	constraints := queryStrings(r, "version")
	if len(constraints) != len(f.ToolIDs) {
		return badRequest("tool_id and version must have the same number of values: version[i] constrains the versions of tool_id[i].")
	}
	if f.Versions, err = s.versionRefs(r, f.ToolIDs, constraints); err != nil {
		return err
	}
	grants := st.principal.Grants
	limit, offset := queryInt(r, "limit"), max(0, queryInt(r, "continuation_token"))
	var invs []store.ToolInvocation
	var more bool
	if auth.Unconditional(grants, auth.ConversationGetInteractionInsights) && auth.Unconditional(grants, auth.SimulationGetUnitTestSetRun) {
		f.Limit, f.Offset = limit, offset
		if invs, more, err = s.store.ListToolInvocations(ctx, st.org.ID, f); err != nil {
			return err
		}
	} else {
		f.Limit = -1
		all, _, err := s.store.ListToolInvocations(ctx, st.org.ID, f)
		if err != nil {
			return err
		}
		invs, more = page(visibleInvocations(grants, all), offset, limit)
	}
	resp := invocationsPage{ToolInvocations: make([]toolInvocationInstance, len(invs)), HasMore: more}
	for i, inv := range invs {
		resp.ToolInvocations[i] = invocationOut(inv)
	}
	resp.ContinuationToken = nextToken(offset, len(invs), more)
	writeJSON(w, http.StatusOK, resp)
	return nil
}

// versionRefs resolves each tool's version constraint to the versions it
// matches; a tool whose constraint is empty keeps all its versions. Nil
// means no constraint was given at all: no version filter.
func (s *Server) versionRefs(r *http.Request, toolIDs, constraints []string) ([]store.VersionRef, error) {
	if !slices.ContainsFunc(constraints, func(c string) bool { return c != "" }) {
		return nil, nil
	}
	refs := []store.VersionRef{}
	for i, raw := range constraints {
		var c pep440.Constraint
		if raw != "" {
			var err error
			if c, err = pep440.ParseConstraint(raw); err != nil {
				return nil, validationFailed(fieldError{Loc: []any{"query", "version", i}, Msg: err.Error(), Type: "value_error", Input: raw})
			}
		}
		versions, err := s.store.ListToolVersions(r.Context(), state(r.Context()).org.ID, toolIDs[i])
		if err != nil {
			return nil, err
		}
		for _, v := range versions {
			if raw == "" || c.Match(pep440.Version{Major: v.Major, Minor: v.Minor, Patch: v.Patch}) {
				refs = append(refs, store.VersionRef{ToolID: v.ToolID, Major: v.Major, Minor: v.Minor, Patch: v.Patch})
			}
		}
	}
	return refs, nil
}

func (s *Server) searchToolInvocations(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	st := state(ctx)
	invs, err := s.store.SearchToolInvocations(ctx, st.org.ID, queryString(r, "query"),
		queryStrings(r, "query_against"), invocationFilter(r))
	if err != nil {
		return err
	}
	invs = visibleInvocations(st.principal.Grants, invs)
	out := make([]toolInvocationInstance, len(invs))
	for i, inv := range invs {
		out[i] = invocationOut(inv)
	}
	writeJSON(w, http.StatusOK, map[string]any{"tool_invocations": out})
	return nil
}
