package httpapi

import (
	"maps"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/compadre-dev/compadre/store"
)

// Tags: the free-form key-value labels of tools, services, conversations and grants.

// tagsIn turns the API's tag map into tags sorted by key.
func tagsIn(m map[string]*string) []store.Tag {
	tags := make([]store.Tag, 0, len(m))
	for k, v := range m {
		tags = append(tags, store.Tag{Key: k, Value: v})
	}
	sort.Slice(tags, func(i, j int) bool { return tags[i].Key < tags[j].Key })
	return tags
}

// tagValues lists the distinct tags of the records as key:value filters
// would name them (a null value as key:).
func tagValues[T any](records []T, tagsOf func(T) []store.Tag) []string {
	seen := map[string]bool{}
	out := []string{}
	for _, rec := range records {
		for _, tag := range tagsOf(rec) {
			v := tag.Key + ":"
			if tag.Value != nil {
				v += *tag.Value
			}
			if !seen[v] {
				seen[v] = true
				out = append(out, v)
			}
		}
	}
	sort.Strings(out)
	return out
}

// strippedTags trims the keys and values of a tag map, as the reference's
// stripped strings are, and refuses what trimming leaves empty (422) or
// makes collide (400). loc is where the map sits in the request.
func strippedTags(in map[string]*string, loc ...any) (map[string]*string, error) {
	out := make(map[string]*string, len(in))
	for _, k := range slices.Sorted(maps.Keys(in)) {
		at := append(slices.Clip(loc), k)
		key := strings.TrimSpace(k)
		if key == "" {
			return nil, validationFailed(fieldError{Loc: at, Msg: "A tag key must not be only whitespace", Type: "value_error", Input: k})
		}
		if _, dup := out[key]; dup {
			// Each key is valid alone; only together do they collide, a
			// rule of the request rather than of its shape, as with a
			// variable named twice.
			return nil, badRequest("Tag key " + strconv.Quote(key) + " is given more than once (keys are compared trimmed).")
		}
		v := in[k]
		if v != nil {
			t, err := strippedNonEmpty(*v, at...)
			if err != nil {
				return nil, err
			}
			v = &t
		}
		out[key] = v
	}
	return out, nil
}
