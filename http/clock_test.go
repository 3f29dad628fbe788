package httpapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/compadre-dev/compadre/app"
	"github.com/compadre-dev/compadre/compadretest"
	"github.com/compadre-dev/compadre/mail"
	"github.com/compadre-dev/compadre/store"
	"github.com/compadre-dev/compadre/webhook"
)

// Each test here moves the server's clock with srv.Advance instead of
// waiting. Most start it frozen (WithClock returning one instant), so that
// nothing can fall due by real time passing: only the Advance can have
// made it happen, and the edges are exact to the nanosecond.

// frozenClock is an instant on a whole second and an option that starts
// the server's clock there, standing still.
func frozenClock() (time.Time, compadretest.Option) {
	t0 := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	return t0, compadretest.WithClock(func() time.Time { return t0 })
}

// waitFor polls cond until it holds, for at most a minute: background work
// a move of the clock set off runs just after the move.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not after a minute", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// A token lives for the token TTL by the server's clock: valid a second
// before its hour is up, refused at it, with no real time passing.
func TestClockExpiresTokens(t *testing.T) {
	t.Parallel()
	_, frozen := frozenClock()
	srv, c := newTestServer(t, frozen)
	get := func() int {
		status, _ := c.do("GET", "/organization/", nil)
		return status
	}
	if got := get(); got != http.StatusOK {
		t.Fatalf("a new token: status %d", got)
	}
	srv.Advance(t, time.Hour-time.Second)
	if got := get(); got != http.StatusOK {
		t.Errorf("a second before expiry: status %d, want 200", got)
	}
	srv.Advance(t, time.Second)
	if got := get(); got != http.StatusUnauthorized {
		t.Errorf("at expiry: status %d, want 401", got)
	}
	// The API key outlives its token: signing in again works.
	c.token = c.signIn(srv.APIKey, srv.APIKeyID, srv.UserID)
	if got := get(); got != http.StatusOK {
		t.Errorf("a token signed in after the move: status %d", got)
	}
}

// An API key of one day signs in until its day is up, and neither it nor
// a token it gave works after.
func TestClockExpiresAPIKeys(t *testing.T) {
	t.Parallel()
	_, frozen := frozenClock()
	srv, admin := newTestServer(t, frozen)
	status, body := admin.do("POST", "/organization/api_key/", map[string]any{"name": "day", "duration": "P1D",
		"role_name": "DefaultSuperAdministratorRole"})
	mustStatus(t, "create key", status, http.StatusCreated, body)
	key, keyID := body["api_key"].(string), body["api_key_id"].(string)
	srv.Advance(t, 24*time.Hour-time.Second)
	day := admin.as(admin.signIn(key, keyID, srv.UserID))
	if status, _ := day.do("GET", "/organization/", nil); status != http.StatusOK {
		t.Fatalf("a second before the key expires: status %d", status)
	}
	srv.Advance(t, time.Second)
	if status, _ := day.do("GET", "/organization/", nil); status != http.StatusUnauthorized {
		t.Errorf("a token of an expired key: status %d, want 401", status)
	}
	status, _ = admin.raw("POST", "/v1/"+srv.Organization+"/user/signin_with_api_key", nil, map[string]string{
		"x-api-key": key, "x-api-key-id": keyID, "x-user-id": srv.UserID})
	if status != http.StatusUnauthorized {
		t.Errorf("signing in with an expired key: status %d, want 401", status)
	}
}

// A temporary grant's permission lasts until the grant expires by the
// server's clock; this server's clock runs from time.Now, without
// WithClock.
func TestClockExpiresTemporaryGrants(t *testing.T) {
	t.Parallel()
	srv, admin := newTestServer(t)
	admin.newRole("Nothing")
	target := admin.newUser("target@example.com", "DefaultUserRole")
	userID := admin.newUser("u@example.com", "Nothing")
	user := admin.keyFor(userID, "Nothing")
	read := func() int {
		status, _ := user.do("GET", "/user/"+target+"/user_model", nil)
		return status
	}
	admin.giveTemporary(userID, "PT30M", grant("User:GetUserModel", nil))
	if got := read(); got != http.StatusOK {
		t.Fatalf("with the grant: status %d", got)
	}
	srv.Advance(t, 30*time.Minute)
	if got := read(); got != http.StatusForbidden {
		t.Errorf("after the grant's 30 minutes: status %d, want 403", got)
	}
	if grants, _ := admin.tempGrants("?is_expired=true&user_id=" + userID); len(grants) != 1 {
		t.Errorf("the grant is not listed as expired: %v", grants)
	}
}

