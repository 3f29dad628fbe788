package httpapi

import (
	"encoding/json"
	"errors"
	"net/http"
	"time"

	a "github.com/compadre-dev/compadre/auth"
	"github.com/compadre-dev/compadre/simulate"
	"github.com/compadre-dev/compadre/store"
)

// artifactsURLLife is how long an artifacts URL works.
const artifactsURLLife = time.Hour

func runAttrs(run store.SimulationRun) a.Attributes {
	return a.Attributes{a.AttrOrgID: run.OrgID, a.AttrUserID: run.Creator.UserID}
}

type createRunRequest struct {
	SetID string `json:"simulation_unit_test_set_id"`
}

// createSimulationRun pins what a run of the set uses and queues its work;
// it answers at once, and the run's workers do the rest.
func (s *Server) createSimulationRun(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	st := state(ctx)
	var req createRunRequest
	if err := decodeBody(r, &req); err != nil {
		return err
	}
	set, err := s.store.GetSimulationUnitTestSet(ctx, st.org.ID, req.SetID)
	if err != nil {
		return err
	}
	if set.IsDeleted {
		return &store.RuleError{Refusal: store.Refusal{Rule: store.RuleRetired, Kind: store.KindUnitTestSet, ID: set.ID}}
	}
	specs, counts, err := simulate.Resolve(ctx, s.store, st.org.ID, st.principal.UserID, set)
	if err != nil {
		return err
	}
	raw, err := json.Marshal(specs)
	if err != nil {
		return err
	}
	run, err := s.store.CreateSimulationRun(ctx, store.SimulationRun{OrgID: st.org.ID, UnitTestSetID: set.ID,
		Creator: actor(r), Specs: raw}, counts)
	if err != nil {
		return err
	}
	s.runner.Wake()
	writeJSON(w, http.StatusCreated, map[string]string{"simulation_unit_test_set_run_id": run.ID})
	return nil
}

// runSpecOut is a unit test run spec as the reference shapes it.
type runSpecOut struct {
	UnitTestID          string                      `json:"unit_test_id"`
	RunCount            int                         `json:"run_count"`
	StateMachine        simulate.VersionInfo        `json:"service_hierarchical_state_machine_version_info"`
	Agent               simulate.VersionInfo        `json:"agent_version_info"`
	ScenarioVersion     *simulate.VersionInfo       `json:"scenario_version_info"`
	PersonaVersion      *simulate.VersionInfo       `json:"persona_version_info"`
	LLMModelPreferences map[string]store.LLMConfig  `json:"llm_model_preferences"`
	MaxInteractions     int                         `json:"max_interactions"`
	MetricsToEvaluate   []simulate.MetricToEvaluate `json:"metrics_to_evaluate"`
}

type runMetricResults struct {
	MetricID      string  `json:"metric_id"`
	MetricVersion int     `json:"metric_version"`
	Results       [][]any `json:"results"`
}

type runResultOut struct {
	UnitTestID              string             `json:"unit_test_id"`
	MetricEvaluationResults []runMetricResults `json:"metric_evaluation_results"`
	RunErrors               []*string          `json:"run_errors"`
}

type runInstance struct {
	OrgID              string          `json:"org_id"`
	ID                 string          `json:"id"`
	IsCompleted        bool            `json:"is_completed"`
	SetID              string          `json:"simulation_unit_test_set_id"`
	FailedMetrics      bool            `json:"failed_metrics"`
	Errored            bool            `json:"errored"`
	ArtifactsGenerated bool            `json:"artifacts_generated"`
	Specs              []runSpecOut    `json:"unit_test_run_specs"`
	Results            []*runResultOut `json:"unit_test_run_results"`
	CreatedAt          string          `json:"created_at"`
	Creator            userInfo        `json:"creator"`
}

