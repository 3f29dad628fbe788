package app

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/compadre-dev/compadre/auth"
	"github.com/compadre-dev/compadre/llm"
	"github.com/compadre-dev/compadre/store"
	"github.com/compadre-dev/compadre/webhook"
)

// snapServer is an App served on a loopback port, as compadretest serves
// it, with its administrator signed in.
type snapServer struct {
	a     *App
	base  string
	creds Credentials
	// c is the administrator's client.
	c    *snapClient
	stop func()
}

// startSnapServer opens cfg's data directory (a new one if empty) and
// serves it until the test ends or stop is called.
func startSnapServer(t testing.TB, cfg Config) *snapServer {
	t.Helper()
	if cfg.DataDir == "" {
		cfg.DataDir = t.TempDir()
	}
	cfg.CheapKeyHashes, cfg.Durability = true, store.DurabilityNormal
	cfg.WebhookPolicy = webhook.Policy{Loopback: true}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + l.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	a, err := Open(ctx, cfg, base)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	// The grace serve gives (main.go). Not 5 s: Shutdown counts a
	// connection that has sent no request yet as active until it is 5 s
	// old, so a client connection opened just before the stop (the
	// restore tests' clients dial ahead) ran the 5 s grace out on a loaded
	// machine ("stop: context deadline exceeded").
	go func() { done <- a.Serve(ctx, l, 30*time.Second) }()
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			cancel()
			if err := <-done; err != nil {
				t.Errorf("stop: %v", err)
			}
		}
	}
	t.Cleanup(stop)
	creds, err := ReadCredentials(cfg.DataDir)
	if err != nil {
		t.Fatal(err)
	}
	s := &snapServer{a: a, base: base, creds: creds, stop: stop}
	s.c = s.client(t, creds)
	return s
}

// client signs the user of creds in and returns its client.
func (s *snapServer) client(t testing.TB, creds Credentials) *snapClient {
	t.Helper()
	c := &snapClient{tb: t, base: s.base, org: creds.Organization}
	status, body := c.signIn(creds)
	if status != http.StatusOK {
		t.Fatalf("sign in %s: %d %v", creds.UserID, status, body)
	}
	c.token = body["id_token"].(string)
	return c
}

// snapClient sends JSON requests to one organization's API.
type snapClient struct {
	tb               testing.TB
	base, org, token string
}

func (c *snapClient) signIn(creds Credentials) (int, map[string]any) {
	return c.raw("POST", "/v1/"+creds.Organization+"/user/signin_with_api_key", nil, map[string]string{
		"x-api-key": creds.APIKey, "x-api-key-id": creds.APIKeyID, "x-user-id": creds.UserID})
}

// do sends a request to path under /v1/{org}.
func (c *snapClient) do(method, path string, body any) (int, map[string]any) {
	c.tb.Helper()
	return c.raw(method, "/v1/"+c.org+path, body, nil)
}

// must sends a request and fails the test unless the status is want.
func (c *snapClient) must(want int, method, path string, body any) map[string]any {
	c.tb.Helper()
	status, got := c.do(method, path, body)
	if status != want {
		c.tb.Fatalf("%s %s: got %d %v, want %d", method, path, status, got, want)
	}
	return got
}

// raw sends a JSON request to path and answers the status and the decoded
// body (a body that is not JSON as body["raw"]), with the answer's
// Retry-After as body["retry_after"].
func (c *snapClient) raw(method, path string, body any, header map[string]string) (int, map[string]any) {
	c.tb.Helper()
	var rd io.Reader = http.NoBody
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			c.tb.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	if err != nil {
		c.tb.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.tb.Errorf("%s %s: %v", method, path, err)
		return 0, nil
	}
	defer resp.Body.Close()
	out := map[string]any{}
	raw, _ := io.ReadAll(resp.Body)
	if len(raw) > 0 && json.Unmarshal(raw, &out) != nil {
		out["raw"] = string(raw)
	}
	if ra := resp.Header.Get("Retry-After"); ra != "" {
		out["retry_after"] = ra
	}
	return resp.StatusCode, out
}

// listPaths are the lists compared before and after a restore: together
// they show every kind of record the tests change.
var listPaths = []string{
	"/organization/", "/organization/user_dimensions/", "/organization/api_key/", "/user/", "/role/", "/tool/", "/organization/agent",
	"/organization/service_hierarchical_state_machine", "/service/", "/conversation/", "/webhook_destination/",
	"/metric/", "/role/temporary_permission_grants/",
}

