package httpapi

import (
	"encoding/json"
	"regexp"
	"slices"
	"strings"
	"testing"

	assets "github.com/compadre-dev/compadre/embed"
)

// servedDocument is the merged OpenAPI document as the server serves it.
func servedDocument(t *testing.T) map[string]any {
	t.Helper()
	raw, err := mergedDocument(assets.OpenAPI, assets.OpenAPIParts)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	return doc
}

// boundedPattern matches a pattern that fixes its own length: anchored at
// both ends, with no repetition other than an exact {n}.
var boundedPattern = regexp.MustCompile(`^\^[^*+?]*\$$`)

func patternBoundsLength(p string) bool {
	return boundedPattern.MatchString(p) && !regexp.MustCompile(`\{\d*,\d*\}`).MatchString(p)
}

// requestSchemaWalker visits every schema reachable from a request body,
// following $refs once each, and reports the unbounded strings and
// collections it finds.
type requestSchemaWalker struct {
	doc      map[string]any
	seen     map[string]bool
	problems map[string]bool
}

func (w *requestSchemaWalker) resolve(ref string) any {
	var n any = w.doc
	for _, part := range strings.Split(strings.TrimPrefix(ref, "#/"), "/") {
		part = strings.ReplaceAll(strings.ReplaceAll(part, "~1", "/"), "~0", "~")
		m, _ := n.(map[string]any)
		n = m[part]
	}
	return n
}

// walk checks the schema n; bounds are the maxLength, maxItems and
// maxProperties of an enclosing anyOf, which apply to each alternative.
func (w *requestSchemaWalker) walk(n any, where string, bounds ...map[string]any) {
	s, ok := n.(map[string]any)
	if !ok {
		return
	}
	if ref, ok := s["$ref"].(string); ok {
		if !w.seen[ref] {
			w.seen[ref] = true
			w.walk(w.resolve(ref), ref)
		}
		return
	}
	inherited := map[string]any{}
	for _, b := range bounds {
		for k, v := range b {
			inherited[k] = v
		}
	}
	for _, k := range []string{"maxLength", "maxItems", "maxProperties"} {
		if v, ok := s[k]; ok {
			inherited[k] = v
		}
	}
	types := []string{}
	switch t := s["type"].(type) {
	case string:
		types = append(types, t)
	case []any:
		for _, x := range t {
			types = append(types, x.(string))
		}
	}
	_, hasMax := inherited["maxLength"]
	_, hasEnum := s["enum"]
	_, hasConst := s["const"]
	pattern, _ := s["pattern"].(string)
	if slices.Contains(types, "string") && !hasMax && !hasEnum && !hasConst && !patternBoundsLength(pattern) {
		w.problems[where+": a string without maxLength"] = true
	}
	if _, ok := inherited["maxItems"]; slices.Contains(types, "array") && !ok {
		w.problems[where+": an array without maxItems"] = true
	}
	if _, ok := inherited["maxProperties"]; slices.Contains(types, "object") && !ok && s["additionalProperties"] != nil && s["additionalProperties"] != false {
		w.problems[where+": a map without maxProperties"] = true
	}
	for _, k := range []string{"anyOf", "oneOf", "allOf", "prefixItems"} {
		alts, _ := s[k].([]any)
		for _, a := range alts {
			w.walk(a, where, inherited)
		}
	}
	for _, k := range []string{"items", "then", "else", "not"} {
		w.walk(s[k], where+"/"+k)
	}
	w.walk(s["propertyNames"], where+"/propertyNames")
	w.walk(s["additionalProperties"], where+"/additionalProperties")
	props, _ := s["properties"].(map[string]any)
	for name, p := range props {
		w.walk(p, where+"."+name)
	}
}

// Every string, array and map a client can put in a request body has a
// bound the document states and the validator enforces, so no request can
// store an unbounded record. See DECISIONS.md, "How long may each field be?".
func TestRequestBodiesAreBounded(t *testing.T) {
	doc := servedDocument(t)
	w := &requestSchemaWalker{doc: doc, problems: map[string]bool{}}
	paths, _ := doc["paths"].(map[string]any)
	for _, item := range paths {
		for _, o := range item.(map[string]any) {
			op, _ := o.(map[string]any)
			rb, _ := op["requestBody"].(map[string]any)
			content, _ := rb["content"].(map[string]any)
			media, _ := content["application/json"].(map[string]any)
			if media == nil {
				continue
			}
			w.seen = map[string]bool{}
			w.walk(media["schema"], op["operationId"].(string))
		}
	}
	for _, p := range slices.Sorted(func(yield func(string) bool) {
		for p := range w.problems {
			if !yield(p) {
				return
			}
		}
	}) {
		t.Error(p)
	}
}

func TestPatternBoundsLength(t *testing.T) {
	tests := []struct {
		pattern string
		want    bool
	}{
		{`^[a-f0-9]{24}$`, true},
		{`^[a-z]{3}$`, true},
		{`^[A-Za-z0-9_]+$`, false},
		{`^[a-z-]+( [a-z-]+){0,2}$`, false},
		{`[a-z]{3}`, false},
		{`^[a-z]{3,}$`, false},
		{``, false},
	}
	for _, tc := range tests {
		t.Run(tc.pattern, func(t *testing.T) {
			if got := patternBoundsLength(tc.pattern); got != tc.want {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

// dialectEscapes are the class escapes whose meaning differs between the
// document's dialect (ECMA-262), Go's RE2 and the hosted API's Python re:
// \s, \w, \d and \b differ in which Unicode characters they take in.
var dialectEscapes = regexp.MustCompile(`\\[sSwWdDbB]`)

// Every pattern in the document is written with explicit classes, so the
// validator (Go), the document's readers (ECMA-262) and test generators
// (Python) accept exactly the same strings. See DECISIONS.md, "How are tags
// validated?".
func TestPatternsReadTheSameInEveryDialect(t *testing.T) {
	var walk func(n any, where string)
	walk = func(n any, where string) {
		switch n := n.(type) {
		case map[string]any:
			if p, ok := n["pattern"].(string); ok && dialectEscapes.MatchString(p) {
				t.Errorf("%s: pattern %q uses a class escape that differs between regex dialects", where, p)
			}
			for k, v := range n {
				walk(v, where+"/"+k)
			}
		case []any:
			for _, v := range n {
				walk(v, where)
			}
		}
	}
	walk(servedDocument(t), "#")
}
