package httpapi_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/textproto"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/compadre-dev/compadre/compadretest"
	assets "github.com/compadre-dev/compadre/embed"
	"github.com/compadre-dev/compadre/llm"
	"github.com/compadre-dev/compadre/store"
	"github.com/compadre-dev/compadre/voice"
)

// formField is one part of an interact form; a part with a file name is a
// file part, as the Python SDK sends recorded_message.
type formField struct {
	name, value, file, contentType string
}

// userMessage is the form of a text user message sent as a plain field, as
// the TypeScript SDK sends it.
func userMessage(text string) []formField {
	return []formField{{name: "initial_message_type", value: "user-message"}, {name: "recorded_message", value: text}}
}

func multipartBody(t testing.TB, fields []formField) ([]byte, string) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for _, f := range fields {
		var w io.Writer
		var err error
		if f.file != "" {
			h := textproto.MIMEHeader{}
			h.Set("Content-Disposition", fmt.Sprintf(`form-data; name=%q; filename=%q`, f.name, f.file))
			h.Set("Content-Type", f.contentType)
			w, err = mw.CreatePart(h)
		} else {
			w, err = mw.CreateFormField(f.name)
		}
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.WriteString(w, f.value)
	}
	if err := mw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes(), mw.FormDataContentType()
}

// stream is a streamed answer: its status and its events, or its body when
// it is not a stream.
type stream struct {
	status int
	events []map[string]any
	raw    []byte
}

func (s stream) types() []string {
	var out []string
	for _, ev := range s.events {
		typ := ev["type"].(string)
		if typ == "current-agent-action" {
			typ = ev["action"].(map[string]any)["type"].(string)
		}
		out = append(out, typ)
	}
	return out
}

// last is the stream's last event.
func (s stream) last() map[string]any {
	if len(s.events) == 0 {
		return nil
	}
	return s.events[len(s.events)-1]
}

func readStream(t testing.TB, resp *http.Response) stream {
	t.Helper()
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	s := stream{status: resp.StatusCode, raw: raw}
	if resp.Header.Get("Content-Type") != "application/x-ndjson" {
		return s
	}
	for _, line := range bytes.Split(bytes.TrimSuffix(raw, []byte("\n")), []byte("\n")) {
		var ev map[string]any
		if err := json.Unmarshal(line, &ev); err != nil {
			t.Fatalf("stream line %q: %v", line, err)
		}
		s.events = append(s.events, ev)
	}
	return s
}

// interact sends one interaction and reads its stream.
func (c *client) interact(t testing.TB, convID, query string, fields []formField) stream {
	t.Helper()
	body, ctype := multipartBody(t, fields)
	return c.interactRaw(t, convID, "request_format=text&response_format=text"+query, ctype, body)
}

// open creates a conversation and reads its stream.
func (c *client) open(t testing.TB, query string, body map[string]any) stream {
	t.Helper()
	b, _ := json.Marshal(body)
	return c.streamed(t, "/conversation/?response_format=text"+query, "application/json", b)
}

