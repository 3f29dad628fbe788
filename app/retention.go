package app

import (
	"context"
	"sync"
	"time"

	"github.com/compadre-dev/compadre/store"
)

// DefaultRetention is how long tool invocation records are kept. See
// DECISIONS.md, "How long are tool invocations kept?".
const DefaultRetention = 30 * 24 * time.Hour

// sweepEvery is how often records past the retention are deleted: often
// enough that none outlives it by much, rarely enough to cost nothing.
func sweepEvery(retention time.Duration) time.Duration {
	return min(max(retention/10, time.Minute), time.Hour)
}

// startSweeper deletes invocation records older than the retention (a
// negative one keeps them for ever), webhook delivery records older than
// store.WebhookRetention and prompt logs older than
// store.PromptLogRetention, now and then every sweepEvery, until Close.
func (a *App) startSweeper() {
	retention := a.cfg.Retention
	if retention == 0 {
		retention = DefaultRetention
	}
	every := sweepEvery(min(store.WebhookRetention, store.PromptLogRetention))
	if retention > 0 {
		every = min(every, sweepEvery(retention))
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			// Advancing the clock can put records past their retention at
			// once: sweep then too.
			advanced := a.clock.Advanced()
			a.sweep(ctx, retention)
			select {
			case <-t.C:
			case <-advanced:
			case <-ctx.Done():
				return
			}
		}
	})
	a.stopSweep = func() {
		cancel()
		wg.Wait()
	}
}

// sweep deletes the invocation records created more than retention ago,
// unless retention is negative, and the webhook delivery records and
// prompt logs past theirs.
func (a *App) sweep(ctx context.Context, retention time.Duration) {
	if retention > 0 {
		n, err := a.Store.DeleteToolInvocationsBefore(ctx, a.clock.Now().Add(-retention))
		switch {
		case err != nil && ctx.Err() == nil:
			a.log.Error("deleting old tool invocations failed", "error", err)
		case n > 0:
			a.log.Info("deleted old tool invocations", "count", n, "retention", retention)
		}
	}
	n, err := a.Store.PruneWebhookDeliveries(ctx, a.clock.Now().Add(-store.WebhookRetention))
	switch {
	case err != nil && ctx.Err() == nil:
		a.log.Error("deleting old webhook deliveries failed", "error", err)
	case n > 0:
		a.log.Info("deleted old webhook deliveries", "count", n)
	}
	logs, err := a.Store.PrunePromptLogs(ctx, a.clock.Now().Add(-store.PromptLogRetention))
	switch {
	case err != nil && ctx.Err() == nil:
		a.log.Error("deleting old prompt logs failed", "error", err)
	case logs > 0:
		a.log.Info("deleted old prompt logs", "count", logs)
	}
}
