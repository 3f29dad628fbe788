package browser_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/compadre-dev/compadre/app"
	"github.com/compadre-dev/compadre/compadretest"
)

// seeded is what seedOrganization made: how many records of each list
// the Overview counts, and the conversation it started.
type seeded struct {
	counts       map[string]string // the cards' data-count keys
	conversation string
}

// seedOrganization makes a few records of the kinds the Overview counts:
// users, agents, a context graph, a service with a conversation, a metric
// and a webhook destination. Tools and simulation runs stay at none (they
// need the sandbox and a run's worth of work).
func seedOrganization(t *testing.T, srv *compadretest.Server, a *api) seeded {
	t.Helper()
	for _, name := range []string{"Ada", "Grace"} {
		a.call("POST", "/user/", map[string]any{"first_name": name, "last_name": "Example",
			"email": strings.ToLower(name) + "@example.com", "role_name": "DefaultUserRole"}, 201, nil)
	}
	var agent, spare, graph, svc, metric struct {
		ID string `json:"id"`
	}
	a.call("POST", "/organization/agent", map[string]any{"agent_name": "Amy"}, 201, &agent)
	a.call("POST", "/organization/agent/"+agent.ID+"/", agentVersion(), 201, nil)
	a.call("POST", "/organization/agent", map[string]any{"agent_name": "Spare"}, 201, &spare)
	sm := "/organization/service_hierarchical_state_machine"
	a.call("POST", sm, map[string]any{"state_machine_name": "greeter"}, 201, &graph)
	a.call("POST", sm+"/"+graph.ID+"/", map[string]any{
		"description": "A greeting and a goodbye.",
		"states": []any{actionState("start", "Greet the user", exitTo("The user was greeted", "end")),
			actionState("end", "Say goodbye")},
		"new_user_initial_state": "start", "returning_user_initial_state": "start", "terminal_state": "end",
		"references": map[string]any{}, "global_intra_state_navigation_guidelines": []any{},
		"global_action_guidelines": []any{}, "global_boundary_constraints": []any{},
	}, 201, nil)
	a.call("POST", "/service/", map[string]any{"name": "Support", "description": "Service Support", "is_active": true,
		"agent_id": agent.ID, "service_hierarchical_state_machine_id": graph.ID, "keyterms": []any{}, "tags": map[string]any{}}, 201, &svc)
	a.call("POST", "/metric/", map[string]any{"name": "Politeness", "applied_to_services": []any{}, "additional_notes": nil,
		"tags": map[string]any{}, "initial_version_metric_value": map[string]any{"description": "Judge politeness.",
			"metric_value": map[string]any{"type": "boolean"}}}, 201, &metric)
	a.call("POST", "/webhook_destination/", map[string]any{"url": "https://hooks.example.com/compadre",
		"accepted_types": []any{"conversation-post-processing-complete"}, "retry_attempts": 1}, 201, nil)
	return seeded{
		counts: map[string]string{
			"tools": "0", "conversations": "1", "service_hierarchical_state_machines": "1", "agents": "2",
			"services": "1", "simulation_unit_test_set_runs": "0", "metrics": "1", "users": "3", "webhook_destinations": "1",
		},
		conversation: startConversation(t, a, svc.ID),
	}
}

// startConversation creates a text conversation with the service (an
// NDJSON answer, which api.call does not read) and returns its ID.
func startConversation(t *testing.T, a *api, serviceID string) string {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"service_id": serviceID})
	req, err := http.NewRequest("POST", a.base+"/conversation/?response_format=text", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+a.token)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusCreated {
		t.Fatalf("create conversation: %d", res.StatusCode)
	}
	// The whole answer is read: a client that leaves early rolls the
	// conversation back.
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("create conversation: %v", err)
	}
	first, _, _ := bytes.Cut(raw, []byte("\n"))
	var ev struct {
		ConversationID string `json:"conversation_id"`
	}
	if err := json.Unmarshal(first, &ev); err != nil || ev.ConversationID == "" {
		t.Fatalf("create conversation: %v: %s", err, first)
	}
	return ev.ConversationID
}

