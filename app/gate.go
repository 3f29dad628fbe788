package app

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"
)

// DrainTimeout is how long Restore and Reset wait, at most, for the
// requests in flight to finish before they give up, changing nothing.
const DrainTimeout = 30 * time.Second

// ErrRequestsInFlight means requests were still running when Restore or
// Reset gave up waiting for them; nothing was changed.
var ErrRequestsInFlight = errors.New("app: requests still in flight")

// ErrInsideRequest means Restore or Reset was called from a request the
// gate let through: it would wait for itself. Serve them from a path
// outside /v1/, which the gate lets through without holding it.
var ErrInsideRequest = errors.New("app: restore and reset cannot run inside a /v1/ request")

// gate lets requests to the API through together and a restore or reset
// through alone: every /v1/ request holds it for its whole duration, a
// streamed answer included; Restore and Reset close it, wait for the
// requests in flight to leave, and open it again when done. Requests that
// arrive while it is closed wait and then run on the new state. See
// DECISIONS.md, "How is a restore atomic for clients?".
type gate struct {
	mu       sync.Mutex
	inFlight int
	// closed is non-nil while the gate is closed; arrivals wait for it to
	// be closed (as a channel), which opens the gate.
	closed chan struct{}
	// drained is closed when the last request in flight leaves a closed
	// gate.
	drained chan struct{}
	// closing, if set, is called once the gate is closed to arrivals and
	// before waiting for the requests in flight (tests observe it).
	closing func()
	// drainTimeout bounds the wait; 0 means DrainTimeout.
	drainTimeout time.Duration
}

// insideKey marks the context of a request that holds the gate.
type insideKey struct{}

// wrap makes every request whose path starts with /v1/ pass the gate.
// Other paths (health, metrics, a control API) go through without it.
func (g *gate) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.URL.Path, "/v1/") {
			next.ServeHTTP(w, r)
			return
		}
		if !g.enter(r.Context()) {
			// The client left while the gate was closed.
			return
		}
		defer g.leave()
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), insideKey{}, true)))
	})
}

// enter waits while the gate is closed and counts the request in; false
// if ctx ended first.
func (g *gate) enter(ctx context.Context) bool {
	g.mu.Lock()
	for g.closed != nil {
		closed := g.closed
		g.mu.Unlock()
		select {
		case <-closed:
		case <-ctx.Done():
			return false
		}
		g.mu.Lock()
	}
	g.inFlight++
	g.mu.Unlock()
	return true
}

func (g *gate) leave() {
	g.mu.Lock()
	g.inFlight--
	if g.inFlight == 0 && g.drained != nil {
		close(g.drained)
		g.drained = nil
	}
	g.mu.Unlock()
}

// shut closes the gate to arrivals and waits until no request is in
// flight, for at most the drain timeout or until ctx ends; then it opens
// the gate again and fails with ErrRequestsInFlight. On success the gate
// stays closed until open is called. One caller at a time (App.admin).
func (g *gate) shut(ctx context.Context) (open func(), err error) {
	if ctx.Value(insideKey{}) != nil {
		return nil, ErrInsideRequest
	}
	g.mu.Lock()
	closed := make(chan struct{})
	g.closed = closed
	var drained chan struct{}
	if g.inFlight > 0 {
		drained = make(chan struct{})
		g.drained = drained
	}
	g.mu.Unlock()
	open = func() {
		g.mu.Lock()
		g.closed, g.drained = nil, nil
		g.mu.Unlock()
		close(closed)
	}
	if g.closing != nil {
		g.closing()
	}
	if drained == nil {
		return open, nil
	}
	wait := g.drainTimeout
	if wait <= 0 {
		wait = DrainTimeout
	}
	timer := time.NewTimer(wait)
	defer timer.Stop()
	select {
	case <-drained:
		return open, nil
	case <-timer.C:
		err = fmt.Errorf("after %v", wait)
	case <-ctx.Done():
		err = ctx.Err()
	}
	g.mu.Lock()
	n := g.inFlight
	g.mu.Unlock()
	open()
	return nil, fmt.Errorf("%w (%d) %w", ErrRequestsInFlight, n, err)
}
