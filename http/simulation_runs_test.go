package httpapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/compadre-dev/compadre/compadretest"
	"github.com/compadre-dev/compadre/llm"
	"github.com/compadre-dev/compadre/simulate"
)

// simWorld is what a simulation needs, made through the API: a service
// whose context graph calls the probe tool when the user says "fetch" and
// ends when the user says goodbye, a persona, two scenarios (one that
// ends the conversation, one that never does), and two metrics the
// built-in judge decides by the words they quote.
type simWorld struct {
	probe, service               string
	persona, finish, chatter     string
	saidGoodbye, fetchedPoints   string
	passing, failing, overrunner string
}

// simGraph: start --goodbye--> end, with probe offered in start for
// messages saying "fetch".
func simGraph(probe string) map[string]any {
	exit := func(desc, next string) map[string]any { return map[string]any{"description": desc, "next_state": next} }
	start := stateMachineAction("start", "Help the user", exit("The user says goodbye", "end"))
	start["action_tool_call_specs"] = []any{toolCallSpec(probe, ">=1.0.0", "persisted-preferred", "Fetch the details.", 10)}
	g := stateMachineMinimal()
	g["states"] = []any{start, stateMachineAction("end", "Say goodbye")}
	g["terminal_state"] = "end"
	return g
}

func (c *client) simCreate(t testing.TB, path string, body map[string]any, idField string) string {
	t.Helper()
	status, resp := c.do("POST", path, body)
	mustStatus(t, "create "+path, status, http.StatusCreated, resp)
	return resp[idField].(string)
}

func newSimWorld(t testing.TB, srv *compadretest.Server, c *client) simWorld {
	t.Helper()
	var w simWorld
	w.probe = publishProbeTool(t, srv, c)
	w.service = c.talkingService(t, "simulated", simGraph(w.probe))
	w.persona = c.simCreate(t, "/simulation/persona/", map[string]any{
		"name": "Pat", "role": "customer", "tags": map[string]any{},
		"initial_version": map[string]any{"background": "A long-time customer.", "user_models": []any{"Likes short answers"},
			"nonsensitive_user_variables": map[string]any{"plan": "gold"}, "sensitive_user_variables": map[string]any{}},
	}, "simulation_persona_id")
	scenario := func(name, instructions string) string {
		return c.simCreate(t, "/simulation/scenario/", map[string]any{"name": name, "tags": map[string]any{},
			"initial_version": map[string]any{"objective": "Get the details", "instructions": instructions,
				"initial_message_type": "user-message", "conversation_starts_at": nil}}, "simulation_scenario_id")
	}
	// The built-in simulated user says one line of the instructions a turn.
	w.finish = scenario("fetch then leave", "fetch {\"mode\": true}\ngoodbye")
	w.chatter = scenario("never leaves", "tell me more")
	w.saidGoodbye = c.metricCreate(metricBody("said goodbye", metricValue("boolean")))
	status, body := c.do("POST", "/metric/"+w.saidGoodbye+"/version/", metricVersionBody(`Did the user say "goodbye"?`, metricValue("boolean")))
	mustStatus(t, "metric version", status, http.StatusCreated, body)
	w.fetchedPoints = c.metricCreate(metricBody("fetched", metricValue("numerical", "lower_bound", 0, "upper_bound", 10)))
	status, body = c.do("POST", "/metric/"+w.fetchedPoints+"/version/", metricVersionBody(`Ten when the user asked to "fetch".`,
		metricValue("numerical", "lower_bound", 0, "upper_bound", 10)))
	mustStatus(t, "metric version", status, http.StatusCreated, body)
	unitTest := func(name, scenario string, maxInteractions int, goodbye bool) string {
		return c.simCreate(t, "/simulation/unit_test/", map[string]any{
			"name": name, "description": "Unit test " + name, "service_id": w.service, "service_version_set_name": "release",
			"persona_id": w.persona, "scenario_id": scenario, "max_interactions": maxInteractions, "tags": map[string]any{},
			"success_criterions": []any{
				map[string]any{"name": "goodbye", "metric_id": w.saidGoodbye,
					"criterion": map[string]any{"type": "boolean", "expected_value": goodbye}},
				map[string]any{"name": "fetched", "metric_id": w.fetchedPoints,
					"criterion": map[string]any{"type": "numerical", "verb": ">=", "threshold": 5}},
			},
		}, "simulation_unit_test_id")
	}
	w.passing = unitTest("passes", w.finish, 5, true)
	w.failing = unitTest("fails on purpose", w.finish, 5, false)
	w.overrunner = unitTest("runs over", w.chatter, 2, true)
	return w
}

