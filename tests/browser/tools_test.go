package browser_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/chromedp"

	"github.com/compadre-dev/compadre/compadretest"
)

// toolsHostile is what a failing run raises and logs: shown as text it is
// harmless; parsed as markup it would set window.__pwned.
const toolsHostile = `<img src=x onerror="window.__pwned=1"><script>window.__pwned=1</script>`

// toolsProject is a tool project: version 1 echoes its text, version 2
// shouts it after a little work; both log the text and raise it when told
// to fail.
func toolsProject(body string) map[string]string {
	return map[string]string{
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
		"echo/main.py": `import sys


def run(text: str, fail: bool = False) -> str:
    print("handling " + text, file=sys.stderr)
    if fail:
        raise ValueError(text)
` + body,
	}
}

const (
	toolsV1 = "    return text\n"
	toolsV2 = "    sum(range(20000))\n    return text.upper()\n"
)

// toolsGit is a working tree whose commits are pushed to the server's tool
// repository.
type toolsGit struct {
	t   testing.TB
	dir string
}

func newToolsGit(t testing.TB) *toolsGit {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Fatalf("the git command is needed to push tool projects: %v", err)
	}
	g := &toolsGit{t: t, dir: t.TempDir()}
	g.git("init", "-q", "-b", "main")
	return g
}

