package config

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

func TestMetricValueCheck(t *testing.T) {
	t.Parallel()
	loc := []any{"body", "metric_value"}
	at := func(more ...any) []any { return append([]any{"body", "metric_value"}, more...) }
	cats := func(n int) string {
		c := make([]string, n)
		for i := range c {
			c[i] = `"c` + string(rune('a'+i%26)) + strings.Repeat("x", i/26) + `"`
		}
		return `[` + strings.Join(c, ",") + `]`
	}
	tests := []struct {
		name       string
		body       string
		want       string // the stored value, as JSON
		wantFaults Faults
	}{
		{name: "boolean drops other fields", body: `{"type":"boolean","lower_bound":1,"categories":["a"]}`,
			want: `{"type":"boolean"}`},
		{name: "numerical", body: `{"type":"numerical","lower_bound":-1.5,"upper_bound":10}`,
			want: `{"type":"numerical","lower_bound":-1.5,"upper_bound":10}`},
		{name: "numerical, equal bounds", body: `{"type":"numerical","lower_bound":3,"upper_bound":3}`,
			want: `{"type":"numerical","lower_bound":3,"upper_bound":3}`},
		{name: "numerical, zero bounds are kept", body: `{"type":"numerical","lower_bound":0,"upper_bound":0}`,
			want: `{"type":"numerical","lower_bound":0,"upper_bound":0}`},
		{name: "numerical, inverted bounds", body: `{"type":"numerical","lower_bound":5,"upper_bound":4.5}`,
			wantFaults: Faults{{Loc: at("upper_bound"), Type: "value_error", Msg: "upper_bound must not be less than lower_bound (5)", Input: 4.5}}},
		{name: "numerical, bounds missing", body: `{"type":"numerical"}`,
			wantFaults: Faults{{Loc: at("lower_bound"), Type: "missing", Msg: "Field required"},
				{Loc: at("upper_bound"), Type: "missing", Msg: "Field required"}}},
		{name: "categorical, trimmed", body: `{"type":"categorical","categories":[" good ","bad"],"upper_bound":1}`,
			want: `{"type":"categorical","categories":["good","bad"]}`},
		{name: "categorical, 50 categories", body: `{"type":"categorical","categories":` + cats(50) + `}`,
			want: `{"type":"categorical","categories":` + cats(50) + `}`},
		{name: "categorical, 51 categories", body: `{"type":"categorical","categories":` + cats(51) + `}`,
			wantFaults: Faults{{Loc: at("categories"), Type: "too_long", Msg: "List should have at most 50 items after validation, not 51"}}},
		{name: "categorical, none", body: `{"type":"categorical","categories":[]}`,
			wantFaults: Faults{{Loc: at("categories"), Type: "too_short", Msg: "List should have at least 1 item after validation, not 0"}}},
		{name: "categorical, missing", body: `{"type":"categorical"}`,
			wantFaults: Faults{{Loc: at("categories"), Type: "missing", Msg: "Field required"}}},
		{name: "categorical, blank and repeated", body: `{"type":"categorical","categories":["a"," ","a "]}`,
			wantFaults: Faults{{Loc: at("categories", 1), Type: "value_error", Msg: "String should not be empty or only whitespace", Input: " "},
				{Loc: at("categories", 2), Type: "value_error", Msg: `Category "a" is given more than once`, Input: "a "}}},
		{name: "unknown type", body: `{"type":"text"}`,
			wantFaults: Faults{{Loc: at("type"), Type: "literal_error", Msg: "Input should be 'boolean', 'numerical' or 'categorical'", Input: "text"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var in MetricValueIn
			if err := json.Unmarshal([]byte(tc.body), &in); err != nil {
				t.Fatal(err)
			}
			var f Faults
			got := in.Check(&f, loc)
			if !reflect.DeepEqual(f, tc.wantFaults) {
				t.Fatalf("faults: got %#v, want %#v", f, tc.wantFaults)
			}
			if tc.wantFaults != nil {
				return
			}
			b, err := json.Marshal(got)
			if err != nil {
				t.Fatal(err)
			}
			if string(b) != tc.want {
				t.Errorf("got %s, want %s", b, tc.want)
			}
		})
	}
}
