// Package app turns a data directory and a configuration into a running
// Compadre: keys, database, first start, the API, and a graceful stop. The
// command line and the test fixture both start the server through it.
//
// # Snapshots and reset
//
// An App saves and puts back its whole state, for test suites that seed
// once and start every test from the seed, and for a control API:
//
//   - Snapshot(ctx, name) saves the database and the tool repository's
//     refs under <data>/snapshots/<name>/, replacing a snapshot of that
//     name; requests go on meanwhile.
//   - Restore(ctx, name) puts a snapshot back; Snapshots(ctx) lists them;
//     DeleteSnapshot(ctx, name) deletes one.
//   - Reset(ctx, org) takes an organization back to its first state,
//     keeping every API key working; org "" does so for the organization
//     of the first start and deletes every other.
//
// Names are 1 to 64 letters, digits, '-' and '_' (CheckSnapshotName);
// errors are ErrSnapshotName, ErrSnapshotNotFound, ErrRequestsInFlight,
// ErrInsideRequest and, for Reset, a *store.NotFoundError (errors.Is
// store.ErrNotFound).
//
// Restore and Reset are atomic for clients. Every /v1/ request passes a
// gate (Handler, which Serve serves) and holds it until its answer is
// written, streamed answers included. Restore and Reset close the gate:
// requests in flight finish on the old state, requests arriving wait and
// then run on the new one, and the background workers (simulation runs,
// post-processing, webhook deliveries, mail, the retention sweeper) are
// stopped meanwhile and started again after. If requests are still in
// flight after DrainTimeout (or when ctx ends), the call fails with
// ErrRequestsInFlight and changes nothing. The four operations run one at
// a time. Call them from outside a /v1/ request (a control API on another
// path, which the gate lets through): from inside one they would wait for
// themselves, and fail with ErrInsideRequest instead.
package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/compadre-dev/compadre/auth"
	"github.com/compadre-dev/compadre/clock"
	httpapi "github.com/compadre-dev/compadre/http"
	"github.com/compadre-dev/compadre/llm"
	"github.com/compadre-dev/compadre/mail"
	"github.com/compadre-dev/compadre/store"
	"github.com/compadre-dev/compadre/tools"
	"github.com/compadre-dev/compadre/voice"
	"github.com/compadre-dev/compadre/wasmrt"
	"github.com/compadre-dev/compadre/webhook"
	"golang.org/x/net/netutil"
)

// Version is the server's version, reported by /readyz and `compadre version`.
const Version = "0.1.0"