// A rate limit refused refills by the server's clock: 5 sign-ins a
// minute, strictly, so one more after 12 s of the clock and not before.
func TestClockRefillsRateLimits(t *testing.T) {
	t.Parallel()
	_, frozen := frozenClock()
	srv := compadretest.Start(t, frozen, compadretest.WithRateLimits(1))
	signIn := func() (int, string) {
		t.Helper()
		req, err := http.NewRequest("POST", srv.BaseURL+"/v1/"+srv.Organization+"/user/signin_with_api_key", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("x-api-key", srv.APIKey)
		req.Header.Set("x-api-key-id", srv.APIKeyID)
		req.Header.Set("x-user-id", srv.UserID)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode, resp.Header.Get("Retry-After")
	}
	for i := range 5 {
		if status, _ := signIn(); status != http.StatusOK {
			t.Fatalf("sign-in %d of 5: status %d", i+1, status)
		}
	}
	if status, retry := signIn(); status != http.StatusTooManyRequests || retry != "12" {
		t.Fatalf("the sixth sign-in: status %d, Retry-After %q; want 429 after 12", status, retry)
	}
	srv.Advance(t, 12*time.Second-time.Millisecond)
	if status, retry := signIn(); status != http.StatusTooManyRequests || retry != "1" {
		t.Errorf("a millisecond short of the refill: status %d, Retry-After %q; want 429 after 1", status, retry)
	}
	srv.Advance(t, time.Millisecond)
	if status, _ := signIn(); status != http.StatusOK {
		t.Errorf("after the refill: status %d, want 200", status)
	}
	if status, _ := signIn(); status != http.StatusTooManyRequests {
		t.Errorf("the refill held one sign-in; the next: status %d, want 429", status)
	}
}

// A delivery answered 500 is tried again 5 s later by the server's clock:
// after an Advance of 5 s, at once, with the server's clock otherwise
// frozen (so it cannot be real time that brought the retry due).
func TestClockBringsWebhookRetriesDue(t *testing.T) {
	t.Parallel()
	t0, frozen := frozenClock()
	srv, c := newTestServer(t, frozen)
	rcv := compadretest.NewReceiver(t)
	id, secret := c.hookCreate(t, rcv.URL, 3)
	rcv.AnswerNext(http.StatusInternalServerError)
	emit(t, srv, hookType, map[string]any{"type": hookType})
	first := rcv.Wait(t, 1, time.Minute)[0]
	var pending store.WebhookDelivery
	waitFor(t, "the failed attempt recorded", func() bool {
		ds, _, err := srv.Store().ListWebhookDeliveries(context.Background(), srv.Organization, id,
			store.WebhookDeliveryFilter{Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		if len(ds) == 1 && len(ds[0].Attempts) == 1 {
			pending = ds[0]
			return true
		}
		return false
	})
	if want := t0.Add(webhook.Schedule[0]); pending.NextAttemptAt == nil || !pending.NextAttemptAt.Equal(want) {
		t.Fatalf("next attempt at %v, want %v", pending.NextAttemptAt, want)
	}

	srv.Advance(t, 5*time.Second)
	got := rcv.Wait(t, 2, time.Minute)
	retry := got[1]
	if retry.IdempotencyKey != first.IdempotencyKey || retry.Status != http.StatusNoContent {
		t.Errorf("the retry: %+v, want the same delivery answered 204", retry)
	}
	if want := t0.Add(5 * time.Second).UnixMilli(); first.Timestamp != t0.UnixMilli() || retry.Timestamp != want {
		t.Errorf("timestamps %d and %d, want %d and %d", first.Timestamp, retry.Timestamp, t0.UnixMilli(), want)
	}
	if err := retry.Verify(secret, srv.Now()); err != nil {
		t.Errorf("the retry does not verify at the server's time: %v", err)
	}
	c.hookAwait(t, id, "success", 2)
}

// A move of the clock past the lease of an attempt still under way lets
// the deliverer claim the delivery again, but not send it twice.
func TestClockPastALeaseSendsOnce(t *testing.T) {
	t.Parallel()
	t0, frozen := frozenClock()
	srv, c := newTestServer(t, frozen)
	var arrivals atomic.Int32
	release := make(chan struct{})
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrivals.Add(1)
		<-release
		w.WriteHeader(http.StatusNoContent)
	}))
	answer := sync.OnceFunc(func() { close(release) })
	t.Cleanup(rcv.Close)
	t.Cleanup(answer) // runs first: Close waits for the handler
	id, _ := c.hookCreate(t, rcv.URL+"/hook", 3)
	emit(t, srv, hookType, map[string]any{"type": hookType})
	waitFor(t, "the attempt reaching the receiver", func() bool { return arrivals.Load() == 1 })

	db := openServerDB(t, srv)
	leasedUntil := func() time.Time {
		t.Helper()
		var at string
		if err := db.QueryRow(`SELECT leased_until FROM webhook_deliveries`).Scan(&at); err != nil {
			t.Fatal(err)
		}
		parsed, err := time.Parse(time.RFC3339Nano, at)
		if err != nil {
			t.Fatal(err)
		}
		return parsed
	}
	if got := leasedUntil(); !got.Equal(t0.Add(time.Minute)) {
		t.Fatalf("leased until %v, want a minute from %v", got, t0)
	}
	srv.Advance(t, 2*time.Minute)
	waitFor(t, "the delivery claimed again", func() bool { return leasedUntil().Equal(t0.Add(3 * time.Minute)) })
	answer()
	d := c.hookAwait(t, id, "success", 1)
	if n := arrivals.Load(); n != 1 {
		t.Errorf("the receiver got %d requests, want 1: %v", n, d)
	}
}

