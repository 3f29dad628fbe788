package assets

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"strings"
	"testing"
)

func TestScaffoldArchive(t *testing.T) {
	a, err := buildScaffold()
	if err != nil {
		t.Fatal(err)
	}
	b, err := buildScaffold()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a, b) {
		t.Error("two builds of the scaffold archive differ")
	}
	zr, err := gzip.NewReader(bytes.NewReader(a))
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(zr)
	var names []string
	files := map[string]string{}
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, h.Name)
		body, _ := io.ReadAll(tr)
		files[h.Name] = string(body)
	}
	want := []string{
		"amigo_tool_scaffold/", "amigo_tool_scaffold/.gitignore", "amigo_tool_scaffold/README.md",
		"amigo_tool_scaffold/amigo_tool/", "amigo_tool_scaffold/amigo_tool/__init__.py",
		"amigo_tool_scaffold/amigo_tool/main.py", "amigo_tool_scaffold/input_schema.json",
		"amigo_tool_scaffold/pyproject.toml", "amigo_tool_scaffold/tests/", "amigo_tool_scaffold/tests/test_main.py",
	}
	if strings.Join(names, "\n") != strings.Join(want, "\n") {
		t.Errorf("archive holds\n%s\nwant\n%s", strings.Join(names, "\n"), strings.Join(want, "\n"))
	}
	for _, s := range []string{`requires-python = ">=3.14"`, `target-version = "py314"`, `entrypoint = "amigo_tool.main:run"`} {
		if !strings.Contains(files["amigo_tool_scaffold/pyproject.toml"], s) {
			t.Errorf("pyproject.toml lacks %s", s)
		}
	}
	if h := ScaffoldHash(); len(h) != 40 || h != ScaffoldHash() {
		t.Errorf("scaffold hash %q", h)
	}
}
