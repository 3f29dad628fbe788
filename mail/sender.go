package mail

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/compadre-dev/compadre/auth"
	"github.com/compadre-dev/compadre/clock"
	"github.com/compadre-dev/compadre/outbox"
	"github.com/compadre-dev/compadre/store"
)

// Retries are the waits before the second, third and fourth attempts at a
// mail; after the fourth fails, or once its link has expired, the mail is
// dropped and logged.
var Retries = []time.Duration{10 * time.Second, time.Minute, 5 * time.Minute}

// Defaults of SenderConfig, and the sender's own rhythm.
const (
	DefaultWorkers = 4
	// DefaultPoll is how often an idle sender looks for due mails it was
	// not told of (retries come due).
	DefaultPoll = time.Second
	// KeepLinks is how long a link is kept once it and any session it
	// opened have lapsed, for the record.
	KeepLinks = 24 * time.Hour
	// lease is how long a claimed mail is held: longer than an attempt
	// can take.
	lease = 2 * SMTPTimeout
	// pruneEvery is how often lapsed links are deleted.
	pruneEvery = 10 * time.Minute
	// settle is how long the sender waits after being told of a link
	// before it looks: the mail's work (done for a user's email only) then
	// happens well after the answer to the request, not during it, where
	// it would make a user's email measurably slower to answer. See
	// DECISIONS.md, "Does sign-in-with-email answer as fast for a user's
	// email as for nobody's?".
	settle = 20 * time.Millisecond
)

// errLinkExpired drops a mail whose link lapsed before it could be sent.
var errLinkExpired = errors.New("mail: the link expired before its mail was sent")

// SenderConfig is what a Sender works with.
type SenderConfig struct {
	Store     *store.Store
	Links     *auth.SignInLinks
	Transport Transport
	Workers   int
	Poll      time.Duration
	// Clock times attempts, retries, leases and pruning, and wakes the
	// sender when it moves; nil means the system's.
	Clock *clock.Clock
	Log   *slog.Logger
}

// Sender sends the mails of sign-in links the store holds as due.
type Sender struct {
	cfg SenderConfig
	*outbox.Worker[store.SignInMail]
	// recorded, if set, is called after each attempt is recorded (tests
	// wait on it).
	recorded func()
}

// NewSender returns a Sender; Start sets it working, and the mails a
// stopped process was sending are sent again first. Its Notify tells it a
// link was recorded, so it looks shortly rather than at its next poll:
// every sign-in request calls it, whether or not its link has a mail, so
// both cost the same.
func NewSender(cfg SenderConfig) *Sender {
	if cfg.Workers <= 0 {
		cfg.Workers = DefaultWorkers
	}
	if cfg.Poll <= 0 {
		cfg.Poll = DefaultPoll
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.New(nil)
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	s := &Sender{cfg: cfg}
	st := cfg.Store
	s.Worker = outbox.New(outbox.Queue[store.SignInMail]{
		Name:    "mail",
		Release: st.ReleaseSignInMailLeases,
		Claim: func(ctx context.Context, now time.Time, n int) ([]store.SignInMail, error) {
			return st.ClaimSignInMails(ctx, now, n, lease)
		},
		Key:     func(m store.SignInMail) string { return m.LinkID },
		Next:    st.NextSignInMail,
		Attempt: s.attempt,
		Chore: func(ctx context.Context, now time.Time) {
			if _, err := st.PruneSignInLinks(ctx, now.Add(-KeepLinks)); err != nil && ctx.Err() == nil {
				cfg.Log.Error("mail: delete lapsed sign-in links", "err", err)
			}
		},
		ChoreEvery: pruneEvery,
		Settle:     settle,
	}, outbox.Config{Workers: cfg.Workers, Poll: cfg.Poll, Clock: cfg.Clock, Log: cfg.Log})
	return s
}

// attempt sends one link's mail and records the outcome: sent, tried again
// later, or dropped.
func (s *Sender) attempt(ctx context.Context, m store.SignInMail) {
	now := s.cfg.Clock.Now()
	log := s.cfg.Log.With("link", m.LinkID, "org", m.OrgID, "to", m.Email, "attempt", m.Attempts+1)
	var err error
	if !now.Before(m.ExpiresAt) {
		err = errLinkExpired
	} else {
		var msg Message
		if msg, err = s.compose(m, now); err == nil {
			err = s.cfg.Transport.Send(ctx, msg)
		}
	}
	if ctx.Err() != nil {
		// Stopping: the lease is released at the next start and the mail
		// sent then.
		return
	}
	var next *time.Time
	switch {
	case err == nil:
		log.Debug("sign-in mail sent")
	case m.Attempts < len(Retries) && now.Add(Retries[m.Attempts]).Before(m.ExpiresAt):
		at := now.Add(Retries[m.Attempts])
		next = &at
		log.Warn("sign-in mail failed; it will be tried again", "at", at, "err", err)
	default:
		log.Error("sign-in mail dropped", "err", err)
	}
	if err := s.cfg.Store.RecordSignInMail(context.WithoutCancel(ctx), m.LinkID, err == nil, next); err != nil {
		log.Error("mail: record a sign-in mail", "err", err)
	}
	if s.recorded != nil {
		s.recorded()
	}
}

// SignInSubject is the subject of every sign-in mail.
const SignInSubject = "Your sign-in link"

// compose writes the mail of a link; the token is derived again from the
// link's ID, as it was when the link was recorded.
func (s *Sender) compose(m store.SignInMail, now time.Time) (Message, error) {
	link, err := SignInLink(m.RedirectLink, s.cfg.Links.Token(m.LinkID))
	if err != nil {
		return Message{}, err
	}
	text := fmt.Sprintf(`Hello %s,

Follow this link to sign in to %s:

%s

The link works once, until %s. If you did not ask to sign in, ignore
this mail: without the link nobody can sign in as you.
`, m.FirstName, m.OrganizationName, link, m.ExpiresAt.UTC().Format("15:04 UTC on 2 January 2006"))
	return Message{ID: newMessageID(), From: s.cfg.Transport.From(), To: m.Email, Subject: SignInSubject, Date: now, Text: text}, nil
}
