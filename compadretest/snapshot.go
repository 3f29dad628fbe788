package compadretest

import (
	"context"
	"fmt"
	"testing"
)

// Snapshot names a saved state of a Server, made by Server.Snapshot and
// put back by Server.Restore.
type Snapshot struct {
	srv  *Server
	name string
}

// Name is the snapshot's name on the server (under <DataDir>/snapshots).
func (s Snapshot) Name() string { return s.name }

// Snapshot saves the server's whole state (its database and its tool
// repository's branches and tags) and returns a value naming it, for
// Restore. Requests go on while it is taken. The snapshot is deleted when
// tb ends.
func (s *Server) Snapshot(tb testing.TB) Snapshot {
	tb.Helper()
	name := fmt.Sprintf("compadretest-%d", s.snapshots.Add(1))
	if _, err := s.app.Snapshot(context.Background(), name); err != nil {
		tb.Fatalf("compadretest: snapshot: %v", err)
	}
	tb.Cleanup(func() {
		if err := s.app.DeleteSnapshot(context.Background(), name); err != nil {
			tb.Errorf("compadretest: delete snapshot %s: %v", name, err)
		}
	})
	return Snapshot{srv: s, name: name}
}

// Restore puts the state saved in snap back: every record, and the tool
// repository's branches and tags, are as they were when it was taken.
// Requests in flight finish first; requests sent meanwhile wait and then
// see the restored state. Credentials that existed at the snapshot work
// again; those made since do not. Mail already sent stays in the sink.
func (s *Server) Restore(tb testing.TB, snap Snapshot) {
	tb.Helper()
	if snap.srv != s {
		tb.Fatalf("compadretest: restore: snapshot %q was taken on another server", snap.name)
	}
	if err := s.app.Restore(context.Background(), snap.name); err != nil {
		tb.Fatalf("compadretest: restore: %v", err)
	}
}

// Reset takes the server back to its first start: its organization holds
// only its built-in roles, its administrator, and the users API keys were
// made for (NewAPIKey), every key still signing in; organizations made
// since are deleted. The tool repository is left as it is.
func (s *Server) Reset(tb testing.TB) {
	tb.Helper()
	if err := s.app.Reset(context.Background(), ""); err != nil {
		tb.Fatalf("compadretest: reset: %v", err)
	}
}
