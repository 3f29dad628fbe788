package httpapi_test

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/compadre-dev/compadre/compadretest"
	"github.com/compadre-dev/compadre/llm"
	"github.com/compadre-dev/compadre/store"
)

// promptLogZip is a get-prompt-logs answer: its status, headers and body,
// and when it is a zip, its files by name.
type promptLogZip struct {
	status int
	header http.Header
	body   map[string]any
	files  map[string]string
}

// promptLogs downloads the prompt logs under prefix and opens the zip.
func (c *client) promptLogs(t testing.TB, prefix string) promptLogZip {
	t.Helper()
	req, err := http.NewRequest("GET", c.base+"/v1/"+c.org+"/admin/get_prompt_logs/?prompt_log_prefix="+url.QueryEscape(prefix), nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	out := promptLogZip{status: resp.StatusCode, header: resp.Header}
	if resp.StatusCode != http.StatusOK {
		if err := json.Unmarshal(raw, &out.body); err != nil {
			t.Fatalf("status %d, body is not JSON: %s", resp.StatusCode, raw)
		}
		return out
	}
	zr, err := zip.NewReader(bytes.NewReader(raw), int64(len(raw)))
	if err != nil {
		t.Fatalf("the answer is not a zip: %v", err)
	}
	out.files = map[string]string{}
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		if _, dup := out.files[f.Name]; dup {
			t.Errorf("%s is in the zip twice", f.Name)
		}
		out.files[f.Name] = string(b)
	}
	return out
}

// mustZip fails the test unless the answer is a zip.
func (z promptLogZip) mustZip(t testing.TB, what string) promptLogZip {
	t.Helper()
	if z.status != http.StatusOK {
		t.Fatalf("%s: status %d, want 200: %v", what, z.status, z.body)
	}
	return z
}

func (z promptLogZip) names() []string { return slices.Sorted(maps.Keys(z.files)) }

// storedKeys lists the keys of the prompt logs stored under prefix.
func storedKeys(t testing.TB, srv *compadretest.Server, prefix string) []string {
	t.Helper()
	logs, err := srv.Store().PromptLogs(context.Background(), srv.Organization, prefix, 10000)
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, l := range logs {
		keys = append(keys, l.Key)
	}
	return keys
}

// withSuffixes is every key with each suffix, sorted.
func withSuffixes(keys []string, suffixes ...string) []string {
	var out []string
	for _, k := range keys {
		for _, s := range suffixes {
			out = append(out, k+s)
		}
	}
	slices.Sort(out)
	return out
}