func (c *client) simSet(t testing.TB, name string, runs ...any) string {
	t.Helper()
	var utr []any
	for i := 0; i+1 < len(runs); i += 2 {
		utr = append(utr, map[string]any{"unit_test_id": runs[i], "run_count": runs[i+1]})
	}
	return c.simCreate(t, "/simulation/unit_test_set/", map[string]any{"name": name, "description": nil,
		"unit_test_runs": utr, "tags": map[string]any{}}, "simulation_unit_test_set_id")
}

func (c *client) simRun(t testing.TB, id string) map[string]any {
	t.Helper()
	status, body := c.do("GET", "/simulation/unit_test_set_run/?id="+id, nil)
	mustStatus(t, "get run", status, http.StatusOK, body)
	runs := behaviorItems(body, "simulation_unit_test_set_runs")
	if len(runs) != 1 {
		t.Fatalf("run %s: got %d runs", id, len(runs))
	}
	return runs[0]
}

// simAwait polls the run until it is completed. Runs are background work,
// so polling is how a client learns of the end too.
func (c *client) simAwait(t testing.TB, id string) map[string]any {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		run := c.simRun(t, id)
		if run["is_completed"] == true {
			return run
		}
		if time.Now().After(deadline) {
			t.Fatalf("run %s not completed: %v", id, mustJSONText(t, run))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// resultsOf returns the run's results by unit test ID.
func resultsOf(t testing.TB, run map[string]any) map[string]map[string]any {
	t.Helper()
	out := map[string]map[string]any{}
	for _, r := range run["unit_test_run_results"].([]any) {
		if r == nil {
			continue
		}
		m := r.(map[string]any)
		out[m["unit_test_id"].(string)] = m
	}
	return out
}

// passedOf lists, for each metric of a result, the passed flags of its
// runs in order.
func passedOf(res map[string]any) map[string][]bool {
	out := map[string][]bool{}
	for _, m := range res["metric_evaluation_results"].([]any) {
		mr := m.(map[string]any)
		for _, pair := range mr["results"].([]any) {
			p := pair.([]any)
			out[mr["metric_id"].(string)] = append(out[mr["metric_id"].(string)], p[1].(bool))
		}
	}
	return out
}

func TestSimulationRunCompletes(t *testing.T) {
	srv, c := newTestServer(t, compadretest.WithSandbox())
	w := newSimWorld(t, srv, c)
	setID := c.simSet(t, "nightly", w.passing, 2, w.failing, 1, w.overrunner, 1)
	runID := c.simCreate(t, "/simulation/unit_test_set_run/", map[string]any{"simulation_unit_test_set_id": setID},
		"simulation_unit_test_set_run_id")

	// The artifacts are not there until the run completes; the check may
	// race with a fast run, so only a 400 or a 200 is right.
	status, body := c.do("GET", "/simulation/unit_test_set_run/"+runID+"/artifacts/", nil)
	if status != http.StatusBadRequest && status != http.StatusOK {
		t.Fatalf("artifacts early: %d %v", status, body)
	}

	run := c.simAwait(t, runID)
	if run["failed_metrics"] != true || run["errored"] != true || run["artifacts_generated"] != true {
		t.Fatalf("run flags: %s", mustJSONText(t, run))
	}
	specs := run["unit_test_run_specs"].([]any)
	if len(specs) != 3 {
		t.Fatalf("specs: %s", mustJSONText(t, specs))
	}
	spec := specs[0].(map[string]any)
	if spec["unit_test_id"] != w.passing || spec["run_count"] != float64(2) || spec["max_interactions"] != float64(5) ||
		mustJSONText(t, spec["persona_version_info"]) != mustJSONText(t, []any{w.persona, 1}) ||
		mustJSONText(t, spec["scenario_version_info"]) != mustJSONText(t, []any{w.finish, 1}) ||
		len(spec["metrics_to_evaluate"].([]any)) != 2 {
		t.Errorf("spec of the passing unit test: %s", mustJSONText(t, spec))
	}
	results := resultsOf(t, run)
	pass := results[w.passing]
	if got := passedOf(pass); fmt.Sprint(got[w.saidGoodbye], got[w.fetchedPoints]) != "[true true] [true true]" {
		t.Errorf("passing unit test: %v in %s", got, mustJSONText(t, pass))
	}
	if errs := mustJSONText(t, pass["run_errors"]); errs != "[null,null]" {
		t.Errorf("passing unit test errors: %s", errs)
	}
	if got := passedOf(results[w.failing]); fmt.Sprint(got[w.saidGoodbye], got[w.fetchedPoints]) != "[false] [true]" {
		t.Errorf("failing unit test: %v", got)
	}
	over := results[w.overrunner]
	runErrors := over["run_errors"].([]any)
	if len(runErrors) != 1 || runErrors[0] == nil || !strings.Contains(runErrors[0].(string), "2 interactions") {
		t.Errorf("overrunning unit test errors: %v", runErrors)
	}
	// The overrun conversation was still judged: it never said goodbye.
	if got := passedOf(over); fmt.Sprint(got[w.saidGoodbye]) != "[false]" {
		t.Errorf("overrunning unit test: %v", got)
	}

	t.Run("tools see the simulation and are listed by run", func(t *testing.T) {
		status, body := c.do("GET", "/tool/invocation?simulation_unit_test_set_run_id="+runID, nil)
		mustStatus(t, "invocations", status, http.StatusOK, body)
		invs := behaviorItems(body, "tool_invocations")
		// Three conversations said fetch; the one that ran over never did.
		if len(invs) != 3 {
			t.Fatalf("got %d invocations: %s", len(invs), mustJSONText(t, body))
		}
		for _, inv := range invs {
			src := inv["invocation_source"].(map[string]any)
			if src["type"] != "simulation-conversation" || src["simulation_unit_test_set_run_id"] != runID ||
				(src["unit_test_id"] != w.passing && src["unit_test_id"] != w.failing) {
				t.Errorf("invocation source: %s", mustJSONText(t, src))
			}
			if !strings.Contains(mustJSONText(t, inv["invocation_status"]), "conversation-simulation") {
				t.Errorf("the tool did not see the simulation mode: %s", mustJSONText(t, inv))
			}
		}
	})

	t.Run("metric results carry the simulation source", func(t *testing.T) {
		status, body := c.do("GET", "/metric/metric_evaluation_result?simulation_unit_test_set_run_id="+runID, nil)
		mustStatus(t, "results", status, http.StatusOK, body)
		results := behaviorItems(body, "metric_evaluation_results")
		if len(results) != 8 {
			t.Fatalf("got %d results, want 4 runs x 2 metrics", len(results))
		}
		for _, r := range results {
			if src := r["source"].(map[string]any); src["type"] != "simulation" || src["simulation_unit_test_set_run_id"] != runID {
				t.Errorf("source: %s", mustJSONText(t, src))
			}
		}
	})

	t.Run("simulated conversations are not listed", func(t *testing.T) {
		status, body := c.do("GET", "/conversation/", nil)
		mustStatus(t, "conversations", status, http.StatusOK, body)
		if n := len(behaviorItems(body, "conversations")); n != 0 {
			t.Errorf("listed %d conversations", n)
		}
	})

	t.Run("artifacts", func(t *testing.T) {
		status, body := c.do("GET", "/simulation/unit_test_set_run/"+runID+"/artifacts/", nil)
		mustStatus(t, "artifacts", status, http.StatusOK, body)
		url, _ := body["presigned_url"].(string)
		if !strings.HasPrefix(url, srv.BaseURL+"/artifacts/") || body["url_expires_at"] == nil {
			t.Fatalf("artifacts answer: %v", body)
		}
		// The link needs no credentials.
		resp, err := http.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("download: %d %s", resp.StatusCode, raw)
		}
		var doc simulate.Artifacts
		if err := json.Unmarshal(raw, &doc); err != nil {
			t.Fatal(err)
		}
		if doc.Format != simulate.ArtifactsFormat || doc.RunID != runID || len(doc.UnitTests) != 3 ||
			!doc.FailedMetrics || !doc.Errored || doc.Cancelled {
			t.Fatalf("artifacts: %s", raw)
		}
		ut := doc.UnitTests[0]
		if ut.UnitTestID != w.passing || len(ut.Runs) != 2 {
			t.Fatalf("first unit test: %s", mustJSONText(t, ut))
		}
		r0 := ut.Runs[0]
		transcript := mustJSONText(t, r0.Transcript)
		if r0.ConversationID == nil || !strings.Contains(transcript, "goodbye") || !strings.Contains(transcript, "fetch") {
			t.Errorf("transcript: %s", transcript)
		}
		if len(r0.ToolCalls) != 1 || !strings.Contains(mustJSONText(t, r0.ToolCalls[0]), "conversation-simulation") {
			t.Errorf("tool calls: %s", mustJSONText(t, r0.ToolCalls))
		}
		if len(r0.MetricResults) != 2 || !strings.Contains(mustJSONText(t, r0.MetricResults), "justification") {
			t.Errorf("metric results: %s", mustJSONText(t, r0.MetricResults))
		}
		// A tampered link is refused.
		resp, err = http.Get(url + "x")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("tampered link: %d", resp.StatusCode)
		}
	})

	t.Run("what a reader sees depends on what else it may read", func(t *testing.T) {
		reader := func(name string, perms ...string) *client {
			var grants []map[string]any
			for _, p := range perms {
				grants = append(grants, grant(p, map[string]any{}))
			}
			c.newRole(name, grants...)
			return c.keyFor(c.newUser(strings.ToLower(name)+"@example.com", name), name)
		}
		const runs, sets, tests = "Simulation:GetSimulationUnitTestSetRun", "Simulation:GetSimulationUnitTestSet",
			"Simulation:GetSimulationUnitTest"
		status, body := reader("NoRuns", sets, tests).do("GET", "/simulation/unit_test_set_run/", nil)
		mustStatus(t, "list without the run permission", status, http.StatusOK, body)
		if n := len(behaviorItems(body, "simulation_unit_test_set_runs")); n != 0 {
			t.Errorf("a caller without %s sees %d runs", runs, n)
		}

		only := reader("RunsOnly", runs).simRun(t, runID)
		if len(only["unit_test_run_specs"].([]any)) != 0 || len(only["unit_test_run_results"].([]any)) != 0 ||
			only["failed_metrics"] != true {
			t.Errorf("without %s: %s", sets, mustJSONText(t, only))
		}

		noTests := reader("RunsAndSets", runs, sets).simRun(t, runID)
		spec := noTests["unit_test_run_specs"].([]any)[0].(map[string]any)
		if spec["persona_version_info"] != nil || spec["scenario_version_info"] != nil ||
			len(spec["metrics_to_evaluate"].([]any)) != 0 || spec["agent_version_info"] == nil {
			t.Errorf("spec without %s: %s", tests, mustJSONText(t, spec))
		}
		res := resultsOf(t, noTests)[w.overrunner]
		if len(res["metric_evaluation_results"].([]any)) != 0 || len(res["run_errors"].([]any)) != 1 {
			t.Errorf("result without %s: %s", tests, mustJSONText(t, res))
		}

		everything := reader("RunsSetsTests", runs, sets, tests).simRun(t, runID)
		if mustJSONText(t, everything) != mustJSONText(t, run) {
			t.Errorf("a caller with every permission sees %s, want %s", mustJSONText(t, everything), mustJSONText(t, run))
		}

		// The artifacts hold the state machine's content too.
		status, body = reader("RunsNoGraphs", runs, sets, tests).do("GET", "/simulation/unit_test_set_run/"+runID+"/artifacts/", nil)
		mustStatus(t, "artifacts without the state machine permission", status, http.StatusForbidden, body)
		// A grant on the state machine may name it: the run's state
		// machine is "simulated" (newSimWorld).
		for _, tc := range []struct {
			role, name string
			want       int
		}{{"GraphByName", "simulated", http.StatusOK}, {"OtherGraphByName", "another", http.StatusForbidden}} {
			grants := []map[string]any{grant(runs, nil), grant(sets, nil), grant(tests, nil),
				grant("Organization:GetServiceHierarchicalStateMachine", map[string]any{"name": equals(tc.name)})}
			c.newRole(tc.role, grants...)
			byName := c.keyFor(c.newUser(strings.ToLower(tc.role)+"@example.com", tc.role), tc.role)
			status, body = byName.do("GET", "/simulation/unit_test_set_run/"+runID+"/artifacts/", nil)
			mustStatus(t, "artifacts with the state machine granted by the name "+tc.name, status, tc.want, body)
		}
	})

	t.Run("a completed run cannot be cancelled", func(t *testing.T) {
		status, body := c.do("DELETE", "/simulation/unit_test_set_run/"+runID+"/", nil)
		mustStatus(t, "cancel completed", status, http.StatusConflict, body)
	})

	t.Run("a new run pins the latest persona and scenario versions", func(t *testing.T) {
		status, body := c.do("POST", "/simulation/persona/"+w.persona+"/version/", map[string]any{
			"background": "A new customer.", "user_models": []any{}, "nonsensitive_user_variables": map[string]any{},
			"sensitive_user_variables": map[string]any{}})
		mustStatus(t, "persona version", status, http.StatusCreated, body)
		status, body = c.do("POST", "/simulation/scenario/"+w.finish+"/version/", map[string]any{
			"objective": "Leave at once", "instructions": "goodbye", "initial_message_type": "user-message",
			"conversation_starts_at": "2026-01-02T03:04:05Z"})
		mustStatus(t, "scenario version", status, http.StatusCreated, body)
		id := c.simCreate(t, "/simulation/unit_test_set_run/", map[string]any{
			"simulation_unit_test_set_id": c.simSet(t, "latest", w.passing, 1)}, "simulation_unit_test_set_run_id")
		later := c.simAwait(t, id)
		spec := later["unit_test_run_specs"].([]any)[0].(map[string]any)
		if mustJSONText(t, spec["persona_version_info"]) != mustJSONText(t, []any{w.persona, 2}) ||
			mustJSONText(t, spec["scenario_version_info"]) != mustJSONText(t, []any{w.finish, 2}) {
			t.Errorf("spec of the later run: %s", mustJSONText(t, spec))
		}
		// The new scenario says goodbye at once: no fetch, so the numerical
		// criterion fails; and the conversation starts when it says.
		if got := passedOf(resultsOf(t, later)[w.passing]); fmt.Sprint(got[w.saidGoodbye], got[w.fetchedPoints]) != "[true] [false]" {
			t.Errorf("results of the later run: %v", got)
		}
		status, body = c.do("GET", "/simulation/unit_test_set_run/"+id+"/artifacts/", nil)
		mustStatus(t, "artifacts", status, http.StatusOK, body)
		resp, err := http.Get(body["presigned_url"].(string))
		if err != nil {
			t.Fatal(err)
		}
		var doc simulate.Artifacts
		err = json.NewDecoder(resp.Body).Decode(&doc)
		resp.Body.Close()
		if err != nil || len(doc.UnitTests) != 1 || len(doc.UnitTests[0].Runs) != 1 ||
			len(doc.UnitTests[0].Runs[0].Transcript) == 0 {
			t.Fatalf("the later run's artifacts: %v %s", err, mustJSONText(t, doc.UnitTests))
		}
		// The conversation's clock starts at the scenario's time and runs
		// on from there: its messages are of that day, not today.
		starts := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
		for _, m := range doc.UnitTests[0].Runs[0].Transcript {
			if m.CreatedAt.Before(starts) || m.CreatedAt.After(starts.Add(time.Hour)) {
				t.Errorf("message at %v, want just after %v", m.CreatedAt, starts)
			}
		}
	})

	t.Run("a deleted unit test cannot start a new run", func(t *testing.T) {
		other := c.simSet(t, "doomed", w.failing, 1)
		status, body := c.do("DELETE", "/simulation/unit_test_set/"+other, nil)
		mustStatus(t, "delete set", status, http.StatusNoContent, body)
		status, body = c.do("POST", "/simulation/unit_test_set_run/", map[string]any{"simulation_unit_test_set_id": other})
		mustStatus(t, "run a deleted set", status, http.StatusBadRequest, body)
		status, body = c.do("POST", "/simulation/unit_test_set_run/", map[string]any{"simulation_unit_test_set_id": "0123456789abcdef01234567"})
		mustStatus(t, "run a missing set", status, http.StatusNotFound, body)
	})
}

