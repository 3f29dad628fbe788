package mail

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"math/big"
	"net"
	netmail "net/mail"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/compadre-dev/compadre/auth"
	"github.com/compadre-dev/compadre/clock"
	"github.com/compadre-dev/compadre/store"
)

func TestMessageBytes(t *testing.T) {
	link := "http://127.0.0.1:8080/" + strings.Repeat("long/", 300) + "?sign_in_token=abc"
	m := Message{ID: "1234@compadre", From: DefaultFrom, To: "ada@example.com", Subject: SignInSubject,
		Date: time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC), Text: "Hello Ada,\n\n" + link + "\n"}
	raw := m.Bytes()
	for i, line := range strings.Split(string(raw), "\r\n") {
		if len(line) > 78 {
			t.Errorf("line %d is %d characters long, want at most 78", i+1, len(line))
		}
	}
	if bytes.Contains(bytes.ReplaceAll(raw, []byte("\r\n"), nil), []byte("\n")) {
		t.Error("a bare LF in the message, want CRLF line ends only")
	}
	got, err := netmail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{"From": "<compadre@localhost>", "To": "<ada@example.com>",
		"Subject": SignInSubject, "Date": "Sun, 01 Mar 2026 10:00:00 +0000", "Message-Id": "<1234@compadre>",
		"Content-Transfer-Encoding": "quoted-printable"} {
		if v := got.Header.Get(name); v != want {
			t.Errorf("%s: got %q, want %q", name, v, want)
		}
	}
}

