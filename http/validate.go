package httpapi

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
	"github.com/sosodev/duration"
	"golang.org/x/text/language"
	"golang.org/x/text/message"

	"github.com/compadre-dev/compadre/config"
	assets "github.com/compadre-dev/compadre/embed"
)

// apiDocument is the embedded OpenAPI document, served as JSON and compiled
// into validators for each operation's body and parameters, so what the
// document promises and what the server enforces cannot drift apart.
type apiDocument struct {
	json []byte
	ops  map[string]*operation
	// compiler compiles an operation's schemas the first time a request
	// needs them; it is not safe for concurrent use, hence mu.
	mu       sync.Mutex
	compiler *jsonschema.Compiler
}

type operation struct {
	id           string
	method       string
	path         string
	hasBody      bool
	bodyRequired bool
	// rawBody is a body the document does not describe as JSON (a
	// multipart form, audio); the handler reads it, up to maxRawBodyBytes.
	rawBody bool
	params  []*parameter
	// base locates the operation in the document, as a JSON pointer.
	base string
	// compile compiles body and the parameters' schemas once; err is why
	// it failed.
	compile sync.Once
	body    *jsonschema.Schema
	err     error
}

type parameter struct {
	name     string
	in       string
	required bool
	// typ is the JSON type of the value; for arrays, elem is the item type.
	typ, elem  string
	def        any
	hasDefault bool
	// index is the parameter's place in the operation's list.
	index  int
	schema *jsonschema.Schema
}

const docURL = "mem:///openapi.json"

var printer = message.NewPrinter(language.English)

// loadedAPIDocument is the document loaded once per process: it depends
// only on embedded files, and nothing changes it after loading but the
// compiling of each operation's schemas, once and under a lock (compiled
// schemas validate concurrently), so every server in a process can share
// it. See DECISIONS.md, "Why is the OpenAPI document compiled once per
// process?".
var loadedAPIDocument = sync.OnceValues(loadAPIDocument)

// LoadDocument loads the OpenAPI document now, if this process has not
// yet, so that a caller can overlap it with other start-up work; New then
// finds it done. Its error, if any, is New's.
func LoadDocument() { _, _ = loadedAPIDocument() }

func loadAPIDocument() (*apiDocument, error) {
	var raw bytes.Buffer
	if err := json.Compact(&raw, assets.OpenAPIJSON); err != nil {
		return nil, fmt.Errorf("httpapi: openapi document: %w", err)
	}
	tree, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw.Bytes()))
	if err != nil {
		return nil, fmt.Errorf("httpapi: openapi document: %w", err)
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.AssertFormat()
	c.RegisterFormat(&jsonschema.Format{Name: "duration", Validate: validateDuration})
	c.RegisterFormat(&jsonschema.Format{Name: "base64", Validate: validateBase64})
	if err := c.AddResource(docURL, tree); err != nil {
		return nil, fmt.Errorf("httpapi: openapi document: %w", err)
	}
	d := &apiDocument{json: raw.Bytes(), ops: map[string]*operation{}, compiler: c}
	paths, _ := tree.(map[string]any)["paths"].(map[string]any)
	for path, item := range paths {
		methods, _ := item.(map[string]any)
		for method, o := range methods {
			om, ok := o.(map[string]any)
			if !ok {
				continue
			}
			id, _ := om["operationId"].(string)
			if id == "" {
				continue
			}
			op := &operation{id: id, method: strings.ToUpper(method), path: path,
				base: docURL + "#/paths/" + pointerEscape(path) + "/" + method}
			// Only a JSON body is validated here; one the document offers in
			// other media types alone (a multipart form, raw audio) is read
			// whole, up to maxRawBodyBytes, for the handler to parse. See
			// DECISIONS.md, "Why are bodies other than JSON left to the
			// handler?".
			if rb, ok := om["requestBody"].(map[string]any); ok {
				op.hasBody = true
				op.bodyRequired, _ = rb["required"].(bool)
				content, _ := rb["content"].(map[string]any)
				_, isJSON := content["application/json"]
				op.rawBody = !isJSON
			}
			params, _ := om["parameters"].([]any)
			for i, p := range params {
				pm, _ := p.(map[string]any)
				in, _ := pm["in"].(string)
				if in == "path" {
					continue
				}
				prm := &parameter{in: in, index: i}
				prm.name, _ = pm["name"].(string)
				prm.required, _ = pm["required"].(bool)
				sm, _ := pm["schema"].(map[string]any)
				prm.typ = schemaType(sm)
				if items, ok := sm["items"].(map[string]any); ok {
					prm.elem, _ = items["type"].(string)
				}
				prm.def, prm.hasDefault = sm["default"]
				op.params = append(op.params, prm)
			}
			d.ops[id] = op
		}
	}
	return d, nil
}

