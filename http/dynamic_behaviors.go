package httpapi

import (
	"encoding/json"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/compadre-dev/compadre/auth"
	"github.com/compadre-dev/compadre/config"
	"github.com/compadre-dev/compadre/store"
)

// behaviorVersion checks a version's content found at loc, adding its
// faults to fe, and returns it as the store keeps it, with the tool call
// specs to resolve.
func behaviorVersion(fe *faults, c config.BehaviorContent, loc ...any) (store.DynamicBehaviorSetVersion, []config.LocatedSpec) {
	b, specs := c.Check(fe, loc)
	raw, _ := json.Marshal(b.Actions)
	return store.DynamicBehaviorSetVersion{ConversationTriggers: b.ConversationTriggers, Actions: raw}, specs
}

// dynamicBehaviorTags strips the keys and values of tags at loc; two keys
// that differ only by surrounding spaces would be one tag, and are refused.
func dynamicBehaviorTags(fe *faults, in map[string]*string, loc ...any) []store.Tag {
	out := make(map[string]*string, len(in))
	keys := make([]string, 0, len(in))
	for k := range in {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		at := append(slices.Clip(loc), k)
		key := fe.Stripped(k, at...)
		if _, dup := out[key]; dup && key != "" {
			fe.Add(at, "value_error", "Tag key "+strconv.Quote(key)+" is given more than once", k)
		}
		v := in[k]
		if v != nil {
			val := fe.Stripped(*v, at...)
			v = &val
		}
		out[key] = v
	}
	return tagsIn(out)
}

// uniqueStrings keeps the first of each string, in order.
func uniqueStrings(ids []string) []string {
	out := []string{}
	for _, id := range ids {
		if !slices.Contains(out, id) {
			out = append(out, id)
		}
	}
	return out
}

func dynamicBehaviorSetAttrs(d store.DynamicBehaviorSet) auth.Attributes {
	return auth.Attributes{auth.AttrOrgID: d.OrgID, auth.AttrBehaviorSetID: d.ID, auth.AttrName: d.Name}
}

// loadDynamicBehaviorSet finds the set named in the path (404) and checks
// the caller holds perm for it (403).
func (s *Server) loadDynamicBehaviorSet(r *http.Request, perm auth.Permission) (store.DynamicBehaviorSet, error) {
	id, err := idParam(r, "dynamic_behavior_set_id")
	if err != nil {
		return store.DynamicBehaviorSet{}, err
	}
	st := state(r.Context())
	d, err := s.store.GetDynamicBehaviorSet(r.Context(), st.org.ID, id)
	if err != nil {
		return store.DynamicBehaviorSet{}, err
	}
	if err := st.allow(perm, dynamicBehaviorSetAttrs(d)); err != nil {
		return store.DynamicBehaviorSet{}, err
	}
	return d, nil
}

type createDynamicBehaviorSetRequest struct {
	Name              string             `json:"name"`
	Tags              map[string]*string `json:"tags"`
	AppliedToServices []string           `json:"applied_to_services"`
	InitialVersion    struct {
		IsActive bool `json:"is_active"`
		config.BehaviorContent
	} `json:"initial_version"`
}

// createDynamicBehaviorSet creates a set with its first version. The caller
// needs both the create and the update permission for the new set, whose
// ID is chosen first so that conditions on it can be checked.
func (s *Server) createDynamicBehaviorSet(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	st := state(ctx)
	var req createDynamicBehaviorSetRequest
	if err := decodeBody(r, &req); err != nil {
		return err
	}
	var fe faults
	set := store.DynamicBehaviorSet{
		ID: store.NewID(), OrgID: st.org.ID, Name: fe.Stripped(req.Name, "body", "name"),
		IsActive: req.InitialVersion.IsActive, AppliedToServices: uniqueStrings(req.AppliedToServices),
		Tags: dynamicBehaviorTags(&fe, req.Tags, "body", "tags"), Creator: actor(r),
	}
	first, specs := behaviorVersion(&fe, req.InitialVersion.BehaviorContent, "body", "initial_version")
	if err := fe.Err(); err != nil {
		return err
	}
	first.Creator = set.Creator
	if err := st.allow(auth.DynamicBehaviorCreate, auth.Attributes{auth.AttrOrgID: set.OrgID, auth.AttrName: set.Name}); err != nil {
		return err
	}
	if err := st.allow(auth.DynamicBehaviorUpdate, dynamicBehaviorSetAttrs(set)); err != nil {
		return err
	}
	if err := s.resolveToolSpecs(ctx, st.org.ID, specs); err != nil {
		return err
	}
	created, err := s.store.CreateDynamicBehaviorSet(ctx, set, first)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, map[string]string{"dynamic_behavior_set_id": created.ID})
	return nil
}

