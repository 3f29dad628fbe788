package compadretest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"

	"github.com/compadre-dev/compadre/compadretest"
	"github.com/compadre-dev/compadre/store"
)

// benchAPI sends the administrator's JSON requests during a benchmark's
// set-up.
type benchAPI struct {
	srv   *compadretest.Server
	token string
}

func (a benchAPI) create(b *testing.B, path string, body any) string {
	b.Helper()
	raw, _ := json.Marshal(body)
	req, _ := http.NewRequest("POST", a.srv.BaseURL+"/v1/"+a.srv.Organization+path, bytes.NewReader(raw))
	req.Header.Set("Authorization", "Bearer "+a.token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	out := map[string]any{}
	_ = json.NewDecoder(resp.Body).Decode(&out)
	if resp.StatusCode != http.StatusCreated {
		b.Fatalf("POST %s: %d %v", path, resp.StatusCode, out)
	}
	id, _ := out["id"].(string)
	return id
}

// service creates an agent, a context graph and a service over them.
func (a benchAPI) service(b *testing.B) string {
	b.Helper()
	agent := a.create(b, "/organization/agent", map[string]any{"agent_name": "Bench"})
	a.create(b, "/organization/agent/"+agent+"/", map[string]any{
		"initials": "BE",
		"identity": map[string]any{"name": "Bench", "role": "Agent", "developed_by": "Example Inc.",
			"default_spoken_language": "eng", "relationship_to_developer": map[string]any{"ownership": "Example Inc.",
				"type": "assistant", "conversation_visibility": "visible", "thought_visibility": "hidden"}},
		"background": "Helps.", "behaviors": []any{}, "communication_patterns": []any{},
		"voice_config": map[string]any{"voice_id": "voice-1"},
	})
	const sm = "/organization/service_hierarchical_state_machine"
	graph := a.create(b, sm, map[string]any{"state_machine_name": "Bench"})
	state := func(name string, exits ...any) map[string]any {
		return map[string]any{"type": "action", "name": name, "objective": "Objective", "actions": []any{"Greet"},
			"intra_state_navigation_guidelines": []any{}, "action_guidelines": []any{}, "boundary_constraints": []any{},
			"exit_conditions": append([]any{}, exits...), "action_tool_call_specs": []any{},
			"exit_condition_tool_call_specs": []any{}, "skip_active_memory_retrieval": false}
	}
	a.create(b, sm+"/"+graph+"/", map[string]any{
		"description": "Bench.", "states": []any{state("start", map[string]any{"description": "Done", "next_state": "end"}), state("end")},
		"new_user_initial_state": "start", "returning_user_initial_state": "start", "terminal_state": "end",
		"references": map[string]any{}, "global_intra_state_navigation_guidelines": []any{},
		"global_action_guidelines": []any{}, "global_boundary_constraints": []any{},
	})
	return a.create(b, "/service/", map[string]any{"name": "Bench", "description": "Bench", "is_active": true,
		"agent_id": agent, "service_hierarchical_state_machine_id": graph, "keyterms": []any{}, "tags": map[string]any{}})
}

// seedLarge starts a server whose organization holds 1,000 users, 100
// published tools and 1,000 conversations (one per user, each with its
// opening message), written through the store for speed.
func seedLarge(b *testing.B) *compadretest.Server {
	b.Helper()
	srv := compadretest.Start(b)
	api := benchAPI{srv: srv, token: srv.SignIn(b)}
	service := api.service(b)
	ctx, st, org := context.Background(), srv.Store(), srv.Organization
	role, err := st.GetRoleByName(ctx, org, "DefaultUserRole")
	if err != nil {
		b.Fatal(err)
	}
	by := store.Actor{OrgID: org, UserID: srv.UserID}
	for i := range 100 {
		tool, err := st.CreateTool(ctx, store.Tool{OrgID: org, Name: fmt.Sprintf("tool-%d", i), Description: "d", Creator: by})
		if err != nil {
			b.Fatal(err)
		}
		_, err = st.PublishToolVersion(ctx, store.ToolVersion{OrgID: org, ToolID: tool.ID,
			InputSchema: json.RawMessage(`{"type":"object"}`), Entrypoint: "pkg.mod:run", Repo: "team",
			CommitHash: "0123456789012345678901234567890123456789", ProjectDirectory: "p", Creator: by},
			map[string][]byte{"pyproject.toml": []byte("[project]\nname = \"t\"\n"), "pkg/mod.py": []byte("def run():\n    return 1\n")},
			func(*[3]int) [3]int { return [3]int{1, 0, 0} })
		if err != nil {
			b.Fatal(err)
		}
	}
	for i := range 1000 {
		u, err := st.CreateUser(ctx, store.User{OrgID: org, RoleID: role.ID, FirstName: "F", LastName: "L",
			Email: fmt.Sprintf("user-%d@example.com", i), Preferences: store.DefaultPreferences()})
		if err != nil {
			b.Fatal(err)
		}
		_, err = st.CreateConversation(ctx, store.NewConversation{OrgID: org, UserID: u.ID, ServiceID: service,
			VersionSetName: "release", Initial: &store.Message{Sender: "agent", Message: "Welcome", Format: "text",
				MessageType: store.MessageAgent}})
		if err != nil {
			b.Fatal(err)
		}
	}
	return srv
}

// BenchmarkSnapshot measures taking a snapshot of the seeded server: the
// copy of the database, the refs, and the syncs that make it durable.
// Deleting it is not timed.
func BenchmarkSnapshot(b *testing.B) {
	srv := seedLarge(b)
	for b.Loop() {
		tb := &iterationTB{TB: b}
		srv.Snapshot(tb)
		b.StopTimer()
		tb.cleanup()
		b.StartTimer()
	}
}

// BenchmarkRestore measures restoring a snapshot of 1,000 users, 100
// tools and 1,000 conversations with no request in flight: closing the
// gate, pausing the workers, the refs and the database, and starting the
// workers again. The goal is under 50 ms.
func BenchmarkRestore(b *testing.B) {
	srv := seedLarge(b)
	seeded := srv.Snapshot(b)
	for b.Loop() {
		srv.Restore(b, seeded)
	}
}

// BenchmarkReset measures resetting the seeded server to its first
// start; each reset starts from a restore of the seeded state, which is
// not timed.
func BenchmarkReset(b *testing.B) {
	srv := seedLarge(b)
	seeded := srv.Snapshot(b)
	for b.Loop() {
		b.StopTimer()
		srv.Restore(b, seeded)
		b.StartTimer()
		srv.Reset(b)
	}
}
