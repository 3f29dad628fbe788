package wasmrt

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"regexp"
	"time"
)

// ToolCall is one call of a tool's entrypoint function through the guest
// harness (Config.Harness).
type ToolCall struct {
	// Files are the tool's project files, read-only at /tool.
	Files fs.FS
	// Entrypoint names the function: "package.module:function".
	Entrypoint string
	// Input is the input_parameters object, passed as keyword arguments.
	Input json.RawMessage
	// Mode is the invocation_mode the function receives if it declares it.
	Mode string
	// UserVariables and SensitiveUserVariables are what the function
	// receives as nonsensitive_user_variables and sensitive_user_variables,
	// each only if it declares that parameter (an empty dict if nil).
	UserVariables, SensitiveUserVariables map[string]string
	// Env is the tool's whole environment.
	Env map[string]string
	// Limits override the runtime's defaults, field by field.
	Limits Limits
	// Background marks work that may wait: see Invocation.Background.
	Background bool
}

// LogLine is one line the tool logged, printed or wrote to stderr.
type LogLine struct {
	Level string `json:"level"`
	// Source is "logging", "stdout" (print) or "stderr"; "raw" for bytes
	// written to the descriptor from below Python.
	Source  string `json:"source"`
	Logger  string `json:"logger,omitempty"`
	Message string `json:"message"`
}

// ToolResult is what a tool call produced.
type ToolResult struct {
	// Output is the function's return value: a str as it was, anything
	// else as JSON.
	Output       string
	Logs         []LogLine
	Duration     time.Duration
	LogTruncated bool
}

// Exception is a tool function that raised. Its message and its stack
// trace are kept apart so callers can store and search them separately.
type Exception struct {
	// Type is the exception's class, qualified by its module unless it is
	// a builtin: "ValueError", "requests.HTTPError".
	Type      string `json:"type"`
	Message   string `json:"message"`
	Traceback string `json:"traceback"`
}

func (e *Exception) Error() string {
	if e.Message == "" {
		return e.Type
	}
	return e.Type + ": " + e.Message
}

// entrypointPattern is "package.module:function", each part an identifier.
var entrypointPattern = regexp.MustCompile(`^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*:[A-Za-z_]\w*(\.[A-Za-z_]\w*)*$`)

// Harness exit statuses; see embed/harness/compadre_harness.py. The build
// program (compadre_build.py) exits with harnessMalformed likewise.
const (
	harnessRaised    = 1
	harnessMalformed = 2
)

// RunTool calls a tool's function in a fresh sandbox. The error is an
// *Exception if the function raised, a *RunError if the run failed or
// passed a limit, and otherwise an error about the call itself.
func (r *Runtime) RunTool(ctx context.Context, call ToolCall) (ToolResult, error) {
	if len(r.cfg.Harness) == 0 {
		return ToolResult{}, errors.New("wasmrt: no tool harness configured")
	}
	if !entrypointPattern.MatchString(call.Entrypoint) {
		return ToolResult{}, fmt.Errorf("wasmrt: entrypoint %q is not package.module:function", call.Entrypoint)
	}
	input := call.Input
	if len(input) == 0 {
		input = json.RawMessage("{}")
	}
	stdin, err := json.Marshal(struct {
		Input     json.RawMessage   `json:"input_parameters"`
		Mode      string            `json:"invocation_mode"`
		Vars      map[string]string `json:"nonsensitive_user_variables,omitempty"`
		Sensitive map[string]string `json:"sensitive_user_variables,omitempty"`
	}{input, call.Mode, call.UserVariables, call.SensitiveUserVariables})
	if err != nil {
		return ToolResult{}, fmt.Errorf("wasmrt: tool input: %w", err)
	}
	res, runErr := r.run(ctx, request{
		argv:       []string{guestHarnessDir + "/" + harnessFile, call.Entrypoint},
		files:      call.Files,
		env:        call.Env,
		stdin:      stdin,
		limits:     call.Limits,
		toolResult: true,
		background: call.Background,
	})
	out := ToolResult{Output: string(res.result), Duration: res.Duration, LogTruncated: res.LogTruncated}
	logs, exc := parseHarnessLog(res.Stderr)
	out.Logs = append(logs, stdoutLines(res.Stdout)...)
	var re *RunError
	if errors.As(runErr, &re) && exc != nil && re.Kind != KindExit {
		// The tool raised as the run ended: most often the MemoryError
		// the interpreter raises when the memory cap refuses it more.
		re.Traceback = exc.Traceback
	}
	if errors.As(runErr, &re) && re.Kind == KindExit {
		switch {
		case re.ExitCode == harnessRaised && exc != nil:
			out.Output = ""
			return out, exc
		case re.ExitCode == harnessMalformed && exc != nil:
			return out, fmt.Errorf("wasmrt: malformed tool call: %v", exc)
		}
	}
	return out, runErr
}

// stdoutLines turns what the tool wrote to file descriptor 1 itself
// (print to sys.__stdout__, os.write(1, ...), C code) into log lines. They
// come after the harness's own log lines: the two streams are kept apart,
// so their interleaving is not known.
func stdoutLines(stdout []byte) []LogLine {
	var logs []LogLine
	for line := range bytes.Lines(stdout) {
		line = bytes.TrimRight(line, "\n")
		if len(line) > 0 {
			logs = append(logs, LogLine{Level: "INFO", Source: "stdout", Message: string(line)})
		}
	}
	return logs
}

// parseHarnessLog reads the harness's JSON lines from standard error.
func parseHarnessLog(stderr []byte) ([]LogLine, *Exception) {
	var logs []LogLine
	var exc *Exception
	for line := range bytes.Lines(stderr) {
		line = bytes.TrimRight(line, "\n")
		if len(line) == 0 {
			continue
		}
		var rec struct {
			Kind      string `json:"kind"`
			Level     string `json:"level"`
			Source    string `json:"source"`
			Logger    string `json:"logger"`
			Message   string `json:"message"`
			Type      string `json:"type"`
			Traceback string `json:"traceback"`
		}
		if line[0] != '{' || json.Unmarshal(line, &rec) != nil || rec.Kind == "" {
			logs = append(logs, LogLine{Level: "WARNING", Source: "raw", Message: string(line)})
			continue
		}
		switch rec.Kind {
		case "error":
			exc = &Exception{Type: rec.Type, Message: rec.Message, Traceback: rec.Traceback}
		default:
			logs = append(logs, LogLine{Level: rec.Level, Source: rec.Source, Logger: rec.Logger, Message: rec.Message})
		}
	}
	return logs, exc
}
