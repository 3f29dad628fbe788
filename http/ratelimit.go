package httpapi

import (
	"math"
	"net/http"
	"strconv"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// HostedBurstMinutes is how many minutes' worth of requests a bucket holds
// under the hosted API's evident rule: the official SDKs' own integration
// runs make about forty sign-ins within a minute or two (each client
// instance signs in anew) against a documented 5 a minute, and pass against
// the hosted API. See DECISIONS.md, "Why do buckets hold ten minutes' worth
// of requests?".
const HostedBurstMinutes = 10

// rateLimiter keeps one token bucket per (operation, organization, subject).
// A bucket refills at the operation's per-minute rate and holds
// burstMinutes minutes' worth, so a burst up to that is allowed and then
// paced at the documented rate.
type rateLimiter struct {
	scale        float64
	burstMinutes float64
	now          func() time.Time
	mu           sync.Mutex
	buckets      map[string]*rate.Limiter
	added        int
}

// sweepEvery is how many new buckets are made between sweeps of idle ones.
const sweepEvery = 4096

// newRateLimiter multiplies every limit by scale (0 turns limiting off);
// a bucket holds burstMinutes minutes' worth, at least one (the documented
// figures exactly).
func newRateLimiter(scale, burstMinutes float64, now func() time.Time) *rateLimiter {
	return &rateLimiter{scale: scale, burstMinutes: max(1, burstMinutes), now: now, buckets: map[string]*rate.Limiter{}}
}

// allow takes a token for the request or answers 429 with Retry-After.
func (l *rateLimiter) allow(rt route, org, subject string) error {
	if l.scale <= 0 {
		return nil
	}
	perMinute := float64(rt.perMinute) * l.scale
	burst := int(max(1, min(math.Round(perMinute*l.burstMinutes), math.MaxInt32)))
	key := rt.op + "\x00" + org + "\x00" + subject
	now := l.now()

	l.mu.Lock()
	b, ok := l.buckets[key]
	if !ok {
		b = rate.NewLimiter(rate.Limit(perMinute/60), burst)
		l.buckets[key] = b
		l.added++
		if l.added >= sweepEvery {
			l.sweep(now)
		}
	}
	l.mu.Unlock()

	res := b.ReserveN(now, 1)
	delay := res.DelayFrom(now)
	if delay == 0 {
		return nil
	}
	res.CancelAt(now)
	e := errorf(http.StatusTooManyRequests,
		"The user has exceeded the rate limit of "+strconv.Itoa(rt.perMinute)+" requests per minute for this endpoint.")
	e.header = http.Header{"Retry-After": {strconv.Itoa(int(math.Ceil(delay.Seconds())))}}
	return e
}

// sweep drops buckets that have refilled completely: a full bucket behaves
// exactly like a new one, so forgetting it changes nothing but memory.
func (l *rateLimiter) sweep(now time.Time) {
	for k, b := range l.buckets {
		if b.TokensAt(now) >= float64(b.Burst()) {
			delete(l.buckets, k)
		}
	}
	l.added = 0
}
