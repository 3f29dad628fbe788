package compadretest

import (
	"testing"
	"time"

	"github.com/compadre-dev/compadre/app"
)

// WithClock makes the server's clock start from now instead of time.Now:
// a fixed time, say, so that what the server stamps is known in advance
// and nothing falls due unless the test moves the clock with Advance.
func WithClock(now func() time.Time) Option { return func(c *app.Config) { c.Now = now } }

// Now is the server's time: its base clock (time.Now, or WithClock's) plus
// every Advance so far.
func (s *Server) Now() time.Time { return s.app.Clock().Now() }

// Advance moves the server's clock d ahead (d > 0), with or without
// WithClock. Everything that depends on time follows at once: tokens,
// API keys, temporary grants and sign-in links expire, rate limits refill,
// webhook retries and mail retries come due, the once-an-hour rotation of
// a webhook secret is allowed again, API keys within seven days of their
// expiry are announced, and records past their retention are deleted.
// Advance wakes the background work that waits for a time; what it does
// then (a delivery sent, a record deleted) happens just after Advance
// returns, so a test waits for it as for any background work
// (Receiver.Wait, WaitMail, or polling with a deadline).
//
// Time spent measuring real work (request latency, a tool's run time, the
// sandbox's and the model's timeouts) stays on the real clock.
func (s *Server) Advance(tb testing.TB, d time.Duration) {
	tb.Helper()
	if err := s.app.Clock().Advance(d); err != nil {
		tb.Fatalf("compadretest: advance by %v: %v", d, err)
	}
}
