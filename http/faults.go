package httpapi

import (
	"slices"

	"github.com/compadre-dev/compadre/config"
)

// faults collects the 422 entries of one request body, so one answer lists
// everything wrong with it; it is the configuration checks' collector, so
// both speak the same 422s. Its Err is a *config.Invalid, which writeError
// answers with 422.
type faults = config.Faults

// strippedNonEmpty trims s and reports it missing at loc if nothing is left:
// the one-field form of faults.stripped.
func strippedNonEmpty(s string, loc ...any) (string, error) {
	var f faults
	t := f.Stripped(s, loc...)
	return t, f.Err()
}

// extend returns loc extended by more, never sharing loc's backing array.
func extend(loc []any, more ...any) []any { return append(slices.Clip(loc), more...) }