// compiled compiles op's schemas the first time they are needed. Compiling
// every operation up front cost tens of milliseconds at each start (the
// schema library copies the document for every schema it compiles); a
// test compiles them all, so a schema that does not compile fails there.
func (d *apiDocument) compiled(op *operation) error {
	op.compile.Do(func() {
		d.mu.Lock()
		defer d.mu.Unlock()
		if op.hasBody && !op.rawBody {
			if op.body, op.err = d.compiler.Compile(op.base + "/requestBody/content/application~1json/schema"); op.err != nil {
				op.err = fmt.Errorf("httpapi: %s body schema: %w", op.id, op.err)
				return
			}
		}
		for _, p := range op.params {
			if p.schema, op.err = d.compiler.Compile(op.base + "/parameters/" + strconv.Itoa(p.index) + "/schema"); op.err != nil {
				op.err = fmt.Errorf("httpapi: %s parameter %s: %w", op.id, p.name, op.err)
				return
			}
		}
	})
	return op.err
}

// schemaType is the JSON type a parameter's value converts to: the
// schema's type, or for an optional one (anyOf a type and null) that type.
func schemaType(sm map[string]any) string {
	if t, ok := sm["type"].(string); ok {
		return t
	}
	alts, _ := sm["anyOf"].([]any)
	for _, a := range alts {
		if am, ok := a.(map[string]any); ok {
			if t, _ := am["type"].(string); t != "" && t != "null" {
				return t
			}
		}
	}
	return ""
}

// pointerEscape turns a path into a JSON-pointer token inside a URI fragment.
func pointerEscape(s string) string {
	s = strings.ReplaceAll(s, "~", "~0")
	s = strings.ReplaceAll(s, "/", "~1")
	s = strings.ReplaceAll(s, "{", "%7B")
	return strings.ReplaceAll(s, "}", "%7D")
}

func (d *apiDocument) operation(id string) (*operation, error) {
	op, ok := d.ops[id]
	if !ok {
		return nil, fmt.Errorf("httpapi: operation %q is not in the OpenAPI document", id)
	}
	return op, nil
}

func validateDuration(v any) error {
	s, ok := v.(string)
	if !ok {
		return nil
	}
	_, err := duration.Parse(s)
	return err
}

func validateBase64(v any) error {
	s, ok := v.(string)
	if !ok {
		return nil
	}
	_, err := base64.StdEncoding.DecodeString(s)
	return err
}

// validateRequest checks the query and header parameters and the JSON body
// against the operation's schemas, and keeps the results on the request state.
func (s *Server) validateRequest(w http.ResponseWriter, r *http.Request, op *operation, st *requestState) error {
	if err := s.doc.compiled(op); err != nil {
		return err
	}
	var f faults
	st.query = map[string]any{}
	for _, p := range op.params {
		v, present, ferr := paramValue(r, p)
		if ferr != nil {
			f = append(f, *ferr)
			continue
		}
		if !present {
			if p.required {
				f.Add([]any{p.in, p.name}, "missing", "Field required")
			} else if p.hasDefault {
				st.query[p.name] = p.def
			}
			continue
		}
		if err := p.schema.Validate(v); err != nil {
			f = append(f, schemaErrors(err, []any{p.in, p.name})...)
			continue
		}
		st.query[p.name] = v
	}
	if op.hasBody {
		limit, limitText := int64(maxBodyBytes), "1 MiB"
		if op.rawBody {
			limit, limitText = maxRawBodyBytes, "16 MiB"
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return errorf(http.StatusRequestEntityTooLarge, "The request body is larger than "+limitText+".")
		}
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return fmt.Errorf("httpapi: read request body: %w", err)
		}
		if err != nil {
			return badRequest("The request body could not be read.")
		}
		switch {
		case op.rawBody:
			st.body = body
		case len(bytes.TrimSpace(body)) == 0:
			if op.bodyRequired {
				f.Add([]any{"body"}, "missing", "Field required")
			}
		default:
			doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(body))
			if err != nil {
				fe := fieldError{Loc: []any{"body"}, Msg: "JSON decode error", Type: "json_invalid"}
				if se := (*json.SyntaxError)(nil); errors.As(err, &se) {
					fe.Loc = append(fe.Loc, int(se.Offset))
				}
				f = append(f, fe)
				break
			}
			if err := op.body.Validate(doc); err != nil {
				f = append(f, schemaErrors(err, []any{"body"})...)
			}
			// JSON Schema and pydantic take 2.0 as the integer 2; Go's
			// decoder would refuse it for an int field.
			if whole, changed := wholeNumbers(doc); changed {
				if body, err = json.Marshal(whole); err != nil {
					return err
				}
			}
			st.body = body
		}
	}
	return f.Err()
}

