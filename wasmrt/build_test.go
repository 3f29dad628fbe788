package wasmrt_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/compadre-dev/compadre/wasmrt"
)

// typesPrelude declares the types the schema tests refer to.
const typesPrelude = `import collections.abc
import enum
import typing
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal, NotRequired, Optional, Required, TypedDict, Union


class Color(enum.Enum):
    RED = "red"
    GREEN = "green"


class Size(enum.IntEnum):
    S = 1
    M = 2


class Movie(TypedDict):
    title: str
    year: NotRequired[int]


class Filters(TypedDict, total=False):
    genre: str
    since: Required[int]


@dataclass
class Point:
    x: float
    y: float = 0.0
    tags: list[str] = field(default_factory=list)


@dataclass
class Route:
    start: Point
    stops: list[Point]
    name: Annotated[str, "What to call it"] = "route"


UserID = typing.NewType("UserID", int)
type Tags = list[str]

`

// buildFiles is a project of one module, typed/main.py: the prelude and
// then src.
func buildFiles(src string) fstest.MapFS {
	return fstest.MapFS{
		"typed/__init__.py": {Data: []byte("")},
		"typed/main.py":     {Data: []byte(typesPrelude + src)},
	}
}

func build(t *testing.T, call wasmrt.BuildCall) wasmrt.BuildReport {
	t.Helper()
	rep, err := sandbox.BuildTool(context.Background(), call)
	if err != nil {
		t.Fatalf("got error %v", err)
	}
	return rep
}

// sameJSON says whether two JSON texts hold the same value.
func sameJSON(t *testing.T, got []byte, want string) bool {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("got %q: %v", got, err)
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("want %q: %v", want, err)
	}
	return reflect.DeepEqual(g, w)
}

