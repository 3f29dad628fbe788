// Package browser drives the web console in headless Chromium against a
// server started in-process, as a person would use it: sign in, open
// pages, read what they show. Every test fails on a console error, an
// uncaught exception or a request that failed, unless it says which
// refusal it expects. Screenshots go to COMPADRE_SCREENSHOTS/<test>/ (make
// browser: test-output/screenshots/), or else to the test's artifact
// directory (kept by go test -artifacts -outputdir DIR).
//
// The tests need Chromium: COMPADRE_CHROMIUM names the executable, or
// chromium is looked up on PATH. Without one they are skipped, unless
// COMPADRE_BROWSER_REQUIRED=1 (make test sets it), when they fail.
package browser_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/compadre-dev/compadre/app"
	"github.com/compadre-dev/compadre/compadretest"
)

// chromium finds the browser, or skips (fails when required).
func chromium(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("COMPADRE_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("COMPADRE_BROWSER_REQUIRED") == "1" {
		t.Fatal("no Chromium found: install Debian's chromium package (make browser does) or set COMPADRE_CHROMIUM")
	}
	t.Skip("no Chromium found (set COMPADRE_CHROMIUM, or install chromium); browser tests skipped")
	return ""
}

// screenshotDir is where a test's screenshots go: COMPADRE_SCREENSHOTS/<test>
// when that is set (make browser sets test-output/screenshots), else the
// test's artifact directory.
func screenshotDir(t testing.TB) string {
	if root := os.Getenv("COMPADRE_SCREENSHOTS"); root != "" {
		dir := filepath.Join(root, strings.ReplaceAll(t.Name(), "/", "_"))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	if tt, ok := t.(*testing.T); ok {
		return tt.ArtifactDir()
	}
	return t.TempDir()
}

// browser is one headless Chromium tab on a server's console.
type browser struct {
	t       testing.TB
	srv     *compadretest.Server
	ctx     context.Context
	base    string
	shots   string
	timeout time.Duration

	mu       sync.Mutex
	problems []string
	allowed  []allowance
	// transferred counts the bytes received over the network, by request.
	transferred map[network.RequestID]float64
	urls        map[network.RequestID]string
}

// allowance is a refusal a test expects: a status for a path containing
// a substring.
type allowance struct {
	status int
	path   string
}

// newBrowser opens Chromium at width x height on srv's console.
func newBrowser(t testing.TB, srv *compadretest.Server, width, height int) *browser {
	t.Helper()
	exe := chromium(t)
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe),
		chromedp.WindowSize(width, height),
		chromedp.NoSandbox, // CI runs as root, where Chromium's sandbox cannot start
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("lang", "en-GB"),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	b := &browser{t: t, srv: srv, ctx: ctx, base: srv.BaseURL, timeout: 20 * time.Second,
		transferred: map[network.RequestID]float64{}, urls: map[network.RequestID]string{}}
	b.shots = screenshotDir(t)
	chromedp.ListenTarget(ctx, b.observe)
	if err := chromedp.Run(ctx, network.Enable(), cdplog.Enable(), runtime.Enable(),
		chromedp.EmulateViewport(int64(width), int64(height))); err != nil {
		cancel()
		cancelAlloc()
		t.Fatalf("starting Chromium (%s): %v", exe, err)
	}
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
		b.mu.Lock()
		defer b.mu.Unlock()
		for _, p := range b.problems {
			t.Errorf("browser: %s", p)
		}
	})
	return b
}

// allow expects a status for requests whose path contains path.
func (b *browser) allow(status int, path string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.allowed = append(b.allowed, allowance{status, path})
}

func (b *browser) isAllowed(status int, url string) bool {
	for _, a := range b.allowed {
		if a.status == status && strings.Contains(url, a.path) {
			return true
		}
	}
	return false
}

