package httpapi

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
)

// evidenceDir holds what the test runs found each reference operation
// reached by; CONFORMANCE.md is made from it alone.
const evidenceDir = "../tests/conformance/"

// endToEndEvidence is this package's own file in evidenceDir.
const endToEndEvidence = evidenceDir + "end-to-end.json"

// endToEndAbout says what endToEndEvidence holds, in the file itself.
const endToEndAbout = "The reference's operations an in-process server answered during a full run of the Go tests " +
	"of http/ (reached), and those answered at least once with a 2xx or 3xx (succeeded). Written by " +
	"COMPADRE_EVIDENCE=update go test ./http/; a full run without it fails when it differs."

// TestMain records every operation the package's servers answer (see
// answered) and, after a full run that passed, holds the record to
// endToEndEvidence: COMPADRE_EVIDENCE=update rewrites the file and
// CONFORMANCE.md from it; otherwise a difference fails the run, so a
// table left stale by a new test goes red. A partial run (-run, -skip,
// -short) proves nothing about what the whole package reaches, and is
// not held to the file. See DECISIONS.md, "How is CONFORMANCE.md made,
// and why can it not be edited by hand?".
//
// Only a full run records at all: a benchmark (-run '^$') measures
// requests without the recorder's lock.
func TestMain(m *testing.M) {
	flag.Parse()
	update := os.Getenv("COMPADRE_EVIDENCE") == "update"
	if !fullRun() {
		code := m.Run()
		if update {
			// Asked for, and not done: that is a failure.
			fmt.Fprintln(os.Stderr, "COMPADRE_EVIDENCE=update records only a full run of the package: nothing was written")
			code = 1
		}
		os.Exit(code)
	}
	rec := &answerRecorder{reached: map[string]bool{}, succeeded: map[string]bool{}}
	answered = rec.record
	code := m.Run()
	if code == 0 {
		if err := rec.settle(update); err != nil {
			fmt.Fprintln(os.Stderr, err)
			code = 1
		}
	}
	os.Exit(code)
}

// fullRun says whether every test of the package ran.
func fullRun() bool {
	for _, name := range []string{"test.run", "test.skip", "test.list"} {
		if f := flag.Lookup(name); f != nil && f.Value.String() != "" {
			return false
		}
	}
	return !testing.Short()
}

// answerRecorder keeps, per served operation, whether it was answered at
// all and whether with success; servers answer concurrently.
type answerRecorder struct {
	mu                 sync.Mutex
	reached, succeeded map[string]bool
}

func (r *answerRecorder) record(op string, status int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.reached[op] = true
	if status < 400 {
		r.succeeded[op] = true
	}
}

// settle compares the record, in the reference's operation names, with
// endToEndEvidence, or rewrites that file and CONFORMANCE.md when update.
func (r *answerRecorder) settle(update bool) error {
	refs, err := loadReferenceOperations()
	if err != nil {
		return err
	}
	served := servedAs(refs)
	r.mu.Lock()
	fresh := evidence{About: endToEndAbout, Reached: []string{}, Succeeded: []string{}}
	for _, ref := range refs {
		if op, ok := served[ref.id]; ok {
			if r.reached[op] {
				fresh.Reached = append(fresh.Reached, ref.id)
			}
			if r.succeeded[op] {
				fresh.Succeeded = append(fresh.Succeeded, ref.id)
			}
		}
	}
	r.mu.Unlock()
	slices.Sort(fresh.Reached)
	slices.Sort(fresh.Succeeded)
	if update {
		if err := writeEvidence(endToEndEvidence, fresh); err != nil {
			return err
		}
		table, err := conformanceTable()
		if err != nil {
			return err
		}
		return os.WriteFile(conformancePath, table, 0o644)
	}
	committed, err := readEvidence(endToEndEvidence)
	if err != nil {
		return err
	}
	if diff := fresh.diff(committed); diff != "" {
		return fmt.Errorf("%s is stale: this run's end-to-end tests reach other operations than it says:\n%s"+
			"Run COMPADRE_EVIDENCE=update go test ./http/ to rewrite it and CONFORMANCE.md, and commit both.",
			strings.TrimPrefix(endToEndEvidence, "../"), diff)
	}
	return nil
}

