package httpapi_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/compadre-dev/compadre/compadretest"
)

// weatherTool is a tool project that reads a secret, logs a token and
// answers differently per invocation mode.
var weatherTool = map[string]string{
	"pyproject.toml": `[project]
name = "weather"
version = "0.1.0"
requires-python = ">=3.14"

[tool.ruff]
target-version = "py314"

[tool.amigo]
entrypoint = "weather.main:forecast"
envvars = ["REGION"]
secret_envvars = ["API_KEY"]
`,
	"weather/__init__.py": "",
	"weather/main.py": `import logging
import os
from typing import Literal

log = logging.getLogger("weather")


def forecast(city: str, days: int = 1, unit: Literal["c", "f"] = "c", invocation_mode: str = "regular") -> dict:
    """Forecast for a city."""
    log.info("looked up %s with token zq7marker", city)
    if city == "nowhere":
        raise ValueError("no such city: " + city)
    return {
        "city": city,
        "days": days,
        "unit": unit,
        "mode": invocation_mode,
        "env_mode": os.environ.get("INVOCATION_MODE"),
        "region": os.environ.get("REGION"),
        "key_seen": os.environ.get("API_KEY") == "s3cret",
        "home_visible": "HOME" in os.environ,
    }
`,
}

// gitRepo is a working tree whose commits are pushed to a server's tools
// repository, as a user would push them.
type gitRepo struct {
	t   testing.TB
	dir string
}

func newGitRepo(t testing.TB) *gitRepo {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Fatalf("the git command is needed to push tool projects: %v", err)
	}
	g := &gitRepo{t: t, dir: t.TempDir()}
	g.git("init", "-q", "-b", "main")
	return g
}

func (g *gitRepo) git(args ...string) string {
	g.t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = g.dir
	cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com",
		"GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com", "GIT_CONFIG_NOSYSTEM=1", "HOME="+g.dir)
	out, err := cmd.CombinedOutput()
	if err != nil {
		g.t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// write puts files under dir in the working tree.
func (g *gitRepo) write(dir string, files map[string]string) {
	g.t.Helper()
	for name, content := range files {
		path := filepath.Join(g.dir, dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			g.t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			g.t.Fatal(err)
		}
	}
}

// commitAndPush commits everything and pushes HEAD to branch of remote.
func (g *gitRepo) commitAndPush(remote, branch, msg string) string {
	g.t.Helper()
	g.git("add", "-A")
	g.git("commit", "-q", "--allow-empty", "-m", msg)
	g.git("push", "-q", "--force", remote, "HEAD:refs/heads/"+branch)
	return g.git("rev-parse", "HEAD")
}

// untar extracts a .tar.gz into the working tree.
func (g *gitRepo) untar(archive []byte) {
	g.t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(archive))
	if err != nil {
		g.t.Fatal(err)
	}
	tr := tar.NewReader(zr)
	files := map[string]string{}
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			g.t.Fatal(err)
		}
		if h.Typeflag != tar.TypeReg {
			continue
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			g.t.Fatal(err)
		}
		files[h.Name] = string(b)
	}
	g.write("", files)
}

func invokeBody(inputs ...map[string]any) map[string]any {
	return map[string]any{"inputs": inputs}
}

func input(params map[string]any, mode string) map[string]any {
	return map[string]any{"input_parameters": params, "invocation_mode": mode}
}

func result(t *testing.T, body map[string]any, i int) map[string]any {
	t.Helper()
	results, _ := body["invocation_results"].([]any)
	if len(results) <= i {
		t.Fatalf("no result %d in %v", i, body)
	}
	return results[i].(map[string]any)
}

