package httpapi

import (
	"net/http"
	"regexp"

	"github.com/gorilla/mux"

	a "github.com/compadre-dev/compadre/auth"
	"github.com/compadre-dev/compadre/store"
)

type llmConfig struct {
	LLMName string         `json:"llm_name"`
	Params  map[string]any `json:"params"`
}

// versionSet is a version set as requests and responses carry it.
type versionSet struct {
	AgentVersionNumber        *int                 `json:"agent_version_number"`
	StateMachineVersionNumber *int                 `json:"service_hierarchical_state_machine_version_number"`
	LLMModelPreferences       map[string]llmConfig `json:"llm_model_preferences"`
}

func (v versionSet) toStore() store.VersionSet {
	out := store.VersionSet{AgentVersion: v.AgentVersionNumber, StateMachineVersion: v.StateMachineVersionNumber,
		LLMModelPreferences: map[string]store.LLMConfig{}}
	for k, c := range v.LLMModelPreferences {
		out.LLMModelPreferences[k] = store.LLMConfig{LLMName: c.LLMName, Params: c.Params}
	}
	return out
}

func llmPreferencesOut(prefs map[string]store.LLMConfig) map[string]llmConfig {
	out := make(map[string]llmConfig, len(prefs))
	for k, c := range prefs {
		out[k] = llmConfig{LLMName: c.LLMName, Params: c.Params}
	}
	return out
}

type serviceInstance struct {
	ID             string                `json:"id"`
	Name           string                `json:"name"`
	VersionSets    map[string]versionSet `json:"version_sets"`
	Description    string                `json:"description"`
	IsActive       bool                  `json:"is_active"`
	StateMachineID string                `json:"service_hierarchical_state_machine_id"`
	AgentID        string                `json:"agent_id"`
	Tags           []store.Tag           `json:"tags"`
	Keyterms       []string              `json:"keyterms"`
	Creator        userInfo              `json:"creator"`
	UpdatedBy      userInfo              `json:"updated_by"`
}

func serviceOut(svc store.Service) serviceInstance {
	out := serviceInstance{
		ID: svc.ID, Name: svc.Name, Description: svc.Description, IsActive: svc.IsActive,
		StateMachineID: svc.StateMachineID, AgentID: svc.AgentID, Tags: tagsIn(svc.Tags), Keyterms: svc.Keyterms,
		VersionSets: make(map[string]versionSet, len(svc.VersionSets)),
		Creator:     userInfo{OrgID: svc.Creator.OrgID, UserID: svc.Creator.UserID},
		UpdatedBy:   userInfo{OrgID: svc.UpdatedBy.OrgID, UserID: svc.UpdatedBy.UserID},
	}
	if out.Keyterms == nil {
		out.Keyterms = []string{}
	}
	for name, vs := range svc.VersionSets {
		out.VersionSets[name] = versionSet{AgentVersionNumber: vs.AgentVersion,
			StateMachineVersionNumber: vs.StateMachineVersion, LLMModelPreferences: llmPreferencesOut(vs.LLMModelPreferences)}
	}
	return out
}

func serviceAttrs(svc store.Service) a.Attributes {
	return a.Attributes{a.AttrOrgID: svc.OrgID, a.AttrServiceID: svc.ID, a.AttrName: svc.Name}
}

func versionSetAttrs(svc store.Service, name string) a.Attributes {
	return a.Attributes{a.AttrOrgID: svc.OrgID, a.AttrServiceID: svc.ID, a.AttrVersionSetName: name}
}

type servicesPage struct {
	Services          []serviceInstance `json:"services"`
	HasMore           bool              `json:"has_more"`
	ContinuationToken *int              `json:"continuation_token"`
	FilterValues      *struct {
		Tags []string `json:"tags"`
	} `json:"filter_values"`
}

// getServices lists the services the caller holds Service:GetService for.
// The filter values cover every visible match, so tags of services the
// caller may not see stay hidden, and come with the first page only.
func (s *Server) getServices(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	st := state(ctx)
	sortBy, err := sortKeys(r, store.ValidServiceSortField)
	if err != nil {
		return err
	}
	tags, err := tagFilters(r, "tags")
	if err != nil {
		return err
	}
	all, err := s.store.ListServices(ctx, st.org.ID, store.ServiceFilter{
		IDs: queryStrings(r, "id"), IsActive: queryBool(r, "is_active"), Tags: tags, Sort: sortBy,
	})
	if err != nil {
		return err
	}
	var visible []store.Service
	for _, svc := range all {
		if a.Allowed(st.principal.Grants, a.ServiceGetService, serviceAttrs(svc)) {
			visible = append(visible, svc)
		}
	}
	offset := max(0, queryInt(r, "continuation_token"))
	page, more := page(visible, offset, queryInt(r, "limit"))
	resp := servicesPage{Services: make([]serviceInstance, len(page)), HasMore: more}
	for i, svc := range page {
		resp.Services[i] = serviceOut(svc)
	}
	resp.ContinuationToken = nextToken(offset, len(page), more)
	if offset == 0 {
		resp.FilterValues = &struct {
			Tags []string `json:"tags"`
		}{Tags: tagValues(visible, func(svc store.Service) []store.Tag { return tagsIn(svc.Tags) })}
	}
	writeJSON(w, http.StatusOK, resp)
	return nil
}

type createServiceRequest struct {
	StateMachineID    string             `json:"service_hierarchical_state_machine_id"`
	AgentID           string             `json:"agent_id"`
	Name              string             `json:"name"`
	Description       string             `json:"description"`
	IsActive          bool               `json:"is_active"`
	ReleaseVersionSet *versionSet        `json:"release_version_set"`
	Keyterms          []string           `json:"keyterms"`
	Tags              map[string]*string `json:"tags"`
}

