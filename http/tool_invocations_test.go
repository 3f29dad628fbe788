package httpapi_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/compadre-dev/compadre/store"
	"github.com/compadre-dev/compadre/wasmrt"
)

// worstPageBytes is the most a page of get-tool-invocations can weigh: at
// the limit's maximum, every record at every cap, every character of its
// text written as six bytes (\u0001). A succeeded record has an output, a
// failed one an exception, never both.
func worstPageBytes(limit int) int {
	const fixed = 2048 // IDs, times, version, source, duration and keys
	succeeded := 6*wasmrt.DefaultOutputChars + 2
	failed := store.MaxInvocationStackTraceBytes + 6*store.MaxInvocationMessageChars + 2 + 6*store.MaxInvocationTypeChars + 2
	perRecord := max(succeeded, failed) + store.MaxInvocationLogBytes + store.MaxInvocationInputBytes + fixed
	return limit*perRecord + 1024
}

// TestInvocationPageIsBounded fills a page of the invocation listing with
// records at their caps and checks its size against the computed worst case.
func TestInvocationPageIsBounded(t *testing.T) {
	srv, c := newTestServer(t)
	status, body := c.do("POST", "/tool/", map[string]any{"name": "big", "description": "big", "tags": map[string]any{}})
	mustStatus(t, "create tool", status, http.StatusCreated, body)
	toolID := body["id"].(string)

	const limit = 100 // get-tool-invocations' maximum
	control := func(n int) string { return strings.Repeat("\x01", n) }
	lines := make([]string, 200)
	for i := range lines {
		lines[i] = control(1024)
	}
	// The largest input an invocation takes: {"a":"<<…"}, each "<"
	// written back as \u003c.
	inputs := json.RawMessage(`{"a":"` + strings.Repeat("<", (store.MaxInvocationInputBytes-8)/6) + `"}`)
	if b, _ := json.Marshal(inputs); len(b) > store.MaxInvocationInputBytes {
		t.Fatalf("the test's input is %d bytes written back, past the cap", len(b))
	}
	invs := make([]store.ToolInvocation, limit+1)
	for i := range invs {
		invs[i] = store.ToolInvocation{OrgID: srv.Organization, ToolID: toolID, VersionID: "v", Major: 1,
			SourceType: store.SourceRegularConversation, UserID: &srv.UserID, Inputs: inputs, Logs: lines, DurationMS: 1}
		if i%2 == 0 {
			invs[i].Succeeded, invs[i].Output = true, control(wasmrt.DefaultOutputChars)
		} else {
			invs[i].ExceptionType, invs[i].ExceptionMessage, invs[i].StackTrace = control(10_000), control(100_000), lines
		}
	}
	if _, err := srv.Store().RecordToolInvocations(context.Background(), invs); err != nil {
		t.Fatal(err)
	}
	status, raw := c.raw("GET", "/v1/"+c.org+"/tool/invocation?limit=100", nil, map[string]string{"Authorization": "Bearer " + c.token})
	if status != http.StatusOK {
		t.Fatalf("list: status %d: %.300s", status, raw)
	}
	var page struct {
		ToolInvocations []json.RawMessage `json:"tool_invocations"`
		HasMore         bool              `json:"has_more"`
	}
	if err := json.Unmarshal(raw, &page); err != nil || len(page.ToolInvocations) != limit || !page.HasMore {
		t.Fatalf("got %d invocations, has_more %v (%v), want %d and more", len(page.ToolInvocations), page.HasMore, err, limit)
	}
	bound := worstPageBytes(limit)
	t.Logf("a page of %d records at their caps: %d bytes; computed worst case %d bytes", limit, len(raw), bound)
	if len(raw) > bound {
		t.Errorf("page is %d bytes, want at most %d", len(raw), bound)
	}
	// The records did reach their caps, so the bound is tested near its edge.
	if len(raw) < bound/2 {
		t.Errorf("page is %d bytes, under half the worst case %d: the records are not at their caps", len(raw), bound)
	}
}
