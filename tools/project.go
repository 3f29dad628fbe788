package tools

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/pelletier/go-toml/v2"

	"github.com/compadre-dev/compadre/pep440"
)

// Project is what a tool project declares in its pyproject.toml, plus its
// input_schema.json.
type Project struct {
	Name           string
	Version        string
	RequiresPython string
	RuffTarget     string
	// Entrypoint is the function a call runs, "package.module:function".
	Entrypoint string
	// EnvVars and SecretEnvVars name the environment variables the tool
	// reads; the values of SecretEnvVars are secrets.
	EnvVars       []string
	SecretEnvVars []string
	// InputSchema is input_schema.json as written, nil if there is none.
	InputSchema json.RawMessage
}

// ProjectError lists everything wrong with a tool project, each problem a
// sentence its author can act on, so that one publish attempt reports them
// all rather than one per attempt.
type ProjectError struct {
	Problems []string
}

func (e *ProjectError) Error() string {
	return strings.Join(e.Problems, "; ")
}

// Tools run on Python 3.14 and newer. requires-python is checked against
// the 3.x releases from minPythonMinor to maxPythonMinor, the ones a project
// written now can mean to support.
const (
	minPythonMinor = 14
	maxPythonMinor = 20
)

var (
	// identifierPattern is an ASCII Python identifier. Python also allows
	// other letters, but module names map to file names, which would then
	// depend on the file system's Unicode normalization.
	identifierPattern = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	envVarPattern     = regexp.MustCompile(`^[A-Z_]+$`)
	// ruffTargetPattern is "py3NN"; the range check is done on NN.
	ruffTargetPattern = regexp.MustCompile(`^py3([1-9][0-9])$`)
)

// pythonKeywords cannot name a module or function: "import class" is a
// syntax error.
var pythonKeywords = map[string]bool{
	"False": true, "None": true, "True": true, "and": true, "as": true, "assert": true,
	"async": true, "await": true, "break": true, "class": true, "continue": true,
	"def": true, "del": true, "elif": true, "else": true, "except": true,
	"finally": true, "for": true, "from": true, "global": true, "if": true,
	"import": true, "in": true, "is": true, "lambda": true, "nonlocal": true,
	"not": true, "or": true, "pass": true, "raise": true, "return": true,
	"try": true, "while": true, "with": true, "yield": true,
}

// problems collects a project's problems in the order they are found.
type problems []string

func (ps *problems) add(format string, args ...any) {
	*ps = append(*ps, fmt.Sprintf(format, args...))
}

// ParseProject checks a tool project, given its files keyed by path
// relative to the project folder, and returns what it declares. If anything
// is wrong the error is a *ProjectError listing every problem found.
func ParseProject(files map[string][]byte) (Project, error) {
	var ps problems
	var p Project
	if src, ok := files["pyproject.toml"]; ok {
		p = parsePyproject(src, files, &ps)
	} else {
		ps.add("pyproject.toml is missing: a tool project is a folder with a pyproject.toml at its top")
	}
	if src, ok := files["input_schema.json"]; ok {
		p.InputSchema = parseInputSchema(src, &ps)
	}
	if len(ps) > 0 {
		return Project{}, &ProjectError{Problems: ps}
	}
	return p, nil
}

