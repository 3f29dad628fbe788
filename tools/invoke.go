package tools

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"sync"
	"testing/fstest"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"golang.org/x/text/language"
	"golang.org/x/text/message"

	"github.com/compadre-dev/compadre/store"
	"github.com/compadre-dev/compadre/wasmrt"
)

// Invocation modes.
const (
	ModeRegular    = "regular"
	ModeSimulation = "conversation-simulation"
)

// MaxInputs is how many inputs one invocation request may carry.
const MaxInputs = 10

// Input is one set of arguments for a run.
type Input struct {
	Parameters             json.RawMessage
	Mode                   string
	UserVariables          map[string]string
	SensitiveUserVariables map[string]string
	// Background marks a run that may wait for the sandbox's background
	// slots (wasmrt.Invocation.Background): a simulation's, never one a
	// client or a conversation is waiting on.
	Background bool
}

// Result is what one run produced: an output, or the exception it raised
// (or the limit it crossed).
type Result struct {
	Succeeded        bool
	Output           string
	ExceptionType    string
	ExceptionMessage string
	StackTrace       []string
	DurationMS       int64
	Logs             []string
}

// InvokeRequest runs a published version.
type InvokeRequest struct {
	OrgID   string
	Tool    store.Tool
	Version store.ToolVersion
	Inputs  []Input
	By      store.Actor
	// Origin, when set, is the conversation the runs belong to; its fields
	// are recorded on every run.
	Origin *Origin
}

// Origin is where in a conversation a run happened, as invocation records
// keep it.
type Origin struct {
	ConversationID  string
	InteractionID   string
	SimulationRunID *string
	UnitTestID      *string
	RunIndex        *int
	// Metadata is the agent framework's invocation metadata.
	Metadata json.RawMessage
}

// ErrDeprecated means the version was deprecated and no longer runs.
var ErrDeprecated = errors.New("the tool version is deprecated")

// Invoke checks every input against the version's schema, runs them in
// parallel, records every run, and returns the results in input order.
func (s *Service) Invoke(ctx context.Context, req InvokeRequest) ([]Result, error) {
	v := req.Version
	if v.Deprecated || req.Tool.Deprecated {
		return nil, ErrDeprecated
	}
	snap, err := s.snapshot(ctx, v)
	if err != nil {
		return nil, err
	}
	if err := validateInputs(snap.schema, req.Inputs); err != nil {
		return nil, err
	}
	env, err := s.toolEnv(ctx, req.OrgID, v.ToolID)
	if err != nil {
		return nil, err
	}
	project := Project{Entrypoint: v.Entrypoint, EnvVars: v.RequiredEnvVars, SecretEnvVars: v.RequiredSecretEnvVars}
	run := runnable{files: snap.files, entrypoint: v.Entrypoint, project: project, env: env}
	results, err := s.runAll(ctx, run, req.Inputs)
	if err != nil {
		return nil, err
	}
	records := make([]store.ToolInvocation, len(results))
	for i, res := range results {
		rec := store.ToolInvocation{
			OrgID: req.OrgID, ToolID: v.ToolID, VersionID: v.ID, Major: v.Major, Minor: v.Minor, Patch: v.Patch,
			SourceType: store.SourceRegularConversation, Inputs: req.Inputs[i].Parameters,
			Succeeded: res.Succeeded, Output: res.Output, ExceptionType: res.ExceptionType,
			ExceptionMessage: res.ExceptionMessage, StackTrace: res.StackTrace, Logs: res.Logs,
			DurationMS: res.DurationMS,
		}
		if req.Inputs[i].Mode == ModeSimulation {
			rec.SourceType = store.SourceSimulationConversation
		} else {
			user := req.By.UserID
			rec.UserID = &user
		}
		if o := req.Origin; o != nil {
			rec.ConversationID, rec.InteractionID = &o.ConversationID, &o.InteractionID
			rec.SimulationRunID, rec.UnitTestID, rec.RunIndex = o.SimulationRunID, o.UnitTestID, o.RunIndex
			rec.Metadata = o.Metadata
		}
		records[i] = rec
	}
	// The runs happened whether or not the client is still there to hear
	// of them, so they are recorded even if the request was cancelled.
	if _, err := s.cfg.Store.RecordToolInvocations(context.WithoutCancel(ctx), records); err != nil {
		return nil, err
	}
	return results, nil
}

