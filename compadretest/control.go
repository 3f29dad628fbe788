package compadretest

import (
	"testing"

	"github.com/compadre-dev/compadre/app"
	httpapi "github.com/compadre-dev/compadre/http"
)

// Rule is a fault rule: which requests it applies to (Operation, an
// operationId or a glob such as "get-*"; Organization and User if set)
// and what happens to them (Status, Latency, Drop or CutStreamAfter), with
// a Probability (nil: always) and a Count (0: no end). See
// httpapi.FaultRule.
type Rule = httpapi.FaultRule

// Latency is how long a Rule delays a request: fixed, uniform or normal.
type Latency = httpapi.FaultLatency

// Fault is a Rule in force: its ID, how many requests it applied to and,
// with a Count, how many it still will.
type Fault = httpapi.Fault

// LoggedRequest is a request of the request log, its secrets redacted.
type LoggedRequest = httpapi.LoggedRequest

// LoggedBody is a logged request's or answer's body.
type LoggedBody = httpapi.LoggedBody

// WithControlAPI turns the control API (fault rules, the request log and
// the X-Compadre-Fault header) on or off; it is on unless a test turns it
// off, as `compadre serve` has it.
func WithControlAPI(on bool) Option { return func(c *app.Config) { c.ControlAPI = on } }

// WithRequestLogSize makes the request log keep the last n requests
// (default 1,000); 0 keeps none.
func WithRequestLogSize(n int) Option {
	return func(c *app.Config) {
		c.RequestLogSize = n
		if n == 0 {
			c.RequestLogSize = -1
		}
	}
}

// Inject puts a fault rule in force, after any already in force, and
// returns its ID. A rule the server refuses fails the test.
func (s *Server) Inject(t testing.TB, r Rule) string {
	t.Helper()
	f, err := s.app.API.InjectFault(r)
	if err != nil {
		t.Fatalf("compadretest: inject fault: %v", err)
	}
	return f.ID
}

// Faults lists the fault rules in force, oldest first.
func (s *Server) Faults(t testing.TB) []Fault {
	t.Helper()
	f, err := s.app.API.Faults()
	if err != nil {
		t.Fatalf("compadretest: faults: %v", err)
	}
	return f
}

// DeleteFault takes the fault rule with id out of force.
func (s *Server) DeleteFault(t testing.TB, id string) {
	t.Helper()
	if err := s.app.API.DeleteFault(id); err != nil {
		t.Fatalf("compadretest: delete fault: %v", err)
	}
}

// ClearFaults takes every fault rule out of force.
func (s *Server) ClearFaults(t testing.TB) {
	t.Helper()
	if err := s.app.API.ClearFaults(); err != nil {
		t.Fatalf("compadretest: clear faults: %v", err)
	}
}

// Requests returns the request log, oldest first: the requests the server
// answered (the control API's own excepted), in the order they finished,
// their secrets redacted. A request is logged before its client has the
// whole answer, so a test reads it as soon as its call returns.
func (s *Server) Requests(t testing.TB) []LoggedRequest {
	t.Helper()
	r, err := s.app.API.Requests(httpapi.RequestFilter{})
	if err != nil {
		t.Fatalf("compadretest: requests: %v", err)
	}
	return r
}

// ClearRequests empties the request log.
func (s *Server) ClearRequests(t testing.TB) {
	t.Helper()
	if err := s.app.API.ClearRequests(); err != nil {
		t.Fatalf("compadretest: clear requests: %v", err)
	}
}

// WithConsole serves the web console at / (the default) or leaves it out.
func WithConsole(on bool) Option { return func(c *app.Config) { c.NoConsole = !on } }
