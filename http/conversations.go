package httpapi

import (
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/gorilla/mux"

	a "github.com/compadre-dev/compadre/auth"
	"github.com/compadre-dev/compadre/engine"
	"github.com/compadre-dev/compadre/store"
)

func conversationAttrs(c store.Conversation) a.Attributes {
	return a.Attributes{a.AttrOrgID: c.OrgID, a.AttrConversationID: c.ID, a.AttrServiceID: c.ServiceID, a.AttrUserID: c.UserID}
}

type createConversationRequest struct {
	ServiceID             string             `json:"service_id"`
	ServiceVersionSetName *string            `json:"service_version_set_name"`
	InitialMessage        *string            `json:"initial_message"`
	InitialMessageType    *string            `json:"initial_message_type"`
	Tags                  map[string]*string `json:"tags"`
}

// createConversation starts a conversation and streams its opening turn
// as newline-delimited JSON: conversation-created, the agent's actions,
// its first message, interaction-complete. The conversation is written
// with that turn; if the turn fails, nothing is kept.
func (s *Server) createConversation(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	st := state(ctx)
	var req createConversationRequest
	if err := decodeBody(r, &req); err != nil {
		return err
	}
	tags, err := strippedTags(req.Tags, "body", "tags")
	if err != nil {
		return err
	}
	n := store.NewConversation{OrgID: st.org.ID, UserID: st.principal.UserID, ServiceID: req.ServiceID,
		VersionSetName: store.ReleaseVersionSet, Tags: tags}
	if req.ServiceVersionSetName != nil {
		n.VersionSetName = *req.ServiceVersionSetName
	}
	var initial *engine.Input
	if req.InitialMessage != nil {
		text, err := strippedNonEmpty(*req.InitialMessage, "body", "initial_message")
		if err != nil {
			return err
		}
		initial = &engine.Input{Kind: engine.InputUserMessage, Text: text, Format: "text"}
		if req.InitialMessageType != nil {
			initial.Kind = *req.InitialMessageType
		}
	}
	attrs := a.Attributes{a.AttrOrgID: st.org.ID, a.AttrServiceID: req.ServiceID, a.AttrUserID: st.principal.UserID}
	if err := st.allow(a.ConversationCreateConversation, attrs); err != nil {
		return err
	}
	// The caller names an initial message's sender and chooses the language
	// of a voice conversation: read once, for both.
	caller, err := s.store.GetUser(ctx, st.org.ID, st.principal.UserID)
	if err != nil {
		return err
	}
	if initial != nil {
		initial.Sender = sender(caller, initial.Kind)
	}
	// A voice conversation's language is found, and checked, from the
	// agent version the conversation resolves to.
	var language string
	if queryString(r, "response_format") == "voice" {
		preferred := caller.Preferences.PreferredLanguage
		n.Check = func(_ store.Conversation, agent store.AgentVersion) error {
			var err error
			if language, err = speechLanguage(preferred, agent); err != nil {
				return err
			}
			return checkVoiceLanguage(language, preferred != nil && *preferred != "")
		}
	}
	c, err := s.store.PrepareConversation(ctx, n)
	if err != nil {
		return err
	}
	run, err := s.replyFormat(r)
	if err != nil {
		return err
	}
	run.Language = language
	actions, err := actionFilter(queryString(r, "current_agent_action_type"),
		a.Allowed(st.principal.Grants, a.ConversationGetInteractionInsights, conversationAttrs(c)))
	if err != nil {
		return err
	}
	release, _ := s.engine.Hold(c.ID)
	defer release()
	es := s.newEventStream(w, r, http.StatusCreated, actions)
	return es.finish(s.engine.Open(ctx, c, initial, run, es.emit))
}

// voiceLanguages are the languages (ISO 639-3) the agent can speak in,
// rather than write: the hosted API's voice languages, with Arabic, which
// v0.7.0 added.
var voiceLanguages = map[string]bool{
	"ara": true, "deu": true, "eng": true, "fra": true, "hin": true, "ita": true, "jpn": true, "kor": true,
	"nld": true, "pol": true, "por": true, "rus": true, "spa": true, "swe": true, "tur": true, "zho": true,
}

// checkVoiceLanguage refuses a voice conversation in a language without
// voice: the user's preferred language (userChose), or else the agent's
// default spoken language.
func checkVoiceLanguage(lang string, userChose bool) error {
	whose := "The agent's default spoken language"
	if userChose {
		whose = "The user's preferred language"
	}
	if !voiceLanguages[lang] {
		return badRequest(fmt.Sprintf("%s, %q, does not support voice response; voice is available in %s",
			whose, lang, strings.Join(slices.Sorted(maps.Keys(voiceLanguages)), ", ")))
	}
	return nil
}