// fill sets a form control's value as typing would, for inputs and selects.
func (b *browser) fill(sel, value string) {
	b.t.Helper()
	b.run(chromedp.SetValue(sel, value, chromedp.ByQuery))
}

func (b *browser) click(sel string) {
	b.t.Helper()
	b.run(chromedp.Click(sel, chromedp.ByQuery))
}

func TestAccessPagesAsAdministrator(t *testing.T) {
	srv := compadretest.Start(t)
	a := newAPI(t, srv)
	seed := seedOrganization(t, srv, a)
	b := newBrowser(t, srv, 1280, 900)
	b.signIn(srv.Credentials)

	// Overview: a card per list, counted; the latest conversation links to its page.
	b.waitText("main h1", "Overview")
	b.waitGone("main .loading")
	for key, want := range seed.counts {
		if got := strings.TrimSpace(b.text(fmt.Sprintf(`.card[data-count=%q] .n`, key))); got != want {
			t.Errorf("Overview card %s: %q, want %q", key, got, want)
		}
	}
	if n := b.count(`main a[href="#/conversations/` + seed.conversation + `"]`); n != 1 {
		t.Errorf("Overview: %d links to the seeded conversation, want 1", n)
	}
	if got := b.text(`.card[data-count="tools"]`); !strings.Contains(got, "Tools") {
		t.Errorf("Overview tools card: %q", got)
	}
	if n := b.count("main .error, main .denied"); n != 0 {
		t.Errorf("Overview: %d problems shown to the administrator", n)
	}
	b.screenshot("overview")

	// Users: create one from the form; the list shows it.
	b.visit("#/users")
	b.waitText("main h1", "Users")
	b.waitGone("main .loading")
	if n := b.count("main table tbody tr"); n != 3 {
		t.Errorf("Users: %d rows, want 3", n)
	}
	b.click("details.create summary")
	b.fill(`input[name=first_name]`, "Hedy")
	b.fill(`input[name=last_name]`, "Lamarr")
	b.fill(`input[name=email]`, "hedy@example.com")
	b.waitText(`select[name=role_name]`, "DefaultAdministratorRole") // the roles have loaded
	b.fill(`select[name=role_name]`, "DefaultUserRole")
	b.click(`details.create button[type=submit]`)
	b.waitText(".form-out", "Created")
	b.waitText("main table tbody", "hedy@example.com")
	if n := b.count("main table tbody tr"); n != 4 {
		t.Errorf("Users after creating one: %d rows, want 4", n)
	}
	// Search finds her, and her page shows her details with her role by name.
	b.visit("#/users?q=hedy")
	b.waitGone("main .loading")
	if n := b.count("main table tbody tr"); n != 1 {
		t.Errorf("search hedy: %d rows, want 1", n)
	}
	b.click(`main table tbody a`)
	b.waitText("main h1", "Hedy Lamarr")
	b.waitGone("main .loading")
	if got := b.text("main dl.kv"); !strings.Contains(got, "DefaultUserRole") || !strings.Contains(got, "hedy@example.com") {
		t.Errorf("user page details: %q", got)
	}
	b.visit("#/users")
	b.waitGone("main .loading")
	b.screenshot("users")

	// Roles: each role's grants; DefaultUserRole grants creating conversations.
	b.visit("#/roles")
	b.waitText("main h1", "Roles")
	b.waitGone("main .loading")
	b.click(`details[data-role="DefaultUserRole"] summary`)
	if got := b.text(`details[data-role="DefaultUserRole"] ul.grants`); !strings.Contains(got, "Conversation:CreateConversation") {
		t.Errorf("DefaultUserRole grants: %q", got)
	}
	if n := b.count("details.role"); n != 4 {
		t.Errorf("Roles: %d roles, want the 4 built-in ones", n)
	}
	b.screenshot("roles")

	// API keys: create one; its secret is shown once.
	b.visit("#/api-keys")
	b.waitText("main h1", "API keys")
	b.waitGone("main .loading")
	keysBefore := b.count("main table tbody tr")
	b.fill(`input[name=name]`, "laptop")
	b.waitText(`select[name=role_name]`, "DefaultSuperAdministratorRole")
	b.fill(`select[name=role_name]`, "DefaultSuperAdministratorRole")
	b.click(`main form.form button[type=submit]`)
	b.waitText(".secret", "shown only this once")
	keyID, secret := b.text(".secret .key-id"), b.text(".secret .key-secret")
	if keyID == "" || len(secret) < 16 {
		t.Fatalf("new key: id %q, secret %q", keyID, secret)
	}
	b.waitText("main table tbody", "laptop")
	if n := b.count("main table tbody tr"); n != keysBefore+1 {
		t.Errorf("API keys after creating one: %d rows, want %d", n, keysBefore+1)
	}
	b.screenshot("api-keys")
	// The key signs in, in another browser.
	other := newBrowser(t, srv, 1280, 900)
	other.signIn(app.Credentials{Organization: srv.Organization, UserID: srv.UserID, APIKeyID: keyID, APIKey: secret})
	other.waitText("main h1", "Overview")
	// Back on the page, the secret is gone.
	b.visit("#/roles")
	b.waitText("main h1", "Roles")
	b.visit("#/api-keys")
	b.waitGone("main .loading")
	var page string
	b.eval(`document.body.textContent`, &page)
	if strings.Contains(page, secret) {
		t.Error("the key's secret is shown again after leaving the page")
	}
	// Delete it, confirming with the buttons.
	b.click(`main table tbody tr:last-child .confirm button`)
	b.waitText(`main table tbody tr:last-child .confirm`, "Cancel")
	b.click(`main table tbody tr:last-child .confirm button.danger:not(.secondary)`)
	b.run(chromedp.Poll(`(() => { const t = document.querySelector("main table tbody"); return !!t && !t.textContent.includes("laptop"); })()`, nil))

	// Narrow: the Overview's cards and tables fit 420 px. (The same tab,
	// its viewport narrowed: the harness's signIn waits for the navigation,
	// which a narrow window hides behind its menu button.)
	b.run(chromedp.EmulateViewport(420, 860))
	b.visit("#/")
	b.waitText("main h1", "Overview")
	b.waitGone("main .loading")
	var overflow bool
	b.eval(`document.documentElement.scrollWidth > window.innerWidth`, &overflow)
	if overflow {
		t.Error("Overview at 420 px is wider than the window")
	}
	b.screenshot("overview-narrow")
}

