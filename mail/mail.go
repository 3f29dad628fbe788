// Package mail sends the server's mail: the links sign-in-with-email asks
// for. A background sender takes the links whose mail is due from the
// store, composes each as an RFC 5322 message and hands it to a transport:
// an SMTP server (--smtp-url), or without one, the local sink, a file per
// message in the data directory and a log line, so local development and
// tests need no mail server. A failed mail is tried again a few times, then
// dropped and logged; mails a stopped server was sending are sent when it
// starts again.
package mail

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"mime/quotedprintable"
	netmail "net/mail"
	"net/url"
	"strings"
	"time"
)

// Transport delivers composed messages.
type Transport interface {
	Send(ctx context.Context, m Message) error
	// From is the address messages are sent from.
	From() string
}

// DefaultFrom is the sender of mail when --smtp-url names none, and of the
// local sink's.
const DefaultFrom = "compadre@localhost"

// Message is one mail of plain text to one recipient.
type Message struct {
	// ID is the Message-ID without its angle brackets.
	ID      string
	From    string
	To      string
	Subject string
	Date    time.Time
	Text    string
}

// newMessageID returns a unique Message-ID.
func newMessageID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:]) + "@compadre"
}

// Bytes composes the message as RFC 5322 text with CRLF line ends. The
// body is quoted-printable UTF-8, which keeps every line within SMTP's
// limit however long the link; the subject is fixed ASCII text, so no
// value a client chose reaches a header but the recipient's address.
func (m Message) Bytes() []byte {
	var b bytes.Buffer
	header := func(name, value string) { fmt.Fprintf(&b, "%s: %s\r\n", name, value) }
	header("From", (&netmail.Address{Address: m.From}).String())
	header("To", (&netmail.Address{Address: m.To}).String())
	header("Subject", m.Subject)
	header("Date", m.Date.Format(time.RFC1123Z))
	header("Message-ID", "<"+m.ID+">")
	header("MIME-Version", "1.0")
	header("Content-Type", "text/plain; charset=utf-8")
	header("Content-Transfer-Encoding", "quoted-printable")
	b.WriteString("\r\n")
	w := quotedprintable.NewWriter(&b)
	_, _ = w.Write([]byte(strings.ReplaceAll(m.Text, "\n", "\r\n")))
	_ = w.Close()
	return b.Bytes()
}

// SignInTokenParam is the query parameter of a sign-in link that carries
// its token.
const SignInTokenParam = "sign_in_token"

// SignInLink returns redirect with the token added to its query, keeping
// the query and fragment it has. redirect must not carry the parameter
// already (RedirectPolicy.Check refuses such a link).
func SignInLink(redirect, token string) (string, error) {
	u, err := url.Parse(redirect)
	if err != nil {
		return "", fmt.Errorf("mail: sign-in link: %w", err)
	}
	param := SignInTokenParam + "=" + url.QueryEscape(token)
	if u.RawQuery == "" {
		u.RawQuery = param
	} else {
		u.RawQuery += "&" + param
	}
	return u.String(), nil
}
