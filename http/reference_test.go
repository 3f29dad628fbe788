package httpapi

import (
	"regexp"
	"testing"
)

// renamedOperations are the reference's operations the v0.6.0–v0.7.0
// release notes renamed (the notes win over the reference document): the
// served document names them as the notes do.
var renamedOperations = map[string]string{
	"create-invited-user": "create-user",
	"update-user-info":    "modify-user",
}

// TestEveryReferenceOperationIsServed holds the served document to the
// reference's operations (testdata/reference-operations.txt): each is
// documented, and so served (TestDocumentMatchesRoutes), at the
// reference's method and path.
func TestEveryReferenceOperationIsServed(t *testing.T) {
	t.Parallel()
	doc, err := loadAPIDocument()
	if err != nil {
		t.Fatal(err)
	}
	ref, err := loadReferenceOperations()
	if err != nil {
		t.Fatal(err)
	}
	served := 0
	for _, r := range ref {
		id := r.id
		if to, ok := renamedOperations[id]; ok {
			id = to
		}
		op, ok := doc.ops[id]
		switch {
		case !ok:
			t.Errorf("%s %s %s: not in the served document", r.id, r.method, r.path)
		case op.method != r.method || pathShape(op.path) != pathShape(r.path):
			t.Errorf("%s: served as %s %s, the reference has %s %s", id, op.method, op.path, r.method, r.path)
		default:
			served++
		}
	}
	if len(ref) != 116 {
		t.Errorf("the reference lists %d operations, want 116", len(ref))
	}
	t.Logf("%d of the reference's %d operations served", served, len(ref))
}

var pathParam = regexp.MustCompile(`\{[^}]*\}`)

// pathShape is a path with its parameters unnamed: a client fills them in
// by position, so their names are the document's business alone.
func pathShape(path string) string { return pathParam.ReplaceAllString(path, "{}") }
