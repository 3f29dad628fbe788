package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/compadre-dev/compadre/app"
	"github.com/compadre-dev/compadre/store"
)

// syncBuffer is a bytes.Buffer safe to read while the server writes to it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// start runs the program as `compadre serve` on a free port against dir and
// returns its credentials, its output, and a function that stops it.
func start(t *testing.T, dir string, env map[string]string) (app.Credentials, *syncBuffer, func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	out, logs := &syncBuffer{}, &syncBuffer{}
	getenv := func(k string) string { return env[k] }
	done := make(chan error, 1)
	// The sandbox has tests of its own; compiling it in every temp data
	// directory here would only burn CPU. Rate limits are off unless env
	// names COMPADRE_RATE_LIMITS (empty is unset: the flag's default).
	args := []string{"--addr", "127.0.0.1:0", "--data", dir, "--sandbox", "off"}
	if _, ok := env["COMPADRE_RATE_LIMITS"]; !ok {
		args = append(args, "--rate-limits", "off")
	}
	go func() {
		done <- run(ctx, args, getenv, out, logs)
	}()
	deadline := time.Now().Add(20 * time.Second)
	for {
		creds, err := app.ReadCredentials(dir)
		if err == nil && creds.BaseURL != "" {
			if resp, err := http.Get(creds.BaseURL + "/readyz"); err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					return creds, out, func() error { cancel(); return <-done }
				}
			}
		}
		select {
		case err := <-done:
			t.Fatalf("server exited: %v\n%s", err, logs.String())
		default:
		}
		if time.Now().After(deadline) {
			cancel()
			t.Fatalf("server did not become ready\n%s", logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// signInStatus signs in with an API key and returns the status code.
func signInStatus(t *testing.T, baseURL, org, key, keyID, userID string) int {
	t.Helper()
	req, _ := http.NewRequest("POST", baseURL+"/v1/"+org+"/user/signin_with_api_key", nil)
	req.Header.Set("x-api-key", key)
	req.Header.Set("x-api-key-id", keyID)
	req.Header.Set("x-user-id", userID)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func TestFirstAndSecondStart(t *testing.T) {
	dir := t.TempDir()
	creds, out, stop := start(t, dir, map[string]string{"COMPADRE_ORG": "acme"})
	if creds.Organization != "acme" || creds.APIKey == "" || creds.UserID == "" || creds.APIKeyID == "" {
		t.Fatalf("credentials %+v", creds)
	}
	if !strings.Contains(out.String(), creds.APIKey) {
		t.Errorf("first start did not print the API key:\n%s", out)
	}
	info, err := os.Stat(filepath.Join(dir, "credentials.json"))
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Errorf("credentials.json mode %v (%v), want 0600", info.Mode().Perm(), err)
	}
	for _, f := range []string{"token-signing.key", "secrets.key"} {
		if info, err := os.Stat(filepath.Join(dir, f)); err != nil || info.Mode().Perm() != 0o600 {
			t.Errorf("%s: %v, want mode 0600", f, err)
		}
	}
	if err := stop(); err != nil {
		t.Fatalf("graceful stop: %v", err)
	}

	creds2, out2, stop2 := start(t, dir, map[string]string{"COMPADRE_ORG": "ignored-now"})
	defer stop2()
	if creds2.APIKey != creds.APIKey || creds2.UserID != creds.UserID || creds2.Organization != "acme" {
		t.Errorf("second start changed the credentials: %+v", creds2)
	}
	if strings.Contains(out2.String(), creds.APIKey) {
		t.Errorf("second start printed the secret:\n%s", out2)
	}
	if status := signInStatus(t, creds2.BaseURL, "acme", creds.APIKey, creds.APIKeyID, creds.UserID); status != http.StatusOK {
		t.Errorf("sign-in after restart: status %d", status)
	}
}

func TestAdminCreateAPIKey(t *testing.T) {
	dir := t.TempDir()
	creds, _, stop := start(t, dir, nil)
	defer stop()
	var out, errOut bytes.Buffer
	err := run(context.Background(), []string{"admin", "create-api-key", "--data", dir, "--user", creds.UserID, "--name", "cli"},
		func(string) string { return "" }, &out, &errOut)
	if err != nil {
		t.Fatalf("%v: %s", err, errOut.String())
	}
	var key map[string]string
	if err := json.Unmarshal(out.Bytes(), &key); err != nil {
		t.Fatalf("output %q: %v", out.String(), err)
	}
	if status := signInStatus(t, creds.BaseURL, creds.Organization, key["api_key"], key["api_key_id"], creds.UserID); status != http.StatusOK {
		t.Errorf("sign-in with the minted key: status %d", status)
	}
	if err := run(context.Background(), []string{"admin", "create-api-key", "--data", dir, "--user", creds.UserID},
		func(string) string { return "" }, &out, &errOut); err == nil {
		t.Error("missing --name accepted")
	}
}

func TestParseRateLimits(t *testing.T) {
	tests := []struct {
		in           string
		scale, burst float64
		ok           bool
	}{
		{"faithful", 1, 10, true}, {"strict", 1, 1, true}, {"off", 0, 0, true},
		{"10x", 10, 10, true}, {"0.5x", 0.5, 10, true},
		{"10", 0, 0, false}, {"0x", 0, 0, false}, {"-2x", 0, 0, false}, {"Infx", 0, 0, false}, {"NaNx", 0, 0, false},
		{"fast", 0, 0, false}, {"Strict", 0, 0, false}, {"", 0, 0, false},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			scale, burst, err := parseRateLimits(tc.in)
			if (err == nil) != tc.ok || scale != tc.scale || burst != tc.burst {
				t.Errorf("parseRateLimits(%q) = %v, %v, %v; want %v, %v, ok %v", tc.in, scale, burst, err, tc.scale, tc.burst, tc.ok)
			}
		})
	}
}

