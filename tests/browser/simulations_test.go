package browser_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/compadre-dev/compadre/app"
	"github.com/compadre-dev/compadre/compadretest"
	"github.com/compadre-dev/compadre/llm"
	"github.com/compadre-dev/compadre/simulate"
)

// simsSeed is what the simulations test makes through the API: a service
// whose context graph ends when the user says goodbye, a metric the
// built-in judge decides by the word it quotes, and two unit tests of one
// scenario, one expecting the goodbye (it passes) and one not (it fails).
type simsSeed struct {
	metric, persona, scenario string
	passing, failing, set     string
	run                       string
}

const simsJustification = `The conversation contains 1 of the 1 terms looked for. Found: "goodbye".`

func simsCreate(a *api, path string, body map[string]any, idField string) string {
	a.t.Helper()
	var out map[string]any
	a.call("POST", path, body, http.StatusCreated, &out)
	id, _ := out[idField].(string)
	if id == "" {
		a.t.Fatalf("POST %s: no %s in %v", path, idField, out)
	}
	return id
}

// simsService creates an agent, a context graph (start --goodbye--> end)
// and a service using both.
func simsService(a *api) string {
	agent := simsCreate(a, "/organization/agent", map[string]any{"agent_name": "Amy"}, "id")
	a.call("POST", "/organization/agent/"+agent+"/", agentVersion(), http.StatusCreated, nil)
	const graphs = "/organization/service_hierarchical_state_machine"
	graph := simsCreate(a, graphs, map[string]any{"state_machine_name": "goodbye"}, "id")
	a.call("POST", graphs+"/"+graph+"/", map[string]any{
		"description": "Help, then goodbye.",
		"states": []any{
			actionState("start", "Help the user", exitTo("The user says goodbye", "end")),
			actionState("end", "Say goodbye"),
		},
		"new_user_initial_state": "start", "returning_user_initial_state": "start", "terminal_state": "end",
		"references": map[string]any{}, "global_intra_state_navigation_guidelines": []any{},
		"global_action_guidelines": []any{}, "global_boundary_constraints": []any{},
	}, http.StatusCreated, nil)
	return simsCreate(a, "/service/", map[string]any{
		"name": "Support", "description": "Support", "is_active": true, "agent_id": agent,
		"service_hierarchical_state_machine_id": graph, "keyterms": []any{}, "tags": map[string]any{},
	}, "id")
}

// simsWorld seeds everything a run needs and starts a run of the set.
func simsWorld(t *testing.T, a *api) simsSeed {
	t.Helper()
	var w simsSeed
	service := simsService(a)
	w.metric = simsCreate(a, "/metric/", map[string]any{
		"name": "Said goodbye", "applied_to_services": []any{}, "additional_notes": nil, "tags": map[string]any{},
		"initial_version_metric_value": map[string]any{"description": `Did the user say "goodbye"?`,
			"metric_value": map[string]any{"type": "boolean"}},
	}, "id")
	w.persona = simsCreate(a, "/simulation/persona/", map[string]any{
		"name": "Pat", "role": "customer", "tags": map[string]any{},
		"initial_version": map[string]any{"background": "A long-time customer.", "user_models": []any{},
			"nonsensitive_user_variables": map[string]any{}, "sensitive_user_variables": map[string]any{}},
	}, "simulation_persona_id")
	// The built-in simulated user says one line a turn.
	w.scenario = simsCreate(a, "/simulation/scenario/", map[string]any{"name": "Greet and leave", "tags": map[string]any{},
		"initial_version": map[string]any{"objective": "Say hello, then leave", "instructions": "Hello there\ngoodbye",
			"initial_message_type": "user-message", "conversation_starts_at": nil}}, "simulation_scenario_id")
	unitTest := func(name string, goodbye bool) string {
		return simsCreate(a, "/simulation/unit_test/", map[string]any{
			"name": name, "description": "Unit test " + name, "service_id": service, "service_version_set_name": "release",
			"persona_id": w.persona, "scenario_id": w.scenario, "max_interactions": 5, "tags": map[string]any{},
			"success_criterions": []any{map[string]any{"name": "goodbye", "metric_id": w.metric,
				"criterion": map[string]any{"type": "boolean", "expected_value": goodbye}}},
		}, "simulation_unit_test_id")
	}
	w.passing = unitTest("Leaves politely", true)
	w.failing = unitTest("Never says goodbye", false)
	w.set = simsCreate(a, "/simulation/unit_test_set/", map[string]any{"name": "Nightly", "description": nil, "tags": map[string]any{},
		"unit_test_runs": []any{
			map[string]any{"unit_test_id": w.passing, "run_count": 1},
			map[string]any{"unit_test_id": w.failing, "run_count": 1},
		}}, "simulation_unit_test_set_id")
	w.run = simsCreate(a, "/simulation/unit_test_set_run/", map[string]any{"simulation_unit_test_set_id": w.set},
		"simulation_unit_test_set_run_id")
	return w
}

