package httpapi_test

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	_ "modernc.org/sqlite" // the test reads and seeds the server's database directly

	"github.com/compadre-dev/compadre/app"
	"github.com/compadre-dev/compadre/auth"
	"github.com/compadre-dev/compadre/compadretest"
)

// sqlQuery sends query to submit-sql-query.
func (c *client) sqlQuery(query string) (int, map[string]any) {
	c.t.Helper()
	return c.do("POST", "/admin/sql_query", map[string]any{"sql_query": query, "async_query": false})
}

// openServerDB opens the server's database beside the server, to seed
// what the API cannot make quickly and to see what a query changed.
func openServerDB(t testing.TB, srv *compadretest.Server) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(srv.DataDir, app.DatabaseFile)+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	t.Cleanup(func() { db.Close() })
	return db
}

// storedTables are the server's tables, without SQLite's own, the
// migrations' record and the full-text indexes (virtual tables and their
// shadows).
func storedTables(t testing.TB, db *sql.DB) []string {
	t.Helper()
	rows, err := db.Query(`SELECT name FROM pragma_table_list WHERE schema = 'main' AND type = 'table'
		AND name NOT LIKE 'sqlite_%' AND name <> 'goose_db_version' ORDER BY name`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var names []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
		names = append(names, n)
	}
	return names
}

// seedEveryTable writes one row of org into every stored table but the
// organizations' and the settings, straight into the database: every text
// is filler (valid JSON, so the views' JSON functions read it), every
// organization column org, every number 1 and every blob filler's bytes.
// Rows of one organization refer to each other, since their IDs are all
// filler.
func seedEveryTable(t testing.TB, db *sql.DB, org, filler string) {
	t.Helper()
	for _, table := range storedTables(t, db) {
		if table == "organizations" || table == "settings" {
			continue
		}
		rows, err := db.Query(`SELECT name, type FROM pragma_table_info(?)`, table)
		if err != nil {
			t.Fatal(err)
		}
		var cols, marks []string
		var args []any
		for rows.Next() {
			var name, typ string
			if err := rows.Scan(&name, &typ); err != nil {
				t.Fatal(err)
			}
			cols, marks = append(cols, `"`+name+`"`), append(marks, "?")
			switch {
			case strings.HasSuffix(name, "org_id"):
				args = append(args, org)
			case typ == "INTEGER":
				args = append(args, 1)
			case typ == "BLOB":
				args = append(args, []byte(filler))
			default:
				args = append(args, filler)
			}
		}
		rows.Close()
		q := fmt.Sprintf(`INSERT INTO "%s" (%s) VALUES (%s)`, table, strings.Join(cols, ", "), strings.Join(marks, ", "))
		if _, err := db.Exec(q, args...); err != nil {
			t.Fatalf("seed %s: %v", table, err)
		}
	}
}

// fingerprint is everything a query could change: the schema and every
// table's row count.
func fingerprint(t testing.TB, db *sql.DB) string {
	t.Helper()
	var b strings.Builder
	rows, err := db.Query(`SELECT type, name, coalesce(sql, '') FROM sqlite_master ORDER BY name`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var typ, name, def string
		if err := rows.Scan(&typ, &name, &def); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "%s %s %s\n", typ, name, def)
	}
	rows.Close()
	for _, table := range storedTables(t, db) {
		var n int
		if err := db.QueryRow(`SELECT count(*) FROM "` + table + `"`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "%s %d\n", table, n)
	}
	return b.String()
}

// sqlAttackServer is a server whose organization alpha and a second
// organization, beta, each hold a row in every table.
func sqlAttackServer(t *testing.T, opts ...compadretest.Option) (*compadretest.Server, *client, *sql.DB) {
	t.Helper()
	srv, c := newTestServer(t, append(opts, compadretest.WithOrganization("alpha"))...)
	status, body := c.createOrg("beta")
	mustStatus(t, "create beta", status, http.StatusCreated, body)
	db := openServerDB(t, srv)
	seedEveryTable(t, db, "alpha", `["alpha row"]`)
	seedEveryTable(t, db, "beta", `{"beta": "row"}`)
	return srv, c, db
}