func (g *toolsGit) git(args ...string) {
	g.t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = g.dir
	cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com",
		"GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com", "GIT_CONFIG_NOSYSTEM=1", "HOME="+g.dir)
	if out, err := cmd.CombinedOutput(); err != nil {
		g.t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// push writes files under dir, commits them and pushes to branch.
func (g *toolsGit) push(remote, branch, dir string, files map[string]string) {
	g.t.Helper()
	for name, content := range files {
		p := filepath.Join(g.dir, dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			g.t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			g.t.Fatal(err)
		}
	}
	g.git("add", "-A")
	g.git("commit", "-q", "--allow-empty", "-m", "tool")
	g.git("push", "-q", "--force", remote, "HEAD:refs/heads/"+branch)
}

// seedTool creates a tool named name and publishes 1.0.0 (echo) and 1.1.0
// (shout) of it from the team branch; it returns the tool's ID.
func seedTool(t testing.TB, srv *compadretest.Server, a *api, name string) string {
	t.Helper()
	g := newToolsGit(t)
	branch := "releases/" + srv.Organization
	var tool struct{ ID string }
	a.call("POST", "/tool/", map[string]any{"name": name, "description": name + " echoes its text", "tags": map[string]any{"team": "console"}}, 201, &tool)
	for i, body := range []string{toolsV1, toolsV2} {
		g.push(srv.ToolsRepo, branch, name, toolsProject(body))
		var out struct {
			NewVersion string `json:"new_version"`
		}
		a.call("POST", "/tool/"+tool.ID+"/version", map[string]any{"project_path": name, "bump_type": []string{"major", "minor"}[i]}, 201, &out)
		if want := []string{"1.0.0", "1.1.0"}[i]; out.NewVersion != want {
			t.Fatalf("published %s, want %s", out.NewVersion, want)
		}
	}
	return tool.ID
}

// toolsInput is one input of invoke-tool-version.
func toolsInput(text string, fail bool) map[string]any {
	return map[string]any{"input_parameters": map[string]any{"text": text, "fail": fail}, "invocation_mode": "regular"}
}

// invokeTool runs version with inputs and checks each run's outcome.
func invokeTool(t testing.TB, a *api, toolID, version string, inputs ...map[string]any) {
	t.Helper()
	var out struct {
		Results []struct {
			Succeeded bool
		} `json:"invocation_results"`
	}
	a.call("POST", "/tool/"+toolID+"/version/"+version+"/invoke", map[string]any{"inputs": inputs}, 200, &out)
	for i, r := range out.Results {
		want := !inputs[i]["input_parameters"].(map[string]any)["fail"].(bool)
		if r.Succeeded != want {
			t.Fatalf("invoke %s input %d: succeeded %v, want %v", version, i, r.Succeeded, want)
		}
	}
}

// toolsWait polls a JavaScript condition until it holds.
func toolsWait(b *browser, js string) {
	b.t.Helper()
	b.run(chromedp.Poll(js, nil, chromedp.WithPollingInterval(25*time.Millisecond)))
}

// TestToolPages publishes a tool in two versions, invokes each (one run
// of each failing, one with a hostile message), and walks the Tools pages:
// the list, the tool with its charts and filters, a failed invocation, an
// invoke and a refused publish from the page.
func TestToolPages(t *testing.T) {
	start := time.Now()
	srv := compadretest.Start(t, compadretest.WithSandbox())
	t.Logf("server with sandbox started in %v", time.Since(start))
	a := newAPI(t, srv)
	seeded := time.Now()
	id := seedTool(t, srv, a, "echo")
	invokeTool(t, a, id, "1.0.0", toolsInput("alpha", false), toolsInput("beta", false), toolsInput(toolsHostile, true))
	invokeTool(t, a, id, "1.1.0", toolsInput("gamma", false), toolsInput("delta", false), toolsInput("boom", true))
	t.Logf("published 2 versions and ran 6 invocations in %v", time.Since(seeded))
	const total = 6

	b := newBrowser(t, srv, 1280, 900)
	b.signIn(srv.Credentials)

	// The list links to the tool and shows its newest version.
	b.visit("#/tools")
	b.waitText("main table", "echo")
	b.waitText("main table tbody tr", "1.1.0")
	row := b.text("main table tbody tr")
	for _, want := range []string{"echo", "echo echoes its text", "1.1.0", "no"} {
		if !strings.Contains(row, want) {
			t.Errorf("tools row %q lacks %q", row, want)
		}
	}
	b.screenshot("tools")

	b.run(chromedp.Click(fmt.Sprintf(`main table a[href="#/tools/%s"]`, id), chromedp.ByQuery))
	b.waitText("main h1", "echo")
	toolsWait(b, fmt.Sprintf(`document.querySelectorAll("main circle.point").length === %d`, total))
	b.waitGone("main .loading")

	// One point per loaded invocation, coloured by version; failures ringed.
	if rows := b.count("main .invocations tbody tr"); rows != total {
		t.Errorf("invocation rows: %d, want %d", rows, total)
	}
	for _, v := range []string{"1.0.0", "1.1.0"} {
		if n := b.count(fmt.Sprintf(`main circle.point[data-version="%s"]`, v)); n != 3 {
			t.Errorf("points of %s: %d, want 3", v, n)
		}
	}
	if n := b.count("main circle.point.failed"); n != 2 {
		t.Errorf("failed points: %d, want 2", n)
	}
	if n := b.count("main circle.failed-point"); n != 2 {
		t.Errorf("failure rings: %d, want 2", n)
	}
	if got := b.text(`main [data-figure="failure-rate"] .n`); got != "33.3%" {
		t.Errorf("failure rate figure %q, want 33.3%%", got)
	}
	var label string
	b.eval(`document.querySelector("main svg.chart[role=img]").getAttribute("aria-label")`, &label)
	if !strings.Contains(label, "6 invocations") || !strings.Contains(label, "2 failed") {
		t.Errorf("chart label %q", label)
	}
	if n := b.count("main svg.chart .axis text"); n < 4 {
		t.Errorf("axis labels: %d", n)
	}
	// A point names itself when the pointer is over it (its ring lets the
	// pointer through to it).
	var at struct{ X, Y float64 }
	b.eval(`(() => { const c = document.querySelector("main circle.point.failed");
		c.scrollIntoView({ block: "center" });
		const r = c.getBoundingClientRect();
		return { x: r.x + r.width / 2, y: r.y + r.height / 2 }; })()`, &at)
	b.run(chromedp.MouseEvent(input.MouseMoved, at.X, at.Y))
	b.waitFor(`document.querySelectorAll("main circle.point.failed > title").length === 1`)
	if tip := b.text("main circle.point.failed > title"); !regexp.MustCompile(`^1\.[01]\.0: [0-9.]+ m?s at \S.* \(failed\)$`).MatchString(tip) {
		t.Errorf("a failed point's tooltip says %q, want its version, duration, time and (failed)", tip)
	}
	for _, v := range []string{"1.0.0", "1.1.0"} {
		var cells []string
		b.eval(fmt.Sprintf(`[...document.querySelectorAll('main table.by-version tr[data-version="%s"] > *')].map(c => c.textContent)`, v), &cells)
		if len(cells) != 6 || cells[0] != v || cells[1] != "3" || cells[4] != "1" || cells[5] != "33.3%" || !strings.HasSuffix(cells[2], "ms") {
			t.Errorf("by-version row of %s: %q", v, cells)
		}
	}
	if n := b.count("main svg.bars rect.bar"); n != 4 {
		t.Errorf("bars: %d, want p50 and p95 of two versions", n)
	}
	if n := b.count("main .panel table tbody tr"); n < total+2 {
		t.Errorf("versions table missing: %d rows in all", n)
	}
	b.screenshot("tool")

	// Filters go into the fragment and narrow list and chart alike.
	b.run(chromedp.SetValue(`main form.filters select[name=version]`, "1.0.0", chromedp.ByQuery),
		chromedp.SetValue(`main form.filters select[name=succeeded]`, "false", chromedp.ByQuery),
		chromedp.Click(`main form.filters button[type=submit]`, chromedp.ByQuery))
	toolsWait(b, `location.hash.includes("version=1.0.0") && location.hash.includes("succeeded=false")`)
	toolsWait(b, `document.querySelectorAll("main .invocations tbody tr").length === 1 && document.querySelectorAll("main circle.point").length === 1`)
	if n := b.count(`main circle.point[data-version="1.0.0"].failed`); n != 1 {
		t.Errorf("filtered points: %d failed of 1.0.0, want 1", n)
	}

	// The failed invocation's page shows the hostile text as text.
	b.run(chromedp.Click(`main .invocations tbody tr a`, chromedp.ByQuery))
	b.waitText("main h1", "Invocation")
	b.waitText("main pre.stack-trace", "ValueError")
	if got := b.text("main pre.exception-message"); got != toolsHostile {
		t.Errorf("exception message %q, want %q", got, toolsHostile)
	}
	if got := b.text("main pre.logs"); !strings.Contains(got, "handling "+toolsHostile) {
		t.Errorf("logs %q lack the hostile line", got)
	}
	summary := b.text("main dl.kv")
	for _, want := range []string{"1.0.0", "failed", "regular-conversation", "none (invoked directly)"} {
		if !strings.Contains(summary, want) {
			t.Errorf("summary %q lacks %q", summary, want)
		}
	}
	var pwned string
	b.eval(`typeof window.__pwned`, &pwned)
	if pwned != "undefined" {
		t.Errorf("window.__pwned is %s: markup from the API ran", pwned)
	}
	if n := b.count("main img, main script"); n != 0 {
		t.Errorf("%d img/script elements in main", n)
	}
	b.screenshot("invocation")

	// Invoke from the page: the result shows, the list and chart grow, and
	// the result links to the new invocation.
	b.visit("#/tools/" + id)
	toolsWait(b, fmt.Sprintf(`document.querySelectorAll("main circle.point").length === %d`, total))
	toolsWait(b, `document.querySelectorAll("main form.form select[name=version] option").length === 2`)
	b.run(chromedp.SetValue(`main form.form select[name=version]`, "1.0.0", chromedp.ByQuery),
		chromedp.SetValue(`main form.form textarea[name=params]`, `{"text": "from the page"}`, chromedp.ByQuery),
		chromedp.Click(`main form.form:has(textarea[name=params]) button[type=submit]`, chromedp.ByQuery))
	b.waitText("main .invoke-result", "from the page")
	toolsWait(b, fmt.Sprintf(`document.querySelectorAll("main circle.point").length === %d`, total+1))
	b.waitText("main .invoke-result", "open the invocation")
	b.run(chromedp.Click(`main .invoke-result a`, chromedp.ByQuery))
	b.waitText("main pre.output", "from the page")

	// A publish the API refuses shows the API's reason.
	b.allow(404, "/version")
	b.visit("#/tools/" + id)
	toolsWait(b, `!!document.querySelector("main input[name=project_path]") && document.querySelector("main input[name=project_path]").value === "echo"`)
	b.run(chromedp.SetValue(`main input[name=project_path]`, "no_such_dir", chromedp.ByQuery),
		chromedp.Click(`main form.form:has(input[name=project_path]) button[type=submit]`, chromedp.ByQuery))
	b.waitText("main form.form:has(input[name=project_path]) .form-out .error", "404")

	// At a phone's width the page still reads. (The harness's signIn waits
	// for the navigation, which a narrow window folds into its menu, so
	// the same tab narrows instead.)
	n := b
	n.run(chromedp.EmulateViewport(420, 860))
	n.visit("#/tools")
	n.visit("#/tools/" + id)
	toolsWait(n, fmt.Sprintf(`document.querySelectorAll("main circle.point").length === %d`, total+1))
	n.waitGone("main .loading")
	var overflow bool
	n.eval(`document.documentElement.scrollWidth > window.innerWidth`, &overflow)
	if overflow {
		t.Errorf("the tool page scrolls sideways at 420 px")
	}
	n.screenshot("tool-narrow")

	// Someone whose role grants nothing sees the tool and its versions
	// (they take no permission) but is told, in the form, that invoking
	// takes one; the page around it stays.
	a.call("POST", "/role/", map[string]any{"role_name": "Onlooker", "description": "sees tools", "permission_grants": []any{}, "frontend_view": "client"}, 201, nil)
	var user struct {
		UserID string `json:"user_id"`
	}
	a.call("POST", "/user/", map[string]any{"first_name": "O", "last_name": "L", "email": "onlooker@example.com", "role_name": "Onlooker"}, 201, &user)
	var key struct {
		APIKey   string `json:"api_key"`
		APIKeyID string `json:"api_key_id"`
	}
	a.call("POST", "/organization/api_key/", map[string]any{"name": "onlooker", "duration": "P1D", "role_name": "Onlooker"}, 201, &key)
	onlooker := srv.Credentials
	onlooker.UserID, onlooker.APIKeyID, onlooker.APIKey = user.UserID, key.APIKeyID, key.APIKey
	b.allow(403, "/invoke")
	b.run(chromedp.EmulateViewport(1280, 900))
	b.run(chromedp.Click(`header button.link`, chromedp.ByQuery), chromedp.WaitVisible(`form.signin`, chromedp.ByQuery))
	b.signIn(onlooker)
	b.visit("#/tools/" + id)
	b.waitText("main .panel", "echo echoes its text")
	b.waitText("main .invocations", "not been invoked")
	toolsWait(b, `document.querySelectorAll("main form.form select[name=version] option").length === 2`)
	b.run(chromedp.Click(`main form.form:has(textarea[name=params]) button[type=submit]`, chromedp.ByQuery))
	b.waitText("main form.form:has(textarea[name=params]) .denied", "Your role does not allow this")
	if got := b.text("main form.form:has(textarea[name=params]) .denied"); !strings.Contains(got, "Tool:InvokeTool") {
		t.Errorf("refusal %q does not name Tool:InvokeTool", got)
	}
	if n := b.count("main table.by-version"); n != 0 {
		t.Errorf("charts drawn with nothing visible")
	}
}
