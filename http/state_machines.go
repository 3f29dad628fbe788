package httpapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"

	"github.com/gorilla/mux"

	"github.com/compadre-dev/compadre/auth"
	"github.com/compadre-dev/compadre/config"
	"github.com/compadre-dev/compadre/store"
)

func stateMachineAttrs(m store.StateMachine) auth.Attributes {
	return auth.Attributes{auth.AttrOrgID: m.OrgID, auth.AttrStateMachineID: m.ID, auth.AttrName: m.Name}
}

// stateMachineAllowed is a check for the store to run on the state machine
// it reads inside its transaction.
func stateMachineAllowed(r *http.Request, perm auth.Permission) func(store.StateMachine) error {
	st := state(r.Context())
	return func(m store.StateMachine) error { return st.allow(perm, stateMachineAttrs(m)) }
}

// loadStateMachine finds the state machine the path names by var (404 if
// it is not the organization's) and checks the caller holds perm on it.
func (s *Server) loadStateMachine(r *http.Request, pathVar string, perm auth.Permission) (store.StateMachine, error) {
	st := state(r.Context())
	m, err := s.store.GetStateMachine(r.Context(), st.org.ID, mux.Vars(r)[pathVar])
	if err != nil {
		return store.StateMachine{}, err
	}
	if err := stateMachineAllowed(r, perm)(m); err != nil {
		return store.StateMachine{}, err
	}
	return m, nil
}

type createStateMachineRequest struct {
	StateMachineName string `json:"state_machine_name"`
}

func (s *Server) createStateMachine(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	st := state(ctx)
	var req createStateMachineRequest
	if err := decodeBody(r, &req); err != nil {
		return err
	}
	name, err := strippedNonEmpty(req.StateMachineName, "body", "state_machine_name")
	if err != nil {
		return err
	}
	if err := st.allow(auth.OrganizationCreateStateMachine, auth.Attributes{auth.AttrOrgID: st.org.ID, auth.AttrName: name}); err != nil {
		return err
	}
	m, err := s.store.CreateStateMachine(ctx, store.StateMachine{OrgID: st.org.ID, Name: name, Creator: actor(r)})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, map[string]string{"id": m.ID})
	return nil
}

type stateMachineInstance struct {
	ID            string `json:"id"`
	Name          string `json:"name"`
	Deprecated    bool   `json:"deprecated"`
	LatestVersion *int   `json:"latest_version"`
}

type stateMachinesPage struct {
	StateMachines     []stateMachineInstance `json:"service_hierarchical_state_machines"`
	HasMore           bool                   `json:"has_more"`
	ContinuationToken *int                   `json:"continuation_token"`
}

func (s *Server) getStateMachines(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	st := state(ctx)
	all, err := s.store.ListStateMachines(ctx, st.org.ID, store.StateMachineFilter{
		IDs: queryStrings(r, "id"), Deprecated: queryBool(r, "deprecated"),
	})
	if err != nil {
		return err
	}
	visible := all[:0:0]
	for _, m := range all {
		if auth.Allowed(st.principal.Grants, auth.OrganizationGetStateMachine, stateMachineAttrs(m)) {
			visible = append(visible, m)
		}
	}
	offset := max(0, queryInt(r, "continuation_token"))
	pg, more := page(visible, offset, queryInt(r, "limit"))
	resp := stateMachinesPage{StateMachines: make([]stateMachineInstance, len(pg)), HasMore: more,
		ContinuationToken: nextToken(offset, len(pg), more)}
	for i, m := range pg {
		resp.StateMachines[i] = stateMachineInstance{ID: m.ID, Name: m.Name, Deprecated: m.Deprecated, LatestVersion: m.LatestVersion}
	}
	writeJSON(w, http.StatusOK, resp)
	return nil
}

func (s *Server) createStateMachineVersion(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	st := state(ctx)
	var req config.Graph
	if err := decodeBody(r, &req); err != nil {
		return err
	}
	m, err := s.loadStateMachine(r, "service_hierarchical_state_machine_id", auth.OrganizationCreateStateMachineVersion)
	if err != nil {
		return err
	}
	if m.Deprecated {
		return &store.NotFoundError{Kind: store.KindStateMachine, ID: m.ID, Deprecated: true}
	}
	g, err := config.CheckGraph(req)
	if err != nil {
		return err
	}
	if err := s.resolveGraph(r, g); err != nil {
		return err
	}
	var want *int
	if _, ok := st.query["version"]; ok {
		n := queryInt(r, "version")
		want = &n
	}
	if dry := queryBool(r, "dry_run"); dry != nil && *dry {
		next := 1
		if m.LatestVersion != nil {
			next = *m.LatestVersion + 1
		}
		if want != nil && *want != next {
			return conflict(fmt.Sprintf("The next version of the state machine is %d, not %d.", next, *want))
		}
		writeJSON(w, http.StatusCreated, nil)
		return nil
	}
	body, err := json.Marshal(g.Graph)
	if err != nil {
		return err
	}
	v, err := s.store.CreateStateMachineVersion(ctx, store.StateMachineVersion{
		OrgID: m.OrgID, RecordID: m.ID, Body: body, Creator: actor(r),
	}, want, stateMachineAllowed(r, auth.OrganizationCreateStateMachineVersion))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, map[string]any{"version": v.Version, "created_at": apiTime(v.CreatedAt)})
	return nil
}

