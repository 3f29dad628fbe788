package tools

import (
	"errors"
	"maps"
	"slices"
	"strings"
	"testing"
)

const validPyproject = `[project]
name = "weather"
version = "0.1.0"
requires-python = ">=3.14"

[tool.ruff]
target-version = "py314"

[tool.amigo]
entrypoint = "weather.main:run"
envvars = ["API_BASE"]
secret_envvars = ["API_KEY"]
`

// validFiles is a valid project; tests change one thing at a time.
func validFiles() map[string][]byte {
	return map[string][]byte{
		"pyproject.toml":      []byte(validPyproject),
		"weather/__init__.py": nil,
		"weather/main.py":     []byte("def run(city):\n    return city\n"),
	}
}

func TestParseProjectValid(t *testing.T) {
	t.Parallel()
	schema := `{"type": "object", "properties": {"city": {"type": "string"}}}`
	tests := []struct {
		name    string
		replace []string // old, new pairs applied to validPyproject
		files   map[string]string
		remove  []string
		want    Project
	}{
		{
			name: "the example project",
			want: Project{
				Name: "weather", Version: "0.1.0", RequiresPython: ">=3.14", RuffTarget: "py314",
				Entrypoint: "weather.main:run", EnvVars: []string{"API_BASE"}, SecretEnvVars: []string{"API_KEY"},
			},
		},
		{
			name:  "with an input schema",
			files: map[string]string{"input_schema.json": schema},
			want: Project{
				Name: "weather", Version: "0.1.0", RequiresPython: ">=3.14", RuffTarget: "py314",
				Entrypoint: "weather.main:run", EnvVars: []string{"API_BASE"}, SecretEnvVars: []string{"API_KEY"},
				InputSchema: []byte(schema),
			},
		},
		{
			name: "without env vars, module as a package, newer Python",
			replace: []string{
				`envvars = ["API_BASE"]`, "",
				`secret_envvars = ["API_KEY"]`, "",
				`"weather.main:run"`, `"weather.api.v2:handle_request"`,
				`">=3.14"`, `"~=3.15"`,
				`"py314"`, `"py320"`,
			},
			files:  map[string]string{"weather/api/v2/__init__.py": "def handle_request(): pass\n"},
			remove: []string{"weather/main.py"},
			want: Project{
				Name: "weather", Version: "0.1.0", RequiresPython: "~=3.15", RuffTarget: "py320",
				Entrypoint: "weather.api.v2:handle_request",
			},
		},
		{
			name: "dotted keys and an upper bound",
			replace: []string{
				"[tool.ruff]\ntarget-version", "[tool]\nruff.target-version",
				"[tool.amigo]\nentrypoint", "amigo.entrypoint",
				"envvars = ", "amigo.envvars = ",
				"secret_envvars = ", "amigo.secret_envvars = ",
				`">=3.14"`, `" >= 3.14 , < 4 "`,
			},
			want: Project{
				Name: "weather", Version: "0.1.0", RequiresPython: " >= 3.14 , < 4 ", RuffTarget: "py314",
				Entrypoint: "weather.main:run", EnvVars: []string{"API_BASE"}, SecretEnvVars: []string{"API_KEY"},
			},
		},
		{
			name:    "soft keywords are identifiers",
			replace: []string{`"weather.main:run"`, `"weather.match:type"`},
			files:   map[string]string{"weather/match.py": "def type(): pass\n"},
			want: Project{
				Name: "weather", Version: "0.1.0", RequiresPython: ">=3.14", RuffTarget: "py314",
				Entrypoint: "weather.match:type", EnvVars: []string{"API_BASE"}, SecretEnvVars: []string{"API_KEY"},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			files := projectFiles(t, tt.replace, tt.files, tt.remove)
			got, err := ParseProject(files)
			if err != nil {
				t.Fatalf("ParseProject: %v", err)
			}
			if got.Name != tt.want.Name || got.Version != tt.want.Version ||
				got.RequiresPython != tt.want.RequiresPython || got.RuffTarget != tt.want.RuffTarget ||
				got.Entrypoint != tt.want.Entrypoint ||
				!slices.Equal(got.EnvVars, tt.want.EnvVars) || !slices.Equal(got.SecretEnvVars, tt.want.SecretEnvVars) ||
				string(got.InputSchema) != string(tt.want.InputSchema) {
				t.Errorf("ParseProject =\n%+v\nwant\n%+v", got, tt.want)
			}
			if tt.want.InputSchema == nil && got.InputSchema != nil {
				t.Errorf("InputSchema = %q, want nil without input_schema.json", got.InputSchema)
			}
		})
	}
}

