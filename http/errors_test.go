package httpapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"testing"

	"github.com/compadre-dev/compadre/config"
	"github.com/compadre-dev/compadre/store"
	"github.com/compadre-dev/compadre/tools"
)

// writeError is the one place errors become responses: each neutral error
// of the store, the tool service and the configuration checks gets its
// status and its sentence here.
func TestWriteErrorWordsNeutralErrors(t *testing.T) {
	tests := []struct {
		name       string
		err        error
		wantStatus int
		wantDetail string
	}{
		{"missing record", fmt.Errorf("wrapped: %w", &store.NotFoundError{Kind: store.KindUser, ID: "u1"}),
			404, `User "u1" not found.`},
		{"missing records", &store.NotFoundError{Kind: store.KindService, ID: "a", More: []string{"b"}},
			404, `Services "a", "b" not found.`},
		{"missing within its owner", &store.NotFoundError{Kind: store.KindVersionSet, ID: "beta",
			Owner: &store.NotFoundError{Kind: store.KindService, ID: "s1"}}, 404, `Version set "beta" of service "s1" not found.`},
		{"deprecated", &store.NotFoundError{Kind: store.KindAgent, ID: "a1", Deprecated: true},
			404, "The agent a1 is deprecated."},
		{"missing version", &store.NotFoundError{Kind: store.KindTool, ID: "t1", Version: "1.2.3"},
			404, "The tool t1 has no version 1.2.3."},
		{"a rule about a missing record", &store.RuleError{Missing: &store.NotFoundError{Kind: store.KindAgent, ID: "a1", Version: "2"}},
			400, "The agent a1 has no version 2."},
		{"limit", &store.RuleError{Refusal: store.Refusal{Rule: store.RuleLimit, Of: "API keys", Limit: 100}},
			400, "The organization has reached the maximum of 100 API keys."},
		{"conflict", &store.ConflictError{Refusal: store.Refusal{Rule: store.RuleNameTaken, Kind: store.KindService, Name: "S"}},
			409, `An active service named "S" already exists.`},
		{"metric used by unit tests", &store.RuleError{Refusal: store.Refusal{Rule: store.RuleInUse, Kind: store.KindMetric,
			ID: "m1", Others: []string{"u1", "u2"}}}, 400, "Metric is used in a simulation unit test (u1, u2)."},
		{"metric type change", &store.RuleError{Refusal: store.Refusal{Rule: store.RuleFixedType, Kind: store.KindMetric,
			ID: "m1", Name: "boolean"}}, 400, "The value type of metric m1 is boolean and cannot change between versions."},
		{"missing branch", &tools.SourceError{Fault: tools.BranchMissing, Branch: "main"},
			404, `Branch "main" not found in the tools repository.`},
		{"project too large", &tools.SourceError{Fault: tools.TooManyFiles, Dir: "p", Commit: "0123456789abcdef", Limit: 500},
			400, `The project "p" at commit 0123456789ab has more than 500 files.`},
		{"stale commit", &tools.SourceError{Fault: tools.StaleCommit, Branch: "b", Commit: "aaaaaaaaaaaaaaaa", Since: "bbbbbbbbbbbbbbbb"},
			400, "Branch b is at aaaaaaaaaaaa, an ancestor of bbbbbbbbbbbb, from which the tool was last published."},
		{"busy", fmt.Errorf("publish: %w", tools.ErrBusy), 409, "A related operation on this tool is in progress."},
		{"sandbox starting", fmt.Errorf("publish: %w", tools.ErrSandboxStarting), 503,
			"The Python sandbox is still starting; retry in a few seconds."},
		{"configuration that does not resolve", fmt.Errorf("create: %w", &config.Unresolved{Problems: []string{"a: tool t does not exist", "b: no"}}),
			400, "a: tool t does not exist; b: no"},
		{"first agent version incomplete", &config.Incomplete{Of: "agent", Missing: []string{"identity", "background"}},
			400, "The agent has no versions yet, so the first one needs every field; missing: identity, background."},
		{"anything else", errors.New("disk on fire"), 500, "Internal Server Error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			writeError(w, httptest.NewRequest("GET", "/", nil), slog.New(slog.DiscardHandler), tt.err)
			var body struct {
				Detail string `json:"detail"`
			}
			if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
				t.Fatal(err)
			}
			if w.Code != tt.wantStatus || body.Detail != tt.wantDetail {
				t.Errorf("got %d %q, want %d %q", w.Code, body.Detail, tt.wantStatus, tt.wantDetail)
			}
			if got := w.Header().Get("Retry-After"); (tt.wantStatus == 503) != (got != "") {
				t.Errorf("got Retry-After %q with status %d", got, w.Code)
			}
		})
	}
}

// A configuration's faults become one 422 entry each, in FastAPI's shape.
func TestWriteErrorListsConfigFaults(t *testing.T) {
	var f config.Faults
	f.Add([]any{"body", "states", 0, "name"}, "value_error", "State name \"a\" is already used by states[0]")
	f.Stripped(" ", "body", "description")
	w := httptest.NewRecorder()
	writeError(w, httptest.NewRequest("POST", "/", nil), slog.New(slog.DiscardHandler), fmt.Errorf("check: %w", f.Err()))
	want := `{"detail":[{"loc":["body","states",0,"name"],"msg":"State name \"a\" is already used by states[0]","type":"value_error"},` +
		`{"loc":["body","description"],"msg":"String should not be empty or only whitespace","type":"value_error","input":" "}]}`
	if w.Code != 422 || w.Body.String() != want {
		t.Errorf("got %d %s, want 422 %s", w.Code, w.Body, want)
	}
}