func (s *Server) createService(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	st := state(ctx)
	var req createServiceRequest
	if err := decodeBody(r, &req); err != nil {
		return err
	}
	name, err := strippedNonEmpty(req.Name, "body", "name")
	if err != nil {
		return err
	}
	desc, err := strippedNonEmpty(req.Description, "body", "description")
	if err != nil {
		return err
	}
	tags, err := strippedTags(req.Tags, "body", "tags")
	if err != nil {
		return err
	}
	var release *store.VersionSet
	if req.ReleaseVersionSet != nil {
		if err := s.checkPreferences(ctx, req.ReleaseVersionSet.LLMModelPreferences); err != nil {
			return err
		}
		vs := req.ReleaseVersionSet.toStore()
		release = &vs
	}
	svc, err := s.store.CreateService(ctx, store.Service{
		OrgID: st.org.ID, Name: name, Description: desc, IsActive: req.IsActive, AgentID: req.AgentID,
		StateMachineID: req.StateMachineID, Tags: tags, Keyterms: req.Keyterms, Creator: actor(r),
	}, release, func(svc store.Service) error {
		if err := st.allow(a.ServiceCreateService, a.Attributes{a.AttrOrgID: svc.OrgID, a.AttrName: svc.Name}); err != nil {
			return err
		}
		for _, set := range []string{store.EdgeVersionSet, store.ReleaseVersionSet} {
			if err := st.allow(a.ServiceCreateVersionSet, versionSetAttrs(svc, set)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, map[string]string{"id": svc.ID})
	return nil
}

type updateServiceRequest struct {
	Name           *string             `json:"name"`
	Description    *string             `json:"description"`
	IsActive       *bool               `json:"is_active"`
	AgentID        *string             `json:"agent_id"`
	StateMachineID *string             `json:"service_hierarchical_state_machine_id"`
	Tags           *map[string]*string `json:"tags"`
	Keyterms       *[]string           `json:"keyterms"`
}

func (s *Server) updateService(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	st := state(ctx)
	var req updateServiceRequest
	if err := decodeBody(r, &req); err != nil {
		return err
	}
	var name, desc string
	var err error
	if req.Name != nil {
		if name, err = strippedNonEmpty(*req.Name, "body", "name"); err != nil {
			return err
		}
	}
	if req.Description != nil {
		if desc, err = strippedNonEmpty(*req.Description, "body", "description"); err != nil {
			return err
		}
	}
	var tags map[string]*string
	if req.Tags != nil {
		if tags, err = strippedTags(*req.Tags, "body", "tags"); err != nil {
			return err
		}
	}
	err = s.store.UpdateService(ctx, st.org.ID, mux.Vars(r)["service_id"], actor(r), func(svc *store.Service) error {
		if err := st.allow(a.ServiceUpdateService, serviceAttrs(*svc)); err != nil {
			return err
		}
		if req.Name != nil {
			svc.Name = name
		}
		if req.Description != nil {
			svc.Description = desc
		}
		if req.IsActive != nil {
			svc.IsActive = *req.IsActive
		}
		if req.AgentID != nil {
			svc.AgentID = *req.AgentID
		}
		if req.StateMachineID != nil {
			svc.StateMachineID = *req.StateMachineID
		}
		if req.Tags != nil {
			svc.Tags = tags
		}
		if req.Keyterms != nil {
			svc.Keyterms = *req.Keyterms
		}
		return nil
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, struct{}{})
	return nil
}

// versionSetName is the shape the reference gives a version set's name
// where one is created.
var versionSetName = regexp.MustCompile(`^[A-Za-z0-9_-]{1,40}$`)

type upsertVersionSetRequest struct {
	VersionSet versionSet `json:"version_set"`
}

func (s *Server) upsertServiceVersionSet(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	st := state(ctx)
	name := mux.Vars(r)["version_set_name"]
	if !versionSetName.MatchString(name) {
		return validationFailed(fieldError{Loc: []any{"path", "version_set_name"},
			Msg: "A version set name is 1 to 40 letters, digits, underscores and dashes", Type: "string_pattern_mismatch", Input: name})
	}
	var req upsertVersionSetRequest
	if err := decodeBody(r, &req); err != nil {
		return err
	}
	if err := s.checkPreferences(ctx, req.VersionSet.LLMModelPreferences); err != nil {
		return err
	}
	err := s.store.UpsertVersionSet(ctx, st.org.ID, mux.Vars(r)["service_id"], name, req.VersionSet.toStore(), actor(r),
		func(svc store.Service, exists bool) error {
			perm := a.ServiceCreateVersionSet
			if exists {
				perm = a.ServiceUpdateVersionSet
			}
			if err := st.allow(perm, versionSetAttrs(svc, name)); err != nil {
				return err
			}
			return nil
		})
	if err != nil {
		return err
	}
	writeNoContent(w)
	return nil
}

func (s *Server) deleteServiceVersionSet(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	st := state(ctx)
	name := mux.Vars(r)["version_set_name"]
	err := s.store.DeleteVersionSet(ctx, st.org.ID, mux.Vars(r)["service_id"], name, actor(r), func(svc store.Service) error {
		if err := st.allow(a.ServiceDeleteVersionSet, versionSetAttrs(svc, name)); err != nil {
			return err
		}
		return nil
	})
	if err != nil {
		return err
	}
	writeNoContent(w)
	return nil
}
