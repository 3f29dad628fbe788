package store

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"
)

// jsonSize is the size of v as the API writes it.
func jsonSize(v any) int {
	b, _ := json.Marshal(v)
	return len(b)
}

func control(n int) string { return strings.Repeat("\x01", n) }

func TestInvocationCaps(t *testing.T) {
	many := make([]string, 100_000)
	for i := range many {
		many[i] = "INFO print: line " + strings.Repeat("<", i%50)
	}
	huge := []string{"INFO print: first", strings.Repeat("\x01", 1<<20), "INFO print: last"}
	trace := make([]string, 5000)
	for i := range trace {
		trace[i] = `  File "/tool/t/main.py", line 3, in f`
	}
	tests := []struct {
		name      string
		inv       ToolInvocation
		unchanged bool
	}{
		{"a record within its caps is kept whole",
			ToolInvocation{Logs: []string{"INFO print: a", "WARNING stderr: b"}, StackTrace: []string{"Traceback", "ValueError: x"}, ExceptionMessage: "x"}, true},
		{"a hundred thousand log lines", ToolInvocation{Logs: many}, false},
		{"one megabyte line of control characters", ToolInvocation{Logs: huge}, false},
		{"a long stack trace and message", ToolInvocation{StackTrace: trace, ExceptionMessage: strings.Repeat("é", 1<<20)}, false},
		{"a stack trace whose last line is long", ToolInvocation{StackTrace: []string{"Traceback (most recent call last):",
			`  File "/tool/t/main.py", line 3, in f`, "ValueError: " + control(50_000)}}, false},
		{"one line of logs past the cap", ToolInvocation{Logs: []string{control(1 << 20)}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := tt.inv
			in.Logs = append([]string(nil), tt.inv.Logs...)
			in.StackTrace = append([]string(nil), tt.inv.StackTrace...)
			capInvocation(&in)
			if got := jsonSize(in.Logs); got > MaxInvocationLogBytes {
				t.Errorf("logs take %d bytes of JSON, want at most %d", got, MaxInvocationLogBytes)
			}
			if got := jsonSize(in.StackTrace); got > MaxInvocationStackTraceBytes {
				t.Errorf("stack trace takes %d bytes of JSON, want at most %d", got, MaxInvocationStackTraceBytes)
			}
			if got := utf8.RuneCountInString(in.ExceptionMessage); got > MaxInvocationMessageChars {
				t.Errorf("message has %d characters, want at most %d", got, MaxInvocationMessageChars)
			}
			if tt.unchanged {
				if strings.Join(in.Logs, "\n") != strings.Join(tt.inv.Logs, "\n") || in.ExceptionMessage != tt.inv.ExceptionMessage ||
					strings.Join(in.StackTrace, "\n") != strings.Join(tt.inv.StackTrace, "\n") {
					t.Errorf("got %+v, want it unchanged", in)
				}
				return
			}
			lines := in.Logs
			if len(tt.inv.Logs) == 0 {
				lines = in.StackTrace
			}
			if len(lines) > 0 && len(tt.inv.Logs)+len(tt.inv.StackTrace) > 0 {
				orig := tt.inv.Logs
				if len(orig) == 0 {
					orig = tt.inv.StackTrace
				}
				first, last := lines[0], lines[len(lines)-1]
				if !strings.HasPrefix(orig[0], strings.TrimSuffix(first, "…")) || !strings.HasPrefix(orig[len(orig)-1], strings.TrimSuffix(last, "…")) ||
					len(last) < min(100, len(orig[len(orig)-1])) {
					t.Errorf("first and last lines %.40q … %.40q, want the start of the original's first and last lines", first, last)
				}
				marked := false
				for _, l := range lines {
					marked = marked || strings.Contains(l, "left out")
				}
				if !marked && len(lines) != len(orig) {
					t.Errorf("lines were dropped without a marker")
				}
			}
		})
	}
}