// TestRateLimitModes checks the mode reaches the server: strict refuses the
// 6th sign-in of a minute (5 is the documented figure), and the default,
// faithful, admits it, as the hosted API does.
func TestRateLimitModes(t *testing.T) {
	tests := []struct {
		mode    string
		want6th int
	}{
		{"", http.StatusOK}, {"faithful", http.StatusOK}, {"strict", http.StatusTooManyRequests},
	}
	for _, tc := range tests {
		t.Run("mode "+tc.mode, func(t *testing.T) {
			creds, _, stop := start(t, t.TempDir(), map[string]string{"COMPADRE_RATE_LIMITS": tc.mode})
			defer stop()
			for i := 1; i <= 5; i++ {
				if status := signInStatus(t, creds.BaseURL, creds.Organization, creds.APIKey, creds.APIKeyID, creds.UserID); status != http.StatusOK {
					t.Fatalf("sign-in %d: got %d, want 200", i, status)
				}
			}
			if status := signInStatus(t, creds.BaseURL, creds.Organization, creds.APIKey, creds.APIKeyID, creds.UserID); status != tc.want6th {
				t.Errorf("6th sign-in: got %d, want %d", status, tc.want6th)
			}
		})
	}
}

func TestParseConnLimits(t *testing.T) {
	tests := []struct {
		name, idle, body, conns string
		want                    app.Config
		wantErr                 string
	}{
		{name: "defaults", idle: "2m0s", body: "1m0s", conns: "4096",
			want: app.Config{IdleTimeout: 2 * time.Minute, BodyTimeout: time.Minute, MaxConns: 4096}},
		{name: "one connection", idle: "1s", body: "500ms", conns: "1",
			want: app.Config{IdleTimeout: time.Second, BodyTimeout: 500 * time.Millisecond, MaxConns: 1}},
		{name: "idle not a duration", idle: "2", body: "1m", conns: "10", wantErr: "--idle-timeout"},
		{name: "idle zero", idle: "0s", body: "1m", conns: "10", wantErr: "--idle-timeout"},
		{name: "body negative", idle: "1m", body: "-1s", conns: "10", wantErr: "--body-timeout"},
		{name: "no connections", idle: "1m", body: "1m", conns: "0", wantErr: "--max-connections"},
		{name: "connections not a number", idle: "1m", body: "1m", conns: "many", wantErr: "--max-connections"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseConnLimits(tt.idle, tt.body, tt.conns)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got %v, want an error naming %s", err, tt.wantErr)
				}
				return
			}
			if err != nil || got.IdleTimeout != tt.want.IdleTimeout || got.BodyTimeout != tt.want.BodyTimeout || got.MaxConns != tt.want.MaxConns {
				t.Errorf("got %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
}

// TestServeRefusesBadLimits checks that a bad durability or connection
// limit, from a flag or the environment, stops the server before it
// touches the data directory.
func TestServeRefusesBadLimits(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		wantErr string
	}{
		{name: "durability flag", args: []string{"--durability", "off"}, wantErr: "--durability"},
		{name: "durability environment", env: map[string]string{"COMPADRE_DURABILITY": "OFF"}, wantErr: "--durability"},
		{name: "body timeout environment", env: map[string]string{"COMPADRE_BODY_TIMEOUT": "soon"}, wantErr: "--body-timeout"},
		{name: "max connections flag", args: []string{"--max-connections", "-1"}, wantErr: "--max-connections"},
		{name: "webhook retry scale zero", args: []string{"--webhook-retry-scale", "0"}, wantErr: "--webhook-retry-scale"},
		{name: "webhook retry scale environment", env: map[string]string{"COMPADRE_WEBHOOK_RETRY_SCALE": "fast"}, wantErr: "--webhook-retry-scale"},
		{name: "SMTP URL flag", args: []string{"--smtp-url", "http://mail.example.com"}, wantErr: "--smtp-url"},
		{name: "SMTP URL environment", env: map[string]string{"COMPADRE_SMTP_URL": "smtp://u:p@x?sender=a@b"}, wantErr: "--smtp-url"},
		{name: "sign-in redirects flag", args: []string{"--sign-in-redirects", "https://app.example.com/login"}, wantErr: "--sign-in-redirects"},
		{name: "sign-in redirects environment", env: map[string]string{"COMPADRE_SIGN_IN_REDIRECTS": "app.example.com"}, wantErr: "--sign-in-redirects"},
		{name: "control API flag", args: []string{"--control-api", "yes"}, wantErr: "--control-api"},
		{name: "request log without the control API", args: []string{"--request-log-size", "10"}, wantErr: "--control-api on"},
		{name: "request log size environment", env: map[string]string{"COMPADRE_CONTROL_API": "on", "COMPADRE_REQUEST_LOG_SIZE": "-1"}, wantErr: "--request-log-size"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "data")
			args := append([]string{"--addr", "127.0.0.1:0", "--data", dir, "--sandbox", "off"}, tt.args...)
			var out, errOut bytes.Buffer
			err := run(context.Background(), args, func(k string) string { return tt.env[k] }, &out, &errOut)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("got %v, want an error naming %s", err, tt.wantErr)
			}
			if _, err := os.Stat(dir); !os.IsNotExist(err) {
				t.Errorf("data directory: got %v, want it not created", err)
			}
		})
	}
}