// resolveGraph checks what a well-formed version points at: every
// referenced state machine version exists and is live and has the states
// transitions name in it, and every tool call spec resolves. All problems
// are listed in one *config.Unresolved.
func (s *Server) resolveGraph(r *http.Request, g config.CheckedGraph) error {
	ctx := r.Context()
	orgID := state(ctx).org.ID
	var problems []string
	refStates := map[string][]string{}
	for _, name := range slices.Sorted(maps.Keys(g.Graph.References)) {
		ref := g.Graph.References[name]
		version := ref.Version
		_, err := s.store.ResolveStateMachineVersion(ctx, orgID, ref.ID, &version)
		var nf *store.NotFoundError
		if errors.As(err, &nf) {
			problems = append(problems, fmt.Sprintf("references.%s: %s", name, strings.TrimSuffix(missingDetail(nf), ".")))
			continue
		}
		if err != nil {
			return err
		}
		v, err := s.store.GetStateMachineVersion(ctx, orgID, ref.ID, version)
		if err != nil {
			return err
		}
		content, err := config.ParseGraph(v.Body)
		if err == nil {
			refStates[name], err = content.StateNames()
		}
		if err != nil {
			return fmt.Errorf("state machine %s version %d: %w", ref.ID, version, err)
		}
	}
	problems = append(problems, g.UnknownExternalStates(refStates)...)
	err := s.resolveToolSpecs(ctx, orgID, g.Specs)
	var un *config.Unresolved
	switch {
	case err == nil:
	case errors.As(err, &un):
		problems = append(problems, un.Problems...)
	default:
		return err
	}
	if len(problems) > 0 {
		return &config.Unresolved{Problems: problems}
	}
	return nil
}

type stateMachineVersionInstance struct {
	OrgID          string   `json:"org_id"`
	StateMachineID string   `json:"service_hierarchical_state_machine_id"`
	Version        int      `json:"version"`
	CreatedAt      string   `json:"created_at"`
	Creator        userInfo `json:"creator"`
	config.Graph
}

type stateMachineVersionsPage struct {
	Versions          []stateMachineVersionInstance `json:"state_machine_versions"`
	HasMore           bool                          `json:"has_more"`
	ContinuationToken *int                          `json:"continuation_token"`
}

func (s *Server) getStateMachineVersions(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	m, err := s.loadStateMachine(r, "service_hierarchical_state_machine_id", auth.OrganizationGetStateMachine)
	if err != nil {
		return err
	}
	rng, err := versionRange(r)
	if err != nil {
		return err
	}
	sortBy, err := sortKeys(r, store.ValidStateMachineVersionSortField)
	if err != nil {
		return err
	}
	all, err := s.store.ListStateMachineVersions(ctx, m.OrgID, m.ID, rng, sortBy)
	if err != nil {
		return err
	}
	offset := max(0, queryInt(r, "continuation_token"))
	pg, more := page(all, offset, queryInt(r, "limit"))
	resp := stateMachineVersionsPage{Versions: make([]stateMachineVersionInstance, len(pg)), HasMore: more,
		ContinuationToken: nextToken(offset, len(pg), more)}
	for i, v := range pg {
		out := stateMachineVersionInstance{OrgID: v.OrgID, StateMachineID: v.RecordID, Version: v.Version,
			CreatedAt: apiTime(v.CreatedAt), Creator: userInfo{OrgID: v.Creator.OrgID, UserID: v.Creator.UserID}}
		if err := json.Unmarshal(v.Body, &out.Graph); err != nil {
			return fmt.Errorf("state machine %s version %d: %w", v.RecordID, v.Version, err)
		}
		resp.Versions[i] = out
	}
	writeJSON(w, http.StatusOK, resp)
	return nil
}

func (s *Server) deleteStateMachine(w http.ResponseWriter, r *http.Request) error {
	st := state(r.Context())
	err := s.store.DeprecateStateMachine(r.Context(), st.org.ID, mux.Vars(r)["service_hierarchical_state_machine_id"],
		stateMachineAllowed(r, auth.OrganizationDeleteStateMachine))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, nil)
	return nil
}
