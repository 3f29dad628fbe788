package httpapi

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"path"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Faults a test asks for: a rule names the operations it applies to and
// what happens to their requests; a request header does the same for one
// request. See the control API's document (embed/openapi/control.yaml) and
// DECISIONS.md, "How are faults injected?".

// FaultHeader is the request header that asks for a fault on its own
// request, when the control API is on.
const FaultHeader = "X-Compadre-Fault"

// Bounds of a fault, so that no rule or header holds a connection for long.
const (
	// MaxFaultLatency is the longest latency a fault adds.
	MaxFaultLatency = 5 * time.Minute
	// maxRetryAfter is the largest Retry-After a fault sends, in seconds.
	maxRetryAfter = 3600
	// maxFaultCount is the most requests one rule may apply to.
	maxFaultCount = 1_000_000
	// maxStreamCut is the most events a stream may carry before a cut.
	maxStreamCut = 10_000
)

// streamingOperations are the operations whose answer is a stream of
// NDJSON events, the only ones a stream cut can apply to.
var streamingOperations = []string{"create-conversation", "interact-with-conversation"}

// FaultRule says which requests a fault applies to and what happens to
// them. Operation is an operationId or a glob of them (path.Match syntax:
// "get-*", "*"); Organization and User, if set, must equal the request's.
// At least one of Status, Latency, Drop and CutStreamAfter is set, and at
// most one of Status, Drop and CutStreamAfter: Latency delays the request
// and then lets it through, or precedes the other action.
type FaultRule struct {
	Operation    string `json:"operation"`
	Organization string `json:"organization,omitempty"`
	User         string `json:"user,omitempty"`
	// Status answers the request with this status and the body the server
	// gives for it; RetryAfter is the Retry-After of a 429 (default 1) or
	// a 503 (default none), in seconds.
	Status     int `json:"status,omitempty"`
	RetryAfter int `json:"retry_after,omitempty"`
	// Latency delays the request before anything else happens to it.
	Latency *FaultLatency `json:"latency,omitempty"`
	// Drop closes the connection without an answer.
	Drop bool `json:"drop,omitempty"`
	// CutStreamAfter lets this many events of an NDJSON answer through and
	// then closes the connection.
	CutStreamAfter int `json:"cut_stream_after,omitempty"`
	// Probability is the chance that a matching request gets the fault;
	// nil means 1.
	Probability *float64 `json:"probability,omitempty"`
	// Count, if above 0, is how many requests get the fault; the rule is
	// then spent, and kept as such.
	Count int `json:"count,omitempty"`
}

// FaultLatency is how long a fault delays a request: a fixed time (MS),
// uniform between MinMS and MaxMS, or normal with MeanMS and StddevMS,
// clamped to 0 and MaxMS (default MaxFaultLatency). Distribution is
// "fixed" (the default), "uniform" or "normal".
type FaultLatency struct {
	Distribution string `json:"distribution,omitempty"`
	MS           int    `json:"ms,omitempty"`
	MinMS        int    `json:"min_ms,omitempty"`
	MaxMS        int    `json:"max_ms,omitempty"`
	MeanMS       int    `json:"mean_ms,omitempty"`
	StddevMS     int    `json:"stddev_ms,omitempty"`
}

// Fault is a FaultRule in force: its ID, how many requests it applied to,
// and for a rule with a count, how many it still will (0: spent).
type Fault struct {
	ID string `json:"id"`
	FaultRule
	Applied   int64  `json:"applied"`
	Remaining *int64 `json:"remaining"`
}

// faultPlan is what happens to one request: a rule's or the header's.
type faultPlan struct {
	// source is the rule's ID, or "header".
	source     string
	status     int
	retryAfter int
	latency    time.Duration
	drop       bool
	cutAfter   int
}

// faultRule is a rule in force. remaining counts down from the rule's
// Count; applied counts up.
type faultRule struct {
	id   string
	rule FaultRule
	// probability is the rule's, 1 when unset.
	probability float64
	remaining   atomic.Int64
	applied     atomic.Int64
}

func (f *faultRule) view() Fault {
	v := Fault{ID: f.id, FaultRule: f.rule, Applied: f.applied.Load()}
	if f.rule.Count > 0 {
		n := f.remaining.Load()
		v.Remaining = &n
	}
	return v
}

// matches reports whether the rule applies to a request of op, acting on
// org, by user.
func (f *faultRule) matches(op, org, user string) bool {
	if f.rule.Organization != "" && f.rule.Organization != org {
		return false
	}
	if f.rule.User != "" && f.rule.User != user {
		return false
	}
	ok, _ := path.Match(f.rule.Operation, op)
	return ok
}

