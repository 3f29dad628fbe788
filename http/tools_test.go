package httpapi_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
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
	t.Parallel()
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
	t.Parallel()
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

// TestToolRecords covers the rules of tools and their variables that need
// no sandbox: names, tags, filters, pages, permissions and variables.
func TestToolRecords(t *testing.T) {
	t.Parallel()
	_, c := newTestServer(t)
	create := func(name string, tags map[string]any) (int, map[string]any) {
		return c.do("POST", "/tool/", map[string]any{"name": name, "description": "d", "tags": tags})
	}
	ids := map[string]string{}
	for _, name := range []string{"alpha", "beta", "gamma"} {
		status, body := create(name, map[string]any{"team": name, "shared": nil})
		mustStatus(t, "create "+name, status, http.StatusCreated, body)
		ids[name] = body["id"].(string)
	}
	for _, tc := range []struct {
		name string
		body map[string]any
		want int
	}{
		{"name taken by a live tool", map[string]any{"name": "alpha", "description": "d", "tags": map[string]any{}}, http.StatusConflict},
		{"upper case name", map[string]any{"name": "Alpha", "description": "d", "tags": map[string]any{}}, http.StatusUnprocessableEntity},
		{"name with a dash", map[string]any{"name": "a-b", "description": "d", "tags": map[string]any{}}, http.StatusUnprocessableEntity},
		{"empty description", map[string]any{"name": "x", "description": "", "tags": map[string]any{}}, http.StatusUnprocessableEntity},
		{"missing tags", map[string]any{"name": "x", "description": "d"}, http.StatusUnprocessableEntity},
		{"tag key with punctuation", map[string]any{"name": "x", "description": "d", "tags": map[string]any{"a:b": "c"}}, http.StatusUnprocessableEntity},
	} {
		status, body := c.do("POST", "/tool/", tc.body)
		mustStatus(t, tc.name, status, tc.want, body)
	}
	twentyOne := map[string]any{}
	for i := range 21 {
		twentyOne[fmt.Sprintf("k%d", i)] = "v"
	}
	status, body := create("many_tags", twentyOne)
	mustStatus(t, "21 tags", status, http.StatusUnprocessableEntity, body)

	names := func(body map[string]any) []string {
		var out []string
		for _, x := range body["tools"].([]any) {
			out = append(out, x.(map[string]any)["name"].(string))
		}
		return out
	}
	for _, tc := range []struct {
		query string
		want  string
	}{
		{"?sort_by=-name", "gamma,beta,alpha"},
		{"?sort_by=name&limit=2", "alpha,beta"},
		{"?sort_by=name&limit=2&continuation_token=2", "gamma"},
		{"?tag=team:beta", "beta"},
		{"?tag=team:*&sort_by=name", "alpha,beta,gamma"},
		{"?tag=shared:&sort_by=name", "alpha,beta,gamma"},
		{"?tag=shared:x", ""},
		{"?id=" + ids["gamma"], "gamma"},
		{"?deprecated=true", ""},
	} {
		status, body := c.do("GET", "/tool/"+tc.query, nil)
		mustStatus(t, "list "+tc.query, status, http.StatusOK, body)
		if got := strings.Join(names(body), ","); got != tc.want {
			t.Errorf("list %s: %q, want %q", tc.query, got, tc.want)
		}
	}
	status, body = c.do("GET", "/tool/?sort_by=name&limit=2", nil)
	mustStatus(t, "list", status, http.StatusOK, body)
	if body["has_more"] != true || body["continuation_token"] != float64(2) {
		t.Errorf("first page: has_more %v, continuation_token %v", body["has_more"], body["continuation_token"])
	}
	if tags := fmt.Sprint(body["filter_values"].(map[string]any)["tags"]); tags != "[shared: team:alpha team:beta team:gamma]" {
		t.Errorf("filter_values.tags %s", tags)
	}
	for _, q := range []string{"?limit=0", "?limit=21", "?sort_by=created_at", "?tag=nocolon"} {
		status, body := c.do("GET", "/tool/"+q, nil)
		mustStatus(t, "list "+q, status, http.StatusUnprocessableEntity, body)
	}

	status, body = c.do("POST", "/tool/"+ids["alpha"], map[string]any{"description": "new", "tags": map[string]any{"only": "one"}})
	mustStatus(t, "modify", status, http.StatusNoContent, body)
	status, body = c.do("GET", "/tool/?id="+ids["alpha"], nil)
	mustStatus(t, "list", status, http.StatusOK, body)
	tool := body["tools"].([]any)[0].(map[string]any)
	if tool["description"] != "new" || fmt.Sprint(tool["tags"]) != "[map[key:only value:one]]" {
		t.Errorf("after modify: %v", tool)
	}
	status, body = c.do("POST", "/tool/0123456789abcdef01234567", map[string]any{"description": "x"})
	mustStatus(t, "modify unknown", status, http.StatusNotFound, body)

	envvar := func(req map[string]any) (int, map[string]any) {
		return c.do("POST", "/tool/"+ids["beta"]+"/envvar", req)
	}
	ins := func(name string, secret bool) map[string]any {
		return map[string]any{"name": name, "value": "v", "is_secret": secret}
	}
	status, body = envvar(map[string]any{"inserts": []any{ins("PLAIN", false), ins("SECRET", true)}})
	mustStatus(t, "insert variables", status, http.StatusNoContent, body)
	for _, tc := range []struct {
		name string
		req  map[string]any
		want int
	}{
		{"insert an existing name", map[string]any{"inserts": []any{ins("PLAIN", false)}}, http.StatusConflict},
		{"update an unknown name", map[string]any{"updates": []any{map[string]any{"name": "NOPE", "value": "v"}}}, http.StatusBadRequest},
		{"delete an unknown name", map[string]any{"deletes": []any{map[string]any{"name": "NOPE"}}}, http.StatusBadRequest},
		{"a name twice", map[string]any{"inserts": []any{ins("X", false)}, "deletes": []any{map[string]any{"name": "X"}}}, http.StatusBadRequest},
		{"lower case name", map[string]any{"inserts": []any{ins("lower", false)}}, http.StatusUnprocessableEntity},
		{"digits in a name", map[string]any{"inserts": []any{ins("KEY2", false)}}, http.StatusUnprocessableEntity},
		{"insert and a failing delete", map[string]any{"inserts": []any{ins("NEW", false)}, "deletes": []any{map[string]any{"name": "NOPE"}}}, http.StatusBadRequest},
	} {
		status, body := envvar(tc.req)
		mustStatus(t, tc.name, status, tc.want, body)
	}
	status, body = envvar(map[string]any{"updates": []any{map[string]any{"name": "SECRET", "value": "w"}}, "deletes": []any{map[string]any{"name": "PLAIN"}}})
	mustStatus(t, "update and delete", status, http.StatusNoContent, body)
	status, body = envvar(map[string]any{"inserts": []any{ins("PLAIN", false)}})
	mustStatus(t, "reinsert a name deleted just now", status, http.StatusConflict, body)
	status, body = c.do("GET", "/tool/?id="+ids["beta"], nil)
	mustStatus(t, "list", status, http.StatusOK, body)
	tool = body["tools"].([]any)[0].(map[string]any)
	if fmt.Sprint(tool["envvars"], tool["secret_envvars"]) != "[] [SECRET]" {
		t.Errorf("variables after the changes: %v %v (NEW must not exist: the refused request changed nothing)", tool["envvars"], tool["secret_envvars"])
	}

	// A role without the tool permissions may list but not change.
	viewer := c.keyFor(c.newUser("viewer@example.com", "DefaultUserRole"), "DefaultUserRole")
	status, body = viewer.do("GET", "/tool/", nil)
	mustStatus(t, "viewer lists", status, http.StatusOK, body)
	for _, tc := range []struct{ method, path string }{
		{"POST", "/tool/" + ids["gamma"]}, {"DELETE", "/tool/" + ids["gamma"]}, {"POST", "/tool/" + ids["gamma"] + "/envvar"},
	} {
		status, body := viewer.do(tc.method, tc.path, map[string]any{})
		mustStatus(t, "viewer "+tc.method+" "+tc.path, status, http.StatusForbidden, body)
	}

	status, body = c.do("DELETE", "/tool/"+ids["gamma"], nil)
	mustStatus(t, "deprecate", status, http.StatusNoContent, body)
	status, body = create("gamma", map[string]any{})
	mustStatus(t, "reuse the name", status, http.StatusCreated, body)
	status, body = c.do("GET", "/tool/?deprecated=true", nil)
	mustStatus(t, "list", status, http.StatusOK, body)
	if got := strings.Join(names(body), ","); got != "gamma" {
		t.Errorf("deprecated tools: %q", got)
	}
	status, body = c.do("POST", "/tool/"+ids["alpha"]+"/version/1.0.0/invoke", invokeBody(input(map[string]any{}, "regular")))
	mustStatus(t, "invoke a tool with no versions", status, http.StatusNotFound, body)
}