func (b *browser) observe(ev any) {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch ev := ev.(type) {
	case *runtime.EventExceptionThrown:
		d := ev.ExceptionDetails
		msg := d.Text
		if d.Exception != nil && d.Exception.Description != "" {
			msg = d.Exception.Description
		}
		b.problems = append(b.problems, fmt.Sprintf("uncaught exception: %s (%s:%d)", msg, d.URL, d.LineNumber))
	case *runtime.EventConsoleAPICalled:
		if ev.Type == runtime.APITypeError || ev.Type == runtime.APITypeAssert {
			var parts []string
			for _, a := range ev.Args {
				parts = append(parts, strings.Trim(string(a.Value), `"`)+a.Description)
			}
			b.problems = append(b.problems, "console."+string(ev.Type)+": "+strings.Join(parts, " "))
		}
	case *cdplog.EventEntryAdded:
		e := ev.Entry
		if e.Level != cdplog.LevelError {
			return
		}
		// A refusal the test expects is also logged by Chromium as a
		// failed resource; the response event decides about those.
		if e.Source == cdplog.SourceNetwork && e.URL != "" {
			return
		}
		b.problems = append(b.problems, fmt.Sprintf("log %s: %s %s", e.Source, e.Text, e.URL))
	case *network.EventRequestWillBeSent:
		b.urls[ev.RequestID] = ev.Request.URL
	case *network.EventResponseReceived:
		r := ev.Response
		if r.Status >= 400 && !b.isAllowed(int(r.Status), r.URL) {
			b.problems = append(b.problems, fmt.Sprintf("request failed: %d %s", r.Status, r.URL))
		}
	case *network.EventLoadingFinished:
		b.transferred[ev.RequestID] = ev.EncodedDataLength
	case *network.EventLoadingFailed:
		// A page left while loading aborts its requests: not a failure.
		if ev.Canceled || ev.ErrorText == "net::ERR_ABORTED" {
			return
		}
		b.problems = append(b.problems, fmt.Sprintf("request failed: %s %s", ev.ErrorText, b.urls[ev.RequestID]))
	}
}

// resetTransferred forgets the bytes counted so far.
func (b *browser) resetTransferred() {
	b.mu.Lock()
	defer b.mu.Unlock()
	clear(b.transferred)
}

// transferredBytes is the bytes received since resetTransferred: bodies as
// sent (compressed) with their headers.
func (b *browser) transferredBytes() float64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	var n float64
	for _, v := range b.transferred {
		n += v
	}
	return n
}

// requestedURLs are the URLs of every request the page made.
func (b *browser) requestedURLs() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []string
	for _, u := range b.urls {
		out = append(out, u)
	}
	return out
}

// run runs actions with the browser's timeout.
func (b *browser) run(actions ...chromedp.Action) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, b.timeout)
	defer cancel()
	if err := chromedp.Run(ctx, actions...); err != nil {
		b.screenshot("failure")
		b.t.Fatalf("browser: %v", err)
	}
}

// open loads the console at path (such as "/" or "/#/tools").
func (b *browser) open(path string) {
	b.t.Helper()
	b.run(chromedp.Navigate(b.base + path))
}

// visit goes to a page of the console by its fragment, such as "#/tools",
// as a click on a link would.
func (b *browser) visit(fragment string) {
	b.t.Helper()
	hash := "#" + strings.TrimPrefix(fragment, "#")
	b.run(chromedp.Evaluate(fmt.Sprintf("location.hash = %q", hash), nil))
	b.waitRoute(hash)
}

// waitRoute waits until the page shown is the one for the fragment hash
// (the console draws a page on the hashchange event, a task after the
// fragment changes).
func (b *browser) waitRoute(hash string) {
	b.t.Helper()
	b.waitFor(fmt.Sprintf(`(document.querySelector('.body > main') || {dataset: {}}).dataset.route === %q`, hash))
}

