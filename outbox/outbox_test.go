package outbox

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/compadre-dev/compadre/clock"
)

// memQueue is a queue in memory: rows come due at their time, a claim
// leases them until released or done.
type memQueue struct {
	mu       sync.Mutex
	due      map[string]time.Time
	leased   map[string]bool
	attempts map[string]int
	released int
	chores   int
	block    chan struct{} // attempts wait on it when set
	running  int
}

func newMemQueue() *memQueue {
	return &memQueue{due: map[string]time.Time{}, leased: map[string]bool{}, attempts: map[string]int{}}
}

func (m *memQueue) add(key string, at time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.due[key] = at
}

func (m *memQueue) queue(clk *clock.Clock) Queue[string] {
	return Queue[string]{
		Name: "test",
		Release: func(context.Context) error {
			m.mu.Lock()
			defer m.mu.Unlock()
			m.released++
			clear(m.leased)
			return nil
		},
		Claim: func(_ context.Context, now time.Time, n int) ([]string, error) {
			m.mu.Lock()
			defer m.mu.Unlock()
			var out []string
			for k, at := range m.due {
				if len(out) < n && !m.leased[k] && !at.After(now) {
					m.leased[k] = true
					out = append(out, k)
				}
			}
			return out, nil
		},
		Key: func(k string) string { return k },
		Next: func(context.Context) (time.Time, bool, error) {
			m.mu.Lock()
			defer m.mu.Unlock()
			var next time.Time
			for k, at := range m.due {
				if !m.leased[k] && (next.IsZero() || at.Before(next)) {
					next = at
				}
			}
			return next, !next.IsZero(), nil
		},
		Attempt: func(ctx context.Context, k string) {
			m.mu.Lock()
			m.running++
			block := m.block
			m.mu.Unlock()
			if block != nil {
				select {
				case <-block:
				case <-ctx.Done():
				}
			}
			m.mu.Lock()
			defer m.mu.Unlock()
			m.running--
			m.attempts[k]++
			if ctx.Err() == nil {
				delete(m.due, k)
				delete(m.leased, k)
			}
		},
		Chore: func(context.Context, time.Time) {
			m.mu.Lock()
			defer m.mu.Unlock()
			m.chores++
		},
		ChoreEvery: time.Hour,
		Settle:     time.Millisecond,
	}
}

func (m *memQueue) wait(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		m.mu.Lock()
		ok := cond()
		m.mu.Unlock()
		if ok {
			return
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s", what)
}

func TestEveryDueRowIsAttemptedOnce(t *testing.T) {
	clk := clock.New(nil)
	m := newMemQueue()
	for _, k := range []string{"a", "b", "c", "d", "e", "f", "g", "h", "i", "j"} {
		m.add(k, clk.Now())
	}
	// Poll is long: only Notify, a due time or the clock wakes the worker.
	w := New(m.queue(clk), Config{Workers: 3, Poll: time.Hour, Clock: clk, Log: slog.New(slog.DiscardHandler)})
	if err := w.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	m.wait(t, "ten attempts", func() bool { return len(m.due) == 0 })
	for k, n := range m.attempts {
		if n != 1 {
			t.Errorf("%s attempted %d times", k, n)
		}
	}
	if m.released != 1 || m.chores != 1 {
		t.Errorf("released %d times, chores %d, want 1 and 1", m.released, m.chores)
	}

	// A row queued later is found at once when the worker is told.
	m.add("late", clk.Now())
	w.Notify()
	m.wait(t, "the notified row", func() bool { return m.attempts["late"] == 1 })

	// A row due in an hour waits for it; moving the clock brings it.
	m.add("retry", clk.Now().Add(time.Hour))
	time.Sleep(20 * time.Millisecond)
	m.mu.Lock()
	early := m.attempts["retry"]
	m.mu.Unlock()
	if early != 0 {
		t.Fatal("a row was attempted before it was due")
	}
	if err := clk.Advance(time.Hour); err != nil {
		t.Fatal(err)
	}
	m.wait(t, "the row due after the clock moved", func() bool { return m.attempts["retry"] == 1 })
}

func TestAttemptsAtOnceAndClose(t *testing.T) {
	for _, tc := range []struct {
		name          string
		rows, workers int
	}{
		// Five rows, two workers: two attempts at a time.
		{"bounded", 5, 2},
		// Two rows, four workers: when their leases lapse mid-attempt
		// (a clock moved forward) they are claimed again, but a row is
		// never attempted twice at once.
		{"once at a time", 2, 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clk := clock.New(nil)
			m := newMemQueue()
			m.block = make(chan struct{})
			for i := range tc.rows {
				m.add(string(rune('a'+i)), clk.Now())
			}
			w := New(m.queue(clk), Config{Workers: tc.workers, Poll: time.Millisecond, Clock: clk, Log: slog.New(slog.DiscardHandler)})
			if err := w.Start(context.Background()); err != nil {
				t.Fatal(err)
			}
			want := min(tc.rows, tc.workers)
			m.wait(t, "attempts under way", func() bool { return m.running == want })
			m.mu.Lock()
			clear(m.leased)
			m.mu.Unlock()
			time.Sleep(20 * time.Millisecond)
			m.mu.Lock()
			running := m.running
			m.mu.Unlock()
			if running != want {
				t.Fatalf("%d attempts under way, want %d", running, want)
			}
			// Close cuts the attempts short and waits for them: none is
			// left running, and the cut rows are still due.
			w.Close()
			m.mu.Lock()
			defer m.mu.Unlock()
			if m.running != 0 {
				t.Errorf("%d attempts still running after Close", m.running)
			}
			if len(m.due) != tc.rows {
				t.Errorf("%d rows due after Close, want %d", len(m.due), tc.rows)
			}
		})
	}
}