// TestBuildSchemaTypes derives the schema of one parameter, x, per type
// hint.
func TestBuildSchemaTypes(t *testing.T) {
	tests := []struct {
		name, hint string
		want       string // x's schema
	}{
		{"str", "str", `{"type": "string"}`},
		{"int", "int", `{"type": "integer"}`},
		{"float", "float", `{"type": "number"}`},
		{"bool", "bool", `{"type": "boolean"}`},
		{"None", "None", `{"type": "null"}`},
		{"Any", "Any", `{}`},
		{"list", "list[int]", `{"type": "array", "items": {"type": "integer"}}`},
		{"bare list", "list", `{"type": "array"}`},
		{"typing.List", "typing.List[str]", `{"type": "array", "items": {"type": "string"}}`},
		{"Sequence", "collections.abc.Sequence[bool]", `{"type": "array", "items": {"type": "boolean"}}`},
		{"tuple of any length", "tuple[int, ...]", `{"type": "array", "items": {"type": "integer"}}`},
		{"tuple of fixed length", "tuple[float, str]",
			`{"type": "array", "prefixItems": [{"type": "number"}, {"type": "string"}], "minItems": 2, "maxItems": 2}`},
		{"set", "set[str]", `{"type": "array", "uniqueItems": true, "items": {"type": "string"}}`},
		{"frozenset", "frozenset[int]", `{"type": "array", "uniqueItems": true, "items": {"type": "integer"}}`},
		{"dict", "dict[str, int]", `{"type": "object", "additionalProperties": {"type": "integer"}}`},
		{"Mapping", "typing.Mapping[str, list[float]]",
			`{"type": "object", "additionalProperties": {"type": "array", "items": {"type": "number"}}}`},
		{"bare dict", "dict", `{"type": "object"}`},
		{"Literal of one type", `Literal["metric", "imperial"]`, `{"type": "string", "enum": ["metric", "imperial"]}`},
		{"Literal of mixed types", `Literal[1, "one", None]`, `{"enum": [1, "one", null]}`},
		{"Optional", "Optional[int]", `{"anyOf": [{"type": "integer"}, {"type": "null"}]}`},
		{"X | None", "str | None", `{"anyOf": [{"type": "string"}, {"type": "null"}]}`},
		{"Union", "Union[int, str, list[str]]",
			`{"anyOf": [{"type": "integer"}, {"type": "string"}, {"type": "array", "items": {"type": "string"}}]}`},
		{"TypedDict", "Movie", `{"type": "object", "properties": {"title": {"type": "string"}, "year": {"type": "integer"}},
			"required": ["title"], "additionalProperties": false}`},
		{"TypedDict with total=False and Required", "Filters",
			`{"type": "object", "properties": {"genre": {"type": "string"}, "since": {"type": "integer"}},
			"required": ["since"], "additionalProperties": false}`},
		{"dataclass", "Point", `{"type": "object", "properties": {"x": {"type": "number"},
			"y": {"type": "number", "default": 0.0}, "tags": {"type": "array", "items": {"type": "string"}}},
			"required": ["x"], "additionalProperties": false}`},
		{"nested dataclasses", "Route", `{"type": "object", "properties": {
			"start": {"type": "object", "properties": {"x": {"type": "number"},
				"y": {"type": "number", "default": 0.0}, "tags": {"type": "array", "items": {"type": "string"}}},
				"required": ["x"], "additionalProperties": false},
			"stops": {"type": "array", "items": {"type": "object", "properties": {"x": {"type": "number"},
				"y": {"type": "number", "default": 0.0}, "tags": {"type": "array", "items": {"type": "string"}}},
				"required": ["x"], "additionalProperties": false}},
			"name": {"type": "string", "description": "What to call it", "default": "route"}},
			"required": ["start", "stops"], "additionalProperties": false}`},
		{"Annotated", `Annotated[str, "The city, in English"]`, `{"type": "string", "description": "The city, in English"}`},
		{"Annotated takes its first str", `Annotated[int, 3, "Days ahead", "not this"]`,
			`{"type": "integer", "description": "Days ahead"}`},
		{"Annotated inside a list", `list[Annotated[str, "A tag"]]`,
			`{"type": "array", "items": {"type": "string", "description": "A tag"}}`},
		{"Enum", "Color", `{"type": "string", "enum": ["red", "green"]}`},
		{"IntEnum", "Size", `{"type": "integer", "enum": [1, 2]}`},
		{"Optional list of TypedDicts", "Optional[list[Movie]]", `{"anyOf": [{"type": "array", "items": {"type": "object",
			"properties": {"title": {"type": "string"}, "year": {"type": "integer"}}, "required": ["title"],
			"additionalProperties": false}}, {"type": "null"}]}`},
		{"NewType", "UserID", `{"type": "integer"}`},
		{"type alias", "Tags", `{"type": "array", "items": {"type": "string"}}`},
	}
	var src strings.Builder
	for i, tt := range tests {
		fmt.Fprintf(&src, "def case%d(x: %s):\n    pass\n\n", i, tt.hint)
	}
	files := buildFiles(src.String())
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rep := build(t, wasmrt.BuildCall{Files: files, Entrypoint: fmt.Sprintf("typed.main:case%d", i), DeriveSchema: true})
			if len(rep.Problems) > 0 {
				t.Fatalf("got problems %q", rep.Problems)
			}
			want := `{"type": "object", "properties": {"x": ` + tt.want + `}, "required": ["x"], "additionalProperties": false}`
			if !sameJSON(t, rep.InputSchema, want) {
				t.Errorf("got schema %s, want %s", rep.InputSchema, want)
			}
		})
	}
}