// streamed posts body to path and reads the answer as a stream.
func (c *client) streamed(t testing.TB, path, ctype string, body []byte) stream {
	t.Helper()
	req, err := http.NewRequest("POST", c.base+"/v1/"+c.org+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", ctype)
	req.Header.Set("Authorization", "Bearer "+c.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return readStream(t, resp)
}

// streamSchemas are the served document's schemas of each stream's lines.
type streamSchemas struct{ create, interact *jsonschema.Schema }

var loadStreamSchemas = sync.OnceValues(func() (streamSchemas, error) {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(assets.OpenAPIJSON))
	if err != nil {
		return streamSchemas{}, err
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("mem:///doc.json", doc); err != nil {
		return streamSchemas{}, err
	}
	const conv = "#/paths/~1v1~1{organization}~1conversation~1"
	var s streamSchemas
	if s.create, err = c.Compile("mem:///doc.json" + conv + "/post/responses/201/content/application~1x-ndjson/schema"); err != nil {
		return s, err
	}
	s.interact, err = c.Compile("mem:///doc.json" + conv + "{conversation_id}~1interact/post/responses/200/content/application~1x-ndjson/schema")
	return s, err
})

// checkLines validates every event of a stream against the document's
// union for it.
func checkLines(t testing.TB, s stream, create bool) {
	t.Helper()
	schemas, err := loadStreamSchemas()
	if err != nil {
		t.Fatal(err)
	}
	schema := schemas.interact
	if create {
		schema = schemas.create
	}
	for i, ev := range s.events {
		b, _ := json.Marshal(ev)
		v, _ := jsonschema.UnmarshalJSON(bytes.NewReader(b))
		if err := schema.Validate(v); err != nil {
			t.Errorf("event %d %s does not fit the document: %v", i, b, err)
		}
	}
}

// checkMessagePieces checks the new-message events: numbered from 0, one
// message, the last one stopping, and the pieces joined being the full
// message of interaction-complete.
func checkMessagePieces(t testing.TB, s stream) {
	t.Helper()
	var joined strings.Builder
	var pieces []map[string]any
	for _, ev := range s.events {
		if ev["type"] == "new-message" {
			pieces = append(pieces, ev)
			joined.WriteString(ev["message"].(string))
		}
	}
	if len(pieces) == 0 {
		t.Fatalf("no new-message event: %s", s.raw)
	}
	done := s.last()
	for i, p := range pieces {
		if p["sequence_number"] != float64(i) || p["stop"] != (i == len(pieces)-1) || p["transcript_alignment"] != nil ||
			p["message_id"] != done["message_id"] {
			t.Errorf("piece %d: %v", i, p)
		}
	}
	if done["type"] != "interaction-complete" || done["full_message"] != joined.String() {
		t.Errorf("complete: %v, pieces joined %q", done, joined.String())
	}
}

// walkerGraph is a context graph with every kind of state but tool-call:
//
//	start --billing--> route (decision) --> note (annotation) --> think (reflection)
//	      --> look (recall) --> billing --goodbye--> end (terminal)
//	start --goodbye--> end
func walkerGraph() map[string]any {
	g := stateMachineMinimal()
	exit := func(desc, next string) map[string]any { return map[string]any{"description": desc, "next_state": next} }
	g["states"] = []any{
		stateMachineAction("start", "Welcome the user", exit("The user asks about an invoice", "route"),
			exit("The user says goodbye", "end")),
		map[string]any{"type": "decision", "name": "route", "objective": "Route the question",
			"exit_conditions":     []any{exit("The invoice is overdue", "note"), exit("The question is general", "note")},
			"decision_guidelines": []any{}, "tool_call_specs": []any{}, "audio_fillers": []any{}, "audio_filler_triggered_after": 1},
		map[string]any{"type": "annotation", "name": "note", "inner_thought": "The user has an invoice question", "next_state": "think"},
		map[string]any{"type": "reflection", "name": "think", "problem": "What does the user need to know about invoices now",
			"word_limit": 5, "next_state": "look", "tool_call_specs": []any{}, "audio_fillers": []any{}, "audio_filler_triggered_after": 1},
		map[string]any{"type": "recall", "name": "look", "queries": []any{"invoice number"}, "requested_information": nil,
			"next_state": "billing"},
		stateMachineAction("billing", "Explain the invoice", exit("The user is satisfied and says goodbye", "end")),
		stateMachineAction("end", "Say goodbye"),
	}
	g["terminal_state"] = "end"
	return g
}

// talkingService creates a service whose context graph is g and returns
// its ID.
func (c *client) talkingService(t testing.TB, name string, g map[string]any) string {
	t.Helper()
	status, body := c.do("POST", stateMachinePath(), map[string]any{"state_machine_name": name})
	mustStatus(t, "create state machine", status, http.StatusCreated, body)
	smID := body["id"].(string)
	status, body = c.do("POST", stateMachinePath(smID)+"/", g)
	mustStatus(t, "create state machine version", status, http.StatusCreated, body)
	return c.serviceNew(t, name, c.newAgent(t, name+" agent"), smID, nil)
}

func TestConversationOpeningTurn(t *testing.T) {
	t.Parallel()
	_, c := newTestServer(t)
	svc := c.talkingService(t, "Walker", walkerGraph())
	s := c.open(t, "", map[string]any{"service_id": svc})
	if s.status != http.StatusCreated {
		t.Fatalf("create: status %d: %s", s.status, s.raw)
	}
	checkLines(t, s, true)
	want := []string{"conversation-created", "navigate-state-machine-action-state-action-selected",
		"engage-user-message-fragment-generated", "new-message", "interaction-complete"}
	if got := s.types(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("events: got %v, want %v", got, want)
	}
	checkMessagePieces(t, s)
	done := s.last()
	if done["full_message"] != "Welcome the user" || done["conversation_completed"] != false {
		t.Errorf("opening message: %v", done)
	}
	convID := s.events[0]["conversation_id"].(string)
	status, body := c.do("GET", "/conversation/"+convID+"/messages/", nil)
	mustStatus(t, "messages", status, http.StatusOK, body)
	msgs := body["messages"].([]any)
	if len(msgs) != 1 || msgs[0].(map[string]any)["message_type"] != "agent-message" ||
		msgs[0].(map[string]any)["id"] != done["message_id"] || msgs[0].(map[string]any)["interaction_id"] != done["interaction_id"] {
		t.Errorf("stored messages: %v", msgs)
	}
	status, body = c.do("GET", "/conversation/"+convID+"/interaction/"+done["interaction_id"].(string)+"/insights", nil)
	mustStatus(t, "insights", status, http.StatusOK, body)
	if body["current_state_name"] != "start" || body["current_state_action"] != "Welcome the user" ||
		len(body["state_transition_logs"].([]any)) != 0 {
		t.Errorf("insights: %v", body)
	}
}

func TestConversationWalksEveryKindOfState(t *testing.T) {
	t.Parallel()
	_, c := newTestServer(t)
	svc := c.talkingService(t, "Walker", walkerGraph())
	opened := c.open(t, "", map[string]any{"service_id": svc})
	convID := opened.events[0]["conversation_id"].(string)

	// A message sharing no word with any exit condition stays.
	s := c.interact(t, convID, "", userMessage("Hello there"))
	checkLines(t, s, false)
	if got := s.types(); fmt.Sprint(got) != fmt.Sprint([]string{"user-message-available",
		"navigate-state-machine-action-state-action-selected", "engage-user-message-fragment-generated", "new-message",
		"interaction-complete"}) {
		t.Errorf("staying: events %v", got)
	}

	s = c.interact(t, convID, "", userMessage("I have a question about my invoice"))
	if s.status != http.StatusOK {
		t.Fatalf("interact: status %d: %s", s.status, s.raw)
	}
	checkLines(t, s, false)
	checkMessagePieces(t, s)
	want := []string{"user-message-available",
		"navigate-state-machine-exit-condition-selected", "navigate-state-machine-state-transitioned",
		"navigate-state-machine-decision-state-decision-started", "navigate-state-machine-exit-condition-selected",
		"navigate-state-machine-state-transitioned",
		"navigate-state-machine-annotation-state-annotation-retrieved", "navigate-state-machine-state-transitioned",
		"navigate-state-machine-reflection-state-prompt-retrieved", "navigate-state-machine-reflection-state-reflection-generated",
		"navigate-state-machine-state-transitioned",
		"navigate-state-machine-recall-state-static-queries-retrieved", "navigate-state-machine-recall-state-active-memory-retrieved",
		"navigate-state-machine-state-transitioned",
		"navigate-state-machine-action-state-action-selected", "engage-user-message-fragment-generated",
		"new-message", "interaction-complete"}
	if got := s.types(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("events:\n got %v\nwant %v", got, want)
	}
	done := s.last()
	if done["full_message"] != "Explain the invoice" || done["conversation_completed"] != false {
		t.Errorf("complete: %v", done)
	}
	userMsgID := s.events[0]["message_id"].(string)
	if s.events[0]["user_message"] != "I have a question about my invoice" {
		t.Errorf("user-message-available: %v", s.events[0])
	}

	status, body := c.do("GET", "/conversation/"+convID+"/messages/?message_type=user-message&message_type=agent-message"+
		"&message_type=agent-inner-thought&interaction_id="+done["interaction_id"].(string), nil)
	mustStatus(t, "messages", status, http.StatusOK, body)
	var kinds []string
	for _, m := range body["messages"].([]any) {
		m := m.(map[string]any)
		kinds = append(kinds, m["message_type"].(string)+":"+m["message"].(string))
	}
	wantKinds := []string{"user-message:I have a question about my invoice",
		"agent-inner-thought:The user has an invoice question", "agent-inner-thought:What does the user need",
		"agent-message:Explain the invoice"}
	if fmt.Sprint(kinds) != fmt.Sprint(wantKinds) {
		t.Errorf("stored:\n got %v\nwant %v", kinds, wantKinds)
	}
	if body["messages"].([]any)[0].(map[string]any)["id"] != userMsgID {
		t.Errorf("the user message's ID differs from the event's")
	}

	status, ins := c.do("GET", "/conversation/"+convID+"/interaction/"+done["interaction_id"].(string)+"/insights", nil)
	mustStatus(t, "insights", status, http.StatusOK, ins)
	var logTypes []string
	for _, l := range ins["state_transition_logs"].([]any) {
		l := l.(map[string]any)
		logTypes = append(logTypes, l["type"].(string)+":"+l["previous_state"].(string)+">"+l["next_state"].(string))
	}
	if fmt.Sprint(logTypes) != "[action:start>route decision:route>note annotation:note>think reflection:think>look recall:look>billing]" {
		t.Errorf("transition logs: %v", logTypes)
	}
	wm := ins["working_memory"].([]any)
	if len(wm) != 1 || wm[0].(map[string]any)["context"] != "invoice number" ||
		wm[0].(map[string]any)["content"] != "I have a question about my invoice" {
		t.Errorf("working memory: %v", wm)
	}
	if fmt.Sprint(ins["reflections"]) != "[What does the user need]" || ins["current_state_name"] != "billing" {
		t.Errorf("insights: %v", ins)
	}

	// Saying goodbye reaches the terminal state: the conversation ends.
	s = c.interact(t, convID, "", userMessage("Thanks, goodbye"))
	checkLines(t, s, false)
	if done := s.last(); done["conversation_completed"] != true || done["full_message"] != "Say goodbye" {
		t.Fatalf("terminal: %v", s.last())
	}
	if got := c.conversationGet(t, convID); got["is_finished"] != true {
		t.Errorf("conversation after its terminal state: %v", got)
	}
	if s := c.interact(t, convID, "", userMessage("Hello?")); s.status != http.StatusConflict {
		t.Errorf("interact after the end: status %d: %s", s.status, s.raw)
	}
}

// loopingGraph leaves its start state for two decision states that lead
// into each other, when the user asks to loop.
func loopingGraph() map[string]any {
	exit := func(desc, next string) map[string]any { return map[string]any{"description": desc, "next_state": next} }
	decision := func(name, next string) map[string]any {
		return map[string]any{"type": "decision", "name": name, "objective": "Loop", "exit_conditions": []any{exit("Again", next)},
			"decision_guidelines": []any{}, "tool_call_specs": []any{}, "audio_fillers": []any{}, "audio_filler_triggered_after": 1}
	}
	g := stateMachineMinimal()
	g["states"] = []any{stateMachineAction("start", "Greet", exit("The user wants to loop", "a"), exit("Finish", "end")),
		decision("a", "b"), decision("b", "a"), stateMachineAction("end", "Bye")}
	return g
}

// TestConversationLoopIsStopped: decision states leading into each other
// are cut off by the transition cap, and the interaction leaves nothing.
func TestConversationLoopIsStopped(t *testing.T) {
	t.Parallel()
	_, c := newTestServer(t)
	svc := c.talkingService(t, "Looper", loopingGraph())
	convID := c.open(t, "", map[string]any{"service_id": svc}).events[0]["conversation_id"].(string)
	before := c.conversationGet(t, convID)["num_messages"]
	s := c.interact(t, convID, "", userMessage("loop please"))
	last := s.last()
	if s.status != http.StatusOK || last["type"] != "error" || last["http_error_code"] != float64(500) ||
		!strings.Contains(last["error_description"].(string), "more than 25 state transitions") {
		t.Fatalf("loop: status %d, last event %v", s.status, last)
	}
	for _, ev := range s.events {
		if ev["type"] == "interaction-complete" || ev["type"] == "new-message" {
			t.Errorf("a failed interaction streamed %v", ev)
		}
	}
	if after := c.conversationGet(t, convID)["num_messages"]; after != before {
		t.Errorf("messages: %v before, %v after a failed interaction", before, after)
	}
}

func TestConversationActionEventsFilter(t *testing.T) {
	t.Parallel()
	srv, c := newTestServer(t)
	svc := c.talkingService(t, "Walker", walkerGraph())
	convID := c.open(t, "&current_agent_action_type=%5E%24", map[string]any{"service_id": svc}).events[0]["conversation_id"].(string)
	s := c.interact(t, convID, "&current_agent_action_type=transitioned", userMessage("my invoice"))
	for _, typ := range s.types() {
		if strings.HasPrefix(typ, "navigate") && !strings.Contains(typ, "transitioned") {
			t.Errorf("filtered stream has %s", typ)
		}
	}
	if s := c.interact(t, convID, "&current_agent_action_type=%28", userMessage("hi")); s.status != http.StatusUnprocessableEntity {
		t.Errorf("bad pattern: status %d: %s", s.status, s.raw)
	}

	// A caller who may not read insights gets no agent actions at all.
	c.newRole("Talker", grant("Conversation:CreateConversation", nil), grant("Conversation:InteractWithConversation", nil),
		grant("User:UpdateUserInfo", nil), grant("Conversation:GetConversation", nil))
	talker := c.keyFor(c.newUser("talker@example.com", "Talker"), "Talker")
	s = talker.open(t, "", map[string]any{"service_id": svc})
	if got := s.types(); fmt.Sprint(got) != "[conversation-created new-message interaction-complete]" {
		t.Errorf("without insights: %v", got)
	}
	s = talker.interact(t, s.events[0]["conversation_id"].(string), "", userMessage("my invoice"))
	if got := s.types(); fmt.Sprint(got) != "[user-message-available new-message interaction-complete]" {
		t.Errorf("without insights: %v", got)
	}
	_ = srv
}

func TestConversationInteractForms(t *testing.T) {
	t.Parallel()
	_, c := newTestServer(t)
	svc := c.talkingService(t, "Walker", walkerGraph())
	convID := c.open(t, "", map[string]any{"service_id": svc}).events[0]["conversation_id"].(string)

	// The Python SDK's form: the text as a file part.
	s := c.interact(t, convID, "", []formField{{name: "initial_message_type", value: "user-message"},
		{name: "recorded_message", value: "Hi from a file", file: "message.txt", contentType: "text/plain; charset=utf-8"}})
	if s.status != http.StatusOK || s.events[0]["user_message"] != "Hi from a file" {
		t.Fatalf("file part: status %d: %s", s.status, s.raw)
	}

	now := time.Now().UTC()
	stamp := func(d time.Duration) string { return now.Add(d).Format(time.RFC3339Nano) }
	events := func(stamps ...string) []formField {
		f := []formField{{name: "initial_message_type", value: "external-event"}, {name: "recorded_message", value: "Order shipped"}}
		for i, st := range stamps {
			f = append(f, formField{name: "external_event_message_content", value: fmt.Sprintf("event %d", i)},
				formField{name: "external_event_message_timestamp", value: st})
		}
		return f
	}
	cases := []struct {
		name   string
		fields []formField
		want   int
	}{
		{"no message type", []formField{{name: "recorded_message", value: "x"}}, http.StatusUnprocessableEntity},
		{"unknown message type", []formField{{name: "initial_message_type", value: "shout"}, {name: "recorded_message", value: "x"}}, http.StatusUnprocessableEntity},
		{"no message", []formField{{name: "initial_message_type", value: "user-message"}}, http.StatusUnprocessableEntity},
		{"empty message", userMessage(""), http.StatusUnprocessableEntity},
		{"blank message", userMessage("   "), http.StatusBadRequest},
		{"skip with a message", []formField{{name: "initial_message_type", value: "skip"}, {name: "recorded_message", value: "x"}}, http.StatusUnprocessableEntity},
		{"contents without timestamps", append(events(), formField{name: "external_event_message_content", value: "e"}), http.StatusUnprocessableEntity},
		{"a timestamp that is not one", events("yesterday"), http.StatusUnprocessableEntity},
		{"timestamps that fall", events(stamp(time.Second), stamp(0)), http.StatusBadRequest},
		{"a timestamp before the latest message", events(stamp(-time.Hour)), http.StatusBadRequest},
		{"a timestamp too far ahead", events(stamp(11 * time.Second)), http.StatusBadRequest},
	}
	for _, tc := range cases {
		if s := c.interact(t, convID, "", tc.fields); s.status != tc.want {
			t.Errorf("%s: status %d, want %d: %s", tc.name, s.status, tc.want, s.raw)
		}
	}
	// The opening turn and the file part's interaction: three messages.
	if n := c.conversationGet(t, convID)["num_messages"]; n != float64(3) {
		t.Errorf("refused interactions stored messages: %v", n)
	}

	// Stamped "latest + 1 s" and "+ 2 s", as the Python SDK's test does:
	// ahead of the clock, within the skew.
	s = c.interact(t, convID, "", events(stamp(time.Second), stamp(2*time.Second)))
	if s.status != http.StatusOK || s.last()["type"] != "interaction-complete" {
		t.Fatalf("external events: status %d: %s", s.status, s.raw)
	}
	status, body := c.do("GET", "/conversation/"+convID+"/messages/?interaction_id="+s.last()["interaction_id"].(string), nil)
	mustStatus(t, "messages", status, http.StatusOK, body)
	var got []string
	for _, m := range body["messages"].([]any) {
		m := m.(map[string]any)
		got = append(got, m["message_type"].(string)+":"+m["message"].(string))
	}
	if fmt.Sprint(got) != "[external-event:event 0 external-event:event 1 external-event:Order shipped agent-message:Welcome the user]" {
		t.Errorf("stored: %v", got)
	}

	// A skip carries no message; the agent answers all the same.
	s = c.interact(t, convID, "", []formField{{name: "initial_message_type", value: "skip"}, {name: "recorded_message", value: ""}})
	if s.status != http.StatusOK || s.events[0]["type"] != "user-message-available" || s.last()["type"] != "interaction-complete" {
		t.Errorf("skip: status %d: %s", s.status, s.raw)
	}
	checkLines(t, s, false)
}

// gatedModel is an OpenAI-compatible chat-completions server that answers
// only while its gate is open, so a test can hold an interaction in the
// middle. It answers a choice with the first option, an object with {},
// and text with a fixed sentence.
type gatedModel struct {
	mu      sync.Mutex
	gate    chan struct{} // closed while open
	entered chan struct{}
	base    string
}

func newGatedModel(t *testing.T) *gatedModel {
	g := &gatedModel{gate: make(chan struct{}), entered: make(chan struct{}, 64)}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The model list the server asks for at start is no model call:
		// it neither waits at the gate nor counts as entering.
		if r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/models") {
			_, _ = io.WriteString(w, `{"data":[]}`)
			return
		}
		var req struct {
			ResponseFormat *struct {
				JSONSchema struct {
					Schema map[string]any `json:"schema"`
				} `json:"json_schema"`
			} `json:"response_format"`
		}
		_ = json.NewDecoder(r.Body).Decode(&req)
		select {
		case g.entered <- struct{}{}:
		default:
		}
		g.mu.Lock()
		gate := g.gate
		g.mu.Unlock()
		select {
		case <-gate:
		case <-r.Context().Done():
			return
		}
		content := "Welcome, how can I help?"
		if rf := req.ResponseFormat; rf != nil {
			content = "{}"
			if props, _ := rf.JSONSchema.Schema["properties"].(map[string]any); props["choice"] != nil {
				content = `{"choice": 0}`
			}
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"model": "gated",
			"choices": []any{map[string]any{"message": map[string]any{"role": "assistant", "content": content}}}})
	}))
	t.Cleanup(srv.Close)
	g.base = srv.URL
	return g
}

