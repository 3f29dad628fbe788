package httpapi

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/compadre-dev/compadre/auth"
	assets "github.com/compadre-dev/compadre/embed"
	"github.com/compadre-dev/compadre/store"
	"golang.org/x/text/language"
)

// servedDocument is the merged OpenAPI document as the server serves it.
func servedDocument(t *testing.T) map[string]any {
	t.Helper()
	var doc map[string]any
	if err := json.Unmarshal(assets.OpenAPIJSON, &doc); err != nil {
		t.Fatal(err)
	}
	return doc
}

// boundedPattern matches a pattern that fixes its own length: anchored at
// both ends, with no repetition other than an exact {n}.
var boundedPattern = regexp.MustCompile(`^\^[^*+?]*\$$`)

func anyOf(s map[string]any) []any {
	alts, _ := s["anyOf"].([]any)
	return alts
}

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
	if _, ok := s["maximum"]; (slices.Contains(types, "integer") || slices.Contains(types, "number")) && !ok && !hasEnum && !hasConst {
		w.problems[where+": a number without maximum"] = true
	}
	_, hasMin := s["minimum"]
	_, hasExclusiveMin := s["exclusiveMinimum"]
	if slices.Contains(types, "integer") && !hasMin && !hasExclusiveMin && !hasEnum && !hasConst {
		w.problems[where+": an integer without minimum"] = true
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
	// A query integer beyond int64 would be refused by the parser while the
	// document allowed it.
	for _, item := range paths {
		for _, o := range item.(map[string]any) {
			op, _ := o.(map[string]any)
			params, _ := op["parameters"].([]any)
			for _, p := range params {
				pm, _ := p.(map[string]any)
				schema, _ := pm["schema"].(map[string]any)
				for _, alt := range append([]any{schema}, anyOf(schema)...) {
					am, _ := alt.(map[string]any)
					if _, ok := am["maximum"]; am["type"] == "integer" && !ok {
						w.problems[fmt.Sprintf("%s ?%s: an integer without maximum", op["operationId"], pm["name"])] = true
					}
					_, hasMin := am["minimum"]
					_, hasExclusiveMin := am["exclusiveMinimum"]
					if am["type"] == "integer" && !hasMin && !hasExclusiveMin {
						w.problems[fmt.Sprintf("%s ?%s: an integer without minimum", op["operationId"], pm["name"])] = true
					}
				}
			}
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

// Every sort field the document names is one the handler accepts; the
// document's pattern refuses the rest before the handler runs.
func TestDocumentedSortFieldsAreAccepted(t *testing.T) {
	validators := map[string]func(string) bool{
		"get-users":                       store.ValidUserSortField,
		"get-memories":                    func(f string) bool { return f == "conversation_id" || f == "created_at" },
		"get-temporary-permission-grants": store.ValidTemporaryGrantSortField,
		"get-tools":                       store.ValidToolSortField,
		"get-tool-versions":               func(f string) bool { _, ok := versionSortFields[f]; return ok },
		"get-tool-invocations":            store.ValidInvocationSortField,
		"get-services":                    store.ValidServiceSortField,
		"get-service-hierarchical-state-machine-versions": store.ValidStateMachineVersionSortField,
		"get-agent-versions":                              store.ValidAgentVersionSortField,
		"get-conversations":                               store.ValidConversationSortField,
		"get-conversation-messages":                       store.ValidMessageSortField,
		"get-dynamic-behavior-sets":                       store.ValidDynamicBehaviorSetSortField,
		"get-dynamic-behavior-set-versions":               store.ValidDynamicBehaviorVersionSortField,
		"get-dynamic-behavior-invocations":                store.ValidDynamicBehaviorInvocationSortField,
		"get-metrics":                                     store.ValidMetricSortField,
		"get-metric-versions":                             store.ValidMetricVersionSortField,
		"get-metric-evaluation-results":                   store.ValidMetricResultSortField,
		"get-simulation-personas":                         store.ValidSimulationSortField,
		"get-simulation-persona-versions":                 store.ValidVersionSortField,
		"get-simulation-scenarios":                        store.ValidSimulationSortField,
		"get-simulation-scenario-versions":                store.ValidVersionSortField,
		"get-simulation-unit-tests":                       store.ValidSimulationSortField,
		"get-simulation-unit-test-sets":                   store.ValidSimulationSortField,
		"get-simulation-unit-test-set-runs":               store.ValidSimulationRunSortField,
		"get-webhook-deliveries":                          store.ValidWebhookDeliverySortField,
	}
	sortPattern := regexp.MustCompile(`^\^\[\+-\]\?\(?([^()$]*)\)?\$$`)
	paths, _ := servedDocument(t)["paths"].(map[string]any)
	seen := map[string]bool{}
	for _, item := range paths {
		for _, o := range item.(map[string]any) {
			op, _ := o.(map[string]any)
			id, _ := op["operationId"].(string)
			params, _ := op["parameters"].([]any)
			for _, p := range params {
				pm, _ := p.(map[string]any)
				if pm["name"] != "sort_by" {
					continue
				}
				seen[id] = true
				schema, _ := pm["schema"].(map[string]any)
				items, _ := schema["items"].(map[string]any)
				pattern, _ := items["pattern"].(string)
				m := sortPattern.FindStringSubmatch(pattern)
				valid, ok := validators[id]
				if m == nil || !ok {
					t.Errorf("%s: sort_by pattern %q is not ^[+-]?(field|…)$ or the operation has no validator here", id, pattern)
					continue
				}
				for _, f := range strings.Split(m[1], "|") {
					if f = strings.ReplaceAll(f, `\.`, "."); !valid(f) {
						t.Errorf("%s: the document names sort field %q, which the handler refuses", id, f)
					}
				}
			}
		}
	}
	for id := range validators {
		if !seen[id] {
			t.Errorf("%s: no sort_by parameter in the document", id)
		}
	}
}

// The document's "not only whitespace" pattern matches a one-character
// string exactly when trimming leaves it non-empty, so the schema and the
// handlers' trimming agree on every character, and the document uses that
// very pattern.
func TestNotBlankPatternMatchesTrimming(t *testing.T) {
	re := regexp.MustCompile(notBlankPattern)
	for r := rune(0); r <= 0x10FFFF; r++ {
		if r >= 0xD800 && r <= 0xDFFF {
			continue
		}
		s := string(r)
		if got, want := re.MatchString(s), strings.TrimSpace(s) != ""; got != want {
			t.Errorf("U+%04X: pattern matches %v, want %v", r, got, want)
		}
	}
	uses := 0
	var walk func(n any)
	walk = func(n any) {
		switch n := n.(type) {
		case map[string]any:
			if n["pattern"] == notBlankPattern {
				uses++
			}
			for _, v := range n {
				walk(v)
			}
		case []any:
			for _, v := range n {
				walk(v)
			}
		}
	}
	walk(servedDocument(t))
	if uses < 5 {
		t.Errorf("the document uses the pattern %d times, want at least 5 (names, texts, agent and state machine texts, messages)", uses)
	}
}

// A string the document requires to hold at least one character either
// may not be only whitespace (the handlers trim it: the pattern says so) or
// is one of the few taken exactly as sent. A new field must pick one, so a
// handler that trims can no longer refuse what the document allows.
func TestNonEmptyStringsSayWhetherWhitespaceCounts(t *testing.T) {
	takenAsSent := map[string]bool{
		"/components/schemas/VariableUpsert/properties/value":                      true,
		"/paths//v1/{organization}/tool/invocation/search/get/parameters/1/schema": true,
		// A model name is compared with the names get-models lists, as sent.
		"/components/schemas/ServiceLLMType": true,
	}
	var walk func(n any, path string)
	walk = func(n any, path string) {
		switch n := n.(type) {
		case map[string]any:
			_, pattern := n["pattern"]
			_, enum := n["enum"]
			_, format := n["format"]
			if n["type"] == "string" && n["minLength"] == float64(1) && !pattern && !enum && !format && !takenAsSent[path] {
				t.Errorf("%s: a non-empty string with no word on whitespace; give it the not-blank pattern or list it here", path)
			}
			for k, v := range n {
				walk(v, path+"/"+k)
			}
		case []any:
			for i, v := range n {
				walk(v, fmt.Sprintf("%s/%d", path, i))
			}
		}
	}
	walk(servedDocument(t), "")
}

// The permission names a grant may name are exactly the ones auth knows.
func TestGrantPermissionNamesAreAuthsPermissions(t *testing.T) {
	schemas := servedDocument(t)["components"].(map[string]any)["schemas"].(map[string]any)
	prop := schemas["PermissionGrant"].(map[string]any)["properties"].(map[string]any)["permission_name"].(map[string]any)
	var got []string
	for _, v := range prop["enum"].([]any) {
		got = append(got, v.(string))
	}
	var want []string
	for _, p := range auth.AllPermissions {
		want = append(want, string(p))
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("got enum %v, want auth.AllPermissions %v", got, want)
	}
}

// The languages the document lists are exactly the three-letter codes
// x/text knows, so the schema refuses what the server cannot name and
// allows everything it can.
func TestDocumentedLanguagesAreTheKnownCodes(t *testing.T) {
	schemas := servedDocument(t)["components"].(map[string]any)["schemas"].(map[string]any)
	listed := map[string]bool{}
	for _, v := range schemas["LanguageCode"].(map[string]any)["enum"].([]any) {
		listed[v.(string)] = true
	}
	known := 0
	for a := 'a'; a <= 'z'; a++ {
		for b := 'a'; b <= 'z'; b++ {
			for c := 'a'; c <= 'z'; c++ {
				code := string([]rune{a, b, c})
				_, err := language.ParseBase(code)
				if err == nil {
					known++
				}
				if (err == nil) != listed[code] {
					t.Errorf("%s: known to x/text %v, listed %v", code, err == nil, listed[code])
				}
			}
		}
	}
	if known != len(listed) || !listed["ara"] || !listed["eng"] {
		t.Errorf("listed %d codes, x/text knows %d; want equal, with ara and eng", len(listed), known)
	}
}

// Every time zone the document lists is one the server loads, so a
// client picking from the enum is never refused.
func TestDocumentedTimeZonesLoad(t *testing.T) {
	schemas := servedDocument(t)["components"].(map[string]any)["schemas"].(map[string]any)
	zones, _ := schemas["TimeZone"].(map[string]any)["enum"].([]any)
	if len(zones) < 500 {
		t.Fatalf("got %d time zones, want the IANA database's several hundred", len(zones))
	}
	for _, z := range zones {
		if _, err := time.LoadLocation(z.(string)); err != nil || z == "Local" {
			t.Errorf("time zone %v: %v", z, err)
		}
	}
}
