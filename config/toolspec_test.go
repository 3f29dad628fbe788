package config

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/compadre-dev/compadre/pep440"
)

func ptr[T any](v T) *T { return &v }

func TestToolSpecShape(t *testing.T) {
	t.Parallel()
	at := []any{"body", "spec"}
	tests := []struct {
		name string
		spec ToolSpec
		want Faults
	}{
		{name: "sound", spec: ToolSpec{ToolID: "t", VersionConstraint: ">=1,<2", ResultPersistence: ptr(PersistPersistedPreferred),
			AudioFillers: []string{`<prosody rate="1.2">One moment.</prosody>`}}},
		{name: "result persistence missing", spec: ToolSpec{VersionConstraint: "==1.0.0"},
			want: Faults{{Loc: []any{"body", "spec", "result_persistence"}, Type: "missing",
				Msg: "Field required: every tool call spec must say its result_persistence (ephemeral, persisted-preferred, persisted)"}}},
		{name: "result persistence unknown", spec: ToolSpec{VersionConstraint: "==1.0.0", ResultPersistence: ptr("forever")},
			want: Faults{{Loc: []any{"body", "spec", "result_persistence"}, Type: "enum",
				Msg: "Input should be 'ephemeral', 'persisted-preferred', 'persisted'", Input: "forever"}}},
		{name: "version constraint without operator", spec: ToolSpec{VersionConstraint: "1.0", ResultPersistence: ptr(PersistEphemeral)},
			want: Faults{{Loc: []any{"body", "spec", "version_constraint"}, Type: "value_error", Input: "1.0",
				Msg: `Not a version constraint: invalid version constraint "1.0": clause "1.0" does not start with an operator (one of === ~= == != <= >= < >)`}}},
		{name: "filler over the limit", spec: ToolSpec{VersionConstraint: ">=1", ResultPersistence: ptr(PersistEphemeral),
			AudioFillers: []string{"ok", strings.Repeat("a", 513)}},
			want: Faults{{Loc: []any{"body", "spec", "audio_fillers", 1}, Type: "value_error", Input: strings.Repeat("a", 513),
				Msg: "Invalid audio filler at character 513: an audio filler is at most 512 characters including SSML tags; this one has 513"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var got Faults
			tc.spec.checkShape(&got, at)
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %#v, want %#v", got, tc.want)
			}
		})
	}
}

func TestResolveToolSpecs(t *testing.T) {
	t.Parallel()
	v := func(major, minor, patch int, deprecated bool) ToolVersion {
		return ToolVersion{Version: pep440.Version{Major: major, Minor: minor, Patch: patch}, Deprecated: deprecated}
	}
	stored := map[string]*Tool{
		"live": {ID: "live", Name: "echo", Versions: []ToolVersion{v(1, 0, 0, false), v(2, 0, 0, true)}},
		"old":  {ID: "old", Name: "fax", Deprecated: true, Versions: []ToolVersion{v(1, 0, 0, false)}},
	}
	located := func(where, id, constraint string) LocatedSpec {
		return LocatedSpec{Where: where, Spec: ToolSpec{ToolID: id, VersionConstraint: constraint}}
	}
	tests := []struct {
		name  string
		specs []LocatedSpec
		want  string
	}{
		{name: "none"},
		{name: "a live version matches", specs: []LocatedSpec{located("a", "live", ">=1,<2")}},
		{name: "an unreadable constraint is left to the shape check", specs: []LocatedSpec{located("a", "live", "1.0")}},
		{name: "every problem listed", specs: []LocatedSpec{
			located("a", "gone", ">=1"), located("b", "old", ">=1"), located("c", "live", ">=2"), located("d", "live", "==1.0.0"),
		}, want: `Tool call specs that do not resolve: a: tool gone does not exist; b: tool old (fax) is deprecated; ` +
			`c: no published, non-deprecated version of tool live (echo) satisfies ">=2"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			looked := map[string]int{}
			err := ResolveToolSpecs(tc.specs, func(id string) (*Tool, error) {
				looked[id]++
				return stored[id], nil
			})
			for id, n := range looked {
				if n != 1 {
					t.Errorf("tool %s looked up %d times, want once", id, n)
				}
			}
			if tc.want == "" {
				if err != nil {
					t.Fatalf("got %v, want no error", err)
				}
				return
			}
			var un *Unresolved
			if !errors.As(err, &un) || un.Error() != tc.want {
				t.Errorf("got %v (%T), want *Unresolved %q", err, err, tc.want)
			}
		})
	}
	t.Run("lookup failure", func(t *testing.T) {
		failed := errors.New("disk gone")
		err := ResolveToolSpecs([]LocatedSpec{located("a", "live", ">=1")}, func(string) (*Tool, error) { return nil, failed })
		if !errors.Is(err, failed) {
			t.Errorf("got %v, want the lookup's error", err)
		}
	})
}
