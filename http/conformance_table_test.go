package httpapi

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"unicode"
)

var updateConformance = flag.Bool("update-conformance", false, "rewrite CONFORMANCE.md from tests/conformance/ and DECISIONS.md")

// conformancePath is the table, at the repository's root.
const conformancePath = "../CONFORMANCE.md"

// TestConformanceTableIsCurrent fails when CONFORMANCE.md differs from what
// the routes table, the served document, the committed evidence and
// DECISIONS.md make of it, so the table cannot be edited by hand; `make
// conformance` (this test with -update-conformance) rewrites it. See
// DECISIONS.md, "How is CONFORMANCE.md made, and why can it not be edited
// by hand?".
func TestConformanceTableIsCurrent(t *testing.T) {
	t.Parallel()
	table, err := conformanceTable()
	if err != nil {
		t.Fatal(err)
	}
	if *updateConformance {
		if err := os.WriteFile(conformancePath, table, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	committed, err := os.ReadFile(conformancePath)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(committed, table) {
		t.Fatal("CONFORMANCE.md differs from what its sources make of it; run make conformance and commit it")
	}
}

// referenceOperation is one line of testdata/reference-operations.txt.
type referenceOperation struct{ id, method, path string }

func loadReferenceOperations() ([]referenceOperation, error) {
	f, err := os.Open("testdata/reference-operations.txt")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var refs []referenceOperation
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fields := strings.Fields(line)
		if len(fields) != 3 {
			return nil, fmt.Errorf("reference-operations.txt: %q", line)
		}
		refs = append(refs, referenceOperation{fields[0], fields[1], fields[2]})
	}
	return refs, sc.Err()
}

// servedAs maps each reference operation the routes table serves, at the
// reference's method and path with parameters compared by position, to
// the name it is served under: the release notes renamed two, and a
// route is where the reference's operation is, whatever it is called.
func servedAs(refs []referenceOperation) map[string]string {
	at := map[string]string{}
	for _, rt := range (&Server{}).routes() {
		at[rt.method+" "+pathShape(rt.path)] = rt.op
	}
	out := map[string]string{}
	for _, ref := range refs {
		if op, ok := at[ref.method+" "+pathShape(ref.path)]; ok {
			out[ref.id] = op
		}
	}
	return out
}

// evidenceSources are the files of evidenceDir, each for a column, with
// the short name a cell gives the run when a column has several.
var evidenceSources = []struct{ file, column, label string }{
	{"fuzzer.json", "fuzzer", ""},
	{"end-to-end.json", "end-to-end", ""},
	{"sdk-scripts.json", "sdk", "scripts"},
	{"sdk-tests.json", "sdk", "SDK tests"},
}

// validatedParts names what of a request to op is checked against the
// served document before its handler runs (see validateRequest): query
// and header parameters, and a JSON body; a body in other media types is
// only bounded in size, and path parameters are the router's and the
// handlers' business.
func validatedParts(doc *apiDocument, op *operation) (string, error) {
	if err := doc.compiled(op); err != nil {
		return "", err
	}
	var parts []string
	for _, in := range []string{"query", "header"} {
		for _, p := range op.params {
			if p.in == in {
				parts = append(parts, in)
				break
			}
		}
	}
	switch {
	case op.hasBody && op.rawBody:
		parts = append(parts, "body: size only")
	case op.hasBody:
		parts = append(parts, "JSON body")
	}
	if len(parts) == 0 {
		return "no body/params", nil
	}
	return strings.Join(parts, ", "), nil
}

// decision is one "## " entry of DECISIONS.md.
type decision struct{ heading, anchor, text string }

// loadDecisions reads DECISIONS.md's entries with the anchors a Markdown
// renderer gives their headings.
func loadDecisions(path string) ([]decision, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var out []decision
	seen := map[string]int{}
	var cur *decision
	for line := range strings.Lines(string(b)) {
		line = strings.TrimSuffix(line, "\n")
		level := len(line) - len(strings.TrimLeft(line, "#"))
		if level > 0 && level <= 6 && strings.HasPrefix(line[level:], " ") {
			heading := strings.TrimSpace(line[level:])
			anchor := headingAnchor(heading)
			// Repeated headings get -1, -2, … in order, as GitHub numbers them.
			if n := seen[anchor]; n > 0 {
				seen[anchor] = n + 1
				anchor += "-" + strconv.Itoa(n)
			} else {
				seen[anchor] = 1
			}
			cur = nil
			if level == 2 {
				out = append(out, decision{heading: heading, anchor: anchor})
				cur = &out[len(out)-1]
			}
			continue
		}
		if cur != nil {
			cur.text += line + "\n"
		}
	}
	return out, nil
}

// headingAnchor is the fragment GitHub links a heading by: lower case,
// letters, digits, marks, underscores, hyphens and spaces kept, spaces
// turned into hyphens.
func headingAnchor(heading string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(heading) {
		switch {
		case r == ' ':
			b.WriteByte('-')
		case r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.IsMark(r):
			b.WriteRune(r)
		}
	}
	return b.String()
}

// namedBy lists the decisions whose heading or text names one of names as
// a whole operationId: create-agent is not named by create-agent-version.
func namedBy(decisions []decision, names ...string) []decision {
	var pats []*regexp.Regexp
	for _, n := range names {
		pats = append(pats, regexp.MustCompile(`(^|[^A-Za-z0-9_-])`+regexp.QuoteMeta(n)+`($|[^A-Za-z0-9_-])`))
	}
	var out []decision
	for _, d := range decisions {
		for _, p := range pats {
			if p.MatchString(d.heading) || p.MatchString(d.text) {
				out = append(out, d)
				break
			}
		}
	}
	return out
}

const conformanceHeader = `# Conformance

<!-- Written by make conformance; TestConformanceTableIsCurrent fails when it is edited by hand. -->

One row for each of the %d operations of the hosted API's reference
(` + "`http/testdata/reference-operations.txt`" + `), saying how Compadre serves it and which
tests reach it. Every cell is derived from the code and from what the test
runs recorded; none is written by hand.

| column | says | from |
|---|---|---|
| Served | the routes table has a route at the reference's method and path (path parameters compared by position); "as ` + "`name`" + `" when it is served under the name the v0.7.0 release notes gave it | ` + "`http/routes.go`" + ` |
| Validated | what of a request is checked against the served OpenAPI document before the handler runs: query and header parameters, a JSON body (422 when they do not fit); "body: size only" for a form or audio body, which the handler parses; "no body/params" when the operation takes path parameters alone, which the router matches and the handler checks | ` + "`embed/openapi.json`" + `, compiled as ` + "`http/validate.go`" + ` does |
| Fuzzer | schemathesis (` + "`make contract`" + `, seed 1, every operation) sent at least one request that the server counted under the operation, whatever its answer. Which of them get a 2xx varies between runs, so that is not recorded | ` + "`tests/conformance/fuzzer.json`" + ` |
| End-to-end | a Go test of ` + "`http/`" + ` (a real server in-process, called over HTTP) had the operation answered: "yes" at least once with a 2xx or 3xx, "errors only" when every answer was a 4xx or 5xx | ` + "`tests/conformance/end-to-end.json`" + ` |
| SDK | the official Python SDK's own client sent it, in the contract suite's SDK scripts ("scripts", ` + "`make contract`" + `) or in the SDK's own integration tests ("SDK tests", ` + "`make sdk`" + `), counted by the server per kind of client: the SDK sends ` + "`python-httpx/…`" + ` as its User-Agent, which nothing else in those runs does, so the scripts' plain HTTP calls do not count. "errors only" as above | ` + "`tests/conformance/sdk-scripts.json`" + `, ` + "`tests/conformance/sdk-tests.json`" + ` |
| Decisions | the entries of DECISIONS.md whose text names the operationId (or its served name): where what Compadre does beyond or apart from the reference is written down. They are found by that name alone: an entry that speaks of the operation in other words is not listed, and a listed one may only mention it | ` + "`DECISIONS.md`" + ` |

Totals: served %d of %d; validated %d (%d take no body or parameters); fuzzer %d; end-to-end %d (%d of them errors only); SDK %d (%d of them errors only); named by a decision %d.

Keeping it current: ` + "`make conformance`" + ` rewrites this file from the
committed evidence. ` + "`COMPADRE_EVIDENCE=update go test ./http/`" + ` rewrites the
end-to-end evidence and this file; ` + "`COMPADRE_EVIDENCE=update make contract sdk`" + `
the fuzzer's and the SDK's (then ` + "`make conformance`" + `); ` + "`make evidence`" + ` does all
of it. Without ` + "`COMPADRE_EVIDENCE=update`" + `, each of those runs fails when what it
reached differs from its committed file.

| Operation | Method and path | Served | Validated | Fuzzer | End-to-end | SDK | Decisions |
|---|---|---|---|---|---|---|---|
`

// conformanceTable makes CONFORMANCE.md.
func conformanceTable() ([]byte, error) {
	refs, err := loadReferenceOperations()
	if err != nil {
		return nil, err
	}
	doc, err := loadAPIDocument()
	if err != nil {
		return nil, err
	}
	decisions, err := loadDecisions("../DECISIONS.md")
	if err != nil {
		return nil, err
	}
	type runs struct{ reached, succeeded map[string]bool }
	found := map[string]runs{}
	for _, src := range evidenceSources {
		e, err := readEvidence(evidenceDir + src.file)
		if err != nil {
			return nil, err
		}
		r := runs{map[string]bool{}, map[string]bool{}}
		for _, op := range e.Reached {
			r.reached[op] = true
		}
		for _, op := range e.Succeeded {
			r.succeeded[op] = true
		}
		found[src.file] = r
	}
	served := servedAs(refs)
	var rows bytes.Buffer
	var nServed, nValidated, nNothing, nFuzzer, nE2E, nE2EErr, nSDK, nSDKErr, nDecided int
	for _, ref := range refs {
		cells := []string{"`" + ref.id + "`", "`" + ref.method + " " + ref.path + "`"}
		op, ok := served[ref.id]
		validated := "—"
		switch {
		case !ok:
			cells = append(cells, "no")
		case op != ref.id:
			cells = append(cells, "as `"+op+"`")
		default:
			cells = append(cells, "yes")
		}
		if ok {
			nServed++
			if validated, err = validatedParts(doc, doc.ops[op]); err != nil {
				return nil, err
			}
			if validated == "no body/params" {
				nNothing++
			} else {
				nValidated++
			}
		}
		cells = append(cells, validated)

		var sdk []string
		sdkReached, sdkSucceeded := false, false
		for _, src := range evidenceSources {
			r := found[src.file]
			switch src.column {
			case "fuzzer":
				cells = append(cells, yesNo(r.reached[ref.id]))
				if r.reached[ref.id] {
					nFuzzer++
				}
			case "end-to-end":
				cells = append(cells, outcome(r.reached[ref.id], r.succeeded[ref.id]))
				if r.reached[ref.id] {
					nE2E++
					if !r.succeeded[ref.id] {
						nE2EErr++
					}
				}
			case "sdk":
				if r.reached[ref.id] {
					label := src.label
					if !r.succeeded[ref.id] {
						label += " (errors only)"
					}
					sdk = append(sdk, label)
					sdkReached = true
					sdkSucceeded = sdkSucceeded || r.succeeded[ref.id]
				}
			}
		}
		switch {
		case len(sdk) == 0:
			cells = append(cells, "no")
		default:
			cells = append(cells, strings.Join(sdk, ", "))
		}
		if sdkReached {
			nSDK++
			if !sdkSucceeded {
				nSDKErr++
			}
		}

		names := []string{ref.id}
		if ok && op != ref.id {
			names = append(names, op)
		}
		var links []string
		for _, d := range namedBy(decisions, names...) {
			links = append(links, "["+strings.ReplaceAll(d.heading, "|", `\|`)+"](DECISIONS.md#"+d.anchor+")")
		}
		if len(links) > 0 {
			nDecided++
		}
		cells = append(cells, strings.Join(links, "<br>"))
		rows.WriteString("| " + strings.Join(cells, " | ") + " |\n")
	}
	var out bytes.Buffer
	fmt.Fprintf(&out, conformanceHeader, len(refs), nServed, len(refs), nValidated, nNothing, nFuzzer, nE2E, nE2EErr,
		nSDK, nSDKErr, nDecided)
	out.Write(rows.Bytes())
	return out.Bytes(), nil
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// outcome is a cell of a column that tells successes from errors.
func outcome(reached, succeeded bool) string {
	switch {
	case succeeded:
		return "yes"
	case reached:
		return "errors only"
	}
	return "no"
}

func TestHeadingAnchor(t *testing.T) {
	t.Parallel()
	tests := []struct{ heading, want string }{
		{"Why one writer connection?", "why-one-writer-connection"},
		{"Why is `http/` package `httpapi` and `embed/` package `assets`?", "why-is-http-package-httpapi-and-embed-package-assets"},
		{`How is "greater privileges than a role" decided?`, "how-is-greater-privileges-than-a-role-decided"},
		{"What does get-prompt-logs answer for a prefix matching more than 1,000 logs, or none?",
			"what-does-get-prompt-logs-answer-for-a-prefix-matching-more-than-1000-logs-or-none"},
		{"Which calls does a version set's model preference steer?", "which-calls-does-a-version-sets-model-preference-steer"},
		{"Why v0.6.0–v0.7.0 and snake_case?", "why-v060v070-and-snake_case"},
	}
	for _, tc := range tests {
		if got := headingAnchor(tc.heading); got != tc.want {
			t.Errorf("%q: got %q, want %q", tc.heading, got, tc.want)
		}
	}
}

func TestDecisionsNamingAnOperation(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := dir + "/DECISIONS.md"
	text := "# Decisions\n\n" +
		"## Why not create-agent?\nNothing else.\n\n" +
		"## What does create-agent-version take?\nA version.\n\n" +
		"## Where do agents go?\nTo `create-agent`, after get-agents.\n\n" +
		"# Part 2\n\ncreate-agent, outside any entry.\n\n" +
		"## Why not create-agent?\nThe same question again.\n"
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	decisions, err := loadDecisions(path)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, d := range namedBy(decisions, "create-agent") {
		got = append(got, d.anchor)
	}
	want := []string{"why-not-create-agent", "where-do-agents-go", "why-not-create-agent-1"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("got %v, want %v", got, want)
	}
	if got := namedBy(decisions, "update-user-info", "get-agents"); len(got) != 1 || got[0].heading != "Where do agents go?" {
		t.Errorf("either of two names: got %v", got)
	}
}

// TestEveryReferenceOperationHasARoute: servedAs finds each of the
// reference's operations in the routes table, so the table's Served
// column is all yes, two under their new names.
func TestEveryReferenceOperationHasARoute(t *testing.T) {
	t.Parallel()
	refs, err := loadReferenceOperations()
	if err != nil {
		t.Fatal(err)
	}
	served := servedAs(refs)
	for _, ref := range refs {
		op, ok := served[ref.id]
		switch {
		case !ok:
			t.Errorf("%s %s %s: no route", ref.id, ref.method, ref.path)
		case op != ref.id && renamedOperations[ref.id] != op:
			t.Errorf("%s is served as %s, which the release notes did not name it", ref.id, op)
		}
	}
}