// TestToolLifecycle walks a tool through everything a user does with it,
// over HTTP, with a real git push and real runs in the sandbox.
func TestToolLifecycle(t *testing.T) {
	srv, c := newTestServer(t, compadretest.WithSandbox())
	branch := "releases/" + srv.Organization
	g := newGitRepo(t)

	// The scaffold publishes and runs unchanged.
	status, archive := c.raw("GET", "/v1/"+c.org+"/tool/amigo_tool_scaffold.tar.gz", nil,
		map[string]string{"Authorization": "Bearer " + c.token})
	mustStatus(t, "scaffold", status, http.StatusOK, string(archive))
	g.untar(archive)
	g.write("weather", weatherTool)
	commit := g.commitAndPush(srv.ToolsRepo, branch, "first")

	status, body := c.do("POST", "/tool/", map[string]any{"name": "scaffold", "description": "the scaffold", "tags": map[string]any{}})
	mustStatus(t, "create scaffold tool", status, http.StatusCreated, body)
	scaffoldID := body["id"].(string)
	status, body = c.do("POST", "/tool/"+scaffoldID+"/version", map[string]any{"project_path": "amigo_tool_scaffold", "bump_type": "major"})
	mustStatus(t, "publish scaffold", status, http.StatusCreated, body)
	if body["new_version"] != "1.0.0" {
		t.Errorf("first version %v, want 1.0.0", body["new_version"])
	}

	status, body = c.do("POST", "/tool/", map[string]any{"name": "weather", "description": "forecasts", "tags": map[string]any{"team": "ops", "beta": nil}})
	mustStatus(t, "create tool", status, http.StatusCreated, body)
	id := body["id"].(string)

	// Publishing before the variables exist is refused.
	status, body = c.do("POST", "/tool/"+id+"/version", map[string]any{"repo": "team", "project_path": "weather", "bump_type": "major"})
	mustStatus(t, "publish without variables", status, http.StatusBadRequest, body)
	if !strings.Contains(detail(body), "API_KEY") {
		t.Errorf("the refusal does not name the missing variable: %v", body)
	}
	status, body = c.do("POST", "/tool/"+id+"/envvar", map[string]any{"inserts": []any{
		map[string]any{"name": "API_KEY", "value": "s3cret", "is_secret": true},
		map[string]any{"name": "REGION", "value": "eu", "is_secret": false},
	}})
	mustStatus(t, "add variables", status, http.StatusNoContent, body)

	status, body = c.do("POST", "/tool/"+id+"/version", map[string]any{"repo": "team", "project_path": "weather", "bump_type": "major"})
	mustStatus(t, "publish", status, http.StatusCreated, body)
	if body["new_version"] != "1.0.0" {
		t.Errorf("first version %v, want 1.0.0", body["new_version"])
	}
	status, body = c.do("GET", "/tool/"+id+"/version", nil)
	mustStatus(t, "versions", status, http.StatusOK, body)
	versions := body["tool_versions"].([]any)
	v := versions[0].(map[string]any)
	if v["tool_commit_hash"] != commit || v["project_directory"] != "weather" || v["tool_repo"] != "team" {
		t.Errorf("version records %v, want commit %s of weather in team", v, commit)
	}
	schema := v["input_schema"].(map[string]any)
	props := schema["properties"].(map[string]any)
	if _, ok := props["invocation_mode"]; ok || props["city"] == nil || props["days"] == nil {
		t.Errorf("derived schema %v", schema)
	}

	// The secret never comes back.
	status, body = c.do("GET", "/tool/?id="+id, nil)
	mustStatus(t, "list tools", status, http.StatusOK, body)
	if s := string(mustJSON(t, body)); strings.Contains(s, "s3cret") || !strings.Contains(s, `"secret_envvars":["API_KEY"]`) {
		t.Errorf("tool listing: %s", s)
	}

	status, body = c.do("POST", "/tool/"+id+"/version/1.0.0/invoke", invokeBody(
		input(map[string]any{"city": "zurich", "days": 3}, "regular"),
		input(map[string]any{"city": "bern"}, "conversation-simulation"),
		input(map[string]any{"city": "nowhere"}, "regular"),
	))
	mustStatus(t, "invoke", status, http.StatusOK, body)
	first, second, third := result(t, body, 0), result(t, body, 1), result(t, body, 2)
	for _, want := range []string{`"city": "zurich"`, `"days": 3`, `"mode": "regular"`, `"env_mode": "regular"`,
		`"region": "eu"`, `"key_seen": true`, `"home_visible": false`} {
		if first["succeeded"] != true || !strings.Contains(first["output"].(string), want) {
			t.Errorf("regular run %v lacks %s", first, want)
		}
	}
	if !strings.Contains(second["output"].(string), `"mode": "conversation-simulation"`) ||
		!strings.Contains(second["output"].(string), `"env_mode": "conversation-simulation"`) {
		t.Errorf("simulation run %v", second)
	}
	if third["succeeded"] != false || third["exception_type"] != "ValueError" || third["exception_message"] != "no such city: nowhere" {
		t.Errorf("failing run %v", third)
	}

	// Inputs are checked against the schema before anything runs.
	status, body = c.do("POST", "/tool/"+id+"/version/1.0.0/invoke", invokeBody(
		input(map[string]any{"city": 5, "unit": "k"}, "regular"), input(map[string]any{}, "regular")))
	mustStatus(t, "invoke with bad inputs", status, http.StatusBadRequest, body)
	for _, want := range []string{"inputs[0].input_parameters.city", "inputs[0].input_parameters.unit", "inputs[1]"} {
		if !strings.Contains(detail(body), want) {
			t.Errorf("the refusal %q does not name %s", detail(body), want)
		}
	}
	eleven := make([]map[string]any, 11)
	for i := range eleven {
		eleven[i] = input(map[string]any{"city": "x"}, "regular")
	}
	status, body = c.do("POST", "/tool/"+id+"/version/1.0.0/invoke", invokeBody(eleven...))
	mustStatus(t, "invoke with 11 inputs", status, http.StatusUnprocessableEntity, body)

	// History holds every run, failures too, and search finds what was logged.
	status, body = c.do("GET", "/tool/invocation?tool_id="+id+"&version=%3E%3D1%2C%3C2", nil)
	mustStatus(t, "history", status, http.StatusOK, body)
	if n := len(body["tool_invocations"].([]any)); n != 3 {
		t.Errorf("history has %d invocations, want 3: %v", n, body)
	}
	status, body = c.do("GET", "/tool/invocation?tool_id="+id, nil)
	mustStatus(t, "history with unequal tool_id and version", status, http.StatusBadRequest, body)
	status, body = c.do("GET", "/tool/invocation?succeeded=false", nil)
	mustStatus(t, "failed history", status, http.StatusOK, body)
	if invs := body["tool_invocations"].([]any); len(invs) != 1 ||
		invs[0].(map[string]any)["invocation_status"].(map[string]any)["exception_type"] != "ValueError" {
		t.Errorf("failed invocations: %v", body)
	}
	status, body = c.do("GET", "/tool/invocation/search?query=zq7marker", nil)
	mustStatus(t, "search", status, http.StatusOK, body)
	if n := len(body["tool_invocations"].([]any)); n != 3 {
		t.Errorf("search for the logged token found %d, want 3", n)
	}
	status, body = c.do("GET", "/tool/invocation/search?query=nowhere&query_against=invocation_status.exception_message", nil)
	mustStatus(t, "search messages", status, http.StatusOK, body)
	if n := len(body["tool_invocations"].([]any)); n != 1 {
		t.Errorf("search of exception messages found %d, want 1", n)
	}

	// A variable a live version requires cannot be deleted.
	status, body = c.do("POST", "/tool/"+id+"/envvar", map[string]any{"deletes": []any{map[string]any{"name": "API_KEY"}}})
	mustStatus(t, "delete a required variable", status, http.StatusBadRequest, body)

	// Deprecated versions do not run; a deprecated tool frees its name.
	status, body = c.do("DELETE", "/tool/"+id+"/version/%3C2", nil)
	mustStatus(t, "deprecate versions", status, http.StatusNoContent, body)
	status, body = c.do("POST", "/tool/"+id+"/version/1.0.0/invoke", invokeBody(input(map[string]any{"city": "x"}, "regular")))
	mustStatus(t, "invoke a deprecated version", status, http.StatusBadRequest, body)
	status, body = c.do("POST", "/tool/"+id+"/envvar", map[string]any{"deletes": []any{map[string]any{"name": "API_KEY"}}})
	mustStatus(t, "delete a variable no live version requires", status, http.StatusNoContent, body)
	status, body = c.do("DELETE", "/tool/"+id, nil)
	mustStatus(t, "deprecate tool", status, http.StatusNoContent, body)
	status, body = c.do("GET", "/tool/?id="+id, nil)
	mustStatus(t, "list deprecated", status, http.StatusOK, body)
	if body["tools"].([]any)[0].(map[string]any)["deprecated"] != true {
		t.Errorf("tool not deprecated: %v", body)
	}
	status, body = c.do("POST", "/tool/", map[string]any{"name": "weather", "description": "again", "tags": map[string]any{}})
	mustStatus(t, "reuse a deprecated tool's name", status, http.StatusCreated, body)
}

