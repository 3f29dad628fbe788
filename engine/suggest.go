package engine

import (
	"context"
	"fmt"
	"strings"

	"github.com/compadre-dev/compadre/config"
	"github.com/compadre-dev/compadre/llm"
	"github.com/compadre-dev/compadre/store"
)

// DefaultRecommendContext is the persona and scenario recommendations are
// written for when the caller gives none, as the reference words it.
const DefaultRecommendContext = "PERSONA:\nName: User\nBackground: A typical person seeking this service.\n---\n" +
	"SCENARIO:\nName: Complete Service\nObjective: Successfully complete the service interaction.\n" +
	"Instructions: Engage naturally with the agent to accomplish your goals."

// Recommend writes replies the user might send next in the conversation,
// as the user described by userContext. Its guidance is one reply per exit
// condition of the state the conversation is in (what the user could do
// to move it on), and a reply asking for more: the built-in model answers
// exactly those.
// The prompt is logged under the interaction recommended for.
func (e *Engine) Recommend(ctx context.Context, c store.Conversation, interactionID, userContext string) ([]string, error) {
	t, err := e.newTurn(ctx, c, nil, Run{}, func(Event) error { return nil }, false)
	if err != nil {
		return nil, err
	}
	t.interactionID, t.logTag = interactionID, "recommend-"+store.NewID()+"-"
	if err := t.start(); err != nil {
		return nil, err
	}
	var lines []string
	if s, ok := t.g.states[t.pos.State].(*config.ActionState); ok {
		for _, ec := range s.ExitConditions {
			lines = append(lines, userReply(ec.Description))
		}
	}
	lines = append(lines, "Could you tell me more about that?")
	ans, err := t.ask(llm.Call{Purpose: llm.PurposeRecommendResponses, Kind: llm.Text,
		Guidance: strings.Join(lines, "\n"), Messages: t.prompt(t.pos.State, "You are the user of this conversation:\n"+
			userContext+"\nWrite up to three replies the user might send next, one a line.")})
	// The prompt is kept whether or not the model answered.
	if lerr := e.cfg.Store.RecordPromptLogs(context.WithoutCancel(ctx), t.prompts); lerr != nil {
		return nil, lerr
	}
	if err != nil {
		return nil, err
	}
	return nonEmptyLines(ans.Text), nil
}

// userReply turns an exit condition ("The user asks about billing") into
// something the user could say ("I ask about billing."): the subject
// becomes "I" and its verb agrees, by rule rather than understanding.
func userReply(condition string) string {
	s := strings.TrimSpace(condition)
	for _, p := range []string{"The user ", "the user ", "User ", "user "} {
		rest, ok := strings.CutPrefix(s, p)
		if !ok {
			continue
		}
		verb, tail, _ := strings.Cut(rest, " ")
		switch {
		case verb == "is":
			verb = "am"
		case verb == "has":
			verb = "have"
		case verb == "does":
			verb = "do"
		case strings.HasSuffix(verb, "ies") && len(verb) > 3:
			verb = strings.TrimSuffix(verb, "ies") + "y"
		case strings.HasSuffix(verb, "es") && strings.ContainsAny(verb[max(0, len(verb)-4):len(verb)-2], "sxz") ||
			strings.HasSuffix(verb, "ches") || strings.HasSuffix(verb, "shes"):
			verb = strings.TrimSuffix(verb, "es")
		case strings.HasSuffix(verb, "s") && !strings.HasSuffix(verb, "ss"):
			verb = strings.TrimSuffix(verb, "s")
		}
		out := "I " + verb
		if tail != "" {
			out += " " + tail
		}
		return strings.TrimSuffix(out, ".") + "."
	}
	return s
}

// Starter is a generated conversation opener and the facets it is about.
type Starter struct {
	Prompt string
	Facets []string
}

// StarterRequest asks for openers a user could start a conversation of the
// service with.
type StarterRequest struct {
	OrgID        string
	Conversation store.Conversation
	Facets       []string
	Min, Max     int
	Instructions string
}

// Starters writes between Min and Max openers, cycling through the facets
// so each is about one of them: as many as there are facets, within the
// bounds.
func (e *Engine) Starters(ctx context.Context, req StarterRequest) ([]Starter, error) {
	n := min(max(len(req.Facets), req.Min), req.Max)
	t, err := e.newTurn(ctx, req.Conversation, nil, Run{}, func(Event) error { return nil }, true)
	if err != nil {
		return nil, err
	}
	if err := t.start(); err != nil {
		return nil, err
	}
	out := make([]Starter, 0, n)
	for i := range n {
		facet := req.Facets[i%len(req.Facets)]
		ans, err := t.askOutside(llm.Call{Purpose: "conversation-starter", Kind: llm.Text,
			Guidance: fmt.Sprintf("I would like help with %s.", facet),
			Messages: t.prompt(t.pos.State, fmt.Sprintf("Write one message a user might open a conversation with, about %q. %s",
				facet, req.Instructions))})
		if err != nil {
			return nil, err
		}
		out = append(out, Starter{Prompt: strings.TrimSpace(ans.Text), Facets: []string{facet}})
	}
	return out, nil
}

// askOutside asks the model outside any conversation (conversation
// starters): there is nothing to log the prompt under.
func (t *turn) askOutside(c llm.Call) (llm.Answer, error) {
	ans, err := t.ask(c)
	t.prompts = nil
	return ans, err
}
