package httpapi

import (
	"context"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
)

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) error {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	return nil
}

// readyz reports ready when the database answers and every migration is
// applied, and the Python sandbox, if the server runs one, is no longer
// starting: while it starts the answer is 503 "starting", so whatever
// waits for a 200 waits until tools can run. A sandbox that failed to
// start does not make the server unready (everything but running tools
// works without it); its state is reported beside. See DECISIONS.md, "What
// does /readyz say while the sandbox starts?".
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) error {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	checks := map[string]string{"database": "ok"}
	status, code := "ready", http.StatusOK
	if err := s.store.Ready(ctx); err != nil {
		s.log.WarnContext(ctx, "not ready", "error", err)
		checks["database"] = "unavailable"
		status, code = "unavailable", http.StatusServiceUnavailable
	}
	body := map[string]any{"status": status, "version": s.version, "checks": checks,
		"providers": s.providers()}
	if s.sandbox != nil {
		var state string
		state, body["python"] = s.sandbox()
		checks["sandbox"] = state
		if state == "starting" && code == http.StatusOK {
			body["status"], code = "starting", http.StatusServiceUnavailable
			w.Header().Set("Retry-After", "1")
		}
	}
	writeJSON(w, code, body)
	return nil
}

func (s *Server) metricsHandler() handlerFunc {
	h := promhttp.HandlerFor(s.registry, promhttp.HandlerOpts{})
	return func(w http.ResponseWriter, r *http.Request) error {
		h.ServeHTTP(w, r)
		return nil
	}
}

func (s *Server) getOpenAPIDocument(w http.ResponseWriter, r *http.Request) error {
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(s.docJSON)
	return nil
}

// providers names the model and voice providers the server uses, for
// /readyz and the start-up log.
func (s *Server) providers() map[string]string {
	synth := "none"
	if s.synthesizer != nil {
		synth = s.synthesizer.Name()
	}
	return map[string]string{"llm": s.model.Name(), "transcriber": s.transcriber.Name(), "synthesizer": synth}
}