type dynamicBehaviorSetInstance struct {
	ID                string             `json:"id"`
	Name              string             `json:"name"`
	IsActive          bool               `json:"is_active"`
	AppliedToServices []string           `json:"applied_to_services"`
	Tags              map[string]*string `json:"tags"`
	CreatedAt         string             `json:"created_at"`
	Creator           userInfo           `json:"creator"`
	UpdatedAt         string             `json:"updated_at"`
	UpdatedBy         userInfo           `json:"updated_by"`
}

func dynamicBehaviorSetOut(d store.DynamicBehaviorSet) dynamicBehaviorSetInstance {
	tags := make(map[string]*string, len(d.Tags))
	for _, t := range d.Tags {
		tags[t.Key] = t.Value
	}
	return dynamicBehaviorSetInstance{
		ID: d.ID, Name: d.Name, IsActive: d.IsActive, AppliedToServices: d.AppliedToServices, Tags: tags,
		CreatedAt: apiTime(d.CreatedAt), Creator: userInfo{OrgID: d.Creator.OrgID, UserID: d.Creator.UserID},
		UpdatedAt: apiTime(d.UpdatedAt), UpdatedBy: userInfo{OrgID: d.UpdatedBy.OrgID, UserID: d.UpdatedBy.UserID},
	}
}

// dynamicBehaviorSetFilter reads the filters get-dynamic-behavior-sets and
// search-dynamic-behavior-sets share.
func dynamicBehaviorSetFilter(r *http.Request) (store.DynamicBehaviorSetFilter, error) {
	tags, err := tagFilters(r, "tag")
	if err != nil {
		return store.DynamicBehaviorSetFilter{}, err
	}
	creators, err := creatorFilters(r)
	if err != nil {
		return store.DynamicBehaviorSetFilter{}, err
	}
	return store.DynamicBehaviorSetFilter{IsActive: queryBool(r, "is_active"),
		AppliedToServices: queryStrings(r, "applied_to_service"), Tags: tags, Creators: creators}, nil
}

// visibleDynamicBehaviorSets keeps the sets the caller may get.
func visibleDynamicBehaviorSets(r *http.Request, sets []store.DynamicBehaviorSet) []store.DynamicBehaviorSet {
	grants := state(r.Context()).principal.Grants
	out := []store.DynamicBehaviorSet{}
	for _, d := range sets {
		if auth.Allowed(grants, auth.DynamicBehaviorGet, dynamicBehaviorSetAttrs(d)) {
			out = append(out, d)
		}
	}
	return out
}

type dynamicBehaviorFilterValues struct {
	AppliedToServicesIDs []string   `json:"applied_to_services_ids"`
	Creators             []userInfo `json:"creators"`
	Tags                 []string   `json:"tags"`
}

