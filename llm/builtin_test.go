package llm

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

func TestBuiltinChoice(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		subject string
		options []string
		seed    uint64
		want    int
	}{
		{"shared word wins", "I want to talk about billing", []string{"technical support", "billing question", "goodbye"}, 0, 1},
		{"more shared words win", "my invoice shows a billing error", []string{"billing question", "billing error on invoice"}, 0, 1},
		{"a word counts once", "pizza and pasta", []string{"pizza pizza pizza", "pizza pasta"}, 0, 1},
		{"case and punctuation do not matter", "REFUND, please!", []string{"cancel order", "refund"}, 0, 1},
		{"no shared word, seed 0", "hello there", []string{"a", "b", "c"}, 0, 0},
		{"no shared word takes the first whatever the seed", "hello there", []string{"a", "b", "c"}, 1, 0},
		{"no shared word, seed 2", "hello there", []string{"a", "b", "c"}, 2, 0},
		{"tie among the best only, seed 0", "cats dogs", []string{"cats", "fish", "dogs"}, 0, 0},
		{"tie among the best only, seed 1", "cats dogs", []string{"cats", "fish", "dogs"}, 1, 2},
		{"stop words do not count", "what would you have", []string{"about the weather", "what would you have"}, 1, 0},
		{"words under three letters do not count", "go to an ox", []string{"go to", "an ox", "walk"}, 2, 0},
		{"digits are word characters", "order 12345 is late", []string{"order 99999", "item 12345"}, 1, 1},
		{"largest seed", "cats dogs", []string{"cats", "dogs"}, ^uint64(0), 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a, err := Builtin{}.Complete(context.Background(), Call{Kind: Choice, Subject: tt.subject, Options: tt.options, Seed: tt.seed})
			if err != nil {
				t.Fatal(err)
			}
			if a.Choice != tt.want {
				t.Errorf("choice: got %d, want %d", a.Choice, tt.want)
			}
			if want := tt.options[tt.want]; a.Completion != strings.TrimSpace(a.Completion) || !strings.HasSuffix(a.Completion, ": "+want) {
				t.Errorf("completion: got %q, want the index and %q", a.Completion, want)
			}
			if a.Model != BuiltinName {
				t.Errorf("model: got %q, want %q", a.Model, BuiltinName)
			}
		})
	}
}

func TestBuiltinText(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		purpose  string
		guidance string
		limit    int
		want     string
	}{
		{"guidance as it is", "", "  Ask for  the order number.\n", 0, "Ask for  the order number."},
		{"exactly the limit", "", "one two three", 3, "one two three"},
		{"one word over the limit", "", "one two three four", 3, "one two three"},
		{"cut joins by single spaces", "", "one\ttwo\n\nthree four", 2, "one two"},
		{"no guidance", "", " ", 0, FallbackText},
		{"no guidance, cut", "", "", 2, "Please tell"},
		{"recommend-responses, a line each", PurposeRecommendResponses, "Yes, please.\n\n  No thanks  \nTell me more about the plan", 3, "Yes, please.\nNo thanks\nTell me more"},
		{"recommend-responses without guidance", PurposeRecommendResponses, "\n \n", 0, FallbackText},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a, err := Builtin{}.Complete(context.Background(), Call{Purpose: tt.purpose, Kind: Text, Guidance: tt.guidance, WordLimit: tt.limit, Model: "gpt-4o"})
			if err != nil {
				t.Fatal(err)
			}
			if a.Text != tt.want || a.Completion != tt.want {
				t.Errorf("got text %q, completion %q, want %q", a.Text, a.Completion, tt.want)
			}
			if a.Model != BuiltinName {
				t.Errorf("model: got %q, want %q whatever the call names", a.Model, BuiltinName)
			}
		})
	}
}

