// Package compadretest runs a real Compadre server inside a test: a
// temporary data directory, a fresh organization with an administrator and
// an API key, rate limits off, store durability normal, on a loopback port,
// stopped when the test ends.
//
//	func TestMyClient(t *testing.T) {
//		srv := compadretest.Start(t)
//		client := myclient.New(srv.BaseURL, srv.Organization, srv.APIKeyID, srv.APIKey, srv.UserID)
//		...
//	}
//
// Mail the server sends (the links of sign-in-with-email) goes to its local
// sink, files in <DataDir>/mail, which a test reads back: srv.Mail lists the
// messages, srv.WaitMail waits for them (the server sends mail in the
// background, shortly after the request), srv.SignInLinks gives the links
// mailed to an address, and srv.SignInByEmail signs a user in through the
// whole flow. WithMail sends through a transport of the test's instead,
// such as an SMTP server it runs; ParseMail reads what that receives.
//
// The server's time is a clock the test moves forward rather than waits
// for: srv.Advance(t, 15*time.Minute) expires a sign-in link, a token or a
// temporary grant, refills a rate limit, brings a webhook retry due or
// takes records past their retention, at once and without sleeping.
// srv.Now is the server's time; WithClock sets the time it starts from.
//
//	srv := compadretest.Start(t)
//	token := srv.SignIn(t)
//	srv.Advance(t, time.Hour) // the token's hour is up: it is now refused with 401
//
// A suite that needs the same records in many tests seeds them once and
// puts them back before each test: srv.Snapshot saves the server's whole
// state (database and tool repository), srv.Restore puts it back in a few
// milliseconds, and srv.Reset takes the server back to its first start,
// keeping its credentials valid.
//
//	func TestOrders(t *testing.T) {
//		srv := compadretest.Start(t)
//		seed(t, srv) // services, users, tools...
//		seeded := srv.Snapshot(t)
//		for _, tc := range cases {
//			t.Run(tc.name, func(t *testing.T) {
//				srv.Restore(t, seeded)
//				...
//			})
//		}
//	}
//
// The control API is on: a test injects faults into the server's answers
// and reads back what its client sent, to test retries, timeouts and
// error handling against the real API's shapes.
//
//	id := srv.Inject(t, compadretest.Rule{Operation: "get-users", Status: 503, Count: 2})
//	... // the client retries past two 503s
//	for _, req := range srv.Requests(t) {
//		... // req.Operation, req.Status, req.RequestBody, req.Fault
//	}
//
// Inject puts a fault rule in force (a status with the body the server
// gives for it, latency, a dropped connection or a stream cut after N
// events, with a probability and a count); Faults lists the rules with how
// often each applied, DeleteFault and ClearFaults take them out of force.
// Requests returns the request log, the last 1,000 requests with their
// secrets redacted; ClearRequests empties it. The same calls are served
// over HTTP under /_compadre/ to the administrator's token (README.md,
// "Control API (for tests)"), and one request can ask for a fault of its
// own with the X-Compadre-Fault header. WithControlAPI(false) starts a
// server without any of it, as `compadre serve` runs by default.
package compadretest

import (
	"context"
	"encoding/json"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/compadre-dev/compadre/app"
	"github.com/compadre-dev/compadre/llm"
	"github.com/compadre-dev/compadre/mail"
	"github.com/compadre-dev/compadre/store"
	"github.com/compadre-dev/compadre/tools"
	"github.com/compadre-dev/compadre/voice"
	"github.com/compadre-dev/compadre/webhook"
)

// Server is a running server and the credentials of its administrator.
type Server struct {
	app.Credentials
	// DataDir is the server's data directory (removed after the test).
	DataDir string
	// ToolsRepo is the bare git repository tools are published from:
	// push a tool project to releases/<Organization> and publish it.
	ToolsRepo string

	app  *app.App
	stop func()
	// sink is the local mail sink, nil when started WithMail.
	sink *sink
	// snapshots numbers the snapshots Snapshot takes.
	snapshots atomic.Int64
}

// Option changes how Start configures the server.
type Option func(*app.Config)

// WithSimulationWorkers sets how many simulated conversations run at once
// (default half the processors, at least one).
func WithSimulationWorkers(n int) Option { return func(c *app.Config) { c.SimulationWorkers = n } }