func (g *gatedModel) provider(t *testing.T) llm.Provider {
	p, err := llm.New(llm.OpenAIName, llm.OpenAIConfig{URL: g.base, Model: "gated"})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// open lets every call through until close.
func (g *gatedModel) open() {
	g.mu.Lock()
	defer g.mu.Unlock()
	select {
	case <-g.gate:
	default:
		close(g.gate)
	}
}

func (g *gatedModel) close() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.gate = make(chan struct{})
	for len(g.entered) > 0 {
		<-g.entered
	}
}

// waitEntered waits for a call to arrive at the closed gate.
func (g *gatedModel) waitEntered(t *testing.T) {
	t.Helper()
	select {
	case <-g.entered:
	case <-time.After(10 * time.Second):
		t.Fatal("no model call arrived")
	}
}

func TestConversationOneThingAtATime(t *testing.T) {
	t.Parallel()
	gate := newGatedModel(t)
	_, c := newTestServer(t, compadretest.WithModel(gate.provider(t)))
	svc := c.talkingService(t, "Walker", walkerGraph())
	gate.open()
	convID := c.open(t, "", map[string]any{"service_id": svc}).events[0]["conversation_id"].(string)
	gate.close()

	first := make(chan stream)
	go func() { first <- c.interact(t, convID, "", userMessage("Hello there")) }()
	gate.waitEntered(t)
	if s := c.interact(t, convID, "", userMessage("Me too")); s.status != http.StatusConflict {
		t.Errorf("overlapping interact: status %d: %s", s.status, s.raw)
	}
	if status, body := c.do("POST", "/conversation/"+convID+"/finish/", nil); status != http.StatusConflict {
		t.Errorf("finish during an interaction: status %d: %v", status, body)
	}
	gate.open()
	if s := <-first; s.last()["type"] != "interaction-complete" {
		t.Errorf("first interaction: %s", s.raw)
	}
	if status, body := c.do("POST", "/conversation/"+convID+"/finish/", nil); status != http.StatusNoContent {
		t.Errorf("finish after: status %d: %v", status, body)
	}
	if status, _ := c.do("POST", "/conversation/"+convID+"/finish/", nil); status != http.StatusConflict {
		t.Errorf("second finish: status %d", status)
	}
}

