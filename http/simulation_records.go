package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"time"

	a "github.com/compadre-dev/compadre/auth"
	"github.com/compadre-dev/compadre/store"
)

// Personas and scenarios: the two versioned building blocks of a
// simulation. Their records are alike (a name, tags, soft deletion), so one
// set of handlers serves both, told apart by a simulationAPI; only their
// versions' content differs.

// simulationAPI describes one of the two kinds as the API names it. Its
// permissions are decided for the organization alone: the reference gives
// them no finer conditions.
type simulationAPI struct {
	kind store.SimulationKind
	// param is the path parameter naming a record, and the field naming
	// it in a version and in create's answer.
	param string
	// list is the field holding the records in a listing or a search.
	list string
	// versions is the field holding the versions in a version listing.
	versions string
	get      a.Permission
	modify   a.Permission
	del      a.Permission
}

var (
	personasAPI = simulationAPI{kind: store.SimulationPersonas, param: "simulation_persona_id",
		list: "simulation_personas", versions: "simulation_persona_versions",
		get: a.SimulationGetPersona, modify: a.SimulationModifyPersona, del: a.SimulationDeletePersona}
	scenariosAPI = simulationAPI{kind: store.SimulationScenarios, param: "simulation_scenario_id",
		list: "simulation_scenarios", versions: "simulation_scenario_versions",
		get: a.SimulationGetScenario, modify: a.SimulationModifyScenario, del: a.SimulationDeleteScenario}
)

// mayRead reports whether the caller holds perm in its organization: the
// listings the reference filters by a simulation permission show nothing
// without it.
func mayRead(r *http.Request, perm a.Permission) bool {
	st := state(r.Context())
	return a.Allowed(st.principal.Grants, perm, orgAttrs(st.org.ID))
}

// personaVersionIn is a persona version's content as create and
// create-version carry it.
type personaVersionIn struct {
	Background                string            `json:"background"`
	PreferredLanguage         json.RawMessage   `json:"preferred_language"`
	Timezone                  json.RawMessage   `json:"timezone"`
	UserModels                []string          `json:"user_models"`
	NonsensitiveUserVariables map[string]string `json:"nonsensitive_user_variables"`
	SensitiveUserVariables    map[string]string `json:"sensitive_user_variables"`
}

// notSetString reads a field that is a string, or absent, null or {} (the
// reference's NotSet) for "not set".
func notSetString(raw json.RawMessage) *string {
	var s *string
	if json.Unmarshal(bytes.TrimSpace(raw), &s) != nil {
		return nil
	}
	return s
}

func (in personaVersionIn) check(fe *faults, loc ...any) store.PersonaContent {
	c := store.PersonaContent{
		Background:        fe.Stripped(in.Background, extend(loc, "background")...),
		PreferredLanguage: notSetString(in.PreferredLanguage), Timezone: notSetString(in.Timezone),
		UserModels:                make([]string, len(in.UserModels)),
		NonsensitiveUserVariables: in.NonsensitiveUserVariables, SensitiveUserVariables: in.SensitiveUserVariables,
	}
	for i, m := range in.UserModels {
		c.UserModels[i] = fe.Stripped(m, extend(loc, "user_models", i)...)
	}
	return c
}

// scenarioVersionIn is a scenario version's content as create and
// create-version carry it.
type scenarioVersionIn struct {
	Objective            string     `json:"objective"`
	Instructions         string     `json:"instructions"`
	InitialMessageType   string     `json:"initial_message_type"`
	ConversationStartsAt *time.Time `json:"conversation_starts_at"`
}

func (in scenarioVersionIn) check(fe *faults, loc ...any) store.ScenarioContent {
	c := store.ScenarioContent{Objective: fe.Stripped(in.Objective, extend(loc, "objective")...),
		Instructions: fe.Stripped(in.Instructions, extend(loc, "instructions")...), InitialMessageType: in.InitialMessageType}
	if in.ConversationStartsAt != nil {
		t := in.ConversationStartsAt.UTC()
		c.ConversationStartsAt = &t
	}
	return c
}

type createPersonaRequest struct {
	Name           string             `json:"name"`
	Role           string             `json:"role"`
	Tags           map[string]*string `json:"tags"`
	InitialVersion personaVersionIn   `json:"initial_version"`
}

type createScenarioRequest struct {
	Name           string             `json:"name"`
	Tags           map[string]*string `json:"tags"`
	InitialVersion scenarioVersionIn  `json:"initial_version"`
}

