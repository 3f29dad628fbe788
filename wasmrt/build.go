package wasmrt

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"time"
)

// BuildCall is one build of a tool project: the checks a tool passes
// before it is published, run by the interpreter that will run the tool.
type BuildCall struct {
	// Files are the tool's project files, read-only at /tool.
	Files fs.FS
	// Entrypoint names the function: "package.module:function".
	Entrypoint string
	// DeriveSchema asks for the input JSON Schema derived from the
	// function's parameters and their type hints.
	DeriveSchema bool
	// Env is the tool's whole environment, as its module sees it when it
	// is imported.
	Env map[string]string
	// Limits override the runtime's defaults, field by field.
	Limits Limits
}

// BuildReport is what a build found. A project with problems is not an
// error: the problems are for the tool's author to fix.
type BuildReport struct {
	// Problems are sentences for the tool's author, such as
	// "weather/main.py:12: invalid syntax"; none if the project builds.
	Problems []string
	// InputSchema is the derived input JSON Schema, compact. It is nil if
	// there are problems or DeriveSchema was false.
	InputSchema json.RawMessage
	// Modules is how many of the project's modules compiled.
	Modules int
	// Duration is the time the build ran, as Result.Duration.
	Duration time.Duration
}

// buildOutputChars is the build's default output limit. The output is the
// build program's own report, not the tool's, so the tool output limit
// does not fit it; a schema with many described fields is long.
const buildOutputChars = 1 << 20

// BuildTool compiles every module of a tool project, imports the
// entrypoint's module, checks the function exists and, if asked, derives
// its input schema, all in a fresh sandbox (Config.Builder). The error is
// a *RunError if the build passed a limit or the sandbox failed, and
// otherwise an error about the call itself; what is wrong with the
// project is in BuildReport.Problems.
func (r *Runtime) BuildTool(ctx context.Context, call BuildCall) (BuildReport, error) {
	if len(r.cfg.Builder) == 0 {
		return BuildReport{}, errors.New("wasmrt: no build program configured")
	}
	if !entrypointPattern.MatchString(call.Entrypoint) {
		return BuildReport{}, fmt.Errorf("wasmrt: entrypoint %q is not package.module:function", call.Entrypoint)
	}
	argv := []string{guestHarnessDir + "/" + builderFile, call.Entrypoint}
	if !call.DeriveSchema {
		argv = append(argv, "--no-schema")
	}
	limits := call.Limits
	if limits.OutputChars == 0 {
		limits.OutputChars = buildOutputChars
	}
	res, runErr := r.run(ctx, request{argv: argv, files: call.Files, env: call.Env, limits: limits})
	report := BuildReport{Duration: res.Duration}
	var re *RunError
	if errors.As(runErr, &re) && re.Kind == KindExit && re.ExitCode == harnessMalformed {
		return report, fmt.Errorf("wasmrt: malformed build call: %s", re.StderrTail)
	}
	if runErr != nil {
		return report, runErr
	}
	var out struct {
		Problems    []string        `json:"problems"`
		InputSchema json.RawMessage `json:"input_schema"`
		Modules     int             `json:"modules"`
	}
	// The report is the last line: anything before it was written below
	// Python by the tool's own module while it was imported.
	stdout := bytes.TrimRight(res.Stdout, "\n")
	line := stdout[bytes.LastIndexByte(stdout, '\n')+1:]
	if err := json.Unmarshal(line, &out); err != nil {
		return report, fmt.Errorf("wasmrt: build: unreadable report: %w", err)
	}
	report.Problems = out.Problems
	report.Modules = out.Modules
	if len(out.InputSchema) > 0 && string(out.InputSchema) != "null" {
		var schema bytes.Buffer
		if err := json.Compact(&schema, out.InputSchema); err != nil {
			return report, fmt.Errorf("wasmrt: build: input schema: %w", err)
		}
		report.InputSchema = schema.Bytes()
	}
	return report, nil
}
