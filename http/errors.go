package httpapi

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"os"

	"github.com/compadre-dev/compadre/auth"
	"github.com/compadre-dev/compadre/store"
)

// apiError is an error with the status and detail a client should see. The
// cause, if any, is for the log only and never serialized.
type apiError struct {
	status int
	detail any
	header http.Header
	cause  error
}

func (e *apiError) Error() string {
	if e.cause != nil {
		return e.cause.Error()
	}
	if s, ok := e.detail.(string); ok {
		return s
	}
	return http.StatusText(e.status)
}

func (e *apiError) Unwrap() error { return e.cause }

func errorf(status int, detail string) *apiError { return &apiError{status: status, detail: detail} }

func badRequest(detail string) *apiError   { return errorf(http.StatusBadRequest, detail) }
func notFound(detail string) *apiError     { return errorf(http.StatusNotFound, detail) }
func conflict(detail string) *apiError     { return errorf(http.StatusConflict, detail) }
func unauthorized(detail string) *apiError { return errorf(http.StatusUnauthorized, detail) }

func forbidden(p auth.Permission) *apiError {
	return errorf(http.StatusForbidden, "Missing required permission: "+string(p)+".")
}

// fieldError is one entry of a 422 body, shaped as FastAPI shapes them.
type fieldError struct {
	Loc   []any  `json:"loc"`
	Msg   string `json:"msg"`
	Type  string `json:"type"`
	Input any    `json:"input,omitempty"`
}

func validationFailed(errs ...fieldError) *apiError {
	return &apiError{status: http.StatusUnprocessableEntity, detail: errs}
}

// writeError is the one place errors become responses. Anything it does not
// recognise is a 500 whose real cause goes to the log, not the client.
func writeError(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error) {
	var ae *apiError
	var re *store.RuleError
	var ce *store.ConflictError
	var ne *store.NotFoundError
	switch {
	case errors.As(err, &ae):
	case errors.As(err, &re):
		ae = badRequest(re.Reason)
	case errors.As(err, &ce):
		ae = conflict(ce.Reason)
	case errors.As(err, &ne):
		ae = notFound(ne.Reason)
	case errors.Is(err, store.ErrNotFound):
		ae = notFound("Not Found")
	case errors.Is(err, store.ErrConflict):
		ae = conflict("Conflict")
	case errors.Is(err, auth.ErrUnauthenticated):
		ae = unauthorized("Invalid authorization credentials.")
	case errors.Is(err, os.ErrDeadlineExceeded):
		// The body did not arrive within the server's body timeout; what is
		// left of it on the wire cannot be told from a next request.
		log.WarnContext(r.Context(), "request body timed out", "request_id", requestID(r.Context()), "error", err)
		ae = &apiError{status: http.StatusRequestTimeout, detail: "The request body did not arrive in time.",
			header: http.Header{"Connection": {"close"}}}
	default:
		log.ErrorContext(r.Context(), "request failed", "request_id", requestID(r.Context()), "error", err)
		ae = errorf(http.StatusInternalServerError, "Internal Server Error")
	}
	for k, v := range ae.header {
		w.Header()[k] = v
	}
	writeJSON(w, ae.status, map[string]any{"detail": ae.detail})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		b = []byte(`{"detail":"Internal Server Error"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

func writeNoContent(w http.ResponseWriter) { w.WriteHeader(http.StatusNoContent) }