// newSimulationRecord checks what create gives of a record.
func newSimulationRecord(r *http.Request, fe *faults, name, role string, tags map[string]*string, persona bool) (store.SimulationRecord, error) {
	rec := store.SimulationRecord{OrgID: state(r.Context()).org.ID, Name: fe.Stripped(name, "body", "name"),
		Creator: actor(r)}
	if persona {
		rec.Role = fe.Stripped(role, "body", "role")
	}
	var err error
	rec.Tags, err = strippedTags(tags, "body", "tags")
	return rec, err
}

func (s *Server) createPersona(w http.ResponseWriter, r *http.Request) error {
	var req createPersonaRequest
	if err := decodeBody(r, &req); err != nil {
		return err
	}
	var fe faults
	rec, err := newSimulationRecord(r, &fe, req.Name, req.Role, req.Tags, true)
	if err != nil {
		return err
	}
	first := req.InitialVersion.check(&fe, "body", "initial_version")
	if err := fe.Err(); err != nil {
		return err
	}
	created, err := s.store.CreatePersona(r.Context(), rec, first)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, map[string]string{personasAPI.param: created.ID})
	return nil
}

func (s *Server) createScenario(w http.ResponseWriter, r *http.Request) error {
	var req createScenarioRequest
	if err := decodeBody(r, &req); err != nil {
		return err
	}
	var fe faults
	rec, err := newSimulationRecord(r, &fe, req.Name, "", req.Tags, false)
	if err != nil {
		return err
	}
	first := req.InitialVersion.check(&fe, "body", "initial_version")
	if err := fe.Err(); err != nil {
		return err
	}
	created, err := s.store.CreateScenario(r.Context(), rec, first)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, map[string]string{scenariosAPI.param: created.ID})
	return nil
}

type simulationRecordOut struct {
	ID        string             `json:"id"`
	Name      string             `json:"name"`
	Role      *string            `json:"role,omitempty"`
	Tags      map[string]*string `json:"tags"`
	IsDeleted bool               `json:"is_deleted"`
	CreatedAt string             `json:"created_at"`
	Creator   userInfo           `json:"creator"`
	UpdatedAt string             `json:"updated_at"`
	UpdatedBy userInfo           `json:"updated_by"`
}

func (api simulationAPI) out(rec store.SimulationRecord) simulationRecordOut {
	o := simulationRecordOut{ID: rec.ID, Name: rec.Name, Tags: rec.Tags, IsDeleted: rec.IsDeleted,
		CreatedAt: apiTime(rec.CreatedAt), Creator: userInfo{OrgID: rec.Creator.OrgID, UserID: rec.Creator.UserID},
		UpdatedAt: apiTime(rec.UpdatedAt), UpdatedBy: userInfo{OrgID: rec.UpdatedBy.OrgID, UserID: rec.UpdatedBy.UserID}}
	if api.kind == store.SimulationPersonas {
		o.Role = &rec.Role
	}
	return o
}

// filter reads the filters a listing and a search share.
func (api simulationAPI) filter(r *http.Request) (store.SimulationFilter, error) {
	tags, err := tagFilters(r, "tag")
	if err != nil {
		return store.SimulationFilter{}, err
	}
	creators, err := creatorFilters(r)
	if err != nil {
		return store.SimulationFilter{}, err
	}
	return store.SimulationFilter{Roles: queryStrings(r, "role"), Creators: creators, Tags: tags}, nil
}

func recordTags(rec store.SimulationRecord) []store.Tag { return tagsIn(rec.Tags) }

// getRecords lists the records matching the filters, deleted or not unless
// is_deleted says which; nothing without the kind's read permission.
// filter_values count every matching record.
func (s *Server) getSimulationRecords(api simulationAPI) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		ctx := r.Context()
		f, err := api.filter(r)
		if err != nil {
			return err
		}
		if f.Sort, err = sortKeys(r, store.ValidSimulationSortField); err != nil {
			return err
		}
		f.IDs, f.IsDeleted = queryStrings(r, "id"), queryBool(r, "is_deleted")
		all, err := s.store.ListSimulationRecords(ctx, api.kind, state(ctx).org.ID, f)
		if err != nil {
			return err
		}
		simulationListing[store.SimulationRecord, simulationRecordOut]{perm: api.get, field: api.list, out: api.out,
			filterValues: func(all []store.SimulationRecord) map[string]any {
				fv := map[string]any{
					"creators": distinctCreators(all, func(rec store.SimulationRecord) store.Actor { return rec.Creator }),
					"tags":     tagValues(all, recordTags),
				}
				if api.kind == store.SimulationPersonas {
					fv["roles"] = distinctStrings(all, func(rec store.SimulationRecord) []string { return []string{rec.Role} })
				}
				return fv
			}}.write(w, r, all)
		return nil
	}
}

