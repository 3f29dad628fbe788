package browser_test

import (
	"bytes"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/compadre-dev/compadre/compadretest"
)

// syncBuffer is a log sink safe for the server's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestTokenStaysOutOfURLsAndLogs signs in with an API key, walks a few
// pages and signs out; neither the key nor the token appears in any URL
// the browser requested or in the server's log, and signing out forgets
// the token.
func TestTokenStaysOutOfURLsAndLogs(t *testing.T) {
	var logs syncBuffer
	srv := compadretest.Start(t, compadretest.WithLogger(slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))))
	b := newBrowser(t, srv, 1280, 900)
	b.signIn(srv.Credentials)
	b.waitGone("main .loading")
	var token string
	b.eval(`JSON.parse(sessionStorage.getItem('compadre.session')).token`, &token)
	if len(token) < 20 {
		t.Fatalf("no token in session storage: %q", token)
	}
	for _, page := range []string{"#/tools", "#/conversations", "#/users"} {
		b.visit(page)
		b.waitGone("main .loading")
	}
	b.screenshot("overview")
	var href string
	b.eval(`location.href`, &href)
	for _, secret := range []string{token, srv.APIKey} {
		for _, u := range b.requestedURLs() {
			if strings.Contains(u, secret) {
				t.Errorf("a requested URL holds a secret: %s", u)
			}
		}
		if strings.Contains(href, secret) {
			t.Errorf("the page's URL holds a secret: %s", href)
		}
		if strings.Contains(logs.String(), secret) {
			t.Error("the server's log holds a secret")
		}
	}
	if len(b.requestedURLs()) < 5 {
		t.Fatalf("only %d requests seen", len(b.requestedURLs()))
	}

	b.run(chromedp.Click(`header button.link`, chromedp.ByQuery), chromedp.WaitVisible(`form.signin`, chromedp.ByQuery))
	var left string
	b.eval(`sessionStorage.getItem('compadre.session') || ''`, &left)
	if left != "" {
		t.Errorf("signing out left the session: %s", left)
	}
}

// TestKeyboard signs in and moves between pages with the keyboard only:
// the form's fields and the navigation are reached by Tab, a link followed
// by Enter, and the new page's heading takes the focus.
func TestKeyboard(t *testing.T) {
	srv := compadretest.Start(t)
	b := newBrowser(t, srv, 1280, 900)
	b.open("/")
	b.run(chromedp.WaitVisible(`form.signin`, chromedp.ByQuery),
		chromedp.Focus(`input[name=user_id]`, chromedp.ByQuery),
		chromedp.KeyEvent(srv.UserID+kb.Tab+srv.APIKeyID+kb.Tab+srv.APIKey+kb.Enter),
		chromedp.WaitVisible(`header.top`, chromedp.ByQuery))
	b.waitGone("main .loading")
	// Tab from the top of the page until the Tools link has the focus.
	b.run(chromedp.Evaluate(`document.activeElement.blur()`, nil))
	for i := 0; ; i++ {
		if i == 30 {
			t.Fatal("Tab never reached the Tools link")
		}
		b.run(chromedp.KeyEvent(kb.Tab))
		var at string
		b.eval(`document.activeElement.getAttribute('data-nav') || ''`, &at)
		if at == "#/tools" {
			break
		}
	}
	b.run(chromedp.KeyEvent(kb.Enter))
	b.waitFor(`location.hash === '#/tools' && document.activeElement.tagName === 'H1'`)
	if got := b.text(`nav a[aria-current=page]`); got != "Tools" {
		t.Errorf("current navigation item %q, want Tools", got)
	}
}

// TestNarrowWindow: at phone width the navigation folds behind a Menu
// button, opens on it, and closes once a page is chosen.
func TestNarrowWindow(t *testing.T) {
	srv := compadretest.Start(t)
	b := newBrowser(t, srv, 400, 800)
	b.signIn(srv.Credentials)
	b.waitGone("main .loading")
	visible := func(sel string) bool {
		var v bool
		b.eval(`(() => { const e = document.querySelector(`+"`"+sel+"`"+`); return !!e && e.offsetParent !== null; })()`, &v)
		return v
	}
	if visible("nav") || !visible("button.menu") {
		t.Fatal("at 400 px the navigation should be folded behind the Menu button")
	}
	var overflow bool
	b.eval(`document.documentElement.scrollWidth > window.innerWidth`, &overflow)
	if overflow {
		t.Error("the overview scrolls sideways at 400 px")
	}
	b.screenshot("overview-narrow")
	b.run(chromedp.Click(`button.menu`, chromedp.ByQuery))
	if !visible("nav") {
		t.Fatal("Menu did not open the navigation")
	}
	b.screenshot("menu-narrow")
	b.run(chromedp.Click(`nav a[data-nav="#/users"]`, chromedp.ByQuery))
	b.waitRoute("#/users")
	b.waitGone("main .loading")
	if visible("nav") {
		t.Error("the navigation stayed open after choosing a page")
	}
}

// TestTimesInTheViewersZone: a viewer half an hour off any whole-hour zone
// (India, UTC+5:30) reads the API's UTC times in their own zone, with the
// exact UTC value kept in the element's datetime.
func TestTimesInTheViewersZone(t *testing.T) {
	srv := compadretest.Start(t)
	a := newAPI(t, srv)
	seedOrganization(t, srv, a)
	b := newBrowser(t, srv, 1280, 900)
	b.run(emulation.SetTimezoneOverride("Asia/Kolkata"))
	b.signIn(srv.Credentials)
	b.waitGone("main .loading")
	var shown []struct {
		Datetime string `json:"datetime"`
		Text     string `json:"text"`
	}
	b.eval(`[...document.querySelectorAll("main time")].map(e => ({datetime: e.getAttribute("datetime"), text: e.textContent}))`, &shown)
	if len(shown) == 0 {
		t.Fatal("the overview shows no times")
	}
	india := time.FixedZone("IST", 5*3600+1800)
	for _, s := range shown {
		at, err := time.Parse(time.RFC3339Nano, s.Datetime)
		if err != nil {
			t.Fatalf("datetime %q: %v", s.Datetime, err)
		}
		local := at.In(india)
		// The viewer's locale decides 12- or 24-hour clocks; the minutes,
		// half an hour off UTC's, tell the zone either way.
		h24, h12 := local.Format("15:04:05"), local.Format("3:04:05")
		if !strings.Contains(s.Text, h24) && !strings.Contains(s.Text, h12) {
			t.Errorf("%s shown as %q, want %s (UTC+5:30)", s.Datetime, s.Text, h24)
		}
	}
}
