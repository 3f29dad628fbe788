package httpapi

import (
	"context"
	"net/http"
	"time"

	a "github.com/compadre-dev/compadre/auth"
)

// submit-sql-query: one read-only SELECT over the organization's views.
// What a query may read and do is the store's to enforce; see
// DECISIONS.md, "How is SQL over an organization's data kept to its
// views?".

// DefaultSQLTimeout is how long a query may run before it is stopped, as
// the reference says.
const DefaultSQLTimeout = 30 * time.Second

type submitSQLQueryRequest struct {
	SQLQuery string `json:"sql_query"`
}

type sqlColumnOut struct {
	Name string `json:"name"`
	Type string `json:"type"`
}

type submitSQLQueryResponse struct {
	ExecutionTimeMS int64          `json:"execution_time_ms"`
	Result          [][]any        `json:"result"`
	Truncated       bool           `json:"truncated"`
	Columns         []sqlColumnOut `json:"columns"`
}

// submitSQLQuery runs the query for a caller whose role holds more than
// DefaultAdministratorRole. async_query is false: the document allows
// nothing else.
func (s *Server) submitSQLQuery(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	st := state(ctx)
	var req submitSQLQueryRequest
	if err := decodeBody(r, &req); err != nil {
		return err
	}
	query, err := strippedNonEmpty(req.SQLQuery, "body", "sql_query")
	if err != nil {
		return err
	}
	if err := s.requireAboveAdministrator(ctx, st); err != nil {
		return err
	}
	qctx, cancel := context.WithTimeout(ctx, s.sqlTimeout)
	defer cancel()
	res, err := s.store.QuerySQL(qctx, st.org.ID, query)
	if err != nil {
		return err
	}
	out := submitSQLQueryResponse{ExecutionTimeMS: res.Elapsed.Milliseconds(), Result: res.Rows,
		Truncated: res.Truncated, Columns: []sqlColumnOut{}}
	for _, c := range res.Columns {
		out.Columns = append(out.Columns, sqlColumnOut{Name: c.Name, Type: c.Type})
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// requireAboveAdministrator refuses a caller whose role does not hold
// more than the organization's DefaultAdministratorRole: its grants must
// cover the administrator's and not be covered by them, so the
// administrator itself is refused. Only the role counts, never temporary
// grants. See DECISIONS.md, "Who may run SQL queries?".
func (s *Server) requireAboveAdministrator(ctx context.Context, st *requestState) error {
	admin, err := s.store.GetRoleByName(ctx, st.org.ID, a.DefaultAdministratorRole)
	if err != nil {
		return err
	}
	held := st.principal.Role.PermissionGrants
	if !a.Covers(held, admin.PermissionGrants) || a.Covers(admin.PermissionGrants, held) {
		return errorf(http.StatusForbidden, "Only a user whose role holds more than "+a.DefaultAdministratorRole+
			" may run SQL queries.")
	}
	return nil
}