func parsePyproject(src []byte, files map[string][]byte, ps *problems) Project {
	// Decoding into a map rather than a struct keeps going past a value
	// of the wrong type, so every such value is reported, not just the
	// first one.
	var doc map[string]any
	if err := toml.Unmarshal(src, &doc); err != nil {
		var derr *toml.DecodeError
		if errors.As(err, &derr) {
			row, col := derr.Position()
			ps.add("pyproject.toml: invalid TOML at line %d, column %d: %s", row, col, strings.TrimPrefix(derr.Error(), "toml: "))
		} else {
			ps.add("pyproject.toml: invalid TOML: %v", err)
		}
		return Project{}
	}

	var p Project
	project := table(doc, "project", "[project]", ps)
	p.Name = requiredString(project, "[project]", "name", ps)
	p.Version = requiredString(project, "[project]", "version", ps)
	p.RequiresPython = requiredString(project, "[project]", "requires-python", ps)
	if p.RequiresPython != "" {
		checkRequiresPython(p.RequiresPython, ps)
	}

	tool := table(doc, "tool", "[tool]", ps)
	ruff := table(tool, "ruff", "[tool.ruff]", ps)
	p.RuffTarget = requiredString(ruff, "[tool.ruff]", "target-version", ps)
	if p.RuffTarget != "" {
		checkRuffTarget(p.RuffTarget, ps)
	}

	amigo := table(tool, "amigo", "[tool.amigo]", ps)
	p.Entrypoint = requiredString(amigo, "[tool.amigo]", "entrypoint", ps)
	if p.Entrypoint != "" {
		checkEntrypoint(p.Entrypoint, files, ps)
	}
	p.EnvVars = envVarNames(amigo, "envvars", ps)
	p.SecretEnvVars = envVarNames(amigo, "secret_envvars", ps)
	secret := map[string]bool{}
	for _, name := range p.SecretEnvVars {
		secret[name] = true
	}
	for _, name := range p.EnvVars {
		if secret[name] {
			ps.add("pyproject.toml: %s is in both [tool.amigo] envvars and secret_envvars; list it in one of them", name)
		}
	}
	return p
}

// table returns t[key] as a table, or nil if it is absent or not a table.
// An absent table is not reported here: the keys it should hold are.
func table(t map[string]any, key, label string, ps *problems) map[string]any {
	v, ok := t[key]
	if !ok {
		return nil
	}
	sub, ok := v.(map[string]any)
	if !ok {
		ps.add("pyproject.toml: %s must be a table, not %s", label, tomlKind(v))
		return nil
	}
	return sub
}

// requiredString returns t[key] if it is a non-empty string, and otherwise
// reports why not and returns "".
func requiredString(t map[string]any, label, key string, ps *problems) string {
	v, ok := t[key]
	if !ok {
		ps.add("pyproject.toml: %s %s is missing", label, key)
		return ""
	}
	s, ok := v.(string)
	if !ok {
		ps.add("pyproject.toml: %s %s must be a string, not %s", label, key, tomlKind(v))
		return ""
	}
	if strings.TrimSpace(s) == "" {
		ps.add("pyproject.toml: %s %s is empty", label, key)
		return ""
	}
	return s
}

// tomlKind names the TOML type of a decoded value, for messages.
func tomlKind(v any) string {
	switch v.(type) {
	case string:
		return "a string"
	case int64:
		return "an integer"
	case float64:
		return "a float"
	case bool:
		return "a boolean"
	case []any:
		return "an array"
	case map[string]any:
		return "a table"
	default:
		return "a date or time"
	}
}

// checkRequiresPython makes sure the project admits the Pythons tools run
// on and no older one: a project that claims to support an older Python
// would be linted and tested by its author against a language the sandbox
// does not run.
func checkRequiresPython(spec string, ps *problems) {
	c, err := pep440.ParseSpecifierSet(spec)
	if err != nil {
		ps.add("pyproject.toml: requires-python %q is not a valid PEP 440 specifier set: %s", spec, err)
		return
	}
	// Each minor release is tried at its first and at a late patch, which
	// catches bounds such as ">3.13" that exclude 3.13.0 but not 3.13.1.
	patches := []int{0, 99}
	for minor := 0; minor < minPythonMinor; minor++ {
		for _, patch := range patches {
			v := pep440.Version{Major: 3, Minor: minor, Patch: patch}
			if c.Match(v) {
				ps.add("pyproject.toml: requires-python %q admits Python %s, but tools run on Python 3.%d and newer", spec, pythonRelease(v), minPythonMinor)
				return
			}
		}
	}
	for minor := minPythonMinor; minor <= maxPythonMinor; minor++ {
		for _, patch := range patches {
			if c.Match(pep440.Version{Major: 3, Minor: minor, Patch: patch}) {
				return
			}
		}
	}
	ps.add("pyproject.toml: requires-python %q admits none of Python 3.%d to 3.%d, the releases tools run on; use \">=3.%d\"", spec, minPythonMinor, maxPythonMinor, minPythonMinor)
}

