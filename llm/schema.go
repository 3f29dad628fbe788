package llm

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
)

// schemaURL names the schema of a call inside its compiler; a URN, since a
// file name would be made absolute with the server's working directory.
const schemaURL = "urn:compadre:call"

// callSchema is the JSON Schema of an Object call, parsed and compiled.
type callSchema struct {
	doc      map[string]any
	compiler *jsonschema.Compiler
	root     *jsonschema.Schema
}

// compileSchema parses and compiles a call's schema, which must describe
// an object at its top. References outside the schema itself are refused
// rather than loaded: a schema comes from organization data and must not
// read the server's files.
func compileSchema(raw json.RawMessage) (*callSchema, error) {
	if len(bytes.TrimSpace(raw)) == 0 {
		return nil, fmt.Errorf("an Object call needs a schema")
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("schema is not JSON: %v", err)
	}
	obj, ok := doc.(map[string]any)
	if !ok || obj["type"] != "object" {
		return nil, fmt.Errorf(`schema must have "type": "object" at its top`)
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.UseLoader(jsonschema.SchemeURLLoader{})
	if err := c.AddResource(schemaURL, doc); err != nil {
		return nil, fmt.Errorf("schema: %v", err)
	}
	root, err := c.Compile(schemaURL)
	if err != nil {
		return nil, fmt.Errorf("schema does not compile: %v", err)
	}
	return &callSchema{doc: obj, compiler: c, root: root}, nil
}

// property compiles the schema of one of the top-level properties.
func (s *callSchema) property(name string) (*jsonschema.Schema, error) {
	tok := strings.NewReplacer("~", "~0", "/", "~1").Replace(name)
	return s.compiler.Compile(schemaURL + "#/properties/" + url.PathEscape(tok))
}

// decodeObject reads a reply that must be one JSON object satisfying the
// schema, and returns it compacted.
func decodeObject(reply string, s *jsonschema.Schema) (json.RawMessage, any, error) {
	v, err := jsonschema.UnmarshalJSON(strings.NewReader(reply))
	if err != nil {
		return nil, nil, fmt.Errorf("reply is not one JSON value: %v", err)
	}
	if _, ok := v.(map[string]any); !ok {
		return nil, nil, fmt.Errorf("reply is not a JSON object")
	}
	if err := s.Validate(v); err != nil {
		return nil, nil, fmt.Errorf("reply does not satisfy the schema: %s", violations(err))
	}
	var out bytes.Buffer
	if err := json.Compact(&out, []byte(reply)); err != nil {
		return nil, nil, err
	}
	return out.Bytes(), v, nil
}

// check refuses a call no model could answer, and compiles an Object
// call's schema.
func (c Call) check() (*callSchema, error) {
	switch c.Kind {
	case Text:
		return nil, nil
	case Choice:
		if len(c.Options) == 0 {
			return nil, fmt.Errorf("a Choice call needs options")
		}
		return nil, nil
	case Object:
		return compileSchema(c.Schema)
	}
	return nil, fmt.Errorf("unknown call kind %d", c.Kind)
}

// limitWords trims s and, when n is above zero and s has more than n
// words, keeps its first n words joined by single spaces.
func limitWords(s string, n int) string {
	s = strings.TrimSpace(s)
	if n <= 0 {
		return s
	}
	words := strings.Fields(s)
	if len(words) <= n {
		return s
	}
	return strings.Join(words[:n], " ")
}

// violations says what a validation error found, one fault per place.
func violations(err error) string {
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return err.Error()
	}
	p := message.NewPrinter(language.English)
	var faults []string
	var walk func(*jsonschema.ValidationError)
	walk = func(ve *jsonschema.ValidationError) {
		if len(ve.Causes) == 0 {
			faults = append(faults, "at /"+strings.Join(ve.InstanceLocation, "/")+": "+ve.ErrorKind.LocalizedString(p))
		}
		for _, c := range ve.Causes {
			walk(c)
		}
	}
	walk(ve)
	return strings.Join(faults, "; ")
}
