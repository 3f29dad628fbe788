package wasmrt_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/compadre-dev/compadre/wasmrt"
)

// toolFiles is a tool project with one module per behaviour under test.
var toolFiles = fstest.MapFS{
	"mytool/__init__.py": {Data: []byte("")},
	"mytool/main.py": {Data: []byte(`import logging
import os
import sys

log = logging.getLogger("mytool")


def echo(text: str):
    return text


def structured(n: int, tags: list[str]):
    return {"n": n * 2, "tags": tags, "none": None}


def chatty(text: str):
    log.info("working on %s", text)
    log.warning("careful")
    print("printed", text)
    sys.stderr.write("to stderr\n")
    return "done"


def modal(invocation_mode):
    return invocation_mode


def env():
    return os.environ.get("SECRET_TOKEN", "") + "/" + os.environ.get("INVOCATION_MODE", "")


def fails(text: str):
    def inner():
        raise ValueError("bad input: " + text)
    inner()


def unserialisable():
    return object()


def exits():
    sys.exit(0)
`)},
}

func callTool(t *testing.T, entry, input string, mode string, env map[string]string) (wasmrt.ToolResult, error) {
	t.Helper()
	return sandbox.RunTool(context.Background(), wasmrt.ToolCall{
		Files:      toolFiles,
		Entrypoint: entry,
		Input:      []byte(input),
		Mode:       mode,
		Env:        env,
	})
}

func TestToolOutput(t *testing.T) {
	tests := []struct {
		name, entry, input, mode string
		env                      map[string]string
		want                     string
	}{
		{"a str is the output as it is", "mytool.main:echo", `{"text": "héllo {not json"}`, "regular", nil, "héllo {not json"},
		{"other values are JSON", "mytool.main:structured", `{"n": 21, "tags": ["a", "b"]}`, "regular", nil, `{"n": 42, "tags": ["a", "b"], "none": null}`},
		{"invocation_mode reaches a function that declares it", "mytool.main:modal", `{}`, "conversation-simulation", nil, "conversation-simulation"},
		{"env vars are injected", "mytool.main:env", `{}`, "regular", map[string]string{"SECRET_TOKEN": "s3cr3t", "INVOCATION_MODE": "regular"}, "s3cr3t/regular"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			res, err := callTool(t, tt.entry, tt.input, tt.mode, tt.env)
			if err != nil {
				t.Fatalf("got error %v, logs %+v", err, res.Logs)
			}
			if res.Output != tt.want {
				t.Errorf("got output %q, want %q", res.Output, tt.want)
			}
		})
	}
}

func TestToolLogs(t *testing.T) {
	res, err := callTool(t, "mytool.main:chatty", `{"text": "x1"}`, "regular", nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Output != "done" {
		t.Errorf("got output %q, want done: print() must not reach the output", res.Output)
	}
	want := []wasmrt.LogLine{
		{Level: "INFO", Source: "logging", Logger: "mytool", Message: "working on x1"},
		{Level: "WARNING", Source: "logging", Logger: "mytool", Message: "careful"},
		{Level: "INFO", Source: "stdout", Message: "printed x1"},
		{Level: "WARNING", Source: "stderr", Message: "to stderr"},
	}
	if len(res.Logs) != len(want) {
		t.Fatalf("got logs %+v, want %+v", res.Logs, want)
	}
	for i := range want {
		if res.Logs[i] != want[i] {
			t.Errorf("log %d: got %+v, want %+v", i, res.Logs[i], want[i])
		}
	}
}

func TestToolException(t *testing.T) {
	res, err := callTool(t, "mytool.main:fails", `{"text": "zzz"}`, "regular", nil)
	var exc *wasmrt.Exception
	if !errors.As(err, &exc) {
		t.Fatalf("got %v, want an *Exception", err)
	}
	if exc.Type != "ValueError" || exc.Message != "bad input: zzz" {
		t.Errorf("got %s / %q", exc.Type, exc.Message)
	}
	for _, want := range []string{"Traceback (most recent call last)", "/tool/mytool/main.py", "in inner", "ValueError: bad input: zzz"} {
		if !strings.Contains(exc.Traceback, want) {
			t.Errorf("traceback %q lacks %q", exc.Traceback, want)
		}
	}
	if res.Output != "" {
		t.Errorf("got output %q with an exception", res.Output)
	}
}

func TestToolFailures(t *testing.T) {
	tests := []struct {
		name, entry, input string
		wantType           string
	}{
		{"a value JSON cannot hold", "mytool.main:unserialisable", `{}`, "TypeError"},
		{"a missing module", "nosuch.module:run", `{}`, "ModuleNotFoundError"},
		{"a missing function", "mytool.main:nosuch", `{}`, "AttributeError"},
		{"an unexpected parameter", "mytool.main:echo", `{"text": "a", "extra": 1}`, "TypeError"},
		{"sys.exit instead of a return", "mytool.main:exits", `{}`, "RuntimeError"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := callTool(t, tt.entry, tt.input, "regular", nil)
			var exc *wasmrt.Exception
			if !errors.As(err, &exc) || exc.Type != tt.wantType {
				t.Fatalf("got %v, want a %s", err, tt.wantType)
			}
		})
	}
}

func TestToolBadCall(t *testing.T) {
	for _, entry := range []string{"", "mytool.main", "mytool/main.py:echo", "mytool.main:echo;rm", ":echo"} {
		if _, err := callTool(t, entry, `{}`, "regular", nil); err == nil {
			t.Errorf("entrypoint %q: got no error", entry)
		}
	}
	_, err := callTool(t, "mytool.main:echo", `[1, 2]`, "regular", nil)
	var exc *wasmrt.Exception
	if err == nil || errors.As(err, &exc) {
		t.Errorf("input that is not an object: got %v, want a malformed-call error", err)
	}
}