// dynamicBehaviorSetFilterValues lists the services, creators and tag keys
// found among the sets, each once, in a stable order.
func dynamicBehaviorSetFilterValues(sets []store.DynamicBehaviorSet) *dynamicBehaviorFilterValues {
	fv := &dynamicBehaviorFilterValues{AppliedToServicesIDs: []string{}, Creators: []userInfo{}, Tags: []string{}}
	creators := map[userInfo]bool{}
	for _, d := range sets {
		for _, svc := range d.AppliedToServices {
			if !slices.Contains(fv.AppliedToServicesIDs, svc) {
				fv.AppliedToServicesIDs = append(fv.AppliedToServicesIDs, svc)
			}
		}
		c := userInfo{OrgID: d.Creator.OrgID, UserID: d.Creator.UserID}
		if !creators[c] {
			creators[c] = true
			fv.Creators = append(fv.Creators, c)
		}
		for _, t := range d.Tags {
			if !slices.Contains(fv.Tags, t.Key) {
				fv.Tags = append(fv.Tags, t.Key)
			}
		}
	}
	sort.Strings(fv.AppliedToServicesIDs)
	sort.Strings(fv.Tags)
	slices.SortFunc(fv.Creators, func(a, b userInfo) int {
		return strings.Compare(a.OrgID+"/"+a.UserID, b.OrgID+"/"+b.UserID)
	})
	return fv
}

// getDynamicBehaviorSets lists the sets matching the filters that the
// caller holds DynamicBehaviorInstruction:GetDynamicBehaviorInstruction
// for. Visibility is decided per set, so the page is cut after filtering;
// filter_values, as the reference says, count every matching set.
func (s *Server) getDynamicBehaviorSets(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	st := state(ctx)
	f, err := dynamicBehaviorSetFilter(r)
	if err != nil {
		return err
	}
	if f.Sort, err = sortKeys(r, store.ValidDynamicBehaviorSetSortField); err != nil {
		return err
	}
	f.IDs = queryStrings(r, "id")
	all, err := s.store.ListDynamicBehaviorSets(ctx, st.org.ID, f)
	if err != nil {
		return err
	}
	offset := max(0, queryInt(r, "continuation_token"))
	sets, more := page(visibleDynamicBehaviorSets(r, all), offset, queryInt(r, "limit"))
	out := make([]dynamicBehaviorSetInstance, len(sets))
	for i, d := range sets {
		out[i] = dynamicBehaviorSetOut(d)
	}
	var fv *dynamicBehaviorFilterValues
	if offset == 0 {
		fv = dynamicBehaviorSetFilterValues(all)
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"dynamic_behavior_sets": out, "has_more": more, "continuation_token": nextToken(offset, len(sets), more),
		"filter_values": fv,
	})
	return nil
}

// maxDynamicBehaviorSearchResults is how many sets a search returns at most.
const maxDynamicBehaviorSearchResults = 50

func (s *Server) searchDynamicBehaviorSets(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	st := state(ctx)
	query, err := strippedNonEmpty(queryString(r, "query"), "query", "query")
	if err != nil {
		return err
	}
	f, err := dynamicBehaviorSetFilter(r)
	if err != nil {
		return err
	}
	found, err := s.store.SearchDynamicBehaviorSets(ctx, st.org.ID, query, f)
	if err != nil {
		return err
	}
	sets, _ := page(visibleDynamicBehaviorSets(r, found), 0, maxDynamicBehaviorSearchResults)
	out := make([]dynamicBehaviorSetInstance, len(sets))
	for i, d := range sets {
		out[i] = dynamicBehaviorSetOut(d)
	}
	writeJSON(w, http.StatusOK, map[string]any{"dynamic_behavior_sets": out})
	return nil
}

func (s *Server) deleteDynamicBehaviorInstruction(w http.ResponseWriter, r *http.Request) error {
	d, err := s.loadDynamicBehaviorSet(r, auth.DynamicBehaviorDelete)
	if err != nil {
		return err
	}
	if err := s.store.DeleteDynamicBehaviorSet(r.Context(), d.OrgID, d.ID); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{})
	return nil
}

type updateDynamicBehaviorSetRequest struct {
	Name              *string             `json:"name"`
	Tags              *map[string]*string `json:"tags"`
	AppliedToServices *[]string           `json:"applied_to_services"`
	IsActive          *bool               `json:"is_active"`
}

