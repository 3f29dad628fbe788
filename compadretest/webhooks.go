package compadretest

import (
	"crypto/hmac"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/compadre-dev/compadre/webhook"
)

// Receiver is a webhook destination for a test: an HTTP server on
// loopback that records every request it gets and answers 204, or what
// the test told it to. Point a destination at its URL (the server allows
// loopback destinations by default) and assert on Deliveries.
type Receiver struct {
	// URL is where to send webhooks.
	URL string

	srv      *httptest.Server
	mu       sync.Mutex
	got      []ReceivedWebhook
	statuses []int
	arrived  chan struct{}
}

// ReceivedWebhook is one request a Receiver got.
type ReceivedWebhook struct {
	IdempotencyKey string
	// Timestamp is the x-amigo-request-timestamp header, Unix milliseconds.
	Timestamp int64
	Signature string
	Body      []byte
	// At is when it arrived, by the receiver's clock.
	At time.Time
	// Status is what the receiver answered.
	Status int
}

// NewReceiver starts a Receiver, stopped when the test ends.
func NewReceiver(t testing.TB) *Receiver {
	t.Helper()
	r := &Receiver{arrived: make(chan struct{}, 1)}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	r.URL = r.srv.URL + "/webhooks"
	t.Cleanup(r.srv.Close)
	return r
}

func (r *Receiver) serve(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	ts, _ := strconv.ParseInt(req.Header.Get(webhook.HeaderTimestamp), 10, 64)
	r.mu.Lock()
	status := http.StatusNoContent
	if len(r.statuses) > 0 {
		status, r.statuses = r.statuses[0], r.statuses[1:]
	}
	r.got = append(r.got, ReceivedWebhook{IdempotencyKey: req.Header.Get(webhook.HeaderIdempotencyKey), Timestamp: ts,
		Signature: req.Header.Get(webhook.HeaderSignature), Body: body, At: time.Now(), Status: status})
	r.mu.Unlock()
	select {
	case r.arrived <- struct{}{}:
	default:
	}
	w.WriteHeader(status)
}

// AnswerNext has the receiver answer its next requests with these
// statuses, in order, and 204 after them.
func (r *Receiver) AnswerNext(statuses ...int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.statuses = append(r.statuses, statuses...)
}

// Deliveries returns every request received so far, in order.
func (r *Receiver) Deliveries() []ReceivedWebhook {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]ReceivedWebhook(nil), r.got...)
}

// Wait waits until the receiver has got at least n requests, for at most
// timeout, and returns them; it fails the test otherwise.
func (r *Receiver) Wait(t testing.TB, n int, timeout time.Duration) []ReceivedWebhook {
	t.Helper()
	deadline := time.After(timeout)
	for {
		if got := r.Deliveries(); len(got) >= n {
			return got
		}
		select {
		case <-r.arrived:
		case <-deadline:
			t.Fatalf("compadretest: %d webhook requests after %v, want %d", len(r.Deliveries()), timeout, n)
		}
	}
}

// ErrBadSignature and ErrStale are why Verify refuses a request.
var (
	ErrBadSignature = errors.New("compadretest: the webhook signature does not match")
	ErrStale        = errors.New("compadretest: the webhook timestamp is too old")
)

// MaxWebhookAge is how old a request may be and still verify, as the
// official SDKs' verifiers allow.
const MaxWebhookAge = 5 * time.Minute

// Verify checks the request as the official SDKs' verifiers do: its
// signature is the HMAC of its timestamp and body under secret, and it is
// at most MaxWebhookAge old at now.
func (w ReceivedWebhook) Verify(secret string, now time.Time) error {
	want := webhook.Sign(secret, w.Timestamp, w.Body)
	if !hmac.Equal([]byte(want), []byte(w.Signature)) {
		return ErrBadSignature
	}
	if age := now.Sub(time.UnixMilli(w.Timestamp)); age > MaxWebhookAge {
		return fmt.Errorf("%w: %v", ErrStale, age)
	}
	return nil
}
