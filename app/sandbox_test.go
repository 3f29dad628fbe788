package app

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/compadre-dev/compadre/wasmrt"
)

// gatedServer opens a server whose sandbox stays starting until the
// returned release is called, then opens the real sandbox (from the
// shared test cache). It returns the API's URL and a signed-in client.
func gatedServer(t *testing.T, wait time.Duration) (*App, *apiClient, func()) {
	t.Helper()
	gate := make(chan struct{})
	var once sync.Once
	release := func() { once.Do(func() { close(gate) }) }
	cfg := Config{DataDir: t.TempDir(), Sandbox: true, SandboxWait: wait,
		openSandbox: func(ctx context.Context, cacheDir string, limits wasmrt.Limits) (*wasmrt.Runtime, error) {
			select {
			case <-gate:
			case <-ctx.Done():
				return nil, ctx.Err()
			}
			return openSandbox(ctx, cacheDir, limits)
		}}
	if base, err := os.UserCacheDir(); err == nil {
		cfg.SandboxCacheDir = filepath.Join(base, "compadre-test", "wazero")
	}
	a, err := Open(context.Background(), cfg, "http://unused")
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(a.API)
	t.Cleanup(func() {
		srv.Close()
		// Closing first cancels a start still held at the gate.
		if err := a.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
		release()
	})
	creds, err := ReadCredentials(cfg.DataDir)
	if err != nil {
		t.Fatal(err)
	}
	c := &apiClient{t: t, base: srv.URL, org: creds.Organization}
	status, body := c.do("POST", "/v1/"+c.org+"/user/signin_with_api_key", nil, map[string]string{
		"x-api-key": creds.APIKey, "x-api-key-id": creds.APIKeyID, "x-user-id": creds.UserID})
	if status != http.StatusOK {
		t.Fatalf("sign in: %d %v", status, body)
	}
	c.token = body["id_token"].(string)
	return a, c, release
}

type apiClient struct {
	t                *testing.T
	base, org, token string
}

// do sends a JSON request and returns the status and decoded body, with
// the response's Retry-After as body["retry_after"].
func (c *apiClient) do(method, path string, body any, header map[string]string) (int, map[string]any) {
	c.t.Helper()
	var rd *bytes.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	} else {
		rd = bytes.NewReader(nil)
	}
	req, _ := http.NewRequest(method, c.base+path, rd)
	req.Header.Set("Content-Type", "application/json")
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Errorf("%s %s: %v", method, path, err)
		return 0, nil
	}
	defer resp.Body.Close()
	out := map[string]any{}
	_ = json.NewDecoder(resp.Body).Decode(&out)
	if ra := resp.Header.Get("Retry-After"); ra != "" {
		out["retry_after"] = ra
	}
	return resp.StatusCode, out
}

