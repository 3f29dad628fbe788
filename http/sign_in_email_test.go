package httpapi_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/compadre-dev/compadre/compadretest"
	"github.com/compadre-dev/compadre/mail"
	"github.com/compadre-dev/compadre/store"
)

const adminEmail = "admin@example.com"

// askLink sends sign-in-with-email, without credentials, and returns the
// status, the raw body and the Retry-After header.
func (c *client) askLink(t testing.TB, email, redirect string) (int, string, string) {
	t.Helper()
	req, err := http.NewRequest("POST", c.base+"/v1/"+c.org+"/user/signin",
		strings.NewReader(`{"email": "`+email+`", "redirect_link": "`+redirect+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(body), resp.Header.Get("Retry-After")
}

// exchange sends sign-in-with-email-link with the token, without
// credentials.
func (c *client) exchange(token string) (int, map[string]any) {
	c.t.Helper()
	return c.as("").do("POST", "/user/signin_with_email_link", map[string]any{"sign_in_token": token})
}

// signInLinks reads the organization's recorded links for email.
func signInLinks(t testing.TB, srv *compadretest.Server, org, email string) []store.SignInLink {
	t.Helper()
	links, err := srv.Store().ListSignInLinks(context.Background(), org, email)
	if err != nil {
		t.Fatal(err)
	}
	return links
}

// TestSignInWithEmail follows a link from the request to an authenticated
// call, for the administrator and for a user with a narrower role, and
// exchanges each link once only.
func TestSignInWithEmail(t *testing.T) {
	t.Parallel()
	srv, c := newTestServer(t)
	c.newUser("ada@example.com", "DefaultUserRole")

	// The email's case does not matter; the redirect's query and fragment
	// are kept.
	status, body, _ := c.askLink(t, "Admin@Example.com", srv.BaseURL+"/welcome?from=mail#top")
	if status != http.StatusOK || body != "{}" {
		t.Fatalf("sign-in-with-email: %d %s, want 200 {}", status, body)
	}
	got := srv.WaitMail(t, 1, time.Minute)[0]
	if got.To != adminEmail || got.From != mail.DefaultFrom || got.Subject != mail.SignInSubject {
		t.Errorf("mail: to %q from %q subject %q", got.To, got.From, got.Subject)
	}
	if want := srv.BaseURL + "/welcome?from=mail&" + mail.SignInTokenParam + "="; !strings.HasPrefix(got.Link, want) ||
		!strings.HasSuffix(got.Link, "#top") || len(got.Token()) != 43 {
		t.Errorf("link %q, want %s<token>#top", got.Link, want)
	}
	if !strings.Contains(got.Text, "sign in to "+srv.Organization) {
		t.Errorf("mail text does not name the organization:\n%s", got.Text)
	}

	status, tok := c.exchange(got.Token())
	mustStatus(t, "exchange", status, http.StatusOK, tok)
	if tok["id_token"] == "" || tok["expires_at"] == nil || len(tok) != 2 {
		t.Fatalf("exchange answered %v, want id_token and expires_at", tok)
	}
	admin := c.as(tok["id_token"].(string))
	status, users := admin.do("GET", "/user/", nil)
	mustStatus(t, "get-users with the link's token", status, http.StatusOK, users)
	if n := len(users["users"].([]any)); n != 2 {
		t.Errorf("the administrator sees %d users, want 2", n)
	}

	// Every failure is the same 401: used, unknown, or of another shape.
	status, first := c.exchange(got.Token())
	mustStatus(t, "second exchange", status, http.StatusUnauthorized, first)
	for _, token := range []string{strings.Repeat("A", 43), "x"} {
		status, again := c.exchange(token)
		mustStatus(t, "unknown token", status, http.StatusUnauthorized, again)
		if detail(again) != detail(first) {
			t.Errorf("unknown token: %q, want the used link's %q", detail(again), detail(first))
		}
	}

	status, bad := c.exchange("not a token")
	mustStatus(t, "a token outside base64url", status, http.StatusUnprocessableEntity, bad)

	// A token is a user's own: Ada's role may read the organization's
	// dimensions but not create users.
	if status, _, _ := c.askLink(t, "ada@example.com", "http://localhost:3000/"); status != http.StatusOK {
		t.Fatalf("ada: %d", status)
	}
	srv.WaitMail(t, 2, time.Minute)
	links := srv.SignInLinks(t, "ada@example.com")
	if len(links) != 1 || !strings.HasPrefix(links[0], "http://localhost:3000/?"+mail.SignInTokenParam+"=") {
		t.Fatalf("ada's links: %q", links)
	}
	status, tok = c.exchange(compadretest.Mail{Link: links[0]}.Token())
	mustStatus(t, "ada's exchange", status, http.StatusOK, tok)
	ada := c.as(tok["id_token"].(string))
	status, body2 := ada.do("GET", "/organization/user_dimensions/", nil)
	mustStatus(t, "ada reads dimensions", status, http.StatusOK, body2)
	status, body2 = ada.do("POST", "/user/", map[string]any{"first_name": "F", "last_name": "L", "email": "x@example.com",
		"role_name": "DefaultUserRole"})
	mustStatus(t, "ada creates a user", status, http.StatusForbidden, body2)

	rows := signInLinks(t, srv, srv.Organization, adminEmail)
	if len(rows) != 1 || rows[0].UserID == nil || *rows[0].UserID != srv.UserID || rows[0].UsedAt == nil ||
		rows[0].MailStatus != store.SignInMailSent || rows[0].MailAttempts != 1 ||
		rows[0].ExpiresAt.Sub(rows[0].CreatedAt) != 15*time.Minute {
		t.Errorf("recorded link: %+v", rows)
	}
}

// Whoever asks learns nothing: an email that is no user's here gets the
// same answer and a row, but no mail and nothing to exchange.
func TestSignInWithEmailForNoUser(t *testing.T) {
	t.Parallel()
	srv, c := newTestServer(t)
	// A user of another organization is no user of this one.
	if status, body := c.createOrg("other"); status != http.StatusOK && status != http.StatusCreated {
		t.Fatalf("create organization: %d %v", status, body)
	}
	other := &client{t: t, base: srv.BaseURL, org: "other"}
	creds := srv.NewAPIKey(t, "other", "")
	other.token = other.signIn(creds.APIKey, creds.APIKeyID, creds.UserID)
	other.newUser("bob@example.com", "DefaultUserRole")
	// Nor is a deleted user.
	gone := c.newUser("gone@example.com", "DefaultUserRole")
	if status, body := c.do("DELETE", "/user/"+gone, nil); status >= 300 {
		t.Fatalf("delete user: %d %v", status, body)
	}

	for _, email := range []string{"nobody@example.com", "bob@example.com", "gone@example.com"} {
		status, body, _ := c.askLink(t, email, srv.BaseURL+"/")
		if status != http.StatusOK || body != "{}" {
			t.Errorf("%s: %d %s, want 200 {}", email, status, body)
		}
		rows := signInLinks(t, srv, srv.Organization, email)
		if len(rows) != 1 || rows[0].UserID != nil || rows[0].MailStatus != store.SignInMailNone {
			t.Errorf("%s: recorded %+v, want one link naming no user, with no mail", email, rows)
		}
	}
	// Mail goes out in the order it is asked for, so once a later mail to
	// a user has arrived, none went to the others.
	if status, _, _ := c.askLink(t, adminEmail, srv.BaseURL+"/"); status != http.StatusOK {
		t.Fatal(status)
	}
	if got := srv.WaitMail(t, 1, time.Minute); len(got) != 1 || got[0].To != adminEmail {
		t.Errorf("mail: %+v, want one to %s", got, adminEmail)
	}
	if rows := signInLinks(t, srv, "other", "bob@example.com"); len(rows) != 0 {
		t.Errorf("the other organization has links %+v", rows)
	}
}

// A link is exchanged only in its own organization, only while its user
// exists.
func TestSignInLinkScope(t *testing.T) {
	t.Parallel()
	srv, c := newTestServer(t)
	if status, body := c.createOrg("other"); status != http.StatusOK && status != http.StatusCreated {
		t.Fatalf("create organization: %d %v", status, body)
	}
	ada := c.newUser("ada@example.com", "DefaultUserRole")
	for _, email := range []string{adminEmail, "ada@example.com"} {
		if status, _, _ := c.askLink(t, email, srv.BaseURL+"/"); status != http.StatusOK {
			t.Fatal(status)
		}
	}
	srv.WaitMail(t, 2, time.Minute)
	adminToken := compadretest.Mail{Link: srv.SignInLinks(t, adminEmail)[0]}.Token()
	adaToken := compadretest.Mail{Link: srv.SignInLinks(t, "ada@example.com")[0]}.Token()

	elsewhere := &client{t: t, base: srv.BaseURL, org: "other"}
	status, body := elsewhere.exchange(adminToken)
	mustStatus(t, "exchange in another organization", status, http.StatusUnauthorized, body)

	// Ada signs in, then is deleted: her token stops working at once.
	status, tok := c.exchange(adaToken)
	mustStatus(t, "exchange", status, http.StatusOK, tok)
	adaClient := c.as(tok["id_token"].(string))
	if status, _ := adaClient.do("GET", "/organization/user_dimensions/", nil); status != http.StatusOK {
		t.Fatalf("ada's token: %d", status)
	}
	if status, body := c.do("DELETE", "/user/"+ada, nil); status >= 300 {
		t.Fatalf("delete ada: %d %v", status, body)
	}
	if status, _ := adaClient.do("GET", "/organization/user_dimensions/", nil); status != http.StatusUnauthorized {
		t.Errorf("deleted user's token: %d, want 401", status)
	}

	// Exchanged at once by many, a link opens one session.
	status, body = c.exchange(adminToken)
	mustStatus(t, "exchange in its organization", status, http.StatusOK, body)
	if status, _, _ := c.askLink(t, adminEmail, srv.BaseURL+"/"); status != http.StatusOK {
		t.Fatal(status)
	}
	srv.WaitMail(t, 3, time.Minute)
	links := srv.SignInLinks(t, adminEmail)
	token := compadretest.Mail{Link: links[len(links)-1]}.Token()
	var wg sync.WaitGroup
	statuses := make([]int, 8)
	for i := range statuses {
		wg.Go(func() {
			cc := *c
			cc.t = t
			statuses[i], _ = cc.exchange(token)
		})
	}
	wg.Wait()
	won := 0
	for _, s := range statuses {
		if s == http.StatusOK {
			won++
		} else if s != http.StatusUnauthorized {
			t.Errorf("concurrent exchange: %d", s)
		}
	}
	if won != 1 {
		t.Errorf("%d concurrent exchanges succeeded, want 1 (statuses %v)", won, statuses)
	}
}

// A link works for 15 minutes by the server's clock, and not a moment more.
func TestSignInLinkExpires(t *testing.T) {
	t.Parallel()
	clock := newTestClock()
	srv, c := newTestServer(t, clock.option())
	for range 2 {
		if status, _, _ := c.askLink(t, adminEmail, srv.BaseURL+"/"); status != http.StatusOK {
			t.Fatal(status)
		}
	}
	srv.WaitMail(t, 2, time.Minute)
	links := srv.SignInLinks(t, adminEmail)

	clock.advance(15*time.Minute - time.Second)
	status, body := c.exchange(compadretest.Mail{Link: links[0]}.Token())
	mustStatus(t, "a second before expiry", status, http.StatusOK, body)
	clock.advance(time.Second)
	status, body = c.exchange(compadretest.Mail{Link: links[1]}.Token())
	mustStatus(t, "at expiry", status, http.StatusUnauthorized, body)
}

// Where a link may lead depends on the link alone: the server's origin,
// loopback, and the origins it was started with.
func TestSignInRedirects(t *testing.T) {
	t.Parallel()
	srv, c := newTestServer(t, compadretest.WithSignInRedirects("https://app.example.com"))
	tests := []struct {
		name, redirect string
		want           int
	}{
		{"the server's own origin", srv.BaseURL + "/after/sign-in", http.StatusOK},
		{"localhost", "http://localhost:3000/callback", http.StatusOK},
		{"IPv6 loopback", "http://[::1]:9/", http.StatusOK},
		{"another loopback address", "https://127.0.0.2/", http.StatusOK},
		{"a listed origin", "https://app.example.com/login?next=%2Fhome", http.StatusOK},
		{"a listed origin, its default port written", "https://APP.example.com:443/", http.StatusOK},
		{"a listed host on another port", "https://app.example.com:8443/", http.StatusBadRequest},
		{"a listed host over http", "http://app.example.com/", http.StatusBadRequest},
		{"another site", "https://evil.example.net/steal", http.StatusBadRequest},
		{"a look-alike of loopback", "http://127.0.0.1.evil.example.net/", http.StatusBadRequest},
		{"not http", "ftp://127.0.0.1/", http.StatusBadRequest},
		{"javascript", "javascript:alert(1)", http.StatusBadRequest},
		{"credentials", "http://user:pw@127.0.0.1/", http.StatusBadRequest},
		{"a token already", "http://127.0.0.1/?sign_in_token=mine", http.StatusBadRequest},
		{"not a URI", "not a link", http.StatusUnprocessableEntity},
		{"empty", "", http.StatusUnprocessableEntity},
		{"longer than 2083", "http://127.0.0.1/" + strings.Repeat("a", 2067), http.StatusUnprocessableEntity},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, email := range []string{adminEmail, "nobody@example.com"} {
				before := len(signInLinks(t, srv, srv.Organization, email))
				status, body, _ := c.askLink(t, email, tc.redirect)
				if status != tc.want {
					t.Fatalf("%s: %d %s, want %d", email, status, body, tc.want)
				}
				wrote := len(signInLinks(t, srv, srv.Organization, email)) - before
				if want := map[bool]int{true: 1, false: 0}[status == http.StatusOK]; wrote != want {
					t.Errorf("%s: %d links written, want %d", email, wrote, want)
				}
			}
		})
	}
	// The refusal reads the same for a user and for nobody.
	_, forUser, _ := c.askLink(t, adminEmail, "https://evil.example.net/")
	_, forNobody, _ := c.askLink(t, "nobody@example.com", "https://evil.example.net/")
	if forUser != forNobody || !strings.Contains(forUser, "origin is not allowed") {
		t.Errorf("refusals: %s and %s, want the same, naming the origin", forUser, forNobody)
	}
	for name, body := range map[string]string{
		"no email":      `{"redirect_link": "http://127.0.0.1/"}`,
		"bad email":     `{"redirect_link": "http://127.0.0.1/", "email": "not an email"}`,
		"no redirect":   `{"email": "a@example.com"}`,
		"long email":    `{"redirect_link": "http://127.0.0.1/", "email": "` + strings.Repeat("a", 243) + `@example.com"}`,
		"not an object": `[]`,
	} {
		status, out := c.as("").do("POST", "/user/signin", body)
		mustStatus(t, name, status, http.StatusUnprocessableEntity, out)
	}
	elsewhere := &client{t: t, base: srv.BaseURL, org: "nowhere"}
	status, out := elsewhere.do("POST", "/user/signin", map[string]any{"email": adminEmail, "redirect_link": srv.BaseURL + "/"})
	mustStatus(t, "unknown organization", status, http.StatusNotFound, out)
}

