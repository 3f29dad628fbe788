package httpapi_test

import (
	"net/http"
	"testing"

	"github.com/compadre-dev/compadre/compadretest"
)

// publishEchoTool pushes, creates and publishes version 1.0.0 of a tool
// named name that returns its argument, and returns the tool's ID. The
// server must run with compadretest.WithSandbox(): publishing builds the
// tool. Context graphs and dynamic behaviors use it for tools to refer to.
func publishEchoTool(tb testing.TB, srv *compadretest.Server, c *client, name string) string {
	tb.Helper()
	g := newGitRepo(tb)
	g.write(name, map[string]string{
		"pyproject.toml": `[project]
name = "echo"
version = "0.1.0"
requires-python = ">=3.14"

[tool.ruff]
target-version = "py314"

[tool.amigo]
entrypoint = "echo.main:run"
`,
		"echo/__init__.py": "",
		"echo/main.py":     "def run(text: str) -> str:\n    return text\n",
	})
	g.commitAndPush(srv.ToolsRepo, "releases/"+srv.Organization, name)
	status, body := c.do("POST", "/tool/", map[string]any{"name": name, "description": name + " returns its argument", "tags": map[string]any{}})
	mustStatus(tb, "create tool", status, http.StatusCreated, body)
	id := body["id"].(string)
	status, body = c.do("POST", "/tool/"+id+"/version", map[string]any{"project_path": name, "bump_type": "major"})
	mustStatus(tb, "publish tool", status, http.StatusCreated, body)
	return id
}