// paramValue reads a parameter and converts it to its schema's JSON type,
// as FastAPI does before validating.
func paramValue(r *http.Request, p *parameter) (any, bool, *fieldError) {
	var raw []string
	switch p.in {
	case "query":
		raw = r.URL.Query()[p.name]
	case "header":
		raw = r.Header.Values(p.name)
	}
	if len(raw) == 0 {
		return nil, false, nil
	}
	if p.typ == "array" {
		out := make([]any, len(raw))
		for i, s := range raw {
			v, err := convert(s, p.elem, []any{p.in, p.name, i})
			if err != nil {
				return nil, true, err
			}
			out[i] = v
		}
		return out, true, nil
	}
	v, err := convert(raw[len(raw)-1], p.typ, []any{p.in, p.name})
	return v, true, err
}

func convert(s, typ string, loc []any) (any, *fieldError) {
	switch typ {
	case "integer":
		n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
		if err != nil {
			return nil, &fieldError{Loc: loc, Msg: "Input should be a valid integer, unable to parse string as an integer", Type: "int_parsing", Input: s}
		}
		return json.Number(strconv.FormatInt(n, 10)), nil
	case "number":
		f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
		if err != nil {
			return nil, &fieldError{Loc: loc, Msg: "Input should be a valid number, unable to parse string as a number", Type: "float_parsing", Input: s}
		}
		return json.Number(strconv.FormatFloat(f, 'g', -1, 64)), nil
	case "boolean":
		switch strings.ToLower(strings.TrimSpace(s)) {
		case "true", "1", "yes", "on", "t", "y":
			return true, nil
		case "false", "0", "no", "off", "f", "n":
			return false, nil
		}
		return nil, &fieldError{Loc: loc, Msg: "Input should be a valid boolean, unable to interpret input", Type: "bool_parsing", Input: s}
	}
	return s, nil
}

// notBlankPattern is the document's pattern for text that must hold a
// character other than whitespace: Unicode's White_Space characters, the
// ones strings.TrimSpace removes, spelled out so every regex dialect reads
// the pattern alike. See DECISIONS.md, "How are tags validated?".
const notBlankPattern = "[^\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"

// schemaErrors flattens a validation failure into FastAPI-style entries, one
// per failing leaf, located under prefix.
func schemaErrors(err error, prefix []any) []fieldError {
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return []fieldError{{Loc: prefix, Msg: err.Error(), Type: "value_error"}}
	}
	var leaves []*jsonschema.ValidationError
	var walk func(e *jsonschema.ValidationError)
	walk = func(e *jsonschema.ValidationError) {
		if len(e.Causes) == 0 {
			leaves = append(leaves, e)
			return
		}
		for _, c := range e.Causes {
			walk(c)
		}
	}
	walk(ve)
	// A nullable field that fails reports "want null" beside the real fault;
	// that half of the union only adds noise.
	if len(leaves) > 1 {
		kept := leaves[:0:0]
		for _, l := range leaves {
			if t, ok := l.ErrorKind.(*kind.Type); ok && slices.Equal(t.Want, []string{"null"}) {
				continue
			}
			kept = append(kept, l)
		}
		if len(kept) > 0 {
			leaves = kept
		}
	}
	var out []fieldError
	for _, l := range leaves {
		loc := append(slices.Clone(prefix), config.InstanceLoc(l.InstanceLocation)...)
		if req, ok := l.ErrorKind.(*kind.Required); ok {
			for _, m := range req.Missing {
				out = append(out, fieldError{Loc: append(slices.Clone(loc), m), Msg: "Field required", Type: "missing"})
			}
			continue
		}
		// A long list (time zones, permissions) would drown the message.
		if e, ok := l.ErrorKind.(*kind.Enum); ok && len(e.Want) > 20 {
			out = append(out, fieldError{Loc: loc, Msg: fmt.Sprintf("Unknown value %s: it should be one of the %d values the API document lists", quoteValue(e.Got), len(e.Want)), Type: "enum", Input: e.Got})
			continue
		}
		if p, ok := l.ErrorKind.(*kind.Pattern); ok && p.Want == notBlankPattern {
			out = append(out, fieldError{Loc: loc, Msg: "String should not be empty or only whitespace", Type: "value_error", Input: p.Got})
			continue
		}
		out = append(out, fieldError{Loc: loc, Msg: l.ErrorKind.LocalizedString(printer), Type: errorType(l.ErrorKind)})
	}
	return out
}

