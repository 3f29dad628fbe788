package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"math"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"modernc.org/libc"
	sqlite "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// SQL over an organization's data (submit-sql-query). A query runs on a
// small pool of read-only connections of its own, never the writer, over
// temporary views that show the organization's rows and nothing else; an
// authorizer decides, as SQLite compiles the query, what it may read and
// call. See DECISIONS.md, "How is SQL over an organization's data kept to
// its views?".

// SQLMaxRows is the most rows a query answers.
const SQLMaxRows = 1000

// SQLMaxQueryLength is the longest query, in characters. Finding where
// its first statement ends asks SQLite's tokenizer once per semicolon, so
// the bound also bounds that work.
const SQLMaxQueryLength = 20000

const (
	// sqlConns is the pool's size: queries are few (six a minute per
	// user) and each may run for its whole deadline, so two at once is
	// plenty and leaves the processors to the API.
	sqlConns = 2
	// sqlMaxValueBytes bounds any one string or blob a query makes
	// (SQLITE_LIMIT_LENGTH), so randomblob(1e9) fails instead of
	// allocating; the largest stored value is far smaller.
	sqlMaxValueBytes = 16 << 20
	// sqlMaxResultBytes bounds the text and blobs of one answer.
	sqlMaxResultBytes = 32 << 20
	// sqlMaxStatementBytes bounds the query's text (SQLITE_LIMIT_SQL_LENGTH).
	sqlMaxStatementBytes = 1 << 20
	// sqlCleanup bounds putting a connection back in order after a query.
	sqlCleanup = 5 * time.Second
)

// SQLResult is a query's answer: at most SQLMaxRows rows, each a value per
// column, and whether more rows were left out.
type SQLResult struct {
	Columns   []SQLColumn
	Rows      [][]any
	Truncated bool
	// Elapsed is how long the query took, from its arrival to its last row.
	Elapsed time.Duration
}

// SQLColumn names a column of an answer and its type: STRING, INTEGER,
// FLOAT, BOOLEAN, TIMESTAMP, JSON or BINARY.
type SQLColumn struct {
	Name, Type string
}

// SQLRefusal is a query that is not run: not a single read of the views,
// invalid SQL, or one that failed as it ran. Reason is for the caller.
type SQLRefusal struct {
	Reason string
}

func (e *SQLRefusal) Error() string { return "store: sql query refused: " + e.Reason }

// ErrSQLTimeout means a query did not finish before its context's deadline;
// it was stopped.
var ErrSQLTimeout = errors.New("store: sql query: deadline reached")

// sqlOrgID is what an organization ID must look like to be written into
// a view as a quoted literal: views take no parameters.
var sqlOrgID = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// sqlPool is the read-only connections queries run on, and what the views
// are learned to read.
type sqlPool struct {
	db *sql.DB
	// shapes makes the views' stand-ins; drop removes whichever views
	// are made. Both leave the connection query_only.
	shapes, drop string
	views        map[string]sqlView

	mu sync.Mutex
	// learned is set once reads and stored are known, from the first
	// connection a query takes.
	learned bool
	// reads are the reads each view makes of the stored tables, by the
	// view's name: the only reads of them a query may make.
	reads map[sqlRead]bool
	// columnTypes is the type of each stored column a view shows
	// unchanged (or through a scalar subquery), by table and column.
	columnTypes map[[2]string]string
	// stored are the names, in lower case, of the stored tables and views
	// and of the virtual table modules.
	stored map[string]bool
}

// sqlRead is one read SQLite asks the authorizer about: from within view
// (or at the top when empty), of column of table in database db.
type sqlRead struct {
	view, db, table, column string
}