// gatedUser is the built-in model, except that a simulated user's turn
// waits until the gate opens, so a test can act on a run mid-way.
type gatedUser struct {
	llm.Builtin
	entered chan struct{}
	gate    chan struct{}
	once    sync.Once
	// free is how many turns pass before the gate applies.
	free atomic.Int32
}

func newGatedUser() *gatedUser {
	return &gatedUser{entered: make(chan struct{}, 100), gate: make(chan struct{})}
}

func (g *gatedUser) Complete(ctx context.Context, c llm.Call) (llm.Answer, error) {
	if c.Purpose == simulate.PurposeSimulateUser && g.free.Add(-1) < 0 {
		select {
		case g.entered <- struct{}{}:
		default:
		}
		select {
		case <-g.gate:
		case <-ctx.Done():
			return llm.Answer{}, ctx.Err()
		}
	}
	return g.Builtin.Complete(ctx, c)
}

func (g *gatedUser) open() { g.once.Do(func() { close(g.gate) }) }

// gatedRun starts a run of the passing unit test, count times, with the
// simulated user held at the gate, and returns once its first turn waits
// there.
func gatedRun(t *testing.T, count int) (*gatedUser, *compadretest.Server, *client, simWorld, string, string) {
	t.Helper()
	model := newGatedUser()
	t.Cleanup(model.open)
	srv, c := newTestServer(t, compadretest.WithSandbox(), compadretest.WithModel(model))
	w := newSimWorld(t, srv, c)
	setID := c.simSet(t, "gated", w.passing, count)
	runID := c.simCreate(t, "/simulation/unit_test_set_run/", map[string]any{"simulation_unit_test_set_id": setID},
		"simulation_unit_test_set_run_id")
	select {
	case <-model.entered:
	case <-time.After(time.Minute):
		t.Fatal("the run never started")
	}
	return model, srv, c, w, setID, runID
}

