package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/compadre-dev/compadre/compadretest"
	"github.com/compadre-dev/compadre/store"
)

// conversationWorld is a server with an agent, a state machine and an
// active service using them.
type conversationWorld struct {
	srv                            *compadretest.Server
	admin                          *client
	agentID, stateMachineID, svcID string
}

func conversationSetup(t *testing.T, opts ...compadretest.Option) conversationWorld {
	t.Helper()
	srv, c := newTestServer(t, opts...)
	agentID, smID := serviceTargets(t, c)
	return conversationWorld{srv: srv, admin: c, agentID: agentID, stateMachineID: smID,
		svcID: c.serviceNew(t, "Support", agentID, smID, nil)}
}

// conversationCreate sends create-conversation and returns the status, the
// content type and the raw body.
func (c *client) conversationCreate(t testing.TB, query string, body any) (int, string, []byte) {
	t.Helper()
	b, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequest("POST", c.base+"/v1/"+c.org+"/conversation/"+query, bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+c.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header.Get("Content-Type"), raw
}

// conversationStart creates a text conversation with the service and
// returns its ID; more adds fields to the request.
func (c *client) conversationStart(t testing.TB, serviceID string, more map[string]any) string {
	t.Helper()
	body := map[string]any{"service_id": serviceID}
	for k, v := range more {
		body[k] = v
	}
	status, _, raw := c.conversationCreate(t, "?response_format=text", body)
	if status != http.StatusCreated {
		t.Fatalf("create conversation: status %d, want 201: %s", status, raw)
	}
	first, _, _ := bytes.Cut(raw, []byte("\n"))
	var ev map[string]any
	if err := json.Unmarshal(first, &ev); err != nil {
		t.Fatalf("create conversation: %v: %s", err, raw)
	}
	return ev["conversation_id"].(string)
}

// conversationList returns the conversations the client sees with the
// query, in order, and the whole answer.
func (c *client) conversationList(t testing.TB, query string) ([]map[string]any, map[string]any) {
	t.Helper()
	status, body := c.do("GET", "/conversation/"+query, nil)
	mustStatus(t, "get conversations"+query, status, http.StatusOK, body)
	var out []map[string]any
	for _, x := range body["conversations"].([]any) {
		out = append(out, x.(map[string]any))
	}
	return out, body
}

// conversationGet returns the conversation as the client sees it, or nil.
func (c *client) conversationGet(t testing.TB, id string) map[string]any {
	t.Helper()
	got, _ := c.conversationList(t, "?id="+id)
	if len(got) == 0 {
		return nil
	}
	return got[0]
}

// conversationIDs lists the IDs of the conversations, in order.
func conversationIDs(cs []map[string]any) []string {
	var ids []string
	for _, c := range cs {
		ids = append(ids, c["id"].(string))
	}
	return ids
}

// conversationAddMessage stores a message the way the conversation engine
// will.
func conversationAddMessage(t testing.TB, srv *compadretest.Server, convID, interactionID, typ, text string) string {
	t.Helper()
	m, err := srv.Store().AddMessage(context.Background(), store.Message{
		OrgID: srv.Organization, ConversationID: convID, InteractionID: interactionID, Sender: "Amy",
		Message: text, Format: "text", MessageType: typ,
	})
	if err != nil {
		t.Fatal(err)
	}
	return m.ID
}

// conversationTags is n tags k0..k(n-1) with values v0..v(n-1).
func conversationTags(n int) map[string]any {
	tags := map[string]any{}
	for i := range n {
		tags[fmt.Sprintf("k%d", i)] = fmt.Sprintf("v%d", i)
	}
	return tags
}

func TestConversationCreateStreamsCreatedEvent(t *testing.T) {
	t.Parallel()
	w := conversationSetup(t)
	status, ctype, raw := w.admin.conversationCreate(t, "?response_format=text", map[string]any{"service_id": w.svcID})
	if status != http.StatusCreated || ctype != "application/x-ndjson" {
		t.Fatalf("status %d, content type %q; want 201 application/x-ndjson: %s", status, ctype, raw)
	}
	lines := strings.Split(strings.TrimSuffix(string(raw), "\n"), "\n")
	if len(lines) < 3 || !strings.HasSuffix(string(raw), "\n") {
		t.Fatalf("stream: got %q, want conversation-created, the opening message and interaction-complete", raw)
	}
	var ev map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &ev); err != nil {
		t.Fatal(err)
	}
	id, _ := ev["conversation_id"].(string)
	if ev["type"] != "conversation-created" || len(id) != 24 || len(ev) != 2 {
		t.Fatalf("event: %v", ev)
	}
	got := w.admin.conversationGet(t, id)
	if got == nil {
		t.Fatal("the new conversation is not listed")
	}
	want := map[string]any{
		"id": id, "user_id": w.srv.UserID, "service_id": w.svcID, "is_finished": false, "is_analyzed": false,
		"completed_post_processings": []any{}, "final_message": "Greet the user", "num_messages": float64(1), "tags": map[string]any{},
		"version_set_info": map[string]any{
			"name": "release", "agent_version_info": []any{w.agentID, float64(1)},
			"service_hierarchical_state_machine_version_info": []any{w.stateMachineID, float64(1)},
			"llm_model_preferences":                           map[string]any{},
		},
	}
	for k, v := range want {
		if fmt.Sprint(got[k]) != fmt.Sprint(v) {
			t.Errorf("%s: got %v, want %v", k, got[k], v)
		}
	}
	if ts, _ := got["created_at"].(string); !strings.HasSuffix(ts, "Z") {
		t.Errorf("created_at %v", got["created_at"])
	}
}

