package httpapi_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/compadre-dev/compadre/store"
)

// TestCommitTurnRefusals writes turns straight to the store of a
// conversation opened through the API: a turn that lost a race, one for a
// finished conversation and one for a conversation that does not exist
// are refused and write nothing; the turn in sequence is kept.
func TestCommitTurnRefusals(t *testing.T) {
	t.Parallel()
	srv, c := newTestServer(t)
	svc := c.talkingService(t, "Chat", chatGraph())
	convID := c.open(t, "", map[string]any{"service_id": svc}).events[0]["conversation_id"].(string)
	st := srv.Store()
	ctx := context.Background()
	conv, err := st.GetConversation(ctx, srv.Organization, convID)
	if err != nil {
		t.Fatal(err)
	}
	turn := func(id string, after int, finish bool) store.Turn {
		interaction := store.NewID()
		return store.Turn{OrgID: srv.Organization, ConversationID: id, After: after, Finish: finish,
			Interaction: store.Interaction{ID: interaction, StateMachineID: conv.StateMachineID,
				StateMachineVersion: conv.StateMachineVersion, Insights: []byte(`{}`)},
			Messages: []store.Message{{ID: store.NewID(), InteractionID: interaction, Sender: "Agent", Message: "Hi",
				Format: "text", MessageType: store.MessageAgent, CreatedAt: time.Now()}},
			EngineState: conv.EngineState}
	}
	busy := func(rule store.Rule) func(error) bool {
		return func(err error) bool {
			var ce *store.ConflictError
			return errors.As(err, &ce) && ce.Rule == rule
		}
	}
	// In order: each row sees the conversation the rows before it left.
	for _, tc := range []struct {
		name     string
		turn     store.Turn
		want     func(error) bool
		messages int
	}{
		{"lost a race", turn(convID, conv.Interactions-1, false), busy(store.RuleBusy), conv.NumMessages},
		{"no such conversation", turn(store.NewID(), 0, false), func(err error) bool {
			var nf *store.NotFoundError
			return errors.As(err, &nf)
		}, conv.NumMessages},
		{"in sequence, finishing", turn(convID, conv.Interactions, true), func(err error) bool { return err == nil },
			conv.NumMessages + 1},
		{"finished", turn(convID, conv.Interactions+1, false), busy(store.RuleFinished), conv.NumMessages + 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := st.CommitTurn(ctx, tc.turn); !tc.want(err) {
				t.Errorf("got error %v", err)
			}
			got, err := st.GetConversation(ctx, srv.Organization, convID)
			if err != nil {
				t.Fatal(err)
			}
			if got.NumMessages != tc.messages || got.Interactions != conv.Interactions+tc.messages-conv.NumMessages {
				t.Errorf("got %d messages and %d interactions, want %d and %d", got.NumMessages, got.Interactions,
					tc.messages, conv.Interactions+tc.messages-conv.NumMessages)
			}
		})
	}
}