type simsRunState struct {
	IsCompleted   bool `json:"is_completed"`
	FailedMetrics bool `json:"failed_metrics"`
	Errored       bool `json:"errored"`
}

// simsAwait waits, through the API, for the run in the background to end.
func simsAwait(t *testing.T, a *api, run string) simsRunState {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		var out struct {
			Runs []simsRunState `json:"simulation_unit_test_set_runs"`
		}
		a.call("GET", "/simulation/unit_test_set_run/?id="+run, nil, http.StatusOK, &out)
		if len(out.Runs) == 1 && out.Runs[0].IsCompleted {
			return out.Runs[0]
		}
		if time.Now().After(deadline) {
			t.Fatalf("run %s not completed: %+v", run, out)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestSimulationsRunAndMetric(t *testing.T) {
	srv := compadretest.Start(t)
	a := newAPI(t, srv)
	w := simsWorld(t, a)
	if got := simsAwait(t, a, w.run); !got.FailedMetrics || got.Errored {
		t.Fatalf("run ended %+v, want failed metrics and no error", got)
	}

	b := newBrowser(t, srv, 1280, 900)
	b.signIn(srv.Credentials)
	b.visit("#/simulations")
	b.waitText("main h1", "Simulations")
	b.waitGone("main .loading")
	runLink := fmt.Sprintf(`main a[href="#/simulations/runs/%s"]`, w.run)
	if n := b.count(runLink); n != 1 {
		t.Fatalf("%d links to the run in the list", n)
	}
	row := b.text("main tbody tr")
	for _, want := range []string{"Nightly", "failed", "1 passed, 1 failed"} {
		if !strings.Contains(row, want) {
			t.Errorf("the run's row %q lacks %q", row, want)
		}
	}
	b.screenshot("simulations")

	// The other tabs list what the run is made of.
	b.run(chromedp.Click(`.tabs a[href="#/simulations?tab=unit-tests"]`, chromedp.ByQuery))
	b.waitText("main tbody", "Never says goodbye")
	if n := b.count("main tbody tr"); n != 2 {
		t.Errorf("%d unit tests listed, want 2", n)
	}
	b.run(chromedp.Click(`.tabs a[href="#/simulations?tab=personas"]`, chromedp.ByQuery))
	b.waitText("main tbody", "Pat")

	// The run: each unit test with its criterion's result and justification.
	b.visit("#/simulations")
	b.waitGone("main .loading")
	b.run(chromedp.Click(runLink, chromedp.ByQuery))
	b.waitText("main h1", "Simulation run")
	b.waitGone("main .loading")
	b.waitText("main .sim-units", "Leaves politely")
	tests := []struct {
		unit, verdict string
		failed        bool
	}{
		{"Leaves politely", "pass", false},
		{"Never says goodbye", "fail", true},
	}
	var units []struct {
		Title         string `json:"title"`
		Verdict       string `json:"verdict"`
		Justification string `json:"justification"`
		Value         string `json:"value"`
		Failed        bool   `json:"failed"`
		Conversations int    `json:"conversations"`
		Metric        string `json:"metric"`
	}
	b.eval(`[...document.querySelectorAll(".sim-unit")].map(u => ({
		title: u.querySelector("h3").textContent,
		verdict: u.querySelector(".sim-result .badge").textContent,
		justification: u.querySelector(".sim-result .justification").textContent,
		value: u.querySelector(".sim-value strong").textContent,
		failed: u.querySelector(".sim-result").classList.contains("failed"),
		conversations: u.querySelectorAll('a[href^="#/conversations/"]').length,
		metric: u.querySelector('.sim-result a[href^="#/metrics/"]').getAttribute("href"),
	}))`, &units)
	if len(units) != len(tests) {
		t.Fatalf("%d unit tests shown, want %d: %+v", len(units), len(tests), units)
	}
	for i, tc := range tests {
		u := units[i]
		if !strings.HasPrefix(u.Title, tc.unit) || u.Verdict != tc.verdict || u.Failed != tc.failed ||
			u.Justification != simsJustification || u.Value != "true" || u.Conversations != 1 || u.Metric != "#/metrics/"+w.metric {
			t.Errorf("unit test %d: got %+v, want %s %s (failed %v)", i, u, tc.unit, tc.verdict, tc.failed)
		}
	}
	if n := b.count("main button.danger"); n != 0 {
		t.Errorf("a completed run offers %d cancel buttons", n)
	}
	b.screenshot("simulation-run")

	// Narrow: the same page, read on a phone.
	b.run(chromedp.EmulateViewport(420, 860))
	b.waitText("main .sim-units", "Never says goodbye")
	b.screenshot("simulation-run-narrow")
	b.run(chromedp.EmulateViewport(1280, 900))

	// The metric: its version and its two results from the run.
	b.run(chromedp.Click(`.sim-result a[href="#/metrics/`+w.metric+`"]`, chromedp.ByQuery))
	b.waitText("main h1", "Said goodbye")
	b.waitGone("main .loading")
	results := simsRows(b, "Recent results")
	if len(results) != 2 {
		t.Fatalf("%d results on the metric's page, want 2: %q", len(results), results)
	}
	for _, r := range results {
		if !strings.Contains(r, simsJustification) || !strings.Contains(r, "Simulation run") {
			t.Errorf("result row %q lacks the justification or the run", r)
		}
	}
	if n := b.count(fmt.Sprintf(`main a[href="#/simulations/runs/%s"]`, w.run)); n != 2 {
		t.Errorf("%d links back to the run, want 2", n)
	}
	if v := simsRows(b, "Versions"); len(v) != 1 || !strings.Contains(v[0], `Did the user say "goodbye"?`) {
		t.Errorf("versions: %q", v)
	}
	b.screenshot("metric")

	// A simulated conversation is never listed by get-conversations, but
	// its page still shows its transcript, and says why the summary is
	// missing.
	b.visit("#/simulations/runs/" + w.run)
	b.waitGone("main .loading")
	b.run(chromedp.Click(`.sim-unit a[href^="#/conversations/"]`, chromedp.ByQuery))
	b.waitFor(`document.querySelectorAll("main .transcript .msg").length > 0`)
	b.waitText("main", "simulated")

	// A reader of runs, sets and unit tests but not of metrics nor of
	// context graphs: the verdicts show, the rest says what it needs.
	reader := simsReader(t, a, srv, "Simulation:GetSimulationUnitTestSetRun", "Simulation:GetSimulationUnitTestSet",
		"Simulation:GetSimulationUnitTest")
	rb := newBrowser(t, srv, 1280, 900)
	rb.allow(http.StatusForbidden, "/artifacts/")
	rb.signIn(reader)
	rb.visit("#/simulations/runs/" + w.run)
	rb.waitText("main .sim-units", "Never says goodbye")
	rb.waitGone("main .loading")
	var verdicts []string
	rb.eval(`[...document.querySelectorAll(".sim-result .badge")].map(e => e.textContent)`, &verdicts)
	if fmt.Sprint(verdicts) != "[pass fail]" {
		t.Errorf("verdicts for a reader: %v", verdicts)
	}
	v := rb.text("main .sim-units")
	for _, want := range []string{"Metric:GetMetricEvaluationResult", "Your role does not allow this: it needs Organization:GetServiceHierarchicalStateMachine"} {
		if !strings.Contains(v, want) {
			t.Errorf("a reader without the metric and graph permissions is not told %q: %q", want, v)
		}
	}
	if strings.Contains(v, simsJustification) {
		t.Errorf("a reader without the metric permission sees the justification: %q", v)
	}
	rb.screenshot("simulation-run-reader")
}

// simsReader makes a role with perms, a user holding it and an API key,
// and answers the credentials to sign in with.
func simsReader(t *testing.T, a *api, srv *compadretest.Server, perms ...string) app.Credentials {
	t.Helper()
	var grants []map[string]any
	for _, p := range perms {
		grants = append(grants, map[string]any{"permission_name": p, "conditions": map[string]any{}})
	}
	a.call("POST", "/role/", map[string]any{"role_name": "SimReader", "description": "Reads simulation runs",
		"permission_grants": grants, "frontend_view": "client"}, http.StatusCreated, nil)
	var user struct {
		ID string `json:"user_id"`
	}
	a.call("POST", "/user/", map[string]any{"first_name": "Sim", "last_name": "Reader", "email": "reader@example.com",
		"role_name": "SimReader"}, http.StatusCreated, &user)
	var key struct {
		Key string `json:"api_key"`
		ID  string `json:"api_key_id"`
	}
	a.call("POST", "/organization/api_key/", map[string]any{"name": "reader", "duration": "P1D", "role_name": "SimReader"},
		http.StatusCreated, &key)
	return app.Credentials{BaseURL: srv.BaseURL, Organization: srv.Organization, UserID: user.ID, APIKeyID: key.ID, APIKey: key.Key}
}

// simsRows is the text of each row of the table in the panel headed title.
func simsRows(b *browser, title string) []string {
	b.t.Helper()
	var rows []string
	b.eval(fmt.Sprintf(`(() => {
		const p = [...document.querySelectorAll("main section.panel")].find(s => s.querySelector("h2").textContent === %q);
		return p ? [...p.querySelectorAll("tbody tr")].map(r => r.textContent) : [];
	})()`, title), &rows)
	return rows
}

// simsGatedUser is the built-in model, except that the simulated user's
// turns wait until the test ends, so a run stays in progress.
type simsGatedUser struct {
	llm.Builtin
	entered chan struct{}
	gate    chan struct{}
}

func (g *simsGatedUser) Complete(ctx context.Context, c llm.Call) (llm.Answer, error) {
	if c.Purpose == simulate.PurposeSimulateUser {
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

// A run in progress is followed by the page, and cancelled from it after
// a confirmation.
func TestSimulationRunCancel(t *testing.T) {
	model := &simsGatedUser{entered: make(chan struct{}, 1), gate: make(chan struct{})}
	srv := compadretest.Start(t, compadretest.WithModel(model))
	t.Cleanup(func() { close(model.gate) })
	a := newAPI(t, srv)
	w := simsWorld(t, a)
	select {
	case <-model.entered:
	case <-time.After(time.Minute):
		t.Fatal("the run never started")
	}

	b := newBrowser(t, srv, 1280, 900)
	b.signIn(srv.Credentials)
	b.visit("#/simulations/runs/" + w.run)
	b.waitText("main .panel-body", "running")
	b.waitText("main", "this page follows the run")
	if v := b.text("main .sim-units"); !strings.Contains(v, "not judged yet") || !strings.Contains(v, "pending") {
		t.Errorf("unit tests of a run in progress: %q", v)
	}
	// The first click only asks; the safe answer has the focus.
	b.run(chromedp.Click(`main button.danger`, chromedp.ByQuery))
	b.waitText("main .confirm", "Cancel this run?")
	b.screenshot("simulation-run-running")
	var focused string
	b.eval(`document.activeElement.textContent`, &focused)
	if focused != "No, let it run" {
		t.Errorf("focus on %q after asking", focused)
	}
	b.run(chromedp.Click(`main .confirm button.danger`, chromedp.ByQuery))
	// The page follows the run to its end: errored, each run cancelled.
	b.waitText("main .panel-body", "cancelled")
	b.waitText("main .sim-units", "cancelled")
	if n := b.count("main button.danger"); n != 0 {
		t.Errorf("the cancelled run still offers %d cancel buttons", n)
	}
	b.screenshot("simulation-run-cancelled")
	if got := simsAwait(t, a, w.run); !got.Errored {
		t.Errorf("run after cancel: %+v", got)
	}
}