// runnable is a project ready to run: its files, entrypoint, and declared
// variables with their values.
type runnable struct {
	files      fs.FS
	entrypoint string
	project    Project
	env        map[string]store.EnvVar
}

// runAll runs every input, already checked against the schema, at once;
// the sandbox queues what it cannot run yet. Results keep the inputs' order.
func (s *Service) runAll(ctx context.Context, run runnable, inputs []Input) ([]Result, error) {
	rt, err := s.sandbox(ctx)
	if err != nil {
		return nil, err
	}
	results := make([]Result, len(inputs))
	errs := make([]error, len(inputs))
	var wg sync.WaitGroup
	for i, in := range inputs {
		wg.Go(func() {
			res, err := rt.RunTool(ctx, wasmrt.ToolCall{
				Files: run.files, Entrypoint: run.entrypoint, Input: in.Parameters, Mode: in.Mode,
				Env: envFor(run.project, run.env, in.Mode), UserVariables: in.UserVariables,
				SensitiveUserVariables: in.SensitiveUserVariables,
				Background:             in.Background,
			})
			results[i], errs[i] = resultOf(res, err)
		})
	}
	wg.Wait()
	return results, errors.Join(errs...)
}

// resultOf turns a sandbox run into a Result. A tool that raised or broke a
// limit is a failed result, not an error; an error is the server's own
// failure (the sandbox closing, say).
func resultOf(res wasmrt.ToolResult, err error) (Result, error) {
	out := Result{Succeeded: err == nil, Output: res.Output, DurationMS: res.Duration.Milliseconds(), Logs: logLines(res.Logs)}
	if err == nil {
		return out, nil
	}
	out.Output = ""
	var exc *wasmrt.Exception
	var re *wasmrt.RunError
	switch {
	case errors.As(err, &exc):
		out.ExceptionType, out.ExceptionMessage = exc.Type, exc.Message
		out.StackTrace = strings.Split(strings.TrimRight(exc.Traceback, "\n"), "\n")
	case errors.As(err, &re):
		out.ExceptionType, out.ExceptionMessage = limitException(re), re.Error()
		out.StackTrace = limitStackTrace(re, out.ExceptionType)
	case errors.Is(err, context.Canceled):
		return out, err
	default:
		// A malformed call (bad input JSON) is the caller's input at fault.
		out.ExceptionType, out.ExceptionMessage, out.StackTrace = "InvocationError", err.Error(), []string{}
	}
	return out, nil
}

// limitException names a run that ended without the tool raising. See
// DECISIONS.md, "What does a tool that breaks a limit return?".
func limitException(re *wasmrt.RunError) string {
	switch re.Kind {
	case wasmrt.KindTimeout:
		return "TimeoutError"
	case wasmrt.KindMemoryLimit:
		return "MemoryError"
	case wasmrt.KindOutputLimit:
		return "OutputTooLongError"
	case wasmrt.KindExit:
		return "SystemExit"
	default:
		return "SandboxError"
	}
}

// limitStackTrace is the stack trace of a run that broke a limit: the
// Python traceback if the tool raised as it ended (a MemoryError at the
// memory cap), else what the interpreter itself wrote below Python (the
// harness's own JSON records left out), ending with the exception's line
// as a traceback would.
func limitStackTrace(re *wasmrt.RunError, excType string) []string {
	if tb := strings.TrimRight(re.Traceback, "\n"); tb != "" {
		return strings.Split(tb, "\n")
	}
	var lines []string
	for line := range strings.Lines(re.StderrTail) {
		line = strings.TrimRight(line, "\n")
		if strings.TrimSpace(line) == "" || json.Valid([]byte(line)) {
			continue
		}
		lines = append(lines, line)
	}
	return append(lines, excType+": "+re.Error())
}

