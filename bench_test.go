package main

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/compadre-dev/compadre/app"
	"github.com/compadre-dev/compadre/compadretest"
)

// BenchmarkServeRestart measures a restart of `compadre serve` on an
// existing data directory, with the sandbox on (the default): from run()
// to the first authenticated GET /v1/{org}/organization/ answering 200,
// with a token issued before the restart. The sandbox keeps starting in the
// background; stopping the server is not timed. The compiled interpreter is
// shared with compadretest's cache, so only the first run on a machine
// compiles it.
func BenchmarkServeRestart(b *testing.B) {
	dir := b.TempDir()
	if base, err := os.UserCacheDir(); err == nil {
		shared := filepath.Join(base, "compadre-test", "wazero")
		if err := os.MkdirAll(shared, 0o700); err == nil {
			_ = os.MkdirAll(filepath.Join(dir, "cache"), 0o700)
			_ = os.Symlink(shared, filepath.Join(dir, app.SandboxCacheDir))
		}
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	args := []string{"--addr", addr, "--data", dir, "--rate-limits", "off", "--log-level", "warn"}
	getenv := func(string) string { return "" }
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}

	// The first start creates the data and compiles the interpreter (when
	// the cache is empty); wait for both before measuring restarts.
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx, args, getenv, io.Discard, io.Discard) }()
	waitFor(b, client, "http://"+addr+"/readyz", "", func(body []byte) bool {
		var r struct {
			Checks map[string]string `json:"checks"`
		}
		return json.Unmarshal(body, &r) == nil && r.Checks["sandbox"] == "ok"
	})
	creds, err := app.ReadCredentials(dir)
	if err != nil {
		b.Fatal(err)
	}
	token := compadretest.SignIn(b, creds)
	cancel()
	if err := <-done; err != nil {
		b.Fatal(err)
	}

	url := "http://" + addr + "/v1/" + creds.Organization + "/organization/"
	for b.Loop() {
		ctx, cancel := context.WithCancel(context.Background())
		go func() { done <- run(ctx, args, getenv, io.Discard, io.Discard) }()
		waitFor(b, client, url, token, nil)
		b.StopTimer()
		cancel()
		if err := <-done; err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
}

// waitFor polls url every millisecond until it answers 200 and, when ok is
// given, ok accepts the body; a 503 means not yet.
func waitFor(b *testing.B, client *http.Client, url, token string, ok func([]byte) bool) {
	deadline := time.Now().Add(10 * time.Minute)
	for time.Now().Before(deadline) {
		req, _ := http.NewRequest("GET", url, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		if resp, err := client.Do(req); err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK && (ok == nil || ok(body)) {
				return
			}
			// 503 is /readyz saying the sandbox is still starting.
			if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusServiceUnavailable {
				b.Fatalf("GET %s: status %d: %s", url, resp.StatusCode, body)
			}
		}
		time.Sleep(time.Millisecond)
	}
	b.Fatalf("GET %s did not answer in time", url)
}