func TestConversationResolvesVersionSet(t *testing.T) {
	t.Parallel()
	w := conversationSetup(t)
	c := w.admin
	status, body := c.do("POST", "/organization/agent/"+w.agentID+"/", agentVersionBody())
	mustStatus(t, "agent version 2", status, http.StatusCreated, body)
	prefs := map[string]any{"engage_user": map[string]any{"llm_name": "google_gemini-2.5-pro", "params": map[string]any{"top_p": 0.5}}}
	status, body = c.do("PUT", "/service/"+w.svcID+"/version_sets/pinned/", map[string]any{"version_set": map[string]any{
		"agent_version_number": 1, "service_hierarchical_state_machine_version_number": 1, "llm_model_preferences": prefs,
	}})
	mustStatus(t, "pinned version set", status, http.StatusNoContent, body)

	// release follows the newest agent version; pinned keeps version 1.
	latest := c.conversationStart(t, w.svcID, nil)
	info := c.conversationGet(t, latest)["version_set_info"].(map[string]any)
	if fmt.Sprint(info["agent_version_info"]) != fmt.Sprint([]any{w.agentID, 2}) || info["name"] != "release" {
		t.Errorf("release conversation: %v", info)
	}
	status, body = c.do("POST", "/conversation/"+latest+"/finish/", nil)
	mustStatus(t, "finish", status, http.StatusNoContent, body)
	pinned := c.conversationStart(t, w.svcID, map[string]any{"service_version_set_name": "pinned"})
	info = c.conversationGet(t, pinned)["version_set_info"].(map[string]any)
	if fmt.Sprint(info["agent_version_info"]) != fmt.Sprint([]any{w.agentID, 1}) || info["name"] != "pinned" ||
		fmt.Sprint(info["llm_model_preferences"]) != fmt.Sprint(prefs) {
		t.Errorf("pinned conversation: %v", info)
	}

	// A conversation keeps the versions it was created with.
	status, body = c.do("POST", "/organization/agent/"+w.agentID+"/", agentVersionBody())
	mustStatus(t, "agent version 3", status, http.StatusCreated, body)
	status, body = c.do("PUT", "/service/"+w.svcID+"/version_sets/pinned/", map[string]any{"version_set": map[string]any{
		"agent_version_number": 3, "service_hierarchical_state_machine_version_number": nil, "llm_model_preferences": map[string]any{},
	}})
	mustStatus(t, "repin", status, http.StatusNoContent, body)
	info = c.conversationGet(t, pinned)["version_set_info"].(map[string]any)
	if fmt.Sprint(info["agent_version_info"]) != fmt.Sprint([]any{w.agentID, 1}) {
		t.Errorf("after repinning the set, the conversation uses %v", info["agent_version_info"])
	}
}