// The SMTP URL may hold a password: no error or log line repeats it.
func TestParseMail(t *testing.T) {
	c, err := parseMail("smtp://mailer:hunter2@mail.example.com?from=noreply@example.com", "https://App.example.com, http://10.0.0.5:3000")
	if err != nil {
		t.Fatal(err)
	}
	if name := mailName(c.Mail, "sink"); name != "smtp://mail.example.com:587" || c.Mail.From() != "noreply@example.com" {
		t.Errorf("mail %q from %q", name, c.Mail.From())
	}
	if want := []string{"https://app.example.com:443", "http://10.0.0.5:3000"}; !slices.Equal(c.SignInRedirects, want) {
		t.Errorf("redirects %q, want %q", c.SignInRedirects, want)
	}
	if c, err := parseMail("", ""); err != nil || c.Mail != nil || mailName(c.Mail, "data/mail") != "sink data/mail" {
		t.Errorf("no SMTP URL: %+v, %v", c, err)
	}
	for _, bad := range []string{"smtp://mailer:hunter2@", "smtp://mailer:hunter2@x:%zz", "smtpx://mailer:hunter2@x"} {
		if _, err := parseMail(bad, ""); err == nil || strings.Contains(err.Error(), "hunter2") {
			t.Errorf("%s: %v, want an error without the password", bad, err)
		}
	}
}

