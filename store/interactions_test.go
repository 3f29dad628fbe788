package store

import (
	"context"
	"encoding/json"
	"testing"
)

// TestCommitTurnRecordsInvocations: a turn writes the dynamic behavior
// invocations it carries with its interaction, leaving out one whose set
// version is gone, and a turn that fails writes none.
func TestCommitTurnRecordsInvocations(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	admin := newOrg(t, s, "a")
	by := Actor{OrgID: "a", UserID: admin.ID}
	set, err := s.CreateDynamicBehaviorSet(ctx, DynamicBehaviorSet{OrgID: "a", Name: "Refunds", IsActive: true, Creator: by},
		DynamicBehaviorSetVersion{ConversationTriggers: []string{"refund"}, Actions: json.RawMessage(`[]`), Creator: by})
	if err != nil {
		t.Fatal(err)
	}
	conv := Conversation{ID: NewID(), OrgID: "a", UserID: admin.ID, ServiceID: "svc", EngineState: json.RawMessage(`{}`)}
	turn := func(after int, versions ...int) Turn {
		msg := Message{ID: NewID(), Sender: "A", Message: "refund", Format: "text", MessageType: MessageUser, CreatedAt: s.now()}
		tr := Turn{OrgID: "a", ConversationID: conv.ID, After: after, Messages: []Message{msg},
			Interaction: Interaction{ID: NewID(), Insights: json.RawMessage(`{}`)}, EngineState: json.RawMessage(`{}`)}
		for _, v := range versions {
			tr.Invocations = append(tr.Invocations, DynamicBehaviorInvocation{ServiceID: "svc", UserID: admin.ID,
				SetID: set.ID, SetVersion: v, InitialMessageID: msg.ID})
		}
		return tr
	}
	first := turn(0, 1, 2)
	first.New = &conv
	if err := s.CommitTurn(ctx, first); err != nil {
		t.Fatal(err)
	}
	// A turn that loses its race (it began before the first committed)
	// keeps nothing.
	if err := s.CommitTurn(ctx, turn(0, 1)); err == nil {
		t.Fatal("a stale turn committed")
	}
	invs, _, err := s.ListDynamicBehaviorInvocations(ctx, "a", set.ID, DynamicBehaviorInvocationFilter{Limit: -1})
	if err != nil {
		t.Fatal(err)
	}
	if len(invs) != 1 {
		t.Fatalf("got %d invocations, want 1 (version 2 does not exist, the stale turn failed): %+v", len(invs), invs)
	}
	if inv := invs[0]; inv.ConversationID != conv.ID || inv.SetVersion != 1 || inv.InitialMessageID != first.Messages[0].ID ||
		inv.InvokedAt.IsZero() || inv.AgentInnerThoughtsIDs == nil || inv.ExternalEventMessageIDs == nil {
		t.Errorf("got %+v", inv)
	}
}