// take decides whether this request gets the fault: a roll of the
// probability, then one of the remaining count, taken atomically so that
// concurrent requests never exceed it.
func (f *faultRule) take() bool {
	if f.probability < 1 && rand.Float64() >= f.probability {
		return false
	}
	if f.rule.Count > 0 {
		for {
			n := f.remaining.Load()
			if n <= 0 {
				return false
			}
			if f.remaining.CompareAndSwap(n, n-1) {
				break
			}
		}
	}
	f.applied.Add(1)
	return true
}

// plan is the rule's action for one request, its latency sampled.
func (f *faultRule) plan() *faultPlan {
	p := &faultPlan{source: f.id, status: f.rule.Status, retryAfter: f.rule.RetryAfter, drop: f.rule.Drop,
		cutAfter: f.rule.CutStreamAfter}
	if l := f.rule.Latency; l != nil {
		p.latency = l.sample()
	}
	return p
}

// sample draws one latency from the distribution.
func (l *FaultLatency) sample() time.Duration {
	ms := float64(l.MS)
	switch l.Distribution {
	case "uniform":
		ms = float64(l.MinMS) + rand.Float64()*float64(l.MaxMS-l.MinMS)
	case "normal":
		ceiling := float64(MaxFaultLatency.Milliseconds())
		if l.MaxMS > 0 {
			ceiling = float64(l.MaxMS)
		}
		ms = min(max(float64(l.MeanMS)+rand.NormFloat64()*float64(l.StddevMS), 0), ceiling)
	}
	return time.Duration(ms * float64(time.Millisecond))
}

// faultSet holds the rules in force. Requests read them with one atomic
// load, and an empty set is a nil pointer, so a server without rules pays
// for nothing else; changes copy the list under mu.
type faultSet struct {
	rules atomic.Pointer[[]*faultRule]
	mu    sync.Mutex
	next  int
	// operations are the operationIds a rule may name.
	operations []string
}

// add checks rule and puts it in force, after the rules already there.
func (fs *faultSet) add(rule FaultRule) (Fault, error) {
	if err := checkFaultRule(rule, fs.operations); err != nil {
		return Fault{}, err
	}
	// The rule's pointers are the caller's (a test's, from Go): keep
	// copies, so that changing them later changes nothing in force.
	if rule.Latency != nil {
		rule.Latency = new(*rule.Latency)
	}
	if rule.Probability != nil {
		rule.Probability = new(*rule.Probability)
	}
	fs.mu.Lock()
	defer fs.mu.Unlock()
	fs.next++
	f := &faultRule{id: "f" + strconv.Itoa(fs.next), rule: rule, probability: 1}
	if rule.Probability != nil {
		f.probability = *rule.Probability
	}
	f.remaining.Store(int64(rule.Count))
	var rules []*faultRule
	if old := fs.rules.Load(); old != nil {
		rules = slices.Clone(*old)
	}
	rules = append(rules, f)
	fs.rules.Store(&rules)
	return f.view(), nil
}

// list returns the rules in force, oldest first.
func (fs *faultSet) list() []Fault {
	out := []Fault{}
	if rules := fs.rules.Load(); rules != nil {
		for _, f := range *rules {
			out = append(out, f.view())
		}
	}
	return out
}

// remove takes the rule with id out of force, reporting whether it was.
func (fs *faultSet) remove(id string) bool {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	old := fs.rules.Load()
	if old == nil {
		return false
	}
	i := slices.IndexFunc(*old, func(f *faultRule) bool { return f.id == id })
	if i < 0 {
		return false
	}
	rules := slices.Delete(slices.Clone(*old), i, i+1)
	if len(rules) == 0 {
		fs.rules.Store(nil)
	} else {
		fs.rules.Store(&rules)
	}
	return true
}

// clear takes every rule out of force. IDs are not reused.
func (fs *faultSet) clear() {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	fs.rules.Store(nil)
}

// pick returns the plan of the first rule, in the order they were added,
// that matches the request and whose probability and count let it apply;
// nil for none.
func (fs *faultSet) pick(op, org, user string) *faultPlan {
	rules := fs.rules.Load()
	if rules == nil {
		return nil
	}
	for _, f := range *rules {
		if f.matches(op, org, user) && f.take() {
			return f.plan()
		}
	}
	return nil
}