// TestPublishIsSerializedPerTool sends two publishes of one tool at once:
// one builds, the other is told a related operation is in progress.
func TestPublishIsSerializedPerTool(t *testing.T) {
	srv, c := newTestServer(t, compadretest.WithSandbox())
	g := newGitRepo(t)
	slow := map[string]string{}
	for k, v := range weatherTool {
		slow[k] = v
	}
	slow["pyproject.toml"] = strings.Replace(weatherTool["pyproject.toml"], `envvars = ["REGION"]
secret_envvars = ["API_KEY"]`, "", 1)
	// Importing the module takes a second, so the builds overlap.
	slow["weather/main.py"] = "import time\ntime.sleep(1)\n" + weatherTool["weather/main.py"]
	g.write("weather", slow)
	g.commitAndPush(srv.ToolsRepo, "releases/"+srv.Organization, "slow")
	status, body := c.do("POST", "/tool/", map[string]any{"name": "slow", "description": "d", "tags": map[string]any{}})
	mustStatus(t, "create", status, http.StatusCreated, body)
	id := body["id"].(string)

	statuses := make([]int, 2)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range statuses {
		wg.Go(func() {
			<-start
			statuses[i], _ = c.do("POST", "/tool/"+id+"/version", map[string]any{"project_path": "weather", "bump_type": "minor"})
		})
	}
	close(start)
	wg.Wait()
	if !(statuses[0] == http.StatusCreated && statuses[1] == http.StatusConflict) &&
		!(statuses[0] == http.StatusConflict && statuses[1] == http.StatusCreated) {
		t.Fatalf("concurrent publishes answered %v, want one 201 and one 409", statuses)
	}
	status, body = c.do("GET", "/tool/"+id+"/version", nil)
	mustStatus(t, "versions", status, http.StatusOK, body)
	if n := len(body["tool_versions"].([]any)); n != 1 {
		t.Errorf("%d versions after the race, want 1", n)
	}
}

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