// The limits: 5 links per email in 15 minutes, then one every 3 minutes;
// 20 requests per client address a minute, then one every 3 seconds. A
// refusal reads the same whether or not the email is a user's.
func TestSignInWithEmailRateLimits(t *testing.T) {
	t.Parallel()
	t.Run("per email", func(t *testing.T) {
		t.Parallel()
		clock := newTestClock()
		srv, c := newTestServer(t, clock.option(), compadretest.WithRateLimits(1))
		var refusals []string
		for _, email := range []string{adminEmail, "nobody@example.com"} {
			for i := 1; i <= 5; i++ {
				if status, body, _ := c.askLink(t, email, srv.BaseURL+"/"); status != http.StatusOK {
					t.Fatalf("%s, link %d: %d %s", email, i, status, body)
				}
			}
			status, body, retry := c.askLink(t, email, srv.BaseURL+"/")
			if status != http.StatusTooManyRequests || retry != "180" {
				t.Fatalf("%s, link 6: %d %s, Retry-After %q; want 429 after 180 s", email, status, body, retry)
			}
			refusals = append(refusals, body)
			// Another email is not held back.
			if status, _, _ := c.askLink(t, "else-"+email, srv.BaseURL+"/"); status != http.StatusOK {
				t.Errorf("another email: %d", status)
			}
		}
		if refusals[0] != refusals[1] {
			t.Errorf("refusals differ: %s and %s", refusals[0], refusals[1])
		}
		clock.advance(180*time.Second - time.Millisecond)
		if status, _, _ := c.askLink(t, adminEmail, srv.BaseURL+"/"); status != http.StatusTooManyRequests {
			t.Errorf("just before Retry-After: %d, want 429", status)
		}
		clock.advance(time.Millisecond)
		if status, _, _ := c.askLink(t, adminEmail, srv.BaseURL+"/"); status != http.StatusOK {
			t.Errorf("at Retry-After: %d, want 200", status)
		}
		if n := len(signInLinks(t, srv, srv.Organization, adminEmail)); n != 6 {
			t.Errorf("%d links recorded, want 6: refused requests write none", n)
		}
	})
	t.Run("per client", func(t *testing.T) {
		t.Parallel()
		clock := newTestClock()
		srv, c := newTestServer(t, clock.option(), compadretest.WithRateLimits(1))
		for i := 1; i <= 20; i++ {
			if status, body, _ := c.askLink(t, "u"+string(rune('a'+i))+"@example.com", srv.BaseURL+"/"); status != http.StatusOK {
				t.Fatalf("request %d: %d %s", i, status, body)
			}
		}
		status, body, retry := c.askLink(t, adminEmail, srv.BaseURL+"/")
		if status != http.StatusTooManyRequests || retry != "3" || !strings.Contains(body, "20 requests per minute") {
			t.Fatalf("request 21: %d %s, Retry-After %q; want 429 after 3 s", status, body, retry)
		}
		// The refused request took nothing from its email's 5: one every 3
		// seconds, the client's pace, five are admitted and the sixth is
		// refused by the email's limit.
		for i := 1; i <= 5; i++ {
			clock.advance(3 * time.Second)
			if status, body, _ := c.askLink(t, adminEmail, srv.BaseURL+"/"); status != http.StatusOK {
				t.Fatalf("link %d for the refused email: %d %s, want 200", i, status, body)
			}
		}
		clock.advance(3 * time.Second)
		status, body, _ = c.askLink(t, adminEmail, srv.BaseURL+"/")
		if status != http.StatusTooManyRequests || !strings.Contains(body, "5 sign-in links per 15 minutes") {
			t.Errorf("link 6 for the refused email: %d %s, want the email's 429", status, body)
		}
		if rows := signInLinks(t, srv, srv.Organization, adminEmail); len(rows) != 5 {
			t.Errorf("%d links for the email, want 5", len(rows))
		}
	})
}

