package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"

	"github.com/gorilla/mux"

	"github.com/compadre-dev/compadre/auth"
)

// The control API is Compadre's own, for tests that use it as a fixture:
// fault rules and the request log, under /_compadre/, outside /v1. It is
// served only when Config.ControlAPI is on, to a user of any organization
// holding DefaultSuperAdministratorRole; off, its paths are unknown and the
// served document leaves them out, so fuzzers and SDK generators never see
// them. Its routes are the lines of the route table whose auth is
// authControl. See DECISIONS.md, "Who may use the control API, and why is
// it off by default?".

// ControlPrefix starts the path of every control operation.
const ControlPrefix = "/_compadre/"

// controlSchemaPrefix starts the name of every schema only the control
// operations use.
const controlSchemaPrefix = "Control"

// ErrControlOff is what the control methods of a server without the
// control API return.
var ErrControlOff = errors.New("httpapi: the control API is off")

// controlPlane is the state the control API changes: the fault rules in
// force and the request log (nil when it keeps nothing).
type controlPlane struct {
	faults faultSet
	log    *requestLog
}

// newControlPlane makes the control state for a server serving routes;
// fault rules may name any of them but the control operations.
func newControlPlane(logSize int, routes []route) *controlPlane {
	c := &controlPlane{}
	for _, rt := range routes {
		if rt.auth != authControl {
			c.faults.operations = append(c.faults.operations, rt.op)
		}
	}
	if logSize > 0 {
		c.log = newRequestLog(min(logSize, MaxRequestLogSize))
	}
	return c
}

// controlAllowed lets only a super administrator use the control API.
// The token may be of any organization: the control API acts on the
// whole server.
func controlAllowed(st *requestState) error {
	if st.principal == nil || st.principal.Role.Name != auth.DefaultSuperAdministratorRole {
		return errorf(http.StatusForbidden, "The control API is only for users holding "+auth.DefaultSuperAdministratorRole+".")
	}
	return nil
}

func (s *Server) createFault(w http.ResponseWriter, r *http.Request) error {
	var rule FaultRule
	if err := decodeBody(r, &rule); err != nil {
		return err
	}
	f, err := s.control.faults.add(rule)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, f)
	return nil
}

func (s *Server) listFaults(w http.ResponseWriter, r *http.Request) error {
	writeJSON(w, http.StatusOK, map[string]any{"faults": s.control.faults.list()})
	return nil
}

func (s *Server) deleteFault(w http.ResponseWriter, r *http.Request) error {
	id := mux.Vars(r)["fault_id"]
	if !s.control.faults.remove(id) {
		return notFound(fmt.Sprintf("Fault rule %q not found.", id))
	}
	writeNoContent(w)
	return nil
}

func (s *Server) clearFaults(w http.ResponseWriter, r *http.Request) error {
	s.control.faults.clear()
	writeNoContent(w)
	return nil
}

// requestLogOff is the answer to reading a log the server does not keep.
func requestLogOff() error {
	return conflict("The request log is off: start the server with --request-log-size above 0.")
}

func (s *Server) listRequests(w http.ResponseWriter, r *http.Request) error {
	if s.control.log == nil {
		return requestLogOff()
	}
	f := RequestFilter{Operation: queryString(r, "operation"), Organization: queryString(r, "organization"),
		After: int64(queryInt(r, "after")), Limit: queryInt(r, "limit")}
	writeJSON(w, http.StatusOK, map[string]any{"requests": s.control.log.list(f)})
	return nil
}

func (s *Server) clearRequests(w http.ResponseWriter, r *http.Request) error {
	if s.control.log == nil {
		return requestLogOff()
	}
	s.control.log.clear()
	writeNoContent(w)
	return nil
}

// The control API's methods for a test in the same process
// (compadretest), which need no credentials. Their errors' messages are
// the control API's 4xx details.

// InjectFault puts a fault rule in force, after those already in force.
func (s *Server) InjectFault(rule FaultRule) (Fault, error) {
	if s.control == nil {
		return Fault{}, ErrControlOff
	}
	return s.control.faults.add(rule)
}

// Faults lists the fault rules in force, oldest first.
func (s *Server) Faults() ([]Fault, error) {
	if s.control == nil {
		return nil, ErrControlOff
	}
	return s.control.faults.list(), nil
}

// DeleteFault takes the fault rule with id out of force.
func (s *Server) DeleteFault(id string) error {
	if s.control == nil {
		return ErrControlOff
	}
	if !s.control.faults.remove(id) {
		return notFound(fmt.Sprintf("Fault rule %q not found.", id))
	}
	return nil
}

// ClearFaults takes every fault rule out of force.
func (s *Server) ClearFaults() error {
	if s.control == nil {
		return ErrControlOff
	}
	s.control.faults.clear()
	return nil
}

// Requests returns the entries of the request log f selects, oldest first.
func (s *Server) Requests(f RequestFilter) ([]LoggedRequest, error) {
	switch {
	case s.control == nil:
		return nil, ErrControlOff
	case s.control.log == nil:
		return nil, requestLogOff()
	}
	return s.control.log.list(f), nil
}

// ClearRequests empties the request log; entries keep being numbered on
// from the last.
func (s *Server) ClearRequests() error {
	switch {
	case s.control == nil:
		return ErrControlOff
	case s.control.log == nil:
		return requestLogOff()
	}
	s.control.log.clear()
	return nil
}

// publicDocument is the served document without the control API, made
// once per process, for servers that do not serve it.
var publicDocument = sync.OnceValues(func() ([]byte, error) {
	doc, err := loadedAPIDocument()
	if err != nil {
		return nil, err
	}
	return withoutControl(doc.json)
})

// withoutControl removes the control operations' paths and schemas from a
// document.
func withoutControl(doc []byte) ([]byte, error) {
	d := json.NewDecoder(bytes.NewReader(doc))
	// Numbers stay as written: 1000000 would otherwise come back 1e+06.
	d.UseNumber()
	var m map[string]any
	if err := d.Decode(&m); err != nil {
		return nil, fmt.Errorf("httpapi: openapi document: %w", err)
	}
	paths, _ := m["paths"].(map[string]any)
	for p := range paths {
		if strings.HasPrefix(p, ControlPrefix) {
			delete(paths, p)
		}
	}
	components, _ := m["components"].(map[string]any)
	schemas, _ := components["schemas"].(map[string]any)
	for name := range schemas {
		if strings.HasPrefix(name, controlSchemaPrefix) {
			delete(schemas, name)
		}
	}
	return json.Marshal(m)
}
