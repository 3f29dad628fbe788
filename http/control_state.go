package httpapi

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/gorilla/mux"
	"github.com/sosodev/duration"

	"github.com/compadre-dev/compadre/clock"
)

// The control API's calls on the server's whole state: reset, snapshots
// and the clock. The state belongs to the app, which owns the data
// directory and the gate that makes a restore atomic for clients; it
// hands the API a StateControl. See DECISIONS.md, "How is a restore atomic
// for clients?" and "How does the server's clock move forward?".

// StateControl is what the control API's reset and snapshot calls act
// through. An error made with ControlError is answered with its status.
type StateControl interface {
	Reset(ctx context.Context, org string) error
	Snapshot(ctx context.Context, name string) (SnapshotInfo, error)
	Restore(ctx context.Context, name string) error
	Snapshots(ctx context.Context) ([]SnapshotInfo, error)
	DeleteSnapshot(ctx context.Context, name string) error
}

// SnapshotInfo describes a saved snapshot.
type SnapshotInfo struct {
	Name      string
	CreatedAt time.Time
	// Bytes is the size of its copy of the database; Refs how many refs
	// of the tool repository it holds.
	Bytes int64
	Refs  int
}

// ControlError is a StateControl failure the control API answers with
// status and detail.
func ControlError(status int, detail string) error { return errorf(status, detail) }

// SetStateControl gives the control API the state it resets, saves and
// restores. Without one those calls answer 503.
func (s *Server) SetStateControl(sc StateControl) { s.stateControl.Store(&sc) }

func (s *Server) state() (StateControl, error) {
	sc := s.stateControl.Load()
	if sc == nil {
		return nil, errorf(http.StatusServiceUnavailable, "This server has no state to reset or snapshot.")
	}
	return *sc, nil
}

type snapshotOut struct {
	Name      string `json:"name"`
	CreatedAt string `json:"created_at"`
	Bytes     int64  `json:"bytes"`
	Refs      int    `json:"refs"`
}

func snapshotJSON(i SnapshotInfo) snapshotOut {
	return snapshotOut{Name: i.Name, CreatedAt: apiTime(i.CreatedAt), Bytes: i.Bytes, Refs: i.Refs}
}

type resetRequest struct {
	// Organization is the one to reset; empty resets the server.
	Organization string `json:"organization"`
}

// controlReset takes an organization, or the whole server, back to its
// first start, keeping every API key working.
func (s *Server) controlReset(w http.ResponseWriter, r *http.Request) error {
	var req resetRequest
	if err := decodeBody(r, &req); err != nil {
		return err
	}
	sc, err := s.state()
	if err != nil {
		return err
	}
	if err := sc.Reset(r.Context(), req.Organization); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

type snapshotRequest struct {
	Name string `json:"name"`
}

func (s *Server) controlCreateSnapshot(w http.ResponseWriter, r *http.Request) error {
	var req snapshotRequest
	if err := decodeBody(r, &req); err != nil {
		return err
	}
	sc, err := s.state()
	if err != nil {
		return err
	}
	info, err := sc.Snapshot(r.Context(), req.Name)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, snapshotJSON(info))
	return nil
}

func (s *Server) controlListSnapshots(w http.ResponseWriter, r *http.Request) error {
	sc, err := s.state()
	if err != nil {
		return err
	}
	infos, err := sc.Snapshots(r.Context())
	if err != nil {
		return err
	}
	out := make([]snapshotOut, len(infos))
	for i, info := range infos {
		out[i] = snapshotJSON(info)
	}
	writeJSON(w, http.StatusOK, map[string]any{"snapshots": out})
	return nil
}

func (s *Server) controlRestoreSnapshot(w http.ResponseWriter, r *http.Request) error {
	sc, err := s.state()
	if err != nil {
		return err
	}
	if err := sc.Restore(r.Context(), mux.Vars(r)["snapshot_name"]); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) controlDeleteSnapshot(w http.ResponseWriter, r *http.Request) error {
	sc, err := s.state()
	if err != nil {
		return err
	}
	if err := sc.DeleteSnapshot(r.Context(), mux.Vars(r)["snapshot_name"]); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

type clockOut struct {
	Now string `json:"now"`
	// Offset is how far the clock runs ahead of its base, as ISO 8601.
	Offset string `json:"offset"`
}

func (s *Server) clockJSON() clockOut {
	return clockOut{Now: apiTime(s.clock.Now()), Offset: duration.Format(s.clock.Offset())}
}

func (s *Server) controlGetClock(w http.ResponseWriter, r *http.Request) error {
	writeJSON(w, http.StatusOK, s.clockJSON())
	return nil
}

type advanceRequest struct {
	// Duration is ISO 8601, such as PT15M.
	Duration string `json:"duration"`
}

// controlAdvanceClock moves the server's clock forward: tokens, grants,
// links and keys expire, rate limits refill and retries come due at once.
func (s *Server) controlAdvanceClock(w http.ResponseWriter, r *http.Request) error {
	var req advanceRequest
	if err := decodeBody(r, &req); err != nil {
		return err
	}
	d, err := duration.Parse(req.Duration)
	if err != nil || d.Negative {
		return validationFailed(fieldError{Loc: []any{"body", "duration"}, Msg: "an ISO 8601 duration such as PT15M is expected",
			Type: "value_error", Input: req.Duration})
	}
	err = s.clock.Advance(d.ToTimeDuration())
	if errors.Is(err, clock.ErrNotForward) || errors.Is(err, clock.ErrTooFar) {
		return badRequest("The clock moves forward only, by a positive duration of at most 292 years in all.")
	}
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, s.clockJSON())
	return nil
}
