package llm

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// PurposeEvaluateMetric is the purpose of a judge's call: an Object call
// whose Schema is a VerdictSchema, whose Guidance is the metric's
// description and whose Passages are the conversation's messages.
const PurposeEvaluateMetric = "evaluate-metric"

// Passage is a text an answer may cite by its ID: a message of the
// conversation a judge reads.
type Passage struct {
	ID   string
	Text string
}

// Verdict is a judge's answer as VerdictSchema shapes it. Result is a
// JSON boolean, number or string, or null for "not applicable".
type Verdict struct {
	Result        json.RawMessage `json:"result"`
	Justification string          `json:"justification"`
	References    []string        `json:"references"`
}

// ResultShape is what a metric's result may be: its value type and, for
// numerical metrics, its bounds (inclusive), for categorical ones, its
// categories.
type ResultShape struct {
	Type       string
	LowerBound float64
	UpperBound float64
	Categories []string
}

// Value types of a ResultShape, as metrics name them.
const (
	ResultBoolean     = "boolean"
	ResultNumerical   = "numerical"
	ResultCategorical = "categorical"
)

// VerdictSchema is the JSON Schema of a judge's answer: a result that fits
// shape or is null, a justification, and references that are IDs of the
// passages given. Models with structured output are held to it, and every
// answer is checked against it.
func VerdictSchema(shape ResultShape, passageIDs []string) (json.RawMessage, error) {
	var result map[string]any
	switch shape.Type {
	case ResultBoolean:
		result = map[string]any{"type": "boolean"}
	case ResultNumerical:
		result = map[string]any{"type": "number", "minimum": shape.LowerBound, "maximum": shape.UpperBound}
	case ResultCategorical:
		result = map[string]any{"type": "string", "enum": shape.Categories}
	default:
		return nil, fmt.Errorf("llm: unknown result type %q", shape.Type)
	}
	refs := map[string]any{"type": "array", "items": map[string]any{"type": "string", "enum": passageIDs}}
	if len(passageIDs) == 0 {
		refs = map[string]any{"type": "array", "maxItems": 0, "items": map[string]any{"type": "string"}}
	}
	return json.Marshal(map[string]any{
		"type": "object",
		"properties": map[string]any{
			"result":        map[string]any{"anyOf": []any{result, map[string]any{"type": "null"}}},
			"justification": map[string]any{"type": "string"},
			"references":    refs,
		},
		"required":             []string{"result", "justification", "references"},
		"additionalProperties": false,
	})
}

// quoted finds the phrases a description puts in straight or curly double
// quotes.
var quoted = regexp.MustCompile(`"([^"]+)"|“([^”]+)”`)

// terms are what the built-in judge looks for: the description's quoted
// phrases, lower-cased with their spaces collapsed, or, when it quotes
// none, its words.
func terms(description string) (list []string, phrases bool) {
	for _, m := range quoted.FindAllStringSubmatch(description, -1) {
		p := strings.Join(strings.Fields(strings.ToLower(m[1]+m[2])), " ")
		if p != "" && !slices.Contains(list, p) {
			list = append(list, p)
		}
	}
	if len(list) > 0 {
		return list, true
	}
	for _, w := range strings.FieldsFunc(strings.ToLower(description), notWordRune) {
		if words(w)[w] && !slices.Contains(list, w) {
			list = append(list, w)
		}
	}
	return list, false
}

