package httpapi

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/compadre-dev/compadre/store"
	"github.com/gorilla/mux"
)

// Query parameters, read after the validator has checked and converted them.

func queryInt(r *http.Request, name string) int {
	switch v := state(r.Context()).query[name].(type) {
	case json.Number:
		n, _ := v.Int64()
		return int(n)
	case float64:
		return int(v)
	}
	return 0
}

func queryString(r *http.Request, name string) string {
	s, _ := state(r.Context()).query[name].(string)
	return s
}

func queryStrings(r *http.Request, name string) []string {
	vs, _ := state(r.Context()).query[name].([]any)
	out := make([]string, 0, len(vs))
	for _, v := range vs {
		if s, ok := v.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

// sortKeys parses sort_by values ("+field", "-field" or "field").
func sortKeys(r *http.Request, valid func(string) bool) ([]store.SortKey, error) {
	var keys []store.SortKey
	for i, raw := range queryStrings(r, "sort_by") {
		k := store.SortKey{Field: raw}
		switch {
		case len(raw) > 0 && raw[0] == '-':
			k = store.SortKey{Field: raw[1:], Desc: true}
		case len(raw) > 0 && raw[0] == '+':
			k.Field = raw[1:]
		}
		if !valid(k.Field) {
			return nil, validationFailed(fieldError{Loc: []any{"query", "sort_by", i},
				Msg: "Unsupported sort field " + strconv.Quote(k.Field), Type: "value_error", Input: raw})
		}
		keys = append(keys, k)
	}
	return keys, nil
}

// versionRange reads the version parameter of the get-…-versions lists: a
// number, `latest`, or an inclusive range from a number to a number or
// `latest` (2-5, 1-latest). Empty selects every version.
func versionRange(r *http.Request) (store.VersionRange, error) {
	raw := queryString(r, "version")
	var vr store.VersionRange
	bad := validationFailed(fieldError{Loc: []any{"query", "version"}, Type: "value_error", Input: raw,
		Msg: "A version is a number or latest, or a range from a number to a number or latest whose lower bound " +
			"is at most its upper bound, such as 2-5 or 1-latest"})
	number := func(s string) (*int, bool) {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 || strings.HasPrefix(s, "+") {
			return nil, false
		}
		return &n, true
	}
	switch lo, hi, isRange := strings.Cut(raw, "-"); {
	case raw == "":
	case raw == "latest":
		vr.Latest = true
	case !isRange:
		n, ok := number(lo)
		if !ok {
			return vr, bad
		}
		vr.Min, vr.Max = n, n
	default:
		var ok bool
		if vr.Min, ok = number(lo); !ok {
			return vr, bad
		}
		if hi != "latest" {
			if vr.Max, ok = number(hi); !ok || *vr.Max < *vr.Min {
				return vr, bad
			}
		}
	}
	return vr, nil
}

// queryTime reads an optional date-time query parameter, adding a fault
// to fe when it is not one.
func queryTime(r *http.Request, fe *faults, name string) *time.Time {
	raw := queryString(r, name)
	if raw == "" {
		return nil
	}
	at, err := parseTimestamp(raw)
	if err != nil {
		fe.Add([]any{"query", name}, "datetime_from_date_parsing", "Input should be a valid datetime", raw)
		return nil
	}
	return &at
}

// queryBool reads an optional boolean query parameter.
func queryBool(r *http.Request, name string) *bool {
	b, ok := state(r.Context()).query[name].(bool)
	if !ok {
		return nil
	}
	return &b
}

// tagFilters parses key:value filters; a value of * matches any value and
// an empty one matches a null value.
func tagFilters(r *http.Request, name string) ([]store.TagFilter, error) {
	var out []store.TagFilter
	for i, raw := range queryStrings(r, name) {
		key, value, ok := strings.Cut(raw, ":")
		if !ok || key == "" {
			return nil, validationFailed(fieldError{Loc: []any{"query", name, i},
				Msg: "A tag filter must be key:value", Type: "value_error", Input: raw})
		}
		f := store.TagFilter{Key: key}
		switch value {
		case "*":
			f.Any = true
		case "":
		default:
			f.Value = &value
		}
		out = append(out, f)
	}
	return out, nil
}

// creatorFilters reads the creator parameter: each value is org_id,user_id
// or a bare user ID, which matches the user in any organization.
func creatorFilters(r *http.Request) ([]store.Actor, error) {
	var out []store.Actor
	for i, raw := range queryStrings(r, "creator") {
		var c store.Actor
		if org, user, ok := strings.Cut(raw, ","); ok {
			c = store.Actor{OrgID: strings.TrimSpace(org), UserID: strings.TrimSpace(user)}
			if c.OrgID == "" {
				c.UserID = ""
			}
		} else {
			c.UserID = strings.TrimSpace(raw)
		}
		if c.UserID == "" {
			return nil, validationFailed(fieldError{Loc: []any{"query", "creator", i},
				Msg: "A creator must be org_id,user_id or a user ID", Type: "value_error", Input: raw})
		}
		out = append(out, c)
	}
	return out, nil
}

// idParam is the ID in the path variable name, refused with 422 unless it
// has an ID's shape, as the reference's path patterns do.
func idParam(r *http.Request, name string) (string, error) {
	id := mux.Vars(r)[name]
	if !store.IsID(id) {
		return "", validationFailed(fieldError{Loc: []any{"path", name}, Type: "string_pattern_mismatch",
			Msg: "String should match pattern '^[a-f0-9]{24}$'", Input: id})
	}
	return id, nil
}
