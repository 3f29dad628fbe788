package auth

import (
	"fmt"
	"reflect"

	"github.com/compadre-dev/compadre/store"
)

// Attributes describe the resource a request acts on, by attribute name
// (e.g. "user_id"). Grant conditions are evaluated against them.
type Attributes map[string]any

// Allowed reports whether any grant gives perm for a resource with attrs.
// Grants are allow-only: no grant can take a permission away.
//
// A grant applies when every one of its conditions holds; a condition on an
// attribute the resource does not have does not hold, so a narrowed grant
// never widens into an unconditional one.
func Allowed(grants []store.PermissionGrant, perm Permission, attrs Attributes) bool {
	for _, g := range grants {
		if g.PermissionName == string(perm) && conditionsHold(g.Conditions, attrs) {
			return true
		}
	}
	return false
}

// Unconditional reports whether some grant gives perm for every resource.
// A listing can then be paged in the database instead of filtered here.
func Unconditional(grants []store.PermissionGrant, perm Permission) bool {
	for _, g := range grants {
		if g.PermissionName == string(perm) && len(g.Conditions) == 0 {
			return true
		}
	}
	return false
}

// Covers reports whether the grants held are at least as broad as every
// wanted grant: each wanted grant is matched by a held grant for the same
// permission whose conditions are a subset of the wanted grant's. It is how
// "greater privileges than" is decided.
func Covers(held, wanted []store.PermissionGrant) bool {
	for _, w := range wanted {
		if !coveredBy(held, w) {
			return false
		}
	}
	return true
}

func coveredBy(held []store.PermissionGrant, w store.PermissionGrant) bool {
	for _, h := range held {
		if h.PermissionName != w.PermissionName {
			continue
		}
		broader := true
		for attr, hc := range h.Conditions {
			wc, ok := w.Conditions[attr]
			if !ok || !reflect.DeepEqual(normalize(hc), normalize(wc)) {
				broader = false
				break
			}
		}
		if broader {
			return true
		}
	}
	return false
}

func conditionsHold(conds map[string]store.Condition, attrs Attributes) bool {
	for attr, c := range conds {
		v, ok := attrs[attr]
		if !ok {
			return false
		}
		if !conditionHolds(c, v) {
			return false
		}
	}
	return true
}

func conditionHolds(c store.Condition, v any) bool {
	switch c.Type {
	case "Equals":
		return equal(c.Value, v)
	case "NotEquals":
		return !equal(c.Value, v)
	case "In":
		for _, x := range c.Values {
			if equal(x, v) {
				return true
			}
		}
		return false
	default:
		return false
	}
}

// equal compares a condition value (decoded from JSON) with an attribute
// value (set by Go code), treating all numbers alike.
func equal(a, b any) bool {
	return reflect.DeepEqual(normalizeValue(a), normalizeValue(b))
}

func normalizeValue(v any) any {
	switch n := v.(type) {
	case int:
		return float64(n)
	case int64:
		return float64(n)
	case float32:
		return float64(n)
	case fmt.Stringer:
		return n.String()
	}
	return v
}

func normalize(c store.Condition) store.Condition {
	c.Value = normalizeValue(c.Value)
	vals := make([]any, len(c.Values))
	for i, v := range c.Values {
		vals[i] = normalizeValue(v)
	}
	c.Values = vals
	return c
}