// updateDynamicBehaviorSet changes what the request gives and nothing else.
// The caller needs the update permission for the set as it is and, when it
// is renamed, as it will be: a grant limited to some names must not let a
// set be renamed into or out of them.
func (s *Server) updateDynamicBehaviorSet(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	st := state(ctx)
	id, err := idParam(r, "dynamic_behavior_set_id")
	if err != nil {
		return err
	}
	var req updateDynamicBehaviorSetRequest
	if err := decodeBody(r, &req); err != nil {
		return err
	}
	var fe faults
	var name string
	if req.Name != nil {
		name = fe.Stripped(*req.Name, "body", "name")
	}
	var tags []store.Tag
	if req.Tags != nil {
		tags = dynamicBehaviorTags(&fe, *req.Tags, "body", "tags")
	}
	if err := fe.Err(); err != nil {
		return err
	}
	err = s.store.UpdateDynamicBehaviorSet(ctx, st.org.ID, id, actor(r), func(d *store.DynamicBehaviorSet) error {
		if err := st.allow(auth.DynamicBehaviorUpdate, dynamicBehaviorSetAttrs(*d)); err != nil {
			return err
		}
		if req.Name != nil && name != d.Name {
			d.Name = name
			if err := st.allow(auth.DynamicBehaviorUpdate, dynamicBehaviorSetAttrs(*d)); err != nil {
				return err
			}
		}
		if req.Tags != nil {
			d.Tags = tags
		}
		if req.AppliedToServices != nil {
			d.AppliedToServices = uniqueStrings(*req.AppliedToServices)
		}
		if req.IsActive != nil {
			d.IsActive = *req.IsActive
		}
		return nil
	})
	if err != nil {
		return err
	}
	writeNoContent(w)
	return nil
}

func (s *Server) createDynamicBehaviorSetVersion(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	st := state(ctx)
	if _, err := idParam(r, "dynamic_behavior_set_id"); err != nil {
		return err
	}
	var req config.BehaviorContent
	if err := decodeBody(r, &req); err != nil {
		return err
	}
	var fe faults
	v, specs := behaviorVersion(&fe, req, "body")
	if err := fe.Err(); err != nil {
		return err
	}
	d, err := s.loadDynamicBehaviorSet(r, auth.DynamicBehaviorUpdate)
	if err != nil {
		return err
	}
	if err := s.resolveToolSpecs(ctx, st.org.ID, specs); err != nil {
		return err
	}
	var want *int
	if st.query["version"] != nil {
		n := queryInt(r, "version")
		want = &n
	}
	v.Creator = actor(r)
	created, err := s.store.CreateDynamicBehaviorSetVersion(ctx, d.OrgID, d.ID, v, want)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, map[string]int{"new_version_number": created.Version})
	return nil
}

type dynamicBehaviorSetVersionInstance struct {
	ID                   string          `json:"_id"`
	OrgID                string          `json:"org_id"`
	CreatedAt            string          `json:"created_at"`
	UpdatedAt            string          `json:"updated_at"`
	SetID                string          `json:"dynamic_behavior_set_id"`
	Version              int             `json:"version"`
	ConversationTriggers []string        `json:"conversation_triggers"`
	Actions              json.RawMessage `json:"actions"`
	Creator              userInfo        `json:"creator"`
}

func (s *Server) getDynamicBehaviorSetVersions(w http.ResponseWriter, r *http.Request) error {
	d, err := s.loadDynamicBehaviorSet(r, auth.DynamicBehaviorGet)
	if err != nil {
		return err
	}
	vr, err := versionRange(r)
	if err != nil {
		return err
	}
	sortBy, err := sortKeys(r, store.ValidDynamicBehaviorVersionSortField)
	if err != nil {
		return err
	}
	offset := max(0, queryInt(r, "continuation_token"))
	versions, more, err := s.store.ListDynamicBehaviorSetVersions(r.Context(), d.OrgID, d.ID, store.DynamicBehaviorVersionFilter{
		Range: vr, Sort: sortBy, Limit: queryInt(r, "limit"), Offset: offset,
	})
	if err != nil {
		return err
	}
	out := make([]dynamicBehaviorSetVersionInstance, len(versions))
	for i, v := range versions {
		out[i] = dynamicBehaviorSetVersionInstance{
			ID: v.ID, OrgID: v.OrgID, CreatedAt: apiTime(v.CreatedAt), UpdatedAt: apiTime(v.UpdatedAt), SetID: v.SetID,
			Version: v.Version, ConversationTriggers: v.ConversationTriggers, Actions: v.Actions,
			Creator: userInfo{OrgID: v.Creator.OrgID, UserID: v.Creator.UserID},
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"dynamic_behavior_set_versions": out, "has_more": more, "continuation_token": nextToken(offset, len(out), more),
	})
	return nil
}