func TestInvocationStoredCapped(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	newOrg(t, s, "a")
	tool, _ := s.CreateTool(ctx, Tool{OrgID: "a", Name: "t", Description: "d", Creator: Actor{OrgID: "a", UserID: "u"}})
	v := publish(t, s, "a", tool.ID)
	logs := make([]string, 50_000)
	for i := range logs {
		logs[i] = "INFO print: progress " + strings.Repeat("x", 100)
	}
	logs[len(logs)-1] = "INFO print: the end"
	if _, err := s.RecordToolInvocations(ctx, []ToolInvocation{{OrgID: "a", ToolID: tool.ID, VersionID: v.ID, Major: 1,
		SourceType: SourceRegularConversation, Inputs: json.RawMessage(`{}`), Succeeded: true, Output: "ok", Logs: logs}}); err != nil {
		t.Fatal(err)
	}
	list, _, err := s.ListToolInvocations(ctx, "a", InvocationFilter{Limit: 10})
	if err != nil || len(list) != 1 {
		t.Fatalf("list: %v %v", list, err)
	}
	got := list[0].Logs
	if size := jsonSize(got); size > MaxInvocationLogBytes || size < MaxInvocationLogBytes-1024 {
		t.Errorf("stored logs take %d bytes, want just under %d", size, MaxInvocationLogBytes)
	}
	if got[len(got)-1] != "INFO print: the end" || !strings.Contains(strings.Join(got, "\n"), "log lines") {
		t.Errorf("stored logs end %q and lack the marker", got[len(got)-1])
	}
}

func TestDeleteToolInvocationsBefore(t *testing.T) {
	ctx := context.Background()
	var mu sync.Mutex
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	s, err := Open(ctx, filepath.Join(t.TempDir(), "test.db"), WithClock(clock))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	newOrg(t, s, "a")
	tool, _ := s.CreateTool(ctx, Tool{OrgID: "a", Name: "t", Description: "d", Creator: Actor{OrgID: "a", UserID: "u"}})
	v := publish(t, s, "a", tool.ID)
	record := func(output string, n int) {
		invs := make([]ToolInvocation, n)
		for i := range invs {
			invs[i] = ToolInvocation{OrgID: "a", ToolID: tool.ID, VersionID: v.ID, Major: 1,
				SourceType: SourceRegularConversation, Inputs: json.RawMessage(`{}`), Succeeded: true, Output: output}
		}
		if _, err := s.RecordToolInvocations(ctx, invs); err != nil {
			t.Fatal(err)
		}
	}
	// More old records than one delete batch, so the batches are looped.
	record("ancient", invocationDeleteBatch+5)
	mu.Lock()
	now = now.Add(24 * time.Hour)
	mu.Unlock()
	record("recent", 3)
	cutoff := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	n, err := s.DeleteToolInvocationsBefore(ctx, cutoff)
	if err != nil || n != invocationDeleteBatch+5 {
		t.Fatalf("deleted %d (%v), want %d", n, err, invocationDeleteBatch+5)
	}
	list, _, _ := s.ListToolInvocations(ctx, "a", InvocationFilter{Limit: -1})
	if len(list) != 3 || list[0].Output != "recent" {
		t.Errorf("left %d records, want the 3 recent ones", len(list))
	}
	if got, _ := s.SearchToolInvocations(ctx, "a", "ancient", nil, InvocationFilter{}); len(got) != 0 {
		t.Errorf("search finds %d deleted records", len(got))
	}
	var indexed int
	if err := s.read.QueryRowContext(ctx, `SELECT count(*) FROM tool_invocations_fts WHERE tool_invocations_fts MATCH 'ancient'`).Scan(&indexed); err != nil || indexed != 0 {
		t.Errorf("the full-text index holds %d deleted records (%v), want 0", indexed, err)
	}
	if n, err := s.DeleteToolInvocationsBefore(ctx, cutoff); err != nil || n != 0 {
		t.Errorf("second sweep deleted %d (%v), want 0", n, err)
	}
}
