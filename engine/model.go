package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode"

	"github.com/compadre-dev/compadre/llm"
	"github.com/compadre-dev/compadre/store"
)

// ask puts a call to the model, bounded by the model timeout, and records
// the prompt and what came back (or the failure) in the prompt log.
func (t *turn) ask(c llm.Call) (llm.Answer, error) {
	c.Seed, c.Subject = t.conv.Seed, t.subject
	if pref, ok := preferred(t.conv.LLMModelPreferences, c.Purpose); ok {
		c.Model, c.Params = pref.LLMName, llm.ParseParams(pref.Params)
	}
	ans, err := t.e.complete(t.ctx, c)
	prompt, _ := json.Marshal(c.Messages)
	conv, inter := t.conv.ID, t.interactionID
	log := store.PromptLog{OrgID: t.conv.OrgID, ConversationID: &conv, InteractionID: &inter, Purpose: c.Purpose,
		Model: ans.Model, Prompt: prompt, Completion: ans.Completion, CreatedAt: t.now(),
		Key: fmt.Sprintf("%sconversation/%s/interaction/%s/%s%02d-%s", t.run.LogPrefix, conv, inter, t.logTag,
			len(t.prompts)+1, c.Purpose)}
	if log.Model == "" {
		log.Model = t.e.cfg.Model.Name()
	}
	if err != nil {
		log.Error = err.Error()
	}
	t.prompts = append(t.prompts, log)
	if err != nil {
		return llm.Answer{}, t.e.modelFailure(t.ctx, c.Purpose, err)
	}
	return ans, nil
}

// preferred is the model preference a conversation's version set gives
// for calls of purpose. Preferences are keyed by the calls' purposes
// ("engage-user"), or by the same with underscores ("engage_user"), as the
// hosted API spells its interaction names. See DECISIONS.md, "Which calls
// does a version set's model preference steer?".
func preferred(prefs map[string]store.LLMConfig, purpose string) (store.LLMConfig, bool) {
	if pref, ok := prefs[purpose]; ok {
		return pref, true
	}
	pref, ok := prefs[strings.ReplaceAll(purpose, "-", "_")]
	return pref, ok
}

// complete puts a call to the model, bounded by the model timeout.
func (e *Engine) complete(ctx context.Context, c llm.Call) (llm.Answer, error) {
	ctx, cancel := context.WithTimeout(ctx, e.cfg.ModelTimeout)
	defer cancel()
	return e.cfg.Model.Complete(ctx, c)
}

// modelFailure is what a failed call for purpose becomes: the caller's
// own end when ctx ended, else a *Failure saying whether the model failed
// or was too slow.
func (e *Engine) modelFailure(ctx context.Context, purpose string, err error) error {
	switch {
	case ctx.Err() != nil:
		return ctx.Err()
	case errors.Is(err, context.DeadlineExceeded):
		return &Failure{ModelTimedOut, fmt.Sprintf(
			"The language model did not answer within %s (%s)", e.cfg.ModelTimeout, purpose)}
	}
	return &Failure{ModelFailed, fmt.Sprintf("The language model failed (%s): %v", purpose, err)}
}

// prompt renders the messages a model reads for a decision in state: who
// the agent is, where it is, what it keeps from earlier tool calls, the
// conversation so far, and the task.
func (t *turn) prompt(state, task string) []llm.Message {
	var b strings.Builder
	a := t.agent
	fmt.Fprintf(&b, "You are %s, %s, developed by %s.\n", t.agentName(), a.Identity.Role, a.Identity.DevelopedBy)
	if a.Background != "" {
		b.WriteString("Background: " + a.Background + "\n")
	}
	writeList(&b, "Behaviors", a.Behaviors)
	writeList(&b, "Communication patterns", a.CommunicationPatterns)
	spec := t.g.spec
	fmt.Fprintf(&b, "Context: %s\nCurrent state: %s\n", spec.Description, state)
	writeList(&b, "Global action guidelines", spec.GlobalActionGuidelines)
	writeList(&b, "Global boundary constraints", spec.GlobalBoundaryConstraints)
	t.writeBehavior(&b)
	if len(t.pos.Kept) > 0 {
		b.WriteString("Results of earlier tool calls:\n")
		for _, k := range t.pos.Kept {
			b.WriteString("- " + k.Tool + ": " + k.Output + "\n")
		}
	}
	msgs := append([]llm.Message{{Role: "system", Content: strings.TrimSpace(b.String())}}, t.history...)
	return append(msgs, llm.Message{Role: "system", Content: task})
}

func writeList(b *strings.Builder, title string, items []string) {
	if len(items) == 0 {
		return
	}
	b.WriteString(title + ":\n")
	for _, it := range items {
		b.WriteString("- " + it + "\n")
	}
}

// wordSet is the lower-cased words of s.
func wordSet(s string) map[string]bool {
	out := map[string]bool{}
	for _, w := range strings.FieldsFunc(strings.ToLower(s), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r)
	}) {
		if len(w) >= 3 {
			out[w] = true
		}
	}
	return out
}

// limitWords cuts s to at most n words; n <= 0 leaves it whole.
func limitWords(s string, n int) string {
	words := strings.Fields(s)
	if n <= 0 || len(words) <= n {
		return strings.TrimSpace(s)
	}
	return strings.Join(words[:n], " ")
}

func nonEmptyLines(s string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}

// fragments cuts a message into the pieces it streams as: sentences,
// each with the space that follows it, so the pieces join to the message.
func fragments(s string) []string {
	var out []string
	start := 0
	for i, r := range s {
		if (r == '.' || r == '!' || r == '?') && i+1 < len(s) && s[i+1] == ' ' {
			out = append(out, s[start:i+2])
			start = i + 2
		}
	}
	if start < len(s) {
		out = append(out, s[start:])
	}
	if len(out) == 0 {
		out = []string{s}
	}
	return out
}