// signIn signs in through the form with an API key.
func (b *browser) signIn(c app.Credentials) {
	b.t.Helper()
	b.open("/")
	b.run(
		chromedp.WaitVisible(`form.signin`, chromedp.ByQuery),
		chromedp.Evaluate(`document.querySelector("input[name=organization]").value = ""`, nil),
		chromedp.SendKeys(`input[name=organization]`, c.Organization, chromedp.ByQuery),
		chromedp.SendKeys(`input[name=user_id]`, c.UserID, chromedp.ByQuery),
		chromedp.SendKeys(`input[name=api_key_id]`, c.APIKeyID, chromedp.ByQuery),
		chromedp.SendKeys(`input[name=api_key]`, c.APIKey, chromedp.ByQuery),
		chromedp.Click(`form.signin button[type=submit]`, chromedp.ByQuery),
		chromedp.WaitVisible(`header.top`, chromedp.ByQuery),
	)
}

// waitText waits until the element sel holds text.
func (b *browser) waitText(sel, text string) {
	b.t.Helper()
	js := fmt.Sprintf(`(() => { const e = document.querySelector(%q); return !!e && e.textContent.includes(%q); })()`, sel, text)
	b.run(chromedp.Poll(js, nil, chromedp.WithPollingInterval(25*time.Millisecond)))
}

// waitFor waits until the JavaScript expression is true.
func (b *browser) waitFor(js string) {
	b.t.Helper()
	b.run(chromedp.Poll(js, nil, chromedp.WithPollingInterval(25*time.Millisecond)))
}

// waitGone waits until nothing matches sel (a page finished loading:
// waitGone(".loading")).
func (b *browser) waitGone(sel string) {
	b.t.Helper()
	b.run(chromedp.Poll(fmt.Sprintf(`document.querySelector(%q) === null`, sel), nil, chromedp.WithPollingInterval(25*time.Millisecond)))
}

// eval evaluates a JavaScript expression into out.
func (b *browser) eval(js string, out any) {
	b.t.Helper()
	b.run(chromedp.Evaluate(js, out))
}

// text is the text of the first element matching sel.
func (b *browser) text(sel string) string {
	b.t.Helper()
	var s string
	b.eval(fmt.Sprintf(`(document.querySelector(%q) || {textContent: ""}).textContent`, sel), &s)
	return s
}

// count is how many elements match sel.
func (b *browser) count(sel string) int {
	b.t.Helper()
	var n int
	b.eval(fmt.Sprintf(`document.querySelectorAll(%q).length`, sel), &n)
	return n
}

// screenshot writes the whole page as name.png to the artifact directory.
func (b *browser) screenshot(name string) {
	var png []byte
	ctx, cancel := context.WithTimeout(b.ctx, b.timeout)
	defer cancel()
	// From the top, or the sticky header lands mid-picture.
	if err := chromedp.Run(ctx, chromedp.Evaluate(`window.scrollTo(0, 0)`, nil), chromedp.FullScreenshot(&png, 100)); err != nil {
		b.t.Logf("screenshot %s: %v", name, err)
		return
	}
	path := filepath.Join(b.shots, name+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		b.t.Errorf("screenshot %s: %v", name, err)
		return
	}
	b.t.Logf("screenshot: %s", path)
}

// api calls the API as the server's administrator, for seeding.
type api struct {
	t     testing.TB
	base  string
	token string
}

func newAPI(t testing.TB, srv *compadretest.Server) *api {
	return &api{t: t, base: srv.BaseURL + "/v1/" + srv.Organization, token: srv.SignIn(t)}
}

// call sends body (JSON unless nil) and decodes the answer into out,
// failing unless the status is want.
func (a *api) call(method, path string, body any, want int, out any) {
	a.t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			a.t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, a.base+path, rd)
	if err != nil {
		a.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+a.token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		a.t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	if res.StatusCode != want {
		a.t.Fatalf("%s %s: %d, want %d: %s", method, path, res.StatusCode, want, raw)
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			a.t.Fatalf("%s %s: %v: %s", method, path, err, raw)
		}
	}
}