// Config is everything a server needs. The zero value of each field but
// DataDir means its default.
type Config struct {
	DataDir string
	// Org is the organization created at first start.
	Org string
	// RateLimitScale multiplies the hosted API's rate limits; 0 turns them off.
	RateLimitScale float64
	// RateLimitBurstMinutes is how many minutes' worth of requests a rate
	// limit admits at once; below 1 means one (the documented figures).
	RateLimitBurstMinutes float64
	// Model answers the conversation engine; nil means the built-in model.
	Model llm.Provider
	// Transcriber and Synthesizer are the voice providers; nil means the
	// built-in transcriber and no synthesizer.
	Transcriber voice.Transcriber
	Synthesizer voice.Synthesizer
	// SimulationWorkers is how many simulated conversations run at once;
	// 0 means the default.
	SimulationWorkers int
	// WebhookPolicy says which webhook destinations may be saved and
	// reached; WebhookRetryScale multiplies the retry schedule (0 means 1).
	WebhookPolicy     webhook.Policy
	WebhookRetryScale float64
	// TokenTTL is how long a signed-in token lives.
	TokenTTL time.Duration
	Logger   *slog.Logger
	// Now is the base of the server's clock; nil means time.Now. The
	// server reads it through App.Clock, which can move ahead of it.
	Now func() time.Time
	// Retention is how long tool invocation records are kept; 0 means
	// DefaultRetention, and a negative value keeps them for ever.
	Retention time.Duration
	// Stdout receives the first start's one-time printout of the credentials.
	Stdout io.Writer
	// Sandbox starts the Python sandbox with the server. Off, tools cannot
	// run; test fixtures that need no tools leave it off and start faster.
	Sandbox bool
	// SandboxLimits are the default limits of a tool run; zero fields mean
	// wasmrt's defaults.
	SandboxLimits wasmrt.Limits
	// SandboxWait is how long a request that needs the sandbox waits for
	// it to finish starting before a 503; 0 means DefaultSandboxWait.
	SandboxWait time.Duration
	// SandboxCacheDir keeps the compiled interpreter between starts;
	// empty means <data>/cache/wazero. Test fixtures share one.
	SandboxCacheDir string
	// ToolsRepo is the git repository tools are published from; empty
	// means <data>/tools.git, created bare at first start.
	ToolsRepo string
	// TeamBranch is the branch repo "team" publishes from, with {org}
	// standing for the organization's ID; empty means releases/{org}.
	TeamBranch string
	// Durability is how hard a commit tries to survive a power loss;
	// empty means store.DurabilityFull.
	Durability store.Durability
	// IdleTimeout closes a keep-alive connection that has waited this long
	// for its next request; 0 means DefaultIdleTimeout.
	IdleTimeout time.Duration
	// BodyTimeout is how long a request's body may take to arrive, counted
	// from the end of its headers; 0 means DefaultBodyTimeout. A body still
	// arriving then is answered 408 and its connection closed.
	BodyTimeout time.Duration
	// MaxConns caps the connections open at once; further clients wait to
	// be accepted. 0 means DefaultMaxConns.
	MaxConns int
	// Mail delivers the mail of sign-in links; nil means the local sink, a
	// file per message in <data>/mail and a log line.
	Mail mail.Transport
	// SignInRedirects are the origins, besides the server's own and
	// loopback ones, that sign-in links may lead to, such as
	// "https://app.example.com".
	SignInRedirects []string
	// SQLTimeout is how long a submit-sql-query query may run; 0 means
	// httpapi.DefaultSQLTimeout (30 s). No flag sets it: tests shorten it.
	SQLTimeout time.Duration
	// ControlAPI serves the control API (/_compadre/: fault rules and the
	// request log) to super administrators, and honours X-Compadre-Fault.
	ControlAPI bool
	// RequestLogSize is how many requests the request log keeps when the
	// control API is on; 0 means httpapi.DefaultRequestLogSize, and a
	// negative value keeps none.
	RequestLogSize int
	// NoConsole leaves the web console out of the server.
	NoConsole bool

	// openSandbox opens the sandbox; nil means OpenSandbox. Tests set it
	// to hold the sandbox in its starting state.
	openSandbox openSandboxFunc
	// CheapKeyHashes hashes new API keys' secrets at argon2id's smallest
	// cost (auth.FixtureHashCost). No flag sets it: only test fixtures do.
	// See DECISIONS.md, "Why may test servers hash keys cheaply?".
	CheapKeyHashes bool
}

// keyHashCost is the argon2id cost of the keys this server mints.
func (c Config) keyHashCost() auth.HashCost {
	if c.CheapKeyHashes {
		return auth.FixtureHashCost
	}
	return auth.StandardHashCost
}

// requestLogSize is how many requests the API's request log keeps.
func (c Config) requestLogSize() int {
	switch {
	case !c.ControlAPI || c.RequestLogSize < 0:
		return 0
	case c.RequestLogSize == 0:
		return httpapi.DefaultRequestLogSize
	}
	return c.RequestLogSize
}

// Defaults of the connection limits. See DECISIONS.md, "Why these
// connection limits?".
const (
	DefaultIdleTimeout = 2 * time.Minute
	DefaultBodyTimeout = time.Minute
	DefaultMaxConns    = 4096
	// headerTimeout bounds how long a request's headers may take.
	headerTimeout = 10 * time.Second
)

