package httpapi

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/gorilla/mux"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/compadre-dev/compadre/auth"
	"github.com/compadre-dev/compadre/store"
)

// maxBodyBytes is the largest request body accepted; larger ones get 413.
const maxBodyBytes = 1 << 20

// maxRawBodyBytes is the largest body an operation taking a form or audio
// accepts: a few minutes of speech as WAV.
const maxRawBodyBytes = 16 << 20

type authMode int

const (
	// authNone: no credentials are read (sign-in, health).
	authNone authMode = iota
	// authOptional: a token is used if sent, and must then be valid.
	authOptional
	// authRequired: a valid token for the organization in the path.
	authRequired
	// authCrossOrg: a valid token for the organization named by X-ORG-ID (or
	// the token's own), acting on an organization that need not exist yet.
	authCrossOrg
	// authControl: the control API, served only when it is on; a valid
	// token of any organization whose user holds
	// DefaultSuperAdministratorRole (see control.go).
	authControl
)

// handlerFunc is a handler that returns its failure instead of writing it.
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

// route is one line of the API: what it serves, who may call it, how often.
type route struct {
	method string
	path   string
	op     string
	auth   authMode
	// perms must all be held (under some grant) before the handler runs;
	// handlers acting on one resource check conditions against it too.
	perms []auth.Permission
	// perMinute is the rate limit per organization, user and operation; 0 is none.
	perMinute int
	handle    handlerFunc
}

type ctxKey int

const stateKey ctxKey = iota

// requestState is what the middleware learns about a request, for the
// handler and for the access log.
type requestState struct {
	id        string
	op        string
	org       *store.Organization
	principal *store.Principal
	query     map[string]any
	body      []byte
	// pending are the route's permissions the handler must decide, and
	// decided those decided so far (see permissions.go).
	pending, decided []auth.Permission
	// specific is the most specific route template matching the path, ""
	// for none, once specificKnown (see mostSpecific).
	specific      string
	specificKnown bool
	// vars are the route's path variables.
	vars map[string]string
	// outsideAPI is set for requests that are not the API's (the control
	// API's own, the console's files), which faults and the request log
	// leave alone.
	outsideAPI bool
	// fault is the fault injected into the request, if any; dropped is
	// set if its connection was closed without an answer.
	fault   *injected
	dropped bool
	// capture is what the request log learns of the request; nil when
	// the log is off.
	capture *capture
}

func state(ctx context.Context) *requestState {
	st, _ := ctx.Value(stateKey).(*requestState)
	if st == nil {
		return &requestState{}
	}
	return st
}

func requestID(ctx context.Context) string { return state(ctx).id }

// statusRecorder remembers the status a response started with, and
// refuses to let a handler report success before it decided every
// permission its route names: such an answer becomes a 500.
type statusRecorder struct {
	http.ResponseWriter
	st     *requestState
	log    *slog.Logger
	r      *http.Request
	status int
	// swallowed is set once a success was replaced; the handler's body
	// is then dropped.
	swallowed bool
}

func (w *statusRecorder) WriteHeader(code int) {
	if w.status != 0 {
		return
	}
	if successful(code) {
		if p := w.st.undecided(); p != "" {
			w.log.ErrorContext(w.r.Context(), "handler answered without deciding a permission of its route",
				"request_id", w.st.id, "operation", w.st.op, "permission", p)
			w.swallowed = true
			w.status = http.StatusInternalServerError
			w.ResponseWriter.Header().Set("Content-Type", "application/json")
			w.ResponseWriter.WriteHeader(w.status)
			_, _ = w.ResponseWriter.Write([]byte(`{"detail":"Internal Server Error"}`))
			return
		}
	}
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusRecorder) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	if w.swallowed {
		return len(b), nil
	}
	if w.st.capture != nil {
		_, _ = w.st.capture.resp.Write(b)
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection's writer.
func (w *statusRecorder) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *statusRecorder) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

type httpMetrics struct {
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	// faults counts the faults the control API injected.
	faults *prometheus.CounterVec
}

func newHTTPMetrics(reg prometheus.Registerer) *httpMetrics {
	m := &httpMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "compadre_http_requests_total",
			Help: "HTTP requests served, by operation, status code and kind of client.",
		}, []string{"operation", "status", "client"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "compadre_http_request_duration_seconds",
			Help:    "Time to serve an HTTP request, by operation.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"operation"}),
		faults: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "compadre_faults_injected_total",
			Help: "Faults injected through the control API, by operation and kind (latency, status, drop, cut_stream).",
		}, []string{"operation", "kind"}),
	}
	reg.MustRegister(m.requests, m.latency, m.faults)
	return m
}

// outer wraps every request, matched or not: request ID, panic recovery,
// access log, metrics and the request log.
func (s *Server) outer(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		s.limitBody(w, r)
		st := &requestState{id: incomingRequestID(r), op: "unmatched"}
		w.Header().Set("X-Request-ID", st.id)
		rec := &statusRecorder{ResponseWriter: w, st: st, log: s.log}
		if s.control != nil && s.control.log != nil {
			st.capture = s.beginCapture(r, rec, start)
		}
		r = r.WithContext(context.WithValue(r.Context(), stateKey, st))
		rec.r = r
		defer func() {
			p := recover()
			if p != nil && p != http.ErrAbortHandler {
				s.log.ErrorContext(r.Context(), "panic", "request_id", st.id, "panic", p, "stack", string(debug.Stack()))
				if rec.status == 0 {
					writeJSON(rec, http.StatusInternalServerError, map[string]string{"detail": "Internal Server Error"})
				}
			}
			s.finish(r, st, rec, start)
			if p == http.ErrAbortHandler {
				panic(p)
			}
		}()
		next.ServeHTTP(rec, r)
	})
}

