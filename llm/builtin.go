package llm

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/url"
	"strconv"
	"strings"
	"unicode"
)

// Provider names, as flags spell them.
const (
	BuiltinName = "builtin"
	OpenAIName  = "openai"
)

// PurposeRecommendResponses is the purpose of a call for responses a user
// could give; the built-in provider answers it one response a line.
const PurposeRecommendResponses = "recommend-responses"

// FallbackText is the built-in provider's answer to a Text call without
// guidance.
const FallbackText = "Please tell me more about that."

// Builtin is the provider that needs no model and no network: it answers
// by the rules in the package documentation, from the call alone, so the
// same call always gets the same answer.
type Builtin struct{}

var _ Provider = Builtin{}

// Name returns "builtin".
func (Builtin) Name() string { return BuiltinName }

// Models returns the model "builtin" and each model the hosted API names
// (referenceModels): version sets written for the hosted API name those,
// and the built-in rules answer them all alike. Those take the
// chat-completions parameters such version sets may give; of them the
// rules honour the seed alone.
func (b Builtin) Models(context.Context) ([]Model, error) {
	models := []Model{b.DefaultModel()}
	for _, name := range referenceModels {
		models = append(models, Model{Name: name, ParamsSchema: json.RawMessage(chatParamsSchema),
			Description: "A model of the hosted API, answered here by the built-in rules (the model builtin): " +
				"of its parameters only the seed is honoured."})
	}
	return models, nil
}

// DefaultModel returns the model "builtin", which takes a seed alone.
func (Builtin) DefaultModel() Model {
	return Model{Name: BuiltinName, ParamsSchema: json.RawMessage(builtinParamsSchema),
		Description: "The built-in model: it answers by fixed, documented rules, needs no network, " +
			"and gives the same call the same answer."}
}

// Complete answers c by the package's rules. It ignores c.Model, so an
// agent that prefers a hosted model still runs on it; the answer's Model
// says "builtin". Of c.Params it honours the seed.
func (Builtin) Complete(ctx context.Context, c Call) (Answer, error) {
	fail := func(format string, args ...any) (Answer, error) {
		return Answer{}, &Error{Provider: BuiltinName, Msg: fmt.Sprintf(format, args...)}
	}
	if err := ctx.Err(); err != nil {
		return Answer{}, &Error{Provider: BuiltinName, Msg: err.Error(), Err: err}
	}
	schema, err := c.check()
	if err != nil {
		return fail("%v", err)
	}
	a := Answer{Model: BuiltinName}
	switch c.Kind {
	case Choice:
		a.Choice = choose(c.Subject, c.Options, c.seed())
		a.Completion = strconv.Itoa(a.Choice) + ": " + c.Options[a.Choice]
	case Object:
		build := builtinObject
		if c.Purpose == PurposeEvaluateMetric {
			build = builtinVerdict
		}
		obj, err := build(c, schema)
		if err != nil {
			return fail("%v", err)
		}
		a.Object, a.Completion = obj, string(obj)
	default:
		a.Text = builtinText(c)
		a.Completion = a.Text
	}
	return a, nil
}

// builtinText says the guidance, cut to the word limit; for
// recommend-responses, each line of it is one response, cut on its own.
func builtinText(c Call) string {
	if c.Purpose == PurposeRecommendResponses {
		var lines []string
		for _, line := range strings.Split(c.Guidance, "\n") {
			if line = limitWords(line, c.WordLimit); line != "" {
				lines = append(lines, line)
			}
		}
		if len(lines) > 0 {
			return strings.Join(lines, "\n")
		}
	} else if text := limitWords(c.Guidance, c.WordLimit); text != "" {
		return text
	}
	return limitWords(FallbackText, c.WordLimit)
}

// choose returns the index of the option sharing the most words with the
// subject; ties go to tied[seed % len(tied)]. When no option shares a word,
// the first is the answer: callers put their default there ("stay", "call
// no tool"), and a message about nothing in particular should not move the
// agent at random.
func choose(subject string, options []string, seed uint64) int {
	said := words(subject)
	best, tied := -1, []int(nil)
	for i, opt := range options {
		score := 0
		for w := range words(opt) {
			if said[w] {
				score++
			}
		}
		switch {
		case score > best:
			best, tied = score, []int{i}
		case score == best:
			tied = append(tied, i)
		}
	}
	if best == 0 {
		return 0
	}
	return tied[seed%uint64(len(tied))]
}

