package app

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/compadre-dev/compadre/store"
)

// seedLarge fills the first organization with 1,000 users, 100 published
// tools and 1,000 conversations (one per user, each with its opening
// message), written through the store for speed, and returns the server.
func seedLarge(b *testing.B) *snapServer {
	b.Helper()
	s := startSnapServer(b, Config{})
	ctx := context.Background()
	st, org := s.a.Store, s.creds.Organization
	admin, err := st.GetUser(ctx, org, s.creds.UserID)
	noErr(b, err)
	role, err := st.GetRoleByName(ctx, org, "DefaultUserRole")
	noErr(b, err)
	service := s.c.newService("Bench")
	by := store.Actor{OrgID: org, UserID: admin.ID}
	for i := range 100 {
		tool, err := st.CreateTool(ctx, store.Tool{OrgID: org, Name: fmt.Sprintf("tool-%d", i), Description: "d", Creator: by})
		noErr(b, err)
		_, err = st.PublishToolVersion(ctx, store.ToolVersion{OrgID: org, ToolID: tool.ID,
			InputSchema: json.RawMessage(`{"type":"object"}`), Entrypoint: "pkg.mod:run", Repo: "team",
			CommitHash: "0123456789012345678901234567890123456789", ProjectDirectory: "p", Creator: by},
			map[string][]byte{"pyproject.toml": []byte("[project]\nname = \"t\"\n"), "pkg/mod.py": []byte("def run():\n    return 1\n")},
			func(*[3]int) [3]int { return [3]int{1, 0, 0} })
		noErr(b, err)
	}
	for i := range 1000 {
		u, err := st.CreateUser(ctx, store.User{OrgID: org, RoleID: role.ID, FirstName: "F", LastName: "L",
			Email: fmt.Sprintf("user-%d@example.com", i), Preferences: store.DefaultPreferences()})
		noErr(b, err)
		_, err = st.CreateConversation(ctx, store.NewConversation{OrgID: org, UserID: u.ID, ServiceID: service,
			VersionSetName: "release", Initial: &store.Message{Sender: "agent", Message: "Welcome", Format: "text",
				MessageType: store.MessageAgent}})
		noErr(b, err)
	}
	return s
}

// BenchmarkSnapshot measures taking a snapshot of the seeded server: the
// copy of the database, the refs, and the syncs that make it durable.
func BenchmarkSnapshot(b *testing.B) {
	s := seedLarge(b)
	ctx := context.Background()
	for b.Loop() {
		if _, err := s.a.Snapshot(ctx, "bench"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRestore measures restoring a snapshot of 1,000 users, 100
// tools and 1,000 conversations while nothing else runs: closing the
// gate, stopping and restarting the workers, the refs and the database.
// The goal is under 50 ms.
func BenchmarkRestore(b *testing.B) {
	s := seedLarge(b)
	ctx := context.Background()
	_, err := s.a.Snapshot(ctx, "seeded")
	noErr(b, err)
	for b.Loop() {
		if err := s.a.Restore(ctx, "seeded"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkReset measures resetting the seeded organization; each reset
// starts from a restore of the seeded state, which is not timed.
func BenchmarkReset(b *testing.B) {
	s := seedLarge(b)
	ctx := context.Background()
	_, err := s.a.Snapshot(ctx, "seeded")
	noErr(b, err)
	for b.Loop() {
		b.StopTimer()
		if err := s.a.Restore(ctx, "seeded"); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		if err := s.a.Reset(ctx, s.creds.Organization); err != nil {
			b.Fatal(err)
		}
	}
}
