package app_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/compadre-dev/compadre/app"
	"github.com/compadre-dev/compadre/compadretest"
	"github.com/compadre-dev/compadre/store"
)

// A client's reads give up after this long, so a server that holds a
// connection fails the test instead of hanging it. No test waits this long
// when the server behaves.
const patience = 10 * time.Second

func withConfig(f func(*app.Config)) compadretest.Option { return f }

// dial opens a raw connection to srv.
func dial(t *testing.T, srv *compadretest.Server) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", strings.TrimPrefix(srv.BaseURL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// healthz sends GET /healthz on c, keeping it alive, and reads the answer.
func healthz(c net.Conn, r *bufio.Reader) (*http.Response, error) {
	if _, err := io.WriteString(c, "GET /healthz HTTP/1.1\r\nHost: compadre\r\n\r\n"); err != nil {
		return nil, err
	}
	resp, err := http.ReadResponse(r, nil)
	if err != nil {
		return nil, err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp, err
}

// waitClosed reads c until the server closes it, and fails the test if
// anything else happens first.
func waitClosed(t *testing.T, c net.Conn, r io.Reader) {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(patience))
	n, err := io.Copy(io.Discard, r)
	if err != nil {
		t.Fatalf("got %v after %d more bytes, want the server to close the connection", err, n)
	}
	if n != 0 {
		t.Errorf("got %d more bytes before the close, want none", n)
	}
}

func TestIdleConnectionIsClosed(t *testing.T) {
	const idle = 200 * time.Millisecond
	srv := compadretest.Start(t, withConfig(func(c *app.Config) { c.IdleTimeout = idle }))
	c := dial(t, srv)
	r := bufio.NewReader(c)
	var start time.Time
	for i := range 2 {
		// The server's idle time starts once it has written its answer,
		// which is after the request was sent but may be before the
		// client has read the answer: timed from the send, the close can
		// never come sooner than the idle timeout.
		start = time.Now()
		// The connection is kept alive between requests...
		resp, err := healthz(c, r)
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("request %d: got %v, %v; want 200", i, resp, err)
		}
	}
	// ...until it has been idle for the idle timeout.
	waitClosed(t, c, r)
	if waited := time.Since(start); waited < idle {
		t.Errorf("closed after %v, want no sooner than the idle timeout %v", waited, idle)
	}
}

func TestSlowBodyIsDropped(t *testing.T) {
	const bodyTimeout = 300 * time.Millisecond
	srv := compadretest.Start(t, withConfig(func(c *app.Config) { c.BodyTimeout = bodyTimeout }))
	token := srv.SignIn(t)
	users := countUsers(t, srv)
	tests := []struct {
		name, auth string
		wantStatus int
		wantBody   string
	}{
		{name: "signed in", auth: "Authorization: Bearer " + token + "\r\n",
			wantStatus: http.StatusRequestTimeout, wantBody: `{"detail":"The request body did not arrive in time."}`},
		// The server answers before reading, then drains the body under
		// the same deadline before it can close the connection.
		{name: "without credentials", wantStatus: http.StatusUnauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := dial(t, srv)
			body := `{"first_name": "Slow", "last_name": "Loris", "email": "slow@example.com", "role_name": "DefaultUserRole"}`
			head := fmt.Sprintf("POST /v1/%s/user/ HTTP/1.1\r\nHost: compadre\r\nContent-Type: application/json\r\n%sContent-Length: %d\r\n\r\n",
				srv.Organization, tt.auth, len(body))
			if _, err := io.WriteString(c, head); err != nil {
				t.Fatal(err)
			}
			stop := make(chan struct{})
			defer close(stop)
			go func() {
				// One byte a second; it stops when the server closes.
				for i := 0; i < len(body); i++ {
					if _, err := io.WriteString(c, body[i:i+1]); err != nil {
						return
					}
					select {
					case <-stop:
						return
					case <-time.After(time.Second):
					}
				}
			}()
			_ = c.SetReadDeadline(time.Now().Add(patience))
			r := bufio.NewReader(c)
			resp, err := http.ReadResponse(r, nil)
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != tt.wantStatus || (tt.wantBody != "" && string(got) != tt.wantBody) {
				t.Errorf("got %d %s, want %d %s", resp.StatusCode, got, tt.wantStatus, tt.wantBody)
			}
			if !resp.Close {
				t.Errorf("got no Connection: close, want the connection closed")
			}
			waitClosed(t, c, r)
		})
	}
	t.Cleanup(func() {
		// Subtests run in parallel; this runs after all of them.
		if got := countUsers(t, srv); got != users {
			t.Errorf("got %d users after the dropped requests, want %d", got, users)
		}
	})
}

func TestConnectionCap(t *testing.T) {
	srv := compadretest.Start(t, withConfig(func(c *app.Config) { c.MaxConns = 2 }))
	var held []net.Conn
	for range 2 {
		c := dial(t, srv)
		if resp, err := healthz(c, bufio.NewReader(c)); err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("got %v, %v; want 200", resp, err)
		}
		held = append(held, c)
	}
	// The third connection is not accepted while two are open...
	third := dial(t, srv)
	r := bufio.NewReader(third)
	if _, err := io.WriteString(third, "GET /healthz HTTP/1.1\r\nHost: compadre\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	_ = third.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	if _, err := r.Peek(1); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("third connection: got %v, want no answer while two are open", err)
	}
	// ...and is served as soon as one of them closes.
	held[0].Close()
	_ = third.SetReadDeadline(time.Now().Add(patience))
	resp, err := http.ReadResponse(r, nil)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("third connection after a close: got %v, %v; want 200", resp, err)
	}
}

func TestHealthzWithThousandIdleConnections(t *testing.T) {
	const idle = 1000
	// Each connection costs two descriptors here, the client's and the
	// server's.
	raiseFileLimit(t, 2*idle+256)
	srv := compadretest.Start(t)
	for i := range idle {
		c := dial(t, srv)
		if resp, err := healthz(c, bufio.NewReader(c)); err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("idle connection %d: got %v, %v; want 200", i, resp, err)
		}
	}
	client := &http.Client{Timeout: patience, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := client.Get(srv.BaseURL + "/healthz")
	if err != nil {
		t.Fatalf("with %d idle connections open: %v", idle, err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("with %d idle connections open: got %d, want 200", idle, resp.StatusCode)
	}
}

// raiseFileLimit raises the soft limit on open files to at least n, as far
// as the hard limit allows.
func raiseFileLimit(t *testing.T, n uint64) {
	t.Helper()
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	if lim.Cur >= n {
		return
	}
	if lim.Max < n {
		t.Fatalf("open files: hard limit %d, want at least %d", lim.Max, n)
	}
	old := lim.Cur
	lim.Cur = n
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		lim.Cur = old
		_ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim)
	})
}

func countUsers(t *testing.T, srv *compadretest.Server) int {
	t.Helper()
	users, _, err := srv.Store().ListUsers(context.Background(), srv.Organization, store.UserFilter{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	return len(users)
}
