package tools

import (
	"slices"
	"testing"

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