// TestAccessPagesAsDefaultUser: a user of DefaultUserRole opens the
// pages. Lists leave out what the role may not read, so the pages say so
// where it is certain (roles, API keys), forms refuse with the permission
// they need, the control API's panels show its refusal, and the frame
// goes on working.
func TestAccessPagesAsDefaultUser(t *testing.T) {
	srv := compadretest.Start(t)
	a := newAPI(t, srv)
	var u struct {
		UserID string `json:"user_id"`
	}
	a.call("POST", "/user/", map[string]any{"first_name": "Bo", "last_name": "User", "email": "bo@example.com",
		"role_name": "DefaultUserRole"}, 201, &u)
	creds := srv.NewAPIKey(t, srv.Organization, u.UserID)

	b := newBrowser(t, srv, 1280, 900)
	b.allow(403, "/v1/"+srv.Organization+"/user/")                 // create-user
	b.allow(403, "/v1/"+srv.Organization+"/organization/api_key/") // create-api-key
	b.allow(403, "/_compadre/")                                    // the control API
	b.signIn(creds)

	b.waitText("main h1", "Overview")
	b.waitGone("main .loading")
	if got := b.text("main dl.kv"); !strings.Contains(got, srv.Organization) {
		t.Errorf("Overview organization: %q", got)
	}
	if got := b.text(`.card[data-count="users"] .n`); got != "2" {
		t.Errorf("Overview users card: %q, want 2", got)
	}

	cases := []struct {
		page, heading string
		submit        map[string]string // a form to fill and send, "" for none
		denied        string            // the permission the page says is missing
	}{
		{"#/users", "Users", map[string]string{"first_name": "Eve", "last_name": "Example", "email": "eve@example.com"}, "User:InviteUser"},
		{"#/roles", "Roles", nil, "Role:GetRole"},
		{"#/api-keys", "API keys", nil, "Organization:GetAPIKey"},
		{"#/api-keys", "API keys", map[string]string{"name": "mine"}, "Organization:CreateAPIKey"},
	}
	for _, c := range cases {
		b.visit("#/")
		b.waitText("main h1", "Overview")
		b.visit(c.page)
		b.waitText("main h1", c.heading)
		b.waitGone("main .loading")
		if c.submit != nil {
			b.run(chromedp.Evaluate(`document.querySelectorAll("main details").forEach(d => d.open = true)`, nil))
			for name, v := range c.submit {
				b.fill(fmt.Sprintf(`main form.form [name=%q]`, name), v)
			}
			b.click(`main form.form button[type=submit]`)
			b.waitText("main .form-out", "does not allow")
		}
		where := "main .denied"
		if c.submit != nil {
			where = "main .form-out .denied"
		}
		if got := b.text(where); !strings.Contains(got, c.denied) {
			t.Errorf("%s: denial %q, want it to name %s", c.page, got, c.denied)
		}
		if n := b.count("main .error"); n != 0 {
			t.Errorf("%s: %d errors shown", c.page, n)
		}
		if c.page == "#/api-keys" && c.submit != nil {
			b.screenshot("denied")
		}
	}
	// The users the role may read are listed.
	b.visit("#/users")
	b.waitGone("main .loading")
	if n := b.count("main table tbody tr"); n != 2 {
		t.Errorf("Users as DefaultUserRole: %d rows, want 2", n)
	}

	// Webhooks: the frame works, the page is not an error page.
	b.allow(403, "/webhook_destination")
	b.visit("#/webhooks")
	b.run(chromedp.WaitVisible(`nav a[data-nav="#/webhooks"][aria-current="page"]`, chromedp.ByQuery))
	if n := b.count("main h1"); n != 1 {
		t.Errorf("Webhooks: %d headings", n)
	}

	// Developer: each of the control API's panels shows its refusal.
	b.visit("#/developer")
	b.waitText("main h1", "Developer")
	b.waitGone("main .loading")
	if n := b.count("main .denied"); n != 4 {
		t.Errorf("Developer: %d refusals, want one in each of the 4 panels", n)
	}
	if got := b.text("main .denied"); !strings.Contains(got, "DefaultSuperAdministratorRole") {
		t.Errorf("Developer refusal: %q", got)
	}
}

func TestFirstStartSignIn(t *testing.T) {
	srv := compadretest.Start(t)
	b := newBrowser(t, srv, 1280, 900)
	b.open("/")
	b.run(chromedp.WaitVisible(`.first-start button`, chromedp.ByQuery))
	if got := b.text(".first-start button"); got != "Sign in as the first start’s administrator" {
		t.Errorf("first start button: %q", got)
	}
	b.click(".first-start button")
	b.waitText("main h1", "Overview")
	b.waitGone("main .loading")
	if got := b.text("header .who strong"); got != srv.Organization {
		t.Errorf("signed in to %q, want %q", got, srv.Organization)
	}
	if got := b.text(`.card[data-count="users"] .n`); got != "1" {
		t.Errorf("Overview users card: %q, want 1", got)
	}
}
