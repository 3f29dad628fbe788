package app

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
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
func gatedServer(t *testing.T, wait time.Duration) (*App, *snapClient, func()) {
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
	c := &snapClient{tb: t, base: srv.URL, org: creds.Organization}
	status, body := c.signIn(creds)
	if status != http.StatusOK {
		t.Fatalf("sign in: %d %v", status, body)
	}
	c.token = body["id_token"].(string)
	return a, c, release
}

// pushEchoTool commits a one-function tool project to the server's tool
// repository and creates the tool; it returns the tool's ID.
func pushEchoTool(t *testing.T, a *App, c *snapClient) string {
	t.Helper()
	src := newToolSource(t, filepath.Join(a.cfg.DataDir, ToolsRepoDir))
	src.commit("")
	src.push("releases/" + c.org)
	status, body := c.do("POST", "/tool/", map[string]any{"name": "echo", "description": "echo", "tags": map[string]any{}})
	if status != http.StatusCreated {
		t.Fatalf("create tool: %d %v", status, body)
	}
	return body["id"].(string)
}

// TestSandboxStartingWindow: while the sandbox starts, /readyz says so
// with a 503, and a publish waits for the sandbox instead of failing.
func TestSandboxStartingWindow(t *testing.T) {
	a, c, release := gatedServer(t, time.Minute)
	status, body := c.raw("GET", "/readyz", nil, nil)
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
		s, b := c.do("POST", "/tool/"+id+"/version", map[string]any{"project_path": "echo", "bump_type": "major"})
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
	status, body = c.raw("GET", "/readyz", nil, nil)
	checks, _ = body["checks"].(map[string]any)
	if status != http.StatusOK || body["status"] != "ready" || checks["sandbox"] != "ok" {
		t.Errorf("readyz once started: %d %v, want 200 ready", status, body)
	}
	status, body = c.do("POST", "/tool/"+id+"/version/1.0.0/invoke",
		map[string]any{"inputs": []any{map[string]any{"input_parameters": map[string]any{"text": "hi"}, "invocation_mode": "regular"}}})
	if status != http.StatusOK {
		t.Fatalf("invoke: %d %v, want 200", status, body)
	}
}

// TestSandboxWaitIsBounded: a request that needs a sandbox still starting
// after SandboxWait gets a 503 that says to retry, and changes nothing.
func TestSandboxWaitIsBounded(t *testing.T) {
	a, c, _ := gatedServer(t, 100*time.Millisecond)
	id := pushEchoTool(t, a, c)
	status, body := c.do("POST", "/tool/"+id+"/version", map[string]any{"project_path": "echo", "bump_type": "major"})
	if status != http.StatusServiceUnavailable || body["retry_after"] != "5" || !strings.Contains(body["detail"].(string), "still starting") {
		t.Errorf("publish past the wait: %d %v, want 503 still starting with Retry-After 5", status, body)
	}
	status, body = c.do("GET", "/tool/"+id+"/version", nil)
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