// WithWebhookPolicy sets which webhook destinations may be saved and
// reached (default: loopback allowed, over http too), and scales the retry
// schedule (5, 10, 20, 20 s) by retryScale so a test need not wait it out.
func WithWebhookPolicy(p webhook.Policy, retryScale float64) Option {
	return func(c *app.Config) { c.WebhookPolicy, c.WebhookRetryScale = p, retryScale }
}

// WithDataDir starts the server on an existing data directory, such as
// the DataDir of a stopped Server, keeping its database, tool repository
// and credentials: a restart. The directory is not removed afterwards
// unless it is a test's temporary directory.
func WithDataDir(dir string) Option { return func(c *app.Config) { c.DataDir = dir } }

// WithOrganization names the organization created at start (default "local").
func WithOrganization(id string) Option { return func(c *app.Config) { c.Org = id } }

// WithRateLimits turns on the hosted API's rate limits, multiplied by scale.
func WithRateLimits(scale float64) Option { return func(c *app.Config) { c.RateLimitScale = scale } }

// WithSandbox starts the Python sandbox, so tools can be published and
// invoked, and makes Start wait until it runs. The compiled interpreter is
// cached in the user's cache directory (compadre-test/wazero), so only the
// first test on a machine pays for compiling it (tens of seconds).
func WithSandbox() Option {
	return func(c *app.Config) {
		c.Sandbox = true
		if base, err := os.UserCacheDir(); err == nil {
			c.SandboxCacheDir = filepath.Join(base, "compadre-test", "wazero")
		}
	}
}

// WithModel answers the conversation engine with p instead of the
// built-in model: an OpenAI-compatible server the test runs, say.
func WithModel(p llm.Provider) Option { return func(c *app.Config) { c.Model = p } }

// WithSynthesizer speaks voice replies with p: an OpenAI-compatible speech
// server the test runs, say. Without it voice replies are refused.
func WithSynthesizer(p voice.Synthesizer) Option { return func(c *app.Config) { c.Synthesizer = p } }

// WithLogger sends the server's logs, the access log among them, to l.
func WithLogger(l *slog.Logger) Option { return func(c *app.Config) { c.Logger = l } }

// WithTeamBranch sets the branch template repo "team" publishes from
// (default releases/{org}).
func WithTeamBranch(template string) Option { return func(c *app.Config) { c.TeamBranch = template } }

// migratedDatabase is an empty database with every migration applied, made
// once per process: copying it into a test's data directory takes a
// fraction of the time migrating a new file does. It depends only on the
// embedded migrations and is never changed. See DECISIONS.md, "Why is the
// OpenAPI document compiled once per process?".
var migratedDatabase = sync.OnceValues(func() ([]byte, error) {
	dir, err := os.MkdirTemp("", "compadretest")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, app.DatabaseFile)
	st, err := store.Open(context.Background(), path)
	if err != nil {
		return nil, err
	}
	// Closing the last connection checkpoints the WAL into the file, so
	// the file alone is the whole database.
	if err := st.Close(); err != nil {
		return nil, err
	}
	return os.ReadFile(path)
})

