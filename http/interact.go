package httpapi

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gorilla/mux"

	a "github.com/compadre-dev/compadre/auth"
	"github.com/compadre-dev/compadre/engine"
	"github.com/compadre-dev/compadre/store"
)

// eventSkew is how far in the future an external event's timestamp may
// be: clients stamp events "latest message + 1 s" and "+ 2 s", which is
// ahead of the clock when the latest message is the agent's, just sent.
// See DECISIONS.md, "How strict are external event timestamps?".
const eventSkew = 10 * time.Second

// maxFormParts bounds the parts of an interact form, so a form of
// thousands of empty parts is refused rather than read.
const maxFormParts = 64

// interactForm is interact-with-conversation's body, in either SDK's wire
// form: a multipart form whose recorded_message is a plain field (the
// TypeScript SDK) or a file part (the Python SDK), or for voice the raw
// audio as the whole body (the TypeScript SDK).
type interactForm struct {
	kind string
	// message is recorded_message; contentType is its part's (or the
	// raw body's) content type, if it had one.
	message     []byte
	contentType string
	hasMessage  bool
	contents    []string
	stamps      []string
}

// readInteractForm reads the body; its faults are 422s located as the
// reference's multipart schema names the fields.
func readInteractForm(r *http.Request, body []byte, voice bool) (interactForm, error) {
	var form interactForm
	mediaType, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mediaType != "multipart/form-data" {
		if voice && len(body) > 0 {
			// The TypeScript SDK sends a voice message as the raw audio.
			return interactForm{kind: engine.InputUserMessage, message: body, hasMessage: true,
				contentType: r.Header.Get("Content-Type")}, nil
		}
		return form, validationFailed(fieldError{Loc: []any{"header", "content-type"}, Type: "value_error",
			Msg: "The body must be multipart/form-data with a boundary"})
	}
	mr := multipart.NewReader(bytes.NewReader(body), params["boundary"])
	var f faults
	for n := 0; ; n++ {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return form, validationFailed(fieldError{Loc: []any{"body"}, Type: "value_error",
				Msg: "The multipart body could not be read: " + err.Error()})
		}
		if n >= maxFormParts {
			return form, validationFailed(fieldError{Loc: []any{"body"}, Type: "too_long",
				Msg: fmt.Sprintf("The form may have at most %d parts", maxFormParts)})
		}
		value, err := io.ReadAll(part)
		if err != nil {
			return form, validationFailed(fieldError{Loc: []any{"body"}, Type: "value_error",
				Msg: "The multipart body could not be read: " + err.Error()})
		}
		switch name := part.FormName(); name {
		case "initial_message_type":
			form.kind = string(value)
		case "recorded_message":
			form.message, form.hasMessage = value, true
			if part.FileName() != "" {
				form.contentType = part.Header.Get("Content-Type")
			}
		case "external_event_message_content":
			form.contents = append(form.contents, string(value))
		case "external_event_message_timestamp":
			form.stamps = append(form.stamps, string(value))
		}
	}
	switch form.kind {
	case "":
		f.Add([]any{"body", "initial_message_type"}, "missing", "Field required")
	case engine.InputUserMessage, engine.InputExternalEvent, engine.InputSkip:
	default:
		f.Add([]any{"body", "initial_message_type"}, "literal_error",
			"Input should be 'user-message', 'external-event' or 'skip'", form.kind)
	}
	switch {
	case !form.hasMessage:
		f.Add([]any{"body", "recorded_message"}, "missing", "Field required")
	case form.kind == engine.InputSkip && len(form.message) > 0:
		f.Add([]any{"body", "recorded_message"}, "string_too_long", "A skip carries no message: recorded_message must be empty")
	case form.kind != engine.InputSkip && len(form.message) == 0:
		f.Add([]any{"body", "recorded_message"}, "string_too_short", "String should have at least 1 character")
	}
	if form.kind == engine.InputSkip && (len(form.contents) > 0 || len(form.stamps) > 0) {
		f.Add([]any{"body", "external_event_message_content"}, "too_long", "A skip carries no external events")
	}
	if len(form.contents) != len(form.stamps) {
		f.Add([]any{"body", "external_event_message_timestamp"}, "value_error", fmt.Sprintf(
			"external_event_message_content has %d entries and external_event_message_timestamp %d; they must pair up",
			len(form.contents), len(form.stamps)))
	}
	for i, c := range form.contents {
		form.contents[i] = f.Stripped(c, "body", "external_event_message_content", i)
	}
	return form, f.Err()
}

// externalEvents reads the form's events, checking their timestamps: each
// later than the one before and than the conversation's latest message,
// and none further ahead of the clock than eventSkew.
func (s *Server) externalEvents(form interactForm, latest *time.Time) ([]engine.ExternalEvent, error) {
	var f faults
	events := make([]engine.ExternalEvent, len(form.contents))
	for i, raw := range form.stamps {
		at, err := parseTimestamp(raw)
		if err != nil {
			f.Add([]any{"body", "external_event_message_timestamp", i}, "datetime_from_date_parsing",
				"Input should be a valid datetime", raw)
			continue
		}
		events[i] = engine.ExternalEvent{Content: form.contents[i], At: at}
	}
	if err := f.Err(); err != nil {
		return nil, err
	}
	now := s.now()
	for i, ev := range events {
		switch {
		case ev.At.After(now.Add(eventSkew)):
			return nil, badRequest(fmt.Sprintf("External event %d is timestamped %s, in the future; "+
				"timestamps may be at most %s ahead of the server's clock.", i, apiTime(ev.At), eventSkew))
		case i > 0 && !ev.At.After(events[i-1].At):
			return nil, badRequest(fmt.Sprintf("External event timestamps must rise: event %d is not later than event %d.", i, i-1))
		case latest != nil && !ev.At.After(*latest):
			return nil, badRequest(fmt.Sprintf("External event %d is timestamped %s, not after the conversation's latest "+
				"message (%s).", i, apiTime(ev.At), apiTime(*latest)))
		}
	}
	return events, nil
}

