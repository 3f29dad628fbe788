package httpapi

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"

	a "github.com/compadre-dev/compadre/auth"
	"github.com/compadre-dev/compadre/config"
	"github.com/compadre-dev/compadre/store"
)

// Unit tests (a persona and a scenario against a service, judged by
// metrics) and unit test sets (unit tests with run counts). Their
// permissions, like those of personas and scenarios, are decided for the
// organization alone.

type successCriterionIn struct {
	Name      string           `json:"name"`
	MetricID  string           `json:"metric_id"`
	Criterion config.Criterion `json:"criterion"`
}

// successCriteria checks the criteria found at body.field and returns them
// as the store keeps them. Two criteria of one name are a 400: each is
// valid alone, only together do they collide.
func successCriteria(fe *faults, in []successCriterionIn, field string) ([]store.SuccessCriterion, error) {
	out := make([]store.SuccessCriterion, len(in))
	names := map[string]bool{}
	var dup error
	for i, sc := range in {
		loc := []any{"body", field, i}
		name := fe.Stripped(sc.Name, extend(loc, "name")...)
		if names[name] && name != "" && dup == nil {
			dup = badRequest("Success criterion " + strconv.Quote(name) + " is given more than once.")
		}
		names[name] = true
		c := sc.Criterion.Check(fe, extend(loc, "criterion"))
		raw, _ := json.Marshal(c)
		out[i] = store.SuccessCriterion{Name: name, MetricID: sc.MetricID, Criterion: raw}
	}
	return out, dup
}

// unitTestTags turns the tags a unit test or set is given into the list it
// keeps; the reference leaves these tags unconstrained, so they are kept
// as given.
func unitTestTags(m map[string]*string) []store.Tag { return tagsIn(m) }

type createUnitTestRequest struct {
	Name            string               `json:"name"`
	Description     string               `json:"description"`
	ServiceID       string               `json:"service_id"`
	VersionSetName  string               `json:"service_version_set_name"`
	PersonaID       string               `json:"persona_id"`
	ScenarioID      string               `json:"scenario_id"`
	MaxInteractions int                  `json:"max_interactions"`
	SuccessCriteria []successCriterionIn `json:"success_criterions"`
	Tags            map[string]*string   `json:"tags"`
}

func (s *Server) createUnitTest(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	var req createUnitTestRequest
	if err := decodeBody(r, &req); err != nil {
		return err
	}
	var fe faults
	u := store.SimulationUnitTest{OrgID: state(ctx).org.ID, Name: fe.Stripped(req.Name, "body", "name"),
		Description: fe.Stripped(req.Description, "body", "description"), ServiceID: req.ServiceID,
		VersionSetName: req.VersionSetName, PersonaID: req.PersonaID, ScenarioID: req.ScenarioID,
		MaxInteractions: req.MaxInteractions, Tags: unitTestTags(req.Tags), Creator: actor(r)}
	criteria, dup := successCriteria(&fe, req.SuccessCriteria, "success_criterions")
	if err := fe.Err(); err != nil {
		return err
	}
	if dup != nil {
		return dup
	}
	u.SuccessCriteria = criteria
	created, err := s.store.CreateSimulationUnitTest(ctx, u)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, map[string]string{"simulation_unit_test_id": created.ID})
	return nil
}

type unitTestOut struct {
	ID              string                   `json:"id"`
	OrgID           string                   `json:"org_id"`
	CreatedAt       string                   `json:"created_at"`
	UpdatedAt       string                   `json:"updated_at"`
	Name            string                   `json:"name"`
	Description     string                   `json:"description"`
	ServiceID       string                   `json:"service_id"`
	VersionSetName  string                   `json:"service_version_set_name"`
	PersonaID       string                   `json:"persona_id"`
	ScenarioID      string                   `json:"scenario_id"`
	MaxInteractions int                      `json:"max_interactions"`
	SuccessCriteria []store.SuccessCriterion `json:"success_criterions"`
	IsDeleted       bool                     `json:"is_deleted"`
	Tags            []store.Tag              `json:"tags"`
	Creator         userInfo                 `json:"creator"`
	UpdatedBy       userInfo                 `json:"updated_by"`
}

