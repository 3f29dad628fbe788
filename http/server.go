// Package httpapi serves the /v1 API: the route table, middleware, handlers
// and the mapping of errors to responses. The folder is named http/; the
// package is named for its job so it does not shadow net/http.
package httpapi

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/gorilla/mux"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/compadre-dev/compadre/auth"
	"github.com/compadre-dev/compadre/clock"
	"github.com/compadre-dev/compadre/engine"
	"github.com/compadre-dev/compadre/llm"
	"github.com/compadre-dev/compadre/mail"
	"github.com/compadre-dev/compadre/postprocess"
	"github.com/compadre-dev/compadre/simulate"
	"github.com/compadre-dev/compadre/store"
	"github.com/compadre-dev/compadre/tools"
	"github.com/compadre-dev/compadre/voice"
	"github.com/compadre-dev/compadre/webhook"
)

// Config is what the API needs from the process that runs it.
type Config struct {
	Store  *store.Store
	Tokens *auth.Tokens
	Sealer *auth.Sealer
	Logger *slog.Logger
	// RateLimitScale multiplies every rate limit; 0 turns rate limiting off.
	RateLimitScale float64
	// RateLimitBurstMinutes is how many minutes' worth of requests a bucket
	// holds; below 1 means one (the documented figures exactly).
	RateLimitBurstMinutes float64
	// Clock is the server's time, which the background workers also wait
	// on; nil means the system's, never moved.
	Clock *clock.Clock
	// Version is reported by /readyz.
	Version string
	// Sandbox, if set, reports the Python sandbox's state ("starting",
	// "ok" or "failed") and the interpreter it runs, for /readyz.
	Sandbox func() (state, python string)
	// Tools publishes, tests and invokes tools; nil answers those
	// operations with 503.
	Tools *tools.Service
	// BodyTimeout is how long a request's body may take to arrive, from
	// the end of its headers; 0 means no limit.
	BodyTimeout time.Duration
	// Model answers the conversation engine's questions; nil means the
	// built-in model.
	Model llm.Provider
	// Transcriber hears voice messages; nil means the built-in one, which
	// describes the audio rather than recognising speech.
	Transcriber voice.Transcriber
	// Synthesizer speaks voice replies; nil means none, and voice replies
	// are refused.
	Synthesizer voice.Synthesizer
	// SimulationWorkers is how many simulated conversations run at once;
	// 0 means simulate.DefaultWorkers().
	SimulationWorkers int
	// WebhookPolicy says which webhook destinations may be saved and
	// reached.
	WebhookPolicy webhook.Policy
	// WebhookRetryScale multiplies the webhook retry schedule; 0 means 1.
	WebhookRetryScale float64
	// SQLTimeout is how long a submit-sql-query query may run before it
	// is stopped and answered 408; 0 means DefaultSQLTimeout.
	SQLTimeout time.Duration
	// KeyHashCost is the argon2id cost of new API-key secrets; test
	// fixtures lower it. See DECISIONS.md, "Why may test servers hash keys cheaply?".
	KeyHashCost auth.HashCost
	// SignInLinks makes the tokens of the links sign-in-with-email mails;
	// Mail delivers the mails.
	SignInLinks *auth.SignInLinks
	Mail        mail.Transport
	// SignInRedirects says where the mailed links may lead.
	SignInRedirects mail.RedirectPolicy
	// ControlAPI serves the control API under /_compadre/ (fault rules
	// and the request log) and honours X-Compadre-Fault; off, those paths
	// are unknown and the served document leaves them out.
	ControlAPI bool
	// RequestLogSize is how many requests the request log keeps when the
	// control API is on; 0 keeps none.
	RequestLogSize int
	// NoConsole leaves the web console out: / and /console/ are then
	// unknown paths like any other.
	NoConsole bool
	// FirstStart reads the first start's credentials, which the console
	// offers to a browser on the server's own machine; nil, or false, offers
	// none.
	FirstStart func() (FirstStart, bool)
}