// openSQLPool opens the read-only pool over the database at path (an
// absolute path). Connections open on demand. mode=ro makes the main
// database unwritable whatever a statement asks; query_only refuses
// writes to the temporary schema too, except while the pool itself makes
// and drops views; defensive mode turns off the features that can corrupt
// a database. Temporary b-trees spill to files beyond a 16 MiB cache, so
// a large sort costs disk, not memory.
func openSQLPool(path string) (*sqlPool, error) {
	q := url.Values{}
	q.Add("mode", "ro")
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "query_only(1)")
	q.Add("_pragma", "temp_store(1)")
	q.Add("_pragma", "cache_size(-16384)")
	q.Add("_defensive", "1")
	db, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("store: open sql pool: %w", err)
	}
	db.SetMaxOpenConns(sqlConns)
	db.SetMaxIdleConns(sqlConns)
	p := &sqlPool{db: db, views: map[string]sqlView{}}
	var shapes, drop strings.Builder
	shapes.WriteString("PRAGMA query_only = 0;\n")
	drop.WriteString("PRAGMA query_only = 0;\n")
	for _, v := range sqlViews {
		p.views[v.name] = v
		shapes.WriteString(v.shapeSQL() + ";\n")
		drop.WriteString("DROP VIEW IF EXISTS temp." + v.name + ";\n")
	}
	shapes.WriteString("PRAGMA query_only = 1;")
	drop.WriteString("PRAGMA query_only = 1;")
	p.shapes, p.drop = shapes.String(), drop.String()
	return p, nil
}

// realSQL is the script making the views over org's rows.
func (p *sqlPool) realSQL(org string) string {
	var b strings.Builder
	b.WriteString("PRAGMA query_only = 0;\n")
	lit := "'" + strings.ReplaceAll(org, "'", "''") + "'"
	for _, v := range sqlViews {
		b.WriteString(v.createSQL(lit) + ";\n")
	}
	b.WriteString("PRAGMA query_only = 1;")
	return b.String()
}

// QuerySQL runs query, a single SELECT, over orgID's views and answers at
// most SQLMaxRows of its rows. Anything else is a *SQLRefusal; a query
// still running at ctx's deadline is stopped and is ErrSQLTimeout. Nothing
// is written, whatever query says.
func (s *Store) QuerySQL(ctx context.Context, orgID, query string) (SQLResult, error) {
	start := time.Now()
	if !sqlOrgID.MatchString(orgID) {
		return SQLResult{}, fmt.Errorf("store: sql query: organization ID %q cannot be written into a view", orgID)
	}
	stmt, rest, err := splitStatement(query)
	if err != nil {
		return SQLResult{}, err
	}
	conn, err := s.sql.db.Conn(ctx)
	if err != nil {
		return SQLResult{}, sqlFailure(ctx, err)
	}
	res, err := s.sql.run(ctx, conn, orgID, stmt, rest)
	if err != nil {
		return SQLResult{}, err
	}
	res.Elapsed = time.Since(start)
	return res, nil
}

// run runs stmt over org's views on conn in two passes. The first
// prepares it over stand-ins for the views, which read nothing: any read
// of a stored table is then the query's own (through a WITH clause named
// like a view, say), and is refused. The second makes the real views and
// runs it, reading stored tables only as the views read them. conn goes
// back to the pool without views or authorizer, or is discarded.
func (p *sqlPool) run(ctx context.Context, conn *sql.Conn, org, stmt, rest string) (SQLResult, error) {
	defer func() {
		// A connection that cannot be put back in order, after a query
		// stopped half-way through a script say, is closed instead.
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), sqlCleanup)
		defer cancel()
		if p.reset(cctx, conn) != nil {
			_ = conn.Raw(func(any) error { return driver.ErrBadConn })
		}
		conn.Close()
	}()
	if err := limitConn(conn); err != nil {
		return SQLResult{}, err
	}
	if err := p.learn(ctx, conn); err != nil {
		return SQLResult{}, sqlFailure(ctx, err)
	}
	if _, err := conn.ExecContext(ctx, p.shapes); err != nil {
		return SQLResult{}, sqlFailure(ctx, err)
	}
	shape := &sqlAuthorizer{pool: p}
	err := withAuthorizer(conn, shape, func(dc columnInfoer) error {
		if _, err := dc.ColumnInfo(stmt); err != nil {
			return shape.failure(ctx, err)
		}
		// SQLite prepares the first statement of what follows, skipping
		// empty ones and comments: anything it finds is a second statement.
		if info, err := dc.ColumnInfo(rest); err != nil || info != nil {
			return &SQLRefusal{Reason: "only one statement may run; remove what follows the first semicolon"}
		}
		return nil
	})
	if err != nil {
		return SQLResult{}, err
	}
	if _, err := conn.ExecContext(ctx, p.drop+"\n"+p.realSQL(org)); err != nil {
		return SQLResult{}, sqlFailure(ctx, err)
	}
	views := &sqlAuthorizer{pool: p, reads: p.reads, viewsRead: map[string]bool{}}
	var info []sqlite.ColumnInfo
	err = withAuthorizer(conn, views, func(dc columnInfoer) error {
		var err error
		if info, err = dc.ColumnInfo(stmt); err != nil {
			return views.failure(ctx, err)
		}
		return nil
	})
	if err != nil {
		return SQLResult{}, err
	}
	return p.fetch(ctx, conn, views, stmt, info)
}