// unitTestSearchOut is a unit test as search returns it: the reference's
// SimulationUnitTest schema, whose ID is _id.
type unitTestSearchOut struct {
	ID              string                   `json:"_id"`
	OrgID           string                   `json:"org_id"`
	CreatedAt       string                   `json:"created_at"`
	UpdatedAt       string                   `json:"updated_at"`
	Name            string                   `json:"name"`
	Description     string                   `json:"description"`
	ServiceID       string                   `json:"service_id"`
	VersionSetName  string                   `json:"service_version_set_name"`
	PersonaID       string                   `json:"persona_id"`
	ScenarioID      string                   `json:"scenario_id"`
	MaxInteractions int                      `json:"max_interactions"`
	SuccessCriteria []store.SuccessCriterion `json:"success_criterions"`
	IsDeleted       bool                     `json:"is_deleted"`
	Tags            []store.Tag              `json:"tags"`
	Creator         userInfo                 `json:"creator"`
	UpdatedBy       userInfo                 `json:"updated_by"`
}

func unitTestOutOf(u store.SimulationUnitTest) unitTestOut {
	return unitTestOut{ID: u.ID, OrgID: u.OrgID, CreatedAt: apiTime(u.CreatedAt), UpdatedAt: apiTime(u.UpdatedAt),
		Name: u.Name, Description: u.Description, ServiceID: u.ServiceID, VersionSetName: u.VersionSetName,
		PersonaID: u.PersonaID, ScenarioID: u.ScenarioID, MaxInteractions: u.MaxInteractions,
		SuccessCriteria: u.SuccessCriteria, IsDeleted: u.IsDeleted, Tags: u.Tags,
		Creator:   userInfo{OrgID: u.Creator.OrgID, UserID: u.Creator.UserID},
		UpdatedBy: userInfo{OrgID: u.UpdatedBy.OrgID, UserID: u.UpdatedBy.UserID}}
}

// unitTestFilter reads the filters get-simulation-unit-tests and its
// search share.
func unitTestFilter(r *http.Request) (store.UnitTestFilter, error) {
	tags, err := tagFilters(r, "tag")
	if err != nil {
		return store.UnitTestFilter{}, err
	}
	creators, err := creatorFilters(r)
	if err != nil {
		return store.UnitTestFilter{}, err
	}
	return store.UnitTestFilter{ServiceIDs: queryStrings(r, "service_id"), PersonaIDs: queryStrings(r, "persona_id"),
		ScenarioIDs: queryStrings(r, "scenario_id"), MetricIDs: queryStrings(r, "metric_id"), Creators: creators,
		Tags: tags}, nil
}

func (s *Server) getUnitTests(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	f, err := unitTestFilter(r)
	if err != nil {
		return err
	}
	if f.Sort, err = sortKeys(r, store.ValidSimulationSortField); err != nil {
		return err
	}
	f.IDs, f.IsDeleted = queryStrings(r, "id"), queryBool(r, "is_deleted")
	all, err := s.store.ListSimulationUnitTests(ctx, state(ctx).org.ID, f)
	if err != nil {
		return err
	}
	simulationListing[store.SimulationUnitTest, unitTestOut]{perm: a.SimulationGetUnitTest, field: "simulation_unit_tests",
		out: unitTestOutOf, filterValues: unitTestFilterValues}.write(w, r, all)
	return nil
}

func unitTestFilterValues(all []store.SimulationUnitTest) map[string]any {
	one := func(get func(store.SimulationUnitTest) string) []string {
		return distinctStrings(all, func(u store.SimulationUnitTest) []string { return []string{get(u)} })
	}
	return map[string]any{
		"creators":     distinctCreators(all, func(u store.SimulationUnitTest) store.Actor { return u.Creator }),
		"tags":         distinctStrings(all, func(u store.SimulationUnitTest) []string { return tagKeys(u.Tags) }),
		"service_ids":  one(func(u store.SimulationUnitTest) string { return u.ServiceID }),
		"persona_ids":  one(func(u store.SimulationUnitTest) string { return u.PersonaID }),
		"scenario_ids": one(func(u store.SimulationUnitTest) string { return u.ScenarioID }),
		"metric_ids": distinctStrings(all, func(u store.SimulationUnitTest) []string {
			ids := make([]string, len(u.SuccessCriteria))
			for i, sc := range u.SuccessCriteria {
				ids[i] = sc.MetricID
			}
			return ids
		}),
	}
}

