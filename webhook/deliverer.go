package webhook

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/compadre-dev/compadre/auth"
	"github.com/compadre-dev/compadre/clock"
	"github.com/compadre-dev/compadre/outbox"
	"github.com/compadre-dev/compadre/store"
)

// Schedule is the wait before each retry, as the reference documents it:
// 5, 10, 20 and 20 seconds, and 20 for a fifth.
var Schedule = []time.Duration{5 * time.Second, 10 * time.Second, 20 * time.Second, 20 * time.Second, 20 * time.Second}

// Defaults of Config.
const (
	DefaultTimeout = 10 * time.Second
	DefaultWorkers = 8
	// DefaultPoll is how often an idle deliverer looks for due deliveries
	// it was not told of (retries come due, another process queued some).
	DefaultPoll = 250 * time.Millisecond
	// lease is how long a claimed delivery is held: longer than an
	// attempt, dual signing included, can take.
	lease = time.Minute
	// announceEvery is how often API keys about to expire are looked for.
	announceEvery = time.Minute
)

// SecretLabel binds a destination's sealed secret to the destination.
func SecretLabel(destinationID string) string { return "webhook-secret:" + destinationID }

// Config is what a Deliverer works with.
type Config struct {
	Store  *store.Store
	Sealer *auth.Sealer
	Policy Policy
	// Timeout bounds each attempt.
	Timeout time.Duration
	// Workers is how many deliveries are sent at once.
	Workers int
	// Scale multiplies the retry schedule; 0 means 1. Tests run it faster.
	Scale float64
	Poll  time.Duration
	// Clock times attempts, retries, leases and announcements, and wakes
	// the deliverer when it moves; nil means the system's.
	Clock *clock.Clock
	Log   *slog.Logger
}

// Deliverer sends the deliveries the store has queued.
type Deliverer struct {
	cfg    Config
	client *http.Client
	*outbox.Worker[store.DueDelivery]
}

// New returns a Deliverer; Start sets it working, and the deliveries a
// stopped process was sending are sent again first.
func New(cfg Config) *Deliverer {
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.Workers <= 0 {
		cfg.Workers = DefaultWorkers
	}
	if cfg.Scale <= 0 {
		cfg.Scale = 1
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
	d := &Deliverer{cfg: cfg, client: cfg.Policy.Client(cfg.Timeout)}
	st := cfg.Store
	d.Worker = outbox.New(outbox.Queue[store.DueDelivery]{
		Name:    "webhook",
		Release: st.ReleaseWebhookLeases,
		Claim: func(ctx context.Context, now time.Time, n int) ([]store.DueDelivery, error) {
			return st.ClaimDueDeliveries(ctx, now, n, lease)
		},
		Key:     func(dd store.DueDelivery) string { return dd.ID },
		Next:    st.NextWebhookAttempt,
		Attempt: d.attempt,
		Chore: func(ctx context.Context, _ time.Time) {
			if _, err := st.AnnounceExpiringAPIKeys(ctx); err != nil && ctx.Err() == nil {
				cfg.Log.Error("webhook: announce expiring API keys", "err", err)
			}
		},
		ChoreEvery: announceEvery,
		Signal:     st.WebhookSignal,
	}, outbox.Config{Workers: cfg.Workers, Poll: cfg.Poll, Clock: cfg.Clock, Log: cfg.Log})
	return d
}

// attempt sends one attempt of a delivery, signed with the destination's
// secret and, while dual signing lasts, once more with the secret before
// it (same idempotency key and timestamp), and records it.
func (d *Deliverer) attempt(ctx context.Context, dd store.DueDelivery) {
	dest := dd.Destination
	now := d.cfg.Clock.Now()
	var secrets []string
	for _, sealed := range [][]byte{dest.Secret, dest.PreviousSecret} {
		if sealed == nil {
			continue
		}
		if len(secrets) == 1 && (dest.DualSigningStopsAt == nil || !now.Before(*dest.DualSigningStopsAt)) {
			break
		}
		secret, err := d.cfg.Sealer.Open(sealed, SecretLabel(dest.ID))
		if err != nil {
			d.cfg.Log.Error("webhook: open a destination's secret", "destination", dest.ID, "err", err)
			continue
		}
		secrets = append(secrets, string(secret))
	}
	timestamp := now.UnixMilli()
	code, ok := 0, false
	if err := d.cfg.Policy.CheckURL(dest.URL); err != nil {
		// Saved before the policy changed: refused, recorded as unanswered.
		d.cfg.Log.Warn("webhook: destination refused", "destination", dest.ID, "err", err)
		secrets = nil
	}
	for _, secret := range secrets {
		got := post(ctx, d.client, dest.URL, dd.ID, timestamp, Sign(secret, timestamp, dd.Content), dd.Content)
		if got >= 200 && got < 300 {
			code, ok = got, true
		} else if !ok && (code == 0 || got != 0) {
			code = got
		}
	}
	if ctx.Err() != nil {
		// Stopping: the lease runs out and the attempt is made again.
		return
	}
	var next *time.Time
	if made := len(dd.Attempts); !ok && made < dest.RetryAttempts {
		at := now.Add(time.Duration(float64(Schedule[min(made, len(Schedule)-1)]) * d.cfg.Scale))
		next = &at
	}
	err := d.cfg.Store.RecordDeliveryAttempt(context.WithoutCancel(ctx), dd.ID,
		store.DeliveryAttempt{DeliveryTime: now, StatusCode: code}, ok, len(secrets) > 1, next)
	if err != nil {
		d.cfg.Log.Error("webhook: record an attempt", "delivery", dd.ID, "err", err)
	}
}