// checkFaultRule refuses a rule the document allows but that cannot work:
// a pattern that names no operation, no action or two, a Retry-After
// without a status that has one, latency fields of another distribution.
func checkFaultRule(r FaultRule, operations []string) error {
	if _, err := path.Match(r.Operation, ""); err != nil {
		return badRequest(fmt.Sprintf("The operation pattern %q is not a valid glob.", r.Operation))
	}
	matched := slices.ContainsFunc(operations, func(op string) bool { ok, _ := path.Match(r.Operation, op); return ok })
	if !matched {
		return badRequest(fmt.Sprintf("The operation pattern %q matches no operation of the API.", r.Operation))
	}
	p := faultPlan{status: r.Status, retryAfter: r.RetryAfter, drop: r.Drop, cutAfter: r.CutStreamAfter}
	if r.Latency != nil {
		if err := checkLatency(*r.Latency); err != nil {
			return err
		}
		// Any latency counts as an action; its bounds were just checked.
		p.latency = 1
	}
	if problem := p.problem(); problem != "" {
		return badRequest(strings.ToUpper(problem[:1]) + problem[1:] + ".")
	}
	if r.CutStreamAfter > 0 && !slices.ContainsFunc(streamingOperations, func(op string) bool {
		ok, _ := path.Match(r.Operation, op)
		return ok
	}) {
		return badRequest(fmt.Sprintf("The operation pattern %q matches no operation that streams events (%s), so no stream can be cut.",
			r.Operation, strings.Join(streamingOperations, ", ")))
	}
	if r.Probability != nil && !(*r.Probability >= 0 && *r.Probability <= 1) {
		return badRequest("The probability must be between 0 and 1.")
	}
	if r.Count < 0 || r.Count > maxFaultCount {
		return badRequest(fmt.Sprintf("The count must be between 0 and %d.", maxFaultCount))
	}
	return nil
}

// problem says what is wrong with a plan, "" for nothing: no action, more
// than one of status, drop and cut, or values out of range. Rules and the
// header share it.
func (p *faultPlan) problem() string {
	actions := 0
	for _, set := range []bool{p.status != 0, p.drop, p.cutAfter != 0} {
		if set {
			actions++
		}
	}
	switch {
	case actions == 0 && p.latency == 0:
		return "a fault needs an action: a status, a latency, a drop or a stream cut"
	case actions > 1:
		return "a fault takes at most one of a status, a drop and a stream cut"
	case p.status != 0 && (p.status < 400 || p.status > 599):
		return "the status of a fault must be from 400 to 599"
	case p.retryAfter != 0 && p.status != http.StatusTooManyRequests && p.status != http.StatusServiceUnavailable:
		return "a Retry-After goes only with a status of 429 or 503"
	case p.retryAfter < 0 || p.retryAfter > maxRetryAfter:
		return fmt.Sprintf("the Retry-After must be from 0 to %d seconds", maxRetryAfter)
	case p.cutAfter < 0 || p.cutAfter > maxStreamCut:
		return fmt.Sprintf("a stream may be cut after 1 to %d events", maxStreamCut)
	case p.latency < 0 || p.latency > MaxFaultLatency:
		return "the latency of a fault must be from 0 to " + MaxFaultLatency.String()
	}
	return ""
}

// checkLatency refuses a distribution with fields of another, or whose
// bounds are out of order or beyond MaxFaultLatency.
func checkLatency(l FaultLatency) error {
	limit := int(MaxFaultLatency.Milliseconds())
	var allowed []string
	switch l.Distribution {
	case "", "fixed":
		allowed = []string{"ms"}
	case "uniform":
		allowed = []string{"min_ms", "max_ms"}
		if l.MinMS > l.MaxMS {
			return badRequest("A uniform latency's min_ms must not exceed its max_ms.")
		}
	case "normal":
		allowed = []string{"mean_ms", "stddev_ms", "max_ms"}
	default:
		return badRequest(fmt.Sprintf("Unknown latency distribution %q: want fixed, uniform or normal.", l.Distribution))
	}
	for name, v := range map[string]int{"ms": l.MS, "min_ms": l.MinMS, "max_ms": l.MaxMS, "mean_ms": l.MeanMS, "stddev_ms": l.StddevMS} {
		if v != 0 && !slices.Contains(allowed, name) {
			return badRequest(fmt.Sprintf("A %s latency takes %s, not %s.", cmp.Or(l.Distribution, "fixed"), strings.Join(allowed, " and "), name))
		}
		if v < 0 || v > limit {
			return badRequest(fmt.Sprintf("The latency's %s must be between 0 and %d.", name, limit))
		}
	}
	return nil
}

