package tools

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/compadre-dev/compadre/store"
	"github.com/compadre-dev/compadre/wasmrt"
)

func TestResultOfLimit(t *testing.T) {
	tests := []struct {
		name      string
		err       *wasmrt.RunError
		wantType  string
		wantTrace []string
	}{
		{"the traceback of a tool out of memory",
			&wasmrt.RunError{Kind: wasmrt.KindMemoryLimit, Detail: "too much",
				StderrTail: `{"kind": "error", "type": "MemoryError", "message": "", "traceback": "..."}` + "\n",
				Traceback:  "Traceback (most recent call last):\n  File \"/tool/t/main.py\", line 3, in run\nMemoryError\n"},
			"MemoryError",
			[]string{"Traceback (most recent call last):", `  File "/tool/t/main.py", line 3, in run`, "MemoryError"}},
		{"without a traceback, what the interpreter wrote without the harness's records",
			&wasmrt.RunError{Kind: wasmrt.KindMemoryLimit, Detail: "too much",
				StderrTail: `{"kind": "log", "level": "INFO", "source": "stdout", "message": "x"}` + "\nFatal Python error: out of memory\n\n"},
			"MemoryError",
			[]string{"Fatal Python error: out of memory", "MemoryError: wasmrt: memory limit: too much"}},
		{"a timeout with only log records",
			&wasmrt.RunError{Kind: wasmrt.KindTimeout, Detail: "late",
				StderrTail: `{"kind": "log", "level": "INFO", "source": "stdout", "message": "x"}` + "\n"},
			"TimeoutError",
			[]string{"TimeoutError: wasmrt: timeout: late"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := resultOf(wasmrt.ToolResult{Output: "partial"}, tt.err)
			if err != nil {
				t.Fatal(err)
			}
			if res.Succeeded || res.Output != "" || res.ExceptionType != tt.wantType {
				t.Errorf("got succeeded %v, output %q, type %q; want a failed %s", res.Succeeded, res.Output, res.ExceptionType, tt.wantType)
			}
			if !slices.Equal(res.StackTrace, tt.wantTrace) {
				t.Errorf("got stack trace %q, want %q", res.StackTrace, tt.wantTrace)
			}
		})
	}
}

// TestInputSizeCap: input_parameters are refused past the size a record
// keeps, measured as the API writes them back.
func TestInputSizeCap(t *testing.T) {
	schema, err := compileSchema(json.RawMessage(`{"type": "object"}`))
	if err != nil {
		t.Fatal(err)
	}
	// {"a":"…"} is 8 bytes around the value.
	room := store.MaxInvocationInputBytes - 8
	tests := []struct {
		name, value string
		ok          bool
	}{
		{"plain text at the cap", strings.Repeat("x", room), true},
		{"plain text a byte past it", strings.Repeat("x", room+1), false},
		{"escaped text at the cap", strings.Repeat("<", room/6), true},
		{"escaped text a character past it", strings.Repeat("<", room/6+1), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw := json.RawMessage(`{"a":"` + tt.value + `"}`)
			err := validateInputs(schema, []Input{{Parameters: raw}})
			var p *Problems
			switch {
			case tt.ok && err != nil:
				t.Errorf("got %v, want it accepted", err)
			case !tt.ok && (!errors.As(err, &p) || !strings.Contains(p.Error(), "inputs[0].input_parameters")):
				t.Errorf("got %v, want a problem with inputs[0].input_parameters", err)
			}
		})
	}
}
