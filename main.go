// Command compadre serves the Amigo /v1 API from one SQLite file.
//
//	compadre [serve] [flags]   start the server (the default)
//	compadre admin create-api-key --user ID --name NAME [flags]
//	compadre bench sandbox [--data DIR] [--runs N] [--rounds N]
//	compadre version
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
	_ "time/tzdata" // time zones are checked against an embedded database, not the host's

	"github.com/compadre-dev/compadre/app"
	"github.com/compadre-dev/compadre/auth"
	assets "github.com/compadre-dev/compadre/embed"
	httpapi "github.com/compadre-dev/compadre/http"
	"github.com/compadre-dev/compadre/llm"
	"github.com/compadre-dev/compadre/mail"
	"github.com/compadre-dev/compadre/simulate"
	"github.com/compadre-dev/compadre/store"
	"github.com/compadre-dev/compadre/voice"
	"github.com/compadre-dev/compadre/wasmrt"
	"github.com/compadre-dev/compadre/webhook"
	"github.com/dustin/go-humanize"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "compadre:", err)
		os.Exit(1)
	}
}

// run is the whole program, callable from tests: args without the program
// name, the environment, and where to write.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cmd := "serve"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "serve":
		return serve(ctx, args, getenv, stdout, stderr)
	case "admin":
		if len(args) == 0 || args[0] != "create-api-key" {
			return errors.New("usage: compadre admin create-api-key --user ID --name NAME")
		}
		return createAPIKey(ctx, args[1:], getenv, stdout, stderr)
	case "version":
		fmt.Fprintln(stdout, "compadre", app.Version)
		if prov, err := assets.PythonProvenance(); err == nil {
			fmt.Fprintln(stdout, "python", prov.Interpreter())
		}
		return nil
	case "bench":
		if len(args) == 0 || args[0] != "sandbox" {
			return errors.New("usage: compadre bench sandbox [--data DIR] [--runs N] [--rounds N]")
		}
		return benchSandbox(ctx, args[1:], getenv, stdout, stderr)
	default:
		return fmt.Errorf("unknown command %q (want serve, admin, bench or version)", cmd)
	}
}

// env returns the COMPADRE_* variable for a flag, or def.
func env(getenv func(string) string, name, def string) string {
	if v := getenv("COMPADRE_" + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))); v != "" {
		return v
	}
	return def
}

type serveFlags struct {
	addr, data, org, rateLimits, logFormat, logLevel, tokenTTL   string
	sandbox, sandboxTimeout, sandboxMemory, sandboxWait          string
	toolsRepo, teamBranch, retention                             string
	durability, idleTimeout, bodyTimeout, maxConns               string
	llmProvider, llmURL, llmKey, llmModel, llmTimeout            string
	sttURL, sttKey, sttModel, ttsURL, ttsKey, ttsModel, ttsVoice string
	simulationWorkers                                            string
	webhookLoopback, webhookPrivate, webhookRetryScale           string
	smtpURL, signInRedirects                                     string
	controlAPI, requestLogSize, console                          string
}