// smtpReceiver is an SMTP server for a test: it wants PLAIN credentials
// and keeps every message it accepts.
type smtpReceiver struct {
	user, pass string
	got        chan smtpMessage
}

type smtpMessage struct {
	from string
	to   []string
	data []byte
}

func (b *smtpReceiver) NewSession(*smtp.Conn) (smtp.Session, error) {
	return &smtpSession{b: b}, nil
}

type smtpSession struct {
	b      *smtpReceiver
	authed bool
	msg    smtpMessage
}

func (s *smtpSession) AuthMechanisms() []string { return []string{sasl.Plain} }

func (s *smtpSession) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, user, pass string) error {
		if user != s.b.user || pass != s.b.pass {
			return errors.New("wrong credentials")
		}
		s.authed = true
		return nil
	}), nil
}

func (s *smtpSession) Mail(from string, _ *smtp.MailOptions) error {
	if !s.authed {
		return smtp.ErrAuthRequired
	}
	s.msg.from = from
	return nil
}

func (s *smtpSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.msg.to = append(s.msg.to, to)
	return nil
}

func (s *smtpSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.msg.data = b
	s.b.got <- s.msg
	return nil
}

func (s *smtpSession) Reset()        { s.msg = smtpMessage{} }
func (s *smtpSession) Logout() error { return nil }

