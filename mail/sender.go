package mail

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/compadre-dev/compadre/auth"
	"github.com/compadre-dev/compadre/clock"
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
	cfg  SenderConfig
	wake chan struct{}
	stop context.CancelFunc
	wg   sync.WaitGroup
	// mu guards attempting: the links whose mail is being sent. A clock
	// moved forward can pass a lease mid-attempt, and a mail must not go
	// out twice.
	mu         sync.Mutex
	attempting map[string]bool
	// recorded, if set, is called after each attempt is recorded (tests
	// wait on it).
	recorded func()
}

// NewSender returns a Sender; Start sets it working.
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
	return &Sender{cfg: cfg, wake: make(chan struct{}, 1), attempting: map[string]bool{}}
}

// Start starts sending until Close; the mails a stopped process was
// sending are sent again first.
func (s *Sender) Start(ctx context.Context) error {
	if err := s.cfg.Store.ReleaseSignInMailLeases(ctx); err != nil {
		return err
	}
	ctx, stop := context.WithCancel(context.WithoutCancel(ctx))
	s.stop = stop
	s.wg.Add(1)
	go s.loop(ctx)
	return nil
}

// Close stops sending and waits for the attempts under way, which are cut
// short and made again at the next start.
func (s *Sender) Close() {
	if s.stop != nil {
		s.stop()
	}
	s.wg.Wait()
}

// Notify tells the sender a link was recorded, so it looks shortly rather
// than at its next poll. Every sign-in request calls it, whether or not
// its link has a mail, so both cost the same.
func (s *Sender) Notify() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

func (s *Sender) loop(ctx context.Context) {
	defer s.wg.Done()
	sem := make(chan struct{}, s.cfg.Workers)
	var sending sync.WaitGroup
	defer sending.Wait()
	var pruned time.Time
	for {
		advanced := s.cfg.Clock.Advanced()
		if now := s.cfg.Clock.Now(); now.Sub(pruned) >= pruneEvery {
			pruned = now
			if _, err := s.cfg.Store.PruneSignInLinks(ctx, now.Add(-KeepLinks)); err != nil && ctx.Err() == nil {
				s.cfg.Log.Error("mail: delete lapsed sign-in links", "err", err)
			}
		}
		due, err := s.cfg.Store.ClaimSignInMails(ctx, s.cfg.Clock.Now(), s.cfg.Workers*4, lease)
		if err != nil && ctx.Err() == nil {
			s.cfg.Log.Error("mail: claim sign-in mails", "err", err)
		}
		started := 0
		for _, m := range due {
			if !s.begin(m.LinkID) {
				continue
			}
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				s.end(m.LinkID)
				return
			}
			started++
			sending.Add(1)
			go func() {
				defer func() { s.end(m.LinkID); <-sem; sending.Done() }()
				s.attempt(ctx, m)
			}()
		}
		if started > 0 {
			continue
		}
		wait := s.cfg.Poll
		if next, ok, err := s.cfg.Store.NextSignInMail(ctx); err == nil && ok {
			wait = min(wait, max(0, next.Sub(s.cfg.Clock.Now())))
		}
		select {
		case <-ctx.Done():
			return
		case <-advanced:
		case <-s.wake:
			select {
			case <-ctx.Done():
				return
			case <-time.After(settle):
			}
		case <-time.After(wait):
		}
	}
}

// begin marks a link's mail as being sent, unless it already is.
func (s *Sender) begin(linkID string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.attempting[linkID] {
		return false
	}
	s.attempting[linkID] = true
	return true
}

func (s *Sender) end(linkID string) {
	s.mu.Lock()
	delete(s.attempting, linkID)
	s.mu.Unlock()
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
