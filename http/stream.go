package httpapi

import (
	"encoding/json"
	"net/http"
	"regexp"

	"github.com/compadre-dev/compadre/engine"
)

// eventStream writes an interaction's events as newline-delimited JSON,
// one flushed line per event, so a client reads each as it happens. The
// status goes out with the first event; until then a failure can still be
// an ordinary error response.
type eventStream struct {
	s       *Server
	w       http.ResponseWriter
	r       *http.Request
	status  int
	started bool
	// actions selects the agent action events sent; nil sends none.
	actions *regexp.Regexp
}

func (s *Server) newEventStream(w http.ResponseWriter, r *http.Request, status int, actions *regexp.Regexp) *eventStream {
	return &eventStream{s: s, w: w, r: r, status: status, actions: actions}
}

// emit writes one event, unless it is an agent action the caller did not
// ask for or may not see.
func (es *eventStream) emit(ev engine.Event) error {
	if a, ok := ev.(engine.CurrentAgentAction); ok && (es.actions == nil || !es.actions.MatchString(a.Action.ActionType())) {
		return nil
	}
	line, err := json.Marshal(ev)
	if err != nil {
		return err
	}
	if !es.started {
		es.started = true
		es.w.Header().Set("Content-Type", "application/x-ndjson")
		es.w.Header().Set("Cache-Control", "no-store")
		es.w.WriteHeader(es.status)
	}
	if _, err := es.w.Write(append(line, '\n')); err != nil {
		return err
	}
	return http.NewResponseController(es.w).Flush()
}

// finish ends the stream after the engine returned err. Before the first
// event the error is the handler's to answer; after it, the stream ends
// with one error event. A client that went away hears nothing.
func (es *eventStream) finish(err error) error {
	if err == nil {
		return nil
	}
	if !es.started {
		return err
	}
	if es.r.Context().Err() != nil {
		es.s.log.InfoContext(es.r.Context(), "client left during an interaction; it was rolled back",
			"request_id", requestID(es.r.Context()))
		return nil
	}
	ae := errorResponse(es.r, es.s.log, err)
	detail, ok := ae.detail.(string)
	if !ok {
		b, _ := json.Marshal(ae.detail)
		detail = string(b)
	}
	es.s.log.WarnContext(es.r.Context(), "interaction failed", "request_id", requestID(es.r.Context()),
		"status", ae.status, "error", err)
	if err := es.emit(engine.Error{Type: "error", HTTPErrorCode: ae.status, ErrorDescription: detail}); err != nil {
		es.s.log.InfoContext(es.r.Context(), "could not send the error event", "error", err)
	}
	return nil
}

// actionFilter is the agent action events a caller gets: those whose
// type matches pattern, if the caller may see the interaction's insights.
func actionFilter(pattern string, mayWatch bool) (*regexp.Regexp, error) {
	if !mayWatch {
		return nil, nil
	}
	if pattern == "" {
		pattern = "^.*$"
	}
	re, err := regexp.Compile(pattern)
	if err != nil {
		return nil, validationFailed(fieldError{Loc: []any{"query", "current_agent_action_type"}, Type: "value_error",
			Msg: "Not a regular expression: " + err.Error(), Input: pattern})
	}
	return re, nil
}
