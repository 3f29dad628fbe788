package main

import (
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/compadre-dev/compadre"

// importRules says, per package folder, which of the project's packages it
// may import, and which outside imports it must not use. Dependencies point
// toward main only. See STYLE.md, "Layout and allowed imports".
var importRules = map[string]struct {
	project   []string
	forbidden []string
}{
	"store":        {},
	"clock":        {},
	"wasmrt":       {forbidden: []string{"net/http", "database/sql"}},
	"embed":        {},
	"auth":         {project: []string{"store"}},
	"tools":        {project: []string{"store", "auth", "wasmrt", "pep440"}, forbidden: []string{"net/http", "database/sql"}},
	"http":         {project: []string{"store", "auth", "wasmrt", "embed", "tools", "ssml", "config", "pep440", "engine", "llm", "voice", "simulate", "webhook", "postprocess", "mail", "clock"}, forbidden: []string{"database/sql", "github.com/tetratelabs/wazero"}},
	"app":          {project: []string{"store", "auth", "http", "wasmrt", "embed", "tools", "llm", "voice", "webhook", "mail", "clock"}},
	"compadretest": {project: []string{"app", "http", "store", "llm", "tools", "voice", "webhook", "mail", "clock"}},
	"ssml":         {},
	"pep440":       {forbidden: []string{"net/http", "database/sql"}},
	"config":       {project: []string{"pep440", "ssml"}, forbidden: []string{"net/http", "database/sql"}},
	"llm":          {forbidden: []string{"database/sql"}},
	"engine":       {project: []string{"store", "config", "llm", "tools", "pep440", "voice"}, forbidden: []string{"net/http", "database/sql"}},
	"simulate":     {project: []string{"store", "config", "llm", "tools", "engine", "clock"}, forbidden: []string{"net/http", "database/sql"}},
	"voice":        {forbidden: []string{"database/sql"}},
	"webhook":      {project: []string{"store", "auth", "clock", "outbox"}, forbidden: []string{"database/sql"}},
	"mail":         {project: []string{"store", "auth", "clock", "outbox"}, forbidden: []string{"database/sql", "net/http"}},
	"outbox":       {project: []string{"clock"}, forbidden: []string{"database/sql", "net/http"}},
	"postprocess":  {project: []string{"store", "llm", "engine", "config", "tools", "pep440", "voice", "clock"}, forbidden: []string{"net/http", "database/sql"}},
}

// TestEveryPackageHasARule fails for a package folder the import rules do
// not list, so a new package cannot arrive without its place in the
// dependency order being decided.
func TestEveryPackageHasARule(t *testing.T) {
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if path != "." && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata" || d.Name() == "bin") {
				return filepath.SkipDir
			}
			return nil
		}
		dir := filepath.Dir(path)
		if dir == "." || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		if _, ok := importRules[filepath.ToSlash(dir)]; !ok {
			t.Errorf("package folder %s/ has no import rule; add it to importRules", dir)
			return filepath.SkipDir
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestImportRules(t *testing.T) {
	for dir, rule := range importRules {
		files, _ := filepath.Glob(filepath.Join(dir, "*.go"))
		for _, f := range files {
			if strings.HasSuffix(f, "_test.go") {
				continue
			}
			src, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			parsed, err := parser.ParseFile(token.NewFileSet(), f, src, parser.ImportsOnly)
			if err != nil {
				t.Fatal(err)
			}
			for _, imp := range parsed.Imports {
				path, _ := strconv.Unquote(imp.Path.Value)
				if rel, ok := strings.CutPrefix(path, module+"/"); ok {
					allowed := false
					for _, p := range rule.project {
						allowed = allowed || rel == p
					}
					if !allowed {
						t.Errorf("%s imports %s, which %s/ may not", f, path, dir)
					}
				}
				for _, bad := range rule.forbidden {
					if path == bad || strings.HasPrefix(path, bad+"/") {
						t.Errorf("%s imports %s, which %s/ may not", f, path, dir)
					}
				}
			}
		}
	}
}