func (s *Server) searchUnitTests(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	f, err := unitTestFilter(r)
	if err != nil {
		return err
	}
	live := false
	f.IsDeleted = &live
	return writeSearch(w, r, a.SimulationGetUnitTest, "simulation_unit_tests",
		func(query string) ([]store.SimulationUnitTest, error) {
			return s.store.SearchSimulationUnitTests(ctx, state(ctx).org.ID, query, f)
		},
		func(u store.SimulationUnitTest) unitTestSearchOut { return unitTestSearchOut(unitTestOutOf(u)) })
}

type updateUnitTestRequest struct {
	Description     *string               `json:"description"`
	ServiceID       *string               `json:"service_id"`
	VersionSetName  *string               `json:"service_version_set_name"`
	PersonaID       *string               `json:"persona_id"`
	ScenarioID      *string               `json:"scenario_id"`
	MaxInteractions *int                  `json:"max_interactions"`
	SuccessCriteria *[]successCriterionIn `json:"success_criterions"`
	// RunCount is accepted and ignored: how often a unit test runs is its
	// set's to say (DECISIONS.md).
	RunCount *int                `json:"run_count"`
	Tags     *map[string]*string `json:"tags"`
}

// updateUnitTest changes what the request gives; null or absent leaves a
// field. The name never changes.
func (s *Server) updateUnitTest(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	id, err := idParam(r, "simulation_unit_test_id")
	if err != nil {
		return err
	}
	var req updateUnitTestRequest
	if err := decodeBody(r, &req); err != nil {
		return err
	}
	var fe faults
	var desc string
	if req.Description != nil {
		desc = fe.Stripped(*req.Description, "body", "description")
	}
	var criteria []store.SuccessCriterion
	var dup error
	if req.SuccessCriteria != nil {
		criteria, dup = successCriteria(&fe, *req.SuccessCriteria, "success_criterions")
	}
	if err := fe.Err(); err != nil {
		return err
	}
	if dup != nil {
		return dup
	}
	err = s.store.UpdateSimulationUnitTest(ctx, state(ctx).org.ID, id, actor(r), func(u *store.SimulationUnitTest) error {
		if req.Description != nil {
			u.Description = desc
		}
		for _, f := range []struct {
			from *string
			to   *string
		}{{req.ServiceID, &u.ServiceID}, {req.VersionSetName, &u.VersionSetName}, {req.PersonaID, &u.PersonaID},
			{req.ScenarioID, &u.ScenarioID}} {
			if f.from != nil {
				*f.to = *f.from
			}
		}
		if req.MaxInteractions != nil {
			u.MaxInteractions = *req.MaxInteractions
		}
		if req.SuccessCriteria != nil {
			u.SuccessCriteria = criteria
		}
		if req.Tags != nil {
			u.Tags = unitTestTags(*req.Tags)
		}
		return nil
	})
	if err != nil {
		return err
	}
	writeNoContent(w)
	return nil
}

func (s *Server) deleteUnitTest(w http.ResponseWriter, r *http.Request) error {
	return deleteByID(w, r, "simulation_unit_test_id", s.store.DeleteSimulationUnitTest)
}

// deleteByID deletes, with del, the record the path parameter param
// names, and answers 204.
func deleteByID(w http.ResponseWriter, r *http.Request, param string,
	del func(ctx context.Context, orgID, id string, by store.Actor) error) error {
	ctx := r.Context()
	id, err := idParam(r, param)
	if err != nil {
		return err
	}
	if err := del(ctx, state(ctx).org.ID, id, actor(r)); err != nil {
		return err
	}
	writeNoContent(w)
	return nil
}