// evidence is one file of evidenceDir: the reference's operations (by the
// reference's operationIds) a kind of test reached, and those it got a
// successful answer from; Succeeded is absent where successes are not
// reproducible (the fuzzer's).
type evidence struct {
	About     string   `json:"about"`
	Reached   []string `json:"reached"`
	Succeeded []string `json:"succeeded,omitempty"`
}

func readEvidence(path string) (evidence, error) {
	var e evidence
	b, err := os.ReadFile(path)
	if err != nil {
		return e, err
	}
	if err := json.Unmarshal(b, &e); err != nil {
		return e, fmt.Errorf("%s: %w", path, err)
	}
	return e, nil
}

// writeEvidence writes e as the contract runs write theirs (two-space
// indents, a final newline), so every file reads alike.
func writeEvidence(path string, e evidence) error {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(e); err != nil {
		return err
	}
	return os.WriteFile(path, b.Bytes(), 0o644)
}

// diff names the operations e has and was does not, and the reverse, per
// list; "" when the lists are the same.
func (e evidence) diff(was evidence) string {
	var out bytes.Buffer
	for _, l := range []struct {
		name     string
		now, was []string
	}{{"reached", e.Reached, was.Reached}, {"succeeded", e.Succeeded, was.Succeeded}} {
		for _, op := range l.now {
			if !slices.Contains(l.was, op) {
				fmt.Fprintf(&out, "  + %s %s\n", l.name, op)
			}
		}
		for _, op := range l.was {
			if !slices.Contains(l.now, op) {
				fmt.Fprintf(&out, "  - %s %s\n", l.name, op)
			}
		}
	}
	return out.String()
}

func TestEvidenceDiff(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		now, was evidence
		want     string
	}{
		{"same", evidence{Reached: []string{"a", "b"}, Succeeded: []string{"a"}},
			evidence{About: "other words", Reached: []string{"a", "b"}, Succeeded: []string{"a"}}, ""},
		{"one more reached", evidence{Reached: []string{"a", "b"}}, evidence{Reached: []string{"a"}},
			"  + reached b\n"},
		{"a success lost", evidence{Reached: []string{"a"}}, evidence{Reached: []string{"a"}, Succeeded: []string{"a"}},
			"  - succeeded a\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := tc.now.diff(tc.was); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

// TestEvidenceFilesNameReferenceOperations keeps the evidence to the
// reference's operationIds, sorted and without repeats, successes among
// those reached: whatever wrote a file, the table reads it by those names.
func TestEvidenceFilesNameReferenceOperations(t *testing.T) {
	t.Parallel()
	refs, err := loadReferenceOperations()
	if err != nil {
		t.Fatal(err)
	}
	known := map[string]bool{}
	for _, ref := range refs {
		known[ref.id] = true
	}
	for _, src := range evidenceSources {
		e, err := readEvidence(evidenceDir + src.file)
		if err != nil {
			t.Fatal(err)
		}
		if e.About == "" {
			t.Errorf("%s: no about", src.file)
		}
		for _, l := range [][]string{e.Reached, e.Succeeded} {
			if !slices.IsSorted(l) || len(slices.Compact(slices.Clone(l))) != len(l) {
				t.Errorf("%s: a list is not sorted and distinct: %v", src.file, l)
			}
			for _, op := range l {
				if !known[op] {
					t.Errorf("%s: %s is not one of the reference's operations", src.file, op)
				}
			}
		}
		for _, op := range e.Succeeded {
			if !slices.Contains(e.Reached, op) {
				t.Errorf("%s: %s succeeded but is not among those reached", src.file, op)
			}
		}
	}
}