func TestConversationCreateRules(t *testing.T) {
	t.Parallel()
	w := conversationSetup(t)
	c := w.admin
	inactive := c.serviceNew(t, "Dormant", w.agentID, w.stateMachineID, map[string]any{"is_active": false})

	cases := []struct {
		name       string
		query      string
		body       map[string]any
		wantStatus int
	}{
		{"a missing service", "?response_format=text", map[string]any{"service_id": strings.Repeat("e", 24)}, http.StatusNotFound},
		{"a missing version set", "?response_format=text", map[string]any{"service_id": w.svcID, "service_version_set_name": "nope"}, http.StatusNotFound},
		{"no response_format", "", map[string]any{"service_id": w.svcID}, http.StatusUnprocessableEntity},
		{"an unknown response_format", "?response_format=video", map[string]any{"service_id": w.svcID}, http.StatusUnprocessableEntity},
		{"a message type without a message", "?response_format=text", map[string]any{"service_id": w.svcID, "initial_message_type": "user-message"}, http.StatusUnprocessableEntity},
		{"a message type with a null message", "?response_format=text", map[string]any{"service_id": w.svcID, "initial_message": nil, "initial_message_type": "external-event"}, http.StatusUnprocessableEntity},
		{"an unknown message type", "?response_format=text", map[string]any{"service_id": w.svcID, "initial_message": "hi", "initial_message_type": "agent-message"}, http.StatusUnprocessableEntity},
		{"a blank initial message", "?response_format=text", map[string]any{"service_id": w.svcID, "initial_message": "   "}, http.StatusUnprocessableEntity},
		{"a malformed service ID", "?response_format=text", map[string]any{"service_id": "nope"}, http.StatusUnprocessableEntity},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status, _, raw := c.conversationCreate(t, tc.query, tc.body)
			if status != tc.wantStatus {
				t.Errorf("status %d, want %d: %s", status, tc.wantStatus, raw)
			}
		})
	}
	if got, _ := c.conversationList(t, ""); len(got) != 0 {
		t.Fatalf("refused requests stored conversations: %v", got)
	}

	// Every agent version has a voice, so a voice conversation passes the
	// language check; without a speech synthesizer it is refused, saying
	// so. An inactive service can still be talked to.
	status, _, raw := c.conversationCreate(t, "?response_format=voice", map[string]any{"service_id": w.svcID})
	if !noSynthesizer(status, raw) {
		t.Errorf("voice conversation: status %d: %s", status, raw)
	}
	c.conversationStart(t, w.svcID, nil)
	c.conversationStart(t, inactive, nil)

	// One unfinished conversation per user and service.
	status, _, raw = c.conversationCreate(t, "?response_format=text", map[string]any{"service_id": w.svcID})
	if status != http.StatusBadRequest {
		t.Errorf("a second unfinished conversation: status %d, want 400: %s", status, raw)
	}
	other := c.keyFor(c.newUser("other@example.com", "DefaultUserRole"), "DefaultUserRole")
	other.conversationStart(t, w.svcID, nil)
	if got, _ := c.conversationList(t, "?service_id="+w.svcID); len(got) != 2 {
		t.Errorf("conversations with the service: got %d, want 2", len(got))
	}

	// Without Conversation:CreateConversation for the service, refused.
	c.newRole("DormantOnly", grant("Conversation:CreateConversation", map[string]any{"service_id": equals(inactive)}))
	narrow := c.keyFor(c.newUser("narrow@example.com", "DormantOnly"), "DormantOnly")
	status, _, raw = narrow.conversationCreate(t, "?response_format=text", map[string]any{"service_id": w.svcID})
	if status != http.StatusForbidden {
		t.Errorf("create without the permission for the service: status %d: %s", status, raw)
	}
	narrow.conversationStart(t, inactive, nil)
}

func TestConversationInitialMessage(t *testing.T) {
	t.Parallel()
	w := conversationSetup(t)
	c := w.admin
	status, body := c.do("POST", "/user/", map[string]any{"first_name": "Ana", "last_name": "Lima", "email": "ana@example.com", "role_name": "DefaultUserRole"})
	mustStatus(t, "create user", status, http.StatusCreated, body)
	ana := c.keyFor(body["user_id"].(string), "DefaultUserRole")
	id := ana.conversationStart(t, w.svcID, map[string]any{"initial_message": "  Hello there  "})
	status, body = c.do("GET", "/conversation/"+id+"/messages/", nil)
	mustStatus(t, "messages", status, http.StatusOK, body)
	msgs := body["messages"].([]any)
	if len(msgs) != 2 {
		t.Fatalf("messages: %v", msgs)
	}
	m := msgs[0].(map[string]any)
	if m["message"] != "Hello there" || m["message_type"] != "user-message" || m["sender"] != "Ana Lima" || m["format"] != "text" {
		t.Errorf("initial message: %v", m)
	}
	// The agent answers the initial message in the opening turn.
	if reply := msgs[1].(map[string]any); reply["message_type"] != "agent-message" || reply["interaction_id"] != m["interaction_id"] {
		t.Errorf("reply: %v", reply)
	}
	got := c.conversationGet(t, id)
	if got["final_message"] != "Greet the user" || got["num_messages"] != float64(2) {
		t.Errorf("conversation: %v", got)
	}

	event := c.conversationStart(t, w.svcID, map[string]any{"initial_message": "Order 42 shipped", "initial_message_type": "external-event"})
	status, body = c.do("GET", "/conversation/"+event+"/messages/", nil)
	mustStatus(t, "messages", status, http.StatusOK, body)
	if m := body["messages"].([]any)[0].(map[string]any); m["message_type"] != "external-event" || m["message"] != "Order 42 shipped" {
		t.Errorf("external event: %v", m)
	}
}