// stopWords are words too common to say what a message is about. The
// list is part of the documented rules: change it and tests that steer
// the built-in provider may choose differently.
var stopWords = map[string]bool{
	"about": true, "all": true, "also": true, "and": true, "any": true,
	"are": true, "because": true, "been": true, "but": true, "can": true,
	"could": true, "did": true, "does": true, "for": true, "from": true,
	"had": true, "has": true, "have": true, "her": true, "him": true,
	"his": true, "how": true, "into": true, "its": true, "just": true,
	"not": true, "now": true, "our": true, "out": true, "she": true,
	"should": true, "some": true, "than": true, "that": true, "the": true,
	"their": true, "them": true, "then": true, "there": true, "these": true,
	"they": true, "this": true, "those": true, "very": true, "was": true,
	"were": true, "what": true, "when": true, "where": true, "which": true,
	"who": true, "why": true, "will": true, "with": true, "would": true,
	"you": true, "your": true,
}

// words returns the distinct lower-cased words of s: runs of letters and
// digits, three or more long, stop words left out.
func words(s string) map[string]bool {
	set := map[string]bool{}
	for _, w := range strings.FieldsFunc(strings.ToLower(s), notWordRune) {
		if len([]rune(w)) >= 3 && !stopWords[w] {
			set[w] = true
		}
	}
	return set
}

// notWordRune reports whether r separates words: words are runs of
// letters and digits.
func notWordRune(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) }

// builtinObject builds an object satisfying the schema: the subject's
// JSON object supplies the values that fit their property, and each
// required property still missing gets a value made from its schema.
func builtinObject(c Call, s *callSchema) (json.RawMessage, error) {
	props, _ := s.doc["properties"].(map[string]any)
	out := map[string]any{}
	for name, v := range subjectObject(c.Subject) {
		if _, ok := props[name]; !ok {
			continue
		}
		if ps, err := s.property(name); err == nil && ps.Validate(v) == nil {
			out[name] = v
		}
	}
	required, _ := s.doc["required"].([]any)
	for _, r := range required {
		name, _ := r.(string)
		if _, ok := out[name]; ok {
			continue
		}
		ps, ok := props[name]
		if !ok {
			ps = map[string]any{}
		}
		v, err := makeValue(ps, s.doc, 0)
		if err != nil {
			return nil, fmt.Errorf("property %q: %v", name, err)
		}
		out[name] = v
	}
	if err := s.root.Validate(out); err != nil {
		return nil, fmt.Errorf("cannot satisfy the schema: %s", violations(err))
	}
	return json.Marshal(out)
}

// subjectObject returns the JSON object that starts at the subject's
// first "{" and ends at its matching "}", or nil when that text is not one.
func subjectObject(subject string) map[string]any {
	i := strings.IndexByte(subject, '{')
	if i < 0 {
		return nil
	}
	dec := json.NewDecoder(strings.NewReader(subject[i:]))
	dec.UseNumber()
	var obj map[string]any
	if dec.Decode(&obj) != nil {
		return nil
	}
	return obj
}

// maxSchemaDepth bounds how deep makeValue follows nested schemas and
// references, so a schema that refers to itself ends with an error.
const maxSchemaDepth = 32

// makeValue makes a value for a schema: its default, const, first example
// or first enum value, else the first branch of anyOf/oneOf, else the
// least value of its type that keeps its bounds.
func makeValue(schema any, root map[string]any, depth int) (any, error) {
	if depth > maxSchemaDepth {
		return nil, fmt.Errorf("schema nests deeper than %d", maxSchemaDepth)
	}
	s, ok := schema.(map[string]any)
	if !ok {
		if schema == false {
			return nil, fmt.Errorf("a false schema admits no value")
		}
		return nil, nil
	}
	for _, k := range []string{"default", "const"} {
		if v, ok := s[k]; ok {
			return v, nil
		}
	}
	for _, k := range []string{"examples", "enum"} {
		if list, ok := s[k].([]any); ok && len(list) > 0 {
			return list[0], nil
		}
	}
	if ref, ok := s["$ref"].(string); ok {
		target, err := resolveRef(root, ref)
		if err != nil {
			return nil, err
		}
		return makeValue(target, root, depth+1)
	}
	for _, k := range []string{"anyOf", "oneOf"} {
		if branches, ok := s[k].([]any); ok && len(branches) > 0 {
			return makeValue(branches[0], root, depth+1)
		}
	}
	typ, _ := s["type"].(string)
	if types, ok := s["type"].([]any); ok && len(types) > 0 {
		typ, _ = types[0].(string)
	}
	if _, ok := s["properties"]; ok && typ == "" {
		typ = "object"
	}
	switch typ {
	case "object":
		props, _ := s["properties"].(map[string]any)
		required, _ := s["required"].([]any)
		obj := map[string]any{}
		for _, r := range required {
			name, _ := r.(string)
			v, err := makeValue(props[name], root, depth+1)
			if err != nil {
				return nil, fmt.Errorf("%s: %v", name, err)
			}
			obj[name] = v
		}
		return obj, nil
	case "array":
		n, _ := number(s["minItems"])
		items := make([]any, int(n))
		for i := range items {
			v, err := makeValue(s["items"], root, depth+1)
			if err != nil {
				return nil, err
			}
			items[i] = v
		}
		return items, nil
	case "string":
		format, _ := s["format"].(string)
		if v, ok := formatExamples[format]; ok {
			return v, nil
		}
		n, _ := number(s["minLength"])
		return strings.Repeat("x", int(n)), nil
	case "integer", "number":
		return makeNumber(s, typ == "integer")
	case "boolean":
		return false, nil
	}
	return nil, nil
}