// fetch runs stmt, its authorizer installed, and reads at most one row
// more than SQLMaxRows to tell whether the answer is truncated.
func (p *sqlPool) fetch(ctx context.Context, conn *sql.Conn, a *sqlAuthorizer, stmt string, info []sqlite.ColumnInfo) (SQLResult, error) {
	if err := conn.Raw(func(dc any) error { return dc.(sqlite.AuthorizerRegisterer).RegisterAuthorizer(a.decide) }); err != nil {
		return SQLResult{}, err
	}
	rows, err := conn.QueryContext(ctx, stmt)
	if err != nil {
		return SQLResult{}, a.failure(ctx, err)
	}
	defer rows.Close()
	n := len(info)
	res := SQLResult{Rows: [][]any{}}
	budget := sqlMaxResultBytes
	for rows.Next() {
		if len(res.Rows) == SQLMaxRows {
			res.Truncated = true
			break
		}
		row := make([]any, n)
		ptrs := make([]any, n)
		for i := range row {
			ptrs[i] = &row[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return SQLResult{}, a.failure(ctx, err)
		}
		for _, v := range row {
			switch v := v.(type) {
			case string:
				budget -= len(v)
			case []byte:
				budget -= len(v)
			}
		}
		if budget < 0 {
			return SQLResult{}, &SQLRefusal{Reason: fmt.Sprintf("the answer would exceed %d MiB; select fewer rows or columns",
				sqlMaxResultBytes>>20)}
		}
		res.Rows = append(res.Rows, row)
	}
	if err := rows.Err(); err != nil {
		return SQLResult{}, a.failure(ctx, err)
	}
	if err := rows.Close(); err != nil {
		return SQLResult{}, a.failure(ctx, err)
	}
	res.Columns = p.columns(a, info, res.Rows)
	return res, nil
}

// reset removes the authorizer and the views, leaving conn as the pool
// opened it.
func (p *sqlPool) reset(ctx context.Context, conn *sql.Conn) error {
	if err := conn.Raw(func(dc any) error { return dc.(sqlite.AuthorizerRegisterer).RegisterAuthorizer(nil) }); err != nil {
		return err
	}
	_, err := conn.ExecContext(ctx, p.drop)
	return err
}

// limitConn bounds what one statement on conn may make: no string or
// blob beyond sqlMaxValueBytes, no statement text beyond
// sqlMaxStatementBytes, and no attached database at all.
func limitConn(conn *sql.Conn) error {
	for _, l := range []struct{ id, value int }{
		{sqlite3.SQLITE_LIMIT_LENGTH, sqlMaxValueBytes},
		{sqlite3.SQLITE_LIMIT_SQL_LENGTH, sqlMaxStatementBytes},
		{sqlite3.SQLITE_LIMIT_ATTACHED, 0},
	} {
		if _, err := sqlite.Limit(conn, l.id, l.value); err != nil {
			return fmt.Errorf("store: sql limits: %w", err)
		}
	}
	return nil
}

type columnInfoer interface {
	ColumnInfo(query string) ([]sqlite.ColumnInfo, error)
}

// withAuthorizer runs fn with a's policy installed on conn, and removes
// it after.
func withAuthorizer(conn *sql.Conn, a *sqlAuthorizer, fn func(columnInfoer) error) error {
	return conn.Raw(func(dc any) error {
		reg, ok := dc.(sqlite.AuthorizerRegisterer)
		ci, ok2 := dc.(columnInfoer)
		if !ok || !ok2 {
			return fmt.Errorf("store: sql: the driver has no authorizer")
		}
		if err := reg.RegisterAuthorizer(a.decide); err != nil {
			return err
		}
		err := fn(ci)
		return errors.Join(err, reg.RegisterAuthorizer(nil))
	})
}

// learn finds, once, what each view reads of the stored tables and which
// stored columns it shows unchanged: SQLite reports both as it prepares
// SELECT * over the view.
func (p *sqlPool) learn(ctx context.Context, conn *sql.Conn) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.learned {
		return nil
	}
	if _, err := conn.ExecContext(ctx, p.drop+"\n"+p.realSQL("")); err != nil {
		return err
	}
	stored, err := storedNames(ctx, conn)
	if err != nil {
		return err
	}
	reads := map[sqlRead]bool{}
	types := map[[2]string]string{}
	err = conn.Raw(func(dc any) error {
		reg := dc.(sqlite.AuthorizerRegisterer)
		var err error
		for _, v := range sqlViews {
			record := func(action sqlite.AuthorizerActionCode, table, column, db, view string) sqlite.AuthorizerReturnCode {
				if action == sqlite.AuthRead && view != "" {
					reads[sqlRead{asciiLower(view), asciiLower(db), asciiLower(table), asciiLower(column)}] = true
				}
				return sqlite.AuthorizerOK
			}
			if err = reg.RegisterAuthorizer(record); err != nil {
				break
			}
			var info []sqlite.ColumnInfo
			if info, err = dc.(columnInfoer).ColumnInfo("SELECT * FROM temp." + v.name); err != nil {
				err = fmt.Errorf("view %s: %w", v.name, err)
				break
			}
			for i, c := range info {
				if c.DatabaseName != "main" || c.OriginName == "" {
					continue
				}
				k := [2]string{c.TableName, c.OriginName}
				if t, ok := types[k]; ok && t != v.cols[i].typ {
					err = fmt.Errorf("view %s: %s.%s is %s here and %s elsewhere", v.name, k[0], k[1], v.cols[i].typ, t)
					break
				}
				types[k] = v.cols[i].typ
			}
			if err != nil {
				break
			}
		}
		return errors.Join(err, reg.RegisterAuthorizer(nil))
	})
	if err != nil {
		return fmt.Errorf("store: sql views: %w", err)
	}
	if _, err := conn.ExecContext(ctx, p.drop); err != nil {
		return err
	}
	p.reads, p.columnTypes, p.stored, p.learned = reads, types, stored, true
	return nil
}