// Server is the API: its routes and everything the handlers use.
type Server struct {
	store   *store.Store
	tokens  *auth.Tokens
	sealer  *auth.Sealer
	log     *slog.Logger
	clock   *clock.Clock
	now     func() time.Time
	version string
	sandbox func() (state, python string)
	tools   *tools.Service
	engine  *engine.Engine
	runner  *simulate.Runner
	// webhookPolicy checks destinations; deliverer sends their events.
	webhookPolicy webhook.Policy
	deliverer     *webhook.Deliverer
	processor     *postprocess.Processor
	model         llm.Provider
	// models lists the provider's models and checks version sets'
	// preferences against them.
	models *llm.Registry
	// transcriber and synthesizer are the voice providers; synthesizer may
	// be nil.
	transcriber voice.Transcriber
	synthesizer voice.Synthesizer
	// signInLinks makes link tokens; mailer sends the links' mail;
	// redirects says where links may lead.
	signInLinks *auth.SignInLinks
	mailer      *mail.Sender
	redirects   mail.RedirectPolicy
	// bodyTimeout bounds the arrival of a request body; 0 is no bound.
	bodyTimeout time.Duration
	// sqlTimeout bounds a submit-sql-query query.
	sqlTimeout time.Duration
	limits     *rateLimiter
	doc        *apiDocument
	// docJSON is the document served: doc's, without the control API
	// unless it is on.
	docJSON []byte
	// control is the control API's state; nil when it is off.
	control *controlPlane
	// stateControl is what the control API resets, saves and restores;
	// the app sets it once it is built.
	stateControl atomic.Pointer[StateControl]
	// keyHashCost hashes new API keys' secrets.
	keyHashCost auth.HashCost
	// decoyHash is verified against when a key ID is unknown, so an unknown
	// key costs as much time as a wrong secret and key IDs cannot be probed
	// by timing.
	decoyHash string
	registry  *prometheus.Registry
	metrics   *httpMetrics
	handler   http.Handler
	// firstStart is Config.FirstStart while the console is on.
	firstStart func() (FirstStart, bool)
}

// Start starts the API's background work, simulation runs and webhook
// deliveries, picking up where an earlier process left them, and asks the
// model provider for its models.
func (s *Server) Start(ctx context.Context) error {
	s.models.Start()
	return s.Resume(ctx)
}

// Close stops the background work Start started and waits for it.
func (s *Server) Close() {
	s.Pause()
	s.models.Close()
}

// Pause stops the background work that acts on the database (simulation
// runs, post-processing, webhook deliveries, mail) and waits for it, so
// that the database can be replaced or reset under it; Resume starts it
// again over what the database then holds. Work cut short is durable and
// made again after Resume: an interrupted simulation item reruns from its
// start, an interrupted delivery or mail is sent again.
func (s *Server) Pause() {
	s.runner.Close()
	s.processor.Close()
	s.deliverer.Close()
	s.mailer.Close()
}

// Resume restarts what Pause stopped.
func (s *Server) Resume(ctx context.Context) error {
	if err := s.runner.Start(ctx); err != nil {
		return err
	}
	if err := s.deliverer.Start(ctx); err != nil {
		return err
	}
	if err := s.mailer.Start(ctx); err != nil {
		return err
	}
	return s.processor.Start(ctx)
}

// Forget drops what the API remembers of the database's content (context
// graph versions, tool version files), for when the content was replaced:
// those records never change in place, but after a restore to a state
// without, say, version 2 of a context graph, a new version 2 can be made
// with other content.
func (s *Server) Forget() {
	s.engine.Forget()
	if s.tools != nil {
		s.tools.Forget()
	}
}