// startSMTP runs an SMTP server on loopback until the test ends and
// returns its address.
func startSMTP(t *testing.T, b *smtpReceiver) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := smtp.NewServer(b)
	s.Domain = "localhost"
	// Loopback only, as net/smtp also requires for PLAIN without TLS.
	s.AllowInsecureAuth = true
	go func() { _ = s.Serve(l) }()
	t.Cleanup(func() { s.Close() })
	return l.Addr().String()
}

// With --smtp-url, the link goes to the mail server, authenticated.
func TestSignInMailThroughSMTP(t *testing.T) {
	t.Parallel()
	rcv := &smtpReceiver{user: "mailer", pass: "s3cret", got: make(chan smtpMessage, 4)}
	addr := startSMTP(t, rcv)
	tr, err := mail.ParseSMTPURL("smtp://mailer:s3cret@" + addr + "?from=noreply@example.com")
	if err != nil {
		t.Fatal(err)
	}
	srv, c := newTestServer(t, compadretest.WithMail(tr))
	if status, body, _ := c.askLink(t, adminEmail, srv.BaseURL+"/"); status != http.StatusOK {
		t.Fatalf("%d %s", status, body)
	}
	var got smtpMessage
	select {
	case got = <-rcv.got:
	case <-time.After(time.Minute):
		t.Fatal("no message reached the SMTP server in a minute")
	}
	if got.from != "noreply@example.com" || len(got.to) != 1 || got.to[0] != adminEmail {
		t.Errorf("envelope: from %q to %q", got.from, got.to)
	}
	m, err := compadretest.ParseMail(got.data)
	if err != nil {
		t.Fatal(err)
	}
	if m.From != "noreply@example.com" || m.To != adminEmail || !strings.HasPrefix(m.Link, srv.BaseURL+"/?sign_in_token=") {
		t.Errorf("message: %+v", m)
	}
	status, tok := c.exchange(m.Token())
	mustStatus(t, "exchange", status, http.StatusOK, tok)
	if len(srv.Mail(t)) != 0 {
		t.Error("the local sink got mail too")
	}
}