// searchSimulationRecords finds live records by the words of their names
// (and a persona's background).
func (s *Server) searchSimulationRecords(api simulationAPI) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		ctx := r.Context()
		f, err := api.filter(r)
		if err != nil {
			return err
		}
		live := false
		f.IsDeleted = &live
		return writeSearch(w, r, api.get, api.list, func(query string) ([]store.SimulationRecord, error) {
			return s.store.SearchSimulationRecords(ctx, api.kind, state(ctx).org.ID, query, f)
		}, api.out)
	}
}

type updateSimulationRecordRequest struct {
	Tags *map[string]*string `json:"tags"`
}

// updateSimulationRecord replaces the tags, the only thing of a record
// that changes other than by a new version.
func (s *Server) updateSimulationRecord(api simulationAPI) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		ctx := r.Context()
		st := state(ctx)
		id, err := idParam(r, api.param)
		if err != nil {
			return err
		}
		var req updateSimulationRecordRequest
		if err := decodeBody(r, &req); err != nil {
			return err
		}
		if req.Tags == nil {
			// Nothing changes; the record must still exist and be live.
			_, err := s.liveSimulationRecord(r, api, id)
			if err == nil {
				writeNoContent(w)
			}
			return err
		}
		tags, err := strippedTags(*req.Tags, "body", "tags")
		if err != nil {
			return err
		}
		if err := s.store.UpdateSimulationTags(ctx, api.kind, st.org.ID, id, actor(r), tags); err != nil {
			return err
		}
		writeNoContent(w)
		return nil
	}
}

// liveSimulationRecord loads the record, a deleted one being missing.
func (s *Server) liveSimulationRecord(r *http.Request, api simulationAPI, id string) (store.SimulationRecord, error) {
	rec, err := s.store.GetSimulationRecord(r.Context(), api.kind, state(r.Context()).org.ID, id)
	if err == nil && rec.IsDeleted {
		return rec, &store.NotFoundError{Kind: api.kind.Kind(), ID: id}
	}
	return rec, err
}

func (s *Server) deleteSimulationRecord(api simulationAPI) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		return deleteByID(w, r, api.param, func(ctx context.Context, orgID, id string, by store.Actor) error {
			return s.store.DeleteSimulationRecord(ctx, api.kind, orgID, id, by)
		})
	}
}

// wantVersion reads create-version's optional version query: the number
// the caller expects the new version to get.
func wantVersion(r *http.Request) *int {
	if state(r.Context()).query["version"] == nil {
		return nil
	}
	n := queryInt(r, "version")
	return &n
}

// versionInput is a version's content as a request carries it.
type versionInput[C any] interface {
	check(fe *faults, loc ...any) C
}

// createSimulationVersion reads a version of In's content and has create
// store it as the record's next, answering its number.
func createSimulationVersion[C any, In versionInput[C]](w http.ResponseWriter, r *http.Request, api simulationAPI,
	create func(ctx context.Context, orgID, id string, c C, by store.Actor, want *int) (int, error)) error {
	ctx := r.Context()
	id, err := idParam(r, api.param)
	if err != nil {
		return err
	}
	var req In
	if err := decodeBody(r, &req); err != nil {
		return err
	}
	var fe faults
	c := req.check(&fe, "body")
	if err := fe.Err(); err != nil {
		return err
	}
	n, err := create(ctx, state(ctx).org.ID, id, c, actor(r), wantVersion(r))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, map[string]int{"version": n})
	return nil
}

func (s *Server) createPersonaVersion(w http.ResponseWriter, r *http.Request) error {
	return createSimulationVersion[store.PersonaContent, personaVersionIn](w, r, personasAPI,
		func(ctx context.Context, orgID, id string, c store.PersonaContent, by store.Actor, want *int) (int, error) {
			v, err := s.store.CreatePersonaVersion(ctx, orgID, id, c, by, want)
			return v.Version, err
		})
}