func TestConversationTagLimits(t *testing.T) {
	t.Parallel()
	w := conversationSetup(t)
	c := w.admin
	users := 0
	// Each accepted conversation belongs to a fresh user: one user may have
	// one unfinished conversation per service.
	start := func(tags map[string]any) (int, []byte) {
		users++
		u := c.keyFor(c.newUser(fmt.Sprintf("u%d@example.com", users), "DefaultUserRole"), "DefaultUserRole")
		status, _, raw := u.conversationCreate(t, "?response_format=text", map[string]any{"service_id": w.svcID, "tags": tags})
		return status, raw
	}
	cases := []struct {
		name       string
		tags       map[string]any
		wantStatus int
	}{
		{"21 tags", conversationTags(21), http.StatusUnprocessableEntity},
		{"a key with a dash", map[string]any{"a-b": "x"}, http.StatusUnprocessableEntity},
		{"a value with a dash", map[string]any{"a": "x-y"}, http.StatusUnprocessableEntity},
		{"a value of 101 characters", map[string]any{"a": strings.Repeat("v", 101)}, http.StatusUnprocessableEntity},
		{"an empty value", map[string]any{"a": ""}, http.StatusUnprocessableEntity},
		{"a blank key", map[string]any{"  ": "x"}, http.StatusUnprocessableEntity},
		{"keys equal once trimmed", map[string]any{"a": "x", " a": "y"}, http.StatusBadRequest},
		{"20 tags", conversationTags(20), http.StatusCreated},
		{"a null value", map[string]any{"vip": nil}, http.StatusCreated},
		{"a value of 100 characters with spaces and underscores", map[string]any{"note text": strings.Repeat("a_ ", 33) + "z"}, http.StatusCreated},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if status, raw := start(tc.tags); status != tc.wantStatus {
				t.Errorf("status %d, want %d: %s", status, tc.wantStatus, raw)
			}
		})
	}
	got, _ := c.conversationList(t, "")
	if len(got) != 3 {
		t.Fatalf("got %d conversations, want the 3 accepted ones", len(got))
	}
	if tags := got[0]["tags"].(map[string]any); len(tags) != 20 || tags["k19"] != "v19" {
		t.Errorf("20 tags: got %v", tags)
	}
	if tags := got[1]["tags"].(map[string]any); len(tags) != 1 || tags["vip"] != nil {
		t.Errorf("null value: got %v", tags)
	}
}

func TestConversationModifyTags(t *testing.T) {
	t.Parallel()
	w := conversationSetup(t)
	c := w.admin
	id := c.conversationStart(t, w.svcID, map[string]any{"tags": map[string]any{"old": "1", "keep": "2", "gone": nil}})
	tagsOf := func() map[string]any { return c.conversationGet(t, id)["tags"].(map[string]any) }

	status, body := c.do("POST", "/conversation/"+id+"/tags/", map[string]any{
		"updates": map[string]any{"department": "sales", "priority": "high", "keep": "3", "flag": nil},
		"deletes": []any{"old", "gone", "never_there"},
	})
	mustStatus(t, "modify", status, http.StatusNoContent, body)
	want := map[string]any{"department": "sales", "priority": "high", "keep": "3", "flag": nil}
	if got := tagsOf(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("tags: got %v, want %v", got, want)
	}
	if got, _ := c.conversationList(t, "?tag=department:sales&tag=flag:"); len(got) != 1 {
		t.Errorf("the new tags do not filter: %v", got)
	}

	// 4 tags now: 16 more is 20, 17 more would be 21.
	more := func(n int) map[string]any {
		tags := map[string]any{}
		for i := range n {
			tags[fmt.Sprintf("m%d", i)] = nil
		}
		return tags
	}
	cases := []struct {
		name       string
		body       map[string]any
		wantStatus int
	}{
		{"updated and deleted", map[string]any{"updates": map[string]any{"keep": "4"}, "deletes": []any{"keep"}}, http.StatusUnprocessableEntity},
		{"21 tags in total", map[string]any{"updates": more(17)}, http.StatusBadRequest},
		{"21 updates", map[string]any{"updates": more(21)}, http.StatusUnprocessableEntity},
		{"a key with a dash", map[string]any{"updates": map[string]any{"a-b": nil}}, http.StatusUnprocessableEntity},
		{"duplicate deletes", map[string]any{"deletes": []any{"keep", "keep"}}, http.StatusUnprocessableEntity},
		{"a blank delete", map[string]any{"deletes": []any{" "}}, http.StatusUnprocessableEntity},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status, body := c.do("POST", "/conversation/"+id+"/tags/", tc.body)
			mustStatus(t, "modify", status, tc.wantStatus, body)
		})
	}
	if got := tagsOf(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("refused requests changed the tags: %v", got)
	}
	// Deleting while adding keeps within the limit.
	status, body = c.do("POST", "/conversation/"+id+"/tags/", map[string]any{"updates": more(17), "deletes": []any{"flag"}})
	mustStatus(t, "20 tags after deleting one", status, http.StatusNoContent, body)
	if got := tagsOf(); len(got) != 20 || got["m16"] != nil {
		t.Errorf("tags: got %v", got)
	} else if _, has := got["flag"]; has {
		t.Errorf("flag was not deleted: %v", got)
	}

	status, body = c.do("POST", "/conversation/"+strings.Repeat("f", 24)+"/tags/", map[string]any{"updates": map[string]any{"a": nil}})
	mustStatus(t, "missing conversation", status, http.StatusNotFound, body)
	c.newRole("Watcher", grant("Conversation:GetConversation", nil))
	watcher := c.keyFor(c.newUser("watcher@example.com", "Watcher"), "Watcher")
	status, body = watcher.do("POST", "/conversation/"+id+"/tags/", map[string]any{"deletes": []any{"keep"}})
	mustStatus(t, "modify without Conversation:ModifyConversation", status, http.StatusForbidden, body)
	c.newRole("OtherModifier", grant("Conversation:ModifyConversation", map[string]any{"user_id": equals("someone_else")}))
	modifier := c.keyFor(c.newUser("modifier@example.com", "OtherModifier"), "OtherModifier")
	status, body = modifier.do("POST", "/conversation/"+id+"/tags/", map[string]any{"deletes": []any{"keep"}})
	mustStatus(t, "modify with a grant for another user's conversations", status, http.StatusForbidden, body)
	if _, ok := tagsOf()["keep"]; !ok {
		t.Error("a refused request deleted a tag")
	}
}

