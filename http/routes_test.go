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

// TestEveryOperationCompiles compiles every operation's schemas, which a
// server does only when a request first needs them: a schema that does not
// compile fails here rather than in a client's request.
func TestEveryOperationCompiles(t *testing.T) {
	t.Parallel()
	doc, err := loadAPIDocument()
	if err != nil {
		t.Fatal(err)
	}
	params, bodies := 0, 0
	for id, op := range doc.ops {
		if err := doc.compiled(op); err != nil {
			t.Errorf("%s: %v", id, err)
			continue
		}
		if op.hasBody != (op.body != nil) {
			t.Errorf("%s: has a body %v, compiled one %v", id, op.hasBody, op.body != nil)
		}
		for _, p := range op.params {
			if p.schema == nil {
				t.Errorf("%s: parameter %s not compiled", id, p.name)
			}
		}
		params += len(op.params)
		if op.hasBody {
			bodies++
		}
	}
	if bodies == 0 || params == 0 {
		t.Errorf("compiled %d parameter and %d body schemas, want some of each", bodies, params)
	}
}