// A secret is rotated at most once an hour, by the server's clock, and the
// secret it replaced signs too for the 30 minutes after.
func TestClockAllowsRotationAfterAnHour(t *testing.T) {
	t.Parallel()
	_, frozen := frozenClock()
	srv, c := newTestServer(t, frozen)
	rcv := compadretest.NewReceiver(t)
	id, _ := c.hookCreate(t, rcv.URL, 3)
	rotate := func() (int, map[string]any) { return c.do("POST", "/webhook_destination/"+id+"/rotate-secret", nil) }
	status, body := rotate()
	mustStatus(t, "first rotation", status, http.StatusOK, body)
	status, body = rotate()
	mustStatus(t, "second rotation at once", status, http.StatusBadRequest, body)

	// Dual signing: two copies of each attempt for 30 minutes, then one.
	emit(t, srv, hookType, map[string]any{"type": hookType})
	if got := rcv.Wait(t, 2, time.Minute); got[0].IdempotencyKey != got[1].IdempotencyKey {
		t.Fatalf("while dual signing lasts: %+v, want two copies of one delivery", got)
	}
	c.hookAwait(t, id, "success", 1)
	srv.Advance(t, store.WebhookDualSigning)
	emit(t, srv, hookType, map[string]any{"type": hookType})
	rcv.Wait(t, 3, time.Minute)
	// Recorded only once every copy of the attempt went out.
	waitFor(t, "the second delivery recorded", func() bool {
		return len(c.hookDeliveries(t, id, "?status=success")) == 2
	})
	if got := rcv.Deliveries(); len(got) != 3 {
		t.Errorf("after dual signing ended: %d requests in all, want 3", len(got))
	}

	srv.Advance(t, time.Hour-store.WebhookDualSigning-time.Second)
	status, body = rotate()
	mustStatus(t, "a second short of the hour", status, http.StatusBadRequest, body)
	srv.Advance(t, time.Second)
	c.token = c.signIn(srv.APIKey, srv.APIKeyID, srv.UserID) // the first token's hour is up too
	status, body = rotate()
	mustStatus(t, "an hour after the rotation", status, http.StatusOK, body)
}

// An API key is announced once it is within seven days of its expiry by
// the server's clock: after an Advance of 23 days, a key of 30 is.
func TestClockAnnouncesExpiringAPIKeys(t *testing.T) {
	t.Parallel()
	_, frozen := frozenClock()
	srv, c := newTestServer(t, frozen)
	rcv := compadretest.NewReceiver(t)
	dest, _ := c.hookCreate(t, rcv.URL, 3, webhook.TypeAPIKeyExpirationSoon)
	status, body := c.do("POST", "/organization/api_key/", map[string]any{"name": "month", "duration": "P30D",
		"role_name": "DefaultUserRole"})
	mustStatus(t, "create key", status, http.StatusCreated, body)
	keyID := body["api_key_id"].(string)
	if ds := c.hookDeliveries(t, dest, ""); len(ds) != 0 {
		t.Fatalf("announced 30 days ahead: %s", mustJSONText(t, ds))
	}

	srv.Advance(t, 23*24*time.Hour)
	c.token = c.signIn(srv.APIKey, srv.APIKeyID, srv.UserID)
	got := rcv.Wait(t, 1, time.Minute)
	var ev map[string]any
	if err := json.Unmarshal(got[0].Body, &ev); err != nil {
		t.Fatal(err)
	}
	if ev["type"] != webhook.TypeAPIKeyExpirationSoon || ev["api_key_id"] != keyID {
		t.Errorf("announcement: %v, want key %s's", ev, keyID)
	}
	if ds := c.hookDeliveries(t, dest, ""); len(ds) != 1 {
		t.Errorf("announcements: %s, want only the month's key (the first key has a century)", mustJSONText(t, ds))
	}
}

