package httpapi

import (
	"slices"
	"strings"
)

// faults collects the 422 entries of one request body, so one answer lists
// everything wrong with it. Every check that finds more than one fault
// reports through it.
type faults []fieldError

// add records a fault at loc; input, if given, is the offending value.
func (f *faults) add(loc []any, typ, msg string, input ...any) {
	fe := fieldError{Loc: loc, Type: typ, Msg: msg}
	if len(input) > 0 {
		fe.Input = input[0]
	}
	*f = append(*f, fe)
}

// stripped returns s trimmed, recording a fault at loc if nothing is left.
func (f *faults) stripped(s string, loc ...any) string {
	t := strings.TrimSpace(s)
	if t == "" {
		f.add(loc, "value_error", "String should not be empty or only whitespace", s)
	}
	return t
}

// err is nil when nothing was recorded, else the 422 listing every fault.
func (f faults) err() error {
	if len(f) == 0 {
		return nil
	}
	return validationFailed(f...)
}

// strippedNonEmpty trims s and reports it missing at loc if nothing is left:
// the one-field form of faults.stripped.
func strippedNonEmpty(s string, loc ...any) (string, error) {
	var f faults
	t := f.stripped(s, loc...)
	return t, f.err()
}

// extend returns loc extended by more, never sharing loc's backing array.
func extend(loc []any, more ...any) []any { return append(slices.Clip(loc), more...) }