func TestParseProjectProblems(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		replace []string // old, new pairs applied to validPyproject
		files   map[string]string
		remove  []string
		// want holds one fragment per expected problem, in order.
		want []string
	}{
		{
			name:   "no pyproject.toml",
			remove: []string{"pyproject.toml"},
			want:   []string{"pyproject.toml is missing"},
		},
		{
			name:    "unterminated string",
			replace: []string{`name = "weather"`, `name = "weather`},
			want:    []string{"pyproject.toml: invalid TOML at line 2, column "},
		},
		{
			name:    "duplicate key",
			replace: []string{`version = "0.1.0"`, `version = "0.1.0"` + "\nversion = \"0.2.0\""},
			want:    []string{"pyproject.toml: invalid TOML at line 4, column 1:"},
		},
		{
			name:    "no [project] table",
			replace: []string{"[project]\n", "", `name = "weather"`, "", `version = "0.1.0"`, "", `requires-python = ">=3.14"`, ""},
			want: []string{
				"pyproject.toml: [project] name is missing",
				"pyproject.toml: [project] version is missing",
				"pyproject.toml: [project] requires-python is missing",
			},
		},
		{
			name:    "project is not a table",
			replace: []string{"[project]\n", "project = 1\n[other]\n"},
			want: []string{
				"pyproject.toml: [project] must be a table, not an integer",
				"pyproject.toml: [project] name is missing",
				"pyproject.toml: [project] version is missing",
				"pyproject.toml: [project] requires-python is missing",
			},
		},
		{
			name:    "name missing",
			replace: []string{`name = "weather"`, ""},
			want:    []string{"pyproject.toml: [project] name is missing"},
		},
		{
			name:    "name empty",
			replace: []string{`name = "weather"`, `name = "  "`},
			want:    []string{"pyproject.toml: [project] name is empty"},
		},
		{
			name:    "name not a string",
			replace: []string{`name = "weather"`, `name = ["weather"]`},
			want:    []string{"pyproject.toml: [project] name must be a string, not an array"},
		},
		{
			name:    "version missing",
			replace: []string{`version = "0.1.0"`, ""},
			want:    []string{"pyproject.toml: [project] version is missing"},
		},
		{
			name:    "version not a string",
			replace: []string{`version = "0.1.0"`, `version = 0.1`},
			want:    []string{"pyproject.toml: [project] version must be a string, not a float"},
		},
		{
			name:    "requires-python missing",
			replace: []string{`requires-python = ">=3.14"`, ""},
			want:    []string{"pyproject.toml: [project] requires-python is missing"},
		},
		{
			name:    "requires-python a bare version",
			replace: []string{`">=3.14"`, `"3.14"`},
			want:    []string{`pyproject.toml: requires-python "3.14" is not a valid PEP 440 specifier set: clause "3.14" does not start with an operator`},
		},
		{
			name:    "requires-python alternatives",
			replace: []string{`">=3.14"`, `">=3.14 || <3"`},
			want:    []string{`pyproject.toml: requires-python ">=3.14 || <3" is not a valid PEP 440 specifier set`},
		},
		{
			name:    "requires-python wildcard with ordering",
			replace: []string{`">=3.14"`, `">=3.*"`},
			want:    []string{`pyproject.toml: requires-python ">=3.*" is not a valid PEP 440 specifier set: clause ">=3.*": a wild card is not allowed`},
		},
		{
			name:    "requires-python admits an old minor",
			replace: []string{`">=3.14"`, `">=3.8"`},
			want:    []string{`pyproject.toml: requires-python ">=3.8" admits Python 3.8, but tools run on Python 3.14 and newer`},
		},
		{
			name:    "requires-python with only an upper bound",
			replace: []string{`">=3.14"`, `"<4"`},
			want:    []string{`pyproject.toml: requires-python "<4" admits Python 3.0, but tools run on Python 3.14 and newer`},
		},
		{
			name:    "requires-python admits late patches of 3.13",
			replace: []string{`">=3.14"`, `">3.13"`},
			want:    []string{`pyproject.toml: requires-python ">3.13" admits Python 3.13.99, but tools run on Python 3.14 and newer`},
		},
		{
			name:    "requires-python excluding one old minor",
			replace: []string{`">=3.14"`, `"!=3.13.*"`},
			want:    []string{`pyproject.toml: requires-python "!=3.13.*" admits Python 3.0,`},
		},
		{
			name:    "requires-python admits only newer releases",
			replace: []string{`">=3.14"`, `">=3.21"`},
			want:    []string{`pyproject.toml: requires-python ">=3.21" admits none of Python 3.14 to 3.20`},
		},
		{
			name:    "requires-python admits only Python 4",
			replace: []string{`">=3.14"`, `"~=4.0"`},
			want:    []string{`pyproject.toml: requires-python "~=4.0" admits none of Python 3.14 to 3.20`},
		},
		{
			name:    "requires-python pinned to a patch release",
			replace: []string{`">=3.14"`, `"==3.14.5"`},
			want:    []string{`pyproject.toml: requires-python "==3.14.5" admits none of Python 3.14 to 3.20`},
		},
		{
			name:    "ruff target-version missing",
			replace: []string{`target-version = "py314"`, ""},
			want:    []string{"pyproject.toml: [tool.ruff] target-version is missing"},
		},
		{
			name:    "no tool tables",
			replace: []string{"[tool.ruff]\n", "", `target-version = "py314"`, "", "[tool.amigo]\n", "", `entrypoint = "weather.main:run"`, "", `envvars = ["API_BASE"]`, "", `secret_envvars = ["API_KEY"]`, ""},
			want: []string{
				"pyproject.toml: [tool.ruff] target-version is missing",
				"pyproject.toml: [tool.amigo] entrypoint is missing",
			},
		},
		{
			name:    "ruff target too old",
			replace: []string{`"py314"`, `"py313"`},
			want:    []string{`pyproject.toml: [tool.ruff] target-version "py313" must be py314 or newer`},
		},
		{
			name:    "ruff target one digit",
			replace: []string{`"py314"`, `"py38"`},
			want:    []string{`pyproject.toml: [tool.ruff] target-version "py38" must be py314 or newer`},
		},
		{
			name:    "ruff target with leading zero",
			replace: []string{`"py314"`, `"py3014"`},
			want:    []string{`pyproject.toml: [tool.ruff] target-version "py3014" must be py314 or newer`},
		},
		{
			name:    "ruff target upper case",
			replace: []string{`"py314"`, `"PY314"`},
			want:    []string{`pyproject.toml: [tool.ruff] target-version "PY314" must be py314 or newer`},
		},
		{
			name:    "ruff target a Python version",
			replace: []string{`"py314"`, `"3.14"`},
			want:    []string{`pyproject.toml: [tool.ruff] target-version "3.14" must be py314 or newer`},
		},
		{
			name:    "entrypoint missing",
			replace: []string{`entrypoint = "weather.main:run"`, ""},
			want:    []string{"pyproject.toml: [tool.amigo] entrypoint is missing"},
		},
		{
			name:    "entrypoint without function",
			replace: []string{`"weather.main:run"`, `"weather.main"`},
			want:    []string{`pyproject.toml: [tool.amigo] entrypoint "weather.main" must look like "package.module:function"`},
		},
		{
			name:    "entrypoint without package",
			replace: []string{`"weather.main:run"`, `"main:run"`},
			want:    []string{`entrypoint "main:run" must look like "package.module:function"`},
		},
		{
			name:    "entrypoint with empty function",
			replace: []string{`"weather.main:run"`, `"weather.main:"`},
			want:    []string{`entrypoint "weather.main:" must look like`},
		},
		{
			name:    "entrypoint with empty module part",
			replace: []string{`"weather.main:run"`, `"weather..main:run"`},
			want:    []string{`entrypoint "weather..main:run" must look like`},
		},
		{
			name:    "entrypoint with dotted function",
			replace: []string{`"weather.main:run"`, `"weather.main:Tool.run"`},
			want:    []string{`entrypoint "weather.main:Tool.run" must look like`},
		},
		{
			name:    "entrypoint with two colons",
			replace: []string{`"weather.main:run"`, `"weather.main:run:x"`},
			want:    []string{`entrypoint "weather.main:run:x" must look like`},
		},
		{
			name:    "entrypoint starting with a digit",
			replace: []string{`"weather.main:run"`, `"1weather.main:run"`},
			want:    []string{`entrypoint "1weather.main:run" must look like`},
		},
		{
			name:    "entrypoint with a path",
			replace: []string{`"weather.main:run"`, `"weather/main.py:run"`},
			want:    []string{`entrypoint "weather/main.py:run" must look like`},
		},
		{
			name:    "entrypoint naming a keyword",
			replace: []string{`"weather.main:run"`, `"weather.class:run"`},
			want:    []string{`entrypoint "weather.class:run" must look like`},
		},
		{
			name:    "entrypoint module not in the project",
			replace: []string{`"weather.main:run"`, `"weather.other:run"`},
			want:    []string{`pyproject.toml: [tool.amigo] entrypoint "weather.other:run" names module weather.other, but neither weather/other.py nor weather/other/__init__.py is in the project`},
		},
		{
			name:    "entrypoint module in another package",
			replace: []string{`"weather.main:run"`, `"climate.main:run"`},
			want:    []string{`neither climate/main.py nor climate/main/__init__.py is in the project`},
		},
		{
			name:    "envvars not an array",
			replace: []string{`envvars = ["API_BASE"]`, `envvars = "API_BASE"`},
			want:    []string{"pyproject.toml: [tool.amigo] envvars must be an array of strings, not a string"},
		},
		{
			name:    "envvars holding a number",
			replace: []string{`envvars = ["API_BASE"]`, `envvars = ["API_BASE", 3]`},
			want:    []string{"pyproject.toml: [tool.amigo] envvars must be an array of strings, but holds an integer"},
		},
		{
			name:    "env var names malformed",
			replace: []string{`envvars = ["API_BASE"]`, `envvars = ["api_base", "API-BASE", "API2", ""]`},
			want: []string{
				`pyproject.toml: [tool.amigo] envvars entry "api_base" must be upper-case letters and underscores only`,
				`envvars entry "API-BASE" must be`,
				`envvars entry "API2" must be`,
				`envvars entry "" must be`,
			},
		},
		{
			name:    "secret env var name malformed",
			replace: []string{`secret_envvars = ["API_KEY"]`, `secret_envvars = ["API KEY"]`},
			want:    []string{`pyproject.toml: [tool.amigo] secret_envvars entry "API KEY" must be upper-case letters and underscores only`},
		},
		{
			name:    "env var listed twice",
			replace: []string{`envvars = ["API_BASE"]`, `envvars = ["API_BASE", "REGION", "API_BASE", "API_BASE"]`},
			want:    []string{"pyproject.toml: [tool.amigo] envvars lists API_BASE more than once"},
		},
		{
			name:    "secret env var listed twice",
			replace: []string{`secret_envvars = ["API_KEY"]`, `secret_envvars = ["API_KEY", "API_KEY"]`},
			want:    []string{"pyproject.toml: [tool.amigo] secret_envvars lists API_KEY more than once"},
		},
		{
			name:    "env var in both lists",
			replace: []string{`secret_envvars = ["API_KEY"]`, `secret_envvars = ["API_KEY", "API_BASE"]`},
			want:    []string{"pyproject.toml: API_BASE is in both [tool.amigo] envvars and secret_envvars"},
		},
		{
			name:  "input schema not JSON",
			files: map[string]string{"input_schema.json": `{"type": "object",}`},
			want:  []string{"input_schema.json: invalid JSON: "},
		},
		{
			name:  "input schema with trailing data",
			files: map[string]string{"input_schema.json": `{} {}`},
			want:  []string{"input_schema.json: invalid JSON: "},
		},
		{
			name:  "input schema an array",
			files: map[string]string{"input_schema.json": `[{"type": "object"}]`},
			want:  []string{"input_schema.json must hold a JSON object, not an array"},
		},
		{
			name:  "input schema null",
			files: map[string]string{"input_schema.json": `null`},
			want:  []string{"input_schema.json must hold a JSON object, not null"},
		},
		{
			name:   "schema checked without pyproject.toml",
			remove: []string{"pyproject.toml"},
			files:  map[string]string{"input_schema.json": `"x"`},
			want: []string{
				"pyproject.toml is missing",
				"input_schema.json must hold a JSON object, not a string",
			},
		},
		{
			name: "every problem at once",
			replace: []string{
				`version = "0.1.0"`, "",
				`">=3.14"`, `">=3.10"`,
				`"py314"`, `"py310"`,
				`"weather.main:run"`, `"weather.cli:main"`,
				`envvars = ["API_BASE"]`, `envvars = ["API_KEY", "lower"]`,
			},
			files: map[string]string{"input_schema.json": `[]`},
			want: []string{
				"[project] version is missing",
				`requires-python ">=3.10" admits Python 3.10`,
				`target-version "py310" must be py314 or newer`,
				`entrypoint "weather.cli:main" names module weather.cli`,
				`envvars entry "lower" must be`,
				"API_KEY is in both [tool.amigo] envvars and secret_envvars",
				"input_schema.json must hold a JSON object",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			files := projectFiles(t, tt.replace, tt.files, tt.remove)
			p, err := ParseProject(files)
			var perr *ProjectError
			if !errors.As(err, &perr) {
				t.Fatalf("ParseProject = %+v, %v; want a *ProjectError", p, err)
			}
			if len(perr.Problems) != len(tt.want) {
				t.Fatalf("got %d problems, want %d:\n%s", len(perr.Problems), len(tt.want), strings.Join(perr.Problems, "\n"))
			}
			for i, want := range tt.want {
				if !strings.Contains(perr.Problems[i], want) {
					t.Errorf("problem %d = %q, want it to contain %q", i, perr.Problems[i], want)
				}
			}
			if got, want := err.Error(), strings.Join(perr.Problems, "; "); got != want {
				t.Errorf("Error() = %q, want the problems joined by \"; \": %q", got, want)
			}
		})
	}
}

// projectFiles is validFiles with pyproject.toml edited by replace (old,
// new pairs), files added and paths removed.
func projectFiles(t *testing.T, replace []string, add map[string]string, remove []string) map[string][]byte {
	t.Helper()
	if len(replace)%2 != 0 {
		t.Fatalf("replace has an odd number of strings: %q", replace)
	}
	pyproject := validPyproject
	for i := 0; i < len(replace); i += 2 {
		if !strings.Contains(pyproject, replace[i]) {
			t.Fatalf("pyproject.toml does not contain %q", replace[i])
		}
		pyproject = strings.Replace(pyproject, replace[i], replace[i+1], 1)
	}
	files := validFiles()
	files["pyproject.toml"] = []byte(pyproject)
	for name, content := range add {
		files[name] = []byte(content)
	}
	for _, name := range remove {
		if _, ok := files[name]; !ok {
			t.Fatalf("no %s to remove; have %v", name, slices.Sorted(maps.Keys(files)))
		}
		delete(files, name)
	}
	return files
}
