package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"testing"
	"time"
)

func firstVersion(latest *[3]int) [3]int {
	if latest == nil {
		return [3]int{1, 0, 0}
	}
	return [3]int{latest[0], latest[1], latest[2] + 1}
}

func publish(t *testing.T, s *Store, orgID, toolID string, env ...string) ToolVersion {
	t.Helper()
	v, err := s.PublishToolVersion(context.Background(), ToolVersion{
		OrgID: orgID, ToolID: toolID, RequiredEnvVars: env, InputSchema: json.RawMessage(`{"type":"object"}`),
		Entrypoint: "pkg.mod:run", Repo: "team", CommitHash: "abc", ProjectDirectory: "p",
		Creator: Actor{OrgID: orgID, UserID: "u"},
	}, map[string][]byte{"pyproject.toml": []byte("x"), "pkg/mod.py": []byte("y")}, firstVersion)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestToolNamesAreUniqueAmongLiveTools(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	newOrg(t, s, "a")
	newOrg(t, s, "b")
	by := Actor{OrgID: "a", UserID: "u"}
	first, err := s.CreateTool(ctx, Tool{OrgID: "a", Name: "weather", Description: "d", Creator: by})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateTool(ctx, Tool{OrgID: "a", Name: "weather", Description: "d", Creator: by}); !errors.Is(err, ErrConflict) {
		t.Fatalf("second live tool with the name: got %v, want ErrConflict", err)
	}
	if _, err := s.CreateTool(ctx, Tool{OrgID: "b", Name: "weather", Description: "d", Creator: by}); err != nil {
		t.Fatalf("same name in another organization: %v", err)
	}
	if err := s.DeprecateTool(ctx, "a", first.ID, by); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateTool(ctx, Tool{OrgID: "a", Name: "weather", Description: "d", Creator: by}); err != nil {
		t.Fatalf("name of a deprecated tool: %v", err)
	}
	if _, err := s.GetTool(ctx, "b", first.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("org b reading org a's tool: got %v, want ErrNotFound", err)
	}
}

func TestToolEnvVarRules(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	s, err := Open(ctx, t.TempDir()+"/t.db", WithClock(func() time.Time { return now }))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	newOrg(t, s, "a")
	by := Actor{OrgID: "a", UserID: "u"}
	tool, err := s.CreateTool(ctx, Tool{OrgID: "a", Name: "t", Description: "d", Creator: by})
	if err != nil {
		t.Fatal(err)
	}
	window := 5 * time.Minute
	change := func(c EnvVarChanges) error {
		c.ReuseAfter = window
		return s.ModifyToolEnvVars(ctx, "a", tool.ID, by, c)
	}
	if err := change(EnvVarChanges{Inserts: []EnvVar{{Name: "A", Value: []byte("1")}, {Name: "S", Value: []byte("x"), IsSecret: true}}}); err != nil {
		t.Fatal(err)
	}
	var rule *RuleError
	cases := []struct {
		name   string
		change EnvVarChanges
		check  func(error) bool
	}{
		{"insert existing", EnvVarChanges{Inserts: []EnvVar{{Name: "A"}}}, func(err error) bool { return errors.Is(err, ErrConflict) }},
		{"update unknown", EnvVarChanges{Updates: []EnvVar{{Name: "B"}}}, func(err error) bool { return errors.As(err, &rule) }},
		{"delete unknown", EnvVarChanges{Deletes: []string{"B"}}, func(err error) bool { return errors.As(err, &rule) }},
		{"all or nothing", EnvVarChanges{Inserts: []EnvVar{{Name: "C"}}, Deletes: []string{"B"}}, func(err error) bool { return errors.As(err, &rule) }},
	}
	for _, c := range cases {
		if err := change(c.change); !c.check(err) {
			t.Errorf("%s: got %v", c.name, err)
		}
	}
	if got, _ := s.GetTool(ctx, "a", tool.ID); len(got.EnvVars) != 2 {
		t.Fatalf("after refused changes the tool has %v, want A and S", got.EnvVars)
	}

	publish(t, s, "a", tool.ID, "A")
	if err := change(EnvVarChanges{Deletes: []string{"A"}}); !errors.As(err, &rule) {
		t.Errorf("deleting a variable a live version requires: got %v, want a RuleError", err)
	}
	if err := change(EnvVarChanges{Deletes: []string{"S"}}); err != nil {
		t.Fatal(err)
	}
	now = now.Add(window - time.Second)
	if err := change(EnvVarChanges{Inserts: []EnvVar{{Name: "S"}}}); !errors.Is(err, ErrConflict) {
		t.Errorf("reinserting within the window: got %v, want ErrConflict", err)
	}
	now = now.Add(time.Second)
	if err := change(EnvVarChanges{Inserts: []EnvVar{{Name: "S", Value: []byte("new")}}}); err != nil {
		t.Errorf("reinserting after the window: %v", err)
	}
	vals, err := s.ToolEnvValues(ctx, "a", tool.ID)
	if err != nil || len(vals) != 2 || string(vals[1].Value) != "new" || vals[1].IsSecret {
		t.Errorf("values after the changes: %+v, %v", vals, err)
	}
}

func TestPublishLimitsAndSnapshot(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	newOrg(t, s, "a")
	by := Actor{OrgID: "a", UserID: "u"}
	tool, err := s.CreateTool(ctx, Tool{OrgID: "a", Name: "t", Description: "d", Creator: by})
	if err != nil {
		t.Fatal(err)
	}
	var versions []ToolVersion
	for range MaxActiveToolVersions {
		versions = append(versions, publish(t, s, "a", tool.ID))
	}
	if v := versions[2]; v.Major != 1 || v.Patch != 2 || v.LambdaVersion != 3 {
		t.Errorf("third version %d.%d.%d lambda %d, want 1.0.2 lambda 3", v.Major, v.Minor, v.Patch, v.LambdaVersion)
	}
	_, err = s.PublishToolVersion(ctx, ToolVersion{OrgID: "a", ToolID: tool.ID, Creator: by}, nil, firstVersion)
	var rule *RuleError
	if !errors.As(err, &rule) {
		t.Fatalf("fourth active version: got %v, want a RuleError", err)
	}
	if err := s.DeprecateToolVersions(ctx, "a", tool.ID, []string{versions[0].ID}, by); err != nil {
		t.Fatal(err)
	}
	if v := publish(t, s, "a", tool.ID); v.Patch != 3 {
		t.Errorf("after deprecating one the next is 1.0.%d, want 1.0.3", v.Patch)
	}
	files, err := s.ToolVersionFiles(ctx, "a", versions[1].ID)
	if err != nil || string(files["pkg/mod.py"]) != "y" || len(files) != 2 {
		t.Fatalf("snapshot: %v, %v", files, err)
	}
	_, err = s.write.ExecContext(ctx, `UPDATE tool_version_files SET content = 'z' WHERE version_id = ?`, versions[1].ID)
	if err == nil {
		t.Error("a version's files could be changed")
	}
	if err := s.DeprecateTool(ctx, "a", tool.ID, by); err != nil {
		t.Fatal(err)
	}
	all, _ := s.ListToolVersions(ctx, "a", tool.ID)
	for _, v := range all {
		if !v.Deprecated {
			t.Errorf("version %d.%d.%d is live after the tool was deprecated", v.Major, v.Minor, v.Patch)
		}
	}
	if _, err := s.PublishToolVersion(ctx, ToolVersion{OrgID: "a", ToolID: tool.ID, Creator: by}, nil, firstVersion); !errors.Is(err, ErrNotFound) {
		t.Errorf("publishing to a deprecated tool: got %v, want ErrNotFound", err)
	}
}

func TestInvocationSearch(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	newOrg(t, s, "a")
	newOrg(t, s, "b")
	by := Actor{OrgID: "a", UserID: "u"}
	tool, _ := s.CreateTool(ctx, Tool{OrgID: "a", Name: "t", Description: "d", Creator: by})
	v := publish(t, s, "a", tool.ID)
	conv := "c1"
	_, err := s.RecordToolInvocations(ctx, []ToolInvocation{
		{OrgID: "a", ToolID: tool.ID, VersionID: v.ID, Major: 1, SourceType: SourceRegularConversation,
			Inputs: json.RawMessage(`{}`), Succeeded: true, Output: "sunny in zurich", Logs: []string{"token-ab12 seen"}},
		{OrgID: "a", ToolID: tool.ID, VersionID: v.ID, Major: 1, SourceType: SourceSimulationConversation,
			ConversationID: &conv, Inputs: json.RawMessage(`{}`), ExceptionType: "ValueError",
			ExceptionMessage: "bad city \"x\"", StackTrace: []string{"Traceback", "  File zurich.py"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		query  string
		fields []string
		want   int
	}{
		{"zurich", nil, 2},
		{"zurich", []string{"invocation_status.output"}, 1},
		{"zurich", []string{"invocation_status.exception_stack_trace"}, 1},
		{"token-ab12", nil, 1},
		{`city "x"`, []string{"invocation_status.exception_message"}, 1},
		{"ValueError", []string{"invocation_status.exception_type"}, 1},
		{"sunny rain", nil, 0},
		{"OR AND NOT", nil, 0},
		{"   ", nil, 0},
		{"zurich - ???", nil, 2},
		{"zurich\x00 \x0c\u00b4\"", nil, 2},
	}
	for _, c := range cases {
		got, err := s.SearchToolInvocations(ctx, "a", c.query, c.fields, InvocationFilter{})
		if err != nil || len(got) != c.want {
			t.Errorf("search %q in %v: %d results (%v), want %d", c.query, c.fields, len(got), err, c.want)
		}
	}
	if got, _ := s.SearchToolInvocations(ctx, "b", "zurich", nil, InvocationFilter{}); len(got) != 0 {
		t.Errorf("org b finds org a's invocations: %d", len(got))
	}
	f := false
	if got, _ := s.SearchToolInvocations(ctx, "a", "zurich", nil, InvocationFilter{Succeeded: &f}); len(got) != 1 || got[0].Succeeded {
		t.Errorf("search with succeeded=false: %+v", got)
	}
	list, more, err := s.ListToolInvocations(ctx, "a", InvocationFilter{ConversationIDs: []string{"c1"}, Limit: 10})
	if err != nil || more || len(list) != 1 || list[0].StackTrace[1] != "  File zurich.py" {
		t.Errorf("list by conversation: %+v %v %v", list, more, err)
	}
	list, _, _ = s.ListToolInvocations(ctx, "a", InvocationFilter{Versions: []VersionRef{}, Limit: 10})
	if len(list) != 0 {
		t.Errorf("an empty version set matches %d", len(list))
	}
	// Deleting the organization removes its invocations from the index too.
	if _, err := s.write.ExecContext(ctx, `DELETE FROM organizations WHERE id = 'a'`); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := s.read.QueryRowContext(ctx, `SELECT count(*) FROM tool_invocations_fts WHERE tool_invocations_fts MATCH 'zurich'`).Scan(&n); err != nil && !errors.Is(err, sql.ErrNoRows) {
		t.Fatal(err)
	}
	if n != 0 {
		t.Errorf("%d index entries outlive their invocations", n)
	}
}