// TestPublishRules covers what publish, the versions list, deprecation and
// test-tool check, with real builds in the sandbox.
func TestPublishRules(t *testing.T) {
	t.Parallel()
	srv, c := newTestServer(t, compadretest.WithSandbox())
	branch := "releases/" + srv.Organization
	g := newGitRepo(t)
	echo := map[string]string{
		"pyproject.toml":   strings.Replace(weatherTool["pyproject.toml"], "weather.main:forecast", "echo.main:run", 1),
		"echo/__init__.py": "",
		"echo/main.py":     "def run(text: str) -> str:\n    return text\n",
	}
	echo["pyproject.toml"] = strings.Replace(echo["pyproject.toml"], `envvars = ["REGION"]
secret_envvars = ["API_KEY"]`, "", 1)
	g.write("echo", echo)
	g.write("broken", map[string]string{
		"pyproject.toml": "[project]\nname = \"broken\"\nversion = \"1\"\nrequires-python = \">=3.8\"\n\n[tool.amigo]\nentrypoint = \"broken.main:run\"\n",
		"broken/main.py": "def run(text: str) -> str:\n    return text\n",
	})
	g.write("nosyntax", map[string]string{
		"pyproject.toml":     strings.Replace(echo["pyproject.toml"], "echo.main:run", "nosyntax.main:run", 1),
		"nosyntax/main.py":   "def run(text: str) -> str:\n    return text\n",
		"nosyntax/helper.py": "def oops(:\n",
	})
	first := g.commitAndPush(srv.ToolsRepo, branch, "one")
	status, body := c.do("POST", "/tool/", map[string]any{"name": "echo", "description": "d", "tags": map[string]any{}})
	mustStatus(t, "create", status, http.StatusCreated, body)
	id := body["id"].(string)
	publish := func(req map[string]any) (int, map[string]any) {
		return c.do("POST", "/tool/"+id+"/version", req)
	}
	for _, tc := range []struct {
		name  string
		req   map[string]any
		want  int
		shows []string
	}{
		{"a project that breaks the contract", map[string]any{"project_path": "broken", "bump_type": "major"}, http.StatusBadRequest,
			[]string{"requires-python", "target-version"}},
		{"a module that does not compile", map[string]any{"project_path": "nosyntax", "bump_type": "major"}, http.StatusBadRequest,
			[]string{"nosyntax/helper.py:1"}},
		{"a missing project directory", map[string]any{"project_path": "nothere", "bump_type": "major"}, http.StatusNotFound, nil},
		{"the main branch, which does not exist", map[string]any{"repo": "main", "project_path": "echo", "bump_type": "major"}, http.StatusNotFound, nil},
		{"an unknown bump", map[string]any{"project_path": "echo", "bump_type": "huge"}, http.StatusUnprocessableEntity, nil},
	} {
		status, body := publish(tc.req)
		mustStatus(t, tc.name, status, tc.want, body)
		for _, s := range tc.shows {
			if !strings.Contains(detail(body), s) {
				t.Errorf("%s: detail %q does not mention %s", tc.name, detail(body), s)
			}
		}
	}
	for i, bump := range []string{"patch", "minor", "major"} {
		status, body := publish(map[string]any{"project_path": "echo", "bump_type": bump})
		mustStatus(t, "publish "+bump, status, http.StatusCreated, body)
		if want := []string{"1.0.0", "1.1.0", "2.0.0"}[i]; body["new_version"] != want {
			t.Errorf("publish %s gave %v, want %s", bump, body["new_version"], want)
		}
	}
	status, body = publish(map[string]any{"project_path": "echo", "bump_type": "patch"})
	mustStatus(t, "a fourth active version", status, http.StatusBadRequest, body)

	versions := func(query string) string {
		status, body := c.do("GET", "/tool/"+id+"/version"+query, nil)
		mustStatus(t, "versions "+query, status, http.StatusOK, body)
		var out []string
		for _, x := range body["tool_versions"].([]any) {
			v := x.(map[string]any)["version"].(map[string]any)
			out = append(out, fmt.Sprintf("%v.%v.%v", v["major"], v["minor"], v["patch"]))
		}
		return strings.Join(out, ",")
	}
	creator := srv.Organization + "," + srv.UserID
	for _, tc := range []struct{ query, want string }{
		{"", "1.0.0,1.1.0,2.0.0"},
		{"?version_constraint=%3E%3D1.1%2C%3C2", "1.1.0"},
		{"?versions=~%3D1.0", "1.0.0,1.1.0"},
		{"?sort_by=-version.major&sort_by=-version.minor", "2.0.0,1.1.0,1.0.0"},
		{"?limit=1&continuation_token=1", "1.1.0"},
		{"?limit=0", ""},
		{"?creator=" + creator, "1.0.0,1.1.0,2.0.0"},
		{"?creator=" + srv.Organization + ",someone", ""},
		{"?versions=%3E%3D1.1&version_constraint=%3E%3D1.1", "1.1.0,2.0.0"},
	} {
		if got := versions(tc.query); got != tc.want {
			t.Errorf("versions%s: %q, want %q", tc.query, got, tc.want)
		}
	}
	for _, tc := range []struct{ query, wantDetail string }{
		{"?limit=51", "limit"},
		{"?versions=banana", "versions"},
		{"?creator=nocomma", "creator"},
		{"?versions=%3E1&version_constraint=%3E%3D1", `["query","versions"]`},
		{"?versions=%3E1&version_constraint=%3E%3D1", `["query","version_constraint"]`},
	} {
		status, body := c.do("GET", "/tool/"+id+"/version"+tc.query, nil)
		mustStatus(t, "versions "+tc.query, status, http.StatusUnprocessableEntity, body)
		if b, _ := json.Marshal(body["detail"]); !strings.Contains(string(b), tc.wantDetail) {
			t.Errorf("versions%s: detail %s does not name %s", tc.query, b, tc.wantDetail)
		}
	}

	status, body = c.do("DELETE", "/tool/"+id+"/version/banana", nil)
	mustStatus(t, "deprecate with a bad constraint", status, http.StatusBadRequest, body)
	status, body = c.do("DELETE", "/tool/"+id+"/version/%3C1.1", nil)
	mustStatus(t, "deprecate 1.0.0", status, http.StatusNoContent, body)
	if got := versions("?deprecated=true"); got != "1.0.0" {
		t.Errorf("deprecated versions %q, want 1.0.0", got)
	}

	// A branch moved back to an older commit cannot be published.
	g.write("echo", map[string]string{"echo/extra.py": "X = 1\n"})
	g.commitAndPush(srv.ToolsRepo, branch, "two")
	status, body = publish(map[string]any{"project_path": "echo", "bump_type": "patch"})
	mustStatus(t, "publish the newer commit", status, http.StatusCreated, body)
	g.git("push", "-q", "--force", srv.ToolsRepo, first+":refs/heads/"+branch)
	c.do("DELETE", "/tool/"+id+"/version/%3C2", nil)
	status, body = publish(map[string]any{"project_path": "echo", "bump_type": "patch"})
	mustStatus(t, "publish an older commit", status, http.StatusBadRequest, body)
	if !strings.Contains(detail(body), "older") && !strings.Contains(detail(body), "ancestor") {
		t.Errorf("the refusal does not say the commit is older: %q", detail(body))
	}

	// test-tool runs a branch tip with the request's variables.
	g.write("weather", weatherTool)
	g.commitAndPush(srv.ToolsRepo, "feature", "weather")
	testReq := func(plain, secret map[string]any) (int, map[string]any) {
		return c.do("POST", "/tool/test", map[string]any{
			"commit_branch": "feature", "project_path": "weather", "required_envvars": plain, "required_secret_envvars": secret,
			"inputs": []any{input(map[string]any{"city": "oslo"}, "conversation-simulation")},
		})
	}
	status, body = testReq(map[string]any{"REGION": "no"}, map[string]any{"API_KEY": "s3cret"})
	mustStatus(t, "test", status, http.StatusOK, body)
	if out := result(t, body, 0)["output"].(string); !strings.Contains(out, `"key_seen": true`) || !strings.Contains(out, `"region": "no"`) {
		t.Errorf("test run output %s", out)
	}
	status, body = testReq(map[string]any{"REGION": "no"}, map[string]any{})
	mustStatus(t, "test without a required secret", status, http.StatusBadRequest, body)
	status, body = testReq(map[string]any{"REGION": "no", "API_KEY": "x"}, map[string]any{"API_KEY": "s3cret"})
	mustStatus(t, "test with a variable both secret and not", status, http.StatusBadRequest, body)
	status, body = c.do("GET", "/tool/invocation?tool_id="+id+"&version=", nil)
	mustStatus(t, "history", status, http.StatusOK, body)
	if n := len(body["tool_invocations"].([]any)); n != 0 {
		t.Errorf("test runs were recorded: %d invocations", n)
	}
}