// sender is the human-friendly name a message of the caller's is shown
// under: the caller's name for their own words, a fixed label for events
// from outside the conversation.
func sender(caller store.User, messageType string) string {
	if messageType == store.MessageExternalEvent {
		return "External event"
	}
	if name := strings.TrimSpace(caller.FirstName + " " + caller.LastName); name != "" {
		return name
	}
	return caller.Email
}

type versionSetInfo struct {
	Name                    string               `json:"name"`
	AgentVersionInfo        [2]any               `json:"agent_version_info"`
	StateMachineVersionInfo [2]any               `json:"service_hierarchical_state_machine_version_info"`
	LLMModelPreferences     map[string]llmConfig `json:"llm_model_preferences"`
}

type conversationInstance struct {
	ID                       string             `json:"id"`
	UserID                   string             `json:"user_id"`
	CreatedAt                string             `json:"created_at"`
	IsFinished               bool               `json:"is_finished"`
	IsAnalyzed               bool               `json:"is_analyzed"`
	CompletedPostProcessings []string           `json:"completed_post_processings"`
	FinalMessage             string             `json:"final_message"`
	ServiceID                string             `json:"service_id"`
	VersionSetInfo           *versionSetInfo    `json:"version_set_info"`
	NumMessages              int                `json:"num_messages"`
	Tags                     map[string]*string `json:"tags"`
}

// conversationOut shows the final message only to a caller who may read
// the conversation's messages, and the version set only to one who may
// read version sets.
func conversationOut(c store.Conversation, grants []store.PermissionGrant) conversationInstance {
	out := conversationInstance{
		ID: c.ID, UserID: c.UserID, CreatedAt: apiTime(c.CreatedAt), IsFinished: c.IsFinished,
		CompletedPostProcessings: c.CompletedPostProcessings, ServiceID: c.ServiceID, NumMessages: c.NumMessages, Tags: c.Tags,
		// Analysed once every post-processing step is done.
		IsAnalyzed: len(c.CompletedPostProcessings) == len(store.PostProcessingSteps),
	}
	if c.FinalMessage != nil && a.Allowed(grants, a.ConversationGetMessage, conversationAttrs(c)) {
		out.FinalMessage = *c.FinalMessage
	}
	if a.Allowed(grants, a.ServiceGetVersionSet, a.Attributes{a.AttrOrgID: c.OrgID}) {
		out.VersionSetInfo = &versionSetInfo{
			Name:                    c.VersionSetName,
			AgentVersionInfo:        [2]any{c.AgentID, c.AgentVersion},
			StateMachineVersionInfo: [2]any{c.StateMachineID, c.StateMachineVersion},
			LLMModelPreferences:     llmPreferencesOut(c.LLMModelPreferences),
		}
	}
	return out
}

type conversationsPage struct {
	Conversations     []conversationInstance `json:"conversations"`
	HasMore           bool                   `json:"has_more"`
	ContinuationToken *int                   `json:"continuation_token"`
}

// getConversations lists the conversations the caller holds
// Conversation:GetConversation for. With an unconditional grant the
// database pages; otherwise every match is checked and paged here.
func (s *Server) getConversations(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	st := state(ctx)
	sortBy, err := sortKeys(r, store.ValidConversationSortField)
	if err != nil {
		return err
	}
	tags, err := tagFilters(r, "tag")
	if err != nil {
		return err
	}
	limit, offset := queryInt(r, "limit"), max(0, queryInt(r, "continuation_token"))
	f := store.ConversationFilter{
		IDs: queryStrings(r, "id"), UserIDs: queryStrings(r, "user_id"), ServiceIDs: queryStrings(r, "service_id"),
		IsFinished: queryBool(r, "is_finished"), Tags: tags, Sort: sortBy, Limit: limit, Offset: offset,
	}
	grants := st.principal.Grants
	var convs []store.Conversation
	var more bool
	if a.Unconditional(grants, a.ConversationGetConversation) {
		if convs, more, err = s.store.ListConversations(ctx, st.org.ID, f); err != nil {
			return err
		}
	} else {
		f.Limit, f.Offset = -1, 0
		all, _, err := s.store.ListConversations(ctx, st.org.ID, f)
		if err != nil {
			return err
		}
		var visible []store.Conversation
		for _, c := range all {
			if a.Allowed(grants, a.ConversationGetConversation, conversationAttrs(c)) {
				visible = append(visible, c)
			}
		}
		convs, more = page(visible, offset, limit)
	}
	resp := conversationsPage{Conversations: make([]conversationInstance, len(convs)), HasMore: more}
	for i, c := range convs {
		resp.Conversations[i] = conversationOut(c, grants)
	}
	resp.ContinuationToken = nextToken(offset, len(convs), more)
	writeJSON(w, http.StatusOK, resp)
	return nil
}