// Start starts a server for the test and stops it when the test ends.
func Start(t testing.TB, opts ...Option) *Server {
	t.Helper()
	// A test's data dies with it, so syncing every commit against a power
	// loss would only slow the suite down. Keys hashed at the fixture cost
	// sign in in microseconds instead of tens of milliseconds; their hashes
	// still verify like any other.
	// Webhook receivers in tests listen on loopback, usually over plain
	// http; WithWebhookPolicy narrows that.
	// The control API is on, for Inject and Requests.
	cfg := app.Config{Durability: store.DurabilityNormal, CheapKeyHashes: true,
		WebhookPolicy: webhook.Policy{Loopback: true}, ControlAPI: true}
	for _, o := range opts {
		o(&cfg)
	}
	dir := cfg.DataDir
	if dir == "" {
		dir = t.TempDir()
		cfg.DataDir = dir
		db, err := migratedDatabase()
		if err == nil {
			err = os.WriteFile(filepath.Join(dir, app.DatabaseFile), db, 0o600)
		}
		if err != nil {
			t.Fatalf("compadretest: database: %v", err)
		}
	}
	var mailSink *sink
	if cfg.Mail == nil {
		d, err := mail.NewDir(filepath.Join(dir, app.MailDir), cfg.Logger)
		if err != nil {
			t.Fatalf("compadretest: mail: %v", err)
		}
		mailSink = &sink{Dir: d, arrived: make(chan struct{}, 1)}
		cfg.Mail = mailSink
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("compadretest: listen: %v", err)
	}
	baseURL := "http://" + l.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	a, err := app.Open(ctx, cfg, baseURL)
	if err != nil {
		cancel()
		l.Close()
		t.Fatalf("compadretest: start: %v", err)
	}
	creds, err := app.ReadCredentials(dir)
	if err != nil {
		cancel()
		l.Close()
		t.Fatalf("compadretest: credentials: %v", err)
	}
	if cfg.Sandbox {
		wctx, wcancel := context.WithTimeout(ctx, 10*time.Minute)
		err := a.WaitSandbox(wctx)
		wcancel()
		if err != nil {
			cancel()
			l.Close()
			a.Close()
			t.Fatalf("compadretest: sandbox: %v", err)
		}
	}
	done := make(chan error, 1)
	go func() { done <- a.Serve(ctx, l, 5*time.Second) }()
	stop := sync.OnceFunc(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("compadretest: stop: %v", err)
		}
	})
	t.Cleanup(stop)
	repo := cfg.ToolsRepo
	if repo == "" {
		repo = filepath.Join(dir, app.ToolsRepoDir)
	}
	return &Server{Credentials: creds, DataDir: dir, ToolsRepo: repo, app: a, stop: stop, sink: mailSink}
}

// Stop stops the server now, as a shutdown would, rather than when the
// test ends. With WithDataDir, a second Start then plays a restart.
func (s *Server) Stop() { s.stop() }

// NewAPIKey mints a key for a user of any organization on the server, as
// `compadre admin create-api-key` does, and returns that user's credentials.
// It is how a test acts in an organization it made with create-organization.
// userID "" picks the organization's first user.
func (s *Server) NewAPIKey(t testing.TB, org, userID string) app.Credentials {
	t.Helper()
	ctx := context.Background()
	if userID == "" {
		users, _, err := s.app.Store.ListUsers(ctx, org, store.UserFilter{Limit: 1})
		if err != nil || len(users) == 0 {
			t.Fatalf("compadretest: no user in organization %s: %v", org, err)
		}
		userID = users[0].ID
	}
	creds, err := s.app.MintAPIKey(ctx, org, userID, "", "compadretest", s.Now().AddDate(1, 0, 0))
	if err != nil {
		t.Fatalf("compadretest: new API key: %v", err)
	}
	creds.BaseURL = s.BaseURL
	return creds
}

// Store is the server's store, for tests that set up records no API
// operation writes yet (a conversation's messages, dynamic behavior
// invocations), as the conversation engine would.
func (s *Server) Store() *store.Store { return s.app.Store }

// Tools is the server's tool service, for tests that run a conversation
// engine of their own over the server's store and sandbox (a simulated
// conversation, say).
func (s *Server) Tools() *tools.Service { return s.app.Tools }

// SignIn signs the user of c in with its API key, as the official SDKs do,
// and returns the bearer token to send as "Authorization: Bearer <token>".
func SignIn(tb testing.TB, c app.Credentials) string {
	tb.Helper()
	req, err := http.NewRequest("POST", c.BaseURL+"/v1/"+c.Organization+"/user/signin_with_api_key", nil)
	if err != nil {
		tb.Fatalf("compadretest: sign in: %v", err)
	}
	req.Header.Set("x-api-key", c.APIKey)
	req.Header.Set("x-api-key-id", c.APIKeyID)
	req.Header.Set("x-user-id", c.UserID)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatalf("compadretest: sign in: %v", err)
	}
	defer resp.Body.Close()
	var tok struct {
		IDToken string `json:"id_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&tok); err != nil || resp.StatusCode != http.StatusOK || tok.IDToken == "" {
		tb.Fatalf("compadretest: sign in: status %d, %v; want 200 and a token", resp.StatusCode, err)
	}
	return tok.IDToken
}

// SignIn signs the server's administrator in and returns its bearer token.
func (s *Server) SignIn(tb testing.TB) string {
	tb.Helper()
	return SignIn(tb, s.Credentials)
}