func serve(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var f serveFlags
	fs.StringVar(&f.addr, "addr", env(getenv, "addr", "127.0.0.1:8080"), "listen address (COMPADRE_ADDR)")
	fs.StringVar(&f.data, "data", env(getenv, "data", "./compadre-data"), "data directory (COMPADRE_DATA)")
	fs.StringVar(&f.org, "org", env(getenv, "org", "local"), "organization created on first start (COMPADRE_ORG)")
	fs.StringVar(&f.rateLimits, "rate-limits", env(getenv, "rate-limits", "faithful"), "faithful (the hosted API's, with its burst allowance), strict (the documented per-minute figures exactly), off, or a multiplier of faithful such as 10x (COMPADRE_RATE_LIMITS)")
	fs.StringVar(&f.logFormat, "log-format", env(getenv, "log-format", "text"), "text or json (COMPADRE_LOG_FORMAT)")
	fs.StringVar(&f.logLevel, "log-level", env(getenv, "log-level", "info"), "debug, info, warn or error (COMPADRE_LOG_LEVEL)")
	fs.StringVar(&f.tokenTTL, "token-ttl", env(getenv, "token-ttl", "1h"), "lifetime of signed-in tokens (COMPADRE_TOKEN_TTL)")
	fs.StringVar(&f.sandbox, "sandbox", env(getenv, "sandbox", "on"), "on, or off to run without the Python sandbox (no tool runs; faster start) (COMPADRE_SANDBOX)")
	fs.StringVar(&f.sandboxTimeout, "sandbox-timeout", env(getenv, "sandbox-timeout", "30s"), "wall-clock limit of one tool run (COMPADRE_SANDBOX_TIMEOUT)")
	fs.StringVar(&f.sandboxMemory, "sandbox-memory", env(getenv, "sandbox-memory", "256MiB"), "memory limit of one tool run (COMPADRE_SANDBOX_MEMORY)")
	fs.StringVar(&f.sandboxWait, "sandbox-wait", env(getenv, "sandbox-wait", "60s"), "how long a request that runs a tool waits for a starting sandbox before a 503 (COMPADRE_SANDBOX_WAIT)")
	fs.StringVar(&f.retention, "retention", env(getenv, "retention", "30d"), "how long tool invocation records are kept: a duration such as 720h or 30d, or off to keep them for ever (COMPADRE_RETENTION)")
	fs.StringVar(&f.toolsRepo, "tools-repo", env(getenv, "tools-repo", ""), "git repository tools are published from (default <data>/tools.git, created bare) (COMPADRE_TOOLS_REPO)")
	fs.StringVar(&f.teamBranch, "team-branch", env(getenv, "team-branch", "releases/{org}"), "branch repo \"team\" publishes from; {org} is the organization ID (COMPADRE_TEAM_BRANCH)")
	fs.StringVar(&f.durability, "durability", env(getenv, "durability", "full"), "full, or normal to risk the last commits on a power loss for faster writes (COMPADRE_DURABILITY)")
	fs.StringVar(&f.idleTimeout, "idle-timeout", env(getenv, "idle-timeout", app.DefaultIdleTimeout.String()), "close a keep-alive connection idle this long (COMPADRE_IDLE_TIMEOUT)")
	fs.StringVar(&f.bodyTimeout, "body-timeout", env(getenv, "body-timeout", app.DefaultBodyTimeout.String()), "time a request body has to arrive; later is 408 (COMPADRE_BODY_TIMEOUT)")
	fs.StringVar(&f.maxConns, "max-connections", env(getenv, "max-connections", strconv.Itoa(app.DefaultMaxConns)), "connections open at once; more wait to be accepted (COMPADRE_MAX_CONNECTIONS)")
	fs.StringVar(&f.llmProvider, "llm-provider", env(getenv, "llm-provider", llm.BuiltinName), "builtin, or openai for an OpenAI-compatible chat-completions server (COMPADRE_LLM_PROVIDER)")
	fs.StringVar(&f.llmURL, "llm-url", env(getenv, "llm-url", ""), "base URL of the OpenAI-compatible server, such as http://localhost:11434/v1 (COMPADRE_LLM_URL)")
	fs.StringVar(&f.llmKey, "llm-key", env(getenv, "llm-key", ""), "bearer key for the model server; never logged (COMPADRE_LLM_KEY)")
	fs.StringVar(&f.llmModel, "llm-model", env(getenv, "llm-model", ""), "model asked when a version set prefers none (COMPADRE_LLM_MODEL)")
	fs.StringVar(&f.llmTimeout, "llm-timeout", env(getenv, "llm-timeout", llm.DefaultTimeout.String()), "limit of one model call (COMPADRE_LLM_TIMEOUT)")
	fs.StringVar(&f.sttURL, "stt-url", env(getenv, "stt-url", ""), "base URL of an OpenAI-compatible speech-to-text server (/audio/transcriptions); without one, voice messages are described, not recognised (COMPADRE_STT_URL)")
	fs.StringVar(&f.sttKey, "stt-key", env(getenv, "stt-key", ""), "bearer key for the speech-to-text server; never logged (COMPADRE_STT_KEY)")
	fs.StringVar(&f.sttModel, "stt-model", env(getenv, "stt-model", ""), "speech-to-text model (default whisper-1) (COMPADRE_STT_MODEL)")
	fs.StringVar(&f.ttsURL, "tts-url", env(getenv, "tts-url", ""), "base URL of an OpenAI-compatible text-to-speech server (/audio/speech); without one, voice replies are refused (COMPADRE_TTS_URL)")
	fs.StringVar(&f.ttsKey, "tts-key", env(getenv, "tts-key", ""), "bearer key for the text-to-speech server; never logged (COMPADRE_TTS_KEY)")
	fs.StringVar(&f.ttsModel, "tts-model", env(getenv, "tts-model", ""), "text-to-speech model (default tts-1) (COMPADRE_TTS_MODEL)")
	fs.StringVar(&f.ttsVoice, "tts-voice", env(getenv, "tts-voice", ""), "voice every reply uses, instead of the agent's voice ID (COMPADRE_TTS_VOICE)")
	fs.StringVar(&f.simulationWorkers, "simulation-workers", env(getenv, "simulation-workers", strconv.Itoa(simulate.DefaultWorkers())), "simulated conversations run at once, each one interaction at a time; default half the processors (COMPADRE_SIMULATION_WORKERS)")
	fs.StringVar(&f.webhookLoopback, "webhook-loopback", env(getenv, "webhook-loopback", "off"), "on lets webhook destinations be loopback addresses, over plain http too, for local development (COMPADRE_WEBHOOK_LOOPBACK)")
	fs.StringVar(&f.webhookRetryScale, "webhook-retry-scale", env(getenv, "webhook-retry-scale", "1"), "multiplies the webhook retry schedule (5, 10, 20, 20, 20 s); 0.01 makes it 50 ms to 200 ms for tests (COMPADRE_WEBHOOK_RETRY_SCALE)")
	fs.StringVar(&f.webhookPrivate, "webhook-private-networks", env(getenv, "webhook-private-networks", "off"), "on lets webhook destinations be private, link-local or metadata addresses (COMPADRE_WEBHOOK_PRIVATE_NETWORKS)")
	fs.StringVar(&f.smtpURL, "smtp-url", env(getenv, "smtp-url", ""), "mail server for sign-in links, smtp://user:password@host:587?from=noreply@example.com or smtps:// for implicit TLS; without one, mail goes to files in <data>/mail (COMPADRE_SMTP_URL)")
	fs.StringVar(&f.signInRedirects, "sign-in-redirects", env(getenv, "sign-in-redirects", ""), "comma-separated origins, such as https://app.example.com, that sign-in links may lead to besides this server's and loopback ones (COMPADRE_SIGN_IN_REDIRECTS)")
	fs.StringVar(&f.controlAPI, "control-api", env(getenv, "control-api", "off"), "on serves the control API under /_compadre/ (fault injection, request log) to super administrators, for tests; never on a server others rely on (COMPADRE_CONTROL_API)")
	fs.StringVar(&f.requestLogSize, "request-log-size", env(getenv, "request-log-size", ""), "requests the control API's request log keeps; default 1000 with --control-api on, 0 keeps none (COMPADRE_REQUEST_LOG_SIZE)")
	fs.StringVar(&f.console, "console", env(getenv, "console", "on"), "on serves the web console at /; it offers the first start's credentials only to a browser on this machine (COMPADRE_CONSOLE)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	model, err := parseModel(f)
	if err != nil {
		return err
	}
	transcriber, synthesizer, err := parseVoice(f)
	if err != nil {
		return err
	}
	conns, err := parseConnLimits(f.idleTimeout, f.bodyTimeout, f.maxConns)
	if err != nil {
		return err
	}
	durability, err := store.ParseDurability(f.durability)
	if err != nil {
		return fmt.Errorf("--durability: want full or normal, got %q", f.durability)
	}
	limits, err := parseSandboxLimits(f.sandboxTimeout, f.sandboxMemory)
	if err != nil {
		return err
	}
	for name, v := range map[string]string{"sandbox": f.sandbox, "webhook-loopback": f.webhookLoopback,
		"webhook-private-networks": f.webhookPrivate, "control-api": f.controlAPI, "console": f.console} {
		if v != "on" && v != "off" {
			return fmt.Errorf("--%s: want on or off, got %q", name, v)
		}
	}
	retryScale, err := strconv.ParseFloat(f.webhookRetryScale, 64)
	if err != nil || !(retryScale > 0 && retryScale <= 1000) {
		return fmt.Errorf("--webhook-retry-scale: want a number above 0 such as 0.01, got %q", f.webhookRetryScale)
	}
	sandboxWait, err := time.ParseDuration(f.sandboxWait)
	if err != nil || sandboxWait <= 0 {
		return fmt.Errorf("--sandbox-wait: want a positive duration such as 60s, got %q", f.sandboxWait)
	}
	retention, err := parseRetention(f.retention)
	if err != nil {
		return err
	}
	scale, burst, err := parseRateLimits(f.rateLimits)
	if err != nil {
		return err
	}
	ttl, err := time.ParseDuration(f.tokenTTL)
	if err != nil || ttl <= 0 {
		return fmt.Errorf("--token-ttl: want a positive duration such as 1h, got %q", f.tokenTTL)
	}
	workers, err := strconv.Atoi(f.simulationWorkers)
	if err != nil || workers < 1 {
		return fmt.Errorf("--simulation-workers: want a positive number, got %q", f.simulationWorkers)
	}
	logSize, err := parseRequestLogSize(f.requestLogSize, f.controlAPI == "on")
	if err != nil {
		return err
	}
	mailCfg, err := parseMail(f.smtpURL, f.signInRedirects)
	if err != nil {
		return err
	}
	log, err := newLogger(stderr, f.logFormat, f.logLevel)
	if err != nil {
		return err
	}
	l, err := net.Listen("tcp", f.addr)
	if err != nil {
		return err
	}
	baseURL := "http://" + l.Addr().String()
	a, err := app.Open(ctx, app.Config{
		DataDir: f.data, Org: f.org, RateLimitScale: scale, RateLimitBurstMinutes: burst, TokenTTL: ttl, Logger: log, Stdout: stdout,
		Sandbox: f.sandbox == "on", SandboxLimits: limits, SandboxWait: sandboxWait, Retention: retention,
		ToolsRepo: f.toolsRepo, TeamBranch: f.teamBranch,
		Durability: durability, IdleTimeout: conns.IdleTimeout, BodyTimeout: conns.BodyTimeout, MaxConns: conns.MaxConns,
		Model: model, Transcriber: transcriber, Synthesizer: synthesizer, SimulationWorkers: workers,
		WebhookPolicy:     webhook.Policy{Loopback: f.webhookLoopback == "on", PrivateNetworks: f.webhookPrivate == "on"},
		WebhookRetryScale: retryScale,
		Mail:              mailCfg.Mail, SignInRedirects: mailCfg.SignInRedirects,
		ControlAPI: f.controlAPI == "on", RequestLogSize: logSize, NoConsole: f.console == "off",
	}, baseURL)
	if err != nil {
		l.Close()
		return err
	}
	python := ""
	if prov, err := assets.PythonProvenance(); err == nil {
		python = prov.Interpreter()
	}
	log.Info("serving", "url", baseURL, "data", f.data, "rate_limits", f.rateLimits, "version", app.Version, "python", python,
		"llm", model.Name(), "llm_url", f.llmURL, "transcriber", voiceName(transcriber, "builtin"),
		"synthesizer", voiceName(synthesizer, "none"), "mail", mailName(mailCfg.Mail, filepath.Join(f.data, app.MailDir)))
	return a.Serve(ctx, l, 30*time.Second)
}

// parseRequestLogSize reads --request-log-size into an app.Config's
// RequestLogSize: empty is the default (0), "0" keeps none (-1). A log is
// kept only with the control API, which alone can read it.
func parseRequestLogSize(s string, control bool) (int, error) {
	if s == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 || n > httpapi.MaxRequestLogSize {
		return 0, fmt.Errorf("--request-log-size: want a number from 0 to %d, got %q", httpapi.MaxRequestLogSize, s)
	}
	if n > 0 && !control {
		return 0, errors.New("--request-log-size: the request log is read through the control API; add --control-api on")
	}
	if n == 0 {
		return -1, nil
	}
	return n, nil
}

// parseModel builds the language model --llm-provider names.
func parseModel(f serveFlags) (llm.Provider, error) {
	timeout, err := time.ParseDuration(f.llmTimeout)
	if err != nil || timeout <= 0 {
		return nil, fmt.Errorf("--llm-timeout: want a positive duration such as 60s, got %q", f.llmTimeout)
	}
	p, err := llm.New(f.llmProvider, llm.OpenAIConfig{URL: f.llmURL, Key: f.llmKey, Model: f.llmModel, Timeout: timeout})
	if err != nil {
		return nil, fmt.Errorf("--llm-provider: %w", err)
	}
	return p, nil
}

// parseVoice builds the speech providers --stt-url and --tts-url name; a
// nil one means the built-in transcriber, or no synthesizer.
func parseVoice(f serveFlags) (voice.Transcriber, voice.Synthesizer, error) {
	var t voice.Transcriber
	var s voice.Synthesizer
	if f.sttURL != "" {
		stt, err := voice.NewOpenAITranscriber(voice.OpenAIConfig{URL: f.sttURL, Key: f.sttKey, Model: f.sttModel})
		if err != nil {
			return nil, nil, fmt.Errorf("--stt-url: %w", err)
		}
		t = stt
	}
	if f.ttsURL != "" {
		tts, err := voice.NewOpenAISynthesizer(voice.OpenAIConfig{URL: f.ttsURL, Key: f.ttsKey, Model: f.ttsModel, Voice: f.ttsVoice})
		if err != nil {
			return nil, nil, fmt.Errorf("--tts-url: %w", err)
		}
		s = tts
	}
	return t, s, nil
}

// voiceName names a speech provider for the start-up log, or none.
func voiceName(p interface{ Name() string }, none string) string {
	if p == nil {
		return none
	}
	return p.Name()
}

// parseMail reads --smtp-url and --sign-in-redirects into the mail fields
// of an app.Config. Its errors never repeat the URL, which may hold a
// password.
func parseMail(smtpURL, redirects string) (app.Config, error) {
	var c app.Config
	if smtpURL != "" {
		s, err := mail.ParseSMTPURL(smtpURL)
		if err != nil {
			return c, fmt.Errorf("--smtp-url: %w", err)
		}
		c.Mail = s
	}
	origins, err := mail.ParseOrigins(redirects)
	if err != nil {
		return c, fmt.Errorf("--sign-in-redirects: %w", err)
	}
	c.SignInRedirects = origins
	return c, nil
}

// mailName names where mail goes, for the start-up log: the SMTP server
// without its credentials, or the local sink's directory.
func mailName(t mail.Transport, sink string) string {
	if s, ok := t.(*mail.SMTP); ok {
		return s.String()
	}
	return "sink " + sink
}

// parseConnLimits reads --idle-timeout, --body-timeout (Go durations) and
// --max-connections into the connection fields of an app.Config.
func parseConnLimits(idle, body, maxConns string) (app.Config, error) {
	var c app.Config
	var err error
	if c.IdleTimeout, err = time.ParseDuration(idle); err != nil || c.IdleTimeout <= 0 {
		return c, fmt.Errorf("--idle-timeout: want a positive duration such as 2m, got %q", idle)
	}
	if c.BodyTimeout, err = time.ParseDuration(body); err != nil || c.BodyTimeout <= 0 {
		return c, fmt.Errorf("--body-timeout: want a positive duration such as 1m, got %q", body)
	}
	if c.MaxConns, err = strconv.Atoi(maxConns); err != nil || c.MaxConns < 1 {
		return c, fmt.Errorf("--max-connections: want a positive number, got %q", maxConns)
	}
	return c, nil
}

// parseRetention reads --retention: a Go duration or a number of days
// ("30d"); "off" or "0" keeps records for ever (a negative Retention).
func parseRetention(s string) (time.Duration, error) {
	if s == "off" || s == "0" {
		return -1, nil
	}
	if days, ok := strings.CutSuffix(s, "d"); ok {
		if n, err := strconv.Atoi(days); err == nil && n > 0 && n <= 100*365 {
			return time.Duration(n) * 24 * time.Hour, nil
		}
	} else if d, err := time.ParseDuration(s); err == nil && d > 0 {
		return d, nil
	}
	return 0, fmt.Errorf("--retention: want a positive duration such as 720h or 30d, or off, got %q", s)
}

// parseRateLimits reads --rate-limits into a scale of the documented
// per-minute figures and the minutes' worth a bucket holds: "faithful" is
// what the hosted API evidently does (the figures, with a burst allowance of
// httpapi.HostedBurstMinutes), "strict" the figures exactly, "off" none, and
// "Nx" faithful times N.
func parseRateLimits(s string) (scale, burstMinutes float64, err error) {
	switch s {
	case "faithful":
		return 1, httpapi.HostedBurstMinutes, nil
	case "strict":
		return 1, 1, nil
	case "off":
		return 0, 0, nil
	}
	if n, err := strconv.ParseFloat(strings.TrimSuffix(s, "x"), 64); err == nil && strings.HasSuffix(s, "x") && n > 0 && !math.IsInf(n, 0) {
		return n, httpapi.HostedBurstMinutes, nil
	}
	return 0, 0, fmt.Errorf("--rate-limits: want faithful, strict, off or a multiplier such as 10x, got %q", s)
}

func newLogger(w io.Writer, format, level string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level: %w", err)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("--log-format: want text or json, got %q", format)
}

// createAPIKey mints an API key for a user straight in the database; it
// works while the server runs.
func createAPIKey(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("admin create-api-key", flag.ContinueOnError)
	fs.SetOutput(stderr)
	data := fs.String("data", env(getenv, "data", "./compadre-data"), "data directory (COMPADRE_DATA)")
	org := fs.String("org", "", "organization (default: the one made at first start)")
	user := fs.String("user", "", "ID of the user the key signs in (required)")
	name := fs.String("name", "", "name of the key (required)")
	dur := fs.String("duration", "P90D", "ISO 8601 lifetime, 1 to 90 days")
	role := fs.String("role", "", "role of the key (default: the user's own role)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *user == "" || *name == "" {
		return errors.New("--user and --name are required")
	}
	lifetime, err := auth.KeyLifetime(*dur)
	if err != nil {
		return fmt.Errorf("--duration %q: %w", *dur, err)
	}
	st, err := store.Open(ctx, filepath.Join(*data, app.DatabaseFile))
	if err != nil {
		return err
	}
	defer st.Close()
	if *org == "" {
		if *org, err = st.BootstrappedOrg(ctx); err != nil {
			return fmt.Errorf("no organization in %s: start the server once first", *data)
		}
	}
	expires := time.Now().Add(lifetime)
	creds, err := app.MintAPIKey(ctx, st, *org, *user, *role, *name, expires)
	if err != nil {
		return err
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(map[string]string{"organization": creds.Organization, "user_id": creds.UserID,
		"api_key_id": creds.APIKeyID, "api_key": creds.APIKey, "expires_at": expires.UTC().Format(time.RFC3339)})
}

// parseSandboxLimits reads --sandbox-timeout (a Go duration) and
// --sandbox-memory (a size such as 256MiB).
func parseSandboxLimits(timeout, memory string) (wasmrt.Limits, error) {
	d, err := time.ParseDuration(timeout)
	if err != nil || d <= 0 {
		return wasmrt.Limits{}, fmt.Errorf("--sandbox-timeout: want a positive duration such as 30s, got %q", timeout)
	}
	n, err := humanize.ParseBytes(memory)
	if err != nil || n < 64<<20 || n > 4<<30 {
		return wasmrt.Limits{}, fmt.Errorf("--sandbox-memory: want a size from 64MiB to 4GiB, got %q", memory)
	}
	return wasmrt.Limits{Timeout: d, MemoryBytes: n}, nil
}

func benchSandbox(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("bench sandbox", flag.ContinueOnError)
	fs.SetOutput(stderr)
	data := fs.String("data", env(getenv, "data", "./compadre-data"), "data directory whose compile cache is used (COMPADRE_DATA)")
	runs := fs.Int("runs", 500, "tool calls per round")
	rounds := fs.Int("rounds", 5, "rounds per caller count; medians are reported")
	if err := fs.Parse(args); err != nil {
		return err
	}
	return app.BenchSandbox(ctx, stdout, app.BenchOptions{
		CacheDir: filepath.Join(*data, app.SandboxCacheDir), Runs: *runs, Rounds: *rounds,
	})
}
