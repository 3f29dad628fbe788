// Package outbox runs the work a durable queue in the database holds:
// rows written in the transaction of the change that causes them, claimed
// under a lease, attempted a few at a time, retried at the time the store
// says. Webhook deliveries and sign-in mail are sent by it; what a row is,
// how it is claimed and what an attempt does are the caller's.
package outbox

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/compadre-dev/compadre/clock"
)

// Queue is what a Worker drives: the store's side of one kind of row.
type Queue[T any] struct {
	// Name prefixes the worker's log messages.
	Name string
	// Release frees the leases a stopped process held, so their rows are
	// attempted again first.
	Release func(ctx context.Context) error
	// Claim leases up to n rows due at now.
	Claim func(ctx context.Context, now time.Time, n int) ([]T, error)
	// Key identifies a row.
	Key func(T) string
	// Next is when the earliest row not yet due comes due; false when none
	// waits.
	Next func(ctx context.Context) (time.Time, bool, error)
	// Attempt makes one attempt at a row and records its outcome.
	Attempt func(ctx context.Context, row T)
	// Chore, if set, runs every ChoreEvery by the worker's clock (pruning
	// old rows, queueing announcements); it logs its own errors.
	Chore      func(ctx context.Context, now time.Time)
	ChoreEvery time.Duration
	// Signal, if set, wakes the worker when the store queued a row.
	Signal func() <-chan struct{}
	// Settle is how long the worker waits after Notify before it looks.
	Settle time.Duration
}

// Config is how a Worker runs.
type Config struct {
	// Workers is how many attempts run at once.
	Workers int
	// Poll is how often an idle worker looks for rows it was not told of
	// (retries come due, another process queued some).
	Poll time.Duration
	// Clock times claims and chores, and wakes the worker when it moves.
	Clock *clock.Clock
	Log   *slog.Logger
}

// Worker attempts a queue's due rows until Close.
type Worker[T any] struct {
	q    Queue[T]
	cfg  Config
	wake chan struct{}
	stop context.CancelFunc
	wg   sync.WaitGroup
	// inFlight holds the rows whose attempt is under way. A lease outlasts
	// any attempt by the real clock, but a clock moved forward can pass it
	// mid-attempt, and a row must not be attempted twice at once.
	mu       sync.Mutex
	inFlight map[string]bool
}

// New returns a Worker; Start sets it working. cfg.Workers and cfg.Poll
// must be positive and cfg.Clock and cfg.Log set.
func New[T any](q Queue[T], cfg Config) *Worker[T] {
	return &Worker[T]{q: q, cfg: cfg, wake: make(chan struct{}, 1), inFlight: map[string]bool{}}
}

// Start releases what a stopped process held and starts working until
// Close.
func (w *Worker[T]) Start(ctx context.Context) error {
	if err := w.q.Release(ctx); err != nil {
		return err
	}
	ctx, stop := context.WithCancel(context.WithoutCancel(ctx))
	w.stop = stop
	w.wg.Add(1)
	go w.loop(ctx)
	return nil
}

// Close stops the worker and waits for the attempts under way, which are
// cut short and made again at the next start.
func (w *Worker[T]) Close() {
	if w.stop != nil {
		w.stop()
	}
	w.wg.Wait()
}

// Notify tells the worker a row was queued, so it looks after Settle
// rather than at its next poll.
func (w *Worker[T]) Notify() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

func (w *Worker[T]) loop(ctx context.Context) {
	defer w.wg.Done()
	sem := make(chan struct{}, w.cfg.Workers)
	var running sync.WaitGroup
	defer running.Wait()
	var chored time.Time
	var signal <-chan struct{}
	if w.q.Signal != nil {
		signal = w.q.Signal()
	}
	for {
		advanced := w.cfg.Clock.Advanced()
		if now := w.cfg.Clock.Now(); w.q.Chore != nil && now.Sub(chored) >= w.q.ChoreEvery {
			chored = now
			w.q.Chore(ctx, now)
		}
		due, err := w.q.Claim(ctx, w.cfg.Clock.Now(), w.cfg.Workers*4)
		if err != nil && ctx.Err() == nil {
			w.cfg.Log.Error(w.q.Name+": claim", "err", err)
		}
		started := 0
		for _, row := range due {
			key := w.q.Key(row)
			if !w.begin(key) {
				continue
			}
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				w.end(key)
				return
			}
			started++
			running.Add(1)
			go func() {
				defer func() { w.end(key); <-sem; running.Done() }()
				w.q.Attempt(ctx, row)
			}()
		}
		if started > 0 {
			continue
		}
		wait := w.cfg.Poll
		if next, ok, err := w.q.Next(ctx); err == nil && ok {
			wait = min(wait, max(0, next.Sub(w.cfg.Clock.Now())))
		}
		select {
		case <-ctx.Done():
			return
		case <-signal:
		case <-advanced:
		case <-w.wake:
			select {
			case <-ctx.Done():
				return
			case <-time.After(w.q.Settle):
			}
		case <-time.After(wait):
		}
	}
}

// begin marks a row's attempt under way, unless it already is.
func (w *Worker[T]) begin(key string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.inFlight[key] {
		return false
	}
	w.inFlight[key] = true
	return true
}

func (w *Worker[T]) end(key string) {
	w.mu.Lock()
	delete(w.inFlight, key)
	w.mu.Unlock()
}
