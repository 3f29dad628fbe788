package store

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestPromptLogsByPrefix: a prefix selects exactly the keys that start
// with it, within the organization and the window, in key order, across
// pages and up to the limit; the prefix is matched as bytes, so a key
// sharing a lower or upper neighbour's beginning is not taken.
func TestPromptLogsByPrefix(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	newOrg(t, s, "a")
	newOrg(t, s, "b")
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	log := func(org, key string, age time.Duration) PromptLog {
		return PromptLog{OrgID: org, Key: key, Purpose: "p", Model: "m", Prompt: []byte(`[]`), CreatedAt: now.Add(-age)}
	}
	var logs []PromptLog
	for i := range 250 {
		logs = append(logs, log("a", fmt.Sprintf("conversation/c1/interaction/%03d", i), time.Minute))
	}
	logs = append(logs,
		log("a", "conversation/c1", time.Minute),         // the prefix itself
		log("a", "conversation/c0/x", time.Minute),       // sorts before
		log("a", "conversation/c10/x", time.Minute),      // shares "conversation/c1"
		log("a", "conversation/c2/x", time.Minute),       // sorts after
		log("a", "conversation/c1/é", time.Minute),       // past ASCII
		log("a", "conversation/c1/old", 31*24*time.Hour), // outside the window
		log("b", "conversation/c1/other", time.Minute),   // another organization
	)
	if err := s.RecordPromptLogs(ctx, logs); err != nil {
		t.Fatal(err)
	}
	since := now.Add(-PromptLogRetention)
	keys := func(org, prefix string, limit int) []string {
		t.Helper()
		var out []string
		if err := s.EachPromptLog(ctx, org, prefix, since, limit, func(p PromptLog) error {
			out = append(out, p.Key)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		return out
	}
	tests := []struct {
		name, org, prefix string
		limit, want       int
		first, last       string
	}{
		{"a conversation, with paging", "a", "conversation/c1/", 1000, 251, "conversation/c1/interaction/000", "conversation/c1/é"},
		{"a shorter prefix takes the neighbour sharing it", "a", "conversation/c1", 1000, 253, "conversation/c1", "conversation/c10/x"},
		{"an exact key", "a", "conversation/c1/interaction/007", 1000, 1, "conversation/c1/interaction/007", "conversation/c1/interaction/007"},
		{"the limit ends a page", "a", "conversation/c1/", 150, 150, "conversation/c1/interaction/000", "conversation/c1/interaction/149"},
		{"the limit on a page boundary", "a", "conversation/c1/", 200, 200, "conversation/c1/interaction/000", "conversation/c1/interaction/199"},
		{"the empty prefix", "a", "", 1000, 255, "conversation/c0/x", "conversation/c2/x"},
		{"past ASCII", "a", "conversation/c1/é", 1000, 1, "conversation/c1/é", "conversation/c1/é"},
		{"another organization", "b", "conversation/c1/", 1000, 1, "conversation/c1/other", "conversation/c1/other"},
		{"nothing", "a", "simulation/", 1000, 0, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := keys(tt.org, tt.prefix, tt.limit)
			if len(got) != tt.want || len(got) > 0 && (got[0] != tt.first || got[len(got)-1] != tt.last) {
				t.Fatalf("got %d keys (%.3v ... %v), want %d from %s to %s", len(got), got, got[max(0, len(got)-1):],
					tt.want, tt.first, tt.last)
			}
			if !slices.IsSorted(got) {
				t.Errorf("keys out of order")
			}
			n, err := s.CountPromptLogs(ctx, tt.org, tt.prefix, since)
			if err != nil {
				t.Fatal(err)
			}
			if want := len(keys(tt.org, tt.prefix, 10000)); n != want {
				t.Errorf("counted %d, want %d", n, want)
			}
		})
	}

	// The key range is an index range, not a scan of the organization's
	// logs.
	rows, err := s.read.QueryContext(ctx, `EXPLAIN QUERY PLAN SELECT count(*) FROM prompt_logs WHERE `+promptLogRange,
		"a", "conversation/c1/", formatTime(since))
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, detail)
	}
	if p := strings.Join(plan, "; "); !strings.Contains(p, "key>? AND key<?") {
		t.Errorf("query plan: %s", p)
	}
}

// TestPrunePromptLogs: logs created before the time go, of every
// organization, in batches; later ones stay.
func TestPrunePromptLogs(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	newOrg(t, s, "a")
	newOrg(t, s, "b")
	cut := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	var logs []PromptLog
	for i := range promptLogDeleteBatch + 5 {
		org := []string{"a", "b"}[i%2]
		logs = append(logs, PromptLog{OrgID: org, Key: fmt.Sprintf("old/%d", i), Prompt: []byte(`[]`),
			CreatedAt: cut.Add(-time.Duration(i+1) * time.Second)})
	}
	logs = append(logs, PromptLog{OrgID: "a", Key: "new", Prompt: []byte(`[]`), CreatedAt: cut})
	if err := s.RecordPromptLogs(ctx, logs); err != nil {
		t.Fatal(err)
	}
	n, err := s.PrunePromptLogs(ctx, cut)
	if err != nil || n != promptLogDeleteBatch+5 {
		t.Fatalf("pruned %d (%v), want %d", n, err, promptLogDeleteBatch+5)
	}
	for _, org := range []string{"a", "b"} {
		left, err := s.CountPromptLogs(ctx, org, "", time.Time{})
		if want := map[string]int{"a": 1, "b": 0}[org]; err != nil || left != want {
			t.Errorf("%s: %d left (%v), want %d", org, left, err, want)
		}
	}
}