// parseFaultHeader reads X-Compadre-Fault: items separated by semicolons,
// each one of status=<400..599>, retry-after=<seconds>,
// latency=<duration> or latency=<duration>..<duration> (uniform), drop,
// and cut-stream=<events>. Durations are Go's ("250ms", "2s").
func parseFaultHeader(v string) (*faultPlan, error) {
	p := &faultPlan{source: "header"}
	seen := map[string]bool{}
	for item := range strings.SplitSeq(v, ";") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		key, val, hasVal := strings.Cut(item, "=")
		key, val = strings.ToLower(strings.TrimSpace(key)), strings.TrimSpace(val)
		if seen[key] {
			return nil, headerError("%s is given twice", key)
		}
		seen[key] = true
		switch {
		case key == "drop" && hasVal:
			return nil, headerError("drop takes no value")
		case key != "drop" && !hasVal && slices.Contains([]string{"status", "retry-after", "latency", "cut-stream"}, key):
			return nil, headerError("%s needs a value", key)
		}
		var err error
		switch key {
		case "status":
			p.status, err = headerInt(key, val, 400, 599)
		case "retry-after":
			p.retryAfter, err = headerInt(key, val, 0, maxRetryAfter)
		case "cut-stream":
			p.cutAfter, err = headerInt(key, val, 1, maxStreamCut)
		case "drop":
			p.drop = true
		case "latency":
			p.latency, err = headerLatency(val)
		default:
			return nil, headerError("unknown item %q (want status, retry-after, latency, drop or cut-stream)", key)
		}
		if err != nil {
			return nil, err
		}
	}
	if problem := p.problem(); problem != "" {
		return nil, headerError("%s", problem)
	}
	return p, nil
}

func headerError(format string, args ...any) error {
	return badRequest("The " + FaultHeader + " header is malformed: " + fmt.Sprintf(format, args...) + ".")
}

func headerInt(key, val string, lo, hi int) (int, error) {
	n, err := strconv.Atoi(val)
	if err != nil || n < lo || n > hi {
		return 0, headerError("%s must be a whole number from %d to %d, not %q", key, lo, hi, val)
	}
	return n, nil
}

// headerLatency reads a duration, or two separated by ".." drawn from
// uniformly.
func headerLatency(val string) (time.Duration, error) {
	lo, hi, isRange := strings.Cut(val, "..")
	a, err := time.ParseDuration(strings.TrimSpace(lo))
	if err != nil || a < 0 || a > MaxFaultLatency {
		return 0, headerError("latency must be a duration from 0 to %s such as 250ms, or two separated by .., not %q", MaxFaultLatency, val)
	}
	if !isRange {
		return a, nil
	}
	b, err := time.ParseDuration(strings.TrimSpace(hi))
	if err != nil || b < a || b > MaxFaultLatency {
		return 0, headerError("latency must be a duration from 0 to %s such as 250ms, or two separated by .., not %q", MaxFaultLatency, val)
	}
	return a + time.Duration(rand.Int64N(int64(b-a)+1)), nil
}

// faultStatus is the answer of a status fault: the body the server gives
// for that status elsewhere, and for 429 and 503 their Retry-After. The
// 429 names the route's documented limit, as the rate limiter does.
func faultStatus(p *faultPlan, rt route) *apiError {
	switch p.status {
	case http.StatusTooManyRequests:
		limit := "the rate limit"
		if rt.perMinute > 0 {
			limit += " of " + strconv.Itoa(rt.perMinute) + " requests per minute"
		}
		return tooMany("The user has exceeded "+limit+" for this endpoint.", time.Duration(cmp.Or(p.retryAfter, 1))*time.Second)
	case http.StatusServiceUnavailable:
		e := errorf(p.status, "The service is going through temporary maintenance.")
		if p.retryAfter > 0 {
			e.header = http.Header{"Retry-After": {strconv.Itoa(p.retryAfter)}}
		}
		return e
	case http.StatusConflict:
		return conflict("A related operation is in progress; try again once it ends.")
	case http.StatusUnauthorized:
		return withChallenge(unauthorized("Invalid authorization credentials."))
	}
	text := http.StatusText(p.status)
	if text == "" {
		text = "Error"
	}
	return errorf(p.status, text)
}

// errStreamCut is what writes to a stream get once a fault cut it.
var errStreamCut = errors.New("httpapi: the stream was cut by a fault")