// storedNames are the names, in lower case, of main's tables and views
// and of every virtual table module: what a WITH clause must not be
// taken for.
func storedNames(ctx context.Context, conn *sql.Conn) (map[string]bool, error) {
	rows, err := conn.QueryContext(ctx, `SELECT name FROM main.sqlite_master WHERE type IN ('table', 'view')
		UNION SELECT name FROM pragma_module_list`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	names := map[string]bool{}
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, err
		}
		names[asciiLower(n)] = true
	}
	return names, rows.Err()
}

// sqlFunctions are the functions a query may call: SQLite's built-in
// scalar, aggregate, window, date, math and JSON functions that read
// nothing but their arguments and change nothing. Left out are
// load_extension, those reporting on or acting on the connection
// (changes, last_insert_rowid, total_changes, sqlite_offset,
// sqlite_compileoption_*, sqlite_log) and those of modules the views do
// not use (full-text search, R-trees, geopoly).
var sqlFunctions = setOf(
	"->", "->>", "abs", "acos", "acosh", "asin", "asinh", "atan", "atan2", "atanh", "avg", "ceil", "ceiling", "char",
	"coalesce", "concat", "concat_ws", "cos", "cosh", "count", "cume_dist", "current_date", "current_time",
	"current_timestamp", "date", "datetime", "degrees", "dense_rank", "exp", "first_value", "floor", "format", "glob",
	"group_concat", "hex", "if", "ifnull", "iif", "instr", "json", "json_array", "json_array_insert",
	"json_array_length", "json_error_position", "json_extract", "json_group_array", "json_group_object", "json_insert",
	"json_object", "json_patch", "json_pretty", "json_quote", "json_remove", "json_replace", "json_set", "json_type",
	"json_valid", "jsonb", "jsonb_array", "jsonb_array_insert", "jsonb_extract", "jsonb_group_array",
	"jsonb_group_object", "jsonb_insert", "jsonb_object", "jsonb_patch", "jsonb_remove", "jsonb_replace", "jsonb_set",
	"julianday", "lag", "last_value", "lead", "length", "like", "likelihood", "likely", "ln", "log", "log10", "log2",
	"lower", "ltrim", "max", "min", "mod", "nth_value", "ntile", "nullif", "octet_length", "percent_rank", "pi", "pow",
	"power", "printf", "quote", "radians", "random", "randomblob", "rank", "replace", "round", "row_number", "rtrim",
	"sign", "sin", "sinh", "soundex", "sqlite_version", "sqrt", "strftime", "string_agg", "substr", "substring", "sum",
	"tan", "tanh", "time", "timediff", "total", "trim", "trunc", "typeof", "unhex", "unicode", "unistr",
	"unistr_quote", "unixepoch", "unlikely", "upper", "zeroblob",
)