// Every statement that is not a read of the views is refused with 400 and
// changes nothing: no row, no schema, no file.
func TestSQLQueryRefusesAttacks(t *testing.T) {
	t.Parallel()
	srv, c, db := sqlAttackServer(t)
	outside := filepath.Join(srv.DataDir, "outside.db")
	tests := []struct {
		name, query string
		// detail is part of the 400's detail.
		detail string
	}{
		{"insert", "INSERT INTO users (id) VALUES ('x')", "only SELECT statements may run"},
		{"update", "UPDATE users SET email = 'x'", "only SELECT statements may run"},
		{"delete", "DELETE FROM users", "only SELECT statements may run"},
		{"replace", "REPLACE INTO users (id) VALUES ('x')", "only SELECT statements may run"},
		{"upsert", "INSERT INTO main.roles (id) VALUES ('x') ON CONFLICT DO UPDATE SET name = 'y'", "only SELECT statements may run"},
		{"create table", "CREATE TABLE x (a)", "only SELECT statements may run"},
		{"create view", "CREATE VIEW x AS SELECT 1", "only SELECT statements may run"},
		{"create trigger", "CREATE TRIGGER x AFTER INSERT ON main.users BEGIN DELETE FROM main.users; END", "only SELECT statements may run"},
		{"create temp table", "CREATE TEMP TABLE x (a)", "only SELECT statements may run"},
		{"drop", "DROP TABLE main.users", "only SELECT statements may run"},
		{"drop view", "DROP VIEW users", "only SELECT statements may run"},
		{"alter", "ALTER TABLE main.users ADD COLUMN x", "only SELECT statements may run"},
		{"attach", "ATTACH '" + outside + "' AS x", "only SELECT statements may run"},
		{"detach", "DETACH temp", "only SELECT statements may run"},
		{"writable pragma", "PRAGMA query_only = 0", "only SELECT statements may run"},
		{"reading pragma", "PRAGMA table_info(api_keys)", "only SELECT statements may run"},
		{"vacuum into", "VACUUM INTO '" + outside + "'", "only SELECT statements may run"},
		{"reindex", "REINDEX", "only SELECT statements may run"},
		{"analyze", "ANALYZE", "only SELECT statements may run"},
		{"begin", "BEGIN", "only SELECT statements may run"},
		{"commit", "COMMIT", "only SELECT statements may run"},
		{"savepoint", "SAVEPOINT a", "only SELECT statements may run"},
		{"explain", "EXPLAIN SELECT 1", "only SELECT statements may run"},
		{"load_extension", "SELECT load_extension('/tmp/x.so')", "no such function: load_extension"},
		{"readfile", "SELECT readfile('/etc/passwd')", "no such function: readfile"},
		{"writefile", "SELECT writefile('" + outside + "', 'x')", "no such function: writefile"},
		{"connection state", "SELECT last_insert_rowid()", "no such function: last_insert_rowid"},
		{"compile options", "SELECT sqlite_compileoption_get(0)", "no such function: sqlite_compileoption_get"},
		{"second statement", "SELECT 1; DELETE FROM users", "only one statement may run"},
		{"second read", "SELECT 1; SELECT 2", "only one statement may run"},
		{"second statement after a comment", "SELECT 1; /* x */ DROP TABLE main.users", "only one statement may run"},
		{"write in a with clause", "WITH x AS (DELETE FROM users RETURNING *) SELECT * FROM x", "syntax error"},
		{"with then delete", "WITH x AS (SELECT 1) DELETE FROM main.users", "DELETE is refused"},
		{"with then insert", "WITH x AS (SELECT 1) INSERT INTO main.api_keys (id) SELECT * FROM x", "INSERT is refused"},
		{"with then update", "WITH x AS (SELECT 1) UPDATE main.users SET email = 'x'", "UPDATE is refused"},
		{"base table by its schema", "SELECT * FROM main.users", "no such table: main.users"},
		{"base table counted", "SELECT count(*) FROM main.conversations", "no such table: main.conversations"},
		{"hidden table", "SELECT secret_hash FROM api_keys", "no such table: main.api_keys"},
		{"hidden table counted", "SELECT count(*) FROM API_KEYS", "no such table: api_keys"},
		{"hidden table counted by its schema", "SELECT count(*) FROM Main.Api_Keys", "no such table: main.api_keys"},
		{"schema table counted", "SELECT count(*) FROM sqlite_master", "no such table: sqlite_master"},
		{"pages counted", "SELECT count(*) FROM dbstat", "no such table: dbstat"},
		{"columns counted", "SELECT count(*) FROM pragma_table_info('api_keys')", "no such table: pragma_table_info"},
		{"full-text index counted", "SELECT count(*) FROM tool_invocations_fts", "no such table"},
		{"hidden table in a join", "SELECT * FROM users NATURAL JOIN api_keys", "no such table: main.api_keys"},
		{"hidden table in a subquery", "SELECT (SELECT count(*) FROM api_keys)", "no such table"},
		{"with clause named like a view", "WITH users AS (SELECT id, org_id, email FROM main.users) SELECT * FROM users", "no such table: main.users"},
		{"with clause reading a secret", "WITH conversations AS (SELECT * FROM main.webhook_destinations) SELECT * FROM conversations", "no such table: main.webhook_destinations"},
		{"sqlite_master", "SELECT sql FROM sqlite_master", "no such table: main.sqlite_master"},
		{"sqlite_schema", "SELECT sql FROM sqlite_schema", "no such table"},
		{"sqlite_temp_master", "SELECT sql FROM sqlite_temp_master", "no such table"},
		{"temp schema", "SELECT sql FROM temp.sqlite_master", "no such table"},
		{"pragma function", "SELECT * FROM pragma_table_info('api_keys')", "no such table"},
		{"pragma function of the connection", "SELECT * FROM pragma_database_list", "no such table"},
		{"page reader", "SELECT * FROM sqlite_dbpage", "no such table"},
		{"space reader", "SELECT * FROM dbstat", "no such table"},
		{"prompt logs", "SELECT prompt FROM prompt_logs", "no such table"},
		{"tool sources", "SELECT content FROM tool_version_files", "no such table"},
		{"variables", "SELECT value FROM tool_envvars", "no such table"},
		{"audio", "SELECT data FROM blobs", "no such table"},
		{"a secret column", "SELECT secret FROM webhook_destinations", "no such column: secret"},
		{"a sealed column", "SELECT sensitive_user_variables FROM simulation_persona_versions", "no such column"},
		{"huge blob", "SELECT randomblob(1e9)", "string or blob too big"},
		{"huge zeroblob", "SELECT length(zeroblob(1e9))", "string or blob too big"},
		{"huge text", "SELECT printf('%.*c', 1000000000, 'x')", "string or blob too big"},
		{"syntax error", "SELECT * FORM users", "near \"FORM\": syntax error"},
		{"unknown table", "SELECT * FROM nothing_here", "no such table: nothing_here"},
		{"NUL character", "SELECT 1\x00; DELETE FROM users", "NUL"},
	}
	before := fingerprint(t, db)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, body := c.sqlQuery(tc.query)
			mustStatus(t, tc.query, status, http.StatusBadRequest, body)
			if !strings.Contains(detail(body), tc.detail) {
				t.Errorf("detail %q, want it to contain %q", detail(body), tc.detail)
			}
			if after := fingerprint(t, db); after != before {
				t.Errorf("the database changed:\n%s\nwant\n%s", after, before)
			}
			if _, err := os.Stat(outside); !os.IsNotExist(err) {
				t.Errorf("%s: stat: %v, want no such file", outside, err)
			}
		})
	}
	// The connections the attacks used still answer.
	status, body := c.sqlQuery("SELECT count(*) AS n FROM users")
	mustStatus(t, "after the attacks", status, http.StatusOK, body)
}