// runOut shapes a run for the caller: specs and results only for a caller
// who may read the set, and the persona, scenario and metric details in
// them only for one who may read unit tests.
func runOut(run store.SimulationRun, specs []simulate.Spec, seeSet, seeUnitTests bool) runInstance {
	out := runInstance{OrgID: run.OrgID, ID: run.ID, IsCompleted: run.IsCompleted, SetID: run.UnitTestSetID,
		FailedMetrics: run.FailedMetrics, Errored: run.Errored, ArtifactsGenerated: run.ArtifactsGenerated,
		Specs: []runSpecOut{}, Results: []*runResultOut{}, CreatedAt: apiTime(run.CreatedAt),
		Creator: userInfo{OrgID: run.Creator.OrgID, UserID: run.Creator.UserID}}
	if !seeSet {
		return out
	}
	for i, sp := range specs {
		spec := runSpecOut{UnitTestID: sp.UnitTestID, RunCount: sp.RunCount, StateMachine: sp.StateMachine,
			Agent: sp.Agent, LLMModelPreferences: sp.LLMModelPreferences, MaxInteractions: sp.MaxInteractions,
			MetricsToEvaluate: []simulate.MetricToEvaluate{}}
		if seeUnitTests {
			spec.ScenarioVersion, spec.PersonaVersion, spec.MetricsToEvaluate = sp.ScenarioVersion, sp.PersonaVersion, sp.MetricsToEvaluate
		}
		out.Specs = append(out.Specs, spec)
		out.Results = append(out.Results, runResult(run, i, sp, seeUnitTests))
	}
	return out
}

// runResult is how the unit test of spec i has fared so far: null until
// one of its runs has finished, then its metrics' results run by run and
// each run's error (null while a run has not errored).
func runResult(run store.SimulationRun, i int, sp simulate.Spec, seeUnitTests bool) *runResultOut {
	res := &runResultOut{UnitTestID: sp.UnitTestID, MetricEvaluationResults: []runMetricResults{},
		RunErrors: make([]*string, sp.RunCount)}
	metrics := make([]runMetricResults, len(sp.MetricsToEvaluate))
	for k, m := range sp.MetricsToEvaluate {
		metrics[k] = runMetricResults{MetricID: m.MetricID, Results: [][]any{}}
	}
	finished := false
	for _, it := range run.Items {
		if it.SpecIndex != i || it.Status == store.ItemPending || it.Status == store.ItemRunning {
			continue
		}
		finished = true
		if it.RunIndex < len(res.RunErrors) {
			res.RunErrors[it.RunIndex] = it.Error
		}
		for k, c := range it.Criteria {
			if k < len(metrics) {
				metrics[k].MetricVersion = max(metrics[k].MetricVersion, c.MetricVersion)
				metrics[k].Results = append(metrics[k].Results, []any{c.ResultID, c.Passed})
			}
		}
	}
	if !finished {
		return nil
	}
	if seeUnitTests {
		res.MetricEvaluationResults = metrics
	}
	return res
}

