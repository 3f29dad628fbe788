package tools

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// TestCompileSchemaReadsNoFiles: an input schema that refers outside
// itself is refused rather than read from the server's disk.
func TestCompileSchemaReadsNoFiles(t *testing.T) {
	outside := filepath.Join(t.TempDir(), "outside.json")
	if err := os.WriteFile(outside, []byte(`{"type": "string"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, ref := range []string{"file://" + outside, outside} {
		raw, _ := json.Marshal(map[string]any{"type": "object", "properties": map[string]any{"x": map[string]any{"$ref": ref}}})
		if _, err := compileSchema(raw); err == nil {
			t.Errorf("a schema referring to %s compiled", ref)
		}
	}
	if _, err := compileSchema(json.RawMessage(`{"type": "object", "$defs": {"s": {"type": "string"}},
		"properties": {"x": {"$ref": "#/$defs/s"}}}`)); err != nil {
		t.Errorf("a schema referring within itself: %v", err)
	}
}