// Credentials are what a client needs to sign in: the contents of
// <data>/credentials.json.
type Credentials struct {
	BaseURL      string `json:"base_url"`
	Organization string `json:"organization"`
	UserID       string `json:"user_id"`
	APIKeyID     string `json:"api_key_id"`
	APIKey       string `json:"api_key"`
}

// App is an opened data directory with the API built over it.
type App struct {
	cfg   Config
	Store *store.Store
	API   *httpapi.Server
	// Tools publishes and runs tools; the API answers with it.
	Tools *tools.Service
	log   *slog.Logger
	// sandbox is nil unless Config.Sandbox.
	sandbox *sandbox
	// stopSweep stops the retention sweeper and waits for it.
	stopSweep func()
	// clock is the time every part of the server reads.
	clock *clock.Clock
	// gate holds requests back while the state is restored or reset;
	// admin runs the snapshot operations one at a time.
	gate  *gate
	admin sync.Mutex
	// repo is the tool repository, whose refs snapshots keep.
	repo *tools.Repo
}

// File names inside the data directory.
const (
	DatabaseFile    = "compadre.db"
	CredentialsFile = "credentials.json"
	signingKeyFile  = "token-signing.key"
	sealingKeyFile  = "secrets.key"
	// MailDir is the local mail sink's directory.
	MailDir = "mail"
)

// Open prepares the data directory (creating it and, on first start, the
// organization, administrator and API key) and builds the API. baseURL is
// where the API will be reachable; it is written into credentials.json.
func Open(ctx context.Context, cfg Config, baseURL string) (*App, error) {
	if cfg.DataDir == "" {
		return nil, errors.New("app: a data directory is required")
	}
	// Loading the API's document needs nothing from the data directory,
	// so it runs beside the rest.
	go httpapi.LoadDocument()
	if cfg.Org == "" {
		cfg.Org = "local"
	}
	if cfg.TokenTTL <= 0 {
		cfg.TokenTTL = time.Hour
	}
	// Everything reads the one clock, so moving it moves the whole
	// server's time. See DECISIONS.md, "How does the server's clock move
	// forward?".
	clk := clock.New(cfg.Now)
	cfg.Now = clk.Now
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Stdout == nil {
		cfg.Stdout = io.Discard
	}
	if cfg.Durability == "" {
		cfg.Durability = store.DurabilityFull
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = DefaultIdleTimeout
	}
	if cfg.BodyTimeout <= 0 {
		cfg.BodyTimeout = DefaultBodyTimeout
	}
	if cfg.MaxConns <= 0 {
		cfg.MaxConns = DefaultMaxConns
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("app: data directory: %w", err)
	}
	signing, err := auth.LoadOrCreateKey(filepath.Join(cfg.DataDir, signingKeyFile), 32)
	if err != nil {
		return nil, err
	}
	sealing, err := auth.LoadOrCreateKey(filepath.Join(cfg.DataDir, sealingKeyFile), 32)
	if err != nil {
		return nil, err
	}
	sealer, err := auth.NewSealer(sealing)
	if err != nil {
		return nil, err
	}
	st, err := store.Open(ctx, filepath.Join(cfg.DataDir, DatabaseFile), store.WithClock(cfg.Now),
		store.WithDurability(cfg.Durability))
	if err != nil {
		return nil, err
	}
	a := &App{cfg: cfg, Store: st, log: cfg.Logger, clock: clk, gate: &gate{}}
	if err := a.firstStart(ctx, baseURL); err != nil {
		st.Close()
		return nil, err
	}
	origins, err := mail.ParseOrigins(strings.Join(cfg.SignInRedirects, ","))
	if err != nil {
		a.Close()
		return nil, fmt.Errorf("app: sign-in redirects: %w", err)
	}
	transport := cfg.Mail
	if transport == nil {
		if transport, err = mail.NewDir(filepath.Join(cfg.DataDir, MailDir), cfg.Logger); err != nil {
			a.Close()
			return nil, err
		}
	}
	apiCfg := httpapi.Config{
		Store: st, Tokens: auth.NewTokens(signing, cfg.TokenTTL, cfg.Now), Sealer: sealer, Logger: cfg.Logger,
		RateLimitScale: cfg.RateLimitScale, RateLimitBurstMinutes: cfg.RateLimitBurstMinutes, Clock: clk, Version: Version, BodyTimeout: cfg.BodyTimeout,
		KeyHashCost: cfg.keyHashCost(), Model: cfg.Model, Transcriber: cfg.Transcriber, Synthesizer: cfg.Synthesizer,
		SimulationWorkers: cfg.SimulationWorkers, WebhookPolicy: cfg.WebhookPolicy, WebhookRetryScale: cfg.WebhookRetryScale,
		SignInLinks: auth.NewSignInLinks(signing), Mail: transport,
		SignInRedirects: mail.RedirectPolicy{Base: baseURL, Origins: origins},
		SQLTimeout:      cfg.SQLTimeout,
		ControlAPI:      cfg.ControlAPI,
		RequestLogSize:  cfg.requestLogSize(),
		NoConsole:       cfg.NoConsole,
		FirstStart:      a.firstStartCredentials,
	}
	if cfg.Sandbox {
		cacheDir := cfg.SandboxCacheDir
		if cacheDir == "" {
			cacheDir = filepath.Join(cfg.DataDir, SandboxCacheDir)
		}
		open := cfg.openSandbox
		if open == nil {
			open = openSandbox
		}
		wait := cfg.SandboxWait
		if wait <= 0 {
			wait = DefaultSandboxWait
		}
		a.sandbox = startSandbox(open, cacheDir, cfg.SandboxLimits, wait, cfg.Logger)
		apiCfg.Sandbox = a.sandbox.status
	}
	if a.Tools, err = a.openTools(cfg, sealer); err != nil {
		a.Close()
		return nil, err
	}
	apiCfg.Tools = a.Tools
	a.API, err = httpapi.New(apiCfg)
	if err != nil {
		a.Close()
		return nil, err
	}
	a.API.SetStateControl(controlState{a})
	if err := a.API.Start(ctx); err != nil {
		a.Close()
		return nil, err
	}
	a.startSweeper()
	return a, nil
}