// parseTimestamp reads an ISO 8601 date-time; one without an offset is
// taken as UTC, as the hosted API's validation does.
func parseTimestamp(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	return time.ParseInLocation("2006-01-02T15:04:05.999999999", s, time.UTC)
}

// interactWithConversation runs one interaction and streams its events.
func (s *Server) interactWithConversation(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	st := state(ctx)
	voiceIn := queryString(r, "request_format") == "voice"
	form, err := readInteractForm(r, st.body, voiceIn)
	if err != nil {
		return err
	}
	c, err := s.store.GetConversation(ctx, st.org.ID, mux.Vars(r)["conversation_id"])
	if err != nil {
		return err
	}
	owner := a.Attributes{a.AttrOrgID: c.OrgID, a.AttrUserID: c.UserID}
	starter, err := s.store.GetUser(ctx, c.OrgID, c.UserID)
	switch {
	case err == nil:
		owner = userAttrs(starter)
	case !errors.Is(err, store.ErrNotFound):
		return err
	}
	if err := st.allow(a.UserUpdateUserInfo, owner); err != nil {
		return err
	}
	if err := st.allow(a.ConversationInteractWithConversation, conversationAttrs(c)); err != nil {
		return err
	}
	actions, err := actionFilter(queryString(r, "current_agent_action_type"),
		a.Allowed(st.principal.Grants, a.ConversationGetInteractionInsights, conversationAttrs(c)))
	if err != nil {
		return err
	}
	if c.IsFinished {
		return &store.ConflictError{Refusal: store.Refusal{Rule: store.RuleFinished, Kind: store.KindConversation, ID: c.ID}}
	}
	run, err := s.replyFormat(r)
	if err != nil {
		return err
	}
	in := engine.Input{Kind: form.kind, Format: "text"}
	if voiceIn || run.Speak {
		var preferred *string
		if starter.ID != "" {
			preferred = starter.Preferences.PreferredLanguage
		}
		agent, err := s.store.GetAgentVersion(ctx, c.OrgID, c.AgentID, c.AgentVersion)
		if err != nil {
			return err
		}
		if run.Language, err = speechLanguage(preferred, agent); err != nil {
			return err
		}
	}
	switch {
	case voiceIn && form.kind != engine.InputSkip:
		cfg, err := audioConfig(queryString(r, "request_audio_config"))
		if err != nil {
			return err
		}
		if in, err = s.hear(ctx, c.OrgID, form, cfg, run.Language); err != nil {
			return err
		}
	case form.kind != engine.InputSkip:
		if !utf8.Valid(form.message) {
			return badRequest("The message is not UTF-8 text.")
		}
		if in.Text = strings.TrimSpace(string(form.message)); in.Text == "" {
			return badRequest("The user message is empty.")
		}
	}
	// The caller is usually the user who started the conversation, read
	// above; only someone else acting on it is read again.
	caller := starter
	if caller.ID != st.principal.UserID {
		if caller, err = s.store.GetUser(ctx, st.org.ID, st.principal.UserID); err != nil {
			return err
		}
	}
	in.Sender = sender(caller, form.kind)
	release, ok := s.engine.Hold(c.ID)
	if !ok {
		return engine.ErrBusy
	}
	defer release()
	// Read again under the hold: an interaction that ended meanwhile moved
	// the conversation on.
	if c, err = s.store.GetConversation(ctx, c.OrgID, c.ID); err != nil {
		return err
	}
	if c.IsFinished {
		return &store.ConflictError{Refusal: store.Refusal{Rule: store.RuleFinished, Kind: store.KindConversation, ID: c.ID}}
	}
	if len(form.contents) > 0 {
		latest, err := s.latestMessageTime(r, c)
		if err != nil {
			return err
		}
		if in.Events, err = s.externalEvents(form, latest); err != nil {
			return err
		}
	}
	es := s.newEventStream(w, r, http.StatusOK, actions)
	return es.finish(s.engine.Interact(ctx, c, in, run, es.emit))
}

// replyFormat reads response_format: a voice reply needs a synthesizer,
// and its absence is a 400 before anything streams.
func (s *Server) replyFormat(r *http.Request) (engine.Run, error) {
	if queryString(r, "response_format") != "voice" {
		return engine.Run{}, nil
	}
	if s.synthesizer == nil {
		return engine.Run{}, badRequest("Voice responses need a speech synthesizer, and none is configured " +
			"(see --tts-url); ask for response_format=text.")
	}
	return engine.Run{Speak: true}, nil
}

// latestMessageTime is when the conversation's newest message was
// written, or nil if it has none.
func (s *Server) latestMessageTime(r *http.Request, c store.Conversation) (*time.Time, error) {
	msgs, _, err := s.store.ListMessages(r.Context(), c.OrgID, c.ID, store.MessageFilter{
		Sort: []store.SortKey{{Field: "created_at", Desc: true}}, Limit: 1})
	if err != nil || len(msgs) == 0 {
		return nil, err
	}
	return &msgs[0].CreatedAt, nil
}
