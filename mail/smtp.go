package mail

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	netmail "net/mail"
	"net/smtp"
	"net/url"
	"time"
)

// SMTPTimeout bounds one message's whole conversation with the server.
const SMTPTimeout = 30 * time.Second

// SMTP sends messages through a mail server, with the standard library's
// net/smtp: implicit TLS for smtps://, STARTTLS whenever an smtp:// server
// offers it, and PLAIN authentication when the URL has credentials (which
// net/smtp sends only over TLS or to a loopback server). See DECISIONS.md,
// "How is sign-in mail sent?".
type SMTP struct {
	from        string
	host, addr  string
	implicitTLS bool
	user, pass  string
	// tlsConfig is nil in production (the system's roots); tests trust
	// their own certificate through it.
	tlsConfig *tls.Config
}

// ParseSMTPURL reads --smtp-url: smtp://[user:password@]host[:port][?from=address]
// (port 587 by default) or smtps:// for implicit TLS (port 465). Errors
// never repeat the password.
func ParseSMTPURL(raw string) (*SMTP, error) {
	u, err := url.Parse(raw)
	if err != nil {
		// url's errors quote the whole URL, password included.
		return nil, errors.New("mail: the SMTP URL does not parse")
	}
	s := &SMTP{from: DefaultFrom}
	port := ""
	switch u.Scheme {
	case "smtp":
		port = "587"
	case "smtps":
		port, s.implicitTLS = "465", true
	default:
		return nil, errors.New("mail: the SMTP URL's scheme must be smtp or smtps")
	}
	s.host = u.Hostname()
	if s.host == "" || (u.Path != "" && u.Path != "/") || u.Fragment != "" {
		return nil, errors.New("mail: the SMTP URL must be smtp[s]://[user:password@]host[:port][?from=address]")
	}
	if p := u.Port(); p != "" {
		port = p
	}
	s.addr = net.JoinHostPort(s.host, port)
	if u.User != nil {
		s.user = u.User.Username()
		s.pass, _ = u.User.Password()
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return nil, errors.New("mail: the SMTP URL's query does not parse")
	}
	for name, values := range q {
		if name != "from" || len(values) != 1 {
			return nil, fmt.Errorf("mail: the SMTP URL takes one query parameter, from, not %q", name)
		}
		a, err := netmail.ParseAddress(values[0])
		if err != nil {
			return nil, fmt.Errorf("mail: the SMTP URL's from %q is not an address", values[0])
		}
		s.from = a.Address
	}
	return s, nil
}

// From is the address of the URL's from parameter, or DefaultFrom.
func (s *SMTP) From() string { return s.from }

// String names the server without its credentials, for logs.
func (s *SMTP) String() string {
	scheme := "smtp"
	if s.implicitTLS {
		scheme = "smtps"
	}
	return scheme + "://" + s.addr
}

// Send delivers the message in one conversation with the server, which
// ctx's end or SMTPTimeout cuts short.
func (s *SMTP) Send(ctx context.Context, m Message) error {
	err := s.send(ctx, m)
	if err != nil {
		return fmt.Errorf("mail: send through %s: %w", s, err)
	}
	return nil
}

func (s *SMTP) send(ctx context.Context, m Message) error {
	ctx, cancel := context.WithTimeout(ctx, SMTPTimeout)
	defer cancel()
	raw, err := (&net.Dialer{}).DialContext(ctx, "tcp", s.addr)
	if err != nil {
		return err
	}
	// net/smtp takes no context: closing the connection ends a conversation
	// the context gave up on.
	stop := context.AfterFunc(ctx, func() { raw.Close() })
	defer stop()
	deadline, _ := ctx.Deadline()
	if err := raw.SetDeadline(deadline); err != nil {
		raw.Close()
		return err
	}
	conn := raw
	tlsConfig := s.tlsConfig
	if tlsConfig == nil {
		tlsConfig = &tls.Config{}
	}
	tlsConfig = tlsConfig.Clone()
	tlsConfig.ServerName = s.host
	if s.implicitTLS {
		conn = tls.Client(conn, tlsConfig)
	}
	c, err := smtp.NewClient(conn, s.host)
	if err != nil {
		conn.Close()
		return err
	}
	defer c.Close()
	if !s.implicitTLS {
		if ok, _ := c.Extension("STARTTLS"); ok {
			if err := c.StartTLS(tlsConfig); err != nil {
				return err
			}
		}
	}
	if s.user != "" {
		if err := c.Auth(smtp.PlainAuth("", s.user, s.pass, s.host)); err != nil {
			return err
		}
	}
	if err := c.Mail(m.From); err != nil {
		return err
	}
	if err := c.Rcpt(m.To); err != nil {
		return err
	}
	w, err := c.Data()
	if err != nil {
		return err
	}
	if _, err := w.Write(m.Bytes()); err != nil {
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	return c.Quit()
}