// A sign-in link works for 15 minutes by the server's clock; this one runs
// from time.Now, without WithClock.
func TestClockExpiresSignInLinks(t *testing.T) {
	t.Parallel()
	srv, c := newTestServer(t)
	link := func() string {
		t.Helper()
		before := len(srv.SignInLinks(t, adminEmail))
		if status, body, _ := c.askLink(t, adminEmail, srv.BaseURL+"/"); status != http.StatusOK {
			t.Fatalf("ask for a link: status %d: %s", status, body)
		}
		for len(srv.SignInLinks(t, adminEmail)) == before {
			srv.WaitMail(t, len(srv.Mail(t))+1, time.Minute)
		}
		links := srv.SignInLinks(t, adminEmail)
		return compadretest.Mail{Link: links[len(links)-1]}.Token()
	}
	fresh := link()
	srv.Advance(t, 14*time.Minute)
	if status, body := c.exchange(fresh); status != http.StatusOK {
		t.Errorf("14 minutes on: status %d, want 200: %v", status, body)
	}
	stale := link()
	srv.Advance(t, 15*time.Minute)
	if status, body := c.exchange(stale); status != http.StatusUnauthorized {
		t.Errorf("15 minutes on: status %d, want 401: %v", status, body)
	}
}

// failingMail fails its first sends, then delivers to a channel.
type failingMail struct {
	mu    sync.Mutex
	fails int
	sent  chan mail.Message
}

func (f *failingMail) From() string { return mail.DefaultFrom }

func (f *failingMail) Send(_ context.Context, m mail.Message) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fails > 0 {
		f.fails--
		return errors.New("the mail server is down")
	}
	f.sent <- m
	return nil
}

// A mail that failed is tried again 10 s later by the server's clock.
func TestClockBringsMailRetriesDue(t *testing.T) {
	t.Parallel()
	t0, frozen := frozenClock()
	tr := &failingMail{fails: 1, sent: make(chan mail.Message, 1)}
	srv, c := newTestServer(t, frozen, compadretest.WithMail(tr))
	if status, body, _ := c.askLink(t, adminEmail, srv.BaseURL+"/"); status != http.StatusOK {
		t.Fatalf("ask for a link: status %d: %s", status, body)
	}
	waitFor(t, "the failed attempt recorded", func() bool {
		links := signInLinks(t, srv, srv.Organization, adminEmail)
		return len(links) == 1 && links[0].MailAttempts == 1
	})
	srv.Advance(t, mail.Retries[0])
	select {
	case m := <-tr.sent:
		if want := t0.Add(mail.Retries[0]); !m.Date.Equal(want) {
			t.Errorf("the retry is dated %v, want %v", m.Date, want)
		}
	case <-time.After(time.Minute):
		t.Fatal("no retry a minute after the clock passed it")
	}
}

// blockingMail holds every send until released, counting them.
type blockingMail struct {
	sends   atomic.Int32
	release chan struct{}
}

func (b *blockingMail) From() string { return mail.DefaultFrom }

