package engine

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/compadre-dev/compadre/config"
)

func TestPersist(t *testing.T) {
	t.Parallel()
	x := func(n int) string { return strings.Repeat("x", n) }
	// é is two bytes and one character: the limits count characters.
	accented := strings.Repeat("é", MaxKeptOutput)
	cases := []struct {
		name     string
		mode     string
		text     string
		failed   bool
		wantKept bool
		wantOK   bool
		wantText string // "" means the output itself
	}{
		{"ephemeral keeps nothing", config.PersistEphemeral, x(10), false, false, true, ""},
		{"ephemeral at the output limit", config.PersistEphemeral, x(MaxToolOutput), false, false, true, ""},
		{"ephemeral past the output limit", config.PersistEphemeral, x(MaxToolOutput + 1), false, false, false,
			"The tool's output has 20001 characters; at most 20000 are allowed"},
		{"preferred at the kept limit", config.PersistPersistedPreferred, x(MaxKeptOutput), false, true, true, ""},
		{"preferred past the kept limit", config.PersistPersistedPreferred, x(MaxKeptOutput + 1), false, false, true, ""},
		{"preferred at the output limit", config.PersistPersistedPreferred, x(MaxToolOutput), false, false, true, ""},
		{"preferred past the output limit", config.PersistPersistedPreferred, x(MaxToolOutput + 1), false, false, false,
			"The tool's output has 20001 characters; at most 20000 are allowed"},
		{"preferred counts characters", config.PersistPersistedPreferred, accented, false, true, true, ""},
		{"persisted at the kept limit", config.PersistPersisted, x(MaxKeptOutput), false, true, true, ""},
		{"persisted past the kept limit", config.PersistPersisted, x(MaxKeptOutput + 1), false, false, false,
			"The tool's output has 5001 characters; a persisted result may have at most 5000"},
		{"persisted counts characters", config.PersistPersisted, accented, false, true, true, ""},
		{"persisted past the output limit", config.PersistPersisted, x(MaxToolOutput + 1), false, false, false,
			"The tool's output has 20001 characters; at most 20000 are allowed"},
		{"a failed call keeps nothing", config.PersistPersisted, "ValueError: no", true, false, false, "ValueError: no"},
		{"empty output is kept", config.PersistPersisted, "", false, true, true, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			mode := tc.mode
			kept, res := persist(config.ToolSpec{ResultPersistence: &mode}, toolResult{ok: !tc.failed, text: tc.text})
			want := tc.wantText
			if want == "" {
				want = tc.text
			}
			if res.ok != tc.wantOK || res.text != want {
				t.Errorf("result: got ok %v, %d characters %.80q; want ok %v, %.80q", res.ok, len(res.text), res.text, tc.wantOK, want)
			}
			switch {
			case tc.wantKept && (kept == nil || *kept != tc.text):
				t.Errorf("kept: got %v, want the output", kept)
			case !tc.wantKept && kept != nil:
				t.Errorf("kept: got %d characters, want nothing", len(*kept))
			}
		})
	}
}

// TestUnlessSlow: a step that outlasts its trigger is reported once, with
// the first filler and the event that started it, before it ends; a quick
// one, or one with no filler to say, is not.
func TestUnlessSlow(t *testing.T) {
	t.Parallel()
	started := ToolCallStarted{Type: "tool-call-started", ToolID: "t1", ToolVersion: "1.0.0"}
	cases := []struct {
		name    string
		fillers []string
		after   float64
		work    time.Duration
		want    bool
	}{
		{"slow", []string{"One moment.", "Nearly there."}, 0.01, 300 * time.Millisecond, true},
		{"quick", []string{"One moment."}, 10, 0, false},
		{"slow without fillers", nil, 0.01, 100 * time.Millisecond, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var events []string
			var finished atomic.Bool
			tr := &turn{ctx: context.Background(), emit: func(ev Event) error {
				a := ev.(CurrentAgentAction).Action.(ActionTooLong)
				events = append(events, fmt.Sprintf("%s %s %v finished=%v", a.Type, a.Filler, a.PreviouslyStartedEvent, finished.Load()))
				return nil
			}}
			err := tr.unlessSlow(tc.fillers, tc.after, started, func() {
				time.Sleep(tc.work)
				finished.Store(true)
			})
			if err != nil || !finished.Load() {
				t.Fatalf("got error %v, finished %v; want the work done", err, finished.Load())
			}
			var want []string
			if tc.want {
				want = []string{fmt.Sprintf("action-too-long One moment. %v finished=false", started)}
			}
			if fmt.Sprint(events) != fmt.Sprint(want) {
				t.Errorf("events: got %q, want %q", events, want)
			}
		})
	}
}