func TestSignInLink(t *testing.T) {
	tests := []struct{ redirect, want string }{
		{"http://127.0.0.1:8080", "http://127.0.0.1:8080?sign_in_token=T"},
		{"http://127.0.0.1:8080/", "http://127.0.0.1:8080/?sign_in_token=T"},
		{"https://app.example.com/in?next=%2Fhome&x", "https://app.example.com/in?next=%2Fhome&x&sign_in_token=T"},
		{"https://app.example.com/in?#frag", "https://app.example.com/in?sign_in_token=T#frag"},
		{"https://app.example.com/a%2Fb/?q=1#f", "https://app.example.com/a%2Fb/?q=1&sign_in_token=T#f"},
	}
	for _, tc := range tests {
		t.Run(tc.redirect, func(t *testing.T) {
			got, err := SignInLink(tc.redirect, "T")
			if err != nil || got != tc.want {
				t.Errorf("got %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

func TestRedirectPolicy(t *testing.T) {
	origins, err := ParseOrigins(" https://app.example.com/, http://Intranet:3000 ,")
	if err != nil {
		t.Fatal(err)
	}
	p := RedirectPolicy{Base: "http://compadre.example.com:8080", Origins: origins}
	tests := []struct {
		redirect string
		want     error
	}{
		{"http://compadre.example.com:8080/welcome", nil},
		{"http://COMPADRE.example.com:8080/", nil},
		{"https://compadre.example.com:8080/", ErrRedirectOrigin},
		{"http://compadre.example.com/", ErrRedirectOrigin},
		{"http://localhost/", nil},
		{"https://LOCALHOST:9/", nil},
		{"http://127.8.9.10:1/", nil},
		{"http://[::1]/", nil},
		{"http://[::ffff:127.0.0.1]/", nil},
		{"http://localhost.evil.example.net/", ErrRedirectOrigin},
		{"https://app.example.com", nil},
		{"https://app.example.com:443/x", nil},
		{"http://intranet:3000/x?y=1", nil},
		{"http://intranet/", ErrRedirectOrigin},
		{"https://evil.example.net/", ErrRedirectOrigin},
		{"//app.example.com/", ErrRedirectNotHTTP},
		{"/relative", ErrRedirectNotHTTP},
		{"mailto:ada@example.com", ErrRedirectNotHTTP},
		{"http:opaque", ErrRedirectNotHTTP},
		{"http://ada@localhost/", ErrRedirectCredentials},
		{"http://localhost/?a=1&sign_in_token=x", ErrRedirectCarriesToken},
		{"http://localhost/?sign_in_token", ErrRedirectCarriesToken},
		{"http://localhost/?bad=%zz", ErrRedirectCarriesToken},
	}
	for _, tc := range tests {
		t.Run(tc.redirect, func(t *testing.T) {
			if err := p.Check(tc.redirect); !errors.Is(err, tc.want) {
				t.Errorf("got %v, want %v", err, tc.want)
			}
		})
	}
}

func TestParseOrigins(t *testing.T) {
	for _, bad := range []string{"app.example.com", "ftp://x", "https://app.example.com/login", "https://u@x",
		"https://x?y", "https://x#f", "https://"} {
		if _, err := ParseOrigins(bad); err == nil {
			t.Errorf("%q: accepted, want an error", bad)
		}
	}
	got, err := ParseOrigins("")
	if err != nil || len(got) != 0 {
		t.Errorf("empty: %v, %v", got, err)
	}
}

func TestParseSMTPURL(t *testing.T) {
	tests := []struct {
		url, wantServer, wantFrom string
	}{
		{"smtp://mail.example.com", "smtp://mail.example.com:587", DefaultFrom},
		{"smtp://u:p@mail.example.com:25?from=noreply@example.com", "smtp://mail.example.com:25", "noreply@example.com"},
		{"smtps://u:p@mail.example.com?from=Compadre%20%3Cno@example.com%3E", "smtps://mail.example.com:465", "no@example.com"},
	}
	for _, tc := range tests {
		s, err := ParseSMTPURL(tc.url)
		if err != nil || s.String() != tc.wantServer || s.From() != tc.wantFrom {
			t.Errorf("%s: got %v %v, want %s from %s", tc.url, s, err, tc.wantServer, tc.wantFrom)
		}
	}
	for _, bad := range []string{"http://hunter2:hunter2@x", "smtp://u:hunter2@", "smtp://u:hunter2@x/path",
		"smtp://u:hunter2@x?form=a@b", "smtp://u:hunter2@x?from=hunter2", "smtp://u:hunter2@x?from=a@b&from=c@d",
		"smtp://u:hunter2@x:%zz"} {
		_, err := ParseSMTPURL(bad)
		if err == nil {
			t.Errorf("%s: accepted, want an error", bad)
		} else if strings.Contains(err.Error(), "hunter2") && !strings.Contains(bad, "from=hunter2") {
			t.Errorf("%s: the error repeats the password: %v", bad, err)
		}
	}
}

// receiver is an SMTP server for a test, wanting PLAIN credentials.
type receiver struct {
	pass string
	got  chan received
}

type received struct {
	from, to string
	tls      bool
	data     []byte
}

func (r *receiver) NewSession(c *smtp.Conn) (smtp.Session, error) { return &session{r: r, c: c}, nil }

type session struct {
	r      *receiver
	c      *smtp.Conn
	authed bool
	msg    received
}

func (s *session) AuthMechanisms() []string { return []string{sasl.Plain} }
func (s *session) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, user, pass string) error {
		if user != "mailer" || pass != s.r.pass {
			return errors.New("wrong credentials")
		}
		s.authed = true
		return nil
	}), nil
}
func (s *session) Mail(from string, _ *smtp.MailOptions) error {
	if !s.authed {
		return smtp.ErrAuthRequired
	}
	s.msg.from = from
	return nil
}
func (s *session) Rcpt(to string, _ *smtp.RcptOptions) error { s.msg.to = to; return nil }
func (s *session) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.msg.data = b
	_, s.msg.tls = s.c.TLSConnectionState()
	s.r.got <- s.msg
	return nil
}
func (s *session) Reset()        {}
func (s *session) Logout() error { return nil }

// selfSigned returns a certificate for 127.0.0.1 and a pool trusting it.
func selfSigned(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "127.0.0.1"},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, NotBefore: time.Now().Add(-time.Hour),
		NotAfter: time.Now().Add(time.Hour), KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, pool
}

func TestSMTP(t *testing.T) {
	cert, pool := selfSigned(t)
	serverTLS := &tls.Config{Certificates: []tls.Certificate{cert}}
	tests := []struct {
		name     string
		scheme   string
		startTLS bool // the server offers STARTTLS
		implicit bool // the server speaks TLS from the start
		pass     string
		wantTLS  bool
		wantErr  bool
	}{
		{name: "plain on loopback", scheme: "smtp", pass: "s3cret"},
		{name: "STARTTLS when offered", scheme: "smtp", startTLS: true, pass: "s3cret", wantTLS: true},
		{name: "implicit TLS", scheme: "smtps", implicit: true, pass: "s3cret", wantTLS: true},
		{name: "wrong password", scheme: "smtp", pass: "hunter2", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := &receiver{pass: "s3cret", got: make(chan received, 1)}
			l, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			srv := smtp.NewServer(r)
			srv.Domain = "localhost"
			srv.AllowInsecureAuth = true
			if tc.startTLS {
				srv.TLSConfig = serverTLS
			}
			if tc.implicit {
				l = tls.NewListener(l, serverTLS)
			}
			go func() { _ = srv.Serve(l) }()
			t.Cleanup(func() { srv.Close() })

			s, err := ParseSMTPURL(tc.scheme + "://mailer:" + tc.pass + "@" + l.Addr().String() + "?from=noreply@example.com")
			if err != nil {
				t.Fatal(err)
			}
			s.tlsConfig = &tls.Config{RootCAs: pool}
			m := Message{ID: newMessageID(), From: s.From(), To: "ada@example.com", Subject: SignInSubject,
				Date: time.Now(), Text: "hello\n"}
			err = s.Send(context.Background(), m)
			if tc.wantErr {
				if err == nil || strings.Contains(err.Error(), tc.pass) {
					t.Fatalf("got %v, want an error that does not repeat the password", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := <-r.got
			if got.from != "noreply@example.com" || got.to != "ada@example.com" || got.tls != tc.wantTLS ||
				!bytes.Equal(got.data, m.Bytes()) {
				t.Errorf("received from %q to %q over TLS %v, %d bytes; want TLS %v and the message", got.from, got.to,
					got.tls, len(got.data), tc.wantTLS)
			}
		})
	}
	t.Run("a server that stalls is left when the context ends", func(t *testing.T) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		go func() {
			// Accepts and says nothing.
			c, err := l.Accept()
			if err == nil {
				_, _ = bufio.NewReader(c).ReadByte()
				c.Close()
			}
		}()
		s, err := ParseSMTPURL("smtp://" + l.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() {
			done <- s.Send(ctx, Message{ID: "x@y", From: DefaultFrom, To: "a@example.com", Date: time.Now()})
		}()
		cancel()
		if err := <-done; err == nil {
			t.Fatal("got nil, want an error")
		}
	})
}

// flaky is a transport that fails every message and counts them.
type flaky struct{ sent atomic.Int32 }

func (f *flaky) From() string { return DefaultFrom }
func (f *flaky) Send(context.Context, Message) error {
	f.sent.Add(1)
	return errors.New("the mail server is down")
}

// newFakeClock is a clock that stands at 10:00 UTC on 1 March 2026 until
// moved.
func newFakeClock() *clock.Clock {
	return clock.New(func() time.Time { return time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC) })
}

// newSenderStore opens a store with one organization whose administrator
// is ada@example.com.
func newSenderStore(t *testing.T, clk *clock.Clock) *store.Store {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "db"), store.WithClock(clk.Now))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	_, _, err = st.CreateOrganization(ctx, store.NewOrganization{
		Org:       store.Organization{ID: "o", Name: "O", DefaultUserPreferences: store.DefaultPreferences()},
		Roles:     auth.BuiltinRoles(),
		Admin:     store.User{FirstName: "Ada", LastName: "L", Email: "ada@example.com", Preferences: store.DefaultPreferences()},
		AdminRole: auth.DefaultSuperAdministratorRole,
	})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// A failing mail is tried four times on the schedule, then dropped; one
// whose link lapses first is dropped unsent; lapsed links are deleted a
// day later.
func TestSenderRetriesThenDrops(t *testing.T) {
	ctx := context.Background()
	clk := newFakeClock()
	advance := func(d time.Duration) {
		t.Helper()
		if err := clk.Advance(d); err != nil {
			t.Fatal(err)
		}
	}
	st := newSenderStore(t, clk)
	tr := &flaky{}
	links := auth.NewSignInLinks([]byte("key"))
	s := NewSender(SenderConfig{Store: st, Links: links, Transport: tr, Clock: clk})
	recorded := make(chan struct{}, 1)
	s.recorded = func() { recorded <- struct{}{} }
	if err := s.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	await := func(what string) {
		t.Helper()
		s.Notify()
		select {
		case <-recorded:
		case <-time.After(time.Minute):
			t.Fatalf("%s: no attempt recorded", what)
		}
	}
	status := func(email string) store.SignInLink {
		t.Helper()
		got, err := st.ListSignInLinks(ctx, "o", email)
		if err != nil || len(got) != 1 {
			t.Fatalf("links: %v %v", got, err)
		}
		return got[0]
	}

	if err := st.CreateSignInLink(ctx, store.NewSignInLink{ID: store.NewID(), OrgID: "o", Email: "ada@example.com",
		TokenHash: "h1", RedirectLink: "http://localhost/", TTL: 15 * time.Minute}); err != nil {
		t.Fatal(err)
	}
	await("first attempt")
	for i, wait := range Retries {
		if l := status("ada@example.com"); l.MailStatus != store.SignInMailPending || l.MailAttempts != i+1 {
			t.Fatalf("after attempt %d: %s, %d attempts", i+1, l.MailStatus, l.MailAttempts)
		}
		advance(wait)
		await("a retry")
	}
	if l := status("ada@example.com"); l.MailStatus != store.SignInMailFailed || l.MailAttempts != 4 || tr.sent.Load() != 4 {
		t.Errorf("after the last attempt: %s, %d attempts, %d sent; want failed after 4", l.MailStatus, l.MailAttempts,
			tr.sent.Load())
	}

	// A link that lapses before its retry comes is dropped then, unsent.
	if _, err := st.PruneSignInLinks(ctx, clk.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := st.CreateSignInLink(ctx, store.NewSignInLink{ID: store.NewID(), OrgID: "o", Email: "ada@example.com",
		TokenHash: "h2", RedirectLink: "http://localhost/", TTL: 30 * time.Second}); err != nil {
		t.Fatal(err)
	}
	await("first attempt")
	advance(time.Minute)
	await("the retry after the link lapsed")
	if l := status("ada@example.com"); l.MailStatus != store.SignInMailFailed || l.MailAttempts != 2 || tr.sent.Load() != 5 {
		t.Errorf("lapsed link: %s, %d attempts, %d sent; want failed after one send", l.MailStatus, l.MailAttempts,
			tr.sent.Load())
	}

	// Kept for a day after it lapsed, then deleted by the sender's own
	// chore, which runs when the clock moves. The chore runs on the
	// sender's goroutine, so the test waits for the link to go rather than
	// pruning it itself (which would race the chore for the one row).
	if n, err := st.PruneSignInLinks(ctx, clk.Now().Add(-KeepLinks)); err != nil || n != 0 {
		t.Errorf("pruned %d, %v; want none yet", n, err)
	}
	advance(KeepLinks)
	for deadline := time.Now().Add(time.Minute); ; {
		got, err := st.ListSignInLinks(ctx, "o", "ada@example.com")
		if err != nil {
			t.Fatal(err)
		}
		if len(got) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("a day after it lapsed the link is still kept: %+v", got)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestDirSink(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "mail")
	d, err := NewDir(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	m := Message{ID: newMessageID(), From: d.From(), To: "ada@example.com", Subject: SignInSubject, Date: time.Now(), Text: "hi\n"}
	if err := d.Send(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil || len(entries) != 1 || !strings.HasSuffix(entries[0].Name(), FileSuffix) {
		t.Fatalf("sink holds %v, %v; want one message", entries, err)
	}
	info, err := entries[0].Info()
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, %v; want 0600", info.Mode(), err)
	}
	raw, err := os.ReadFile(filepath.Join(dir, entries[0].Name()))
	if err != nil || !bytes.Equal(raw, m.Bytes()) {
		t.Errorf("file holds %q, %v; want the message", raw, err)
	}
}