func (s *Server) createScenarioVersion(w http.ResponseWriter, r *http.Request) error {
	return createSimulationVersion[store.ScenarioContent, scenarioVersionIn](w, r, scenariosAPI,
		func(ctx context.Context, orgID, id string, c store.ScenarioContent, by store.Actor, want *int) (int, error) {
			v, err := s.store.CreateScenarioVersion(ctx, orgID, id, c, by, want)
			return v.Version, err
		})
}

// versionFilter reads the query of a version listing.
func versionFilter(r *http.Request) (store.VersionFilter, error) {
	vr, err := versionRange(r)
	if err != nil {
		return store.VersionFilter{}, err
	}
	sortBy, err := sortKeys(r, store.ValidVersionSortField)
	if err != nil {
		return store.VersionFilter{}, err
	}
	return store.VersionFilter{Range: vr, Sort: sortBy, Limit: queryInt(r, "limit"),
		Offset: max(0, queryInt(r, "continuation_token"))}, nil
}

type versionHeaderOut struct {
	ID        string   `json:"_id"`
	OrgID     string   `json:"org_id"`
	Version   int      `json:"version"`
	Creator   userInfo `json:"creator"`
	CreatedAt string   `json:"created_at"`
}

func versionHeader[C store.PersonaContent | store.ScenarioContent](v store.SimulationVersion[C]) versionHeaderOut {
	return versionHeaderOut{ID: v.ID, OrgID: v.OrgID, Version: v.Version,
		Creator: userInfo{OrgID: v.Creator.OrgID, UserID: v.Creator.UserID}, CreatedAt: apiTime(v.CreatedAt)}
}

type personaVersionOut struct {
	versionHeaderOut
	PersonaID                 string            `json:"simulation_persona_id"`
	Background                string            `json:"background"`
	PreferredLanguage         *string           `json:"preferred_language"`
	Timezone                  *string           `json:"timezone"`
	UserModels                []string          `json:"user_models"`
	NonsensitiveUserVariables map[string]string `json:"nonsensitive_user_variables"`
	SensitiveUserVariables    map[string]string `json:"sensitive_user_variables"`
}

type scenarioVersionOut struct {
	versionHeaderOut
	ScenarioID           string  `json:"simulation_scenario_id"`
	Objective            string  `json:"objective"`
	Instructions         string  `json:"instructions"`
	InitialMessageType   string  `json:"initial_message_type"`
	ConversationStartsAt *string `json:"conversation_starts_at"`
}

func (s *Server) getPersonaVersions(w http.ResponseWriter, r *http.Request) error {
	return listSimulationVersions(w, r, personasAPI, s.store.ListPersonaVersions,
		func(v store.SimulationVersion[store.PersonaContent]) any {
			c := v.Content
			return personaVersionOut{versionHeaderOut: versionHeader(v), PersonaID: v.RecordID, Background: c.Background,
				PreferredLanguage: c.PreferredLanguage, Timezone: c.Timezone, UserModels: c.UserModels,
				NonsensitiveUserVariables: c.NonsensitiveUserVariables, SensitiveUserVariables: c.SensitiveUserVariables}
		})
}

func (s *Server) getScenarioVersions(w http.ResponseWriter, r *http.Request) error {
	return listSimulationVersions(w, r, scenariosAPI, s.store.ListScenarioVersions,
		func(v store.SimulationVersion[store.ScenarioContent]) any {
			c := v.Content
			o := scenarioVersionOut{versionHeaderOut: versionHeader(v), ScenarioID: v.RecordID, Objective: c.Objective,
				Instructions: c.Instructions, InitialMessageType: c.InitialMessageType}
			if c.ConversationStartsAt != nil {
				t := apiTime(*c.ConversationStartsAt)
				o.ConversationStartsAt = &t
			}
			return o
		})
}

func listSimulationVersions[C store.PersonaContent | store.ScenarioContent](w http.ResponseWriter, r *http.Request,
	api simulationAPI, list func(ctx context.Context, orgID, id string, f store.VersionFilter) ([]store.SimulationVersion[C], bool, error),
	out func(store.SimulationVersion[C]) any) error {
	id, err := idParam(r, api.param)
	if err != nil {
		return err
	}
	f, err := versionFilter(r)
	if err != nil {
		return err
	}
	vs, more, err := list(r.Context(), state(r.Context()).org.ID, id, f)
	if err != nil {
		return err
	}
	items := make([]any, len(vs))
	for i, v := range vs {
		items[i] = out(v)
	}
	writeJSON(w, http.StatusOK, map[string]any{api.versions: items, "has_more": more,
		"continuation_token": nextToken(f.Offset, len(vs), more)})
	return nil
}