// loadConversation finds the conversation named in the path and checks the
// caller may act on it with perm.
func (s *Server) loadConversation(r *http.Request, perm a.Permission) (store.Conversation, error) {
	st := state(r.Context())
	c, err := s.store.GetConversation(r.Context(), st.org.ID, mux.Vars(r)["conversation_id"])
	if err != nil {
		return store.Conversation{}, err
	}
	if err := st.allow(perm, conversationAttrs(c)); err != nil {
		return store.Conversation{}, err
	}
	return c, nil
}

type messageInstance struct {
	ID            string `json:"id"`
	InteractionID string `json:"interaction_id"`
	CreatedAt     string `json:"created_at"`
	Sender        string `json:"sender"`
	Message       string `json:"message"`
	Format        string `json:"format"`
	MessageType   string `json:"message_type"`
}

type messagesPage struct {
	Messages          []messageInstance `json:"messages"`
	HasMore           bool              `json:"has_more"`
	ContinuationToken *int              `json:"continuation_token"`
}

// getConversationMessages pages through a conversation's messages. Every
// message of a conversation has the conversation's attributes, so
// Conversation:GetMessage allows all of them or none: none is 403.
func (s *Server) getConversationMessages(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	sortBy, err := sortKeys(r, store.ValidMessageSortField)
	if err != nil {
		return err
	}
	c, err := s.loadConversation(r, a.ConversationGetMessage)
	if err != nil {
		return err
	}
	offset := max(0, queryInt(r, "continuation_token"))
	msgs, more, err := s.store.ListMessages(ctx, c.OrgID, c.ID, store.MessageFilter{
		IDs: queryStrings(r, "id"), Types: queryStrings(r, "message_type"), InteractionIDs: queryStrings(r, "interaction_id"),
		Sort: sortBy, Limit: queryInt(r, "limit"), Offset: offset,
	})
	if err != nil {
		return err
	}
	resp := messagesPage{Messages: make([]messageInstance, len(msgs)), HasMore: more}
	for i, m := range msgs {
		resp.Messages[i] = messageInstance{ID: m.ID, InteractionID: m.InteractionID, CreatedAt: apiTime(m.CreatedAt),
			Sender: m.Sender, Message: m.Message, Format: m.Format, MessageType: m.MessageType}
	}
	resp.ContinuationToken = nextToken(offset, len(msgs), more)
	writeJSON(w, http.StatusOK, resp)
	return nil
}

// finishConversation needs User:UpdateUserInfo on the user who started the
// conversation as well as Conversation:FinishConversation on it. It waits
// for no interaction: one in process makes it a 409.
func (s *Server) finishConversation(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	st := state(ctx)
	release := func() {}
	defer func() { release() }()
	err := s.store.FinishConversation(ctx, st.org.ID, mux.Vars(r)["conversation_id"], func(c store.Conversation, u *store.User) error {
		owner := a.Attributes{a.AttrOrgID: c.OrgID, a.AttrUserID: c.UserID}
		if u != nil {
			owner = userAttrs(*u)
		}
		if err := st.allow(a.UserUpdateUserInfo, owner); err != nil {
			return err
		}
		if err := st.allow(a.ConversationFinishConversation, conversationAttrs(c)); err != nil {
			return err
		}
		held, ok := s.engine.Hold(c.ID)
		if !ok {
			return engine.ErrBusy
		}
		release = held
		return nil
	})
	if err != nil {
		return err
	}
	writeNoContent(w)
	return nil
}

type modifyConversationTagsRequest struct {
	Updates map[string]*string `json:"updates"`
	Deletes []string           `json:"deletes"`
}

// modifyTagsOfConversation applies updates and deletes together. A key
// named by both is refused: the request would say two things about it.
func (s *Server) modifyTagsOfConversation(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	st := state(ctx)
	var req modifyConversationTagsRequest
	if err := decodeBody(r, &req); err != nil {
		return err
	}
	updates, err := strippedTags(req.Updates, "body", "updates")
	if err != nil {
		return err
	}
	deletes := make([]string, len(req.Deletes))
	for i, k := range req.Deletes {
		if deletes[i], err = strippedNonEmpty(k, "body", "deletes", i); err != nil {
			return err
		}
		if _, both := updates[deletes[i]]; both {
			return validationFailed(fieldError{Loc: []any{"body", "deletes", i},
				Msg: "Tag " + strconv.Quote(deletes[i]) + " is both updated and deleted", Type: "value_error", Input: k})
		}
	}
	err = s.store.ModifyConversationTags(ctx, st.org.ID, mux.Vars(r)["conversation_id"], updates, deletes,
		func(c store.Conversation) error {
			if err := st.allow(a.ConversationModifyConversation, conversationAttrs(c)); err != nil {
				return err
			}
			return nil
		})
	if err != nil {
		return err
	}
	writeNoContent(w)
	return nil
}
