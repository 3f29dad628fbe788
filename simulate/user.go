package simulate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/compadre-dev/compadre/engine"
	"github.com/compadre-dev/compadre/llm"
	"github.com/compadre-dev/compadre/store"
)

// PurposeSimulateUser is the purpose of a simulated user's call for its
// next message.
const PurposeSimulateUser = "simulate-user"

// simulatedUser is a persona following a scenario, played by the model.
// Under the built-in provider it says the scenario's instructions one
// line a turn, in order, and repeats the last line once they run out: the
// call's Guidance is that line, which the built-in provider says as it
// is. A real model reads the persona, the scenario and the conversation,
// and writes the message itself.
type simulatedUser struct {
	r              *Runner
	spec           Spec
	orgID          string
	conversationID string
	logPrefix      string
	seed           uint64
	turns          int
}

// lines are the scenario's instructions, one non-blank line each.
func (u *simulatedUser) lines() []string {
	var out []string
	for _, l := range strings.Split(u.spec.Scenario.Instructions, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}

// sender is the name the persona's messages are shown under.
func (u *simulatedUser) sender(kind string) string {
	if kind == engine.InputExternalEvent {
		return "External event"
	}
	return u.spec.Persona.Name
}

// say returns the persona's next message, given the conversation so far
// (nil before it starts), and records the call in the prompt log.
func (u *simulatedUser) say(ctx context.Context, history []store.Message) (string, error) {
	lines := u.lines()
	guidance := ""
	if len(lines) > 0 {
		guidance = lines[min(u.turns, len(lines)-1)]
	}
	u.turns++
	msgs := []llm.Message{{Role: "system", Content: u.instructions()}}
	subject := ""
	for _, m := range history {
		switch m.MessageType {
		case store.MessageAgent:
			msgs = append(msgs, llm.Message{Role: "user", Content: m.Message})
			subject = m.Message
		case store.MessageUser:
			msgs = append(msgs, llm.Message{Role: "assistant", Content: m.Message})
		}
	}
	msgs = append(msgs, llm.Message{Role: "system", Content: "Write your next message to the agent, and nothing else."})
	c := llm.Call{Purpose: PurposeSimulateUser, Kind: llm.Text, Messages: msgs, Guidance: guidance, Subject: subject,
		Seed: u.seed}
	cctx, cancel := context.WithTimeout(ctx, u.r.cfg.ModelTimeout)
	ans, err := u.r.cfg.Model.Complete(cctx, c)
	cancel()
	prompt, _ := json.Marshal(msgs)
	conv := u.conversationID
	log := store.PromptLog{OrgID: u.orgID, Key: fmt.Sprintf("%suser/%02d-%s", u.logPrefix, u.turns, c.Purpose),
		ConversationID: &conv, Purpose: c.Purpose, Model: ans.Model, Prompt: prompt, Completion: ans.Completion,
		CreatedAt: u.r.cfg.Clock.Now()}
	if log.Model == "" {
		log.Model = u.r.cfg.Model.Name()
	}
	text := strings.TrimSpace(ans.Text)
	if err == nil && text == "" {
		err = errors.New("the simulated user said nothing")
	}
	if err != nil {
		log.Error = err.Error()
	}
	if lerr := u.r.cfg.Store.RecordPromptLogs(context.WithoutCancel(ctx), []store.PromptLog{log}); lerr != nil {
		return "", lerr
	}
	if err != nil {
		if ctx.Err() != nil {
			return "", ctx.Err()
		}
		return "", fmt.Errorf("the simulated user's model failed: %v", err)
	}
	return text, nil
}

// instructions tell a model who it plays and what it wants.
func (u *simulatedUser) instructions() string {
	p, s := u.spec.Persona, u.spec.Scenario
	var b strings.Builder
	b.WriteString("You play a user talking with an AI agent, to test the agent. Stay in your role; never say you are " +
		"simulated.\n")
	fmt.Fprintf(&b, "Your name: %s\nYour role: %s\nYour background: %s\n", p.Name, p.Role, p.Background)
	if len(p.UserModels) > 0 {
		b.WriteString("What is known about you:\n")
		for _, m := range p.UserModels {
			b.WriteString("- " + m + "\n")
		}
	}
	if p.PreferredLanguage != nil {
		b.WriteString("Write in the language whose ISO 639-3 code is " + *p.PreferredLanguage + ".\n")
	}
	if p.Timezone != nil {
		b.WriteString("Your time zone: " + *p.Timezone + ".\n")
	}
	fmt.Fprintf(&b, "Your objective: %s\nHow to behave: %s\n", s.Objective, s.Instructions)
	b.WriteString("When your objective is met, say goodbye.")
	return b.String()
}