func (b *blockingMail) Send(ctx context.Context, _ mail.Message) error {
	b.sends.Add(1)
	select {
	case <-b.release:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// A move of the clock past the lease of a mail still being sent lets the
// sender claim it again, but not send it twice.
func TestClockPastAMailLeaseSendsOnce(t *testing.T) {
	t.Parallel()
	t0, frozen := frozenClock()
	tr := &blockingMail{release: make(chan struct{})}
	answer := sync.OnceFunc(func() { close(tr.release) })
	t.Cleanup(answer)
	srv, c := newTestServer(t, frozen, compadretest.WithMail(tr))
	if status, body, _ := c.askLink(t, adminEmail, srv.BaseURL+"/"); status != http.StatusOK {
		t.Fatalf("ask for a link: status %d: %s", status, body)
	}
	waitFor(t, "the mail being sent", func() bool { return tr.sends.Load() == 1 })
	db := openServerDB(t, srv)
	leasedUntil := func() time.Time {
		t.Helper()
		var at string
		if err := db.QueryRow(`SELECT mail_leased_until FROM sign_in_links`).Scan(&at); err != nil {
			t.Fatal(err)
		}
		parsed, err := time.Parse(time.RFC3339Nano, at)
		if err != nil {
			t.Fatal(err)
		}
		return parsed
	}
	lease := leasedUntil().Sub(t0)
	srv.Advance(t, lease+time.Second)
	waitFor(t, "the mail claimed again", func() bool { return leasedUntil().Equal(t0.Add(2*lease + time.Second)) })
	answer()
	waitFor(t, "the mail recorded as sent", func() bool {
		links := signInLinks(t, srv, srv.Organization, adminEmail)
		return len(links) == 1 && links[0].MailStatus == store.SignInMailSent
	})
	if n := tr.sends.Load(); n != 1 {
		t.Errorf("the mail was sent %d times, want once", n)
	}
}

// Records past their retention are deleted by the sweeper as soon as the
// clock passes it: tool invocations after 30 days, measured from each.
func TestClockSweepsToolInvocations(t *testing.T) {
	t.Parallel()
	_, frozen := frozenClock()
	srv, c := newTestServer(t, frozen)
	status, body := c.do("POST", "/tool/", map[string]any{"name": "kept", "description": "kept for 30 days",
		"tags": map[string]any{}})
	mustStatus(t, "create tool", status, http.StatusCreated, body)
	toolID := body["id"].(string)
	record := func(output string) {
		t.Helper()
		if _, err := srv.Store().RecordToolInvocations(context.Background(), []store.ToolInvocation{{
			OrgID: srv.Organization, ToolID: toolID, VersionID: "v", Major: 1, SourceType: store.SourceRegularConversation,
			Inputs: json.RawMessage(`{}`), Succeeded: true, Output: output}}); err != nil {
			t.Fatal(err)
		}
	}
	db := openServerDB(t, srv)
	kept := func() []string {
		t.Helper()
		rows, err := db.Query(`SELECT output FROM tool_invocations ORDER BY created_at`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var out []string
		for rows.Next() {
			var s string
			if err := rows.Scan(&s); err != nil {
				t.Fatal(err)
			}
			out = append(out, s)
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		return out
	}
	record("day 0")
	srv.Advance(t, 24*time.Hour)
	record("day 1")
	srv.Advance(t, app.DefaultRetention-24*time.Hour+time.Second)
	waitFor(t, "day 0's record deleted", func() bool { return len(kept()) == 1 })
	if got := kept(); got[0] != "day 1" {
		t.Errorf("kept %q, want day 1's record", got)
	}
}

// Webhook delivery records, prompt logs and lapsed sign-in links go too
// once the clock passes their retention.
func TestClockSweepsOtherRecords(t *testing.T) {
	t.Parallel()
	t0, frozen := frozenClock()
	srv, c := newTestServer(t, frozen)
	ctx := context.Background()
	rcv := compadretest.NewReceiver(t)
	id, _ := c.hookCreate(t, rcv.URL, 3)
	emit(t, srv, hookType, map[string]any{"type": hookType})
	c.hookAwait(t, id, "success", 1)
	if err := srv.Store().RecordPromptLogs(ctx, []store.PromptLog{{OrgID: srv.Organization, Key: "k",
		Prompt: json.RawMessage(`[]`), CreatedAt: t0}}); err != nil {
		t.Fatal(err)
	}
	if status, body, _ := c.askLink(t, adminEmail, srv.BaseURL+"/"); status != http.StatusOK {
		t.Fatalf("ask for a link: status %d: %s", status, body)
	}
	srv.WaitMail(t, 1, time.Minute)

	db := openServerDB(t, srv)
	count := func(table string) int {
		t.Helper()
		var n int
		if err := db.QueryRow(`SELECT count(*) FROM ` + table).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	tables := []string{"webhook_deliveries", "prompt_logs", "sign_in_links"}
	for _, table := range tables {
		if n := count(table); n != 1 {
			t.Fatalf("%s: %d rows before the move, want 1", table, n)
		}
	}
	srv.Advance(t, max(store.WebhookRetention, store.PromptLogRetention)+time.Second)
	for _, table := range tables {
		waitFor(t, table+" swept", func() bool { return count(table) == 0 })
	}
}