// Each view shows the organization's rows, never another's, and no
// secret, hash, sealed value or key, whatever is stored beside them.
func TestSQLQueryViewsShowOnlyTheOrganization(t *testing.T) {
	t.Parallel()
	srv, c, db := sqlAttackServer(t)
	status, body := c.do("POST", "/organization/api_key/", map[string]any{"name": "k", "duration": "P30D", "role_name": "DefaultUserRole"})
	mustStatus(t, "create key", status, http.StatusCreated, body)
	apiKey := body["api_key"].(string)
	_, hookSecret := c.hookCreate(t, "http://127.0.0.1:9/hook", 1)
	// The secrets of alpha's seeded rows, each marked.
	for _, q := range []string{
		`UPDATE api_keys SET secret_hash = 'MARK-hash' WHERE org_id = 'alpha'`,
		`UPDATE webhook_destinations SET secret = CAST('MARK-secret' AS BLOB), previous_secret = CAST('MARK-previous' AS BLOB) WHERE org_id = 'alpha'`,
		`UPDATE tool_envvars SET value = CAST('MARK-variable' AS BLOB)`,
		`UPDATE user_variables SET value = CAST('MARK-user-variable' AS BLOB)`,
		`UPDATE simulation_persona_versions SET sensitive_user_variables = '{"k": "MARK-sensitive"}' WHERE org_id = 'alpha'`,
		`UPDATE prompt_logs SET prompt = 'MARK-prompt', completion = 'MARK-completion' WHERE org_id = 'alpha'`,
		`UPDATE blobs SET data = CAST('MARK-audio' AS BLOB) WHERE org_id = 'alpha'`,
		`UPDATE conversations SET engine_state = '{"m": "MARK-engine"}' WHERE org_id = 'alpha'`,
		`INSERT INTO tool_version_files (version_id, path, content) VALUES ('["alpha row"]', 'marked', CAST('MARK-source' AS BLOB))`,
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	views := sqlViewNames(t, srv)
	if len(views) < 20 {
		t.Fatalf("README lists %d views, want every one", len(views))
	}
	for _, view := range views {
		t.Run(view, func(t *testing.T) {
			status, raw := c.raw("POST", "/v1/alpha/admin/sql_query", map[string]any{"sql_query": "SELECT * FROM " + view,
				"async_query": false}, map[string]string{"Authorization": "Bearer " + c.token})
			if status != http.StatusOK {
				t.Fatalf("status %d: %s", status, raw)
			}
			for _, secret := range []string{"MARK-", apiKey, hookSecret, "beta"} {
				if strings.Contains(string(raw), secret) {
					t.Errorf("the answer shows %q: %s", secret, raw)
				}
			}
			var res struct {
				Result  [][]any          `json:"result"`
				Columns []map[string]any `json:"columns"`
			}
			if err := json.Unmarshal(raw, &res); err != nil {
				t.Fatal(err)
			}
			org := slices.IndexFunc(res.Columns, func(c map[string]any) bool { return c["name"] == "org_id" })
			if org < 0 {
				t.Fatalf("no org_id column in %v", res.Columns)
			}
			if len(res.Result) == 0 {
				t.Fatal("no row, want alpha's")
			}
			for _, row := range res.Result {
				if row[org] != "alpha" {
					t.Errorf("a row of organization %v", row[org])
				}
			}
			for _, col := range res.Columns {
				name := col["name"].(string)
				if strings.Contains(name, "secret") && !strings.HasSuffix(name, "envvars") && name != "secret_generated_at" ||
					strings.Contains(name, "hash") && name != "amigo_scaffold_commit_hash" && name != "tool_commit_hash" ||
					strings.Contains(name, "sensitive_") && !strings.HasPrefix(name, "nonsensitive_") {
					t.Errorf("column %s", name)
				}
			}
			// Beta's row is there, and out of sight.
			status, body := c.sqlQuery("SELECT count(*) AS n FROM " + view + " WHERE org_id <> 'alpha'")
			mustStatus(t, "other organizations' rows", status, http.StatusOK, body)
			if n := body["result"].([]any)[0].([]any)[0]; n != float64(0) {
				t.Errorf("%v rows of other organizations", n)
			}
		})
	}
	// Beta's rows are stored: the views hide them.
	var n int
	if err := db.QueryRow(`SELECT count(*) FROM users WHERE org_id = 'beta'`).Scan(&n); err != nil || n == 0 {
		t.Fatalf("beta's users: %d, %v", n, err)
	}
}

// sqlViewNames are the views README.md documents.
func sqlViewNames(t testing.TB, _ *compadretest.Server) []string {
	t.Helper()
	readme, err := os.ReadFile(filepath.Join("..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, section, _ := strings.Cut(string(readme), "\n## SQL over your organization's data\n")
	section, _, _ = strings.Cut(section, "\n## ")
	var names []string
	for _, line := range strings.Split(section, "\n") {
		if name, ok := strings.CutPrefix(line, "### `"); ok {
			names = append(names, strings.TrimSuffix(name, "`"))
		}
	}
	return names
}

// The answer names its columns and their types and carries values as its
// types say.
func TestSQLQueryAnswer(t *testing.T) {
	t.Parallel()
	_, c := newTestServer(t)
	userID := c.newUser("ada@example.com", "DefaultUserRole")
	status, body := c.sqlQuery(`SELECT user_id, email, role, created_at, created_at AS since, preferences,
		user_id = 'x' AS flag, 1.5 AS f, x'00ff' AS b, 1e999 AS inf, NULL AS empty, count(*) OVER () AS n
		FROM users WHERE email = 'ada@example.com'`)
	mustStatus(t, "query", status, http.StatusOK, body)
	if _, ok := body["execution_time_ms"].(float64); !ok {
		t.Errorf("execution_time_ms %v", body["execution_time_ms"])
	}
	if body["truncated"] != false {
		t.Errorf("truncated %v", body["truncated"])
	}
	var cols []string
	for _, c := range body["columns"].([]any) {
		m := c.(map[string]any)
		cols = append(cols, m["name"].(string)+" "+m["type"].(string))
	}
	want := []string{"user_id STRING", "email STRING", "role STRING", "created_at TIMESTAMP", "since TIMESTAMP",
		"preferences JSON", "flag INTEGER", "f FLOAT", "b BINARY", "inf FLOAT", "empty STRING", "n INTEGER"}
	if !slices.Equal(cols, want) {
		t.Errorf("columns %v, want %v", cols, want)
	}
	row := body["result"].([]any)[0].([]any)
	if row[0] != userID || row[1] != "ada@example.com" || row[2] != "DefaultUserRole" || row[6] != float64(0) ||
		row[7] != 1.5 || row[8] != "AP8=" || row[9] != "Infinity" || row[10] != nil || row[11] != float64(1) {
		t.Errorf("row %v", row)
	}
	if _, err := time.Parse(time.RFC3339Nano, row[3].(string)); err != nil {
		t.Errorf("created_at: %v", err)
	}

	// BOOLEAN columns answer true and false; a column a view computes
	// keeps the view's type when selected by its name.
	status, body = c.sqlQuery(`SELECT is_builtin, name FROM roles ORDER BY name`)
	mustStatus(t, "roles", status, http.StatusOK, body)
	if got := fmt.Sprint(body["columns"]); got != "[map[name:is_builtin type:BOOLEAN] map[name:name type:STRING]]" {
		t.Errorf("columns %s", got)
	}
	if row := body["result"].([]any)[0].([]any); row[0] != true {
		t.Errorf("row %v", row)
	}
	status, body = c.sqlQuery(`SELECT user_models, region_name FROM users LIMIT 1`)
	mustStatus(t, "users", status, http.StatusOK, body)
	if got := fmt.Sprint(body["columns"]); got != "[map[name:user_models type:JSON] map[name:region_name type:STRING]]" {
		t.Errorf("columns %s", got)
	}

	// Semicolons and comments that end no statement are the query's own.
	for _, q := range []string{
		"SELECT ';' AS s",
		"SELECT 1 /* ; DELETE FROM users */",
		"-- a comment\nSELECT 1; -- and a trailing one",
		"  SELECT 1;;  ",
		"VALUES (1)",
		"WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 3) SELECT * FROM r",
		"SELECT key, value FROM users, json_each(users.preferences) LIMIT 1",
		`SELECT * FROM "users"`,
		"SELECT * FROM temp.users",
		"SELECT count(*) FROM USERS",
		"WITH r AS (SELECT 1 UNION ALL SELECT 2) SELECT count(*) FROM r",
	} {
		status, body := c.sqlQuery(q)
		mustStatus(t, q, status, http.StatusOK, body)
	}
}

// At most 1,000 rows are answered; truncated says whether there were more.
func TestSQLQueryRowLimit(t *testing.T) {
	t.Parallel()
	_, c := newTestServer(t)
	for _, tc := range []struct {
		rows      int
		truncated bool
	}{{999, false}, {1000, false}, {1001, true}, {100000, true}} {
		t.Run(fmt.Sprint(tc.rows), func(t *testing.T) {
			status, body := c.sqlQuery(fmt.Sprintf(
				"WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < %d) SELECT n FROM r", tc.rows))
			mustStatus(t, "query", status, http.StatusOK, body)
			rows := body["result"].([]any)
			if want := min(tc.rows, 1000); len(rows) != want {
				t.Errorf("%d rows, want %d", len(rows), want)
			}
			if body["truncated"] != tc.truncated {
				t.Errorf("truncated %v, want %v", body["truncated"], tc.truncated)
			}
			if last := rows[len(rows)-1].([]any)[0]; last != float64(len(rows)) {
				t.Errorf("last row %v", last)
			}
		})
	}
}

// Only a role holding more than DefaultAdministratorRole may query.
func TestSQLQueryPermission(t *testing.T) {
	t.Parallel()
	_, admin := newTestServer(t)
	for _, tc := range []struct {
		role string
		want int
	}{
		{"DefaultUserRole", http.StatusForbidden},
		{"DefaultAdministratorRole", http.StatusForbidden},
		{"DefaultAmigoAdministratorRole", http.StatusOK},
		{"DefaultSuperAdministratorRole", http.StatusOK},
	} {
		t.Run(tc.role, func(t *testing.T) {
			c := admin.keyFor(admin.newUser(strings.ToLower(tc.role)+"@example.com", tc.role), tc.role)
			status, body := c.sqlQuery("SELECT count(*) FROM users")
			mustStatus(t, "query", status, tc.want, body)
			if tc.want == http.StatusForbidden && !strings.Contains(detail(body), "more than DefaultAdministratorRole") {
				t.Errorf("detail %q", detail(body))
			}
		})
	}
	// A role of one's own holding every permission holds more, too.
	status, body := admin.do("POST", "/role/", map[string]any{"role_name": "Everything", "description": "d",
		"frontend_view": "admin", "permission_grants": allGrants()})
	mustStatus(t, "create role", status, http.StatusCreated, body)
	c := admin.keyFor(admin.newUser("everything@example.com", "Everything"), "Everything")
	status, body = c.sqlQuery("SELECT 1")
	mustStatus(t, "a role of one's own", status, http.StatusOK, body)
}

// allGrants grants every permission a role can name, unconditionally.
func allGrants() []map[string]any {
	var grants []map[string]any
	for _, p := range auth.AllPermissions {
		grants = append(grants, map[string]any{"permission_name": p, "conditions": map[string]any{}})
	}
	return grants
}

// The body is checked before anything runs.
func TestSQLQueryValidation(t *testing.T) {
	t.Parallel()
	_, c := newTestServer(t)
	for _, tc := range []struct {
		name string
		body map[string]any
	}{
		{"async", map[string]any{"sql_query": "SELECT 1", "async_query": true}},
		{"no async_query", map[string]any{"sql_query": "SELECT 1"}},
		{"no query", map[string]any{"async_query": false}},
		{"blank query", map[string]any{"sql_query": " \n\t", "async_query": false}},
		{"empty query", map[string]any{"sql_query": "", "async_query": false}},
		{"too long", map[string]any{"sql_query": "SELECT 1" + strings.Repeat(" ", 20000), "async_query": false}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, body := c.do("POST", "/admin/sql_query", tc.body)
			mustStatus(t, "query", status, http.StatusUnprocessableEntity, body)
		})
	}
	status, body := c.do("POST", "/admin/sql_query", map[string]any{"sql_query": "SELECT 1" + strings.Repeat(" ", 19992),
		"async_query": false})
	mustStatus(t, "20,000 characters", status, http.StatusOK, body)
}

// A query still running at the deadline is stopped with 408, and writes
// go on meanwhile: the query reads on connections of its own.
func TestSQLQueryDeadline(t *testing.T) {
	t.Parallel()
	_, c := newTestServer(t, func(cfg *app.Config) { cfg.SQLTimeout = 2 * time.Second })
	type answer struct {
		status int
		body   map[string]any
	}
	done := make(chan answer, 1)
	go func() {
		status, body := c.sqlQuery("WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r) SELECT count(*) FROM r")
		done <- answer{status, body}
	}()
	userID := c.newUser("writer@example.com", "DefaultUserRole")
	select {
	case a := <-done:
		t.Fatalf("the query answered %d before the write was through: %v", a.status, a.body)
	default:
	}
	a := <-done
	mustStatus(t, "runaway query", a.status, http.StatusRequestTimeout, a.body)
	if !strings.Contains(detail(a.body), "time limit") {
		t.Errorf("detail %q", detail(a.body))
	}
	// The write is there, and the connection the query used works.
	status, body := c.sqlQuery("SELECT count(*) FROM users WHERE user_id = '" + userID + "'")
	mustStatus(t, "after the deadline", status, http.StatusOK, body)
	if n := body["result"].([]any)[0].([]any)[0]; n != float64(1) {
		t.Errorf("%v users written", n)
	}
}

// Six queries a minute per user; the seventh waits.
func TestSQLQueryRateLimit(t *testing.T) {
	t.Parallel()
	_, c := newTestServer(t, compadretest.WithRateLimits(1))
	for i := range 6 {
		status, body := c.sqlQuery("SELECT 1")
		mustStatus(t, fmt.Sprintf("query %d", i+1), status, http.StatusOK, body)
	}
	status, body := c.sqlQuery("SELECT 1")
	mustStatus(t, "query 7", status, http.StatusTooManyRequests, body)
}