func TestParseRetention(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"30d", 30 * 24 * time.Hour, true}, {"720h", 720 * time.Hour, true}, {"90m", 90 * time.Minute, true},
		{"off", -1, true}, {"0", -1, true},
		{"0d", 0, false}, {"-1h", 0, false}, {"1.5d", 0, false}, {"forever", 0, false}, {"", 0, false}, {"99999d", 0, false},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := parseRetention(tc.in)
			if (err == nil) != tc.ok || got != tc.want {
				t.Errorf("parseRetention(%q) = %v, %v; want %v, ok %v", tc.in, got, err, tc.want, tc.ok)
			}
		})
	}
}

// TestServeHashesKeysAtStandardCost checks that `serve` hashes its keys at
// the standard argon2id cost: only test fixtures may lower it, and no flag
// or variable reaches it.
func TestServeHashesKeysAtStandardCost(t *testing.T) {
	dir := t.TempDir()
	creds, _, stop := start(t, dir, map[string]string{"COMPADRE_KEY_HASH_COST": "1"})
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(context.Background(), filepath.Join(dir, app.DatabaseFile))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	k, err := st.GetAPIKey(context.Background(), creds.Organization, creds.APIKeyID)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := strings.Split(k.SecretHash, "$")[3], "m=19456,t=2,p=1"; got != want {
		t.Errorf("hash settings %s, want %s", got, want)
	}
}

func TestParseRequestLogSize(t *testing.T) {
	tests := []struct {
		in      string
		control bool
		want    int
		ok      bool
	}{
		{"", true, 0, true}, {"", false, 0, true}, {"0", true, -1, true}, {"0", false, -1, true}, {"50", true, 50, true},
		{"100000", true, 100000, true}, {"100001", true, 0, false}, {"50", false, 0, false}, {"many", true, 0, false},
	}
	for _, tc := range tests {
		got, err := parseRequestLogSize(tc.in, tc.control)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("parseRequestLogSize(%q, %v) = %d, %v; want %d, ok %v", tc.in, tc.control, got, err, tc.want, tc.ok)
		}
	}
}

// The control API is served only when asked for, to the administrator.
func TestServeControlAPIFlag(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  map[string]string
		want int
	}{
		{"default", nil, http.StatusNotFound},
		{"on", map[string]string{"COMPADRE_CONTROL_API": "on"}, http.StatusOK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			creds, _, stop := start(t, t.TempDir(), tc.env)
			defer func() {
				if err := stop(); err != nil {
					t.Error(err)
				}
			}()
			req, _ := http.NewRequest("POST", creds.BaseURL+"/v1/"+creds.Organization+"/user/signin_with_api_key", nil)
			req.Header.Set("x-api-key", creds.APIKey)
			req.Header.Set("x-api-key-id", creds.APIKeyID)
			req.Header.Set("x-user-id", creds.UserID)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			var tok struct {
				IDToken string `json:"id_token"`
			}
			err = json.NewDecoder(resp.Body).Decode(&tok)
			resp.Body.Close()
			if err != nil {
				t.Fatal(err)
			}
			for _, path := range []string{"/_compadre/faults", "/_compadre/requests"} {
				req, _ := http.NewRequest("GET", creds.BaseURL+path, nil)
				req.Header.Set("Authorization", "Bearer "+tok.IDToken)
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode != tc.want {
					t.Errorf("%s: status %d, want %d", path, resp.StatusCode, tc.want)
				}
			}
		})
	}
}