func TestConversationList(t *testing.T) {
	t.Parallel()
	w := conversationSetup(t)
	c := w.admin
	sales := c.serviceNew(t, "Sales", w.agentID, w.stateMachineID, nil)
	bob := c.newUser("bob@example.com", "DefaultUserRole")
	bobc := c.keyFor(bob, "DefaultUserRole")
	c1 := c.conversationStart(t, w.svcID, map[string]any{"tags": map[string]any{"team": "care", "vip": nil}})
	c2 := c.conversationStart(t, sales, map[string]any{"tags": map[string]any{"team": "sales"}})
	c3 := bobc.conversationStart(t, w.svcID, map[string]any{"tags": map[string]any{"vip": "gold"}})
	conversationAddMessage(t, w.srv, c2, "", store.MessageUser, "bye")
	status, body := c.do("POST", "/conversation/"+c2+"/finish/", nil)
	mustStatus(t, "finish c2", status, http.StatusNoContent, body)

	cases := []struct {
		query string
		want  []string
	}{
		{"", []string{c1, c2, c3}},
		{"?sort_by=-created_at", []string{c3, c2, c1}},
		{"?tag=team:care", []string{c1}},
		{"?tag=team:*", []string{c1, c2}},
		{"?tag=vip:", []string{c1}},
		{"?tag=vip:*", []string{c1, c3}},
		{"?tag=vip:gold", []string{c3}},
		{"?tag=team:*&tag=vip:*", []string{c1}},
		{"?tag=nothere:*", nil},
		{"?user_id=" + bob, []string{c3}},
		{"?user_id=" + bob + "&user_id=" + w.srv.UserID, []string{c1, c2, c3}},
		{"?service_id=" + sales, []string{c2}},
		{"?is_finished=true", []string{c2}},
		{"?is_finished=false", []string{c1, c3}},
		{"?id=" + c3 + "&id=" + c1, []string{c1, c3}},
		{"?limit=2", []string{c1, c2}},
		{"?limit=2&continuation_token=2", []string{c3}},
	}
	for _, tc := range cases {
		t.Run(tc.query, func(t *testing.T) {
			got, _ := c.conversationList(t, tc.query)
			if ids := conversationIDs(got); !slices.Equal(ids, tc.want) {
				t.Errorf("got %v, want %v", ids, tc.want)
			}
		})
	}
	_, page := c.conversationList(t, "?limit=2")
	if page["has_more"] != true || page["continuation_token"] != float64(2) {
		t.Errorf("first page: %v", page)
	}
	_, page = c.conversationList(t, "?limit=2&continuation_token=2")
	if page["has_more"] != false || page["continuation_token"] != nil {
		t.Errorf("last page: %v", page)
	}
	for _, q := range []string{"?tag=novalue", "?sort_by=user_id", "?limit=151", "?service_id=bad"} {
		if status, body := c.do("GET", "/conversation/"+q, nil); status != http.StatusUnprocessableEntity {
			t.Errorf("%s: status %d, want 422: %v", q, status, body)
		}
	}
	if got := c.conversationGet(t, c2); got["final_message"] != "bye" || got["is_finished"] != true || got["num_messages"] != float64(2) {
		t.Errorf("finished conversation: %v", got)
	}

	// Visibility follows Conversation:GetConversation on each conversation;
	// the final message and version set need their own permissions.
	c.newRole("OwnOnly", grant("Conversation:GetConversation", map[string]any{"user_id": equals(bob)}))
	own := c.keyFor(c.newUser("own@example.com", "OwnOnly"), "OwnOnly")
	for _, q := range []string{"", "?limit=1", "?limit=1&continuation_token=1"} {
		if got, _ := own.conversationList(t, q); q != "?limit=1&continuation_token=1" && !slices.Equal(conversationIDs(got), []string{c3}) ||
			q == "?limit=1&continuation_token=1" && len(got) != 0 {
			t.Errorf("%q: a caller allowed only bob's conversations sees %v", q, conversationIDs(got))
		}
	}
	c.newRole("SalesReader", grant("Conversation:GetConversation", map[string]any{"service_id": equals(sales)}))
	salesReader := c.keyFor(c.newUser("sales@example.com", "SalesReader"), "SalesReader")
	got, _ := salesReader.conversationList(t, "")
	if !slices.Equal(conversationIDs(got), []string{c2}) {
		t.Fatalf("a caller allowed only Sales conversations sees %v", conversationIDs(got))
	}
	if got[0]["final_message"] != "" || got[0]["version_set_info"] != nil {
		t.Errorf("without GetMessage and GetVersionSet: final_message %v, version_set_info %v", got[0]["final_message"], got[0]["version_set_info"])
	}
	c.newRole("NoConversations")
	nobody := c.keyFor(c.newUser("nobody@example.com", "NoConversations"), "NoConversations")
	if got, _ := nobody.conversationList(t, ""); len(got) != 0 {
		t.Errorf("a caller without Conversation:GetConversation sees %v", conversationIDs(got))
	}

	other := serviceOtherOrg(t, w.srv, c, "beta")
	if got, _ := other.conversationList(t, ""); len(got) != 0 {
		t.Errorf("another organization sees %v", conversationIDs(got))
	}
	if got, _ := other.conversationList(t, "?id="+c1); len(got) != 0 {
		t.Errorf("another organization sees %v by ID", conversationIDs(got))
	}
}