// stalled is a mail transport that never finishes: it holds every message
// until the server stops.
type stalled struct{ started chan struct{} }

func (stalled) From() string { return mail.DefaultFrom }

func (s stalled) Send(ctx context.Context, _ mail.Message) error {
	s.started <- struct{}{}
	<-ctx.Done()
	return ctx.Err()
}

// A mail a stopped server was sending is sent when it starts again.
func TestSignInMailSurvivesARestart(t *testing.T) {
	t.Parallel()
	tr := stalled{started: make(chan struct{}, 1)}
	dir := t.TempDir()
	first := compadretest.Start(t, compadretest.WithDataDir(dir), compadretest.WithMail(tr))
	c := &client{t: t, base: first.BaseURL, org: first.Organization}
	if status, body, _ := c.askLink(t, adminEmail, first.BaseURL+"/"); status != http.StatusOK {
		t.Fatalf("%d %s", status, body)
	}
	select {
	case <-tr.started:
	case <-time.After(time.Minute):
		t.Fatal("the mail was not attempted")
	}
	first.Stop()

	second := compadretest.Start(t, compadretest.WithDataDir(dir))
	got := second.WaitMail(t, 1, time.Minute)
	if len(got) != 1 || got[0].To != adminEmail {
		t.Fatalf("mail after the restart: %+v", got)
	}
	c.base = second.BaseURL
	status, tok := c.exchange(got[0].Token())
	mustStatus(t, "exchange after the restart", status, http.StatusOK, tok)
}