// checkUnitTestRuns refuses a set that names a unit test twice (400): it
// would have two run counts.
func checkUnitTestRuns(in []store.UnitTestRun) error {
	seen := map[string]bool{}
	for _, r := range in {
		if seen[r.UnitTestID] {
			return badRequest("Unit test " + r.UnitTestID + " is given more than once; give it one run count.")
		}
		seen[r.UnitTestID] = true
	}
	return nil
}

type createUnitTestSetRequest struct {
	Name         string              `json:"name"`
	Description  *string             `json:"description"`
	UnitTestRuns []store.UnitTestRun `json:"unit_test_runs"`
	Tags         map[string]*string  `json:"tags"`
}

func (s *Server) createUnitTestSet(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	var req createUnitTestSetRequest
	if err := decodeBody(r, &req); err != nil {
		return err
	}
	var fe faults
	set := store.SimulationUnitTestSet{OrgID: state(ctx).org.ID, Name: fe.Stripped(req.Name, "body", "name"),
		UnitTestRuns: req.UnitTestRuns, Tags: unitTestTags(req.Tags), Creator: actor(r)}
	if req.Description != nil {
		d := fe.Stripped(*req.Description, "body", "description")
		set.Description = &d
	}
	if err := fe.Err(); err != nil {
		return err
	}
	if err := checkUnitTestRuns(set.UnitTestRuns); err != nil {
		return err
	}
	created, err := s.store.CreateSimulationUnitTestSet(ctx, set)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, map[string]string{"simulation_unit_test_set_id": created.ID})
	return nil
}

type unitTestSetOut struct {
	ID                 string              `json:"id"`
	OrgID              string              `json:"org_id"`
	CreatedAt          string              `json:"created_at"`
	UpdatedAt          string              `json:"updated_at"`
	Name               string              `json:"name"`
	Description        *string             `json:"description"`
	UnitTestRuns       []store.UnitTestRun `json:"unit_test_runs"`
	LastTriggeredRunID *string             `json:"last_triggered_run_id"`
	IsDeleted          bool                `json:"is_deleted"`
	Tags               []store.Tag         `json:"tags"`
	Creator            userInfo            `json:"creator"`
	UpdatedBy          userInfo            `json:"updated_by"`
}

// unitTestSetSearchOut is a set as search returns it, with its ID as _id.
type unitTestSetSearchOut struct {
	ID                 string              `json:"_id"`
	OrgID              string              `json:"org_id"`
	CreatedAt          string              `json:"created_at"`
	UpdatedAt          string              `json:"updated_at"`
	Name               string              `json:"name"`
	Description        *string             `json:"description"`
	UnitTestRuns       []store.UnitTestRun `json:"unit_test_runs"`
	LastTriggeredRunID *string             `json:"last_triggered_run_id"`
	IsDeleted          bool                `json:"is_deleted"`
	Tags               []store.Tag         `json:"tags"`
	Creator            userInfo            `json:"creator"`
	UpdatedBy          userInfo            `json:"updated_by"`
}

func unitTestSetOutOf(set store.SimulationUnitTestSet) unitTestSetOut {
	return unitTestSetOut{ID: set.ID, OrgID: set.OrgID, CreatedAt: apiTime(set.CreatedAt),
		UpdatedAt: apiTime(set.UpdatedAt), Name: set.Name, Description: set.Description, UnitTestRuns: set.UnitTestRuns,
		LastTriggeredRunID: set.LastTriggeredRunID, IsDeleted: set.IsDeleted, Tags: set.Tags,
		Creator:   userInfo{OrgID: set.Creator.OrgID, UserID: set.Creator.UserID},
		UpdatedBy: userInfo{OrgID: set.UpdatedBy.OrgID, UserID: set.UpdatedBy.UserID}}
}