// formatExamples are values for the string formats tools most often
// declare; the validator does not check formats, so the value made for
// one must be right by construction.
var formatExamples = map[string]string{
	"date-time": "1970-01-01T00:00:00Z",
	"date":      "1970-01-01",
	"time":      "00:00:00Z",
	"email":     "user@example.com",
	"uri":       "https://example.com/",
	"uuid":      "00000000-0000-0000-0000-000000000000",
}

// makeNumber returns 0 when the bounds allow it, else the first of the
// bounds, one inside them, or (numbers only) their middle, that they allow.
func makeNumber(s map[string]any, integer bool) (any, error) {
	lo, lopen, hasLo := tighter(s, "minimum", "exclusiveMinimum", math.Max)
	hi, hopen, hasHi := tighter(s, "maximum", "exclusiveMaximum", math.Min)
	inside := func(v float64) bool {
		return (!hasLo || v > lo || v == lo && !lopen) && (!hasHi || v < hi || v == hi && !hopen)
	}
	candidates := []float64{0}
	if integer {
		candidates = append(candidates, math.Ceil(lo), math.Floor(lo)+1, math.Floor(hi), math.Ceil(hi)-1)
	} else {
		candidates = append(candidates, lo, lo+1, hi, hi-1, (lo+hi)/2)
	}
	for _, v := range candidates {
		if inside(v) {
			return json.Number(strconv.FormatFloat(v, 'f', -1, 64)), nil
		}
	}
	return nil, fmt.Errorf("no %s lies within its bounds", s["type"])
}

// tighter returns the tighter of an inclusive and an exclusive bound, and
// whether it is exclusive; pick is math.Max for lower bounds and math.Min
// for upper ones.
func tighter(s map[string]any, inclusive, exclusive string, pick func(a, b float64) float64) (v float64, open, ok bool) {
	in, hasIn := number(s[inclusive])
	ex, hasEx := number(s[exclusive])
	switch {
	case hasIn && hasEx:
		v = pick(in, ex)
		return v, v == ex, true
	case hasEx:
		return ex, true, true
	}
	return in, false, hasIn
}

// number reads a JSON number from a parsed schema.
func number(v any) (float64, bool) {
	n, ok := v.(json.Number)
	if !ok {
		return 0, false
	}
	f, err := n.Float64()
	return f, err == nil
}

// resolveRef follows a reference inside the schema ("#", "#/$defs/x").
func resolveRef(root map[string]any, ref string) (any, error) {
	ptr, ok := strings.CutPrefix(ref, "#")
	if !ok {
		return nil, fmt.Errorf("$ref %q is not inside the schema", ref)
	}
	ptr, err := url.PathUnescape(ptr)
	if err != nil {
		return nil, fmt.Errorf("$ref %q: %v", ref, err)
	}
	var cur any = root
	if ptr == "" {
		return cur, nil
	}
	for _, tok := range strings.Split(strings.TrimPrefix(ptr, "/"), "/") {
		tok = strings.NewReplacer("~1", "/", "~0", "~").Replace(tok)
		switch c := cur.(type) {
		case map[string]any:
			cur, ok = c[tok]
		case []any:
			i, err := strconv.Atoi(tok)
			ok = err == nil && i >= 0 && i < len(c)
			if ok {
				cur = c[i]
			}
		default:
			ok = false
		}
		if !ok {
			return nil, fmt.Errorf("$ref %q points at nothing", ref)
		}
	}
	return cur, nil
}
