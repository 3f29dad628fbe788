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


def variables(nonsensitive_user_variables, sensitive_user_variables):
    return {"plain": nonsensitive_user_variables, "secret": sensitive_user_variables}


def plain_variables(text: str, nonsensitive_user_variables: dict[str, str]):
    return text + ":" + ",".join(k + "=" + v for k, v in sorted(nonsensitive_user_variables.items()))


def catch_all(**kwargs):
    return sorted(kwargs)


def fd_writer(text: str):
    os.write(1, b"raw " + text.encode() + b"\n")
    print("printed", text)
    print("dunder", text, file=sys.__stdout__, flush=True)
    os.write(1, b"no newline")
    return text


def hog_list():
    blocks = []
    while True:
        blocks.append(bytearray(1 << 20))


def hog_once():
    return len(b"x" * (1 << 30))
`)},
	"mytool/shapes.py": {Data: []byte(`from dataclasses import dataclass, field
from typing import Annotated, Optional


@dataclass
class Point:
    x: float
    y: float = 0.0


@dataclass
class Route:
    name: str
    start: Point
    stops: list[Point] = field(default_factory=list)
    by_label: dict[str, Point] = field(default_factory=dict)


def describe(value):
    if isinstance(value, list):
        return [describe(v) for v in value]
    if isinstance(value, dict):
        return {k: describe(v) for k, v in value.items()}
    if hasattr(value, "__dataclass_fields__"):
        return {"class": type(value).__name__, **{k: describe(getattr(value, k)) for k in value.__dataclass_fields__}}
    return value


def point(p: Point):
    return describe(p)


def route(r: Annotated[Route, "The route"], spare: Optional[Route] = None, n: int = 0):
    return describe({"r": r, "spare": spare, "n": n})


def points(ps: list[Point], plain: dict):
    return describe({"ps": ps, "plain": plain})
`)},
	"mytool/later.py": {Data: []byte(`from __future__ import annotations

import dataclasses
import typing


@dataclasses.dataclass
class Box:
    inner: Inner


@dataclasses.dataclass
class Inner:
    size: int


def box(b: typing.Optional[Box]):
    return [type(b).__name__, type(b.inner).__name__, b.inner.size]
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

func TestToolUserVariables(t *testing.T) {
	plain := map[string]string{"region": "eu", "tier": "gold"}
	secret := map[string]string{"api_key": "k3y"}
	tests := []struct {
		name, entry, input string
		plain, secret      map[string]string
		want               string
	}{
		{"a function that declares both gets both", "mytool.main:variables", `{}`, plain, secret,
			`{"plain": {"region": "eu", "tier": "gold"}, "secret": {"api_key": "k3y"}}`},
		{"a function that declares both gets empty ones when there are none", "mytool.main:variables", `{}`, nil, nil,
			`{"plain": {}, "secret": {}}`},
		{"a function that declares one gets only that one", "mytool.main:plain_variables", `{"text": "t"}`, plain, secret,
			"t:region=eu,tier=gold"},
		{"**kwargs gets the nonsensitive ones but never the sensitive ones", "mytool.main:catch_all", `{}`, plain, secret,
			`["invocation_mode", "nonsensitive_user_variables"]`},
		{"a function that declares neither gets neither", "mytool.main:echo", `{"text": "only this"}`, plain, secret,
			"only this"},
		{"an input parameter cannot stand in for them", "mytool.main:variables",
			`{"nonsensitive_user_variables": {"forged": "1"}, "sensitive_user_variables": {"forged": "1"}}`, plain, nil,
			`{"plain": {"region": "eu", "tier": "gold"}, "secret": {}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			res, err := sandbox.RunTool(context.Background(), wasmrt.ToolCall{
				Files:                  toolFiles,
				Entrypoint:             tt.entry,
				Input:                  []byte(tt.input),
				Mode:                   "regular",
				UserVariables:          tt.plain,
				SensitiveUserVariables: tt.secret,
			})
			if err != nil {
				t.Fatalf("got error %v, logs %+v", err, res.Logs)
			}
			if res.Output != tt.want {
				t.Errorf("got output %q, want %q", res.Output, tt.want)
			}
		})
	}
}

func TestToolDataclassParameters(t *testing.T) {
	tests := []struct {
		name, entry, input string
		want               string
	}{
		{"a dataclass", "mytool.shapes:point", `{"p": {"x": 1.5}}`, `{"class": "Point", "x": 1.5, "y": 0.0}`},
		{"nested dataclasses, in lists and dicts", "mytool.shapes:route",
			`{"r": {"name": "home", "start": {"x": 1, "y": 2}, "stops": [{"x": 3}], "by_label": {"a": {"x": 4}}}, "n": 7}`,
			`{"r": {"class": "Route", "name": "home", "start": {"class": "Point", "x": 1, "y": 2}, ` +
				`"stops": [{"class": "Point", "x": 3, "y": 0.0}], "by_label": {"a": {"class": "Point", "x": 4, "y": 0.0}}}, ` +
				`"spare": null, "n": 7}`},
		{"an Optional dataclass that is given", "mytool.shapes:route",
			`{"r": {"name": "a", "start": {"x": 0}}, "spare": {"name": "b", "start": {"x": 9}}}`,
			`{"r": {"class": "Route", "name": "a", "start": {"class": "Point", "x": 0, "y": 0.0}, "stops": [], "by_label": {}}, ` +
				`"spare": {"class": "Route", "name": "b", "start": {"class": "Point", "x": 9, "y": 0.0}, "stops": [], "by_label": {}}, "n": 0}`},
		{"a list of dataclasses beside a plain dict", "mytool.shapes:points", `{"ps": [{"x": 1}, {"x": 2, "y": 3}], "plain": {"x": 1}}`,
			`{"ps": [{"class": "Point", "x": 1, "y": 0.0}, {"class": "Point", "x": 2, "y": 3}], "plain": {"x": 1}}`},
		{"annotations deferred by from __future__", "mytool.later:box", `{"b": {"inner": {"size": 3}}}`, `["Box", "Inner", 3]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			res, err := callTool(t, tt.entry, tt.input, "regular", nil)
			if err != nil {
				t.Fatalf("got error %v, logs %+v", err, res.Logs)
			}
			if res.Output != tt.want {
				t.Errorf("got output %s, want %s", res.Output, tt.want)
			}
		})
	}
}