// getSimulationRuns lists the runs the caller holds
// Simulation:GetSimulationUnitTestSetRun for, redacted by what else it
// may read.
func (s *Server) getSimulationRuns(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	st := state(ctx)
	creators, err := creatorFilters(r)
	if err != nil {
		return err
	}
	f := store.SimulationRunFilter{IDs: queryStrings(r, "id"), UnitTestSetIDs: queryStrings(r, "simulation_unit_test_set_id"),
		Creators: creators, IsCompleted: queryBool(r, "is_completed"), FailedMetrics: queryBool(r, "failed_metrics"),
		Errored: queryBool(r, "errored")}
	if f.Sort, err = sortKeys(r, store.ValidSimulationRunSortField); err != nil {
		return err
	}
	var fe faults
	f.CreatedAfter = queryTime(r, &fe, "created_after")
	f.CreatedBefore = queryTime(r, &fe, "created_before")
	if err := fe.Err(); err != nil {
		return err
	}
	all, err := s.store.ListSimulationRuns(ctx, st.org.ID, f)
	if err != nil {
		return err
	}
	grants := st.principal.Grants
	visible := []store.SimulationRun{}
	for _, run := range all {
		if a.Allowed(grants, a.SimulationGetUnitTestSetRun, runAttrs(run)) {
			visible = append(visible, run)
		}
	}
	offset := max(0, queryInt(r, "continuation_token"))
	runs, more := page(visible, offset, queryInt(r, "limit"))
	out := make([]runInstance, len(runs))
	for i, run := range runs {
		specs, err := simulate.Specs(run)
		if err != nil {
			return err
		}
		attrs := a.Attributes{a.AttrOrgID: run.OrgID}
		out[i] = runOut(run, specs, a.Allowed(grants, a.SimulationGetUnitTestSet, attrs),
			a.Allowed(grants, a.SimulationGetUnitTest, attrs))
	}
	var fv any
	if offset == 0 {
		creators, sets := []userInfo{}, []string{}
		seenCreator, seenSet := map[userInfo]bool{}, map[string]bool{}
		for _, run := range all {
			c := userInfo{OrgID: run.Creator.OrgID, UserID: run.Creator.UserID}
			if !seenCreator[c] {
				seenCreator[c] = true
				creators = append(creators, c)
			}
			if !seenSet[run.UnitTestSetID] {
				seenSet[run.UnitTestSetID] = true
				sets = append(sets, run.UnitTestSetID)
			}
		}
		// Runs have no tags; the reference's filter values list them anyway.
		fv = map[string]any{"creators": creators, "simulation_unit_test_set_ids": sets, "tags": []string{}}
	}
	writeJSON(w, http.StatusOK, map[string]any{"simulation_unit_test_set_runs": out, "has_more": more,
		"continuation_token": nextToken(offset, len(runs), more), "filter_values": fv})
	return nil
}

// loadRun finds the run named in the path.
func (s *Server) loadRun(r *http.Request) (store.SimulationRun, error) {
	id, err := idParam(r, "simulation_unit_test_set_run_id")
	if err != nil {
		return store.SimulationRun{}, err
	}
	return s.store.GetSimulationRun(r.Context(), state(r.Context()).org.ID, id)
}

// getSimulationRunArtifacts answers a URL Compadre serves the run's
// artifacts at, while it lasts. The caller needs to read the run and every
// state machine the run simulated.
func (s *Server) getSimulationRunArtifacts(w http.ResponseWriter, r *http.Request) error {
	st := state(r.Context())
	run, err := s.loadRun(r)
	if err != nil {
		return err
	}
	if err := st.allow(a.SimulationGetUnitTestSetRun, runAttrs(run)); err != nil {
		return err
	}
	specs, err := simulate.Specs(run)
	if err != nil {
		return err
	}
	checked := map[string]bool{}
	for _, sp := range specs {
		id, _ := sp.StateMachine[0].(string)
		if checked[id] {
			continue
		}
		checked[id] = true
		// A grant may name the state machine, which the spec does not
		// hold; one since removed (by a reset) is judged by its ID alone.
		attrs := a.Attributes{a.AttrOrgID: run.OrgID, a.AttrStateMachineID: id}
		m, err := s.store.GetStateMachine(r.Context(), run.OrgID, id)
		switch {
		case err == nil:
			attrs = stateMachineAttrs(m)
		case !errors.Is(err, store.ErrNotFound):
			return err
		}
		if err := st.allow(a.OrganizationGetStateMachine, attrs); err != nil {
			return err
		}
	}
	if !run.ArtifactsGenerated || run.ArtifactsBlobID == nil {
		return badRequest("The artifacts of this run are not yet available: the run has not completed.")
	}
	url, expires, err := s.blobURL(r, artifactsLabel, "/artifacts/", run.OrgID, *run.ArtifactsBlobID, artifactsURLLife)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]string{"presigned_url": url, "url_expires_at": apiTime(expires)})
	return nil
}

// cancelSimulationRun stops a run in progress.
func (s *Server) cancelSimulationRun(w http.ResponseWriter, r *http.Request) error {
	st := state(r.Context())
	run, err := s.loadRun(r)
	if err != nil {
		return err
	}
	if err := s.runner.Cancel(r.Context(), st.org.ID, run.ID, actor(r)); err != nil {
		return err
	}
	writeNoContent(w)
	return nil
}