// errorType names a schema failure the way pydantic names the same failure.
func errorType(k jsonschema.ErrorKind) string {
	switch k := k.(type) {
	case *kind.Type:
		if len(k.Want) > 0 {
			switch k.Want[0] {
			case "string":
				return "string_type"
			case "integer":
				return "int_type"
			case "number":
				return "float_type"
			case "boolean":
				return "bool_type"
			case "array":
				return "list_type"
			case "object":
				return "dict_type"
			}
		}
		return "type_error"
	case *kind.MinLength:
		return "string_too_short"
	case *kind.MaxLength:
		return "string_too_long"
	case *kind.Pattern:
		return "string_pattern_mismatch"
	case *kind.Minimum, *kind.ExclusiveMinimum:
		return "greater_than_equal"
	case *kind.Maximum, *kind.ExclusiveMaximum:
		return "less_than_equal"
	case *kind.Enum:
		return "enum"
	case *kind.Const:
		return "literal_error"
	case *kind.MinItems, *kind.MinProperties:
		return "too_short"
	case *kind.MaxItems, *kind.MaxProperties:
		return "too_long"
	case *kind.AdditionalProperties:
		return "extra_forbidden"
	case *kind.UniqueItems:
		return "unique_items"
	}
	return "value_error"
}

// decodeBody decodes the validated request body into v.
func decodeBody(r *http.Request, v any) error {
	body := state(r.Context()).body
	if body == nil {
		body = []byte("{}")
	}
	if err := json.Unmarshal(body, v); err != nil {
		return validationFailed(decodeFailure(err, "body"))
	}
	return nil
}

// decodeFailure describes why a validated body still did not decode into
// its Go type (a number beyond int64, say) the way FastAPI would, naming the
// field by its JSON path and never the Go type or struct it was bound for.
// config words it, as it words the states of a context graph it decodes.
func decodeFailure(err error, prefix ...any) fieldError {
	return fieldError(config.DecodeFault(err, prefix...))
}

// quoteValue shows a refused JSON value in a message, quoted if a string.
func quoteValue(v any) string {
	if s, ok := v.(string); ok {
		return strconv.Quote(s)
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// wholeNumbers rewrites every number written with a fraction or exponent
// whose value is a whole number within int64 (2.0, 1e3) as that integer,
// and reports whether it changed anything.
func wholeNumbers(v any) (any, bool) {
	switch v := v.(type) {
	case json.Number:
		if !strings.ContainsAny(string(v), ".eE") {
			return v, false
		}
		f, _, err := big.ParseFloat(string(v), 10, 256, big.ToNearestEven)
		if err != nil || !f.IsInt() {
			return v, false
		}
		if n, acc := f.Int64(); acc == big.Exact {
			return json.Number(strconv.FormatInt(n, 10)), true
		}
		return v, false
	case map[string]any:
		changed := false
		for k, x := range v {
			if y, ok := wholeNumbers(x); ok {
				v[k], changed = y, true
			}
		}
		return v, changed
	case []any:
		changed := false
		for i, x := range v {
			if y, ok := wholeNumbers(x); ok {
				v[i], changed = y, true
			}
		}
		return v, changed
	}
	return v, false
}
