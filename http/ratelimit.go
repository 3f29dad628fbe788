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
	res := l.bucket(key, rate.Limit(perMinute/60), burst, now).ReserveN(now, 1)
	delay := res.DelayFrom(now)
	if delay == 0 {
		return nil
	}
	res.CancelAt(now)
	return tooMany("The user has exceeded the rate limit of "+strconv.Itoa(rt.perMinute)+" requests per minute for this endpoint.", delay)
}

// bucket returns the bucket of key, made with limit and burst if new.
func (l *rateLimiter) bucket(key string, limit rate.Limit, burst int, now time.Time) *rate.Limiter {
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.buckets[key]
	if !ok {
		b = rate.NewLimiter(limit, burst)
		l.buckets[key] = b
		l.added++
		if l.added >= sweepEvery {
			l.sweep(now)
		}
	}
	return b
}

// tooMany is the 429 answer: detail, and Retry-After in whole seconds.
func tooMany(detail string, delay time.Duration) *apiError {
	e := errorf(http.StatusTooManyRequests, detail)
	e.header = http.Header{"Retry-After": {strconv.Itoa(int(math.Ceil(delay.Seconds())))}}
	return e
}

// ownLimit is a limit of Compadre's own rather than one the reference
// documents: n requests per period for one key, exactly, with no burst
// allowance beyond n (that allowance exists for what the official SDKs do
// against the documented figures).
type ownLimit struct {
	key    string
	n      int
	period time.Duration
	// detail is the 429's sentence.
	detail string
}

// allowOwn takes a token from the bucket of every limit, or from none: a
// request one limit refuses does not count against the others. The scale
// multiplies n, as it does the documented figures; off is off.
func (l *rateLimiter) allowOwn(limits ...ownLimit) error {
	if l.scale <= 0 {
		return nil
	}
	now := l.now()
	var taken []*rate.Reservation
	for _, o := range limits {
		n := int(max(1, min(math.Round(float64(o.n)*l.scale), math.MaxInt32)))
		res := l.bucket(o.key, rate.Limit(float64(n)/o.period.Seconds()), n, now).ReserveN(now, 1)
		if delay := res.DelayFrom(now); delay > 0 {
			res.CancelAt(now)
			for _, t := range taken {
				t.CancelAt(now)
			}
			return tooMany(o.detail, delay)
		}
		taken = append(taken, res)
	}
	return nil
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