// finish records a served request: the request log (before the answer is
// complete, so a client that has its answer finds the request logged),
// the metrics and the access log.
func (s *Server) finish(r *http.Request, st *requestState, rec *statusRecorder, start time.Time) {
	s.recordRequest(r, st)
	elapsed := time.Since(start)
	status := rec.status
	switch {
	case st.dropped:
		status = 0
	case status == 0:
		status = http.StatusOK
	}
	s.metrics.requests.WithLabelValues(st.op, strconv.Itoa(status), clientKind(r.UserAgent())).Inc()
	if answered != nil {
		answered(st.op, status)
	}
	s.metrics.latency.WithLabelValues(st.op).Observe(elapsed.Seconds())
	if !s.log.Enabled(r.Context(), slog.LevelInfo) {
		return
	}
	attrs := []any{"request_id", st.id, "method", r.Method, "path", r.URL.Path, "operation", st.op,
		"status", status, "duration_ms", float64(elapsed.Microseconds()) / 1000}
	if st.org != nil {
		attrs = append(attrs, "org", st.org.ID)
	}
	if st.principal != nil {
		attrs = append(attrs, "user", st.principal.UserID)
	}
	if st.fault != nil {
		attrs = append(attrs, "fault", st.fault.source)
	}
	s.log.InfoContext(r.Context(), "request", attrs...)
}

// limitBody gives a request's body s.bodyTimeout to arrive, so that a
// client trickling a body, with or without credentials, cannot hold a
// connection: the deadline is the connection's read deadline, which the
// server's own draining of an unread body after the handler also obeys. A
// body read past it fails with os.ErrDeadlineExceeded (answered 408).
//
// A streamed answer is not cut: once the body has been read to its end,
// net/http clears the read deadline and starts its background read (which
// notices a client leaving). A request without a body gets no deadline,
// since that background read is already running, and its timing out would
// cancel the request's context.
//
// See DECISIONS.md, "Why these connection limits?".
func (s *Server) limitBody(w http.ResponseWriter, r *http.Request) {
	if s.bodyTimeout <= 0 || r.Body == nil || r.Body == http.NoBody {
		return
	}
	// A recorder in tests has no connection to bound, hence the ignored error.
	_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(s.bodyTimeout))
}

// clientKind names the kind of client a User-Agent belongs to, from a
// fixed list so the request counter's series stay few: "python-httpx",
// which the official Python SDK sends (it keeps its HTTP library's own),
// or "other". See DECISIONS.md, "Why does the request counter tell the
// Python SDK apart?".
func clientKind(userAgent string) string {
	if strings.HasPrefix(userAgent, "python-httpx/") {
		return "python-httpx"
	}
	return "other"
}

// incomingRequestID keeps a caller's X-Request-ID when it is a short token,
// so logs can be joined across services; otherwise it makes one.
func incomingRequestID(r *http.Request) string {
	if id := r.Header.Get("X-Request-ID"); id != "" && len(id) <= 64 && strings.IndexFunc(id, func(c rune) bool {
		return !(c == '-' || c == '_' || c == '.' || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
	}) < 0 {
		return id
	}
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// pipeline runs one route's stages in their fixed order: organization
// lookup, authentication, any fault the control API injects, rate limit,
// body and parameter validation, permission check, handler.
func (s *Server) pipeline(rt route, op *operation) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		st := state(r.Context())
		st.op, st.vars, st.outsideAPI = rt.op, mux.Vars(r), rt.auth == authControl
		err := s.identify(r, rt, st)
		// A fault applies whether or not the caller authenticated: a
		// client sees a gateway's 503 before its credentials are checked.
		if s.control != nil && !st.outsideAPI {
			var done bool
			if w, r, done = s.injectFault(w, r, rt, st); done {
				return
			}
		}
		if err == nil {
			err = s.admit(w, r, rt, op, st)
		}
		if err != nil {
			writeError(w, r, s.log, err)
			return
		}
		if err := rt.handle(w, r); err != nil {
			writeError(w, r, s.log, err)
		}
	})
}

// identify looks up the organization the path names and authenticates the
// caller.
func (s *Server) identify(r *http.Request, rt route, st *requestState) error {
	orgID := st.vars["organization"]
	if orgID != "" && rt.auth != authCrossOrg {
		org, err := s.store.GetOrganization(r.Context(), orgID)
		if err != nil {
			return err
		}
		st.org = &org
	}
	if err := s.authenticate(r, rt.auth, orgID, st); err != nil {
		return err
	}
	if rt.auth == authControl {
		return controlAllowed(st)
	}
	return nil
}

// admit runs the stages between identifying the caller and the handler.
func (s *Server) admit(w http.ResponseWriter, r *http.Request, rt route, op *operation, st *requestState) error {
	orgID := st.vars["organization"]
	if rt.perMinute > 0 {
		if err := s.limits.allow(rt, orgID, rateLimitSubject(r, st)); err != nil {
			return err
		}
	}
	if err := s.validateRequest(w, r, op, st); err != nil {
		return err
	}
	return st.decideOrgScoped(rt.perms, orgID)
}

// rateLimitSubject is who a request counts against: its user, or before
// sign-in, the caller's address.
func rateLimitSubject(r *http.Request, st *requestState) string {
	if st.principal != nil {
		return st.principal.OrgID + "/" + st.principal.UserID
	}
	host := r.RemoteAddr
	if i := strings.LastIndexByte(host, ':'); i > 0 {
		host = host[:i]
	}
	return "addr/" + host
}

// actor is the caller, as records name their creators and editors.
func actor(r *http.Request) store.Actor {
	p := state(r.Context()).principal
	return store.Actor{OrgID: p.OrgID, UserID: p.UserID}
}
