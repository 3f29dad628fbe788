package app

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/compadre-dev/compadre/store"
)

// TestRetention: invocation records older than the retention are deleted,
// at start and by each sweep, and younger ones are kept.
func TestRetention(t *testing.T) {
	ctx := context.Background()
	var mu sync.Mutex
	now := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	dir := t.TempDir()
	cfg := Config{DataDir: dir, Now: clock, Retention: 48 * time.Hour}

	a, err := Open(ctx, cfg, "http://unused")
	if err != nil {
		t.Fatal(err)
	}
	org := a.cfg.Org
	tool, err := a.Store.CreateTool(ctx, store.Tool{OrgID: org, Name: "t", Description: "d", Creator: store.Actor{OrgID: org, UserID: "u"}})
	if err != nil {
		t.Fatal(err)
	}
	record := func(s *store.Store, output string) {
		t.Helper()
		if _, err := s.RecordToolInvocations(ctx, []store.ToolInvocation{{OrgID: org, ToolID: tool.ID, VersionID: "v", Major: 1,
			SourceType: store.SourceRegularConversation, Inputs: json.RawMessage(`{}`), Succeeded: true, Output: output}}); err != nil {
			t.Fatal(err)
		}
	}
	outputs := func(s *store.Store) []string {
		t.Helper()
		list, _, err := s.ListToolInvocations(ctx, org, store.InvocationFilter{Limit: -1})
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, inv := range list {
			out = append(out, inv.Output)
		}
		return out
	}
	record(a.Store, "day 0")
	advance(24 * time.Hour)
	record(a.Store, "day 1")

	tests := []struct {
		name    string
		advance time.Duration
		want    []string
	}{
		{"nothing is past the retention yet", 24*time.Hour - time.Second, []string{"day 1", "day 0"}},
		{"day 0 passes the retention", 2 * time.Second, []string{"day 1"}},
		{"the retention is measured from each record", 23 * time.Hour, []string{"day 1"}},
		{"day 1 passes it too", 2 * time.Hour, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			advance(tt.advance)
			a.sweep(ctx, cfg.Retention)
			if got := outputs(a.Store); len(got) != len(tt.want) || (len(got) > 0 && got[0] != tt.want[0]) {
				t.Errorf("kept %q, want %q", got, tt.want)
			}
		})
	}

	// A restart sweeps at once: a record made, then left past the
	// retention while the server was down, is gone soon after it starts.
	record(a.Store, "before the restart")
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	advance(72 * time.Hour)
	b, err := Open(ctx, cfg, "http://unused")
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	deadline := time.Now().Add(10 * time.Second)
	for len(outputs(b.Store)) > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("the record past the retention is still there after a restart")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestRetentionOff: a negative retention keeps every invocation record,
// while webhook delivery records and prompt logs still go after their 30
// days.
func TestRetentionOff(t *testing.T) {
	ctx := context.Background()
	var mu sync.Mutex
	now := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	a, err := Open(ctx, Config{DataDir: t.TempDir(), Retention: -1, Now: clock}, "http://unused")
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	org := a.cfg.Org
	tool, err := a.Store.CreateTool(ctx, store.Tool{OrgID: org, Name: "t", Description: "d", Creator: store.Actor{OrgID: org, UserID: "u"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Store.RecordToolInvocations(ctx, []store.ToolInvocation{{OrgID: org, ToolID: tool.ID, VersionID: "v",
		Major: 1, SourceType: store.SourceRegularConversation, Inputs: json.RawMessage(`{}`), Succeeded: true}}); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Store.CreateWebhookDestination(ctx, store.WebhookDestination{OrgID: org, URL: "https://example.com",
		AcceptedTypes: []string{"t"}, RetryAttempts: 1, Secret: []byte("s")}); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Store.EmitWebhookEvent(ctx, org, "t", map[string]any{}); err != nil {
		t.Fatal(err)
	}
	promptLog := func(key string) {
		t.Helper()
		if err := a.Store.RecordPromptLogs(ctx, []store.PromptLog{{OrgID: org, Key: key, Prompt: json.RawMessage(`[]`),
			CreatedAt: clock()}}); err != nil {
			t.Fatal(err)
		}
	}
	promptLog("old")
	mu.Lock()
	now = now.Add(store.WebhookRetention + time.Hour)
	mu.Unlock()
	promptLog("young")
	a.sweep(ctx, -1)
	list, _, err := a.Store.ListToolInvocations(ctx, org, store.InvocationFilter{Limit: -1})
	if err != nil || len(list) != 1 {
		t.Errorf("invocations kept with the retention off: %d, %v", len(list), err)
	}
	if n, err := a.Store.PruneWebhookDeliveries(ctx, now.Add(time.Hour)); n != 0 || err != nil {
		t.Errorf("the sweep left %d webhook deliveries past 30 days (%v)", n, err)
	}
	var kept []string
	err = a.Store.EachPromptLog(ctx, org, "", time.Time{}, 10, func(l store.PromptLog) error {
		kept = append(kept, l.Key)
		return nil
	})
	if err != nil || len(kept) != 1 || kept[0] != "young" {
		t.Errorf("prompt logs kept: %v (%v), want the young one", kept, err)
	}
}

func TestSweepEvery(t *testing.T) {
	tests := []struct{ retention, want time.Duration }{
		{30 * 24 * time.Hour, time.Hour},
		{2 * time.Hour, 12 * time.Minute},
		{time.Minute, time.Minute},
	}
	for _, tt := range tests {
		t.Run(tt.retention.String(), func(t *testing.T) {
			if got := sweepEvery(tt.retention); got != tt.want {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}
