package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"
)

// README.md documents every view and column, with its type, in the order
// the views answer them.
func TestSQLViewsMatchREADME(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(readme), "\n## SQL over your organization's data\n")
	if !ok {
		t.Fatal("README.md has no section \"SQL over your organization's data\"")
	}
	section, _, _ = strings.Cut(section, "\n## ")
	var documented []string
	for _, line := range strings.Split(section, "\n") {
		if name, ok := strings.CutPrefix(line, "### `"); ok {
			documented = append(documented, "view "+strings.TrimSuffix(name, "`"))
		}
		if rest, ok := strings.CutPrefix(line, "| `"); ok {
			name, rest, _ := strings.Cut(rest, "` | ")
			typ, _, _ := strings.Cut(rest, " |")
			documented = append(documented, name+" "+typ)
		}
	}
	var defined []string
	for _, v := range sqlViews {
		defined = append(defined, "view "+v.name)
		for _, c := range v.cols {
			defined = append(defined, c.name+" "+c.typ)
		}
	}
	if got, want := strings.Join(documented, "\n"), strings.Join(defined, "\n"); got != want {
		t.Errorf("README.md documents\n%s\n\nthe views are\n%s", got, want)
	}
}

func TestSplitStatement(t *testing.T) {
	tests := []struct {
		query, stmt, rest string
		refused           bool
	}{
		{query: "SELECT 1", stmt: "SELECT 1"},
		{query: "SELECT 1;", stmt: "SELECT 1"},
		{query: "SELECT 1; -- done", stmt: "SELECT 1", rest: " -- done"},
		{query: "SELECT 1; DELETE FROM users", stmt: "SELECT 1", rest: " DELETE FROM users"},
		{query: "SELECT ';' AS a; SELECT 2", stmt: "SELECT ';' AS a", rest: " SELECT 2"},
		{query: `SELECT 1 AS "a;b"`, stmt: `SELECT 1 AS "a;b"`},
		{query: "SELECT 1 -- ;\n; x", stmt: "SELECT 1 -- ;\n", rest: " x"},
		{query: "SELECT 1 /* ; */ ; x", stmt: "SELECT 1 /* ; */ ", rest: " x"},
		{query: "/* c */ -- d\n with x AS (SELECT 1) SELECT * FROM x", stmt: "/* c */ -- d\n with x AS (SELECT 1) SELECT * FROM x"},
		{query: "values (1)", stmt: "values (1)"},
		{query: "SELECT\t1", stmt: "SELECT\t1"},
		{query: "EXPLAIN SELECT 1", refused: true},
		{query: "; SELECT 1", refused: true},
		{query: "-- only a comment", refused: true},
		{query: "/* unterminated SELECT 1", refused: true},
		{query: "PRAGMA query_only = 0", refused: true},
		{query: "VACUUM INTO 'x'", refused: true},
		{query: "SELECTX 1", refused: true},
		{query: "SELECT 1\x00; DELETE FROM users", refused: true},
		{query: strings.Repeat("é", SQLMaxQueryLength+1), refused: true},
	}
	for _, tc := range tests {
		t.Run(tc.query[:min(len(tc.query), 40)], func(t *testing.T) {
			stmt, rest, err := splitStatement(tc.query)
			var refusal *SQLRefusal
			if tc.refused {
				if !errors.As(err, &refusal) {
					t.Fatalf("got %q, %q, %v, want a refusal", stmt, rest, err)
				}
				return
			}
			if err != nil || stmt != tc.stmt || rest != tc.rest {
				t.Errorf("got %q, %q, %v, want %q, %q", stmt, rest, err, tc.stmt, tc.rest)
			}
		})
	}
}