func unitTestSetFilter(r *http.Request) (store.UnitTestSetFilter, error) {
	tags, err := tagFilters(r, "tag")
	if err != nil {
		return store.UnitTestSetFilter{}, err
	}
	creators, err := creatorFilters(r)
	if err != nil {
		return store.UnitTestSetFilter{}, err
	}
	return store.UnitTestSetFilter{UnitTestIDs: queryStrings(r, "unit_test_id"), Creators: creators, Tags: tags}, nil
}

func setUnitTestIDs(set store.SimulationUnitTestSet) []string {
	ids := make([]string, len(set.UnitTestRuns))
	for i, r := range set.UnitTestRuns {
		ids[i] = r.UnitTestID
	}
	return ids
}

func (s *Server) getUnitTestSets(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	f, err := unitTestSetFilter(r)
	if err != nil {
		return err
	}
	if f.Sort, err = sortKeys(r, store.ValidSimulationSortField); err != nil {
		return err
	}
	f.IDs, f.IsDeleted = queryStrings(r, "id"), queryBool(r, "is_deleted")
	all, err := s.store.ListSimulationUnitTestSets(ctx, state(ctx).org.ID, f)
	if err != nil {
		return err
	}
	simulationListing[store.SimulationUnitTestSet, unitTestSetOut]{perm: a.SimulationGetUnitTestSet,
		field: "simulation_unit_test_sets", out: unitTestSetOutOf,
		filterValues: func(all []store.SimulationUnitTestSet) map[string]any {
			return map[string]any{
				"creators":      distinctCreators(all, func(set store.SimulationUnitTestSet) store.Actor { return set.Creator }),
				"unit_test_ids": distinctStrings(all, setUnitTestIDs),
				"tags":          distinctStrings(all, func(set store.SimulationUnitTestSet) []string { return tagKeys(set.Tags) }),
			}
		}}.write(w, r, all)
	return nil
}

func (s *Server) searchUnitTestSets(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	f, err := unitTestSetFilter(r)
	if err != nil {
		return err
	}
	live := false
	f.IsDeleted = &live
	return writeSearch(w, r, a.SimulationGetUnitTestSet, "simulation_unit_test_sets",
		func(query string) ([]store.SimulationUnitTestSet, error) {
			return s.store.SearchSimulationUnitTestSets(ctx, state(ctx).org.ID, query, f)
		},
		func(set store.SimulationUnitTestSet) unitTestSetSearchOut {
			return unitTestSetSearchOut(unitTestSetOutOf(set))
		})
}

type updateUnitTestSetRequest struct {
	Name         *string              `json:"name"`
	Description  json.RawMessage      `json:"description"`
	UnitTestRuns *[]store.UnitTestRun `json:"unit_test_runs"`
	Tags         *map[string]*string  `json:"tags"`
}

func (s *Server) updateUnitTestSet(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	id, err := idParam(r, "simulation_unit_test_set_id")
	if err != nil {
		return err
	}
	var req updateUnitTestSetRequest
	if err := decodeBody(r, &req); err != nil {
		return err
	}
	var fe faults
	var name string
	if req.Name != nil {
		name = fe.Stripped(*req.Name, "body", "name")
	}
	setDesc, desc := notesChange(&fe, req.Description, "description")
	var runs []store.UnitTestRun
	if req.UnitTestRuns != nil {
		runs = *req.UnitTestRuns
	}
	if err := fe.Err(); err != nil {
		return err
	}
	if err := checkUnitTestRuns(runs); err != nil {
		return err
	}
	err = s.store.UpdateSimulationUnitTestSet(ctx, state(ctx).org.ID, id, actor(r), func(set *store.SimulationUnitTestSet) error {
		if req.Name != nil {
			set.Name = name
		}
		if setDesc {
			set.Description = desc
		}
		if req.UnitTestRuns != nil {
			set.UnitTestRuns = runs
		}
		if req.Tags != nil {
			set.Tags = unitTestTags(*req.Tags)
		}
		return nil
	})
	if err != nil {
		return err
	}
	writeNoContent(w)
	return nil
}

func (s *Server) deleteUnitTestSet(w http.ResponseWriter, r *http.Request) error {
	return deleteByID(w, r, "simulation_unit_test_set_id", s.store.DeleteSimulationUnitTestSet)
}