// New builds the API from cfg.
func New(cfg Config) (*Server, error) {
	if cfg.Store == nil || cfg.Tokens == nil || cfg.Sealer == nil || cfg.SignInLinks == nil || cfg.Mail == nil {
		return nil, fmt.Errorf("httpapi: store, tokens, sealer, sign-in links and mail are required")
	}
	s := &Server{
		store:   cfg.Store,
		tokens:  cfg.Tokens,
		sealer:  cfg.Sealer,
		log:     cfg.Logger,
		clock:   cfg.Clock,
		version: cfg.Version,
		sandbox: cfg.Sandbox,
		tools:   cfg.Tools,

		bodyTimeout: cfg.BodyTimeout,
		sqlTimeout:  cfg.SQLTimeout,
	}
	if s.sqlTimeout <= 0 {
		s.sqlTimeout = DefaultSQLTimeout
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.clock == nil {
		s.clock = clock.New(nil)
	}
	s.now = s.clock.Now
	s.limits = newRateLimiter(cfg.RateLimitScale, cfg.RateLimitBurstMinutes, s.now)
	s.model = cfg.Model
	if s.model == nil {
		s.model = llm.Builtin{}
	}
	s.models = llm.NewRegistry(s.model, llm.RegistryConfig{Log: s.log, Now: s.now})
	s.transcriber, s.synthesizer = cfg.Transcriber, cfg.Synthesizer
	if s.transcriber == nil {
		s.transcriber = voice.Builtin{}
	}
	ecfg := engine.Config{Store: s.store, Model: s.model, Now: s.now, Synthesizer: s.synthesizer}
	if cfg.Tools != nil {
		ecfg.Tools = cfg.Tools
	}
	s.engine = engine.New(ecfg)
	s.runner = simulate.New(simulate.Config{Store: s.store, Engine: s.engine, Model: s.model, Clock: s.clock, Log: s.log,
		Workers: cfg.SimulationWorkers})
	s.processor = postprocess.New(postprocess.Config{Store: s.store, Engine: s.engine, Model: s.model, Clock: s.clock,
		Log: s.log})
	s.webhookPolicy = cfg.WebhookPolicy
	s.deliverer = webhook.New(webhook.Config{Store: s.store, Sealer: s.sealer, Policy: cfg.WebhookPolicy,
		Scale: cfg.WebhookRetryScale, Clock: s.clock, Log: s.log})
	s.signInLinks, s.redirects = cfg.SignInLinks, cfg.SignInRedirects
	s.mailer = mail.NewSender(mail.SenderConfig{Store: s.store, Links: s.signInLinks, Transport: cfg.Mail,
		Clock: s.clock, Log: s.log})
	s.keyHashCost, s.decoyHash = cfg.KeyHashCost, cfg.KeyHashCost.Decoy()
	doc, err := loadedAPIDocument()
	if err != nil {
		return nil, err
	}
	s.doc = doc
	s.registry = prometheus.NewRegistry()
	s.registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	s.metrics = newHTTPMetrics(s.registry)

	router := mux.NewRouter()
	router.NotFoundHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusNotFound, map[string]string{"detail": "Not Found"})
	})
	routes := s.routes()
	if cfg.ControlAPI {
		s.control = newControlPlane(cfg.RequestLogSize, routes)
		s.docJSON = s.doc.json
	} else {
		routes = slices.DeleteFunc(routes, func(rt route) bool { return rt.auth == authControl })
		if s.docJSON, err = publicDocument(); err != nil {
			return nil, err
		}
	}
	var methods []string
	for _, rt := range routes {
		if !slices.Contains(methods, rt.method) {
			methods = append(methods, rt.method)
		}
	}
	slices.Sort(methods)
	specific := specificPaths(routes)
	// RFC 9110 requires a 405 to list the methods the path does serve.
	router.MethodNotAllowedHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var allow []string
		for _, m := range methods {
			probe := r.Clone(r.Context())
			probe.Method = m
			var match mux.RouteMatch
			if router.Match(probe, &match) && match.MatchErr == nil {
				allow = append(allow, m)
			}
		}
		w.Header().Set("Allow", strings.Join(allow, ", "))
		writeJSON(w, http.StatusMethodNotAllowed, map[string]string{"detail": "Method Not Allowed"})
	})
	for _, rt := range routes {
		op, err := s.doc.operation(rt.op)
		if err != nil {
			return nil, err
		}
		if op.method != rt.method || op.path != rt.path {
			return nil, fmt.Errorf("httpapi: route %s %s is documented as %s %s", rt.method, rt.path, op.method, op.path)
		}
		// mostSpecific comes first: a path that matched clears an earlier
		// route's method mismatch, which would turn the 405 into a 404.
		router.NewRoute().MatcherFunc(mostSpecific(specific, rt.path)).Path(rt.path).Methods(rt.method).
			Handler(s.pipeline(rt, op)).Name(rt.op)
	}
	if !cfg.NoConsole {
		s.firstStart = cfg.FirstStart
		if err := s.mountConsole(router); err != nil {
			return nil, err
		}
	}
	s.handler = s.outer(router)
	return s, nil
}

// ServeHTTP serves the API.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

// specificPaths is a router that, for a request path, names the route
// template with the fewest variables that matches it.
func specificPaths(routes []route) *mux.Router {
	var templates []string
	for _, rt := range routes {
		if !slices.Contains(templates, rt.path) {
			templates = append(templates, rt.path)
		}
	}
	slices.SortStableFunc(templates, func(a, b string) int { return strings.Count(a, "{") - strings.Count(b, "{") })
	r := mux.NewRouter()
	for _, t := range templates {
		r.NewRoute().Path(t).Name(t)
	}
	return r
}

// mostSpecific matches a request only if template is the most specific
// template for its path: POST /tool/amigo_tool_scaffold.tar.gz is a 405 for
// the scaffold's path, which has only GET, and not modify-tool on a tool
// with that ID.
//
// The most specific template is found once per request and kept on its
// state: every route's matcher asks, and matching the path against every
// template once per route tried was a tenth of a request's work.
func mostSpecific(specific *mux.Router, template string) mux.MatcherFunc {
	return func(r *http.Request, _ *mux.RouteMatch) bool {
		st := state(r.Context())
		if !st.specificKnown {
			var m mux.RouteMatch
			if specific.Match(r, &m) && m.Route != nil {
				st.specific = m.Route.GetName()
			}
			st.specificKnown = true
		}
		return st.specific == "" || st.specific == template
	}
}