// A connection of the pool cannot write the database or attach another,
// even with query_only turned off: the authorizer is not the only wall.
func TestSQLConnectionsCannotWrite(t *testing.T) {
	s := openTest(t)
	newOrg(t, s, "alpha")
	ctx := context.Background()
	conn, err := s.sql.db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// The connection is left writable to the temporary schema: it must
	// not go back to the pool.
	defer conn.Raw(func(any) error { return driver.ErrBadConn })
	if err := limitConn(conn); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.ExecContext(ctx, "PRAGMA query_only = 0"); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		"CREATE TABLE main.x (a)",
		"DELETE FROM main.users",
		"ATTACH '" + t.TempDir() + "/x.db' AS x",
		"VACUUM",
	} {
		if _, err := conn.ExecContext(ctx, q); err == nil {
			t.Errorf("%s: no error", q)
		}
	}
	var n int
	if err := s.read.QueryRowContext(ctx, "SELECT count(*) FROM users").Scan(&n); err != nil || n != 1 {
		t.Errorf("users: %d, %v", n, err)
	}
}

// Each organization sees its own rows only, through the same connections,
// one after the other.
func TestQuerySQLIsolatesOrganizations(t *testing.T) {
	s := openTest(t)
	for _, org := range []string{"alpha", "beta", "gamma"} {
		newOrg(t, s, org)
	}
	ctx := context.Background()
	for range 3 {
		for _, org := range []string{"alpha", "beta", "gamma"} {
			res, err := s.QuerySQL(ctx, org, "SELECT org_id, email FROM users")
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Rows) != 1 || res.Rows[0][0] != org || res.Rows[0][1] != "admin@"+org+".example" {
				t.Errorf("%s sees %v", org, res.Rows)
			}
		}
	}
	if _, err := s.QuerySQL(ctx, "alpha'; --", "SELECT 1"); err == nil {
		t.Error("an organization ID that cannot be quoted was written into the views")
	}
}

// A query stopped at its deadline is ErrSQLTimeout, and its connection
// goes back to the pool in order.
func TestQuerySQLDeadline(t *testing.T) {
	s := openTest(t)
	newOrg(t, s, "alpha")
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_, err := s.QuerySQL(ctx, "alpha", "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r) SELECT max(n) FROM r")
	if !errors.Is(err, ErrSQLTimeout) {
		t.Fatalf("got %v, want ErrSQLTimeout", err)
	}
	for range sqlConns + 1 {
		if _, err := s.QuerySQL(context.Background(), "alpha", "SELECT count(*) FROM users"); err != nil {
			t.Fatal(err)
		}
	}
}

// BenchmarkQuerySQLCount counts 100,000 messages of one organization in a
// database holding three organizations' messages (300,000 in all).
//
//	go test ./store -run '^$' -bench QuerySQLCount -count 6
func BenchmarkQuerySQLCount(b *testing.B) {
	s := openTest(b)
	ctx := context.Background()
	const perOrg = 100000
	for _, org := range []string{"o1", "o2", "o3"} {
		admin := newOrg(b, s, org)
		err := s.inTx(ctx, func(tx *sql.Tx) error {
			now := formatTime(time.Now())
			conv := NewID()
			if _, err := tx.ExecContext(ctx, `INSERT INTO conversations (id, org_id, user_id, service_id, version_set_name,
				agent_id, agent_version, state_machine_id, state_machine_version, created_at, updated_at)
				VALUES (?, ?, ?, ?, 'release', ?, 1, ?, 1, ?, ?)`, conv, org, admin.ID, NewID(), NewID(), NewID(), now, now); err != nil {
				return err
			}
			st, err := tx.PrepareContext(ctx, `INSERT INTO messages (id, org_id, conversation_id, interaction_id, sender,
				message, format, message_type, created_at) VALUES (?, ?, ?, ?, 'A', ?, 'text', 'user-message', ?)`)
			if err != nil {
				return err
			}
			defer st.Close()
			for i := range perOrg {
				if _, err := st.ExecContext(ctx, NewID(), org, conv, NewID(), fmt.Sprintf("message %d", i), now); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	for b.Loop() {
		res, err := s.QuerySQL(ctx, "o2", "SELECT count(*) FROM messages")
		if err != nil {
			b.Fatal(err)
		}
		if n := res.Rows[0][0]; n != int64(perOrg) {
			b.Fatalf("counted %v", n)
		}
	}
}