// sqlTableFunctions are the table-valued functions a query may read: they
// walk the JSON they are given.
var sqlTableFunctions = setOf("json_each", "json_tree")

// hidden reports whether name (in lower case) is a stored table or view,
// a virtual table module, or one of SQLite's own tables (sqlite_master
// and the like, and the pragma_ functions, which are made as they are
// named).
func (p *sqlPool) hidden(name string) bool {
	return p.stored[name] || strings.HasPrefix(name, "sqlite_") || strings.HasPrefix(name, "pragma_")
}

// asciiLower lowers ASCII letters only, as SQLite does when it compares
// names.
func asciiLower(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'A' && r <= 'Z' {
			return r + 'a' - 'A'
		}
		return r
	}, s)
}

func setOf(names ...string) map[string]bool {
	m := make(map[string]bool, len(names))
	for _, n := range names {
		m[n] = true
	}
	return m
}

// sqlAuthorizer is the policy a query is compiled under: a read of the
// views, calling the functions above, and nothing else.
type sqlAuthorizer struct {
	pool *sqlPool
	// reads are the stored tables' reads allowed within views; nil
	// allows none (the first pass, over the stand-ins).
	reads map[sqlRead]bool
	// viewsRead collects the views the query reads, for the answer's
	// column types.
	viewsRead map[string]bool
	// refused is why the first refused action was refused.
	refused string
}

// sqlActions name the actions a query may not take, for the refusal.
var sqlActions = map[sqlite.AuthorizerActionCode]string{
	sqlite.AuthInsert: "INSERT", sqlite.AuthUpdate: "UPDATE", sqlite.AuthDelete: "DELETE",
	sqlite.AuthCreateIndex: "CREATE INDEX", sqlite.AuthCreateTable: "CREATE TABLE", sqlite.AuthCreateTempIndex: "CREATE INDEX",
	sqlite.AuthCreateTempTable: "CREATE TABLE", sqlite.AuthCreateTempTrigger: "CREATE TRIGGER", sqlite.AuthCreateTempView: "CREATE VIEW",
	sqlite.AuthCreateTrigger: "CREATE TRIGGER", sqlite.AuthCreateView: "CREATE VIEW", sqlite.AuthCreateVTable: "CREATE VIRTUAL TABLE",
	sqlite.AuthDropIndex: "DROP INDEX", sqlite.AuthDropTable: "DROP TABLE", sqlite.AuthDropTempIndex: "DROP INDEX",
	sqlite.AuthDropTempTable: "DROP TABLE", sqlite.AuthDropTempTrigger: "DROP TRIGGER", sqlite.AuthDropTempView: "DROP VIEW",
	sqlite.AuthDropTrigger: "DROP TRIGGER", sqlite.AuthDropView: "DROP VIEW", sqlite.AuthDropVTable: "DROP TABLE",
	sqlite.AuthAlterTable: "ALTER TABLE", sqlite.AuthAttach: "ATTACH", sqlite.AuthDetach: "DETACH", sqlite.AuthPragma: "PRAGMA",
	sqlite.AuthTransaction: "a transaction", sqlite.AuthSavepoint: "SAVEPOINT", sqlite.AuthAnalyze: "ANALYZE",
	sqlite.AuthReindex: "REINDEX",
}

