// Package clock is the server's time: a base clock (the system's, or one a
// test supplies) plus an offset that only grows. Moving the offset forward
// is how a test, or an operator through the control API, makes tokens,
// grants, links and keys expire, rate limits refill and retries come due
// without waiting for them. Background workers whose next action is due at
// a time wait on Advanced as well as on their timers, so a move wakes them
// and they read the clock again at once.
//
// See DECISIONS.md, "How does the server's clock move forward?".
package clock

import (
	"errors"
	"math"
	"sync"
	"sync/atomic"
	"time"
)

// ErrNotForward is Advance's answer to a move of zero or less: the clock
// never goes back, so nothing already expired comes back to life and no
// retry is scheduled twice.
var ErrNotForward = errors.New("clock: advance by a positive duration")

// ErrTooFar is Advance's answer to a move that would take the offset past
// the largest time.Duration (about 292 years).
var ErrTooFar = errors.New("clock: the offset would pass 292 years")

// Clock is a base clock plus an offset. The zero value is not usable; make
// one with New. A Clock is safe for concurrent use.
type Clock struct {
	base func() time.Time
	// offset is read on every Now, so it is an atomic rather than under mu.
	offset atomic.Int64
	// mu orders moves: each stores the new offset, then closes advanced
	// and makes its successor, so a waiter that took the channel before
	// reading the time never misses a move.
	mu       sync.Mutex
	advanced chan struct{}
}

// New returns a clock reading base, time.Now if nil, with offset zero.
func New(base func() time.Time) *Clock {
	if base == nil {
		base = time.Now
	}
	return &Clock{base: base, advanced: make(chan struct{})}
}

// Now is the base clock's time plus the offset. From time.Now it keeps its
// monotonic reading, moved by the offset too, so durations measured across
// a move include the move.
func (c *Clock) Now() time.Time {
	return c.base().Add(time.Duration(c.offset.Load()))
}

// Offset is how far the clock has been moved ahead of its base.
func (c *Clock) Offset() time.Duration { return time.Duration(c.offset.Load()) }

// Advance moves the clock d ahead and wakes every waiter on Advanced.
// It returns ErrNotForward for d <= 0 and ErrTooFar if the offset would
// overflow; either way the clock is unchanged.
func (c *Clock) Advance(d time.Duration) error {
	if d <= 0 {
		return ErrNotForward
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	off := c.offset.Load()
	if int64(d) > math.MaxInt64-off {
		return ErrTooFar
	}
	c.offset.Store(off + int64(d))
	close(c.advanced)
	c.advanced = make(chan struct{})
	return nil
}

// Advanced returns a channel closed at the clock's next move. A waiter
// takes it before it reads the time to compute its wait, then selects on
// it beside its timer: a move made in between has closed it already.
func (c *Clock) Advanced() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.advanced
}
