package httpapi

import (
	"net/http"
	"slices"
	"strings"

	a "github.com/compadre-dev/compadre/auth"
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

// simulationListing is one answer of a simulation listing: the records
// matching the filters (all, in order), of which the caller sees none
// without perm, paged by the query; field holds them, turned by out, and
// filterValues describes all of them on the first page.
type simulationListing[T, O any] struct {
	perm         a.Permission
	field        string
	out          func(T) O
	filterValues func([]T) map[string]any
}

func (l simulationListing[T, O]) write(w http.ResponseWriter, r *http.Request, all []T) {
	visible := all
	if !mayRead(r, l.perm) {
		visible = nil
	}
	offset := max(0, queryInt(r, "continuation_token"))
	items, more := page(visible, offset, queryInt(r, "limit"))
	out := make([]O, len(items))
	for i, it := range items {
		out[i] = l.out(it)
	}
	var fv map[string]any
	if offset == 0 {
		fv = l.filterValues(all)
	}
	writeJSON(w, http.StatusOK, map[string]any{l.field: out, "has_more": more,
		"continuation_token": nextToken(offset, len(items), more), "filter_values": fv})
}

// maxSimulationSearchResults is how many records a search returns at most.
const maxSimulationSearchResults = 50

// writeSearch answers a search of simulation records: query (stripped,
// required) is searched for only if the caller holds perm, and at most
// maxSimulationSearchResults are returned in field, turned by out.
func writeSearch[T, O any](w http.ResponseWriter, r *http.Request, perm a.Permission, field string,
	search func(query string) ([]T, error), out func(T) O) error {
	query, err := strippedNonEmpty(queryString(r, "query"), "query", "query")
	if err != nil {
		return err
	}
	found := []T{}
	if mayRead(r, perm) {
		if found, err = search(query); err != nil {
			return err
		}
	}
	items, _ := page(found, 0, maxSimulationSearchResults)
	res := make([]O, len(items))
	for i, it := range items {
		res[i] = out(it)
	}
	writeJSON(w, http.StatusOK, map[string]any{field: res})
	return nil
}