// Clock is the server's time. Advancing it moves every expiry, refill,
// retry and retention forward at once and wakes the background work
// waiting on them.
func (a *App) Clock() *clock.Clock { return a.clock }

// firstStart creates the organization, an administrator holding every
// permission and an API key, prints the key once and saves credentials.json.
// On later starts it only brings base_url in credentials.json up to date.
func (a *App) firstStart(ctx context.Context, baseURL string) error {
	path := filepath.Join(a.cfg.DataDir, CredentialsFile)
	org, err := a.Store.BootstrappedOrg(ctx)
	if err == nil {
		a.log.InfoContext(ctx, "using existing data", "data", a.cfg.DataDir, "organization", org)
		return refreshBaseURL(path, baseURL)
	}
	if !errors.Is(err, store.ErrNotFound) {
		return err
	}
	keyID, secret := auth.NewAPIKey()
	hash, err := a.cfg.keyHashCost().Hash(secret)
	if err != nil {
		return err
	}
	var creds Credentials
	err = a.Store.Bootstrap(ctx, store.NewOrganization{
		Org:   firstOrganization(a.cfg.Org),
		Roles: auth.BuiltinRoles(),
		Admin: store.User{FirstName: "Admin", LastName: "User", Email: "admin@example.com",
			Preferences: store.DefaultPreferences()},
		AdminRole: auth.DefaultSuperAdministratorRole,
	}, store.APIKey{KeyID: keyID, SecretHash: hash, Name: ptr("bootstrap"), ExpiresAt: a.cfg.Now().AddDate(100, 0, 0)},
		func(org store.Organization, admin store.User, key store.APIKey) error {
			creds = Credentials{BaseURL: baseURL, Organization: org.ID, UserID: admin.ID, APIKeyID: key.KeyID, APIKey: secret}
			return writeCredentials(path, creds)
		})
	if err != nil {
		return fmt.Errorf("app: first start: %w", err)
	}
	fmt.Fprintf(a.cfg.Stdout, `Compadre created organization %q with an administrator and an API key.
The API key is shown only this once; it is also saved in %s (mode 0600).
  organization: %s
  user_id:      %s
  api_key_id:   %s
  api_key:      %s
`, creds.Organization, path, creds.Organization, creds.UserID, creds.APIKeyID, creds.APIKey)
	return nil
}

