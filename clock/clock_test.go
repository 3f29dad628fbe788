package clock_test

import (
	"errors"
	"fmt"
	"math"
	"sync"
	"testing"
	"time"

	"github.com/compadre-dev/compadre/clock"
)

var start = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func fixed() time.Time { return start }

func TestAdvance(t *testing.T) {
	tests := []struct {
		name    string
		moves   []time.Duration
		wantErr error
		want    time.Duration
	}{
		{"no move", nil, nil, 0},
		{"one move", []time.Duration{time.Hour}, nil, time.Hour},
		{"moves add up", []time.Duration{5 * time.Second, 15 * time.Minute}, nil, 15*time.Minute + 5*time.Second},
		{"zero is refused", []time.Duration{time.Hour, 0}, clock.ErrNotForward, time.Hour},
		{"backwards is refused", []time.Duration{time.Hour, -time.Minute}, clock.ErrNotForward, time.Hour},
		{"the largest move", []time.Duration{math.MaxInt64}, nil, math.MaxInt64},
		{"past the largest offset", []time.Duration{time.Hour, math.MaxInt64}, clock.ErrTooFar, time.Hour},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := clock.New(fixed)
			var err error
			for _, d := range tt.moves {
				err = c.Advance(d)
			}
			if !errors.Is(err, tt.wantErr) {
				t.Errorf("last Advance: got %v, want %v", err, tt.wantErr)
			}
			if got := c.Offset(); got != tt.want {
				t.Errorf("offset: got %v, want %v", got, tt.want)
			}
			if got := c.Now(); !got.Equal(start.Add(tt.want)) {
				t.Errorf("now: got %v, want %v", got, start.Add(tt.want))
			}
		})
	}
}

func TestNewWithoutBaseReadsTheSystemClock(t *testing.T) {
	c := clock.New(nil)
	before := time.Now()
	now := c.Now()
	if now.Before(before) || now.After(time.Now()) {
		t.Errorf("got %v, want a time between %v and now", now, before)
	}
	if err := c.Advance(24 * time.Hour); err != nil {
		t.Fatal(err)
	}
	if got := c.Now().Sub(now); got < 24*time.Hour {
		t.Errorf("a day's move shows as %v", got)
	}
}

// A waiter that took Advanced before a move sees it closed; one taken
// after waits for the next move; a refused move wakes nobody.
func TestAdvancedWakesWaiters(t *testing.T) {
	c := clock.New(fixed)
	before := c.Advanced()
	if err := c.Advance(-time.Second); err == nil {
		t.Fatal("a move back was accepted")
	}
	select {
	case <-before:
		t.Fatal("a refused move woke a waiter")
	default:
	}
	if err := c.Advance(time.Second); err != nil {
		t.Fatal(err)
	}
	select {
	case <-before:
	default:
		t.Fatal("a move left a waiter asleep")
	}
	select {
	case <-c.Advanced():
		t.Fatal("the channel after a move is already closed")
	default:
	}
}

// Hammer: many waiters and movers at once. Every waiter is woken by the
// move after it took its channel, and every move counts once.
func TestAdvanceConcurrently(t *testing.T) {
	c := clock.New(fixed)
	const movers, moves = 8, 100
	var wg sync.WaitGroup
	for range movers {
		wg.Go(func() {
			for range moves {
				ch := c.Advanced()
				seen := c.Now()
				if err := c.Advance(time.Millisecond); err != nil {
					t.Error(err)
					return
				}
				<-ch // closed by this move or an earlier one after it was taken
				if !c.Now().After(seen) {
					t.Error("the clock did not move forward")
					return
				}
			}
		})
	}
	wg.Wait()
	if got, want := c.Offset(), movers*moves*time.Millisecond; got != want {
		t.Errorf("offset: got %v, want %v", got, want)
	}
}

func ExampleClock_Advance() {
	c := clock.New(func() time.Time { return time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC) })
	woken := c.Advanced()
	if err := c.Advance(15 * time.Minute); err != nil {
		panic(err)
	}
	<-woken
	fmt.Println(c.Now().Format(time.RFC3339), c.Offset())
	fmt.Println(c.Advance(-time.Minute))
	// Output:
	// 2026-03-01T12:15:00Z 15m0s
	// clock: advance by a positive duration
}