// cutWriter lets the first after lines of an NDJSON answer through, then
// cuts: cut closes the connection and cancels the handler's context, as a
// client that vanished would. An answer of another type passes untouched.
type cutWriter struct {
	http.ResponseWriter
	after, seen int
	// streaming is known at the first write: whether the answer is NDJSON.
	streaming, known bool
	done             bool
	cut              func()
}

func (w *cutWriter) Write(b []byte) (int, error) {
	if w.done {
		return 0, errStreamCut
	}
	if !w.known {
		w.known = true
		w.streaming = strings.HasPrefix(w.Header().Get("Content-Type"), "application/x-ndjson")
	}
	if !w.streaming {
		return w.ResponseWriter.Write(b)
	}
	for i, c := range b {
		if c != '\n' {
			continue
		}
		if w.seen++; w.seen == w.after {
			n, err := w.ResponseWriter.Write(b[:i+1])
			w.done = true
			w.cut()
			if err != nil {
				return n, err
			}
			return n, errStreamCut
		}
	}
	return w.ResponseWriter.Write(b)
}

// FlushError flushes the stream, or fails once it is cut.
func (w *cutWriter) FlushError() error {
	if w.done {
		return errStreamCut
	}
	return http.NewResponseController(w.ResponseWriter).Flush()
}

// Unwrap lets http.ResponseController reach the connection's writer.
func (w *cutWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// sleep waits d, or until ctx is done; it reports whether d passed.
func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// injected is the fault a request got: its source (a rule's ID or
// "header") and what was done, in order.
type injected struct {
	source  string
	actions []string
}

// markFault notes one action of a fault on the request, for the access
// log, the request log and the metrics.
func (s *Server) markFault(st *requestState, source, action string) {
	if st.fault == nil {
		st.fault = &injected{source: source}
	}
	st.fault.actions = append(st.fault.actions, action)
	s.metrics.faults.WithLabelValues(st.op, action).Inc()
}

// injectFault applies the fault the request's header or a rule asks for,
// once the route is known and the caller identified (a rule may name an
// organization or a user), and before anything else the route does: a
// faulted request is refused no rate-limit token and never validated. It
// returns the writer and request the route goes on with, or done if the
// fault answered the request or closed its connection.
func (s *Server) injectFault(w http.ResponseWriter, r *http.Request, rt route, st *requestState) (http.ResponseWriter, *http.Request, bool) {
	var plan *faultPlan
	if v := r.Header.Get(FaultHeader); v != "" {
		p, err := parseFaultHeader(v)
		if err != nil {
			writeError(w, r, s.log, err)
			return w, r, true
		}
		plan = p
	} else {
		org, user := st.vars["organization"], ""
		if st.principal != nil {
			user = st.principal.UserID
			if org == "" {
				org = st.principal.OrgID
			}
		}
		if plan = s.control.faults.pick(rt.op, org, user); plan == nil {
			return w, r, false
		}
	}
	if plan.latency > 0 {
		s.markFault(st, plan.source, "latency")
		if !sleep(r.Context(), plan.latency) {
			// The client left during the delay: it got no answer.
			st.dropped = true
			return w, r, true
		}
	}
	switch {
	case plan.status != 0:
		s.markFault(st, plan.source, "status")
		writeError(w, r, s.log, faultStatus(plan, rt))
		return w, r, true
	case plan.drop:
		s.markFault(st, plan.source, "drop")
		s.closeConnection(w, r, st, false)
		return w, r, true
	case plan.cutAfter > 0:
		ctx, cancel := context.WithCancel(r.Context())
		r = r.WithContext(ctx)
		cw := &cutWriter{ResponseWriter: w, after: plan.cutAfter}
		cw.cut = func() {
			s.markFault(st, plan.source, "cut_stream")
			s.closeConnection(cw.ResponseWriter, r, st, true)
			cancel()
		}
		return cw, r, false
	}
	return w, r, false
}

// closeConnection closes the request's connection, as a network failure
// would: after flushing what was sent if sent, else without any answer.
// The request is logged first, so that a client that saw the connection
// close finds it in the request log.
func (s *Server) closeConnection(w http.ResponseWriter, r *http.Request, st *requestState, sent bool) {
	rc := http.NewResponseController(w)
	if sent {
		_ = rc.Flush()
	} else {
		st.dropped = true
	}
	s.recordRequest(r, st)
	conn, _, err := rc.Hijack()
	if err != nil {
		// A connection that cannot be taken over (HTTP/2) is reset by
		// aborting the handler, if nothing was sent yet.
		if !sent {
			panic(http.ErrAbortHandler)
		}
		return
	}
	_ = conn.Close()
}