// decide is the authorizer callback. A read names its table and column,
// the database as resolved (or as written, or empty, for a table read for
// no column) and the innermost view or WITH clause it comes from.
func (a *sqlAuthorizer) decide(action sqlite.AuthorizerActionCode, arg1, arg2, db, view string) sqlite.AuthorizerReturnCode {
	switch action {
	case sqlite.AuthSelect, sqlite.AuthRecursive:
		return sqlite.AuthorizerOK
	case sqlite.AuthFunction:
		if sqlFunctions[strings.ToLower(arg2)] {
			return sqlite.AuthorizerOK
		}
		return a.refuse("no such function: " + arg2)
	case sqlite.AuthRead:
		// SQLite compares names ignoring ASCII case, and reports a
		// table read for no column (count(*)) by the names as written.
		table, column, db, view := asciiLower(arg1), asciiLower(arg2), asciiLower(db), asciiLower(view)
		switch {
		case a.pool.views[table].name != "" && (db == "temp" || db == ""):
			// An unqualified name finds a temporary view before a stored
			// table, so a table read for no column with no database
			// named is the view's.
			if a.viewsRead != nil {
				a.viewsRead[table] = true
			}
			return sqlite.AuthorizerOK
		case sqlTableFunctions[table]:
			return sqlite.AuthorizerOK
		case a.reads[sqlRead{view, db, table, column}]:
			return sqlite.AuthorizerOK
		case column == "" && db == "" && !a.pool.hidden(table):
			// Read for no column, and not a view, a stored table or a
			// virtual one: a WITH clause, which holds what the query made.
			return sqlite.AuthorizerOK
		}
		if db != "" {
			table = db + "." + table
		}
		return a.refuse("no such table: " + table)
	}
	what, ok := sqlActions[action]
	if !ok {
		what = fmt.Sprintf("action %d", action)
	}
	return a.refuse("only SELECT statements may run, and " + what + " is refused")
}

func (a *sqlAuthorizer) refuse(reason string) sqlite.AuthorizerReturnCode {
	if a.refused == "" {
		a.refused = reason
	}
	return sqlite.AuthorizerDeny
}

// failure words err, from preparing or running a query, for the caller:
// the authorizer's refusal, SQLite's own message for a query it found
// wrong, ErrSQLTimeout at the deadline. Anything else is the server's
// failure and is returned as it is.
func (a *sqlAuthorizer) failure(ctx context.Context, err error) error {
	if a.refused != "" {
		return &SQLRefusal{Reason: a.refused}
	}
	return sqlFailure(ctx, err)
}

// sqlFailure is err, from SQLite as it ran a query, as the caller should
// see it.
func sqlFailure(ctx context.Context, err error) error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return ErrSQLTimeout
	}
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return fmt.Errorf("store: sql query: %w", err)
	}
	switch se.Code() & 0xff {
	case sqlite3.SQLITE_ERROR, sqlite3.SQLITE_TOOBIG, sqlite3.SQLITE_MISMATCH, sqlite3.SQLITE_RANGE, sqlite3.SQLITE_AUTH,
		sqlite3.SQLITE_NOMEM, sqlite3.SQLITE_CONSTRAINT, sqlite3.SQLITE_READONLY:
		return &SQLRefusal{Reason: sqliteMessage(se)}
	}
	return fmt.Errorf("store: sql query: %w", err)
}

// sqliteMessage is SQLite's own message in se, without the driver's
// prefix (the result code's description) and suffix (its number).
func sqliteMessage(se *sqlite.Error) string {
	msg := se.Error()
	if i := strings.LastIndex(msg, " ("); i > 0 && strings.HasSuffix(msg, ")") {
		msg = msg[:i]
	}
	tls := libc.NewTLS()
	defer tls.Close()
	prefix := libc.GoString(sqlite3.Xsqlite3_errstr(tls, int32(se.Code()))) + ": "
	return strings.TrimPrefix(msg, prefix)
}

// splitStatement returns query's first statement and what follows it.
// Which semicolon ends the first statement is SQLite's tokenizer's
// verdict (sqlite3_complete), so one inside a string, a quoted name or a
// comment does not. The statement must start, after comments, with
// SELECT, WITH or VALUES: only reads do (a WITH that writes is refused by
// the authorizer).
func splitStatement(query string) (stmt, rest string, err error) {
	if utf8.RuneCountInString(query) > SQLMaxQueryLength {
		return "", "", &SQLRefusal{Reason: fmt.Sprintf("the query is longer than %d characters", SQLMaxQueryLength)}
	}
	if strings.IndexByte(query, 0) >= 0 {
		return "", "", &SQLRefusal{Reason: "the query contains a NUL character"}
	}
	stmt = query
	tls := libc.NewTLS()
	defer tls.Close()
	for i := strings.IndexByte(query, ';'); i >= 0; {
		p, err := libc.CString(query[:i+1])
		if err != nil {
			return "", "", err
		}
		complete := sqlite3.Xsqlite3_complete(tls, p) != 0
		libc.Xfree(tls, p)
		if complete {
			stmt, rest = query[:i], query[i+1:]
			break
		}
		next := strings.IndexByte(query[i+1:], ';')
		if next < 0 {
			break
		}
		i += next + 1
	}
	switch strings.ToUpper(firstWord(stmt)) {
	case "SELECT", "WITH", "VALUES":
		return stmt, rest, nil
	}
	return "", "", &SQLRefusal{Reason: "only SELECT statements may run: a query starts with SELECT, WITH or VALUES"}
}

