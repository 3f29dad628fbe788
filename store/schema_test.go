package store

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestSchemaFileMatchesMigrations applies schema.sql to one database and the
// migrations to another and compares what SQLite says each one contains.
func TestSchemaFileMatchesMigrations(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()

	migrated, err := Open(ctx, filepath.Join(dir, "migrated.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer migrated.Close()

	schema, err := os.ReadFile(filepath.Join("..", "schema.sql"))
	if err != nil {
		t.Fatal(err)
	}
	plain, err := sql.Open("sqlite", filepath.Join(dir, "plain.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	if _, err := plain.ExecContext(ctx, string(schema)); err != nil {
		t.Fatalf("schema.sql does not apply: %v", err)
	}

	got, want := dumpSchema(t, plain), dumpSchema(t, migrated.read)
	if got != want {
		t.Errorf("schema.sql differs from the migrations.\nschema.sql:\n%s\nmigrations:\n%s", got, want)
	}
}

var space = regexp.MustCompile(`\s+`)

// spaceBefore is space before a comma or closing parenthesis, which
// ALTER TABLE ... ADD COLUMN leaves where the table's text had a line
// break; it carries no meaning.
var spaceBefore = regexp.MustCompile(`\s+([,)])`)

func dumpSchema(t *testing.T, db *sql.DB) string {
	t.Helper()
	rows, err := db.Query(`SELECT type, name, COALESCE(sql, '') FROM sqlite_master
		WHERE name NOT LIKE 'sqlite_%' AND name NOT LIKE 'goose%' ORDER BY type, name`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var b strings.Builder
	for rows.Next() {
		var typ, name, stmt string
		if err := rows.Scan(&typ, &name, &stmt); err != nil {
			t.Fatal(err)
		}
		b.WriteString(typ + " " + name + ": " + strings.TrimSpace(spaceBefore.ReplaceAllString(space.ReplaceAllString(stmt, " "), "$1")) + "\n")
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return b.String()
}
