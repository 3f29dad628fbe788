package config

import "slices"

// Verbs a numerical success criterion may compare a result with its
// threshold by.
var criterionVerbs = []string{"==", "!=", "<=", "<", ">=", ">"}

// Criterion is what a simulation unit test expects of a metric's result: a
// boolean metric's value, a numerical one's relation to a threshold, or one
// of a categorical one's values. Its Type must be its metric's value type.
type Criterion struct {
	Type           string   `json:"type"`
	ExpectedValue  *bool    `json:"expected_value,omitempty"`
	Verb           string   `json:"verb,omitempty"`
	Threshold      *float64 `json:"threshold,omitempty"`
	ExpectedValues []string `json:"expected_values,omitempty"`
}

// Check checks the criterion found at loc, adding its faults to f, and
// returns it with only the fields of its type.
func (c Criterion) Check(f *Faults, loc []any) Criterion {
	out := Criterion{Type: c.Type}
	switch c.Type {
	case MetricBoolean:
		if c.ExpectedValue == nil {
			f.Add(extend(loc, "expected_value"), "missing", "Field required")
		}
		out.ExpectedValue = c.ExpectedValue
	case MetricNumerical:
		if !slices.Contains(criterionVerbs, c.Verb) {
			f.Add(extend(loc, "verb"), "literal_error", "Input should be '==', '!=', '<=', '<', '>=' or '>'", c.Verb)
		}
		if c.Threshold == nil {
			f.Add(extend(loc, "threshold"), "missing", "Field required")
		}
		out.Verb, out.Threshold = c.Verb, c.Threshold
	case MetricCategorical:
		if len(c.ExpectedValues) == 0 {
			f.Add(extend(loc, "expected_values"), "too_short", "List should have at least 1 item after validation, not 0")
		}
		out.ExpectedValues = slices.Clone(c.ExpectedValues)
	default:
		f.Add(extend(loc, "type"), "literal_error", "Input should be 'boolean', 'numerical' or 'categorical'", c.Type)
	}
	return out
}