// firstWord is the run of letters that starts sql after whitespace and
// comments.
func firstWord(sql string) string {
	for {
		sql = strings.TrimLeft(sql, " \t\n\f\r")
		switch {
		case strings.HasPrefix(sql, "--"):
			i := strings.IndexByte(sql, '\n')
			if i < 0 {
				return ""
			}
			sql = sql[i+1:]
		case strings.HasPrefix(sql, "/*"):
			i := strings.Index(sql[2:], "*/")
			if i < 0 {
				return ""
			}
			sql = sql[i+4:]
		default:
			end := strings.IndexFunc(sql, func(r rune) bool { return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') })
			if end < 0 {
				return sql
			}
			return sql[:end]
		}
	}
}

// columns names the answer's columns and their types, and makes each
// value what its type says (a BOOLEAN's 0 and 1 false and true, an
// infinite FLOAT a string) so the answer encodes as JSON. A column SQLite
// traces to a stored column a view shows unchanged has that view
// column's type; one named like a column of a view the query reads, with
// values that fit, has that column's type; any other is typed by its
// values.
func (p *sqlPool) columns(a *sqlAuthorizer, info []sqlite.ColumnInfo, rows [][]any) []SQLColumn {
	cols := make([]SQLColumn, len(info))
	for i, c := range info {
		typ := ""
		if c.DatabaseName == "main" {
			typ = p.columnTypes[[2]string{c.TableName, c.OriginName}]
		}
		if typ == "" {
			typ = a.namedType(c.Name, rows, i)
		}
		if typ == "" {
			typ = valuesType(rows, i)
		}
		cols[i] = SQLColumn{Name: c.Name, Type: typ}
		for _, row := range rows {
			row[i] = jsonValue(typ, row[i])
		}
	}
	return cols
}

// namedType is the type of the column named name in the views the query
// read, if exactly one type is named so and column i's values fit it.
func (a *sqlAuthorizer) namedType(name string, rows [][]any, i int) string {
	typ := ""
	for v := range a.viewsRead {
		for _, c := range a.pool.views[v].cols {
			if c.name != name {
				continue
			}
			if typ != "" && typ != c.typ {
				return ""
			}
			typ = c.typ
		}
	}
	for _, row := range rows {
		if !fits(typ, row[i]) {
			return ""
		}
	}
	return typ
}

// fits reports whether v, as SQLite answered it, can be a value of typ.
func fits(typ string, v any) bool {
	switch v := v.(type) {
	case nil:
		return true
	case int64:
		return typ == sqlInteger || typ == sqlFloat || typ == sqlBoolean && (v == 0 || v == 1)
	case float64:
		return typ == sqlFloat
	case string:
		return typ == sqlString || typ == sqlTimestamp || typ == sqlJSON
	case []byte:
		return typ == sqlBinary
	}
	return false
}

// valuesType types a column by its values' storage classes: INTEGER,
// FLOAT (any real among integers), STRING, BINARY; NULLs only, or a mix
// of text and numbers, is STRING.
func valuesType(rows [][]any, i int) string {
	var ints, floats, texts, blobs bool
	for _, row := range rows {
		switch row[i].(type) {
		case int64:
			ints = true
		case float64:
			floats = true
		case string:
			texts = true
		case []byte:
			blobs = true
		}
	}
	switch {
	case blobs && !ints && !floats && !texts:
		return sqlBinary
	case texts:
		return sqlString
	case floats && !blobs:
		return sqlFloat
	case ints && !blobs:
		return sqlInteger
	}
	return sqlString
}

// jsonValue is v as the answer carries it.
func jsonValue(typ string, v any) any {
	switch v := v.(type) {
	case int64:
		if typ == sqlBoolean {
			return v == 1
		}
	case float64:
		// JSON has no infinities (SQLite makes NaN NULL).
		if math.IsInf(v, 1) {
			return "Infinity"
		}
		if math.IsInf(v, -1) {
			return "-Infinity"
		}
	case time.Time:
		return v.UTC().Format(time.RFC3339Nano)
	}
	return v
}
