package httpapi

import (
	"encoding/json"
	"net/http"

	"github.com/gorilla/mux"

	a "github.com/compadre-dev/compadre/auth"
	"github.com/compadre-dev/compadre/config"
	"github.com/compadre-dev/compadre/store"
)

func agentAttrs(ag store.Agent) a.Attributes {
	return a.Attributes{a.AttrOrgID: ag.OrgID, a.AttrAgentID: ag.ID, a.AttrName: ag.Name}
}

// allowAgent refuses, with 403, a caller lacking perm on the agent.
func allowAgent(r *http.Request, perm a.Permission) func(store.Agent) error {
	return func(ag store.Agent) error {
		if err := state(r.Context()).allow(perm, agentAttrs(ag)); err != nil {
			return err
		}
		return nil
	}
}

type createAgentRequest struct {
	AgentName string `json:"agent_name"`
}

func (s *Server) createAgent(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	st := state(ctx)
	var req createAgentRequest
	if err := decodeBody(r, &req); err != nil {
		return err
	}
	name, err := strippedNonEmpty(req.AgentName, "body", "agent_name")
	if err != nil {
		return err
	}
	if err := st.allow(a.OrganizationCreateAgent, a.Attributes{a.AttrOrgID: st.org.ID, a.AttrName: name}); err != nil {
		return err
	}
	ag, err := s.store.CreateAgent(ctx, store.Agent{OrgID: st.org.ID, Name: name, Creator: actor(r)})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, map[string]string{"id": ag.ID})
	return nil
}

type agentInstance struct {
	ID            string `json:"id"`
	Name          string `json:"name"`
	Deprecated    bool   `json:"deprecated"`
	LatestVersion *int   `json:"latest_version"`
}

type agentsPage struct {
	Agents            []agentInstance `json:"agents"`
	HasMore           bool            `json:"has_more"`
	ContinuationToken *int            `json:"continuation_token"`
}

// getAgents lists the agents the caller holds Organization:GetAgent for.
// Agents the caller may not see are left out before paging, so a page is
// never short while more remain.
func (s *Server) getAgents(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	st := state(ctx)
	f := store.AgentFilter{IDs: queryStrings(r, "id"), Deprecated: queryBool(r, "deprecated")}
	all, err := s.store.ListAgents(ctx, st.org.ID, f)
	if err != nil {
		return err
	}
	visible := all[:0]
	for _, ag := range all {
		if a.Allowed(st.principal.Grants, a.OrganizationGetAgent, agentAttrs(ag)) {
			visible = append(visible, ag)
		}
	}
	offset := max(0, queryInt(r, "continuation_token"))
	pg, more := page(visible, offset, queryInt(r, "limit"))
	resp := agentsPage{Agents: make([]agentInstance, len(pg)), HasMore: more, ContinuationToken: nextToken(offset, len(pg), more)}
	for i, ag := range pg {
		resp.Agents[i] = agentInstance{ID: ag.ID, Name: ag.Name, Deprecated: ag.Deprecated, LatestVersion: ag.LatestVersion}
	}
	writeJSON(w, http.StatusOK, resp)
	return nil
}

func (s *Server) deleteAgent(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	err := s.store.DeleteAgent(ctx, state(ctx).org.ID, mux.Vars(r)["agent_id"], allowAgent(r, a.OrganizationDeleteAgent))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, struct{}{})
	return nil
}

func (s *Server) createAgentVersion(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	st := state(ctx)
	var req config.AgentPatch
	if err := decodeBody(r, &req); err != nil {
		return err
	}
	c, err := req.Check()
	if err != nil {
		return err
	}
	var want *int
	if n := queryInt(r, "version"); n > 0 {
		want = &n
	}
	v, err := s.store.CreateAgentVersion(ctx, st.org.ID, mux.Vars(r)["agent_id"], actor(r), want,
		allowAgent(r, a.OrganizationCreateAgentVersion),
		func(prev *store.AgentVersion) (json.RawMessage, error) {
			var before *config.Agent
			if prev != nil {
				p, err := config.ParseAgent(prev.Body)
				if err != nil {
					return nil, err
				}
				before = &p
			}
			next, err := req.Over(before, c)
			if err != nil {
				return nil, err
			}
			return json.Marshal(next)
		})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, map[string]any{"version": v.Version, "created_at": apiTime(v.CreatedAt)})
	return nil
}

type agentVersionInstance struct {
	OrgID     string   `json:"org_id"`
	AgentID   string   `json:"agent_id"`
	Version   int      `json:"version"`
	CreatedAt string   `json:"created_at"`
	Creator   userInfo `json:"creator"`
	config.Agent
}

type agentVersionsPage struct {
	AgentVersions     []agentVersionInstance `json:"agent_versions"`
	HasMore           bool                   `json:"has_more"`
	ContinuationToken *int                   `json:"continuation_token"`
}

func (s *Server) getAgentVersions(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	st := state(ctx)
	vr, err := versionRange(r)
	if err != nil {
		return err
	}
	sortBy, err := sortKeys(r, store.ValidAgentVersionSortField)
	if err != nil {
		return err
	}
	id := mux.Vars(r)["agent_id"]
	ag, err := s.store.GetAgent(ctx, st.org.ID, id)
	if err != nil {
		return err
	}
	if err := allowAgent(r, a.OrganizationGetAgent)(ag); err != nil {
		return err
	}
	all, err := s.store.ListAgentVersions(ctx, st.org.ID, id, vr, sortBy)
	if err != nil {
		return err
	}
	offset := max(0, queryInt(r, "continuation_token"))
	pg, more := page(all, offset, queryInt(r, "limit"))
	resp := agentVersionsPage{AgentVersions: make([]agentVersionInstance, len(pg)), HasMore: more,
		ContinuationToken: nextToken(offset, len(pg), more)}
	for i, v := range pg {
		out := agentVersionInstance{OrgID: v.OrgID, AgentID: v.RecordID, Version: v.Version, CreatedAt: apiTime(v.CreatedAt),
			Creator: userInfo{OrgID: v.Creator.OrgID, UserID: v.Creator.UserID}}
		if err := json.Unmarshal(v.Body, &out.Agent); err != nil {
			return err
		}
		resp.AgentVersions[i] = out
	}
	writeJSON(w, http.StatusOK, resp)
	return nil
}
