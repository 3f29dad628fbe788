package httpapi

import (
	"errors"
	"net/http"

	"github.com/gorilla/mux"

	a "github.com/compadre-dev/compadre/auth"
	"github.com/compadre-dev/compadre/engine"
	"github.com/compadre-dev/compadre/store"
)

// getInteractionInsights answers what the agent did in one interaction.
// Reflections are the conversation's messages, so they are left out for a
// caller without Conversation:GetMessage on it.
func (s *Server) getInteractionInsights(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	st := state(ctx)
	c, err := s.loadConversation(r, a.ConversationGetInteractionInsights)
	if err != nil {
		return err
	}
	in, err := s.store.GetInteraction(ctx, c.OrgID, c.ID, mux.Vars(r)["interaction_id"])
	if err != nil {
		return err
	}
	sm, err := s.store.GetStateMachine(ctx, c.OrgID, in.StateMachineID)
	if err != nil {
		return err
	}
	if err := st.allow(a.OrganizationGetStateMachine, stateMachineAttrs(sm)); err != nil {
		return err
	}
	insights, err := engine.ReadInsights(in)
	if err != nil {
		return err
	}
	if !a.Allowed(st.principal.Grants, a.ConversationGetMessage, conversationAttrs(c)) {
		insights.Reflections = []string{}
	}
	writeJSON(w, http.StatusOK, insights)
	return nil
}

type recommendRequest struct {
	Context *string `json:"context"`
}

// recommendResponses suggests what the user might say next, once the
// latest interaction of an open conversation has completed.
func (s *Server) recommendResponses(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	var req recommendRequest
	if err := decodeBody(r, &req); err != nil {
		return err
	}
	userContext := engine.DefaultRecommendContext
	if req.Context != nil {
		text, err := strippedNonEmpty(*req.Context, "body", "context")
		if err != nil {
			return err
		}
		userContext = text
	}
	c, err := s.loadConversation(r, a.ConversationGetRecommendedResponses)
	if err != nil {
		return err
	}
	if c.IsFinished {
		return badRequest("The conversation is finished; there is nothing to respond to.")
	}
	latest, err := s.store.LatestInteraction(ctx, c.OrgID, c.ID)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	if id := mux.Vars(r)["interaction_id"]; err != nil || latest.ID != id {
		return badRequest("Interaction " + id + " is not the latest completed interaction of the conversation.")
	}
	responses, err := s.engine.Recommend(ctx, c, latest.ID, userContext)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"recommended_responses": responses})
	return nil
}

type conversationStarterRequest struct {
	ServiceID              string   `json:"service_id"`
	ServiceVersionSetName  *string  `json:"service_version_set_name"`
	Facets                 []string `json:"facets"`
	MinCount               int      `json:"min_count"`
	MaxCount               int      `json:"max_count"`
	GenerationInstructions string   `json:"generation_instructions"`
}

type starterPrompt struct {
	Prompt string   `json:"prompt"`
	Facets []string `json:"facets"`
}

// generateConversationStarter writes openers for a conversation the caller
// could start with the service, so it needs what starting one needs.
func (s *Server) generateConversationStarter(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	st := state(ctx)
	var req conversationStarterRequest
	if err := decodeBody(r, &req); err != nil {
		return err
	}
	var f faults
	for i, facet := range req.Facets {
		req.Facets[i] = f.Stripped(facet, "body", "facets", i)
	}
	req.GenerationInstructions = f.Stripped(req.GenerationInstructions, "body", "generation_instructions")
	if err := f.Err(); err != nil {
		return err
	}
	if req.MinCount > req.MaxCount {
		return badRequest("min_count cannot be greater than max_count.")
	}
	attrs := a.Attributes{a.AttrOrgID: st.org.ID, a.AttrServiceID: req.ServiceID, a.AttrUserID: st.principal.UserID}
	if err := st.allow(a.ConversationCreateConversation, attrs); err != nil {
		return err
	}
	n := store.NewConversation{OrgID: st.org.ID, UserID: st.principal.UserID, ServiceID: req.ServiceID,
		VersionSetName: store.ReleaseVersionSet}
	if req.ServiceVersionSetName != nil {
		n.VersionSetName = *req.ServiceVersionSetName
	}
	c, err := s.store.HypotheticalConversation(ctx, n)
	if err != nil {
		return err
	}
	starters, err := s.engine.Starters(ctx, engine.StarterRequest{OrgID: st.org.ID, Conversation: c, Facets: req.Facets,
		Min: req.MinCount, Max: req.MaxCount, Instructions: req.GenerationInstructions})
	if err != nil {
		return err
	}
	out := make([]starterPrompt, len(starters))
	for i, p := range starters {
		out[i] = starterPrompt{Prompt: p.Prompt, Facets: p.Facets}
	}
	writeJSON(w, http.StatusOK, map[string]any{"prompts": out})
	return nil
}

// retrieveMessageSource answers where a voice message's audio can be
// downloaded; a text message has none.
func (s *Server) retrieveMessageSource(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	c, err := s.loadConversation(r, a.ConversationGetMessage)
	if err != nil {
		return err
	}
	id := mux.Vars(r)["message_id"]
	msgs, _, err := s.store.ListMessages(ctx, c.OrgID, c.ID, store.MessageFilter{IDs: []string{id}, Limit: 1})
	if err != nil {
		return err
	}
	if len(msgs) == 0 {
		return notFound("Message " + id + " not found.")
	}
	m := msgs[0]
	if m.SourceBlobID == nil {
		return badRequest("The message is a text message; only messages that did not originate as text have a source.")
	}
	return s.writeMessageSource(w, r, m)
}
