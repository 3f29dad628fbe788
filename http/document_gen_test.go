package httpapi

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"testing"

	"sigs.k8s.io/yaml"

	assets "github.com/compadre-dev/compadre/embed"
)

var updateDocument = flag.Bool("update-document", false, "rewrite embed/openapi.json from the YAML parts")

// The served document is written by hand as YAML parts and embedded as the
// JSON they merge into, so a start parses JSON (milliseconds) rather than
// YAML (tens of milliseconds). This test keeps the two equal; after
// editing a part, run `make openapi` (go test ./http -run
// TestServedDocumentIsCurrent -update-document). See DECISIONS.md, "Why is
// the served document embedded as JSON?".
func TestServedDocumentIsCurrent(t *testing.T) {
	merged, err := mergedDocument(assets.OpenAPI, assets.OpenAPIParts)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := json.Indent(&out, merged, "", " "); err != nil {
		t.Fatal(err)
	}
	out.WriteByte('\n')
	if *updateDocument {
		if err := os.WriteFile("../embed/openapi.json", out.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if !bytes.Equal(out.Bytes(), assets.OpenAPIJSON) {
		t.Fatal("embed/openapi.json differs from the YAML parts it is made from; run make openapi")
	}
}

// mergedDocument returns base with the paths and components of every
// openapi/*.yaml file in parts added, as JSON. A path or component defined
// twice is an error: the parts are disjoint groups of operations.
func mergedDocument(base []byte, parts fs.FS) ([]byte, error) {
	var doc map[string]any
	if err := yaml.Unmarshal(base, &doc); err != nil {
		return nil, err
	}
	names, err := fs.Glob(parts, "openapi/*.yaml")
	if err != nil {
		return nil, err
	}
	for _, name := range names {
		b, err := fs.ReadFile(parts, name)
		if err != nil {
			return nil, err
		}
		var part map[string]any
		if err := yaml.Unmarshal(b, &part); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		if err := mergeSection(doc, part, name, "paths"); err != nil {
			return nil, err
		}
		comps, _ := part["components"].(map[string]any)
		for kind, defs := range comps {
			into, _ := doc["components"].(map[string]any)
			if into == nil {
				return nil, fmt.Errorf("%s: the base document has no components", name)
			}
			if err := mergeSection(into, map[string]any{kind: defs}, name, kind); err != nil {
				return nil, err
			}
		}
	}
	return json.Marshal(doc)
}

// mergeSection adds the entries of part[key] to doc[key], refusing any
// entry doc already has.
func mergeSection(doc, part map[string]any, file, key string) error {
	add, _ := part[key].(map[string]any)
	if len(add) == 0 {
		return nil
	}
	into, _ := doc[key].(map[string]any)
	if into == nil {
		into = map[string]any{}
		doc[key] = into
	}
	for k, v := range add {
		if _, dup := into[k]; dup {
			return fmt.Errorf("%s: %s %q is already defined", file, key, k)
		}
		into[k] = v
	}
	return nil
}
