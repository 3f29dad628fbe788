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
	go func() { done <- a.Serve(ctx, l, 5*time.Second) }()
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
	s.git("commit", "-q", "--allow-empty", "-m", prefix)
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

// errorsIs reports whether err matches target, for table rows.
func errorsIs(err, target error) bool {
	if target == nil {
		return err == nil
	}
	return errors.Is(err, target)
}