func TestConversationDroppedStreamRollsBack(t *testing.T) {
	t.Parallel()
	gate := newGatedModel(t)
	_, c := newTestServer(t, compadretest.WithModel(gate.provider(t)))
	svc := c.talkingService(t, "Walker", walkerGraph())
	gate.open()
	convID := c.open(t, "", map[string]any{"service_id": svc}).events[0]["conversation_id"].(string)
	gate.close()
	before := c.conversationGet(t, convID)["num_messages"]

	body, ctype := multipartBody(t, userMessage("Hello there"))
	req, _ := http.NewRequest("POST", c.base+"/v1/"+c.org+"/conversation/"+convID+"/interact?request_format=text&response_format=text",
		bytes.NewReader(body))
	req.Header.Set("Content-Type", ctype)
	req.Header.Set("Authorization", "Bearer "+c.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	gate.waitEntered(t)
	resp.Body.Close() // the client goes away mid-interaction
	gate.open()

	// Once the server has noticed, the conversation is free again and
	// nothing of the dropped interaction was kept.
	deadline := time.Now().Add(10 * time.Second)
	for {
		s := c.interact(t, convID, "", userMessage("Are you there?"))
		if s.status == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the conversation stayed busy: %d %s", s.status, s.raw)
		}
		time.Sleep(20 * time.Millisecond)
	}
	status, page := c.do("GET", "/conversation/"+convID+"/messages/", nil)
	mustStatus(t, "messages", status, http.StatusOK, page)
	for _, m := range page["messages"].([]any) {
		if m.(map[string]any)["message"] == "Hello there" {
			t.Errorf("the dropped interaction's message was kept (%v messages before)", before)
		}
	}
}