// lists returns every list of listPaths as the client sees it, as JSON.
func (c *snapClient) lists() map[string]string {
	c.tb.Helper()
	out := map[string]string{}
	for _, p := range listPaths {
		body := c.must(http.StatusOK, "GET", p, nil)
		b, _ := json.Marshal(body)
		out[p] = string(b)
	}
	return out
}

// diffLists names the lists that differ.
func diffLists(got, want map[string]string) []string {
	var out []string
	for _, p := range listPaths {
		if got[p] != want[p] {
			out = append(out, fmt.Sprintf("%s:\n  got  %.400s\n  want %.400s", p, got[p], want[p]))
		}
	}
	return out
}

// toolSource is a working copy of a tool project pushed to the server's
// tool repository.
type toolSource struct {
	tb        testing.TB
	dir, repo string
}

func newToolSource(t testing.TB, repo string) *toolSource {
	s := &toolSource{tb: t, dir: t.TempDir(), repo: repo}
	s.git("init", "-q", "-b", "main")
	return s
}

func (s *toolSource) git(args ...string) string {
	s.tb.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = s.dir
	cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com",
		"GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com", "GIT_CONFIG_NOSYSTEM=1", "HOME="+s.dir)
	out, err := cmd.CombinedOutput()
	if err != nil {
		s.tb.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// commit writes the project "echo" answering with prefix and commits it,
// returning the commit's hash.
func (s *toolSource) commit(prefix string) string {
	s.tb.Helper()
	files := map[string]string{
		"echo/pyproject.toml": "[project]\nname = \"echo\"\nversion = \"0.1.0\"\nrequires-python = \">=3.14\"\n\n" +
			"[tool.ruff]\ntarget-version = \"py314\"\n\n[tool.amigo]\nentrypoint = \"echo.main:run\"\n",
		"echo/echo/__init__.py": "",
		"echo/echo/main.py":     fmt.Sprintf("def run(text: str) -> str:\n    return %q + text\n", prefix),
	}
	for name, content := range files {
		p := filepath.Join(s.dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			s.tb.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			s.tb.Fatal(err)
		}
	}
	s.git("add", "-A")
	s.git("commit", "-q", "--allow-empty", "-m", "echo "+prefix)
	return s.git("rev-parse", "HEAD")
}

// push pushes HEAD to branch.
func (s *toolSource) push(branch string) {
	s.tb.Helper()
	s.git("push", "-q", "-f", s.repo, "HEAD:refs/heads/"+branch)
}

// branchHash is the commit branch names in the repository, "" if none.
func branchHash(t testing.TB, repo, branch string) string {
	t.Helper()
	out, err := exec.Command("git", "-C", repo, "rev-parse", "--verify", "-q", "refs/heads/"+branch).Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}

// newService creates an agent, a context graph and an active service
// over them, and returns the service's ID.
func (c *snapClient) newService(name string) string {
	c.tb.Helper()
	agent := c.must(http.StatusCreated, "POST", "/organization/agent", map[string]any{"agent_name": name})["id"].(string)
	c.must(http.StatusCreated, "POST", "/organization/agent/"+agent+"/", map[string]any{
		"initials": "AM",
		"identity": map[string]any{
			"name": name, "role": "Support agent", "developed_by": "Example Inc.", "default_spoken_language": "eng",
			"relationship_to_developer": map[string]any{"ownership": "Example Inc.", "type": "assistant",
				"conversation_visibility": "visible", "thought_visibility": "hidden"},
		},
		"background": "Helps.", "behaviors": []any{"Be polite."}, "communication_patterns": []any{"Short."},
		"voice_config": map[string]any{"voice_id": "voice-1"},
	})
	const sm = "/organization/service_hierarchical_state_machine"
	graph := c.must(http.StatusCreated, "POST", sm, map[string]any{"state_machine_name": name})["id"].(string)
	state := func(name, action string, exits ...any) map[string]any {
		return map[string]any{
			"type": "action", "name": name, "objective": "Objective of " + name, "actions": []any{action},
			"intra_state_navigation_guidelines": []any{}, "action_guidelines": []any{}, "boundary_constraints": []any{},
			"exit_conditions": append([]any{}, exits...), "action_tool_call_specs": []any{},
			"exit_condition_tool_call_specs": []any{}, "skip_active_memory_retrieval": false,
		}
	}
	c.must(http.StatusCreated, "POST", sm+"/"+graph+"/", map[string]any{
		"description": "A greeting and a goodbye.",
		"states": []any{
			state("start", "Welcome the user", map[string]any{"description": "The user said goodbye", "next_state": "end"}),
			state("end", "Say goodbye"),
		},
		"new_user_initial_state": "start", "returning_user_initial_state": "start", "terminal_state": "end",
		"references": map[string]any{}, "global_intra_state_navigation_guidelines": []any{},
		"global_action_guidelines": []any{}, "global_boundary_constraints": []any{},
	})
	return c.must(http.StatusCreated, "POST", "/service/", map[string]any{
		"name": name, "description": "Service " + name, "is_active": true, "agent_id": agent,
		"service_hierarchical_state_machine_id": graph, "keyterms": []any{}, "tags": map[string]any{},
	})["id"].(string)
}

// openConversation starts a conversation with the service and reads its
// whole streamed answer; it returns the status and the events.
func (c *snapClient) openConversation(service string) (int, []map[string]any) {
	c.tb.Helper()
	b, _ := json.Marshal(map[string]any{"service_id": service})
	req, err := http.NewRequest("POST", c.base+"/v1/"+c.org+"/conversation/?response_format=text", bytes.NewReader(b))
	if err != nil {
		c.tb.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+c.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.tb.Errorf("open conversation: %v", err)
		return 0, nil
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		c.tb.Errorf("open conversation: %v", err)
	}
	var events []map[string]any
	for line := range bytes.Lines(raw) {
		ev := map[string]any{}
		if err := json.Unmarshal(line, &ev); err != nil {
			c.tb.Errorf("open conversation: line %q: %v", line, err)
		}
		events = append(events, ev)
	}
	return resp.StatusCode, events
}

// TestSnapshotRestoreBringsBackTheState: after a snapshot, change every
// kind of record (users, roles, keys, tools published through the git
// repository, services, conversations, webhooks, metrics, the
// organization's settings); a restore brings back exactly what the API
// answered at the snapshot, the tool branch's commit included, and no
// token of a user made since still works.
func TestSnapshotRestoreBringsBackTheState(t *testing.T) {
	cfg := Config{Sandbox: true}
	if base, err := os.UserCacheDir(); err == nil {
		cfg.SandboxCacheDir = filepath.Join(base, "compadre-test", "wazero")
	}
	s := startSnapServer(t, cfg)
	ctx := context.Background()
	wctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	if err := s.a.WaitSandbox(wctx); err != nil {
		t.Fatal(err)
	}
	c := s.c
	repo := filepath.Join(s.a.cfg.DataDir, ToolsRepoDir)
	team := "releases/" + c.org
	src := newToolSource(t, repo)
	first := src.commit("v1:")
	src.push(team)
	tool := c.must(http.StatusCreated, "POST", "/tool/", map[string]any{"name": "echo", "description": "echo", "tags": map[string]any{}})["id"].(string)
	c.must(http.StatusCreated, "POST", "/tool/"+tool+"/version", map[string]any{"project_path": "echo", "bump_type": "major"})
	service := c.newService("Base")

	if _, err := s.a.Snapshot(ctx, "base"); err != nil {
		t.Fatal(err)
	}
	want := c.lists()
	wantVersions := c.must(http.StatusOK, "GET", "/tool/"+tool+"/version", nil)

	// Change everything.
	user := c.must(http.StatusCreated, "POST", "/user/", map[string]any{"first_name": "New", "last_name": "User",
		"email": "new@example.com", "role_name": "DefaultUserRole"})["user_id"].(string)
	c.must(http.StatusCreated, "POST", "/role/", map[string]any{"role_name": "Support", "description": "Support",
		"permission_grants": []any{map[string]any{"permission_name": "User:GetUserInfo", "conditions": map[string]any{}}},
		"frontend_view":     "client"})
	c.must(http.StatusOK, "POST", "/role/Support/assign", map[string]any{"user_id": user})
	key := c.must(http.StatusCreated, "POST", "/organization/api_key/", map[string]any{"name": "later", "duration": "P1D"})
	newcomer := s.client(t, Credentials{Organization: c.org, UserID: user, APIKeyID: key["api_key_id"].(string), APIKey: key["api_key"].(string)})
	second := src.commit("v2:")
	src.push(team)
	src.push("feature")
	c.must(http.StatusCreated, "POST", "/tool/"+tool+"/version", map[string]any{"project_path": "echo", "bump_type": "major"})
	other := c.must(http.StatusCreated, "POST", "/tool/", map[string]any{"name": "other", "description": "other", "tags": map[string]any{}})["id"].(string)
	c.must(http.StatusCreated, "POST", "/tool/"+other+"/version", map[string]any{"project_path": "echo", "bump_type": "major"})
	if status, events := c.openConversation(service); status != http.StatusCreated || len(events) == 0 {
		t.Fatalf("open a conversation: %d %v", status, events)
	}
	c.newService("Later")
	c.must(http.StatusCreated, "POST", "/webhook_destination/", map[string]any{"url": "http://127.0.0.1:1/hook",
		"accepted_types": []any{"conversation-post-processing-complete"}, "retry_attempts": 1})
	c.must(http.StatusNoContent, "POST", "/organization/", map[string]any{"user_dimensions": []any{
		map[string]any{"description": "Mood", "tags": []any{"calm"}}}})
	c.must(http.StatusCreated, "POST", "/metric/", map[string]any{
		"name": "politeness", "applied_to_services": []any{}, "additional_notes": nil, "tags": map[string]any{},
		"initial_version_metric_value": map[string]any{"description": "Judge politeness.",
			"metric_value": map[string]any{"type": "boolean"}}})
	c.must(http.StatusCreated, "POST", "/role/temporary_permission_grant/", map[string]any{"user_id": user,
		"duration": "PT1H", "permission_grant": map[string]any{"permission_name": "User:DeleteUser", "conditions": map[string]any{}},
		"tags": map[string]any{}, "justification": "Investigating support ticket 456"})
	// Only GET /organization/ shows none of the changes.
	if changed := diffLists(c.lists(), want); len(changed) != len(listPaths)-1 {
		t.Fatalf("the changes show in %d of %d lists, want all but one: %v", len(changed), len(listPaths), changed)
	}

	if err := s.a.Restore(ctx, "base"); err != nil {
		t.Fatal(err)
	}
	for _, d := range diffLists(c.lists(), want) {
		t.Errorf("after restore: %s", d)
	}
	if got := c.must(http.StatusOK, "GET", "/tool/"+tool+"/version", nil); fmt.Sprint(got) != fmt.Sprint(wantVersions) {
		t.Errorf("tool versions after restore: got %v, want %v", got, wantVersions)
	}
	if got := branchHash(t, repo, team); got != first {
		t.Errorf("%s after restore: got %s, want the snapshot's %s", team, got, first)
	}
	if got := branchHash(t, repo, "feature"); got != "" {
		t.Errorf("branch feature, pushed after the snapshot: got %s, want none", got)
	}
	if status, body := newcomer.do("GET", "/user/", nil); status != http.StatusUnauthorized {
		t.Errorf("a token of a key made after the snapshot: got %d %v, want 401", status, body)
	}
	// The restored tool runs its restored version, and publishing again
	// from the newer commit works as it did the first time.
	got := c.must(http.StatusOK, "POST", "/tool/"+tool+"/version/1.0.0/invoke", map[string]any{"inputs": []any{
		map[string]any{"input_parameters": map[string]any{"text": "hi"}, "invocation_mode": "regular"}}})
	if b, _ := json.Marshal(got); !strings.Contains(string(b), "v1:hi") {
		t.Errorf("invoke after restore: got %s, want v1:hi", b)
	}
	src.push(team)
	if branchHash(t, repo, team) != second {
		t.Fatal("push of the newer commit did not land")
	}
	if v := c.must(http.StatusCreated, "POST", "/tool/"+tool+"/version", map[string]any{"project_path": "echo", "bump_type": "major"}); v["new_version"] != "2.0.0" {
		t.Errorf("publish after restore: got %v, want 2.0.0", v)
	}
}

// noErr fails the test if err is not nil.
func noErr(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestRestoreIsAtomicForClients: clients keep listing users while
// restores alternate between two snapshots. Each answer depends on two
// reads, the caller's role (which users it may see) and the users, which
// the snapshots hold in different relations: a request that read one
// from each snapshot would answer a third set. No answer is a mixture,
// and none fails.
func TestRestoreIsAtomicForClients(t *testing.T) {
	s := startSnapServer(t, Config{})
	ctx := context.Background()
	st, org := s.a.Store, s.creds.Organization
	newRole := func(name string, grants ...store.PermissionGrant) store.Role {
		r, err := st.CreateRole(ctx, store.Role{OrgID: org, Name: name, Description: name, FrontendView: "client",
			PermissionGrants: grants})
		noErr(t, err)
		return r
	}
	sees := func(role store.Role) []store.PermissionGrant {
		return []store.PermissionGrant{{PermissionName: "User:GetUserInfo",
			Conditions: map[string]store.Condition{"role_id": {Type: "Equals", Value: role.ID}}}}
	}
	newUser := func(email string, role store.Role) store.User {
		u, err := st.CreateUser(ctx, store.User{OrgID: org, RoleID: role.ID, FirstName: "F", LastName: "L",
			Email: email, Preferences: store.DefaultPreferences()})
		noErr(t, err)
		return u
	}
	plain, other := newRole("plain"), newRole("other")
	viewer := newRole("viewer", sees(plain)...)
	watcher := newUser("watcher@example.com", viewer)
	creds, err := s.a.MintAPIKey(ctx, org, watcher.ID, "", "watcher", time.Now().AddDate(0, 0, 1))
	noErr(t, err)
	newUser("a1@example.com", plain)
	a2 := newUser("a2@example.com", plain)
	newUser("b1@example.com", other)
	_, err = s.a.Snapshot(ctx, "a")
	noErr(t, err)
	_, err = st.UpdateRole(ctx, org, "viewer", func(r *store.Role) error { r.PermissionGrants = sees(other); return nil })
	noErr(t, err)
	noErr(t, st.DeleteUser(ctx, org, a2.ID))
	newUser("b2@example.com", other)
	_, err = s.a.Snapshot(ctx, "b")
	noErr(t, err)

	answers := map[string]bool{"a1@example.com a2@example.com": true, "b1@example.com b2@example.com": true}
	stop := make(chan struct{})
	type tally struct{ ok, mixed, failed int }
	results := make(chan tally)
	// Between restores the clients are given time for a few answers, so
	// requests run before, during and after every restore.
	answered := make(chan struct{}, 1024)
	for range 4 {
		c := s.client(t, creds)
		go func() {
			var n tally
			for {
				select {
				case <-stop:
					results <- n
					return
				default:
				}
				status, body := c.do("GET", "/user/", nil)
				if status != http.StatusOK {
					n.failed++
					t.Errorf("GET /user/ during restores: %d %v", status, body)
					continue
				}
				var emails []string
				for _, u := range body["users"].([]any) {
					emails = append(emails, u.(map[string]any)["email"].(string))
				}
				if got := strings.Join(emails, " "); answers[got] {
					n.ok++
				} else {
					n.mixed++
					t.Errorf("GET /user/ answered %q, a mixture of the two snapshots", got)
				}
				select {
				case answered <- struct{}{}:
				default:
				}
			}
		}()
	}
	for i := range 40 {
		if err := s.a.Restore(ctx, []string{"a", "b"}[i%2]); err != nil {
			t.Fatal(err)
		}
		for range 8 {
			<-answered
		}
	}
	close(stop)
	var total tally
	for range 4 {
		n := <-results
		total.ok, total.mixed, total.failed = total.ok+n.ok, total.mixed+n.mixed, total.failed+n.failed
	}
	if total.ok == 0 {
		t.Errorf("no request was answered during the restores")
	}
	t.Logf("answers: %d consistent, %d mixed, %d failed", total.ok, total.mixed, total.failed)
}

// heldModel is the built-in model, holding every call until release is
// closed; called receives a value as a call arrives.
type heldModel struct {
	llm.Builtin
	called  chan struct{}
	release chan struct{}
}

func (m heldModel) Complete(ctx context.Context, c llm.Call) (llm.Answer, error) {
	select {
	case m.called <- struct{}{}:
	default:
	}
	select {
	case <-m.release:
	case <-ctx.Done():
		return llm.Answer{}, ctx.Err()
	}
	return m.Builtin.Complete(ctx, c)
}

// patience bounds a wait that only a broken server would exhaust, so the
// test fails instead of hanging.
const patience = 10 * time.Second

// receive waits for ch, failing the test after patience.
func receive[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(patience):
		t.Fatalf("waited %v for %s", patience, what)
		panic("unreachable")
	}
}

// TestRestoreWaitsForAStreamedInteraction: a conversation's streamed
// opening, in flight when a restore starts, finishes on the old state;
// the restore waits for it, and a request arriving meanwhile waits too
// and then answers from the restored state.
func TestRestoreWaitsForAStreamedInteraction(t *testing.T) {
	model := heldModel{called: make(chan struct{}, 1), release: make(chan struct{})}
	s := startSnapServer(t, Config{Model: model})
	ctx := context.Background()
	service := s.c.newService("Greeter")
	_, err := s.a.Snapshot(ctx, "before")
	noErr(t, err)
	s.c.newService("Later")

	type streamed struct {
		status int
		events []map[string]any
	}
	opened := make(chan streamed, 1)
	go func() {
		status, events := s.c.openConversation(service)
		opened <- streamed{status, events}
	}()
	receive(t, model.called, "the conversation to ask the model")

	closing := make(chan struct{})
	s.a.gate.closing = func() { close(closing) }
	restored := make(chan error, 1)
	go func() { restored <- s.a.Restore(ctx, "before") }()
	receive(t, closing, "the restore to close the gate")
	type answer struct {
		status int
		body   map[string]any
	}
	late := make(chan answer, 1)
	go func() {
		status, body := s.c.do("GET", "/service/", nil)
		late <- answer{status, body}
	}()
	select {
	case err := <-restored:
		t.Fatalf("the restore finished (%v) while a streamed answer was in flight", err)
	default:
	}

	close(model.release)
	got := receive(t, opened, "the streamed answer")
	if got.status != http.StatusCreated || len(got.events) == 0 || got.events[len(got.events)-1]["type"] != "interaction-complete" {
		t.Fatalf("the streamed answer: %d %v, want 201 ending with interaction-complete", got.status, got.events)
	}
	noErr(t, receive(t, restored, "the restore"))
	after := receive(t, late, "the request that arrived during the restore")
	if services, _ := after.body["services"].([]any); after.status != http.StatusOK || len(services) != 1 {
		t.Errorf("a request made during the restore: got %d %v, want 200 and the snapshot's one service", after.status, after.body)
	}
	if status, body := s.c.do("GET", "/conversation/", nil); status != http.StatusOK || len(body["conversations"].([]any)) != 0 {
		t.Errorf("conversations after the restore: got %d %v, want none", status, body)
	}
}

// TestRestoreGivesUpOnRequestsInFlight: a request that outlasts the drain
// timeout makes the restore fail with ErrRequestsInFlight, changing
// nothing, and the gate opens again at once.
func TestRestoreGivesUpOnRequestsInFlight(t *testing.T) {
	model := heldModel{called: make(chan struct{}, 1), release: make(chan struct{})}
	s := startSnapServer(t, Config{Model: model})
	ctx := context.Background()
	service := s.c.newService("Greeter")
	_, err := s.a.Snapshot(ctx, "before")
	noErr(t, err)
	s.c.newService("Later")
	want := s.c.lists()

	opened := make(chan int, 1)
	go func() {
		status, _ := s.c.openConversation(service)
		opened <- status
	}()
	receive(t, model.called, "the conversation to ask the model")
	s.a.gate.drainTimeout = 50 * time.Millisecond
	err = s.a.Restore(ctx, "before")
	if !errors.Is(err, ErrRequestsInFlight) {
		t.Fatalf("restore with a request held: got %v, want ErrRequestsInFlight", err)
	}
	// The gate is open again while the request is still held.
	if d := diffLists(s.c.lists(), want); len(d) != 0 {
		t.Errorf("after the refused restore: %v", d)
	}
	close(model.release)
	if status := receive(t, opened, "the streamed answer"); status != http.StatusCreated {
		t.Errorf("the held request: got %d, want 201", status)
	}
	// From inside a request, a restore would wait for itself.
	inside := context.WithValue(ctx, insideKey{}, true)
	if err := s.a.Restore(inside, "before"); !errors.Is(err, ErrInsideRequest) {
		t.Errorf("restore inside a request: got %v, want ErrInsideRequest", err)
	}
}

// TestSnapshotNames: names outside the safe set are refused by every
// operation; a missing snapshot is ErrSnapshotNotFound and changes
// nothing; a second snapshot of a name replaces the first; a deleted one
// is gone.
func TestSnapshotNames(t *testing.T) {
	s := startSnapServer(t, Config{})
	ctx := context.Background()
	for _, name := range []string{"", ".hidden", "a/b", "../up", "a b", "ünï", "a.b", strings.Repeat("x", 65)} {
		t.Run("refused "+name, func(t *testing.T) {
			if _, err := s.a.Snapshot(ctx, name); !errors.Is(err, ErrSnapshotName) {
				t.Errorf("snapshot %q: got %v, want ErrSnapshotName", name, err)
			}
			if err := s.a.Restore(ctx, name); !errors.Is(err, ErrSnapshotName) {
				t.Errorf("restore %q: got %v, want ErrSnapshotName", name, err)
			}
			if err := s.a.DeleteSnapshot(ctx, name); !errors.Is(err, ErrSnapshotName) {
				t.Errorf("delete %q: got %v, want ErrSnapshotName", name, err)
			}
		})
	}
	for _, name := range []string{"a", "Seed-1_b", strings.Repeat("x", 64)} {
		if err := CheckSnapshotName(name); err != nil {
			t.Errorf("name %q: %v, want it accepted", name, err)
		}
	}

	_, err := s.a.Snapshot(ctx, "seed")
	noErr(t, err)
	s.c.newService("One")
	one := s.c.lists()
	if err := s.a.Restore(ctx, "missing"); !errors.Is(err, ErrSnapshotNotFound) {
		t.Errorf("restore of a missing snapshot: got %v, want ErrSnapshotNotFound", err)
	}
	if d := diffLists(s.c.lists(), one); len(d) != 0 {
		t.Errorf("after restoring a missing snapshot: %v", d)
	}

	_, err = s.a.Snapshot(ctx, "seed")
	noErr(t, err)
	s.c.newService("Two")
	noErr(t, s.a.Restore(ctx, "seed"))
	if d := diffLists(s.c.lists(), one); len(d) != 0 {
		t.Errorf("restore of a replaced snapshot: %v", d)
	}
	_, err = s.a.Snapshot(ctx, "other")
	noErr(t, err)
	list, err := s.a.Snapshots(ctx)
	noErr(t, err)
	if len(list) != 2 || list[0].Name != "seed" || list[1].Name != "other" || list[0].Bytes == 0 || list[0].Refs != 0 {
		t.Errorf("snapshots: got %+v, want seed then other", list)
	}
	noErr(t, s.a.DeleteSnapshot(ctx, "seed"))
	if err := s.a.Restore(ctx, "seed"); !errors.Is(err, ErrSnapshotNotFound) {
		t.Errorf("restore of a deleted snapshot: got %v, want ErrSnapshotNotFound", err)
	}
	if err := s.a.DeleteSnapshot(ctx, "seed"); !errors.Is(err, ErrSnapshotNotFound) {
		t.Errorf("delete of a deleted snapshot: got %v, want ErrSnapshotNotFound", err)
	}
	entries, err := os.ReadDir(filepath.Join(s.a.cfg.DataDir, SnapshotsDir))
	noErr(t, err)
	if len(entries) != 1 || entries[0].Name() != "other" {
		t.Errorf("snapshot folders: got %v, want only other", entries)
	}
}

// TestSnapshotSurvivesARestart: a snapshot taken before the server
// stops is listed and restored by the next server on the same data
// directory, with its tool branch.
func TestSnapshotSurvivesARestart(t *testing.T) {
	dir := t.TempDir()
	s := startSnapServer(t, Config{DataDir: dir})
	ctx := context.Background()
	repo := filepath.Join(dir, ToolsRepoDir)
	src := newToolSource(t, repo)
	first := src.commit("v1:")
	src.push("main")
	s.c.newService("Kept")
	_, err := s.a.Snapshot(ctx, "kept")
	noErr(t, err)
	want := s.c.lists()
	s.stop()

	s = startSnapServer(t, Config{DataDir: dir})
	s.c.newService("Later")
	src.commit("v2:")
	src.push("main")
	list, err := s.a.Snapshots(ctx)
	noErr(t, err)
	if len(list) != 1 || list[0].Name != "kept" || list[0].Refs != 1 {
		t.Fatalf("snapshots after a restart: got %+v, want kept with one ref", list)
	}
	noErr(t, s.a.Restore(ctx, "kept"))
	if d := diffLists(s.c.lists(), want); len(d) != 0 {
		t.Errorf("restore after a restart: %v", d)
	}
	if got := branchHash(t, repo, "main"); got != first {
		t.Errorf("main after restore: got %s, want %s", got, first)
	}
}

// TestReset: a reset takes the organization back to its first state (its
// lists as at first start, the built-in roles only) while every API key
// still signs its users in, a custom role's holder getting the narrowest
// built-in role that covers it; another organization is untouched. Reset
// of all deletes the other organization too.
func TestReset(t *testing.T) {
	s := startSnapServer(t, Config{})
	ctx := context.Background()
	c, org := s.c, s.creds.Organization
	first := c.lists()

	c.must(http.StatusCreated, "POST", "/role/", map[string]any{"role_name": "Support", "description": "Support",
		"permission_grants": []any{map[string]any{"permission_name": "User:GetUserInfo", "conditions": map[string]any{}}},
		"frontend_view":     "client"})
	support := c.must(http.StatusCreated, "POST", "/user/", map[string]any{"first_name": "Sue", "last_name": "Port",
		"email": "support@example.com", "role_name": "Support"})["user_id"].(string)
	c.must(http.StatusCreated, "POST", "/user/", map[string]any{"first_name": "Plain", "last_name": "User",
		"email": "plain@example.com", "role_name": "DefaultUserRole"})
	supportCreds, err := s.a.MintAPIKey(ctx, org, support, "", "support", time.Now().AddDate(0, 0, 1))
	noErr(t, err)
	later := c.must(http.StatusCreated, "POST", "/organization/api_key/", map[string]any{"name": "later", "duration": "P1D"})
	// A key made by create-api-key holds DefaultAdministratorRole, so it
	// signs in users below the administrator, such as support.
	laterCreds := Credentials{Organization: org, UserID: support, APIKeyID: later["api_key_id"].(string), APIKey: later["api_key"].(string)}
	s.client(t, laterCreds)
	service := c.newService("Greeter")
	if status, _ := c.openConversation(service); status != http.StatusCreated {
		t.Fatalf("open a conversation: %d", status)
	}
	c.must(http.StatusCreated, "POST", "/tool/", map[string]any{"name": "echo", "description": "echo", "tags": map[string]any{}})
	c.must(http.StatusCreated, "POST", "/webhook_destination/", map[string]any{"url": "http://127.0.0.1:1/hook",
		"accepted_types": []any{"conversation-post-processing-complete"}, "retry_attempts": 1})
	c.must(http.StatusNoContent, "POST", "/organization/", map[string]any{"user_dimensions": []any{
		map[string]any{"description": "Mood", "tags": []any{"calm"}}}})
	c.must(http.StatusCreated, "POST", "/role/temporary_permission_grant/", map[string]any{"user_id": support,
		"duration": "PT1H", "permission_grant": map[string]any{"permission_name": "User:DeleteUser", "conditions": map[string]any{}},
		"tags": map[string]any{}, "justification": "Investigating support ticket 456"})

	// A second organization, with data of its own.
	_, otherAdmin, err := s.a.Store.CreateOrganization(ctx, store.NewOrganization{Org: firstOrganization("other"),
		Roles: auth.BuiltinRoles(), Admin: store.User{FirstName: "O", LastName: "A", Email: "admin@other.example",
			Preferences: store.DefaultPreferences()}, AdminRole: auth.DefaultSuperAdministratorRole})
	noErr(t, err)
	otherCreds, err := s.a.MintAPIKey(ctx, "other", otherAdmin.ID, "", "other", time.Now().AddDate(0, 0, 1))
	noErr(t, err)
	other := s.client(t, otherCreds)
	other.newService("Theirs")
	otherBefore := other.lists()

	if err := s.a.Reset(ctx, "missing"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("reset of a missing organization: got %v, want ErrNotFound", err)
	}
	noErr(t, s.a.Reset(ctx, org))

	after := map[string]*snapClient{}
	for name, creds := range map[string]Credentials{"bootstrap": s.creds, "support": supportCreds, "later": laterCreds} {
		after[name] = s.client(t, creds)
	}
	got := after["bootstrap"].lists()
	for _, p := range listPaths {
		switch p {
		case "/organization/", "/user/", "/organization/api_key/":
			continue
		}
		if got[p] != first[p] {
			t.Errorf("%s after reset:\n  got  %.400s\n  want %.400s", p, got[p], first[p])
		}
	}
	users := after["bootstrap"].must(http.StatusOK, "GET", "/user/", nil)["users"].([]any)
	roles := map[string]string{}
	for _, r := range after["bootstrap"].must(http.StatusOK, "GET", "/role/", nil)["roles"].([]any) {
		roles[r.(map[string]any)["id"].(string)] = r.(map[string]any)["name"].(string)
	}
	var kept []string
	for _, u := range users {
		u := u.(map[string]any)
		kept = append(kept, u["email"].(string)+":"+roles[u["role"].(string)])
	}
	if want := "admin@example.com:DefaultSuperAdministratorRole support@example.com:DefaultUserRole"; strings.Join(kept, " ") != want {
		t.Errorf("users after reset: got %v, want %s", kept, want)
	}
	if keys := after["bootstrap"].must(http.StatusOK, "GET", "/organization/api_key/", nil)["api_keys"].([]any); len(keys) != 3 {
		t.Errorf("keys after reset: got %d, want the 3 made", len(keys))
	}
	if d := diffLists(other.lists(), otherBefore); len(d) != 0 {
		t.Errorf("the other organization after the reset: %v", d)
	}

	noErr(t, s.a.Reset(ctx, ""))
	if status, body := other.signIn(otherCreds); status == http.StatusOK {
		t.Errorf("the other organization's key after reset of all: got %d %v, want a refusal", status, body)
	}
	if got := s.client(t, s.creds).lists(); got["/service/"] != first["/service/"] || got["/role/"] != first["/role/"] {
		t.Errorf("the first organization after reset of all: services %s, roles %.200s", got["/service/"], got["/role/"])
	}
	s.client(t, supportCreds)
}
