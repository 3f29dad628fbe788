// Package config holds the declared configuration of agents: context graphs
// (service hierarchical state machine versions) and their states, agent
// versions, dynamic behavior set versions and tool call specs, with the
// checks each must pass before it is stored. It knows nothing of HTTP or of
// the store: checks return Invalid (faults located in the declaration) or
// Unresolved and Incomplete (what it names cannot be used), and the API
// decides what status each becomes. The conversation engine reads what the
// store holds through ParseGraph, ParseAgent and ParseBehavior.
package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
)

// Fault is one thing wrong with a declaration: where (Loc, a path of keys
// and indexes from the document's root), what kind of fault (Type, named as
// pydantic names it), a sentence for the reader (Msg) and, if useful, the
// offending value (Input). It is written as the API's 422 entries are,
// FastAPI's shape, so the API answers with faults as they are.
type Fault struct {
	Loc   []any  `json:"loc"`
	Msg   string `json:"msg"`
	Type  string `json:"type"`
	Input any    `json:"input,omitempty"`
}

// Faults collects the faults of one declaration, so one answer lists
// everything wrong with it.
type Faults []Fault

// Add records a fault at loc; input, if given, is the offending value.
func (f *Faults) Add(loc []any, typ, msg string, input ...any) {
	ft := Fault{Loc: loc, Type: typ, Msg: msg}
	if len(input) > 0 {
		ft.Input = input[0]
	}
	*f = append(*f, ft)
}

// Stripped returns s trimmed, recording a fault at loc if nothing is left.
func (f *Faults) Stripped(s string, loc ...any) string {
	t := strings.TrimSpace(s)
	if t == "" {
		f.Add(loc, "value_error", "String should not be empty or only whitespace", s)
	}
	return t
}

// Err is nil when nothing was recorded, else an *Invalid listing every fault.
func (f Faults) Err() error {
	if len(f) == 0 {
		return nil
	}
	return &Invalid{Faults: f}
}

// Invalid is a declaration that is wrong on its own, whatever else exists:
// the API answers 422 with one entry per fault.
type Invalid struct {
	Faults Faults
}

func (e *Invalid) Error() string {
	msgs := make([]string, len(e.Faults))
	for i, f := range e.Faults {
		msgs[i] = f.Msg
	}
	return "config: invalid: " + strings.Join(msgs, "; ")
}

// Unresolved is a well-formed declaration that names what does not exist or
// may no longer be used (a tool, a referenced state machine or one of its
// states). Problems are sentences for the reader; the API answers 400 with
// them joined.
type Unresolved struct {
	Problems []string
}

func (e *Unresolved) Error() string { return strings.Join(e.Problems, "; ") }

// Incomplete is a first version that leaves out fields only a previous
// version could have supplied; Missing names them. The API answers 400.
type Incomplete struct {
	Of      string
	Missing []string
}

func (e *Incomplete) Error() string {
	return "The " + e.Of + " has no versions yet, so the first one needs every field; missing: " +
		strings.Join(e.Missing, ", ") + "."
}

// DecodeFault describes why a JSON value, already valid against the API's
// schema, still did not decode into its Go type, located under prefix.
func DecodeFault(err error, prefix ...any) Fault {
	var ute *json.UnmarshalTypeError
	if errors.As(err, &ute) {
		loc := slices.Clone(prefix)
		if ute.Field != "" {
			loc = append(loc, InstanceLoc(strings.Split(ute.Field, "."))...)
		}
		switch ute.Type.Kind() {
		case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
			reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
			return Fault{Loc: loc, Type: "int_type", Msg: "Input should be a whole number within the range this field allows"}
		case reflect.Float32, reflect.Float64:
			return Fault{Loc: loc, Type: "float_type", Msg: "Input should be a valid number"}
		case reflect.String:
			return Fault{Loc: loc, Type: "string_type", Msg: "Input should be a valid string"}
		case reflect.Bool:
			return Fault{Loc: loc, Type: "bool_type", Msg: "Input should be a valid boolean"}
		case reflect.Slice, reflect.Array:
			return Fault{Loc: loc, Type: "list_type", Msg: "Input should be a valid list"}
		case reflect.Map, reflect.Struct:
			return Fault{Loc: loc, Type: "dict_type", Msg: "Input should be a valid dictionary or object"}
		}
		return Fault{Loc: loc, Type: "value_error", Msg: "Input is not valid for this field"}
	}
	return Fault{Loc: slices.Clone(prefix), Type: "value_error", Msg: "Input is not valid"}
}

// InstanceLoc turns the parts of a JSON path into a location, with the
// parts that are numbers as indexes.
func InstanceLoc(parts []string) []any {
	out := make([]any, len(parts))
	for i, p := range parts {
		if n, err := strconv.Atoi(p); err == nil {
			out[i] = n
		} else {
			out[i] = p
		}
	}
	return out
}

// extend returns loc extended by more, never sharing loc's backing array.
func extend(loc []any, more ...any) []any { return append(slices.Clip(loc), more...) }

// locString writes a location the way a reader would point at it, leaving
// out the "body" root: initial_version.actions[0].tool_call_specs[1].
func locString(loc []any) string {
	var b strings.Builder
	for _, p := range loc {
		switch p := p.(type) {
		case int:
			fmt.Fprintf(&b, "[%d]", p)
		case string:
			if p == "body" {
				continue
			}
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			b.WriteString(p)
		}
	}
	return b.String()
}