// speechServer is an OpenAI-compatible text-to-speech server answering
// every request with a tenth of a second of a 16 kHz tone per word.
func speechServer(t *testing.T) voice.Synthesizer {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Input string `json:"input"`
		}
		if r.URL.Path != "/audio/speech" || json.NewDecoder(r.Body).Decode(&req) != nil {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		samples := make([]int16, 1600*len(strings.Fields(req.Input)))
		for i := range samples {
			samples[i] = int16(8000 * (i % 2))
		}
		w.Header().Set("Content-Type", "audio/wav")
		_, _ = w.Write(voice.EncodeWAV(samples, 16000))
	}))
	t.Cleanup(srv.Close)
	s, err := voice.NewOpenAISynthesizer(voice.OpenAIConfig{URL: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// interactRaw sends an interaction with the body as it is, as the
// TypeScript SDK sends voice.
func (c *client) interactRaw(t testing.TB, convID, query, ctype string, body []byte) stream {
	t.Helper()
	return c.streamed(t, "/conversation/"+convID+"/interact?"+query, ctype, body)
}

func TestConversationVoice(t *testing.T) {
	t.Parallel()
	_, c := newTestServer(t, compadretest.WithSynthesizer(speechServer(t)))
	svc := c.talkingService(t, "Walker", walkerGraph())
	hello, err := os.ReadFile(filepath.Join("..", "voice", "testdata", "hello.wav"))
	if err != nil {
		t.Fatal(err)
	}
	mp3, err := os.ReadFile(filepath.Join("..", "voice", "testdata", "tone-16k-mono.mp3"))
	if err != nil {
		t.Fatal(err)
	}

	// A voice reply: the pieces are base64 PCM16, the full message is the
	// text, and the reply has a source.
	opened := c.open(t, "", map[string]any{"service_id": svc})
	convID := opened.events[0]["conversation_id"].(string)
	s := c.open(t, "", map[string]any{"service_id": svc})
	if s.status != http.StatusBadRequest {
		t.Errorf("a second open conversation: %d", s.status)
	}
	pcmConfig := url.QueryEscape(`{"type": "pcm", "frame_rate": 16000, "n_channels": 1, "sample_width": 2}`)
	wavForm := func(ctype string) []formField {
		return []formField{{name: "initial_message_type", value: "user-message"},
			{name: "recorded_message", value: string(hello), file: "audio.wav", contentType: ctype}}
	}
	s = c.interactVoice(t, convID, "request_format=voice&response_format=voice&request_audio_config="+pcmConfig, wavForm("audio/wav"))
	if s.status != http.StatusOK || s.last()["type"] != "interaction-complete" {
		t.Fatalf("voice in, voice out: status %d: %s", s.status, s.raw)
	}
	checkLines(t, s, false)
	if got := s.events[0]["user_message"]; got != "[voice message: 1.90 s of audio, 16000 Hz, mono]" {
		t.Errorf("transcript: %v", got)
	}
	var audio []byte
	for _, ev := range s.events {
		if ev["type"] == "new-message" {
			b, err := base64.StdEncoding.DecodeString(ev["message"].(string))
			if err != nil {
				t.Fatalf("a voice piece is not base64: %v", err)
			}
			audio = append(audio, b...)
		}
	}
	if want := 2 * 1600 * len(strings.Fields(s.last()["full_message"].(string))); len(audio) != want {
		t.Errorf("voice reply: %d bytes of PCM, want %d", len(audio), want)
	}

	// Both messages are voice, with sources served by Compadre.
	status, page := c.do("GET", "/conversation/"+convID+"/messages/?interaction_id="+s.last()["interaction_id"].(string), nil)
	mustStatus(t, "messages", status, http.StatusOK, page)
	for _, m := range page["messages"].([]any) {
		m := m.(map[string]any)
		if m["format"] != "voice" {
			t.Errorf("message %v is not voice", m)
		}
		status, src := c.do("GET", "/conversation/"+convID+"/messages/"+m["id"].(string)+"/source", nil)
		mustStatus(t, "source", status, http.StatusOK, src)
		resp, err := http.Get(src["url"].(string))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != src["content_type"] {
			t.Errorf("download: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		if m["message_type"] == "user-message" && !bytes.Equal(body, hello) {
			t.Errorf("the user's audio came back changed: %d bytes, sent %d", len(body), len(hello))
		}
		// A tampered link tells nothing.
		tampered := src["url"].(string)
		tampered = tampered[:len(tampered)-2] + "AA"
		if resp, err := http.Get(tampered); err != nil || resp.StatusCode != http.StatusNotFound {
			t.Errorf("a tampered link: %v %v", resp.StatusCode, err)
		}
	}

	// The TypeScript SDK's form: the audio as the body; and MP3.
	if s := c.interactRaw(t, convID, "request_format=voice&response_format=text", "audio/wav", hello); s.last()["type"] != "interaction-complete" {
		t.Errorf("raw WAV: status %d: %s", s.status, s.raw)
	}
	if s := c.interactRaw(t, convID, "request_format=voice&response_format=text&request_audio_config="+url.QueryEscape(`{"type":"mp3"}`),
		"audio/mpeg", mp3); s.last()["type"] != "interaction-complete" || !strings.Contains(s.events[0]["user_message"].(string), "0.5") {
		t.Errorf("MP3: status %d: %s", s.status, s.raw)
	}

	cases := []struct {
		name, query, ctype string
		body               []byte
		want               int
	}{
		{"Ogg", "", "audio/ogg", []byte("OggS\x00\x02rest of it"), http.StatusUnsupportedMediaType},
		{"truncated WAV", "", "audio/wav", hello[:30], http.StatusBadRequest},
		{"a WAV that contradicts its PCM config", "&request_audio_config=" + url.QueryEscape(`{"type":"pcm","frame_rate":8000,"n_channels":1,"sample_width":2}`),
			"audio/wav", hello, http.StatusBadRequest},
		{"a config that is not JSON", "&request_audio_config=pcm", "audio/wav", hello, http.StatusUnprocessableEntity},
		{"two channels", "&request_audio_config=" + url.QueryEscape(`{"type":"pcm","frame_rate":16000,"n_channels":2,"sample_width":2}`),
			"audio/wav", hello, http.StatusUnprocessableEntity},
	}
	before := c.conversationGet(t, convID)["num_messages"]
	for _, tc := range cases {
		if s := c.interactRaw(t, convID, "request_format=voice&response_format=text"+tc.query, tc.ctype, tc.body); s.status != tc.want {
			t.Errorf("%s: status %d, want %d: %s", tc.name, s.status, tc.want, s.raw)
		}
	}
	if after := c.conversationGet(t, convID)["num_messages"]; after != before {
		t.Errorf("refused voice stored messages: %v, had %v", after, before)
	}

	// A text message has no source.
	status, page = c.do("GET", "/conversation/"+convID+"/messages/?limit=1", nil)
	mustStatus(t, "messages", status, http.StatusOK, page)
	first := page["messages"].([]any)[0].(map[string]any)
	if status, body := c.do("GET", "/conversation/"+convID+"/messages/"+first["id"].(string)+"/source", nil); status != http.StatusBadRequest {
		t.Errorf("a text message's source: %d %v", status, body)
	}
}

// interactVoice sends a multipart voice interaction with the query as given.
func (c *client) interactVoice(t testing.TB, convID, query string, fields []formField) stream {
	t.Helper()
	body, ctype := multipartBody(t, fields)
	return c.interactRaw(t, convID, query, ctype, body)
}

// TestConversationPromptsAreLogged: every prompt an interaction sends and
// the completion it gets are kept under the interaction's key, as are a
// recommendation's under the interaction recommended for.
func TestConversationPromptsAreLogged(t *testing.T) {
	t.Parallel()
	srv, c := newTestServer(t)
	svc := c.talkingService(t, "Walker", walkerGraph())
	convID := c.open(t, "", map[string]any{"service_id": svc}).events[0]["conversation_id"].(string)
	s := c.interact(t, convID, "", userMessage("I have a question about my invoice"))
	interID := s.last()["interaction_id"].(string)
	prefix := "conversation/" + convID + "/interaction/" + interID + "/"
	logs, err := srv.Store().PromptLogs(context.Background(), srv.Organization, prefix, 100)
	if err != nil {
		t.Fatal(err)
	}
	var purposes []string
	for _, l := range logs {
		purposes = append(purposes, l.Purpose)
		if l.Model != "builtin" || !strings.Contains(string(l.Prompt), "I have a question about my invoice") {
			t.Errorf("log %s: model %q, prompt %s", l.Key, l.Model, l.Prompt)
		}
	}
	if fmt.Sprint(purposes) != "[select-exit-condition decide reflect engage-user]" {
		t.Errorf("logged purposes: %v", purposes)
	}
	if last := logs[len(logs)-1]; last.Completion != "Explain the invoice" || last.Key != prefix+"04-engage-user" {
		t.Errorf("engage-user log: key %s, completion %q", last.Key, last.Completion)
	}

	status, body := c.do("POST", "/conversation/"+convID+"/interaction/"+interID+"/recommend_responses", nil)
	mustStatus(t, "recommend", status, http.StatusOK, body)
	if got := fmt.Sprint(body["recommended_responses"]); got != "[I am satisfied and says goodbye. Could you tell me more about that?]" {
		t.Errorf("recommendations: %s", got)
	}
	logs, err = srv.Store().PromptLogs(context.Background(), srv.Organization, prefix+"recommend-", 100)
	if err != nil || len(logs) != 1 || logs[0].Purpose != "recommend-responses" {
		t.Errorf("recommendation logs: %v %v", logs, err)
	}
	// Only the latest interaction of an open conversation has recommendations.
	if status, _ := c.do("POST", "/conversation/"+convID+"/interaction/"+store.NewID()+"/recommend_responses", nil); status != http.StatusBadRequest {
		t.Errorf("recommend for another interaction: %d", status)
	}
	if status, ins := c.do("GET", "/conversation/"+convID+"/interaction/"+store.NewID()+"/insights", nil); status != http.StatusNotFound {
		t.Errorf("insights of a missing interaction: %d %v", status, ins)
	}
}

func TestConversationStarters(t *testing.T) {
	t.Parallel()
	_, c := newTestServer(t)
	svc := c.talkingService(t, "Walker", walkerGraph())
	// An unfinished conversation does not stand in the way.
	c.open(t, "", map[string]any{"service_id": svc})
	body := func(facets []any, lo, hi int) map[string]any {
		return map[string]any{"service_id": svc, "facets": facets, "min_count": lo, "max_count": hi,
			"generation_instructions": "Short and friendly"}
	}
	cases := []struct {
		name   string
		facets []any
		lo, hi int
		want   []string
	}{
		{"one per facet", []any{"billing", " returns "}, 1, 5, []string{"I would like help with billing.", "I would like help with returns."}},
		{"at least min_count, cycling", []any{"billing"}, 3, 5, []string{"I would like help with billing.", "I would like help with billing.", "I would like help with billing."}},
		{"at most max_count", []any{"a", "b", "c"}, 1, 2, []string{"I would like help with a.", "I would like help with b."}},
	}
	for _, tc := range cases {
		status, out := c.do("POST", "/conversation/conversation_starter", body(tc.facets, tc.lo, tc.hi))
		mustStatus(t, tc.name, status, http.StatusOK, out)
		var got []string
		for _, p := range out["prompts"].([]any) {
			p := p.(map[string]any)
			got = append(got, p["prompt"].(string))
			if len(p["facets"].([]any)) != 1 {
				t.Errorf("%s: facets %v", tc.name, p["facets"])
			}
		}
		if fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Errorf("%s: got %q, want %q", tc.name, got, tc.want)
		}
	}
	if status, out := c.do("POST", "/conversation/conversation_starter", body([]any{"a"}, 3, 2)); status != http.StatusBadRequest {
		t.Errorf("min above max: %d %v", status, out)
	}
	b := body([]any{"a"}, 1, 1)
	b["service_id"] = store.NewID()
	if status, out := c.do("POST", "/conversation/conversation_starter", b); status != http.StatusNotFound {
		t.Errorf("a missing service: %d %v", status, out)
	}
	b = body([]any{"a"}, 1, 1)
	b["service_version_set_name"] = "nope"
	if status, out := c.do("POST", "/conversation/conversation_starter", b); status != http.StatusNotFound {
		t.Errorf("a missing version set: %d %v", status, out)
	}
}

// TestConversationEntersReferencedGraph: a [reference.state, jumpback]
// transition walks into the referenced graph, and that graph's terminal
// state returns the conversation to the jumpback state.
func TestConversationEntersReferencedGraph(t *testing.T) {
	t.Parallel()
	_, c := newTestServer(t)
	exit := func(desc string, next any) map[string]any {
		return map[string]any{"description": desc, "next_state": next}
	}
	sub := stateMachineMinimal()
	sub["states"] = []any{stateMachineAction("ask", "Ask for the order number", exit("The user gives the order number", "done")),
		stateMachineAction("done", "Thank the user")}
	sub["new_user_initial_state"], sub["returning_user_initial_state"], sub["terminal_state"] = "ask", "ask", "done"
	status, body := c.do("POST", stateMachinePath(), map[string]any{"state_machine_name": "orders"})
	mustStatus(t, "create state machine", status, http.StatusCreated, body)
	subID := body["id"].(string)
	status, body = c.do("POST", stateMachinePath(subID)+"/", sub)
	mustStatus(t, "create state machine version", status, http.StatusCreated, body)

	top := stateMachineMinimal()
	top["states"] = []any{
		stateMachineAction("start", "Welcome the user", exit("The user asks about an order", []any{"orders.ask", "after"})),
		stateMachineAction("after", "Offer more help", exit("The user says goodbye", "end")),
		stateMachineAction("end", "Say goodbye"),
	}
	top["references"] = map[string]any{"orders": []any{subID, 1}}
	svc := c.talkingService(t, "Shop", top)
	convID := c.open(t, "", map[string]any{"service_id": svc}).events[0]["conversation_id"].(string)

	s := c.interact(t, convID, "", userMessage("Where is my order?"))
	checkLines(t, s, false)
	if done := s.last(); done["full_message"] != "Ask for the order number" {
		t.Fatalf("into the referenced graph: %s", s.raw)
	}
	s = c.interact(t, convID, "", userMessage("The order number is 42"))
	checkLines(t, s, false)
	done := s.last()
	if done["full_message"] != "Offer more help" || done["conversation_completed"] != false {
		t.Fatalf("back from the referenced graph: %v", done)
	}
	status, ins := c.do("GET", "/conversation/"+convID+"/interaction/"+done["interaction_id"].(string)+"/insights", nil)
	mustStatus(t, "insights", status, http.StatusOK, ins)
	var logs []string
	for _, l := range ins["state_transition_logs"].([]any) {
		l := l.(map[string]any)
		logs = append(logs, fmt.Sprintf("%s:%s@%v>%s@%v", l["type"], l["previous_state"],
			l["previous_service_hierarchical_state_machine_version_info"].([]any)[0] == subID, l["next_state"],
			l["next_service_hierarchical_state_machine_version_info"].([]any)[0] == subID))
	}
	// In the referenced graph, then back in the main one.
	if got := fmt.Sprint(logs); got != "[action:ask@true>done@true jumpback:done@true>after@false]" {
		t.Errorf("transition logs: %v", got)
	}
	if ins["current_state_name"] != "after" {
		t.Errorf("insights: %v", ins)
	}
}

// TestConversationModelFailure: a model that fails or answers nonsense
// ends the interaction with an error event, and nothing is kept.
func TestConversationModelFailure(t *testing.T) {
	t.Parallel()
	failing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, `{"error": "overloaded"}`, http.StatusServiceUnavailable)
	}))
	t.Cleanup(failing.Close)
	model, err := llm.New(llm.OpenAIName, llm.OpenAIConfig{URL: failing.URL, Model: "m"})
	if err != nil {
		t.Fatal(err)
	}
	_, c := newTestServer(t, compadretest.WithModel(model))
	svc := c.talkingService(t, "Walker", walkerGraph())
	s := c.open(t, "", map[string]any{"service_id": svc})
	last := s.last()
	if s.status != http.StatusCreated || last["type"] != "error" || last["http_error_code"] != float64(502) {
		t.Fatalf("create with a failing model: status %d: %s", s.status, s.raw)
	}
	checkLines(t, s, true)
	// The conversation of a failed opening turn is not kept.
	if got, _ := c.conversationList(t, ""); len(got) != 0 {
		t.Errorf("conversations after a failed opening: %v", got)
	}
}

// TestConversationModelTimeout: a model that does not answer within the
// provider's timeout ends the interaction with a 504 error event, not a
// hang.
func TestConversationModelTimeout(t *testing.T) {
	t.Parallel()
	gate := newGatedModel(t)
	model, err := llm.New(llm.OpenAIName, llm.OpenAIConfig{URL: gate.base, Model: "m", Timeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	_, c := newTestServer(t, compadretest.WithModel(model))
	svc := c.talkingService(t, "Walker", walkerGraph())
	s := c.open(t, "", map[string]any{"service_id": svc})
	if last := s.last(); last["type"] != "error" || last["http_error_code"] != float64(504) {
		t.Fatalf("a silent model: status %d: %s", s.status, s.raw)
	}
}