func TestToolDataclassMismatch(t *testing.T) {
	_, err := callTool(t, "mytool.shapes:point", `{"p": {"x": 1, "z": 2}}`, "regular", nil)
	var exc *wasmrt.Exception
	if !errors.As(err, &exc) || exc.Type != "TypeError" || !strings.Contains(exc.Message, "'z'") {
		t.Errorf("got %v, want a TypeError naming the unexpected field", err)
	}
}

// TestToolStdoutIsNotOutput: what a tool writes to file descriptor 1 itself
// never reaches its output; it is logged.
func TestToolStdoutIsNotOutput(t *testing.T) {
	tests := []struct {
		name, input, want string
		wantLogs          []string
	}{
		{"os.write(1), print and sys.__stdout__", `{"text": "x1"}`, "x1", []string{"raw x1", "printed x1", "dunder x1", "no newline"}},
		{"an output that looks like a log line", `{"text": "raw y"}`, "raw y", []string{"raw raw y", "dunder raw y"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			res, err := callTool(t, "mytool.main:fd_writer", tt.input, "regular", nil)
			if err != nil {
				t.Fatalf("got error %v, logs %+v", err, res.Logs)
			}
			if res.Output != tt.want {
				t.Errorf("got output %q, want exactly %q", res.Output, tt.want)
			}
			for _, want := range tt.wantLogs {
				found := false
				for _, l := range res.Logs {
					found = found || (l.Source == "stdout" && l.Message == want)
				}
				if !found {
					t.Errorf("logs %+v lack stdout line %q", res.Logs, want)
				}
			}
		})
	}
}

// TestToolMemoryCap: a tool that allocates past its memory cap ends with a
// memory-limit RunError carrying the MemoryError's Python traceback.
func TestToolMemoryCap(t *testing.T) {
	tests := []struct{ name, entry, frame string }{
		{"a list grown a megabyte at a time", "mytool.main:hog_list", "in hog_list"},
		{"one allocation past the cap", "mytool.main:hog_once", "in hog_once"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := sandbox.RunTool(context.Background(), wasmrt.ToolCall{
				Files: toolFiles, Entrypoint: tt.entry, Input: []byte(`{}`), Mode: "regular",
				Limits: wasmrt.Limits{MemoryBytes: 128 << 20},
			})
			var re *wasmrt.RunError
			if !errors.As(err, &re) || re.Kind != wasmrt.KindMemoryLimit {
				t.Fatalf("got %v, want a memory-limit RunError", err)
			}
			for _, want := range []string{"Traceback (most recent call last)", "/tool/mytool/main.py", tt.frame, "MemoryError"} {
				if !strings.Contains(re.Traceback, want) {
					t.Errorf("traceback %q lacks %q", re.Traceback, want)
				}
			}
			if strings.Contains(re.Traceback, `"kind"`) {
				t.Errorf("traceback %q holds a harness record", re.Traceback)
			}
			if res.Output != "" {
				t.Errorf("got output %q", res.Output)
			}
		})
	}
}
