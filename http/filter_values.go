package httpapi

import (
	"slices"
	"strings"

	"github.com/compadre-dev/compadre/store"
)

// The filter_values of a listing: the distinct values found among every
// record matching its filters, each once, in a stable order.

// distinctCreators lists the creators of the records, sorted.
func distinctCreators[T any](records []T, creatorOf func(T) store.Actor) []userInfo {
	out := []userInfo{}
	seen := map[userInfo]bool{}
	for _, rec := range records {
		c := creatorOf(rec)
		u := userInfo{OrgID: c.OrgID, UserID: c.UserID}
		if !seen[u] {
			seen[u] = true
			out = append(out, u)
		}
	}
	slices.SortFunc(out, func(a, b userInfo) int {
		return strings.Compare(a.OrgID+"/"+a.UserID, b.OrgID+"/"+b.UserID)
	})
	return out
}

// distinctStrings lists the strings valuesOf gives for the records,
// sorted.
func distinctStrings[T any](records []T, valuesOf func(T) []string) []string {
	out := []string{}
	seen := map[string]bool{}
	for _, rec := range records {
		for _, v := range valuesOf(rec) {
			if !seen[v] {
				seen[v] = true
				out = append(out, v)
			}
		}
	}
	slices.Sort(out)
	return out
}

// tagKeys lists the keys of tags.
func tagKeys(tags []store.Tag) []string {
	keys := make([]string, len(tags))
	for i, t := range tags {
		keys[i] = t.Key
	}
	return keys
}
