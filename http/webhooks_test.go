package httpapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/compadre-dev/compadre/compadretest"
	"github.com/compadre-dev/compadre/webhook"
)

const hookType = webhook.TypePostProcessingComplete

func (c *client) hookCreate(t testing.TB, url string, retries int, types ...string) (string, string) {
	t.Helper()
	if types == nil {
		types = []string{hookType}
	}
	status, body := c.do("POST", "/webhook_destination/", map[string]any{"url": url, "accepted_types": types,
		"retry_attempts": retries})
	mustStatus(t, "create webhook destination", status, http.StatusCreated, body)
	return body["webhook_destination_id"].(string), body["secret"].(string)
}

func (c *client) hookDeliveries(t testing.TB, id, query string) []map[string]any {
	t.Helper()
	status, body := c.do("GET", "/webhook_destination/"+id+"/delivery"+query, nil)
	mustStatus(t, "deliveries", status, http.StatusOK, body)
	return behaviorItems(body, "webhook_deliveries")
}

// hookAwait polls the destination's deliveries until one has status and
// n attempts.
func (c *client) hookAwait(t testing.TB, id, status string, n int) map[string]any {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		ds := c.hookDeliveries(t, id, "")
		if len(ds) == 1 && ds[0]["status"] == status && len(ds[0]["delivery_attempts"].([]any)) == n {
			return ds[0]
		}
		if time.Now().After(deadline) {
			t.Fatalf("deliveries: %s", mustJSONText(t, ds))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func emit(t testing.TB, srv *compadretest.Server, typ string, content map[string]any) {
	t.Helper()
	if _, err := srv.Store().EmitWebhookEvent(context.Background(), srv.Organization, typ, content); err != nil {
		t.Fatal(err)
	}
}

func TestWebhookDestinations(t *testing.T) {
	t.Parallel()
	_, c := newTestServer(t)
	id, secret := c.hookCreate(t, "https://hooks.example.com/in", 2)
	if len(secret) < 32 {
		t.Errorf("secret %q", secret)
	}
	status, body := c.do("GET", "/webhook_destination/", nil)
	mustStatus(t, "list", status, http.StatusOK, body)
	got := behaviorItems(body, "webhook_destinations")
	if len(got) != 1 || got[0]["id"] != id || got[0]["url"] != "https://hooks.example.com/in" ||
		got[0]["retry_attempts"] != float64(2) || fmt.Sprint(got[0]["accepted_types"]) != "["+hookType+"]" ||
		got[0]["secret_generated_at"] == nil || len(got[0]) != 5 {
		t.Errorf("listed: %v", got)
	}

	// Update: null leaves a field; the URL is not a field.
	status, body = c.do("POST", "/webhook_destination/"+id, map[string]any{"retry_attempts": 5, "accepted_types": nil})
	mustStatus(t, "update", status, http.StatusNoContent, body)
	status, body = c.do("POST", "/webhook_destination/"+id, map[string]any{"accepted_types": webhook.Types})
	mustStatus(t, "update types", status, http.StatusNoContent, body)
	status, body = c.do("GET", "/webhook_destination/?id="+id, nil)
	mustStatus(t, "list one", status, http.StatusOK, body)
	if d := behaviorItems(body, "webhook_destinations")[0]; d["retry_attempts"] != float64(5) || len(d["accepted_types"].([]any)) != 3 {
		t.Errorf("updated: %v", d)
	}

	for _, tc := range []struct {
		name string
		body map[string]any
		want int
	}{
		{"plain http elsewhere", map[string]any{"url": "http://hooks.example.com/in", "accepted_types": []any{}}, http.StatusBadRequest},
		{"private address", map[string]any{"url": "https://10.1.2.3/in", "accepted_types": []any{}}, http.StatusBadRequest},
		{"metadata address", map[string]any{"url": "https://169.254.169.254/latest", "accepted_types": []any{}}, http.StatusBadRequest},
		{"unknown type", map[string]any{"url": "https://hooks.example.com/in", "accepted_types": []any{"x"}}, http.StatusUnprocessableEntity},
		{"six retries", map[string]any{"url": "https://hooks.example.com/in", "accepted_types": []any{}, "retry_attempts": 6}, http.StatusUnprocessableEntity},
		{"no retries", map[string]any{"url": "https://hooks.example.com/in", "accepted_types": []any{}, "retry_attempts": 0}, http.StatusUnprocessableEntity},
	} {
		status, body := c.do("POST", "/webhook_destination/", tc.body)
		mustStatus(t, tc.name, status, tc.want, body)
	}

	// At most ten per organization.
	for i := 2; i <= 10; i++ {
		c.hookCreate(t, fmt.Sprintf("https://hooks.example.com/%d", i), 3)
	}
	status, body = c.do("POST", "/webhook_destination/", map[string]any{"url": "https://hooks.example.com/11", "accepted_types": []any{}})
	mustStatus(t, "eleventh", status, http.StatusBadRequest, body)

	// Rotation: once, then not again within the hour.
	status, body = c.do("POST", "/webhook_destination/"+id+"/rotate-secret", nil)
	mustStatus(t, "rotate", status, http.StatusOK, body)
	if body["secret"] == secret || body["secret"] == "" || body["dual_signing_stops_at"] == nil {
		t.Errorf("rotated: %v", body)
	}
	status, body = c.do("POST", "/webhook_destination/"+id+"/rotate-secret", nil)
	mustStatus(t, "rotate again", status, http.StatusBadRequest, body)

	status, body = c.do("DELETE", "/webhook_destination/"+id, nil)
	mustStatus(t, "delete", status, http.StatusNoContent, body)
	for _, tc := range []struct{ method, path string }{
		{"DELETE", "/webhook_destination/" + id}, {"POST", "/webhook_destination/" + id + "/rotate-secret"},
		{"GET", "/webhook_destination/" + id + "/delivery"},
	} {
		status, body := c.do(tc.method, tc.path, nil)
		mustStatus(t, tc.method+" "+tc.path+" after delete", status, http.StatusNotFound, body)
	}
	// The eleventh fits now.
	c.hookCreate(t, "https://hooks.example.com/11", 3)

	// Without the read permissions the lists are empty; without create, 403.
	c.newRole("HookReader", grant("Webhook:GetWebhookDestination", map[string]any{}))
	reader := c.keyFor(c.newUser("hooks@example.com", "HookReader"), "HookReader")
	status, body = reader.do("GET", "/webhook_destination/", nil)
	mustStatus(t, "reader list", status, http.StatusOK, body)
	if n := len(behaviorItems(body, "webhook_destinations")); n != 10 {
		t.Errorf("the reader sees %d destinations", n)
	}
	status, body = reader.do("POST", "/webhook_destination/", map[string]any{"url": "https://hooks.example.com/x", "accepted_types": []any{}})
	mustStatus(t, "reader create", status, http.StatusForbidden, body)
	c.newRole("NoHooks", grant("Webhook:CreateWebhookDestination", map[string]any{}))
	none := c.keyFor(c.newUser("nohooks@example.com", "NoHooks"), "NoHooks")
	status, body = none.do("GET", "/webhook_destination/", nil)
	mustStatus(t, "list without permission", status, http.StatusOK, body)
	if n := len(behaviorItems(body, "webhook_destinations")); n != 0 {
		t.Errorf("a caller without the read permission sees %d destinations", n)
	}
}

// A delivery is signed as the SDKs verify, carries the idempotency key and
// a fresh timestamp on every attempt, and is retried on failure.
func TestWebhookDelivery(t *testing.T) {
	t.Parallel()
	srv, c := newTestServer(t, compadretest.WithWebhookPolicy(webhook.Policy{Loopback: true}, 0.001))
	rcv := compadretest.NewReceiver(t)
	id, secret := c.hookCreate(t, rcv.URL, 3)

	payload := map[string]any{"type": hookType, "post_processing_type": "extract-memories", "conversation_id": "c1",
		"org_id": srv.Organization}
	emit(t, srv, hookType, payload)
	emit(t, srv, webhook.TypeAPIKeyExpirationSoon, map[string]any{"type": webhook.TypeAPIKeyExpirationSoon})
	got := rcv.Wait(t, 1, time.Minute)[0]
	if err := got.Verify(secret, time.Now()); err != nil {
		t.Fatalf("verify: %v", err)
	}
	if mustJSONText(t, payload) != string(got.Body) {
		t.Errorf("body %s", got.Body)
	}
	tampered := got
	tampered.Body = append([]byte(nil), got.Body...)
	tampered.Body[len(tampered.Body)-2] ^= 1
	if err := tampered.Verify(secret, time.Now()); err != compadretest.ErrBadSignature {
		t.Errorf("a tampered body verifies: %v", err)
	}
	if err := got.Verify(secret, time.Now().Add(6*time.Minute)); err == nil {
		t.Error("a stale request verifies")
	}
	d := c.hookAwait(t, id, "success", 1)
	if d["id"] != got.IdempotencyKey || d["type"] != hookType || mustJSONText(t, d["webhook_content"]) != mustJSONText(t, payload) ||
		d["dual_signed"] != false {
		t.Errorf("delivery record: %v", d)
	}
	if n := len(rcv.Deliveries()); n != 1 {
		t.Errorf("the destination got %d requests; a type it does not accept was sent", n)
	}

	// Two failures, then success: three attempts, one key, each signed
	// anew.
	rcv.AnswerNext(500, 503)
	emit(t, srv, hookType, payload)
	all := rcv.Wait(t, 4, time.Minute)[1:]
	for i, r := range all {
		if r.IdempotencyKey != all[0].IdempotencyKey || r.Verify(secret, time.Now()) != nil {
			t.Errorf("attempt %d: key %s, verify %v", i, r.IdempotencyKey, r.Verify(secret, time.Now()))
		}
		if i > 0 && r.Timestamp <= all[i-1].Timestamp {
			t.Errorf("attempt %d reuses its timestamp", i)
		}
	}
	// The receiver answers before the attempt is recorded: wait for it.
	var ds []map[string]any
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(10 * time.Millisecond) {
		if ds = c.hookDeliveries(t, id, "?status=success&sort_by=-created_at"); len(ds) == 2 || time.Now().After(deadline) {
			break
		}
	}
	if len(ds) != 2 || ds[0]["id"] != all[0].IdempotencyKey {
		t.Fatalf("deliveries: %s", mustJSONText(t, ds))
	}
	var codes []any
	for _, a := range ds[0]["delivery_attempts"].([]any) {
		codes = append(codes, a.(map[string]any)["status_code"])
	}
	if fmt.Sprint(codes) != "[500 503 204]" {
		t.Errorf("attempts: %v", codes)
	}

	// Out of retries: failed, with every attempt recorded.
	other := compadretest.NewReceiver(t)
	failing, _ := c.hookCreate(t, other.URL, 1)
	other.AnswerNext(500, 500, 500)
	emit(t, srv, hookType, payload)
	if d := c.hookAwait(t, failing, "failed", 2); d["status"] != "failed" {
		t.Errorf("failed delivery: %v", d)
	}
	if ds := c.hookDeliveries(t, failing, "?status=success"); len(ds) != 0 {
		t.Errorf("success filter: %v", ds)
	}
}

// While dual signing lasts each attempt goes out twice, once signed with
// each secret, so a receiver holding either verifies one of them.
func TestWebhookDualSigning(t *testing.T) {
	t.Parallel()
	srv, c := newTestServer(t)
	rcv := compadretest.NewReceiver(t)
	id, old := c.hookCreate(t, rcv.URL, 3)
	status, body := c.do("POST", "/webhook_destination/"+id+"/rotate-secret", nil)
	mustStatus(t, "rotate", status, http.StatusOK, body)
	fresh := body["secret"].(string)
	emit(t, srv, hookType, map[string]any{"type": hookType})
	got := rcv.Wait(t, 2, time.Minute)
	if got[0].IdempotencyKey != got[1].IdempotencyKey || got[0].Timestamp != got[1].Timestamp {
		t.Fatalf("the two copies differ: %+v", got)
	}
	if got[0].Verify(fresh, time.Now()) != nil || got[1].Verify(old, time.Now()) != nil ||
		got[0].Verify(old, time.Now()) == nil || got[1].Verify(fresh, time.Now()) == nil {
		t.Errorf("copies: new-signed first, then old-signed; got %+v", got)
	}
	if d := c.hookAwait(t, id, "success", 1); d["dual_signed"] != true {
		t.Errorf("delivery: %v", d)
	}
}

// Destinations are checked again when connected to: under a policy that
// refuses loopback, no request reaches a loopback receiver.
func TestWebhookPolicyRefusesLoopback(t *testing.T) {
	t.Parallel()
	_, c := newTestServer(t, compadretest.WithWebhookPolicy(webhook.Policy{}, 1))
	rcv := compadretest.NewReceiver(t)
	status, body := c.do("POST", "/webhook_destination/", map[string]any{"url": rcv.URL, "accepted_types": []any{hookType}})
	mustStatus(t, "loopback destination", status, http.StatusBadRequest, body)
}

// Changes to agents, context graphs, services and dynamic behavior sets
// are announced, each by an event queued with the change.
func TestWebhookResourceUpdated(t *testing.T) {
	t.Parallel()
	_, c := newTestServer(t)
	rcv := compadretest.NewReceiver(t)
	_, secret := c.hookCreate(t, rcv.URL, 3, webhook.TypeResourceUpdated)
	c.talkingService(t, "announced", stateMachineMinimal())
	got := rcv.Wait(t, 5, time.Minute)
	var seen []string
	for _, r := range got {
		if err := r.Verify(secret, time.Now()); err != nil {
			t.Fatal(err)
		}
		var ev map[string]any
		if err := json.Unmarshal(r.Body, &ev); err != nil {
			t.Fatal(err)
		}
		if ev["type"] != webhook.TypeResourceUpdated || ev["resource_id"] == "" || ev["updated_at"] == nil {
			t.Errorf("event: %v", ev)
		}
		seen = append(seen, fmt.Sprintf("%v %v %v", ev["resource_type"], ev["change"], ev["version"]))
	}
	want := []string{"service_hierarchical_state_machine created <nil>", "service_hierarchical_state_machine version-created 1",
		"agent created <nil>", "agent version-created 1", "service created <nil>"}
	for _, w := range want {
		if !slices.Contains(seen, w) {
			t.Errorf("no %q among %v", w, seen)
		}
	}
}

// An API key expiring within seven days is announced once.
func TestWebhookAPIKeyExpirationSoon(t *testing.T) {
	t.Parallel()
	srv, c := newTestServer(t)
	rcv := compadretest.NewReceiver(t)
	dest, secret := c.hookCreate(t, rcv.URL, 3, webhook.TypeAPIKeyExpirationSoon)
	status, body := c.do("POST", "/organization/api_key/", map[string]any{"name": "short", "duration": "P3D",
		"role_name": "DefaultUserRole"})
	mustStatus(t, "short key", status, http.StatusCreated, body)
	keyID := body["api_key_id"].(string)
	status, body = c.do("POST", "/organization/api_key/", map[string]any{"name": "long", "duration": "P30D",
		"role_name": "DefaultUserRole"})
	mustStatus(t, "long key", status, http.StatusCreated, body)
	// The deliverer looks every minute; the test asks at once, twice.
	for range 2 {
		if _, err := srv.Store().AnnounceExpiringAPIKeys(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if ds := c.hookDeliveries(t, dest, "?type="+webhook.TypeAPIKeyExpirationSoon); len(ds) != 1 {
		t.Errorf("queued announcements: %s", mustJSONText(t, ds))
	}
	var announced []map[string]any
	deadline := time.Now().Add(time.Minute)
	for {
		for _, r := range rcv.Deliveries() {
			if err := r.Verify(secret, time.Now()); err != nil {
				t.Fatal(err)
			}
			var ev map[string]any
			if err := json.Unmarshal(r.Body, &ev); err != nil {
				t.Fatal(err)
			}
			if ev["api_key_id"] == keyID {
				announced = append(announced, ev)
			} else if ev["type"] == webhook.TypeAPIKeyExpirationSoon {
				t.Errorf("announced a key far from expiring: %v", ev)
			}
		}
		if len(announced) > 0 || time.Now().After(deadline) {
			break
		}
		announced = nil
		time.Sleep(10 * time.Millisecond)
	}
	if len(announced) != 1 || announced[0]["name"] != "short" || announced[0]["expires_at"] == nil {
		t.Errorf("announcements of the short key: %v", announced)
	}
}
