package browser_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/compadre-dev/compadre/compadretest"
	"github.com/compadre-dev/compadre/webhook"
)

// hooksAwait waits, through the API, until the destination has one
// delivery that succeeded after n attempts: the receiver answers before
// the attempt is recorded.
func hooksAwait(t *testing.T, a *api, id string, n int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var out struct {
			Deliveries []struct {
				Status   string `json:"status"`
				Attempts []any  `json:"delivery_attempts"`
			} `json:"webhook_deliveries"`
		}
		a.call("GET", "/webhook_destination/"+id+"/delivery", nil, http.StatusOK, &out)
		if len(out.Deliveries) == 1 && out.Deliveries[0].Status == "success" && len(out.Deliveries[0].Attempts) == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("deliveries: %+v", out)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestWebhookDeliveriesAndSecret(t *testing.T) {
	// Retries wait milliseconds rather than seconds.
	srv := compadretest.Start(t, compadretest.WithWebhookPolicy(webhook.Policy{Loopback: true}, 0.001))
	a := newAPI(t, srv)
	rcv := compadretest.NewReceiver(t)
	var made struct {
		ID string `json:"webhook_destination_id"`
	}
	a.call("POST", "/webhook_destination/", map[string]any{"url": rcv.URL,
		"accepted_types": []string{webhook.TypeResourceUpdated}, "retry_attempts": 2}, http.StatusCreated, &made)

	// Creating an agent announces it; the first attempt fails, the retry
	// succeeds.
	rcv.AnswerNext(http.StatusInternalServerError)
	a.call("POST", "/organization/agent", map[string]any{"agent_name": "Amy"}, http.StatusCreated, nil)
	got := rcv.Wait(t, 2, 30*time.Second)
	if got[0].Status != 500 || got[1].Status != 204 {
		t.Fatalf("the receiver answered %d then %d", got[0].Status, got[1].Status)
	}
	hooksAwait(t, a, made.ID, 2)

	b := newBrowser(t, srv, 1280, 900)
	b.signIn(srv.Credentials)
	b.visit("#/webhooks")
	b.waitText("main h1", "Webhooks")
	b.waitGone("main .loading")
	if row := b.text("main tbody tr"); !strings.Contains(row, rcv.URL) || !strings.Contains(row, webhook.TypeResourceUpdated) {
		t.Errorf("destination row: %q", row)
	}
	b.screenshot("webhooks")

	b.run(chromedp.Click(fmt.Sprintf(`main a[href="#/webhooks/%s"]`, made.ID), chromedp.ByQuery))
	b.waitText("main h1", "Webhook destination")
	b.waitGone("main .loading")
	b.waitText("main", "1 shown")
	if v := b.text("main dl.kv"); !strings.Contains(v, rcv.URL) || !strings.Contains(v, "Retries2") {
		t.Errorf("destination: %q", v)
	}
	// The delivery's attempts, oldest first, behind a disclosure.
	b.run(chromedp.Click(`main details.attempts summary`, chromedp.ByQuery))
	var attempts []string
	b.eval(`[...document.querySelectorAll("main details.attempts[open] .attempt .badge")].map(e => e.textContent)`, &attempts)
	if fmt.Sprint(attempts) != "[500 204]" {
		t.Errorf("attempts shown: %v, want [500 204]", attempts)
	}
	if v := b.text("main details.attempts summary"); v != "2 attempts, last 204" {
		t.Errorf("attempts summary: %q", v)
	}
	if n := b.count("main .attempt.failed"); n != 1 {
		t.Errorf("%d failed attempts marked, want 1", n)
	}
	b.eval(`window.scrollTo(0, 0)`, nil)
	b.screenshot("webhook-deliveries")

	// Filters go to the API: no delivery failed, one is of this type.
	filter := func(name, value string) {
		b.eval(fmt.Sprintf(`(() => { const s = document.querySelector("main select[name=%s]"); s.value = %q;
			s.dispatchEvent(new Event("change")); })()`, name, value), nil)
	}
	filter("status", "failed")
	b.waitText("main", "No delivery matches.")
	filter("status", "")
	filter("type", webhook.TypeResourceUpdated)
	b.waitText("main", "1 shown")
	filter("type", webhook.TypePostProcessingComplete)
	b.waitText("main", "No delivery matches.")

	// A destination made on the page: its secret is shown once.
	b.visit("#/webhooks")
	b.waitGone("main .loading")
	b.run(
		chromedp.SendKeys(`main input[name=url]`, rcv.URL+"/second", chromedp.ByQuery),
		chromedp.Click(`main input[value="api-key-expiration-soon"]`, chromedp.ByQuery),
		chromedp.Click(`main form button[type=submit]`, chromedp.ByQuery),
	)
	b.waitText("main .secret", "shown here only this once")
	secret := b.text("main .secret-value")
	b.screenshot("webhook-secret")
	if !strings.HasPrefix(secret, "whsec_") {
		t.Fatalf("secret shown: %q", secret)
	}
	b.waitText("main tbody", rcv.URL+"/second")
	var left struct {
		URL     string `json:"url"`
		Retries string `json:"retries"`
		Checked int    `json:"checked"`
	}
	b.eval(`(f => ({url: f.elements.url.value, retries: f.elements.retry_attempts.value,
		checked: f.querySelectorAll("input[type=checkbox]:checked").length}))(document.querySelector("main form"))`, &left)
	if left.URL != "" || left.Retries != "3" || left.Checked != 2 {
		t.Errorf("the form after creating: %+v, want the URL cleared and the rest kept", left)
	}
	if n := b.count("main tbody tr"); n != 2 {
		t.Errorf("%d destinations listed after creating one, want 2", n)
	}
	var types []string
	b.eval(`[...[...document.querySelectorAll("main tbody tr")].find(r => r.textContent.includes("/second")).querySelectorAll("code")]
		.map(c => c.textContent)`, &types)
	if fmt.Sprint(types) != "[conversation-post-processing-complete api-key-expiration-soon]" {
		t.Errorf("types of the new destination: %v", types)
	}

	// Gone after a reload: the console keeps it nowhere.
	b.run(chromedp.Reload())
	b.waitText("main h1", "Webhooks")
	b.waitGone("main .loading")
	var body string
	b.eval(`document.body.textContent`, &body)
	if strings.Contains(body, secret) || b.count("main .secret") != 0 {
		t.Error("the secret is shown again after a reload")
	}

	// The new destination's page: change it, rotate its secret, delete it.
	b.run(chromedp.Click(`main tbody tr:nth-child(2) a`, chromedp.ByQuery))
	b.waitText("main h1", "Webhook destination")
	b.waitGone("main .loading")
	b.eval(`(() => { const f = document.querySelector("main form");
		f.elements.retry_attempts.value = "5";
		f.querySelector("input[value=api-key-expiration-soon]").checked = false; })()`, nil)
	b.run(chromedp.Click(`main form button[type=submit]`, chromedp.ByQuery))
	b.waitText("main form .form-out", "Saved.")
	b.waitText("main dl.kv", "Retries5")
	if v := b.text("main dl.kv"); strings.Contains(v, "api-key-expiration-soon") {
		t.Errorf("after the change: %q", v)
	}

	b.run(chromedp.Click(`//button[text()="Rotate secret"]`, chromedp.BySearch))
	b.waitText("main .confirm", "Issue a new secret?")
	b.run(chromedp.Click(`//button[text()="Yes, rotate"]`, chromedp.BySearch))
	b.waitText("main .secret", "New signing secret")
	if fresh := b.text("main .secret-value"); !strings.HasPrefix(fresh, "whsec_") || fresh == secret {
		t.Errorf("rotated secret %q (was %q)", fresh, secret)
	}

	b.run(chromedp.Click(`//button[text()="Delete destination"]`, chromedp.BySearch))
	b.waitText("main", "Delete this destination?")
	b.run(chromedp.Click(`//button[text()="Yes, delete it"]`, chromedp.BySearch))
	b.waitText("main h1", "Webhooks")
	b.waitGone("main .loading")
	if n := b.count("main tbody tr"); n != 1 {
		t.Errorf("%d destinations after deleting one, want 1", n)
	}
}