func TestBuiltinObject(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		schema  string
		subject string
		want    string
	}{
		{"required from default, const, examples, enum",
			`{"type":"object","properties":{"a":{"type":"string","default":"d","const":"d","examples":["ex"]},"b":{"const":7,"examples":[8],"enum":[7,8]},"c":{"type":"string","examples":["ex"],"enum":["e1","ex"]},"d":{"type":"string","enum":["e1","e2"]}},"required":["a","b","c","d"]}`,
			"", `{"a":"d","b":7,"c":"ex","d":"e1"}`},
		{"optional properties left out",
			`{"type":"object","properties":{"a":{"type":"string"},"b":{"type":"integer"}},"required":["b"]}`,
			"", `{"b":0}`},
		{"least values of each type",
			`{"type":"object","properties":{"s":{"type":"string","minLength":3},"n":{"type":"number"},"b":{"type":"boolean"},"z":{"type":"null"},"a":{"type":"array","items":{"type":"integer","minimum":2},"minItems":2}},"required":["s","n","b","z","a"]}`,
			"", `{"a":[2,2],"b":false,"n":0,"s":"xxx","z":null}`},
		{"integer bounds",
			`{"type":"object","properties":{"min":{"type":"integer","minimum":5},"xmin":{"type":"integer","exclusiveMinimum":5},"max":{"type":"integer","maximum":-3},"xmax":{"type":"integer","exclusiveMaximum":-3},"frac":{"type":"integer","minimum":1.5}},"required":["min","xmin","max","xmax","frac"]}`,
			"", `{"frac":2,"max":-3,"min":5,"xmax":-4,"xmin":6}`},
		{"number bounds",
			`{"type":"object","properties":{"min":{"type":"number","minimum":0.5},"narrow":{"type":"number","exclusiveMinimum":1,"exclusiveMaximum":1.5}},"required":["min","narrow"]}`,
			"", `{"min":0.5,"narrow":1.25}`},
		{"nested objects, anyOf, local $ref",
			`{"type":"object","$defs":{"id":{"type":"string","minLength":2}},"properties":{"o":{"type":"object","properties":{"id":{"$ref":"#/$defs/id"},"x":{"type":"string"}},"required":["id"]},"u":{"anyOf":[{"type":"integer","minimum":1},{"type":"string"}]}},"required":["o","u"]}`,
			"", `{"o":{"id":"xx"},"u":1}`},
		{"a format gets a value of it",
			`{"type":"object","properties":{"when":{"type":"string","format":"date-time"}},"required":["when"]}`,
			"", `{"when":"1970-01-01T00:00:00Z"}`},
		{"subject's object steers",
			`{"type":"object","properties":{"city":{"type":"string"},"days":{"type":"integer","minimum":1}},"required":["city","days"]}`,
			`Book it: {"city": "Lisbon", "days": 3} thanks`, `{"city":"Lisbon","days":3}`},
		{"subject's values that do not fit are dropped",
			`{"type":"object","properties":{"city":{"type":"string","default":"Porto"},"days":{"type":"integer","minimum":1}},"required":["city","days"]}`,
			`{"city": 5, "days": 0, "extra": true}`, `{"city":"Porto","days":1}`},
		{"subject's optional values are kept",
			`{"type":"object","properties":{"note":{"type":"string"}}}`,
			`{"note":"hi"}`, `{"note":"hi"}`},
		{"only the first { is read",
			`{"type":"object","properties":{"city":{"type":"string","default":"Porto"}},"required":["city"]}`,
			`{oops} {"city":"Lisbon"}`, `{"city":"Porto"}`},
		{"property names that need escaping in a pointer",
			`{"type":"object","properties":{"a/b ~c%":{"type":"integer"}},"required":["a/b ~c%"]}`,
			`{"a/b ~c%": 4}`, `{"a/b ~c%":4}`},
		{"braces inside strings",
			`{"type":"object","properties":{"q":{"type":"string"}},"required":["q"]}`,
			`{"q":"a } b"} and }`, `{"q":"a } b"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a, err := Builtin{}.Complete(context.Background(), Call{Kind: Object, Schema: json.RawMessage(tt.schema), Subject: tt.subject})
			if err != nil {
				t.Fatal(err)
			}
			if string(a.Object) != tt.want || a.Completion != tt.want {
				t.Errorf("got object %s, completion %s, want %s", a.Object, a.Completion, tt.want)
			}
		})
	}
}

func TestBuiltinRefuses(t *testing.T) {
	t.Parallel()
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	// A schema file the server could read, which a reference must still
	// not reach.
	file := filepath.Join(t.TempDir(), "n.json")
	if err := os.WriteFile(file, []byte(`{"type":"integer","default":5}`), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		ctx  context.Context
		call Call
	}{
		{"pattern the least string misses", nil, Call{Kind: Object, Schema: json.RawMessage(`{"type":"object","properties":{"s":{"type":"string","pattern":"^a+$"}},"required":["s"]}`)}},
		{"bounds that cross", nil, Call{Kind: Object, Schema: json.RawMessage(`{"type":"object","properties":{"n":{"type":"integer","minimum":5,"maximum":3}},"required":["n"]}`)}},
		{"integer between bounds with none", nil, Call{Kind: Object, Schema: json.RawMessage(`{"type":"object","properties":{"n":{"type":"integer","exclusiveMinimum":1,"exclusiveMaximum":2}},"required":["n"]}`)}},
		{"false schema", nil, Call{Kind: Object, Schema: json.RawMessage(`{"type":"object","properties":{"n":false},"required":["n"]}`)}},
		{"a schema that refers to itself", nil, Call{Kind: Object, Schema: json.RawMessage(`{"type":"object","$defs":{"a":{"$ref":"#/$defs/a"}},"properties":{"n":{"$ref":"#/$defs/a"}},"required":["n"]}`)}},
		{"a reference to a file", nil, Call{Kind: Object, Schema: json.RawMessage(`{"type":"object","properties":{"n":{"$ref":"file://` + filepath.ToSlash(file) + `"}},"required":["n"]}`), Subject: `{"n":5}`}},
		{"no schema", nil, Call{Kind: Object}},
		{"schema not JSON", nil, Call{Kind: Object, Schema: json.RawMessage(`{"type":`)}},
		{"schema not of an object", nil, Call{Kind: Object, Schema: json.RawMessage(`{"type":"string"}`)}},
		{"choice without options", nil, Call{Kind: Choice, Subject: "hello"}},
		{"unknown kind", nil, Call{Kind: Kind(9)}},
		{"context ended", canceled, Call{Kind: Text, Guidance: "hi"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx := tt.ctx
			if ctx == nil {
				ctx = context.Background()
			}
			a, err := Builtin{}.Complete(ctx, tt.call)
			var e *Error
			if !errors.As(err, &e) || e.Provider != BuiltinName {
				t.Fatalf("got answer %+v, error %v, want an *Error from builtin", a, err)
			}
			if !reflect.DeepEqual(a, Answer{}) {
				t.Errorf("got answer %+v with the error, want none", a)
			}
		})
	}
}

// TestBuiltinIsDeterministic asks the same calls many times, with maps
// (whose order Go randomizes) in the way, and wants one answer each.
func TestBuiltinIsDeterministic(t *testing.T) {
	t.Parallel()
	calls := []Call{
		{Kind: Choice, Subject: "nothing shared at all", Options: []string{"a", "b", "c", "d", "e"}, Seed: 12345},
		{Kind: Choice, Subject: "alpha beta gamma", Options: []string{"alpha", "beta", "gamma"}, Seed: 7},
		{Kind: Text, Guidance: "Say something kind to the user now", WordLimit: 4},
		{Kind: Object, Subject: `{"b":"two","a":"one"}`, Schema: json.RawMessage(`{"type":"object","properties":{"a":{"type":"string"},"b":{"type":"string"},"c":{"type":"integer","minimum":3},"d":{"type":"array","minItems":1,"items":{"type":"object","properties":{"e":{"type":"boolean"}},"required":["e"]}}},"required":["c","d"]}`)},
	}
	for _, c := range calls {
		first, err := Builtin{}.Complete(context.Background(), c)
		if err != nil {
			t.Fatal(err)
		}
		for range 50 {
			again, err := Builtin{}.Complete(context.Background(), c)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(again, first) {
				t.Fatalf("got %+v, then %+v for the same call", first, again)
			}
		}
	}
}

func TestBuiltinModels(t *testing.T) {
	t.Parallel()
	models, err := Builtin{}.Models(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, m := range models {
		names = append(names, m.Name)
	}
	if want := append([]string{BuiltinName}, referenceModels...); !slices.Equal(names, want) {
		t.Fatalf("got %v, want %v", names, want)
	}
	tests := []struct {
		model  Model
		params string
		valid  bool
	}{
		{models[0], `{"seed":3}`, true},
		{models[0], `{}`, true},
		{models[0], `{"seed":-1}`, false},
		{models[0], `{"temperature":1}`, false},
		{models[1], `{"temperature":1,"top_p":0.5,"seed":7,"stop":["x"]}`, true},
		{models[1], `{"temperature":2.5}`, false},
	}
	for _, tt := range tests {
		s, err := compileSchema(tt.model.ParamsSchema)
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := decodeObject(tt.params, s.root); (err == nil) != tt.valid {
			t.Errorf("%s params %s: got error %v, want valid %v", tt.model.Name, tt.params, err, tt.valid)
		}
	}
}

// TestBuiltinHonoursTheSeedParameter: a preference's seed stands for the
// conversation's in breaking ties.
func TestBuiltinHonoursTheSeedParameter(t *testing.T) {
	t.Parallel()
	options := []string{"red apple", "green apple"}
	for seed := range uint64(2) {
		c := Call{Kind: Choice, Subject: "an apple", Options: options, Seed: 1 - seed, Params: Params{Seed: &seed}}
		a, err := Builtin{}.Complete(context.Background(), c)
		if err != nil {
			t.Fatal(err)
		}
		if a.Choice != int(seed) {
			t.Errorf("seed parameter %d over call seed %d: got choice %d, want %d", seed, 1-seed, a.Choice, seed)
		}
	}
}