func TestSimulationRunCancel(t *testing.T) {
	model, _, c, w, setID, runID := gatedRun(t, 3)

	// One unfinished run per user per set.
	status, body := c.do("POST", "/simulation/unit_test_set_run/", map[string]any{"simulation_unit_test_set_id": setID})
	mustStatus(t, "second run", status, http.StatusConflict, body)
	status, body = c.do("GET", "/simulation/unit_test_set_run/"+runID+"/artifacts/", nil)
	mustStatus(t, "artifacts before completion", status, http.StatusBadRequest, body)
	if run := c.simRun(t, runID); run["is_completed"] != false {
		t.Fatalf("run before cancel: %s", mustJSONText(t, run))
	}

	status, body = c.do("DELETE", "/simulation/unit_test_set_run/"+runID+"/", nil)
	mustStatus(t, "cancel", status, http.StatusNoContent, body)
	// The simulated user waiting at the gate is stopped, not let through.
	run := c.simAwait(t, runID)
	if run["errored"] != true || run["artifacts_generated"] != true {
		t.Fatalf("cancelled run: %s", mustJSONText(t, run))
	}
	errs := resultsOf(t, run)[w.passing]["run_errors"].([]any)
	if len(errs) != 3 {
		t.Fatalf("run errors: %v", errs)
	}
	for i, e := range errs {
		if e == nil || !strings.Contains(e.(string), "cancelled") {
			t.Errorf("run %d error: %v", i, e)
		}
	}
	status, body = c.do("DELETE", "/simulation/unit_test_set_run/"+runID+"/", nil)
	mustStatus(t, "cancel again", status, http.StatusConflict, body)
	status, body = c.do("DELETE", "/simulation/unit_test_set_run/0123456789abcdef01234567/", nil)
	mustStatus(t, "cancel missing", status, http.StatusNotFound, body)

	// With the earlier run finished, the set can run again.
	model.open()
	again := c.simCreate(t, "/simulation/unit_test_set_run/", map[string]any{"simulation_unit_test_set_id": setID},
		"simulation_unit_test_set_run_id")
	if run := c.simAwait(t, again); run["errored"] != false || run["failed_metrics"] != false {
		t.Errorf("second run: %s", mustJSONText(t, run))
	}
	status, body = c.do("GET", "/simulation/unit_test_set/?id="+setID, nil)
	mustStatus(t, "set", status, http.StatusOK, body)
	if got := behaviorItems(body, "simulation_unit_test_sets")[0]["last_triggered_run_id"]; got != again {
		t.Errorf("last_triggered_run_id %v, want %s", got, again)
	}
}