func TestPromptLogsOfAConversation(t *testing.T) {
	t.Parallel()
	srv, c := newTestServer(t)
	j := c.judgedConversation(t)
	explained := c.metricCreate(metricWithDescription("Explained", `Did the agent "explain the invoice"?`, metricValue("boolean")))
	status, body := c.evaluate(t, map[string]any{"metric_ids": []any{explained}, "conversation_id": j.conv})
	mustStatus(t, "evaluate", status, http.StatusOK, body)
	conv := "conversation/" + j.conv + "/"
	second := conv + "interaction/" + j.second + "/"

	// The whole conversation: both interactions and the evaluation, a
	// system and a history file per log.
	z := c.promptLogs(t, conv).mustZip(t, "the conversation")
	if ct, cd := z.header.Get("Content-Type"), z.header.Get("Content-Disposition"); ct != "application/zip" ||
		cd != "attachment; filename=prompt_logs.zip" {
		t.Errorf("Content-Type %q, Content-Disposition %q", ct, cd)
	}
	keys := storedKeys(t, srv, conv)
	if got, want := z.names(), withSuffixes(keys, "-system", "-history"); !slices.Equal(got, want) {
		t.Fatalf("entries:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	var evaluations []string
	for _, k := range keys {
		if strings.HasPrefix(k, conv+"evaluation/") {
			evaluations = append(evaluations, k)
		}
	}
	if len(evaluations) != 1 || !strings.HasSuffix(evaluations[0], "/01-evaluate-metric") || len(keys) < 5 {
		t.Fatalf("keys: %v", keys)
	}

	// One interaction: its four calls and nothing else.
	z = c.promptLogs(t, second).mustZip(t, "the second interaction")
	want := withSuffixes([]string{second + "01-select-exit-condition", second + "02-decide", second + "03-reflect",
		second + "04-engage-user"}, "-system", "-history")
	if got := z.names(); !slices.Equal(got, want) {
		t.Fatalf("entries of one interaction: %v, want %v", got, want)
	}
	system := z.files[second+"04-engage-user-system"]
	if !strings.HasPrefix(system, "You are ") || !strings.Contains(system, "Current state: billing") ||
		strings.Contains(system, "---") {
		t.Errorf("engage-user's system prompt:\n%s", system)
	}
	history := strings.Split(z.files[second+"04-engage-user-history"], "\n---\n")
	if len(history) < 4 || !slices.Contains(history, "user: I have a question about my invoice") ||
		!strings.HasPrefix(history[0], "assistant: ") || !strings.HasPrefix(history[len(history)-2], "system: ") ||
		history[len(history)-1] != "completion (builtin): Explain the invoice" {
		t.Errorf("engage-user's history:\n%s", strings.Join(history, "\n---\n"))
	}

	// The judge's call, under the conversation.
	z = c.promptLogs(t, conv+"evaluation/").mustZip(t, "the evaluation")
	judge := strings.Split(z.files[evaluations[0]+"-history"], "\n---\n")
	if len(z.files) != 2 || !strings.Contains(z.files[evaluations[0]+"-system"], "explain the invoice") ||
		len(judge) != 2 || !strings.HasPrefix(judge[0], "user: The conversation, one message a line:") ||
		!strings.HasPrefix(judge[1], "completion (builtin): ") || !strings.Contains(judge[1], `"result":true`) {
		t.Errorf("the judge's files: %v", z.files)
	}

	// Nothing under a prefix, another organization, no prefix.
	for _, prefix := range []string{"conversation/" + store.NewID() + "/", conv + "nothing"} {
		if z := c.promptLogs(t, prefix); z.status != http.StatusNotFound ||
			detail(z.body) != "No prompt logs found matching the supplied prefix" {
			t.Errorf("%s: status %d %v, want 404", prefix, z.status, z.body)
		}
	}
	other := serviceOtherOrg(t, srv, c, "beta")
	for _, prefix := range []string{conv, ""} {
		if z := other.promptLogs(t, prefix); z.status != http.StatusNotFound {
			t.Errorf("another organization, prefix %q: status %d, want 404", prefix, z.status)
		}
	}
	// The empty prefix is every log, fewer than 1,000 here.
	if z := c.promptLogs(t, "").mustZip(t, "the empty prefix"); len(z.files) != 2*len(storedKeys(t, srv, "")) {
		t.Errorf("the empty prefix: %d files", len(z.files))
	}
	if status, body := c.do("GET", "/admin/get_prompt_logs/", nil); status != http.StatusUnprocessableEntity {
		t.Errorf("without a prefix: status %d %v, want 422", status, body)
	}
}

// TestPromptLogsOfASimulationRun: a run's prefix selects its simulated
// user's, engine's and judge's calls; reading them takes the run's
// permission, not the conversation's.
func TestPromptLogsOfASimulationRun(t *testing.T) {
	t.Parallel()
	srv, c := newTestServer(t)
	exit := func(desc, next string) map[string]any { return map[string]any{"description": desc, "next_state": next} }
	g := stateMachineMinimal()
	g["states"] = []any{stateMachineAction("start", "Help the user", exit("The user says goodbye", "end")),
		stateMachineAction("end", "Say goodbye")}
	g["terminal_state"] = "end"
	service := c.talkingService(t, "simulated", g)
	persona := c.simCreate(t, "/simulation/persona/", map[string]any{"name": "Pat", "role": "customer", "tags": map[string]any{},
		"initial_version": map[string]any{"background": "A long-time customer.", "user_models": []any{},
			"nonsensitive_user_variables": map[string]any{}, "sensitive_user_variables": map[string]any{}}}, "simulation_persona_id")
	scenario := c.simCreate(t, "/simulation/scenario/", map[string]any{"name": "leave", "tags": map[string]any{},
		"initial_version": map[string]any{"objective": "Leave politely", "instructions": "goodbye",
			"initial_message_type": "user-message", "conversation_starts_at": nil}}, "simulation_scenario_id")
	goodbye := c.metricCreate(metricWithDescription("said goodbye", `Did the user say "goodbye"?`, metricValue("boolean")))
	unitTest := c.simCreate(t, "/simulation/unit_test/", map[string]any{"name": "leaves", "description": "d",
		"service_id": service, "service_version_set_name": "release", "persona_id": persona, "scenario_id": scenario,
		"max_interactions": 3, "tags": map[string]any{}, "success_criterions": []any{map[string]any{"name": "goodbye",
			"metric_id": goodbye, "criterion": map[string]any{"type": "boolean", "expected_value": true}}}},
		"simulation_unit_test_id")
	runID := c.simCreate(t, "/simulation/unit_test_set_run/", map[string]any{
		"simulation_unit_test_set_id": c.simSet(t, "leave", unitTest, 1)}, "simulation_unit_test_set_run_id")
	if run := c.simAwait(t, runID); run["errored"] != false {
		t.Fatalf("run: %s", mustJSONText(t, run))
	}

	prefix := "simulation/" + runID + "/"
	keys := storedKeys(t, srv, prefix)
	z := c.promptLogs(t, prefix).mustZip(t, "the run")
	if got, want := z.names(), withSuffixes(keys, "-system", "-history"); !slices.Equal(got, want) {
		t.Fatalf("entries:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	item := prefix + "unit_test/" + unitTest + "/run/"
	var user, engine, judge []string
	for _, k := range keys {
		rest, ok := strings.CutPrefix(k, item)
		if !ok {
			t.Errorf("key %s is not under the unit test's run", k)
			continue
		}
		_, rest, _ = strings.Cut(rest, "/")
		switch {
		case strings.HasPrefix(rest, "user/"):
			user = append(user, k)
		case strings.HasPrefix(rest, "conversation/"):
			engine = append(engine, k)
		case strings.HasPrefix(rest, "evaluation/"):
			judge = append(judge, k)
		}
	}
	if len(user) != 1 || !strings.HasSuffix(user[0], "/user/01-simulate-user") || len(engine) == 0 || len(judge) != 1 {
		t.Fatalf("user %v, engine %v, judge %v", user, engine, judge)
	}
	userHistory := strings.Split(z.files[user[0]+"-history"], "\n---\n")
	if !strings.HasPrefix(z.files[user[0]+"-system"], "You play a user") || len(userHistory) != 2 ||
		!strings.HasPrefix(userHistory[0], "system: Write your next message") || userHistory[1] != "completion (builtin): goodbye" {
		t.Errorf("the simulated user's files: %q, %q", z.files[user[0]+"-system"], userHistory)
	}

	// The run's permission decides, whatever the caller may read of
	// conversations.
	c.newRole("Conversations", grant("Conversation:GetMessage", nil), grant("Conversation:GetConversation", nil))
	reader := c.keyFor(c.newUser("reader@example.com", "Conversations"), "Conversations")
	z = reader.promptLogs(t, prefix).mustZip(t, "without the run's permission")
	if got, want := z.names(), withSuffixes(keys, "-error"); !slices.Equal(got, want) {
		t.Fatalf("entries without the run's permission: %v, want %v", got, want)
	}
	for name, text := range z.files {
		if text != "Missing required permission Simulation:GetSimulationUnitTestSetRun for the simulation unit test set run "+
			runID+", to which this prompt log belongs." {
			t.Errorf("%s: %q", name, text)
		}
	}
	c.newRole("Runs", grant("Simulation:GetSimulationUnitTestSetRun", nil))
	runs := c.keyFor(c.newUser("runs@example.com", "Runs"), "Runs")
	if z := runs.promptLogs(t, prefix).mustZip(t, "with the run's permission"); len(z.files) != 2*len(keys) {
		t.Errorf("with only the run's permission: %v", z.names())
	}
}

// TestPromptLogsFollowConversationPermissions: a caller who may read one
// user's conversations gets their logs, and for another user's
// conversation an error file per log, which names the missing permission
// and holds none of the log.
func TestPromptLogsFollowConversationPermissions(t *testing.T) {
	t.Parallel()
	srv, c := newTestServer(t)
	svc := c.talkingService(t, "Walker", walkerGraph())
	bob := c.newUser("bob@example.com", "DefaultUserRole")
	bobs := c.keyFor(bob, "DefaultUserRole").open(t, "", map[string]any{"service_id": svc}).events[0]["conversation_id"].(string)
	admins := c.open(t, "", map[string]any{"service_id": svc}).events[0]["conversation_id"].(string)
	c.newRole("ReadsBob", grant("Conversation:GetMessage", map[string]any{"user_id": equals(bob)}))
	reader := c.keyFor(c.newUser("carol@example.com", "ReadsBob"), "ReadsBob")

	z := reader.promptLogs(t, "conversation/").mustZip(t, "every conversation")
	bobKeys, adminKeys := storedKeys(t, srv, "conversation/"+bobs+"/"), storedKeys(t, srv, "conversation/"+admins+"/")
	if len(bobKeys) == 0 || len(adminKeys) == 0 {
		t.Fatalf("logs: bob's %v, the administrator's %v", bobKeys, adminKeys)
	}
	want := append(withSuffixes(bobKeys, "-system", "-history"), withSuffixes(adminKeys, "-error")...)
	slices.Sort(want)
	if got := z.names(); !slices.Equal(got, want) {
		t.Fatalf("entries:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for _, k := range adminKeys {
		if got := z.files[k+"-error"]; got != "Missing required permission Conversation:GetMessage for the conversation "+
			admins+", to which this prompt log belongs." {
			t.Errorf("%s-error: %q", k, got)
		}
	}
	// A caller who may read no conversation still gets the zip, all errors.
	c.newRole("Nothing")
	nobody := c.keyFor(c.newUser("nobody@example.com", "Nothing"), "Nothing")
	z = nobody.promptLogs(t, "conversation/"+bobs+"/").mustZip(t, "without permissions")
	if got := z.names(); !slices.Equal(got, withSuffixes(bobKeys, "-error")) {
		t.Errorf("without permissions: %v", got)
	}
}

// judgeFails fails every judge call and leaves the rest to the built-in
// provider.
type judgeFails struct{ llm.Builtin }

func (p judgeFails) Complete(ctx context.Context, c llm.Call) (llm.Answer, error) {
	if c.Purpose == llm.PurposeEvaluateMetric {
		return llm.Answer{}, &llm.Error{Provider: "judge", Msg: "the judge is overloaded"}
	}
	return p.Builtin.Complete(ctx, c)
}

// TestPromptLogsOfAFailedCall: a call that failed has its prompt and an
// error file saying why.
func TestPromptLogsOfAFailedCall(t *testing.T) {
	t.Parallel()
	_, c := newTestServer(t, compadretest.WithModel(judgeFails{}))
	j := c.judgedConversation(t)
	id := c.metricCreate(metricWithDescription("Explained", `Did the agent "explain the invoice"?`, metricValue("boolean")))
	if status, body := c.evaluate(t, map[string]any{"metric_ids": []any{id}, "conversation_id": j.conv}); status != http.StatusBadGateway {
		t.Fatalf("evaluate with a failing judge: %d %v", status, body)
	}
	z := c.promptLogs(t, "conversation/"+j.conv+"/evaluation/").mustZip(t, "the failed evaluation")
	names := z.names()
	if len(names) != 3 {
		t.Fatalf("entries: %v", names)
	}
	key := strings.TrimSuffix(names[0], "-error")
	if !strings.HasSuffix(key, "/01-evaluate-metric") || names[1] != key+"-history" || names[2] != key+"-system" {
		t.Fatalf("entries: %v", names)
	}
	if got := z.files[key+"-error"]; !strings.Contains(got, "the judge is overloaded") {
		t.Errorf("error file: %q", got)
	}
	// No completion came, so the history is the prompt alone.
	if got := z.files[key+"-history"]; !strings.HasPrefix(got, "user: The conversation") || strings.Contains(got, "completion") {
		t.Errorf("history file: %q", got)
	}
}

// TestPromptLogsWindowAndLimit: only the past 30 days count, and a prefix
// may match at most 1,000 logs.
func TestPromptLogsWindowAndLimit(t *testing.T) {
	t.Parallel()
	clock := newTestClock()
	w := conversationSetup(t, clock.option())
	c, srv := w.admin, w.srv
	conv := c.conversationStart(t, w.svcID, nil)
	prefix := "conversation/" + conv + "/manual/"
	record := func(key string, age time.Duration) store.PromptLog {
		return store.PromptLog{OrgID: srv.Organization, Key: prefix + key, ConversationID: &conv, Purpose: "p", Model: "m",
			Prompt:     json.RawMessage(`[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}]`),
			Completion: "Hello", CreatedAt: clock.now().Add(-age)}
	}
	window := store.PromptLogRetention
	if err := srv.Store().RecordPromptLogs(context.Background(), []store.PromptLog{
		record("old/young", window-time.Minute), record("old/stale", window+time.Minute)}); err != nil {
		t.Fatal(err)
	}
	z := c.promptLogs(t, prefix+"old/").mustZip(t, "around the window")
	if got := z.names(); !slices.Equal(got, []string{prefix + "old/young-history", prefix + "old/young-system"}) ||
		z.files[prefix+"old/young-system"] != "Be brief." ||
		z.files[prefix+"old/young-history"] != "user: Hi\n---\ncompletion (m): Hello" {
		t.Errorf("around the window: %v", z.files)
	}
	if z := c.promptLogs(t, prefix+"old/stale"); z.status != http.StatusNotFound {
		t.Errorf("a log 30 days and a minute old: status %d, want 404", z.status)
	}

	var many []store.PromptLog
	for i := range 1000 {
		many = append(many, record(fmt.Sprintf("many/%04d", i), time.Hour))
	}
	if err := srv.Store().RecordPromptLogs(context.Background(), many); err != nil {
		t.Fatal(err)
	}
	if z := c.promptLogs(t, prefix+"many/").mustZip(t, "1,000 logs"); len(z.files) != 2000 ||
		z.files[prefix+"many/0999-history"] != "user: Hi\n---\ncompletion (m): Hello" {
		t.Errorf("1,000 logs: %d files", len(z.files))
	}
	if err := srv.Store().RecordPromptLogs(context.Background(), []store.PromptLog{record("many/1000", time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if z := c.promptLogs(t, prefix+"many/"); z.status != http.StatusBadRequest ||
		!strings.HasPrefix(detail(z.body), "The prefix matches 1001 prompt logs of the past 30 days; at most 1000 ") {
		t.Errorf("1,001 logs: status %d %v, want 400", z.status, z.body)
	}
	if z := c.promptLogs(t, ""); z.status != http.StatusBadRequest {
		t.Errorf("the empty prefix, over 1,000 logs: status %d %v, want 400", z.status, z.body)
	}
	// Two minutes on, the young log is past 30 days too.
	clock.advance(2 * time.Minute)
	if z := c.promptLogs(t, prefix+"old/"); z.status != http.StatusNotFound {
		t.Errorf("once both are past 30 days: status %d, want 404", z.status)
	}
}

// TestPromptLogsScopedFailures: a log that cannot be shown is an error
// file of its own, and the others are still downloaded.
func TestPromptLogsScopedFailures(t *testing.T) {
	t.Parallel()
	w := conversationSetup(t)
	c, srv := w.admin, w.srv
	conv := w.admin.conversationStart(t, w.svcID, nil)
	missing := store.NewID()
	ok := json.RawMessage(`[{"role": "user", "content": "Hi"}]`)
	logs := []store.PromptLog{
		{Key: "scoped/1-fine", ConversationID: &conv, Prompt: ok},
		{Key: "scoped/2-unreadable", ConversationID: &conv, Prompt: json.RawMessage(`{"role": "user"`)},
		{Key: "scoped/3-ownerless", Prompt: ok},
		{Key: "scoped/4-gone", ConversationID: &missing, Prompt: ok},
	}
	for i := range logs {
		logs[i].OrgID, logs[i].CreatedAt = srv.Organization, time.Now()
	}
	if err := srv.Store().RecordPromptLogs(context.Background(), logs); err != nil {
		t.Fatal(err)
	}
	z := c.promptLogs(t, "scoped/").mustZip(t, "scoped failures")
	want := map[string]string{
		"scoped/1-fine-history":     "user: Hi",
		"scoped/2-unreadable-error": "The stored prompt could not be read: unexpected end of JSON input",
		"scoped/3-ownerless-error":  "This prompt log belongs to no conversation or simulation run, so it cannot be shown.",
		"scoped/4-gone-error":       "The conversation " + missing + " this prompt log belongs to no longer exists.",
	}
	if !maps.Equal(z.files, want) {
		t.Errorf("files: %v, want %v", z.files, want)
	}
}

func TestPromptLogsRateLimit(t *testing.T) {
	t.Parallel()
	clock := newTestClock()
	_, c := newTestServer(t, compadretest.WithRateLimits(1), clock.option())
	for i := 1; i <= 20; i++ {
		if z := c.promptLogs(t, "nothing/"); z.status != http.StatusNotFound {
			t.Fatalf("request %d: status %d, want 404", i, z.status)
		}
	}
	if z := c.promptLogs(t, "nothing/"); z.status != http.StatusTooManyRequests {
		t.Fatalf("request 21: status %d, want 429", z.status)
	}
	clock.advance(3 * time.Second)
	if z := c.promptLogs(t, "nothing/"); z.status != http.StatusNotFound {
		t.Errorf("three seconds on: status %d, want 404", z.status)
	}
}

// failsOnRequest fails every call whose prompt holds "please fail", and
// answers the others by the built-in rules.
type failsOnRequest struct{ llm.Builtin }

func (p failsOnRequest) Complete(ctx context.Context, c llm.Call) (llm.Answer, error) {
	for _, m := range c.Messages {
		if strings.Contains(m.Content, "please fail") {
			return llm.Answer{}, &llm.Error{Provider: "model", Msg: "the model is overloaded"}
		}
	}
	return p.Builtin.Complete(ctx, c)
}

// TestPromptLogsOfAFailedInteraction: an interaction whose model call
// fails is not written, but its prompt logs are, so the failure can be
// read.
func TestPromptLogsOfAFailedInteraction(t *testing.T) {
	t.Parallel()
	_, c := newTestServer(t, compadretest.WithModel(failsOnRequest{}))
	svc := c.talkingService(t, "Walker", walkerGraph())
	s := c.open(t, "", map[string]any{"service_id": svc})
	if s.status != http.StatusCreated || s.last()["type"] == "error" {
		t.Fatalf("create: %d %s", s.status, s.raw)
	}
	conv := s.events[0]["conversation_id"].(string)
	failed := c.interact(t, conv, "", userMessage("please fail"))
	if last := failed.last(); last["type"] != "error" || last["http_error_code"] != float64(502) {
		t.Fatalf("interaction with a failing model: %d %s", failed.status, failed.raw)
	}
	z := c.promptLogs(t, "conversation/"+conv+"/interaction/").mustZip(t, "the conversation's interactions")
	var errs []string
	for name, text := range z.files {
		if strings.HasSuffix(name, "-error") {
			errs = append(errs, name)
			if !strings.Contains(text, "the model is overloaded") {
				t.Errorf("%s: %q", name, text)
			}
		}
	}
	if len(errs) != 1 {
		t.Fatalf("error entries: %v of %v", errs, z.names())
	}
	key := strings.TrimSuffix(errs[0], "-error")
	if !strings.Contains(z.files[key+"-history"], "please fail") {
		t.Errorf("the failed call's history: %q", z.files[key+"-history"])
	}
}
