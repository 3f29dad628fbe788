package llm

import (
	"context"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

func TestBuiltinVerdict(t *testing.T) {
	t.Parallel()
	passages := []Passage{
		{ID: "m1", Text: "Hi, I would like a REFUND for my order."},
		{ID: "m2", Text: "Sure.  Our refund   policy allows that; here is a coupon."},
		{ID: "m3", Text: "Thanks, that is great news!"},
	}
	boolean := ResultShape{Type: ResultBoolean}
	scale := ResultShape{Type: ResultNumerical, LowerBound: 1, UpperBound: 5}
	mood := ResultShape{Type: ResultCategorical, Categories: []string{"angry customer", "great news", "happy"}}
	tests := []struct {
		name      string
		shape     ResultShape
		guidance  string
		passages  []Passage
		want      string
		wantRefs  []string
		wantWords []string
	}{
		{"every quoted phrase found", boolean, `Did the agent mention the "refund policy" and a "coupon"?`, passages,
			"true", []string{"m2"}, []string{`Found: "refund policy", "coupon"`}},
		{"a phrase not found", boolean, `Did the agent say "goodbye"?`, passages,
			"false", []string{}, []string{`Not found: "goodbye"`}},
		{"phrases ignore case and runs of spaces", boolean, `"a refund"`, passages, "true", []string{"m1"}, nil},
		{"curly quotes", boolean, `Was “great news” said?`, passages, "true", []string{"m3"}, nil},
		{"without quotes every word counts", boolean, "refund order coupon", passages,
			"true", []string{"m1", "m2"}, nil},
		{"without quotes a missing word fails", boolean, "refund order discount", passages,
			"false", []string{"m1", "m2"}, []string{`Not found: "discount"`}},
		{"no term is not applicable", boolean, "Was it?", passages, "null", []string{}, []string{"does not apply"}},
		{"numerical share of terms", scale, `"refund", "coupon", "goodbye", "discount"`, passages,
			"3", []string{"m1", "m2"}, []string{"2 of the 4 terms"}},
		{"numerical all found is the upper bound", scale, `"coupon"`, passages, "5", []string{"m2"}, nil},
		{"numerical none found is the lower bound", scale, `"goodbye"`, passages, "1", []string{}, nil},
		{"category with most words", mood, "How did the customer feel?", passages,
			`"great news"`, []string{"m3"}, []string{`"great news"`}},
		{"no category mentioned is not applicable", ResultShape{Type: ResultCategorical, Categories: []string{"furious"}},
			"mood", passages, "null", []string{}, []string{"none of the categories"}},
		{"no passages", boolean, `"refund"`, nil, "false", []string{}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ids := make([]string, len(tt.passages))
			for i, p := range tt.passages {
				ids[i] = p.ID
			}
			schema, err := VerdictSchema(tt.shape, ids)
			if err != nil {
				t.Fatal(err)
			}
			c := Call{Purpose: PurposeEvaluateMetric, Kind: Object, Schema: schema, Guidance: tt.guidance, Passages: tt.passages}
			a, err := Builtin{}.Complete(context.Background(), c)
			if err != nil {
				t.Fatal(err)
			}
			again, _ := Builtin{}.Complete(context.Background(), c)
			if string(again.Object) != string(a.Object) {
				t.Errorf("second answer %s, want the first %s", again.Object, a.Object)
			}
			var v Verdict
			if err := json.Unmarshal(a.Object, &v); err != nil {
				t.Fatal(err)
			}
			if string(v.Result) != tt.want {
				t.Errorf("result %s, want %s (%s)", v.Result, tt.want, v.Justification)
			}
			if !reflect.DeepEqual(v.References, tt.wantRefs) {
				t.Errorf("references %q, want %q", v.References, tt.wantRefs)
			}
			for _, w := range tt.wantWords {
				if !strings.Contains(v.Justification, w) {
					t.Errorf("justification %q does not say %q", v.Justification, w)
				}
			}
		})
	}
}

func TestVerdictSchemaHoldsModelsToTheMetric(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		shape  ResultShape
		answer string
		ok     bool
	}{
		{"boolean", ResultShape{Type: ResultBoolean}, `{"result":true,"justification":"j","references":["m1"]}`, true},
		{"null is not applicable", ResultShape{Type: ResultBoolean}, `{"result":null,"justification":"j","references":[]}`, true},
		{"boolean given a string", ResultShape{Type: ResultBoolean}, `{"result":"yes","justification":"j","references":[]}`, false},
		{"number at the upper bound", ResultShape{Type: ResultNumerical, LowerBound: 0, UpperBound: 10}, `{"result":10,"justification":"j","references":[]}`, true},
		{"number above the bound", ResultShape{Type: ResultNumerical, LowerBound: 0, UpperBound: 10}, `{"result":10.5,"justification":"j","references":[]}`, false},
		{"number below the bound", ResultShape{Type: ResultNumerical, LowerBound: 0, UpperBound: 10}, `{"result":-1,"justification":"j","references":[]}`, false},
		{"category", ResultShape{Type: ResultCategorical, Categories: []string{"a", "b"}}, `{"result":"b","justification":"j","references":[]}`, true},
		{"unknown category", ResultShape{Type: ResultCategorical, Categories: []string{"a", "b"}}, `{"result":"c","justification":"j","references":[]}`, false},
		{"unknown reference", ResultShape{Type: ResultBoolean}, `{"result":true,"justification":"j","references":["m9"]}`, false},
		{"missing justification", ResultShape{Type: ResultBoolean}, `{"result":true,"references":[]}`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			raw, err := VerdictSchema(tt.shape, []string{"m1", "m2"})
			if err != nil {
				t.Fatal(err)
			}
			s, err := compileSchema(raw)
			if err != nil {
				t.Fatal(err)
			}
			_, _, err = decodeObject(tt.answer, s.root)
			if (err == nil) != tt.ok {
				t.Errorf("accepted = %v, want %v (%v)", err == nil, tt.ok, err)
			}
		})
	}
}