// A run interrupted by a shutdown goes on after the restart: the item that
// was running is run again from its start, and the run completes as if
// nothing had happened.
func TestSimulationRunSurvivesRestart(t *testing.T) {
	_, srv, _, w, _, runID := gatedRun(t, 2)
	srv.Stop()

	again := compadretest.Start(t, compadretest.WithDataDir(srv.DataDir), compadretest.WithSandbox())
	c2 := &client{t: t, base: again.BaseURL, org: again.Organization}
	c2.token = c2.signIn(srv.APIKey, srv.APIKeyID, srv.UserID)
	run := c2.simAwait(t, runID)
	if run["errored"] != false || run["failed_metrics"] != false || run["artifacts_generated"] != true {
		t.Fatalf("run after restart: %s", mustJSONText(t, run))
	}
	res := resultsOf(t, run)[w.passing]
	if got := passedOf(res); fmt.Sprint(got[w.saidGoodbye], got[w.fetchedPoints]) != "[true true] [true true]" {
		t.Errorf("results after restart: %s", mustJSONText(t, res))
	}
}

// failed_metrics turns true as soon as one run of a unit test fails a
// criterion, while the others still run.
func TestSimulationRunFailsEarly(t *testing.T) {
	model := newGatedUser()
	// The failing unit test's two turns pass; the next unit test's first
	// waits at the gate.
	model.free.Store(2)
	t.Cleanup(model.open)
	srv, c := newTestServer(t, compadretest.WithSandbox(), compadretest.WithModel(model),
		compadretest.WithSimulationWorkers(1))
	w := newSimWorld(t, srv, c)
	runID := c.simCreate(t, "/simulation/unit_test_set_run/", map[string]any{
		"simulation_unit_test_set_id": c.simSet(t, "early", w.failing, 1, w.passing, 1)}, "simulation_unit_test_set_run_id")
	select {
	case <-model.entered:
	case <-time.After(time.Minute):
		t.Fatal("the second unit test never started")
	}
	run := c.simRun(t, runID)
	if run["failed_metrics"] != true || run["is_completed"] != false || run["artifacts_generated"] != false {
		t.Fatalf("mid-way: %s", mustJSONText(t, run))
	}
	if got := passedOf(resultsOf(t, run)[w.failing]); fmt.Sprint(got[w.saidGoodbye]) != "[false]" {
		t.Errorf("the finished unit test's results mid-way: %v", got)
	}
	model.open()
	if run := c.simAwait(t, runID); run["failed_metrics"] != true || run["errored"] != false {
		t.Errorf("completed: %s", mustJSONText(t, run))
	}
}
