package httpapi

import (
	"bufio"
	"os"
	"regexp"
	"strings"
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
	f, err := os.Open("testdata/reference-operations.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	total, served := 0, 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fields := strings.Fields(line)
		if len(fields) != 3 {
			t.Fatalf("reference-operations.txt: %q", line)
		}
		total++
		id, method, path := fields[0], fields[1], fields[2]
		if to, ok := renamedOperations[id]; ok {
			id = to
		}
		op, ok := doc.ops[id]
		switch {
		case !ok:
			t.Errorf("%s %s %s: not in the served document", fields[0], method, path)
		case op.method != method || pathShape(op.path) != pathShape(path):
			t.Errorf("%s: served as %s %s, the reference has %s %s", id, op.method, op.path, method, path)
		default:
			served++
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if total != 116 {
		t.Errorf("the reference lists %d operations, want 116", total)
	}
	t.Logf("%d of the reference's %d operations served", served, total)
}

var pathParam = regexp.MustCompile(`\{[^}]*\}`)

// pathShape is a path with its parameters unnamed: a client fills them in
// by position, so their names are the document's business alone.
func pathShape(path string) string { return pathParam.ReplaceAllString(path, "{}") }
