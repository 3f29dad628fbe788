package config

import (
	"strconv"
)

// Metric value types: what a judge's result for a metric may be.
const (
	MetricBoolean     = "boolean"
	MetricNumerical   = "numerical"
	MetricCategorical = "categorical"
)

// MaxMetricCategories is how many categories a categorical metric may have,
// as the reference says; it needs at least one.
const MaxMetricCategories = 50

// MetricValueIn is a metric version's metric_value as a request carries it:
// the fields of every type, told apart by Type.
type MetricValueIn struct {
	Type       string   `json:"type"`
	LowerBound *float64 `json:"lower_bound"`
	UpperBound *float64 `json:"upper_bound"`
	Categories []string `json:"categories"`
}

// MetricValue is a metric_value as it is stored and returned: the type and
// only the fields of that type.
type MetricValue struct {
	Type       string   `json:"type"`
	LowerBound *float64 `json:"lower_bound,omitempty"`
	UpperBound *float64 `json:"upper_bound,omitempty"`
	Categories []string `json:"categories,omitempty"`
}

// Check checks the value found at loc and returns it as stored. Bounds
// must be ordered (equal bounds are a metric with one possible number,
// allowed); categories are trimmed, 1 to MaxMetricCategories of them, none
// empty and none twice, since a result names one. Faults are added to f.
func (in MetricValueIn) Check(f *Faults, loc []any) MetricValue {
	out := MetricValue{Type: in.Type}
	switch in.Type {
	case MetricBoolean:
	case MetricNumerical:
		if in.LowerBound == nil {
			f.Add(extend(loc, "lower_bound"), "missing", "Field required")
		}
		if in.UpperBound == nil {
			f.Add(extend(loc, "upper_bound"), "missing", "Field required")
		}
		if in.LowerBound != nil && in.UpperBound != nil && *in.LowerBound > *in.UpperBound {
			f.Add(extend(loc, "upper_bound"), "value_error", "upper_bound must not be less than lower_bound ("+
				strconv.FormatFloat(*in.LowerBound, 'g', -1, 64)+")", *in.UpperBound)
		}
		out.LowerBound, out.UpperBound = in.LowerBound, in.UpperBound
	case MetricCategorical:
		switch {
		case in.Categories == nil:
			f.Add(extend(loc, "categories"), "missing", "Field required")
		case len(in.Categories) == 0:
			f.Add(extend(loc, "categories"), "too_short", "List should have at least 1 item after validation, not 0")
		case len(in.Categories) > MaxMetricCategories:
			f.Add(extend(loc, "categories"), "too_long", "List should have at most "+strconv.Itoa(MaxMetricCategories)+
				" items after validation, not "+strconv.Itoa(len(in.Categories)))
		}
		seen := map[string]bool{}
		out.Categories = make([]string, len(in.Categories))
		for i, c := range in.Categories {
			at := extend(loc, "categories", i)
			c = f.Stripped(c, at...)
			if c != "" && seen[c] {
				f.Add(at, "value_error", "Category "+strconv.Quote(c)+" is given more than once", in.Categories[i])
			}
			seen[c] = true
			out.Categories[i] = c
		}
	default:
		f.Add(extend(loc, "type"), "literal_error", "Input should be 'boolean', 'numerical' or 'categorical'", in.Type)
	}
	return out
}