type dynamicBehaviorInvocationInstance struct {
	ID                      string   `json:"_id"`
	OrgID                   string   `json:"org_id"`
	CreatedAt               string   `json:"created_at"`
	UpdatedAt               string   `json:"updated_at"`
	ConversationID          string   `json:"conversation_id"`
	ServiceID               string   `json:"service_id"`
	UserID                  string   `json:"user_id"`
	InitialMessageID        string   `json:"initial_message_id"`
	AgentMessageID          *string  `json:"agent_message_id"`
	AgentInnerThoughtsIDs   []string `json:"agent_inner_thoughts_ids"`
	VersionInfo             [2]any   `json:"dynamic_behavior_set_version_info"`
	InvokedAt               string   `json:"invoked_at"`
	ExternalEventMessageIDs []string `json:"external_event_message_ids"`
}

// getDynamicBehaviorInvocations lists the set's invocations from
// conversations the caller may read the messages of. When no condition
// limits that, the database pages; otherwise every invocation is read and
// the page is cut after filtering.
func (s *Server) getDynamicBehaviorInvocations(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	st := state(ctx)
	d, err := s.loadDynamicBehaviorSet(r, auth.DynamicBehaviorGet)
	if err != nil {
		return err
	}
	sortBy, err := sortKeys(r, store.ValidDynamicBehaviorInvocationSortField)
	if err != nil {
		return err
	}
	offset, limit := max(0, queryInt(r, "continuation_token")), queryInt(r, "limit")
	f := store.DynamicBehaviorInvocationFilter{Sort: sortBy, Limit: limit, Offset: offset}
	unconditional := auth.Unconditional(st.principal.Grants, auth.ConversationGetMessage)
	if !unconditional {
		f.Limit, f.Offset = -1, 0
	}
	invs, more, err := s.store.ListDynamicBehaviorInvocations(ctx, d.OrgID, d.ID, f)
	if err != nil {
		return err
	}
	if !unconditional {
		var visible []store.DynamicBehaviorInvocation
		for _, inv := range invs {
			if auth.Allowed(st.principal.Grants, auth.ConversationGetMessage, auth.Attributes{auth.AttrOrgID: inv.OrgID,
				auth.AttrConversationID: inv.ConversationID, auth.AttrServiceID: inv.ServiceID, auth.AttrUserID: inv.UserID}) {
				visible = append(visible, inv)
			}
		}
		invs, more = page(visible, offset, limit)
	}
	out := make([]dynamicBehaviorInvocationInstance, len(invs))
	for i, inv := range invs {
		out[i] = dynamicBehaviorInvocationInstance{
			ID: inv.ID, OrgID: inv.OrgID, CreatedAt: apiTime(inv.CreatedAt), UpdatedAt: apiTime(inv.UpdatedAt),
			ConversationID: inv.ConversationID, ServiceID: inv.ServiceID, UserID: inv.UserID,
			InitialMessageID: inv.InitialMessageID, AgentMessageID: inv.AgentMessageID,
			AgentInnerThoughtsIDs: inv.AgentInnerThoughtsIDs, VersionInfo: [2]any{inv.SetID, inv.SetVersion},
			InvokedAt: apiTime(inv.InvokedAt), ExternalEventMessageIDs: inv.ExternalEventMessageIDs,
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"dynamic_behavior_invocations": out, "has_more": more, "continuation_token": nextToken(offset, len(out), more),
	})
	return nil
}