// builtinVerdict is the built-in provider's answer to an evaluate-metric
// call, by the rules in the package documentation.
func builtinVerdict(c Call, s *callSchema) (json.RawMessage, error) {
	shape, err := shapeOf(s)
	if err != nil {
		return nil, err
	}
	texts := make([]string, len(c.Passages))
	wordsOf := make([]map[string]bool, len(c.Passages))
	for i, p := range c.Passages {
		texts[i] = strings.Join(strings.Fields(strings.ToLower(p.Text)), " ")
		wordsOf[i] = words(p.Text)
	}
	v := Verdict{Result: json.RawMessage("null"), References: []string{}}
	cite := func(i int) {
		if id := c.Passages[i].ID; !slices.Contains(v.References, id) {
			v.References = append(v.References, id)
		}
	}
	if shape.Type == ResultCategorical {
		best, bestScore := -1, 0
		for ci, cat := range shape.Categories {
			score := 0
			for w := range words(cat) {
				for i := range c.Passages {
					if wordsOf[i][w] {
						score++
						break
					}
				}
			}
			if score > bestScore {
				best, bestScore = ci, score
			}
		}
		if best < 0 {
			v.Justification = "The conversation mentions none of the categories, so the metric does not apply."
		} else {
			cat := shape.Categories[best]
			v.Result, _ = json.Marshal(cat)
			v.Justification = fmt.Sprintf("The conversation mentions %q more than any other category.", cat)
			for w := range words(cat) {
				for i := range c.Passages {
					if wordsOf[i][w] {
						cite(i)
					}
				}
			}
			sortByPassage(v.References, c.Passages)
		}
		return v.checked(s)
	}
	list, phrases := terms(c.Guidance)
	if len(list) == 0 {
		v.Justification = "The description names nothing to look for, so the metric does not apply."
		return v.checked(s)
	}
	var found, missing []string
	for _, t := range list {
		hit := false
		for i := range c.Passages {
			if phrases && strings.Contains(texts[i], t) || !phrases && wordsOf[i][t] {
				hit = true
				cite(i)
			}
		}
		if hit {
			found = append(found, t)
		} else {
			missing = append(missing, t)
		}
	}
	sortByPassage(v.References, c.Passages)
	share := float64(len(found)) / float64(len(list))
	switch shape.Type {
	case ResultBoolean:
		v.Result, _ = json.Marshal(len(missing) == 0)
	case ResultNumerical:
		n := shape.LowerBound + (shape.UpperBound-shape.LowerBound)*share
		v.Result, _ = json.Marshal(math.Min(math.Max(n, shape.LowerBound), shape.UpperBound))
	}
	v.Justification = fmt.Sprintf("The conversation contains %d of the %d terms looked for.", len(found), len(list))
	if len(found) > 0 {
		v.Justification += " Found: " + quoteAll(found) + "."
	}
	if len(missing) > 0 {
		v.Justification += " Not found: " + quoteAll(missing) + "."
	}
	return v.checked(s)
}

// checked returns the verdict as JSON once the call's schema accepts it.
func (v Verdict) checked(s *callSchema) (json.RawMessage, error) {
	out, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(out))
	if err != nil {
		return nil, err
	}
	if err := s.root.Validate(doc); err != nil {
		return nil, fmt.Errorf("cannot satisfy the schema: %s", violations(err))
	}
	return out, nil
}

// sortByPassage orders cited IDs as their passages come.
func sortByPassage(ids []string, passages []Passage) {
	at := map[string]int{}
	for i := len(passages) - 1; i >= 0; i-- {
		at[passages[i].ID] = i
	}
	slices.SortFunc(ids, func(a, b string) int { return at[a] - at[b] })
}

func quoteAll(list []string) string {
	q := make([]string, len(list))
	for i, s := range list {
		q[i] = fmt.Sprintf("%q", s)
	}
	return strings.Join(q, ", ")
}

// shapeOf reads back the result shape a VerdictSchema was made from.
func shapeOf(s *callSchema) (ResultShape, error) {
	bad := fmt.Errorf("an %s call needs a schema made by VerdictSchema", PurposeEvaluateMetric)
	props, _ := s.doc["properties"].(map[string]any)
	result, _ := props["result"].(map[string]any)
	branches, _ := result["anyOf"].([]any)
	if len(branches) == 0 {
		return ResultShape{}, bad
	}
	first, _ := branches[0].(map[string]any)
	switch first["type"] {
	case "boolean":
		return ResultShape{Type: ResultBoolean}, nil
	case "number":
		lo, okLo := number(first["minimum"])
		hi, okHi := number(first["maximum"])
		if !okLo || !okHi {
			return ResultShape{}, bad
		}
		return ResultShape{Type: ResultNumerical, LowerBound: lo, UpperBound: hi}, nil
	case "string":
		enum, _ := first["enum"].([]any)
		shape := ResultShape{Type: ResultCategorical}
		for _, e := range enum {
			if cat, ok := e.(string); ok {
				shape.Categories = append(shape.Categories, cat)
			}
		}
		return shape, nil
	}
	return ResultShape{}, bad
}
