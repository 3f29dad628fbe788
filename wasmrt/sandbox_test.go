package wasmrt_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/compadre-dev/compadre/wasmrt"
)

// script runs one Python source as main.py, with extra files beside it.
func script(t *testing.T, src string, inv wasmrt.Invocation) (wasmrt.Result, error) {
	t.Helper()
	files := fstest.MapFS{"main.py": {Data: []byte(src)}}
	if extra, ok := inv.Files.(fstest.MapFS); ok {
		for k, v := range extra {
			files[k] = v
		}
	}
	inv.Files = files
	inv.Entrypoint = "main.py"
	return sandbox.Run(context.Background(), inv)
}

// TestContainment attempts each way out of the sandbox and checks that it
// fails inside Python, or is stopped by the host with the right kind.
func TestContainment(t *testing.T) {
	dataDir := t.TempDir()
	secret := filepath.Join(dataDir, "credentials.json")
	if err := os.WriteFile(secret, []byte(`{"key":"secret"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("COMPADRE_HOST_ONLY", "host-secret")

	tests := []struct {
		name       string
		src        string
		inv        wasmrt.Invocation
		wantStdout string
		wantErr    error
		wantInErr  string // in stderr
	}{
		{
			name:       "read /etc/passwd",
			src:        "try:\n    open('/etc/passwd').read()\n    print('read')\nexcept OSError as e:\n    print('denied', type(e).__name__)\n",
			wantStdout: "denied FileNotFoundError\n",
		},
		{
			name:       "read the data directory",
			src:        fmt.Sprintf("try:\n    open(%q).read()\n    print('read')\nexcept OSError as e:\n    print('denied', isinstance(e, OSError))\n", secret),
			wantStdout: "denied True\n",
		},
		{
			name:       "list the data directory",
			src:        fmt.Sprintf("import os\ntry:\n    os.listdir(%q)\n    print('listed')\nexcept OSError:\n    print('denied')\n", dataDir),
			wantStdout: "denied\n",
		},
		{
			name:       "climb out of the tool's folder",
			src:        "try:\n    open('/tool/../../etc/passwd').read()\n    print('read')\nexcept OSError:\n    print('denied')\n",
			wantStdout: "denied\n",
		},
		{
			name:       "overwrite the tool's own file",
			src:        "try:\n    open('/tool/main.py', 'w').write('x')\n    print('wrote')\nexcept OSError:\n    print('denied')\n",
			wantStdout: "denied\n",
		},
		{
			name:       "create a file beside the tool",
			src:        "try:\n    open('/tool/new.py', 'x').write('x')\n    print('wrote')\nexcept OSError:\n    print('denied')\n",
			wantStdout: "denied\n",
		},
		{
			name:       "write to /tmp",
			src:        "try:\n    open('/tmp/x', 'w').write('x')\n    print('wrote')\nexcept OSError:\n    print('denied')\n",
			wantStdout: "denied\n",
		},
		{
			name:       "write into the standard library",
			src:        "try:\n    open('/usr/local/lib/python315.zip', 'ab').write(b'x')\n    print('wrote')\nexcept OSError:\n    print('denied')\n",
			wantStdout: "denied\n",
		},
		{
			name:    "infinite loop stops at the deadline",
			src:     "while True:\n    pass\n",
			inv:     wasmrt.Invocation{Limits: wasmrt.Limits{Timeout: time.Second}},
			wantErr: wasmrt.ErrTimeout,
		},
		{
			name:    "sleeping past the deadline",
			src:     "import time\ntime.sleep(60)\n",
			inv:     wasmrt.Invocation{Limits: wasmrt.Limits{Timeout: time.Second}},
			wantErr: wasmrt.ErrTimeout,
		},
		{
			name:      "allocation past the default memory cap",
			src:       "x = bytearray(300 * 1024 * 1024)\nprint(len(x))\n",
			wantErr:   wasmrt.ErrMemoryLimit,
			wantInErr: "MemoryError",
		},
		{
			name:    "allocation past a lowered memory cap",
			src:     "x = [bytearray(1024 * 1024) for _ in range(100)]\nprint(len(x))\n",
			inv:     wasmrt.Invocation{Limits: wasmrt.Limits{MemoryBytes: 64 << 20}},
			wantErr: wasmrt.ErrMemoryLimit,
		},
		{
			name:       "allocation under the cap",
			src:        "x = bytearray(100 * 1024 * 1024)\nprint(len(x))\n",
			wantStdout: "104857600\n",
		},
		{
			name:       "output at the limit",
			src:        "import sys\nsys.stdout.write('x' * 20000)\n",
			wantStdout: strings.Repeat("x", 20000),
		},
		{
			name:    "output one past the limit",
			src:     "import sys\nsys.stdout.write('x' * 20001)\n",
			wantErr: wasmrt.ErrOutputLimit,
		},
		{
			name:       "the limit counts characters, not bytes",
			src:        "import sys\nsys.stdout.write('\\u20ac' * 20000)\n",
			wantStdout: strings.Repeat("€", 20000),
		},
		{
			name:    "a flood of output",
			src:     "while True:\n    print('x' * 1000)\n",
			wantErr: wasmrt.ErrOutputLimit,
		},
		{
			name:       "deep recursion is a RecursionError",
			src:        "def f(n):\n    return f(n + 1)\ntry:\n    f(0)\nexcept RecursionError:\n    print('RecursionError')\n",
			wantStdout: "RecursionError\n",
		},
		{
			name:      "uncaught deep recursion ends the program, not the host",
			src:       "def f(n):\n    return f(n + 1)\nf(0)\n",
			wantErr:   wasmrt.ErrExit,
			wantInErr: "RecursionError",
		},
		{
			name:       "sockets are unavailable",
			src:        "import socket\ntry:\n    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)\n    s.connect(('127.0.0.1', PORT))\n    print('connected')\nexcept (OSError, AttributeError) as e:\n    print('denied')\n",
			wantStdout: "denied\n",
		},
		{
			name:       "only the given environment is visible",
			src:        "import os\nprint(sorted(os.environ.items()))\n",
			inv:        wasmrt.Invocation{Env: map[string]string{"API_TOKEN": "t0k"}},
			wantStdout: "[('API_TOKEN', 't0k')]\n",
		},
		{
			name:       "no processes",
			src:        "import os\ntry:\n    os.system('ls')\n    print('ran')\nexcept (OSError, AttributeError):\n    print('denied')\n",
			wantStdout: "denied\n",
		},
		{
			name:      "an exception is a non-zero exit",
			src:       "raise ValueError('boom')\n",
			wantErr:   wasmrt.ErrExit,
			wantInErr: "ValueError: boom",
		},
	}
	// A listener the socket case would reach if it could connect.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan struct{}, 1)
	go func() {
		if c, err := ln.Accept(); err == nil {
			c.Close()
			accepted <- struct{}{}
		}
	}()
	port := fmt.Sprint(ln.Addr().(*net.TCPAddr).Port)

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			res, err := script(t, strings.ReplaceAll(tt.src, "PORT", port), tt.inv)
			if tt.wantErr == nil && err != nil {
				t.Fatalf("got error %v (stderr %q), want none", err, res.Stderr)
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Fatalf("got error %v, want %v (stdout %.200q, stderr %.500q)", err, tt.wantErr, res.Stdout, res.Stderr)
			}
			if tt.wantStdout != "" && string(res.Stdout) != tt.wantStdout {
				t.Errorf("got stdout %.200q, want %.200q", res.Stdout, tt.wantStdout)
			}
			if tt.wantInErr != "" && !strings.Contains(string(res.Stderr), tt.wantInErr) {
				t.Errorf("stderr %.500q does not mention %q", res.Stderr, tt.wantInErr)
			}
		})
	}
	t.Run("the host is unaffected", func(t *testing.T) {
		// Runs after the parallel cases above: the runtime still works.
		res, err := script(t, "print('still here')\n", wasmrt.Invocation{})
		if err != nil || string(res.Stdout) != "still here\n" {
			t.Fatalf("got %q, %v", res.Stdout, err)
		}
		select {
		case <-accepted:
			t.Error("the guest opened a connection to the host")
		default:
		}
		if b, err := os.ReadFile(secret); err != nil || string(b) != `{"key":"secret"}` {
			t.Errorf("the data directory changed: %q, %v", b, err)
		}
	})
}

// TestFreshState checks that nothing survives from one run to the next.
func TestFreshState(t *testing.T) {
	files := fstest.MapFS{"counter.py": {Data: []byte("count = 0\n")}}
	src := "import counter, builtins\ncounter.count += 1\nprint(counter.count, hasattr(builtins, 'left_behind'))\nbuiltins.left_behind = True\n"
	for i := range 3 {
		res, err := script(t, src, wasmrt.Invocation{Files: files})
		if err != nil {
			t.Fatal(err)
		}
		if got := string(res.Stdout); got != "1 False\n" {
			t.Fatalf("run %d: got %q, want a fresh interpreter", i, got)
		}
	}
}

// TestConcurrentRuns runs 50 programs at once and checks that each one's
// output is its own.
func TestConcurrentRuns(t *testing.T) {
	const n = 50
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			id := fmt.Sprintf("run-%02d", i)
			res, err := script(t, "import os, sys\nfor _ in range(200):\n    print(os.environ['ID'], sys.argv[1])\n",
				wasmrt.Invocation{Env: map[string]string{"ID": id}, Args: []string{id}})
			if err != nil {
				errs <- fmt.Errorf("%s: %v", id, err)
				return
			}
			want := strings.Repeat(id+" "+id+"\n", 200)
			if string(res.Stdout) != want {
				errs <- fmt.Errorf("%s: output crossed: %.80q", id, res.Stdout)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestExitStatus(t *testing.T) {
	tests := []struct {
		src  string
		want int
	}{
		{"import sys\nsys.exit(3)\n", 3},
		{"import sys\nsys.exit('bad')\n", 1},
		{"import os\nos._exit(7)\n", 7},
	}
	for _, tt := range tests {
		res, err := script(t, tt.src, wasmrt.Invocation{})
		var re *wasmrt.RunError
		if !errors.As(err, &re) || re.Kind != wasmrt.KindExit || re.ExitCode != tt.want || res.ExitCode != tt.want {
			t.Errorf("%q: got %v (exit %d), want exit %d", tt.src, err, res.ExitCode, tt.want)
		}
	}
	res, err := script(t, "import sys\nsys.exit(0)\n", wasmrt.Invocation{})
	if err != nil || res.ExitCode != 0 {
		t.Errorf("sys.exit(0): got %v, exit %d", err, res.ExitCode)
	}
}

func TestStdin(t *testing.T) {
	res, err := script(t, "import sys\ndata = sys.stdin.read()\nprint(len(data), data[:5])\n",
		wasmrt.Invocation{Stdin: []byte("hello " + strings.Repeat("y", 100000))})
	if err != nil || string(res.Stdout) != "100006 hello\n" {
		t.Fatalf("got %q, %v", res.Stdout, err)
	}
}

func TestCancelledContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		time.Sleep(200 * time.Millisecond)
		cancel()
	}()
	_, err := sandbox.Run(ctx, wasmrt.Invocation{
		Files:      fstest.MapFS{"main.py": {Data: []byte("while True:\n    pass\n")}},
		Entrypoint: "main.py",
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want context.Canceled", err)
	}
}

func TestBadInvocation(t *testing.T) {
	for _, inv := range []wasmrt.Invocation{
		{Entrypoint: ""},
		{Entrypoint: "../main.py"},
		{Entrypoint: "/etc/passwd"},
		{Entrypoint: "main.py", Limits: wasmrt.Limits{MemoryBytes: 1 << 20}},
		{Entrypoint: "main.py", Limits: wasmrt.Limits{Timeout: -time.Second}},
	} {
		if _, err := sandbox.Run(context.Background(), inv); err == nil {
			t.Errorf("%+v: got no error", inv)
		}
	}
}

// TestCloseDuringRuns closes a runtime while runs are in flight: they end
// with an error and the process survives.
func TestCloseDuringRuns(t *testing.T) {
	rt, err := newRuntime(wasmrt.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	files := fstest.MapFS{"main.py": {Data: []byte("x = 0\nwhile True:\n    x += 1\n")}}
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for range 4 {
		wg.Go(func() {
			_, err := rt.Run(context.Background(), wasmrt.Invocation{Files: files, Entrypoint: "main.py"})
			errs <- err
		})
	}
	time.Sleep(300 * time.Millisecond)
	if err := rt.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err == nil {
			t.Error("a run outlived Close without an error")
		}
	}
	if _, err := rt.Run(context.Background(), wasmrt.Invocation{Files: files, Entrypoint: "main.py"}); err == nil {
		t.Error("Run after Close: got no error")
	}
}

// Background runs take turns for their slots (here the shared sandbox's
// GOMAXPROCS - 1, at least one) while other runs go on: with every slot
// held, a background run waits, never starting, and a foreground run does
// not wait.
func TestBackgroundRunsWaitForTheirSlots(t *testing.T) {
	files := fstest.MapFS{"main.py": {Data: []byte("import sys, time\nif sys.argv[1:] == ['hold']:\n    time.sleep(600)\nprint('ran')\n")}}
	inv := func(background bool, args ...string) wasmrt.Invocation {
		return wasmrt.Invocation{Files: files, Entrypoint: "main.py", Args: args, Background: background}
	}
	held, release := context.WithCancel(context.Background())
	defer release()
	var holders sync.WaitGroup
	slots := max(1, runtime.GOMAXPROCS(0)-1)
	for range slots {
		holders.Go(func() { _, _ = sandbox.Run(held, inv(true, "hold")) })
	}
	for wasmrt.BackgroundInUse(sandbox) < slots {
		time.Sleep(time.Millisecond)
	}
	res, err := sandbox.Run(context.Background(), inv(false))
	if err != nil || string(res.Stdout) != "ran\n" {
		t.Fatalf("a foreground run beside full background slots: %q, %v", res.Stdout, err)
	}
	waiting, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	res, err = sandbox.Run(waiting, inv(true))
	if !errors.Is(err, context.DeadlineExceeded) || len(res.Stdout) != 0 {
		t.Fatalf("a background run with every slot held: %q, %v; want it never started", res.Stdout, err)
	}
	release()
	holders.Wait()
	res, err = sandbox.Run(context.Background(), inv(true))
	if err != nil || string(res.Stdout) != "ran\n" {
		t.Fatalf("a background run with free slots: %q, %v", res.Stdout, err)
	}
}