// firstOrganization is the organization first start creates, as Reset
// brings it back.
func firstOrganization(id string) store.Organization {
	return store.Organization{ID: id, Name: id, DefaultUserPreferences: store.DefaultPreferences()}
}

func ptr[T any](v T) *T { return &v }

func writeCredentials(path string, c Credentials) error {
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return err
	}
	return auth.WriteFileAtomic(path, append(b, '\n'), 0o600)
}

// firstStartCredentials reads credentials.json for the console, each time,
// so a file deleted or replaced by its owner is honoured at once.
func (a *App) firstStartCredentials() (httpapi.FirstStart, bool) {
	c, err := ReadCredentials(a.cfg.DataDir)
	if err != nil || c.APIKey == "" {
		return httpapi.FirstStart{}, false
	}
	return httpapi.FirstStart{Organization: c.Organization, UserID: c.UserID, APIKeyID: c.APIKeyID, APIKey: c.APIKey}, true
}

// ReadCredentials reads a data directory's credentials.json.
func ReadCredentials(dataDir string) (Credentials, error) {
	var c Credentials
	b, err := os.ReadFile(filepath.Join(dataDir, CredentialsFile))
	if err != nil {
		return c, err
	}
	return c, json.Unmarshal(b, &c)
}

func refreshBaseURL(path, baseURL string) error {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	var c Credentials
	if err := json.Unmarshal(b, &c); err != nil || c.BaseURL == baseURL {
		return nil
	}
	c.BaseURL = baseURL
	return writeCredentials(path, c)
}

// Serve serves the API on l until ctx is done, then stops accepting, lets
// in-flight requests finish (up to grace) and closes the database.
//
// Connections are bounded so that no client can hoard them: headers must
// arrive within headerTimeout, a body within Config.BodyTimeout (set per
// request by the API, so that a streamed answer is never cut), an idle
// keep-alive connection is closed after Config.IdleTimeout, and at most
// Config.MaxConns are open at once. There is deliberately no WriteTimeout:
// it would cut streamed answers.
func (a *App) Serve(ctx context.Context, l net.Listener, grace time.Duration) error {
	l = netutil.LimitListener(l, a.cfg.MaxConns)
	srv := &http.Server{
		Handler:           a.Handler(),
		ReadHeaderTimeout: headerTimeout,
		IdleTimeout:       a.cfg.IdleTimeout,
		ErrorLog:          slog.NewLogLogger(a.log.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(l) }()
	var serveErr error
	select {
	case serveErr = <-errc:
	case <-ctx.Done():
		a.log.Info("shutting down")
		sctx, cancel := context.WithTimeout(context.Background(), grace)
		serveErr = srv.Shutdown(sctx)
		cancel()
		<-errc
	}
	if errors.Is(serveErr, http.ErrServerClosed) {
		serveErr = nil
	}
	return errors.Join(serveErr, a.Close())
}

// Handler is the API as Serve serves it: every /v1/ request passes the
// gate that Restore and Reset close.
func (a *App) Handler() http.Handler { return a.gate.wrap(a.API) }

// Close stops the simulation runs, the sandbox and the retention sweeper
// and closes the database, after any snapshot operation under way. Serve
// calls it.
func (a *App) Close() error {
	a.admin.Lock()
	defer a.admin.Unlock()
	if a.API != nil {
		a.API.Close()
	}
	if a.stopSweep != nil {
		a.stopSweep()
	}
	var err error
	if a.sandbox != nil {
		err = a.sandbox.close()
	}
	return errors.Join(err, a.Store.Close())
}