func TestConversationMessages(t *testing.T) {
	t.Parallel()
	w := conversationSetup(t)
	c := w.admin
	id := c.conversationStart(t, w.svcID, nil)
	status, page := c.do("GET", "/conversation/"+id+"/messages/", nil)
	mustStatus(t, "the opening message", status, http.StatusOK, page)
	m0 := page["messages"].([]any)[0].(map[string]any)["id"].(string)
	i1, i2 := store.NewID(), store.NewID()
	m1 := conversationAddMessage(t, w.srv, id, i1, store.MessageAgent, "Hi, I'm Amy.")
	thought := conversationAddMessage(t, w.srv, id, i2, store.MessageAgentInnerThought, "The user is new.")
	m3 := conversationAddMessage(t, w.srv, id, i2, store.MessageUser, "Hello")
	m4 := conversationAddMessage(t, w.srv, id, i2, store.MessageExternalEvent, "Order shipped")
	m5 := conversationAddMessage(t, w.srv, id, i2, store.MessageAgent, "Great news.")

	list := func(who *client, query string) ([]string, map[string]any) {
		t.Helper()
		status, body := who.do("GET", "/conversation/"+id+"/messages/"+query, nil)
		mustStatus(t, "messages"+query, status, http.StatusOK, body)
		var ids []string
		for _, m := range body["messages"].([]any) {
			ids = append(ids, m.(map[string]any)["id"].(string))
		}
		return ids, body
	}
	cases := []struct {
		query string
		want  []string
	}{
		{"", []string{m0, m1, m3, m4, m5}},
		{"?message_type=agent-inner-thought", []string{thought}},
		{"?message_type=agent-message&message_type=user-message", []string{m0, m1, m3, m5}},
		{"?interaction_id=" + i1, []string{m1}},
		{"?id=" + m5 + "&id=" + m1, []string{m1, m5}},
		{"?sort_by=-created_at", []string{m5, m4, m3, m1, m0}},
		{"?limit=3", []string{m0, m1, m3}},
		{"?limit=3&continuation_token=3", []string{m4, m5}},
	}
	for _, tc := range cases {
		t.Run(tc.query, func(t *testing.T) {
			if got, _ := list(c, tc.query); !slices.Equal(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
	_, body := list(c, "?limit=3")
	if body["has_more"] != true || body["continuation_token"] != float64(3) {
		t.Errorf("first page: has_more %v, continuation_token %v", body["has_more"], body["continuation_token"])
	}
	m := body["messages"].([]any)[1].(map[string]any)
	if m["interaction_id"] != i1 || m["sender"] != "Amy" || m["message"] != "Hi, I'm Amy." || m["format"] != "text" ||
		m["message_type"] != "agent-message" || m["created_at"] == "" {
		t.Errorf("message: %v", m)
	}
	if got := c.conversationGet(t, id); got["final_message"] != "Great news." || got["num_messages"] != float64(6) {
		t.Errorf("conversation: final_message %v, num_messages %v", got["final_message"], got["num_messages"])
	}
	for _, q := range []string{"?message_type=note", "?limit=501", "?sort_by=sender"} {
		if status, body := c.do("GET", "/conversation/"+id+"/messages/"+q, nil); status != http.StatusUnprocessableEntity {
			t.Errorf("%s: status %d, want 422: %v", q, status, body)
		}
	}

	status, body = c.do("GET", "/conversation/"+strings.Repeat("0", 24)+"/messages/", nil)
	mustStatus(t, "a missing conversation", status, http.StatusNotFound, body)
	other := serviceOtherOrg(t, w.srv, c, "beta")
	status, body = other.do("GET", "/conversation/"+id+"/messages/", nil)
	mustStatus(t, "another organization's conversation", status, http.StatusNotFound, body)
	c.newRole("Watcher", grant("Conversation:GetConversation", nil))
	watcher := c.keyFor(c.newUser("watcher@example.com", "Watcher"), "Watcher")
	status, body = watcher.do("GET", "/conversation/"+id+"/messages/", nil)
	mustStatus(t, "without Conversation:GetMessage", status, http.StatusForbidden, body)
	c.newRole("Reader", grant("Conversation:GetMessage", map[string]any{"conversation_id": equals(id)}))
	reader := c.keyFor(c.newUser("reader@example.com", "Reader"), "Reader")
	if got, _ := list(reader, ""); len(got) != 5 {
		t.Errorf("a reader of this conversation's messages sees %d", len(got))
	}
}

func TestConversationFinish(t *testing.T) {
	t.Parallel()
	w := conversationSetup(t)
	c := w.admin
	id := c.conversationStart(t, w.svcID, map[string]any{"initial_message": "Hello"})
	path := "/conversation/" + id + "/finish/"

	c.newRole("NoFinish", grant("User:UpdateUserInfo", nil), grant("Conversation:GetConversation", nil))
	noFinish := c.keyFor(c.newUser("nofinish@example.com", "NoFinish"), "NoFinish")
	status, body := noFinish.do("POST", path, nil)
	mustStatus(t, "finish without Conversation:FinishConversation", status, http.StatusForbidden, body)
	c.newRole("OtherFinisher", grant("User:UpdateUserInfo", nil),
		grant("Conversation:FinishConversation", map[string]any{"service_id": equals("000000000000000000000000")}))
	otherFinisher := c.keyFor(c.newUser("otherfinisher@example.com", "OtherFinisher"), "OtherFinisher")
	status, body = otherFinisher.do("POST", path, nil)
	mustStatus(t, "finish with a grant for another service", status, http.StatusForbidden, body)
	c.newRole("NotTheUser", grant("User:UpdateUserInfo", map[string]any{"user_id": equals("someone_else")}),
		grant("Conversation:FinishConversation", nil))
	notTheUser := c.keyFor(c.newUser("nottheuser@example.com", "NotTheUser"), "NotTheUser")
	status, body = notTheUser.do("POST", path, nil)
	mustStatus(t, "finish without User:UpdateUserInfo on its user", status, http.StatusForbidden, body)
	if got := c.conversationGet(t, id); got["is_finished"] != false {
		t.Fatalf("a refused finish finished the conversation: %v", got)
	}

	status, body = c.do("POST", path, nil)
	mustStatus(t, "finish", status, http.StatusNoContent, body)
	if got := c.conversationGet(t, id); got["is_finished"] != true {
		t.Errorf("after finishing: %v", got)
	}
	status, body = c.do("POST", path, nil)
	mustStatus(t, "finish again", status, http.StatusConflict, body)
	if _, err := w.srv.Store().AddMessage(context.Background(), store.Message{OrgID: w.srv.Organization, ConversationID: id,
		Sender: "Amy", Message: "late", Format: "text", MessageType: store.MessageAgent}); err == nil {
		t.Error("a message was added to a finished conversation")
	}

	// A finished conversation frees the service for the user's next one.
	// One without messages (no agent turns are written yet) finishes like
	// any other rather than being deleted; DECISIONS.md says why.
	empty := c.conversationStart(t, w.svcID, nil)
	status, body = c.do("POST", "/conversation/"+empty+"/finish/", nil)
	mustStatus(t, "finish a conversation without messages", status, http.StatusNoContent, body)
	if got := c.conversationGet(t, empty); got["is_finished"] != true {
		t.Errorf("after finishing a conversation without messages: %v", got)
	}
	status, body = c.do("POST", "/conversation/"+empty+"/finish/", nil)
	mustStatus(t, "finish a conversation without messages again", status, http.StatusConflict, body)

	status, body = c.do("POST", "/conversation/"+strings.Repeat("1", 24)+"/finish/", nil)
	mustStatus(t, "finish a missing conversation", status, http.StatusNotFound, body)
	other := serviceOtherOrg(t, w.srv, c, "beta")
	live := c.conversationStart(t, w.svcID, map[string]any{"initial_message": "Hi"})
	status, body = other.do("POST", "/conversation/"+live+"/finish/", nil)
	mustStatus(t, "finish another organization's conversation", status, http.StatusNotFound, body)
	if got := c.conversationGet(t, live); got["is_finished"] != false {
		t.Errorf("another organization finished a conversation: %v", got)
	}
}

// TestConversationVoiceLanguage: a voice conversation needs a language with
// voice, Arabic among them since v0.7.0: the user's preferred language, or
// the agent's default spoken language when the user has none.
// noSynthesizer reports a voice request that passed every check but the
// last: the server has no speech synthesizer.
func noSynthesizer(status int, raw []byte) bool {
	return status == http.StatusBadRequest && strings.Contains(string(raw), "need a speech synthesizer")
}

func TestConversationVoiceLanguage(t *testing.T) {
	t.Parallel()
	w := conversationSetup(t, compadretest.WithSynthesizer(speechServer(t)))
	c := w.admin
	speak := func(lang string) {
		t.Helper()
		v := agentVersionBody()
		v["identity"].(map[string]any)["default_spoken_language"] = lang
		status, body := c.do("POST", "/organization/agent/"+w.agentID+"/", map[string]any{"identity": v["identity"]})
		mustStatus(t, "agent version speaking "+lang, status, http.StatusCreated, body)
	}
	start := func(format string) (int, []byte) {
		t.Helper()
		status, _, raw := c.conversationCreate(t, "?response_format="+format, map[string]any{"service_id": w.svcID})
		return status, raw
	}
	finishAll := func() {
		t.Helper()
		convs, _ := c.conversationList(t, "?is_finished=false")
		for _, conv := range convs {
			status, body := c.do("POST", "/conversation/"+conv["id"].(string)+"/finish/", nil)
			mustStatus(t, "finish", status, http.StatusNoContent, body)
		}
	}

	speak("ara")
	if status, raw := start("voice"); status != http.StatusCreated {
		t.Fatalf("voice with an Arabic-speaking agent: status %d: %s", status, raw)
	}
	finishAll()

	speak("yor")
	before, _ := c.conversationList(t, "")
	status, raw := start("voice")
	if status != http.StatusBadRequest || !strings.Contains(string(raw), `default spoken language, \"yor\", does not support voice`) {
		t.Fatalf("voice with a Yoruba-speaking agent: status %d: %s", status, raw)
	}
	if after, _ := c.conversationList(t, ""); len(after) != len(before) {
		t.Errorf("a refused voice conversation was stored: %d conversations, had %d", len(after), len(before))
	}
	if status, raw := start("text"); status != http.StatusCreated {
		t.Fatalf("text with a Yoruba-speaking agent: status %d: %s", status, raw)
	}
	finishAll()

	// The user's own preferred language wins over the agent's.
	status, body := c.do("POST", "/user/"+w.srv.UserID, map[string]any{"preferred_language": "ara"})
	mustStatus(t, "prefer Arabic", status, http.StatusNoContent, body)
	if status, raw := start("voice"); status != http.StatusCreated {
		t.Fatalf("voice for a user preferring Arabic: status %d: %s", status, raw)
	}
	finishAll()
	status, body = c.do("POST", "/user/"+w.srv.UserID, map[string]any{"preferred_language": "yor"})
	mustStatus(t, "prefer Yoruba", status, http.StatusNoContent, body)
	status, raw = start("voice")
	if status != http.StatusBadRequest || !strings.Contains(string(raw), `preferred language, \"yor\"`) {
		t.Fatalf("voice for a user preferring Yoruba: status %d: %s", status, raw)
	}
}