// TestBuildSchema covers what a schema says beyond each parameter's type.
func TestBuildSchema(t *testing.T) {
	files := buildFiles(`import os

DEFAULT_CITY = os.environ.get("DEFAULT_CITY", "unset")


def defaults(city: str, days: int = 3, unit: Literal["c", "f"] = "c", color: Color = Color.GREEN,
             around: tuple[float, float] = (1.5, 2.5), note: Optional[str] = None, opaque: Any = object()):
    pass


def keyword_only(query: str, *, limit: int = 10, verbose: bool):
    pass


def open_ended(query: str, **extra):
    pass


def platform(city: str, invocation_mode: str, nonsensitive_user_variables: dict[str, str],
             sensitive_user_variables: dict[str, str] = None):
    pass


def documented(city: str):
    """Get the weather.

    Uses the public forecast service.
    """


def from_env(city: str = DEFAULT_CITY):
    pass


class Tools:
    @staticmethod
    def nested(q: str):
        pass
`)
	tests := []struct {
		name, entry string
		env         map[string]string
		want        string
	}{
		{
			name:  "defaults are given when JSON can hold them, and make parameters optional",
			entry: "typed.main:defaults",
			want: `{"type": "object", "properties": {
				"city": {"type": "string"},
				"days": {"type": "integer", "default": 3},
				"unit": {"type": "string", "enum": ["c", "f"], "default": "c"},
				"color": {"type": "string", "enum": ["red", "green"], "default": "green"},
				"around": {"type": "array", "prefixItems": [{"type": "number"}, {"type": "number"}],
					"minItems": 2, "maxItems": 2, "default": [1.5, 2.5]},
				"note": {"anyOf": [{"type": "string"}, {"type": "null"}], "default": null},
				"opaque": {}},
				"required": ["city"], "additionalProperties": false}`,
		},
		{
			name:  "keyword-only parameters",
			entry: "typed.main:keyword_only",
			want: `{"type": "object", "properties": {"query": {"type": "string"},
				"limit": {"type": "integer", "default": 10}, "verbose": {"type": "boolean"}},
				"required": ["query", "verbose"], "additionalProperties": false}`,
		},
		{
			name:  "**kwargs allows other properties",
			entry: "typed.main:open_ended",
			want: `{"type": "object", "properties": {"query": {"type": "string"}}, "required": ["query"],
				"additionalProperties": true}`,
		},
		{
			name:  "the platform's parameters are left out",
			entry: "typed.main:platform",
			want: `{"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"],
				"additionalProperties": false}`,
		},
		{
			name:  "the docstring is the description",
			entry: "typed.main:documented",
			want: `{"type": "object", "description": "Get the weather.\n\nUses the public forecast service.",
				"properties": {"city": {"type": "string"}}, "required": ["city"], "additionalProperties": false}`,
		},
		{
			name:  "the environment is there when the module is imported",
			entry: "typed.main:from_env",
			env:   map[string]string{"DEFAULT_CITY": "Lisbon"},
			want: `{"type": "object", "properties": {"city": {"type": "string", "default": "Lisbon"}}, "required": [],
				"additionalProperties": false}`,
		},
		{
			name:  "a dotted entrypoint",
			entry: "typed.main:Tools.nested",
			want: `{"type": "object", "properties": {"q": {"type": "string"}}, "required": ["q"],
				"additionalProperties": false}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rep := build(t, wasmrt.BuildCall{Files: files, Entrypoint: tt.entry, DeriveSchema: true, Env: tt.env})
			if len(rep.Problems) > 0 {
				t.Fatalf("got problems %q", rep.Problems)
			}
			if !sameJSON(t, rep.InputSchema, tt.want) {
				t.Errorf("got schema %s, want %s", rep.InputSchema, tt.want)
			}
			if rep.Modules != 2 {
				t.Errorf("got %d modules, want 2", rep.Modules)
			}
		})
	}
}

// TestBuildProblems builds projects that are wrong in one way each.
func TestBuildProblems(t *testing.T) {
	const supported = "which has no JSON Schema equivalent; use str, int, float, bool, None, Any, list, tuple, set, " +
		"dict[str, ...], Literal, an Enum, a TypedDict, a dataclass, or a union of these"
	weather := func(main string, more ...string) fstest.MapFS {
		files := fstest.MapFS{
			"weather/__init__.py": {Data: []byte("")},
			"weather/main.py":     {Data: []byte(main)},
		}
		for i := 0; i+1 < len(more); i += 2 {
			files[more[i]] = &fstest.MapFile{Data: []byte(more[i+1])}
		}
		return files
	}
	const run = "def run(city: str):\n    return city\n"
	tests := []struct {
		name        string
		files       fstest.MapFS
		entry       string
		want        []string
		wantModules int
	}{
		{
			name:        "a syntax error in a module the entrypoint does not import",
			files:       weather(run, "weather/util.py", "import os\n\ndef helper(:\n    pass\n"),
			entry:       "weather.main:run",
			want:        []string{"weather/util.py:3: invalid syntax"},
			wantModules: 2,
		},
		{
			name:        "a syntax error in the entrypoint's module is reported once",
			files:       weather("def run(city: str)\n    return city\n"),
			entry:       "weather.main:run",
			want:        []string{"weather/main.py:1: expected ':'"},
			wantModules: 1,
		},
		{
			name:  "syntax errors in several modules",
			files: weather(run, "weather/a.py", "x = (\n", "weather/deep/b.py", "def f():\nreturn 1\n"),
			entry: "weather.main:run",
			want: []string{
				"weather/a.py:1: '(' was never closed",
				"weather/deep/b.py:2: expected an indented block after function definition on line 1",
			},
			wantModules: 2,
		},
		{
			name:        "an exception while importing",
			files:       weather("import os\n\nTOKEN = os.environ['API_TOKEN']\n" + run),
			entry:       "weather.main:run",
			want:        []string{"weather/main.py:3: importing weather.main raised KeyError: 'API_TOKEN'"},
			wantModules: 2,
		},
		{
			name:        "an exception in a module the entrypoint imports",
			files:       weather("from weather import util\n"+run, "weather/util.py", "import os\n\n\n1 / 0\n"),
			entry:       "weather.main:run",
			want:        []string{"weather/util.py:4: importing weather.main raised ZeroDivisionError: division by zero"},
			wantModules: 3,
		},
		{
			name:        "a dependency that is not there",
			files:       weather("import nosuchdependency\n" + run),
			entry:       "weather.main:run",
			want:        []string{"weather/main.py:1: importing weather.main raised ModuleNotFoundError: No module named 'nosuchdependency'"},
			wantModules: 2,
		},
		{
			name:        "sys.exit while importing",
			files:       weather("import sys\nsys.exit(3)\n"),
			entry:       "weather.main:run",
			want:        []string{"weather/main.py:2: importing weather.main called sys.exit()"},
			wantModules: 2,
		},
		{
			name:        "a module that is not in the project",
			files:       weather(run),
			entry:       "weather.forecast:run",
			want:        []string{"the entrypoint's module weather.forecast is not in the project: there is no weather/forecast.py or weather/forecast/__init__.py"},
			wantModules: 2,
		},
		{
			name:        "a missing function",
			files:       weather(run),
			entry:       "weather.main:forecast",
			want:        []string{"module weather.main defines no forecast, which the entrypoint weather.main:forecast names"},
			wantModules: 2,
		},
		{
			name:        "a missing method",
			files:       weather("class Tools:\n    pass\n"),
			entry:       "weather.main:Tools.run",
			want:        []string{"weather.main.Tools defines no run, which the entrypoint weather.main:Tools.run names"},
			wantModules: 2,
		},
		{
			name:        "an entrypoint that is not callable",
			files:       weather("VERSION = '1.0'\n"),
			entry:       "weather.main:VERSION",
			want:        []string{"the entrypoint weather.main:VERSION is a str, not a function"},
			wantModules: 2,
		},
		{
			name:        "a parameter without a type hint",
			files:       weather("def run(city, days: int = 1):\n    pass\n"),
			entry:       "weather.main:run",
			want:        []string{"parameter city has no type hint, so its schema cannot be derived: annotate it, e.g. city: str"},
			wantModules: 2,
		},
		{
			name:        "*args",
			files:       weather("def run(city: str, *more: str):\n    pass\n"),
			entry:       "weather.main:run",
			want:        []string{"parameter *more: a tool is called with keyword arguments only, so it cannot take *more"},
			wantModules: 2,
		},
		{
			name:        "a positional-only parameter",
			files:       weather("def run(city: str, /, days: int = 1):\n    pass\n"),
			entry:       "weather.main:run",
			want:        []string{"parameter city is positional-only (it comes before /): a tool is called with keyword arguments only"},
			wantModules: 2,
		},
		{
			name:        "an unsupported type",
			files:       weather("def run(blob: bytes, city: str):\n    pass\n"),
			entry:       "weather.main:run",
			want:        []string{"parameter blob has type bytes, " + supported},
			wantModules: 2,
		},
		{
			name:        "a plain class inside a dataclass",
			files:       weather("from dataclasses import dataclass\n\nclass Place:\n    pass\n\n@dataclass\nclass Trip:\n    stops: list[Place]\n\ndef run(trip: Trip):\n    pass\n"),
			entry:       "weather.main:run",
			want:        []string{"parameter trip has type weather.main.Place at trip.stops[*], " + supported},
			wantModules: 2,
		},
		{
			name:        "dict keys that are not str",
			files:       weather("def run(scores: dict[int, str]):\n    pass\n"),
			entry:       "weather.main:run",
			want:        []string{"parameter scores has type dict[int, str], whose keys are not str: JSON object keys are strings"},
			wantModules: 2,
		},
		{
			name:        "a recursive type",
			files:       weather("from typing import TypedDict\n\nclass Node(TypedDict):\n    children: list['Node']\n\ndef run(tree: Node):\n    pass\n"),
			entry:       "weather.main:run",
			want:        []string{"parameter tree has type weather.main.Node at tree.children[*], which contains itself: recursive types are not supported"},
			wantModules: 2,
		},
		{
			name:        "a type hint that does not resolve",
			files:       weather("def run(city: Town):\n    pass\n"),
			entry:       "weather.main:run",
			want:        []string{"the type hints of weather.main:run cannot be evaluated: NameError: name 'Town' is not defined"},
			wantModules: 2,
		},
		{
			name:  "several problems at once",
			files: weather("def run(city, *rest, blob: bytes):\n    pass\n", "weather/x.py", "("),
			entry: "weather.main:run",
			want: []string{
				"weather/x.py:1: '(' was never closed",
				"parameter city has no type hint, so its schema cannot be derived: annotate it, e.g. city: str",
				"parameter *rest: a tool is called with keyword arguments only, so it cannot take *rest",
				"parameter blob has type bytes, " + supported,
			},
			wantModules: 2,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rep := build(t, wasmrt.BuildCall{Files: tt.files, Entrypoint: tt.entry, DeriveSchema: true})
			if !slices.Equal(rep.Problems, tt.want) {
				t.Errorf("got problems\n%q\nwant\n%q", rep.Problems, tt.want)
			}
			if rep.InputSchema != nil {
				t.Errorf("got schema %s with problems", rep.InputSchema)
			}
			if rep.Modules != tt.wantModules {
				t.Errorf("got %d modules, want %d", rep.Modules, tt.wantModules)
			}
		})
	}
}

// TestBuildWithoutSchema checks the project but leaves the parameters to
// a schema the author writes.
func TestBuildWithoutSchema(t *testing.T) {
	tests := []struct {
		name  string
		src   string
		entry string
		want  []string
	}{
		{"parameters are not looked at", "def run(city, *rest, blob: bytes):\n    pass\n", "weather:run", nil},
		{"the function must still exist", "def run(city):\n    pass\n", "weather:forecast",
			[]string{"module weather defines no forecast, which the entrypoint weather:forecast names"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rep := build(t, wasmrt.BuildCall{Files: fstest.MapFS{"weather.py": {Data: []byte(tt.src)}}, Entrypoint: tt.entry})
			if !slices.Equal(rep.Problems, tt.want) || rep.InputSchema != nil || rep.Modules != 1 {
				t.Errorf("got %q, schema %s, %d modules; want %q, no schema, 1 module", rep.Problems, rep.InputSchema, rep.Modules, tt.want)
			}
		})
	}
}

// TestBuildOutputAtImport builds a tool that writes while it is imported,
// through Python and below it, and still gets the report.
func TestBuildOutputAtImport(t *testing.T) {
	files := fstest.MapFS{"noisy.py": {Data: []byte(`import logging
import os
import sys

print('{"problems": ["not from the build"]}')
sys.stderr.write("to stderr\n")
logging.getLogger("noisy").warning("a warning")
os.write(1, b'{"problems": ["below python"]} and no newline')
os.write(2, b"raw stderr\n")


def run(city: str):
    pass
`)}}
	rep := build(t, wasmrt.BuildCall{Files: files, Entrypoint: "noisy:run", DeriveSchema: true})
	want := `{"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"], "additionalProperties": false}`
	if len(rep.Problems) > 0 || !sameJSON(t, rep.InputSchema, want) {
		t.Errorf("got problems %q, schema %s; want none and %s", rep.Problems, rep.InputSchema, want)
	}
}

// TestBuildFailures are builds that end as errors, not as problems.
func TestBuildFailures(t *testing.T) {
	tests := []struct {
		name    string
		call    wasmrt.BuildCall
		wantErr error // nil: any error that is not a *RunError
	}{
		{
			name: "an import that never ends",
			call: wasmrt.BuildCall{
				Files:      fstest.MapFS{"slow.py": {Data: []byte("while True:\n    pass\n")}},
				Entrypoint: "slow:run",
				Limits:     wasmrt.Limits{Timeout: time.Second},
			},
			wantErr: wasmrt.ErrTimeout,
		},
		{
			name: "an import that takes too much memory",
			call: wasmrt.BuildCall{
				Files:      fstest.MapFS{"big.py": {Data: []byte("x = bytearray(512 << 20)\n")}},
				Entrypoint: "big:run",
			},
			wantErr: wasmrt.ErrMemoryLimit,
		},
		{name: "an entrypoint without a function", call: wasmrt.BuildCall{Entrypoint: "weather.main"}},
		{name: "an entrypoint that is a path", call: wasmrt.BuildCall{Entrypoint: "weather/main.py:run"}},
		{name: "an entrypoint with more than a name", call: wasmrt.BuildCall{Entrypoint: "weather:run --no-schema"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := sandbox.BuildTool(context.Background(), tt.call)
			var re *wasmrt.RunError
			switch {
			case tt.wantErr != nil && !errors.Is(err, tt.wantErr):
				t.Errorf("got %v, want %v", err, tt.wantErr)
			case tt.wantErr == nil && (err == nil || errors.As(err, &re)):
				t.Errorf("got %v, want an error about the call", err)
			}
		})
	}
}

func ExampleRuntime_BuildTool() {
	src := `from typing import Annotated


def run(name: Annotated[str, "Who to greet"], times: int = 1):
    """Greets someone."""
    return ("hello " + name + "\n") * times
`
	rep, err := sandbox.BuildTool(context.Background(), wasmrt.BuildCall{
		Files:        fstest.MapFS{"greet.py": {Data: []byte(src)}},
		Entrypoint:   "greet:run",
		DeriveSchema: true,
	})
	fmt.Println(len(rep.Problems), rep.Modules, err)
	fmt.Println(string(rep.InputSchema))
	// Output:
	// 0 1 <nil>
	// {"type":"object","description":"Greets someone.","properties":{"name":{"type":"string","description":"Who to greet"},"times":{"type":"integer","default":1}},"required":["name"],"additionalProperties":false}
}
