package store

import (
	"encoding/json"
	"fmt"
	"unicode/utf8"
)

// Caps on what one invocation record keeps, so that a page of the listing
// has a known worst case. See DECISIONS.md, "How much of a run does an
// invocation record keep?". Sizes are of the JSON the API writes (a
// character may take up to six bytes there, as \u0001).
const (
	// MaxInvocationLogBytes caps a record's logs: the first and the last
	// lines are kept, half the budget each, with a line saying how many
	// were left out between them.
	MaxInvocationLogBytes = 64 << 10
	// MaxInvocationStackTraceBytes caps a record's stack trace the same way.
	MaxInvocationStackTraceBytes = 16 << 10
	// MaxInvocationLineChars caps one log or stack trace line.
	MaxInvocationLineChars = 4096
	// MaxInvocationMessageChars caps a record's exception message.
	MaxInvocationMessageChars = 4096
	// MaxInvocationTypeChars caps a record's exception type (a Python
	// class's qualified name).
	MaxInvocationTypeChars = 256
	// MaxInvocationInputBytes is the largest input_parameters object an
	// invocation takes (and so a record keeps), measured as the API writes
	// it back: "<" counts six bytes, as \u003c.
	MaxInvocationInputBytes = 32 << 10
)

// capInvocation applies the caps above to a record about to be stored.
func capInvocation(inv *ToolInvocation) {
	inv.Logs = capLines(inv.Logs, MaxInvocationLogBytes, "log lines")
	inv.StackTrace = capLines(inv.StackTrace, MaxInvocationStackTraceBytes, "stack trace lines")
	inv.ExceptionMessage = cutChars(inv.ExceptionMessage, MaxInvocationMessageChars)
	inv.ExceptionType = cutChars(inv.ExceptionType, MaxInvocationTypeChars)
}

// capLines keeps lines (each cut to MaxInvocationLineChars) while their
// JSON fits budget bytes: the head and the tail, up to half each, and
// between them one line saying what was left out. Lines that fit are
// returned as they are.
func capLines(lines []string, budget int, what string) []string {
	cost := func(s string) int {
		b, _ := json.Marshal(s)
		return len(b) + 1 // and its comma
	}
	cut := make([]string, len(lines))
	total := 1 // the brackets, less the last line's missing comma
	for i, l := range lines {
		cut[i] = cutChars(l, MaxInvocationLineChars)
		total += cost(cut[i])
	}
	if total <= budget {
		return cut
	}
	// The brackets and the marker take at most 100 bytes of the budget.
	half := (budget - 100) / 2
	head, used := 0, 0
	for head < len(cut) && used+cost(cut[head]) <= half {
		used += cost(cut[head])
		head++
	}
	if head == 0 {
		// The first line alone is past its half: keep its start.
		cut[0] = fitLine(cut[0], half, cost)
		head = 1
	}
	tail, used := len(cut), 0
	for tail > head && used+cost(cut[tail-1]) <= half {
		used += cost(cut[tail-1])
		tail--
	}
	if tail == len(cut) && tail > head {
		// Likewise the last line, often the one that says what failed.
		cut[tail-1] = fitLine(cut[tail-1], half, cost)
		tail--
	}
	out := make([]string, 0, head+1+len(cut)-tail)
	out = append(out, cut[:head]...)
	if tail > head {
		dropped := 0
		for _, l := range cut[head:tail] {
			dropped += len(l)
		}
		out = append(out, fmt.Sprintf("WARNING compadre: %d %s (%d bytes) left out", tail-head, what, dropped))
	}
	return append(out, cut[tail:]...)
}

// fitLine cuts line to the most characters whose cost fits room.
func fitLine(line string, room int, cost func(string) int) string {
	lo, hi := 1, utf8.RuneCountInString(line) // cutChars(line, 1) is "…", which always fits
	for lo < hi {
		mid := (lo + hi + 1) / 2
		if cost(cutChars(line, mid)) <= room {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	return cutChars(line, lo)
}

// cutChars cuts s to at most n characters, marking the cut.
func cutChars(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	i, count := 0, 0
	for i = range s {
		if count == n-1 {
			break
		}
		count++
	}
	return s[:i] + "…"
}