// pushEchoTool commits a one-function tool project to the server's tool
// repository and creates the tool; it returns the tool's ID.
func pushEchoTool(t *testing.T, a *App, c *apiClient) string {
	t.Helper()
	dir := t.TempDir()
	files := map[string]string{
		"echo/pyproject.toml": "[project]\nname = \"echo\"\nversion = \"0.1.0\"\nrequires-python = \">=3.14\"\n\n" +
			"[tool.ruff]\ntarget-version = \"py314\"\n\n[tool.amigo]\nentrypoint = \"echo.main:run\"\n",
		"echo/echo/__init__.py": "",
		"echo/echo/main.py":     "def run(text: str) -> str:\n    return text\n",
	}
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	git := func(args ...string) {
		cmd := exec.Command("git", args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com",
			"GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com", "GIT_CONFIG_NOSYSTEM=1", "HOME="+dir)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	git("init", "-q", "-b", "main")
	git("add", "-A")
	git("commit", "-q", "-m", "echo")
	git("push", "-q", filepath.Join(a.cfg.DataDir, ToolsRepoDir), "HEAD:refs/heads/releases/"+c.org)
	status, body := c.do("POST", "/v1/"+c.org+"/tool/", map[string]any{"name": "echo", "description": "echo", "tags": map[string]any{}}, nil)
	if status != http.StatusCreated {
		t.Fatalf("create tool: %d %v", status, body)
	}
	return body["id"].(string)
}

// TestSandboxStartingWindow: while the sandbox starts, /readyz says so
// with a 503, and a publish waits for the sandbox instead of failing.
func TestSandboxStartingWindow(t *testing.T) {
	a, c, release := gatedServer(t, time.Minute)
	status, body := c.do("GET", "/readyz", nil, nil)
	checks, _ := body["checks"].(map[string]any)
	if status != http.StatusServiceUnavailable || body["status"] != "starting" || checks["sandbox"] != "starting" || body["retry_after"] == nil {
		t.Errorf("readyz while starting: %d %v, want 503 starting with Retry-After", status, body)
	}
	id := pushEchoTool(t, a, c)

	type answer struct {
		status int
		body   map[string]any
	}
	published := make(chan answer, 1)
	go func() {
		s, b := c.do("POST", "/v1/"+c.org+"/tool/"+id+"/version", map[string]any{"project_path": "echo", "bump_type": "major"}, nil)
		published <- answer{s, b}
	}()
	select {
	case got := <-published:
		t.Fatalf("publish answered %d %v while the sandbox was starting, want it to wait", got.status, got.body)
	case <-time.After(300 * time.Millisecond):
	}
	release()
	got := <-published
	if got.status != http.StatusCreated || got.body["new_version"] != "1.0.0" {
		t.Fatalf("publish after the sandbox started: %d %v, want 201 1.0.0", got.status, got.body)
	}
	status, body = c.do("GET", "/readyz", nil, nil)
	checks, _ = body["checks"].(map[string]any)
	if status != http.StatusOK || body["status"] != "ready" || checks["sandbox"] != "ok" {
		t.Errorf("readyz once started: %d %v, want 200 ready", status, body)
	}
	status, body = c.do("POST", "/v1/"+c.org+"/tool/"+id+"/version/1.0.0/invoke",
		map[string]any{"inputs": []any{map[string]any{"input_parameters": map[string]any{"text": "hi"}, "invocation_mode": "regular"}}}, nil)
	if status != http.StatusOK {
		t.Fatalf("invoke: %d %v, want 200", status, body)
	}
}

// TestSandboxWaitIsBounded: a request that needs a sandbox still starting
// after SandboxWait gets a 503 that says to retry, and changes nothing.
func TestSandboxWaitIsBounded(t *testing.T) {
	a, c, _ := gatedServer(t, 100*time.Millisecond)
	id := pushEchoTool(t, a, c)
	status, body := c.do("POST", "/v1/"+c.org+"/tool/"+id+"/version", map[string]any{"project_path": "echo", "bump_type": "major"}, nil)
	if status != http.StatusServiceUnavailable || body["retry_after"] != "5" || !strings.Contains(body["detail"].(string), "still starting") {
		t.Errorf("publish past the wait: %d %v, want 503 still starting with Retry-After 5", status, body)
	}
	status, body = c.do("GET", "/v1/"+c.org+"/tool/"+id+"/version", nil, nil)
	if versions, _ := body["tool_versions"].([]any); status != http.StatusOK || len(versions) != 0 {
		t.Errorf("versions after the refused publish: %d %v, want none", status, body)
	}
}

// TestNoSandboxIsReadyAtOnce: a server without a sandbox is ready as soon
// as it is open.
func TestNoSandboxIsReadyAtOnce(t *testing.T) {
	a, err := Open(context.Background(), Config{DataDir: t.TempDir()}, "http://unused")
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	rec := httptest.NewRecorder()
	a.API.ServeHTTP(rec, httptest.NewRequest("GET", "/readyz", nil))
	if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `"status":"ready"`) || strings.Contains(rec.Body.String(), "sandbox") {
		t.Errorf("readyz: %d %s, want 200 ready without a sandbox check", rec.Code, rec.Body)
	}
}