// pythonRelease writes 3.8.0 as "3.8", the way people name a release.
func pythonRelease(v pep440.Version) string {
	if v.Patch == 0 {
		return fmt.Sprintf("%d.%d", v.Major, v.Minor)
	}
	return v.String()
}

func checkRuffTarget(target string, ps *problems) {
	ok := false
	if m := ruffTargetPattern.FindStringSubmatch(target); m != nil {
		minor, _ := strconv.Atoi(m[1]) // two digits, by the pattern
		ok = minor >= minPythonMinor
	}
	if !ok {
		ps.add("pyproject.toml: [tool.ruff] target-version %q must be py3%d or newer, matching the Python tools run on", target, minPythonMinor)
	}
}

// checkEntrypoint checks the "package.module:function" form and that the
// module is one of the project's files. The package is required so that a
// tool's modules do not sit at the top level beside the standard library's.
func checkEntrypoint(ep string, files map[string][]byte, ps *problems) {
	module, function, ok := strings.Cut(ep, ":")
	parts := strings.Split(module, ".")
	valid := ok && len(parts) >= 2 && isIdentifier(function)
	for _, part := range parts {
		valid = valid && isIdentifier(part)
	}
	if !valid {
		ps.add("pyproject.toml: [tool.amigo] entrypoint %q must look like \"package.module:function\": a dotted module path of at least two parts, a colon, then a function name, each part a Python identifier that is not a keyword", ep)
		return
	}
	file := strings.Join(parts, "/")
	if _, ok := files[file+".py"]; ok {
		return
	}
	if _, ok := files[file+"/__init__.py"]; ok {
		return
	}
	ps.add("pyproject.toml: [tool.amigo] entrypoint %q names module %s, but neither %s.py nor %s/__init__.py is in the project", ep, module, file, file)
}

func isIdentifier(s string) bool {
	return identifierPattern.MatchString(s) && !pythonKeywords[s]
}

// envVarNames returns the names listed under [tool.amigo] key, reporting
// each malformed or repeated one.
func envVarNames(amigo map[string]any, key string, ps *problems) []string {
	v, ok := amigo[key]
	if !ok {
		return nil
	}
	list, ok := v.([]any)
	if !ok {
		ps.add("pyproject.toml: [tool.amigo] %s must be an array of strings, not %s", key, tomlKind(v))
		return nil
	}
	var names []string
	seen := map[string]int{}
	for _, item := range list {
		name, ok := item.(string)
		if !ok {
			ps.add("pyproject.toml: [tool.amigo] %s must be an array of strings, but holds %s", key, tomlKind(item))
			continue
		}
		if !envVarPattern.MatchString(name) {
			ps.add("pyproject.toml: [tool.amigo] %s entry %q must be upper-case letters and underscores only (A-Z, _)", key, name)
			continue
		}
		seen[name]++
		switch seen[name] {
		case 1:
			names = append(names, name)
		case 2:
			ps.add("pyproject.toml: [tool.amigo] %s lists %s more than once", key, name)
		}
	}
	return names
}

func parseInputSchema(src []byte, ps *problems) json.RawMessage {
	var v any
	if err := json.Unmarshal(src, &v); err != nil {
		ps.add("input_schema.json: invalid JSON: %v", err)
		return nil
	}
	if _, ok := v.(map[string]any); !ok {
		ps.add("input_schema.json must hold a JSON object, not %s", jsonKind(v))
		return nil
	}
	return json.RawMessage(src)
}

func jsonKind(v any) string {
	switch v.(type) {
	case []any:
		return "an array"
	case string:
		return "a string"
	case float64:
		return "a number"
	case bool:
		return "a boolean"
	default:
		return "null"
	}
}
