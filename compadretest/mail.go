package compadretest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"mime/quotedprintable"
	"net/http"
	netmail "net/mail"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/compadre-dev/compadre/app"
	"github.com/compadre-dev/compadre/mail"
)

// WithMail delivers the server's mail through t (an SMTP server the test
// runs, say) instead of the local sink; Mail, WaitMail and SignInLinks
// then see none of it.
func WithMail(t mail.Transport) Option { return func(c *app.Config) { c.Mail = t } }

// WithSignInRedirects lets sign-in links lead to these origins (such as
// "https://app.example.com") besides the server's own and loopback ones.
func WithSignInRedirects(origins ...string) Option {
	return func(c *app.Config) { c.SignInRedirects = origins }
}

// sink is the server's local mail sink, which also tells waiting tests
// that a message arrived.
type sink struct {
	*mail.Dir
	arrived chan struct{}
}

func (s *sink) Send(ctx context.Context, m mail.Message) error {
	err := s.Dir.Send(ctx, m)
	if err == nil {
		select {
		case s.arrived <- struct{}{}:
		default:
		}
	}
	return err
}

// Mail is a message the server sent.
type Mail struct {
	From    string
	To      string
	Subject string
	// Text is the body, decoded.
	Text string
	// Link is the sign-in link the message carries, if any.
	Link string
	// File is where the local sink wrote it ("" for a message parsed
	// from elsewhere).
	File string
}

// Token is the sign-in token of the message's link, "" if it has none.
func (m Mail) Token() string {
	u, err := url.Parse(m.Link)
	if err != nil {
		return ""
	}
	return u.Query().Get(mail.SignInTokenParam)
}

var linkPattern = regexp.MustCompile(`\S+[?&]` + mail.SignInTokenParam + `=\S+`)

// ParseMail reads a message as the server composes it (RFC 5322 text with
// a quoted-printable body), as an SMTP server a test runs receives it.
func ParseMail(raw []byte) (Mail, error) {
	msg, err := netmail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return Mail{}, err
	}
	body := io.Reader(msg.Body)
	if strings.EqualFold(msg.Header.Get("Content-Transfer-Encoding"), "quoted-printable") {
		body = quotedprintable.NewReader(body)
	}
	text, err := io.ReadAll(body)
	if err != nil {
		return Mail{}, err
	}
	m := Mail{Subject: msg.Header.Get("Subject"), Text: strings.ReplaceAll(string(text), "\r\n", "\n")}
	for _, h := range []struct {
		name string
		to   *string
	}{{"From", &m.From}, {"To", &m.To}} {
		a, err := netmail.ParseAddress(msg.Header.Get(h.name))
		if err != nil {
			return Mail{}, err
		}
		*h.to = a.Address
	}
	m.Link = linkPattern.FindString(m.Text)
	return m, nil
}

// Mail returns the messages in the server's local sink (<DataDir>/mail),
// oldest first. A server started WithMail has none.
func (s *Server) Mail(tb testing.TB) []Mail {
	tb.Helper()
	dir := filepath.Join(s.DataDir, app.MailDir)
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		tb.Fatalf("compadretest: mail: %v", err)
	}
	var out []Mail
	// The sink names files by date, and ReadDir sorts by name.
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), mail.FileSuffix) || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		path := filepath.Join(dir, e.Name())
		raw, err := os.ReadFile(path)
		if err != nil {
			tb.Fatalf("compadretest: mail: %v", err)
		}
		m, err := ParseMail(raw)
		if err != nil {
			tb.Fatalf("compadretest: mail %s: %v", path, err)
		}
		m.File = path
		out = append(out, m)
	}
	return out
}

// WaitMail waits until the server's local sink holds at least n messages,
// for at most timeout, and returns them; it fails the test otherwise.
func (s *Server) WaitMail(tb testing.TB, n int, timeout time.Duration) []Mail {
	tb.Helper()
	if s.sink == nil {
		tb.Fatal("compadretest: the server was started WithMail: its mail is not in the sink")
	}
	deadline := time.After(timeout)
	for {
		if got := s.Mail(tb); len(got) >= n {
			return got
		}
		select {
		case <-s.sink.arrived:
		case <-deadline:
			tb.Fatalf("compadretest: %d mails after %v, want %d", len(s.Mail(tb)), timeout, n)
		}
	}
}

// SignInLinks returns the sign-in links mailed to email so far, oldest
// first.
func (s *Server) SignInLinks(tb testing.TB, email string) []string {
	tb.Helper()
	var links []string
	for _, m := range s.Mail(tb) {
		if strings.EqualFold(m.To, email) && m.Link != "" {
			links = append(links, m.Link)
		}
	}
	return links
}

// SignInByEmail signs the user with email in as a person would: it asks
// sign-in-with-email for a link to the server's own address, waits for
// the mail in the sink, and exchanges the link's token with
// sign-in-with-email-link. It returns the bearer token.
func (s *Server) SignInByEmail(tb testing.TB, email string) string {
	tb.Helper()
	before := len(s.SignInLinks(tb, email))
	post(tb, s.BaseURL+"/v1/"+s.Organization+"/user/signin",
		map[string]string{"email": email, "redirect_link": s.BaseURL + "/"}, http.StatusOK, nil)
	deadline := time.Now().Add(time.Minute)
	for len(s.SignInLinks(tb, email)) == before {
		s.WaitMail(tb, len(s.Mail(tb))+1, time.Until(deadline))
	}
	links := s.SignInLinks(tb, email)
	token := Mail{Link: links[len(links)-1]}.Token()
	var tok struct {
		IDToken string `json:"id_token"`
	}
	post(tb, s.BaseURL+"/v1/"+s.Organization+"/user/signin_with_email_link",
		map[string]string{"sign_in_token": token}, http.StatusOK, &tok)
	return tok.IDToken
}

// post sends body as JSON and decodes the answer into out, failing the
// test unless the status is want.
func post(tb testing.TB, url string, body any, want int, out any) {
	tb.Helper()
	b, err := json.Marshal(body)
	if err != nil {
		tb.Fatal(err)
	}
	resp, err := http.Post(url, "application/json", bytes.NewReader(b))
	if err != nil {
		tb.Fatalf("compadretest: POST %s: %v", url, err)
	}
	defer resp.Body.Close()
	got, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		tb.Fatalf("compadretest: POST %s: status %d, want %d: %s", url, resp.StatusCode, want, got)
	}
	if out != nil {
		if err := json.Unmarshal(got, out); err != nil {
			tb.Fatalf("compadretest: POST %s: %v", url, err)
		}
	}
}
