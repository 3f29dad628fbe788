package browser_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/compadre-dev/compadre/compadretest"
)

// TestDeveloperPage: the request log shows the requests made, and a fault
// rule added from the form is listed, takes effect on the next matching
// request and is deleted with its buttons.
func TestDeveloperPage(t *testing.T) {
	srv := compadretest.Start(t)
	a := newAPI(t, srv)
	a.call("GET", "/user/", nil, 200, nil)
	a.call("GET", "/organization/", nil, 200, nil)

	b := newBrowser(t, srv, 1280, 900)
	b.signIn(srv.Credentials)
	b.visit("#/developer")
	b.waitText("main h1", "Developer")
	b.waitGone("main .loading")

	// The log holds the seeding requests and the console's own, oldest first.
	var ops []string
	b.eval(`[...document.querySelectorAll("details.logged")].map(d => d.dataset.operation)`, &ops)
	for _, want := range []string{"sign-in-with-api-key", "get-users", "get-organization"} {
		if !slices.Contains(ops, want) {
			t.Errorf("request log operations %v: no %s", ops, want)
		}
	}
	// Filtered to get-users, each entry opens to its headers and bodies,
	// the bearer token redacted.
	b.fill(`input[name=operation]`, "get-users")
	b.click(`main form.toolbar button[type=submit]`)
	b.waitGone("main .loading")
	b.eval(`[...document.querySelectorAll("details.logged")].map(d => d.dataset.operation)`, &ops)
	// The seeding's and the Overview's Users card's.
	if len(ops) != 2 || ops[0] != "get-users" || ops[1] != "get-users" {
		t.Errorf("request log filtered to get-users: %v, want 2 of get-users", ops)
	}
	b.click("details.logged summary")
	if got := b.text("details.logged"); !strings.Contains(got, "Authorization: [redacted]") || !strings.Contains(got, `"users"`) {
		t.Errorf("logged get-users: %q", got)
	}

	// A rule from the form: the next get-users answers 503.
	b.click("details.add-rule summary")
	b.fill(`form.form input[name=operation]`, "get-users")
	b.fill(`form.form input[name=count]`, "1")
	b.click(`details.add-rule button[type=submit]`)
	b.waitText("details.add-rule .form-out", "is in force")
	b.waitText("main table", "status 503")
	if got := b.text("main table tbody tr"); !strings.Contains(got, "get-users") {
		t.Errorf("fault rules: %q", got)
	}
	b.eval(`window.scrollTo(0, 0)`, nil)
	b.screenshot("developer")

	b.allow(503, "/v1/"+srv.Organization+"/user/")
	b.visit("#/users")
	b.waitText("main h1", "Users")
	b.waitText("main .error", "503")

	// The rule applied once and is spent; the log shows the 503.
	b.visit("#/developer")
	b.waitText("main h1", "Developer")
	b.waitGone("main .loading")
	row := `main table tbody tr`
	if got := b.text(row); !strings.Contains(got, "get-users") {
		t.Fatalf("fault rules after use: %q", got)
	}
	var cells []string
	b.eval(fmt.Sprintf(`[...document.querySelector(%q).cells].map(c => c.textContent)`, row), &cells)
	if len(cells) < 7 || cells[5] != "1" || cells[6] != "0" {
		t.Errorf("spent rule's cells %q: want applied 1, remaining 0", cells)
	}
	var statuses []string
	b.eval(`[...document.querySelectorAll('details.logged[data-operation="get-users"] summary .badge')].map(s => s.textContent)`, &statuses)
	if !slices.Contains(statuses, "503") {
		t.Errorf("logged get-users statuses %v: no 503", statuses)
	}

	// Deleted with its buttons.
	b.click(row + " .confirm button")
	b.waitText(row+" .confirm", "Delete rule")
	b.click(row + ` .confirm button.danger:not(.secondary)`)
	b.waitText("main", "No fault rules in force.")

	// A snapshot saved from the form is listed.
	b.fill(`input[name=name]`, "seeded")
	b.run(chromedp.Evaluate(`[...document.querySelectorAll("main form.form")].pop().requestSubmit()`, nil))
	b.waitText("main", "Saved seeded")
	b.waitText("main", "seeded")
}
