package httpapi

import (
	"errors"
	"net/http"
	"strconv"
	"testing"
	"time"
)

// limiterClock is a settable time source for the limiter.
type limiterClock struct{ t time.Time }

func (c *limiterClock) now() time.Time { return c.t }

// refused asserts that err is a 429 naming the documented figure, with the
// given Retry-After.
func refused(t *testing.T, err error, perMinute int, wantRetry string) {
	t.Helper()
	var ae *apiError
	if !errors.As(err, &ae) || ae.status != http.StatusTooManyRequests {
		t.Fatalf("got %v, want a 429", err)
	}
	if got := ae.header.Get("Retry-After"); got != wantRetry {
		t.Errorf("Retry-After: got %q, want %q", got, wantRetry)
	}
	want := "The user has exceeded the rate limit of " + strconv.Itoa(perMinute) + " requests per minute for this endpoint."
	if ae.detail != want {
		t.Errorf("detail: got %q, want %q", ae.detail, want)
	}
}

func TestRateLimitEdges(t *testing.T) {
	signIn := route{op: "sign-in-with-api-key", perMinute: 5}
	getUsers := route{op: "get-users", perMinute: 60}
	tests := []struct {
		name                string
		scale, burstMinutes float64
		rt                  route
		// admitted requests pass at once; the next is refused with
		// retryAfter, and passes once that long has gone by.
		admitted   int
		retryAfter string
	}{
		{"strict sign-in: the documented 5", 1, 1, signIn, 5, "12"},
		{"strict get-users: the documented 60", 1, 1, getUsers, 60, "1"},
		{"burst below one minute's is one minute's", 1, 0, signIn, 5, "12"},
		{"faithful sign-in: ten minutes' worth", 1, HostedBurstMinutes, signIn, 50, "12"},
		{"faithful get-users: ten minutes' worth", 1, HostedBurstMinutes, getUsers, 600, "1"},
		{"faithful 10x sign-in", 10, HostedBurstMinutes, signIn, 500, "2"},
		{"strict half of 1 a minute still admits one", 0.5, 1, route{op: "x", perMinute: 1}, 1, "120"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := &limiterClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
			l := newRateLimiter(tc.scale, tc.burstMinutes, c.now)
			for i := 1; i <= tc.admitted; i++ {
				if err := l.allow(tc.rt, "org", "user"); err != nil {
					t.Fatalf("request %d of %d: got %v, want admitted", i, tc.admitted, err)
				}
			}
			refused(t, l.allow(tc.rt, "org", "user"), tc.rt.perMinute, tc.retryAfter)
			// A refused request takes no token: still refused a moment later.
			c.t = c.t.Add(time.Millisecond)
			refused(t, l.allow(tc.rt, "org", "user"), tc.rt.perMinute, tc.retryAfter)

			wait, _ := time.ParseDuration(tc.retryAfter + "s")
			c.t = c.t.Add(wait - time.Millisecond)
			if err := l.allow(tc.rt, "org", "user"); err != nil {
				t.Fatalf("after Retry-After: got %v, want admitted", err)
			}
			if err := l.allow(tc.rt, "org", "user"); err == nil {
				t.Fatal("second request after Retry-After admitted, want 429: the refill is one at the documented pace")
			}
		})
	}
}

func TestRateLimitBucketsAreSeparate(t *testing.T) {
	c := &limiterClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	l := newRateLimiter(1, 1, c.now)
	signIn := route{op: "sign-in-with-api-key", perMinute: 5}
	for range 5 {
		if err := l.allow(signIn, "org", "user"); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.allow(signIn, "org", "user"); err == nil {
		t.Fatal("6th sign-in admitted, want 429")
	}
	tests := []struct {
		name         string
		rt           route
		org, subject string
	}{
		{"another operation", route{op: "get-users", perMinute: 5}, "org", "user"},
		{"another organization", signIn, "other", "user"},
		{"another user", signIn, "org", "other"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := l.allow(tc.rt, tc.org, tc.subject); err != nil {
				t.Errorf("got %v, want admitted", err)
			}
		})
	}
}

func TestRateLimitOff(t *testing.T) {
	l := newRateLimiter(0, HostedBurstMinutes, time.Now)
	for i := range 10000 {
		if err := l.allow(route{op: "x", perMinute: 1}, "org", "user"); err != nil {
			t.Fatalf("request %d: got %v, want admitted with limits off", i+1, err)
		}
	}
}
