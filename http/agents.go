package httpapi

import (
	"encoding/json"
	"net/http"
	"strings"

	"github.com/gorilla/mux"

	a "github.com/compadre-dev/compadre/auth"
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

// agentRelationship, agentIdentity, agentVoiceConfig and agentContent are
// an agent version's content, as requests carry it, as get-agent-versions
// returns it and as the store keeps it (the body of a version, which the
// store does not read). A change to them changes the API and the stored
// documents alike, so versions written before it must still decode.
type agentRelationship struct {
	Ownership              string `json:"ownership"`
	Type                   string `json:"type"`
	ConversationVisibility string `json:"conversation_visibility"`
	ThoughtVisibility      string `json:"thought_visibility"`
}

type agentIdentity struct {
	Name                    string            `json:"name"`
	Role                    string            `json:"role"`
	DevelopedBy             string            `json:"developed_by"`
	DefaultSpokenLanguage   string            `json:"default_spoken_language"`
	RelationshipToDeveloper agentRelationship `json:"relationship_to_developer"`
}

type agentVoiceConfig struct {
	VoiceID string `json:"voice_id"`
}

type agentContent struct {
	Initials              string            `json:"initials"`
	Identity              agentIdentity     `json:"identity"`
	Background            string            `json:"background"`
	Behaviors             []string          `json:"behaviors"`
	CommunicationPatterns []string          `json:"communication_patterns"`
	VoiceConfig           *agentVoiceConfig `json:"voice_config"`
}

// voiceConfigIn is a voice_config as a request carries it. The fields v0.7.0
// removed are read only to refuse them: a client still tuning stability
// would otherwise believe its setting took effect. Any other unknown field,
// such as the deprecated audio quality setting, is ignored like every
// unknown field of a request.
type voiceConfigIn struct {
	VoiceID         string          `json:"voice_id"`
	Stability       json.RawMessage `json:"stability"`
	SimilarityBoost json.RawMessage `json:"similarity_boost"`
	Style           json.RawMessage `json:"style"`
}

// createAgentVersionRequest: a nil field keeps the previous version's value.
type createAgentVersionRequest struct {
	Initials              *string        `json:"initials"`
	Identity              *agentIdentity `json:"identity"`
	Background            *string        `json:"background"`
	Behaviors             *[]string      `json:"behaviors"`
	CommunicationPatterns *[]string      `json:"communication_patterns"`
	VoiceConfig           *voiceConfigIn `json:"voice_config"`
}

// content checks the request's fields and returns them trimmed, reporting
// every problem at once as 422.
func (req createAgentVersionRequest) content() (agentContent, error) {
	var problems faults
	text := func(s string, loc ...any) string {
		return problems.stripped(s, append([]any{"body"}, loc...)...)
	}
	texts := func(in *[]string, field string) []string {
		if in == nil {
			return nil
		}
		out := make([]string, len(*in))
		for i, s := range *in {
			out[i] = text(s, field, i)
		}
		return out
	}
	var c agentContent
	if req.Initials != nil {
		c.Initials = text(*req.Initials, "initials")
	}
	if id := req.Identity; id != nil {
		rel := id.RelationshipToDeveloper
		c.Identity = agentIdentity{
			Name:                  text(id.Name, "identity", "name"),
			Role:                  text(id.Role, "identity", "role"),
			DevelopedBy:           text(id.DevelopedBy, "identity", "developed_by"),
			DefaultSpokenLanguage: id.DefaultSpokenLanguage,
			RelationshipToDeveloper: agentRelationship{
				Ownership:              text(rel.Ownership, "identity", "relationship_to_developer", "ownership"),
				Type:                   text(rel.Type, "identity", "relationship_to_developer", "type"),
				ConversationVisibility: text(rel.ConversationVisibility, "identity", "relationship_to_developer", "conversation_visibility"),
				ThoughtVisibility:      text(rel.ThoughtVisibility, "identity", "relationship_to_developer", "thought_visibility"),
			},
		}
	}
	if req.Background != nil {
		c.Background = text(*req.Background, "background")
	}
	c.Behaviors = texts(req.Behaviors, "behaviors")
	c.CommunicationPatterns = texts(req.CommunicationPatterns, "communication_patterns")
	if vc := req.VoiceConfig; vc != nil {
		for _, f := range []struct {
			name  string
			value json.RawMessage
		}{{"stability", vc.Stability}, {"similarity_boost", vc.SimilarityBoost}, {"style", vc.Style}} {
			if f.value != nil {
				problems.add([]any{"body", "voice_config", f.name}, "value_error", f.name+
					" was removed from voice_config in v0.7.0: a voice config takes only voice_id. "+
					"Remove stability, similarity_boost and style", f.value)
			}
		}
		c.VoiceConfig = &agentVoiceConfig{VoiceID: text(vc.VoiceID, "voice_config", "voice_id")}
	}
	if err := problems.err(); err != nil {
		return agentContent{}, err
	}
	return c, nil
}

// over returns prev with the fields the request sets replaced by c's. The
// first version has no previous one, so the request must set every field.
func (req createAgentVersionRequest) over(prev *agentContent, c agentContent) (agentContent, error) {
	if prev == nil {
		var missing []string
		for _, f := range []struct {
			name string
			set  bool
		}{
			{"initials", req.Initials != nil}, {"identity", req.Identity != nil}, {"background", req.Background != nil},
			{"behaviors", req.Behaviors != nil}, {"communication_patterns", req.CommunicationPatterns != nil},
			{"voice_config", req.VoiceConfig != nil},
		} {
			if !f.set {
				missing = append(missing, f.name)
			}
		}
		if len(missing) > 0 {
			return agentContent{}, badRequest("The agent has no versions yet, so the first one needs every field; missing: " +
				strings.Join(missing, ", ") + ".")
		}
		return c, nil
	}
	out := *prev
	if req.Initials != nil {
		out.Initials = c.Initials
	}
	if req.Identity != nil {
		out.Identity = c.Identity
	}
	if req.Background != nil {
		out.Background = c.Background
	}
	if req.Behaviors != nil {
		out.Behaviors = c.Behaviors
	}
	if req.CommunicationPatterns != nil {
		out.CommunicationPatterns = c.CommunicationPatterns
	}
	if req.VoiceConfig != nil {
		out.VoiceConfig = c.VoiceConfig
	}
	return out, nil
}

func (s *Server) createAgentVersion(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	st := state(ctx)
	var req createAgentVersionRequest
	if err := decodeBody(r, &req); err != nil {
		return err
	}
	c, err := req.content()
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
			var before *agentContent
			if prev != nil {
				before = &agentContent{}
				if err := json.Unmarshal(prev.Body, before); err != nil {
					return nil, err
				}
			}
			next, err := req.over(before, c)
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
	agentContent
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
		if err := json.Unmarshal(v.Body, &out.agentContent); err != nil {
			return err
		}
		resp.AgentVersions[i] = out
	}
	writeJSON(w, http.StatusOK, resp)
	return nil
}