// logLines renders the tool's log records as the API's log strings:
// "LEVEL name: message", name being the logger, "print" or "stderr".
func logLines(logs []wasmrt.LogLine) []string {
	out := make([]string, len(logs))
	for i, l := range logs {
		name := l.Logger
		switch {
		case l.Source == "stdout":
			name = "print"
		case name == "":
			name = l.Source
		}
		out[i] = l.Level + " " + name + ": " + l.Message
	}
	return out
}

// compileSchema compiles a tool's input schema (JSON Schema 2020-12 unless
// it says otherwise).
func compileSchema(raw json.RawMessage) (*jsonschema.Schema, error) {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		return nil, err
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	// No loader: a $ref outside the schema must not read the server's
	// files or the network.
	c.UseLoader(jsonschema.SchemeURLLoader{})
	if err := c.AddResource("input_schema.json", doc); err != nil {
		return nil, err
	}
	return c.Compile("input_schema.json")
}

// validateInputs checks every input's size and then its parameters
// against the schema, and lists every violation of every input.
func validateInputs(schema *jsonschema.Schema, inputs []Input) error {
	var problems []string
	for i, in := range inputs {
		raw := in.Parameters
		// A record keeps its inputs, so they count toward the worst case
		// of a page of the invocation listing.
		if written, err := json.Marshal(raw); err == nil && len(written) > store.MaxInvocationInputBytes {
			problems = append(problems, fmt.Sprintf("inputs[%d].input_parameters: %d bytes as JSON, more than the %d an invocation takes",
				i, len(written), store.MaxInvocationInputBytes))
			continue
		}
		if len(raw) == 0 {
			raw = json.RawMessage("{}")
		}
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
		if err != nil {
			problems = append(problems, fmt.Sprintf("inputs[%d].input_parameters: %v", i, err))
			continue
		}
		var ve *jsonschema.ValidationError
		if err := schema.Validate(doc); errors.As(err, &ve) {
			for _, leaf := range leaves(ve) {
				loc := "inputs[" + fmt.Sprint(i) + "].input_parameters"
				if len(leaf.InstanceLocation) > 0 {
					loc += "." + strings.Join(leaf.InstanceLocation, ".")
				}
				problems = append(problems, loc+": "+leaf.ErrorKind.LocalizedString(printer))
			}
		} else if err != nil {
			problems = append(problems, fmt.Sprintf("inputs[%d].input_parameters: %v", i, err))
		}
	}
	if len(problems) > 0 {
		return &Problems{Summary: "The input parameters do not conform to the tool's input schema:", List: problems}
	}
	return nil
}

var printer = message.NewPrinter(language.English)

func leaves(ve *jsonschema.ValidationError) []*jsonschema.ValidationError {
	if len(ve.Causes) == 0 {
		return []*jsonschema.ValidationError{ve}
	}
	var out []*jsonschema.ValidationError
	for _, c := range ve.Causes {
		out = append(out, leaves(c)...)
	}
	return out
}

// mapFS serves a file snapshot to the sandbox.
func mapFS(files map[string][]byte) fs.FS {
	m := make(fstest.MapFS, len(files))
	for p, b := range files {
		m[p] = &fstest.MapFile{Data: b, Mode: 0o444}
	}
	return m
}

// versionSnapshot is what running a version needs from its record: its
// files and its compiled input schema.
type versionSnapshot struct {
	files  fs.FS
	schema *jsonschema.Schema
}

// snapshot returns a version's files and schema, from memory when it ran
// before: versions never change, so the cache needs no invalidation, and an
// invocation neither reads the files nor compiles the schema again.
func (s *Service) snapshot(ctx context.Context, v store.ToolVersion) (versionSnapshot, error) {
	if snap, ok := s.versions.Get(v.ID); ok {
		return snap, nil
	}
	schema, err := compileSchema(v.InputSchema)
	if err != nil {
		return versionSnapshot{}, fmt.Errorf("tools: version %s schema: %w", v.ID, err)
	}
	files, err := s.cfg.Store.ToolVersionFiles(ctx, v.OrgID, v.ID)
	if err != nil {
		return versionSnapshot{}, err
	}
	snap := versionSnapshot{files: mapFS(files), schema: schema}
	s.versions.Add(v.ID, snap)
	return snap, nil
}
