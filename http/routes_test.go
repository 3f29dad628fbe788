package httpapi

import (
	"sort"
	"testing"
)

// TestDocumentMatchesRoutes fails when a served route is missing from the
// OpenAPI document, or the document names an operation that is not served.
func TestDocumentMatchesRoutes(t *testing.T) {
	t.Parallel()
	doc, err := loadAPIDocument()
	if err != nil {
		t.Fatal(err)
	}
	served := map[string]string{}
	for _, rt := range (&Server{}).routes() {
		served[rt.op] = rt.method + " " + rt.path
	}
	documented := map[string]string{}
	for id, op := range doc.ops {
		documented[id] = op.method + " " + op.path
	}
	var problems []string
	for id, where := range served {
		if documented[id] != where {
			problems = append(problems, "served but not documented as such: "+id+" "+where+" (document: "+documented[id]+")")
		}
	}
	for id, where := range documented {
		if _, ok := served[id]; !ok {
			problems = append(problems, "documented but not served: "+id+" "+where)
		}
	}
	sort.Strings(problems)
	for _, p := range problems {
		t.Error(p)
	}
}
