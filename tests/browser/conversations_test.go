package browser_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"mime/multipart"
	"net/http"
	"reflect"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/compadre-dev/compadre/compadretest"
)

// convoHostile is a user message that would run script if the console parsed
// it as markup.
const convoHostile = `<img src=x onerror="window.__pwned=1"><script>window.__pwned=1</script>`

// convoGraph is a context graph with a state of each kind but tool-call,
// steered by the built-in model's word matching:
//
//	start --invoice--> route (decision) --> note (annotation) --> think (reflection)
//	      --> look (recall) --> billing --refund--> refund --done--> billing
//	start, billing --goodbye--> end (terminal)
func convoGraph() map[string]any {
	return map[string]any{
		"description": "Invoices and refunds.",
		"states": []any{
			actionState("start", "Welcome the user", exitTo("The user asks about an invoice", "route"), exitTo("The user says goodbye", "end")),
			map[string]any{"type": "decision", "name": "route", "objective": "Route the question",
				"exit_conditions":     []any{exitTo("The invoice is overdue", "note"), exitTo("The question is general", "note")},
				"decision_guidelines": []any{}, "tool_call_specs": []any{}, "audio_fillers": []any{}, "audio_filler_triggered_after": 1},
			map[string]any{"type": "annotation", "name": "note", "inner_thought": "The user has an invoice question", "next_state": "think"},
			map[string]any{"type": "reflection", "name": "think", "problem": "What does the user need to know about invoices now",
				"word_limit": 5, "next_state": "look", "tool_call_specs": []any{}, "audio_fillers": []any{}, "audio_filler_triggered_after": 1},
			map[string]any{"type": "recall", "name": "look", "queries": []any{"invoice number"}, "requested_information": nil,
				"next_state": "billing"},
			actionState("billing", "Explain the invoice", exitTo("The user wants a refund", "refund"), exitTo("The user is satisfied and says goodbye", "end")),
			actionState("refund", "Start the refund", exitTo("The refund is done", "billing")),
			actionState("end", "Say goodbye"),
		},
		"new_user_initial_state":                   "start",
		"returning_user_initial_state":             "start",
		"terminal_state":                           "end",
		"references":                               map[string]any{},
		"global_intra_state_navigation_guidelines": []any{},
		"global_action_guidelines":                 []any{},
		"global_boundary_constraints":              []any{},
	}
}

// transitions counts the graph's transitions: exit conditions, or a next
// state.
func convoTransitions(g map[string]any) int {
	n := 0
	for _, st := range g["states"].([]any) {
		st := st.(map[string]any)
		if ecs, ok := st["exit_conditions"].([]any); ok {
			n += len(ecs)
		} else if st["next_state"] != nil {
			n++
		}
	}
	return n
}

// convoService creates an agent, a context graph of one version, g, and
// a service using them; it answers the service's and the graph's IDs.
func convoService(a *api, name, graphName string, g map[string]any) (serviceID, graphID string) {
	a.t.Helper()
	var out map[string]any
	a.call("POST", "/organization/agent", map[string]any{"agent_name": "Amy"}, http.StatusCreated, &out)
	agentID := out["id"].(string)
	a.call("POST", "/organization/agent/"+agentID+"/", agentVersion(), http.StatusCreated, nil)
	a.call("POST", "/organization/service_hierarchical_state_machine", map[string]any{"state_machine_name": graphName}, http.StatusCreated, &out)
	graphID = out["id"].(string)
	a.call("POST", "/organization/service_hierarchical_state_machine/"+graphID+"/", g, http.StatusCreated, nil)
	a.call("POST", "/service/", map[string]any{
		"name": name, "description": name, "is_active": true, "agent_id": agentID,
		"service_hierarchical_state_machine_id": graphID, "keyterms": []any{}, "tags": map[string]any{},
	}, http.StatusCreated, &out)
	return out["id"].(string), graphID
}

// convoStream posts body to an operation answering NDJSON and returns its
// events, failing unless the status is want.
func convoStream(a *api, path, ctype string, body []byte, want int) []map[string]any {
	a.t.Helper()
	req, err := http.NewRequest("POST", a.base+path, bytes.NewReader(body))
	if err != nil {
		a.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+a.token)
	req.Header.Set("Content-Type", ctype)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		a.t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != want {
		var buf bytes.Buffer
		_, _ = buf.ReadFrom(res.Body)
		a.t.Fatalf("POST %s: %d, want %d: %s", path, res.StatusCode, want, buf.Bytes())
	}
	var events []map[string]any
	sc := bufio.NewScanner(res.Body)
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	for sc.Scan() {
		var ev map[string]any
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			a.t.Fatalf("POST %s: line %q: %v", path, sc.Bytes(), err)
		}
		events = append(events, ev)
	}
	if len(events) == 0 || events[len(events)-1]["type"] != "interaction-complete" {
		a.t.Fatalf("POST %s: the turn did not complete: %v", path, events)
	}
	return events
}

// convoStart opens a text conversation with the service and
// returns its ID.
func convoStart(a *api, serviceID string) string {
	a.t.Helper()
	body, _ := json.Marshal(map[string]any{"service_id": serviceID})
	return convoStream(a, "/conversation/?response_format=text", "application/json", body, http.StatusCreated)[0]["conversation_id"].(string)
}

// convoSay sends a user message and returns the turn's interaction-complete
// event.
func convoSay(a *api, convID, text string) map[string]any {
	a.t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	_ = mw.WriteField("initial_message_type", "user-message")
	_ = mw.WriteField("recorded_message", text)
	_ = mw.Close()
	events := convoStream(a, "/conversation/"+convID+"/interact?request_format=text&response_format=text", mw.FormDataContentType(), buf.Bytes(), http.StatusOK)
	return events[len(events)-1]
}

// convoWorld is a service over convoGraph with one finished
// conversation and one in progress, whose turns are the opening, the
// convoHostile message and a question about an invoice.
type convoWorld struct {
	graphID, open, closed, invoiceTurn string
	graph                              map[string]any
}

func convoSeed(t *testing.T, a *api) convoWorld {
	t.Helper()
	w := convoWorld{graph: convoGraph()}
	var serviceID string
	serviceID, w.graphID = convoService(a, "Billing desk", "billing_desk", w.graph)

	// One conversation said goodbye: finished.
	w.closed = convoStart(a, serviceID)
	if done := convoSay(a, w.closed, "Goodbye"); done["conversation_completed"] != true {
		t.Fatalf("goodbye did not finish the conversation: %v", done)
	}
	w.open = convoStart(a, serviceID)
	convoSay(a, w.open, convoHostile)
	w.invoiceTurn = convoSay(a, w.open, "I have a question about my invoice")["interaction_id"].(string)
	return w
}

// convoTranscript is what the conversation page shows.
type convoTranscript struct {
	Users   []string `json:"users"`
	Agents  []string `json:"agents"`
	Markup  int      `json:"markup"`
	Pwned   string   `json:"pwned"`
	Groups  int      `json:"groups"`
	Senders []string `json:"senders"`
}

const convoReadTranscript = `(() => {
  const t = document.querySelector('main .transcript');
  const texts = (sel) => [...t.querySelectorAll(sel)].map((e) => e.textContent);
  return {
    users: texts('.msg.user .text'),
    agents: texts('.msg.agent .text'),
    markup: t.querySelectorAll('img, script').length,
    pwned: typeof window.__pwned,
    groups: t.querySelectorAll(':scope > li.interaction').length,
    senders: texts('.msg .meta > span:nth-child(2)'),
  };
})()`

// convoWatchStream records, in order, what happens to the transcript while a
// turn streams: "event" for an agent action drawn, "chunk" for a piece of
// the reply drawn, "done" when the reply stops streaming.
const convoWatchStream = `(() => {
  window.__marks = [];
  new MutationObserver((records) => {
    for (const r of records) {
      if (r.type === 'childList' && r.target.matches('.live-events')) {
        for (let i = 0; i < r.addedNodes.length; i++) window.__marks.push('event');
      } else if (r.type === 'attributes' && r.attributeName === 'data-chunks' && r.target.dataset.chunks !== '0') {
        window.__marks.push('chunk');
      } else if (r.type === 'attributes' && r.attributeName === 'class' && /\bstreaming\b/.test(r.oldValue || '')) {
        window.__marks.push('done');
      }
    }
  }).observe(document.querySelector('main .transcript'), {subtree: true, childList: true, attributes: true,
    attributeFilter: ['data-chunks', 'class'], attributeOldValue: true});
  return true;
})()`

func TestConversationsTranscriptLiveReplyAndGraph(t *testing.T) {
	srv := compadretest.Start(t)
	a := newAPI(t, srv)
	w := convoSeed(t, a)
	b := newBrowser(t, srv, 1280, 900)
	b.signIn(srv.Credentials)

	// The list: both conversations, with their service and status.
	b.run(chromedp.Click(`nav a[data-nav="#/conversations"]`, chromedp.ByQuery))
	b.waitText("main h1", "Conversations")
	b.waitGone("main .loading")
	b.waitText("main tbody", "Billing desk")
	if n := b.count("main tbody tr"); n != 2 {
		t.Fatalf("conversations listed: %d, want 2", n)
	}
	list := b.text("main tbody")
	for _, want := range []string{"Finished", "In progress", w.open, w.closed} {
		if !bytes.Contains([]byte(list), []byte(want)) {
			t.Errorf("the list lacks %q: %s", want, list)
		}
	}
	b.eval(`window.scrollTo(0, 0)`, nil)
	b.screenshot("conversations")

	// The filter goes into the fragment and leaves the one in progress.
	b.run(chromedp.SetValue(`form.filters select[name=is_finished]`, "false", chromedp.ByQuery),
		chromedp.Click(`form.filters button[type=submit]`, chromedp.ByQuery))
	b.waitText("main h2", "Conversations in progress")
	b.waitGone("main .loading")
	var hash string
	b.eval(`location.hash`, &hash)
	if hash != "#/conversations?is_finished=false" {
		t.Errorf("filtered fragment: %q", hash)
	}
	if n := b.count("main tbody tr"); n != 1 || b.count(fmt.Sprintf(`main tbody a[href="#/conversations/%s"]`, w.open)) != 1 {
		t.Fatalf("in progress: %d rows: %s", n, b.text("main tbody"))
	}

	// The transcript, grouped by interaction, the convoHostile message as text.
	b.run(chromedp.Click(fmt.Sprintf(`main tbody a[href="#/conversations/%s"]`, w.open), chromedp.ByQuery))
	b.waitText("main .transcript", "Explain the invoice")
	b.waitText("main .panel-body", "Billing desk")
	var got convoTranscript
	b.eval(convoReadTranscript, &got)
	want := convoTranscript{
		Users:   []string{convoHostile, "I have a question about my invoice"},
		Agents:  []string{"Welcome the user", "Welcome the user", "Explain the invoice"},
		Pwned:   "undefined",
		Groups:  3,
		Senders: []string{"agent", "user", "agent", "user", "agent"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("transcript:\n got %+v\nwant %+v", got, want)
	}

	// An interaction's details: the states it went through, its final
	// state and inner thoughts.
	group := fmt.Sprintf(`main li.interaction[data-interaction="%s"]`, w.invoiceTurn)
	b.run(chromedp.Click(group+` details.insights > summary`, chromedp.ByQuery))
	b.waitText(group+` .final-state`, "billing")
	b.waitText(group+` .thoughts`, "The user has an invoice question")
	if n := b.count(group + ` .transition`); n != 5 {
		t.Errorf("transitions shown: %d, want 5: %s", n, b.text(group+" .transitions"))
	}
	b.eval(`window.scrollTo(0, 0)`, nil)
	b.screenshot("conversation")

	// A message sent from the page: its events and the reply's pieces are
	// drawn while it streams, before the reply is complete.
	var ok bool
	b.eval(convoWatchStream, &ok)
	b.run(chromedp.SendKeys(`form.composer textarea[name=recorded_message]`, "I would like a refund please", chromedp.ByQuery),
		chromedp.Click(`form.composer button[type=submit]`, chromedp.ByQuery))
	b.waitText("main form.composer .form-out", "Sent.")
	// Drawn again as stored: the agent's name and the message's time.
	b.waitText("main .transcript > li:last-child .msg.agent", "Amy")
	if got := b.text("main .transcript > li:last-child .msg.agent .text"); got != "Start the refund" {
		t.Errorf("the reply: %q", got)
	}
	var marks []string
	b.eval(`window.__marks`, &marks)
	done := -1
	for i, m := range marks {
		if m == "done" {
			done = i
			break
		}
	}
	if done < 0 || !convoContains(marks[:done], "chunk") || !convoContains(marks[:done], "event") {
		t.Errorf("not drawn while streaming: %v", marks)
	}
	if n := b.count("main .transcript > li:last-child .live-events li"); n == 0 {
		t.Error("no agent action shown for the streamed turn")
	}
	// Then the turn's insights load: it went to the refund state.
	b.waitText("main .transcript > li:last-child .final-state", "refund")
	if b.count("main .transcript .msg.streaming") != 0 {
		t.Error("a reply is still marked streaming")
	}

	// The narrow window: nothing wider than the screen.
	b.run(chromedp.EmulateViewport(420, 860))
	var wide bool
	b.eval(`document.documentElement.scrollWidth > window.innerWidth`, &wide)
	if wide {
		t.Error("the conversation page scrolls sideways at 420 px")
	}
	b.eval(`window.scrollTo(0, 0)`, nil)
	b.screenshot("conversation-narrow")
	b.run(chromedp.EmulateViewport(1280, 900))

	// The conversation's context graph, drawn: a box per state, an arrow
	// per transition.
	b.run(chromedp.Click(`main a.graph-link`, chromedp.ByQuery))
	b.waitText("main h1", "billing_desk")
	b.waitGone("main .loading")
	states := len(w.graph["states"].([]any))
	if n := b.count("svg.graph g.state"); n != states {
		t.Errorf("states drawn: %d, want %d", n, states)
	}
	if n, want := b.count("svg.graph .edge"), convoTransitions(w.graph); n != want {
		t.Errorf("transitions drawn: %d, want %d", n, want)
	}
	for _, sel := range []string{
		`svg.graph g.state.initial[data-name="start"]`,
		`svg.graph g.state.terminal[data-name="end"]`,
		`svg.graph g.state[data-name="route"][data-type="decision"]`,
		`svg.graph .edge[data-from="refund"][data-to="billing"]`,
		`svg.graph .edge[data-from="start"][data-to="route"]`,
	} {
		if b.count(sel) != 1 {
			t.Errorf("not drawn: %s", sel)
		}
	}
	if n := b.count(`svg.graph .edge[data-from="route"][data-to="note"]`); n != 2 {
		t.Errorf("route's two exits to note: %d arrows", n)
	}
	b.waitText("main caption", fmt.Sprintf("%d states", states))
	b.eval(`window.scrollTo(0, 0)`, nil)
	b.screenshot("context-graph")

	// Finishing from the page.
	b.visit("#/conversations/" + w.open)
	b.waitText("main .transcript", "Start the refund")
	b.run(chromedp.WaitVisible(`main button.finish`, chromedp.ByQuery), chromedp.Click(`main button.finish`, chromedp.ByQuery))
	b.waitText("main .finished-note", "finished")
	if b.count("main form.composer") != 0 || b.count("main button.finish") != 0 {
		t.Error("a finished conversation still offers to send or finish")
	}
	var after struct {
		Conversations []struct {
			IsFinished bool `json:"is_finished"`
		} `json:"conversations"`
	}
	a.call("GET", "/conversation/?id="+w.open, nil, http.StatusOK, &after)
	if len(after.Conversations) != 1 || !after.Conversations[0].IsFinished {
		t.Errorf("after finishing: %+v", after)
	}
}

func TestContextGraphsList(t *testing.T) {
	srv := compadretest.Start(t)
	a := newAPI(t, srv)
	var out map[string]any
	a.call("POST", "/organization/service_hierarchical_state_machine", map[string]any{"state_machine_name": "billing_desk"}, http.StatusCreated, &out)
	id := out["id"].(string)
	g := convoGraph()
	a.call("POST", "/organization/service_hierarchical_state_machine/"+id+"/", g, http.StatusCreated, nil)
	// A second version with one state fewer: the refund loop removed.
	g2 := convoGraph()
	var kept []any
	for _, st := range g2["states"].([]any) {
		st := st.(map[string]any)
		switch st["name"] {
		case "refund":
			continue
		case "billing":
			st["exit_conditions"] = st["exit_conditions"].([]any)[1:]
		}
		kept = append(kept, st)
	}
	g2["states"] = kept
	g2["description"] = "Without refunds."
	a.call("POST", "/organization/service_hierarchical_state_machine/"+id+"/", g2, http.StatusCreated, nil)

	b := newBrowser(t, srv, 1280, 900)
	b.signIn(srv.Credentials)
	b.run(chromedp.Click(`nav a[data-nav="#/context-graphs"]`, chromedp.ByQuery))
	b.waitText("main tbody", "billing_desk")
	b.run(chromedp.Click(fmt.Sprintf(`main tbody a[href="#/context-graphs/%s"]`, id), chromedp.ByQuery))
	b.waitText("main h1", "billing_desk")
	b.waitGone("main .loading")

	cases := []struct {
		fragment      string
		heading       string
		states, edges int
	}{
		{"", "Latest version", 7, convoTransitions(g2)},
		{"?version=1", "Version 1", 8, convoTransitions(g)},
	}
	for _, tc := range cases {
		if tc.fragment != "" {
			b.run(chromedp.Click(fmt.Sprintf(`main a[href="#/context-graphs/%s%s"]`, id, tc.fragment), chromedp.ByQuery))
			b.waitText("main section.panel h2", tc.heading)
			b.waitGone("main .loading")
		}
		if got := b.text("main section.panel h2"); got != tc.heading {
			t.Errorf("%q: heading %q", tc.fragment, got)
		}
		if n := b.count("svg.graph g.state"); n != tc.states {
			t.Errorf("%q: %d states drawn, want %d", tc.fragment, n, tc.states)
		}
		if n := b.count("svg.graph .edge"); n != tc.edges {
			t.Errorf("%q: %d transitions drawn, want %d", tc.fragment, n, tc.edges)
		}
	}
	var shown []string
	b.eval(`[...document.querySelectorAll('main tbody .badge')].filter((e) => e.textContent === 'shown').map((e) => e.closest('tr').querySelector('a').textContent)`, &shown)
	if !reflect.DeepEqual(shown, []string{"Version 1"}) {
		t.Errorf("versions marked shown: %v, want Version 1", shown)
	}
}

func convoContains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// convoPublishEcho pushes a tool project whose run returns its text and
// publishes it as version 1.0.0 of a tool named echo; it answers the
// tool's ID. The server must run with compadretest.WithSandbox().
func convoPublishEcho(t *testing.T, srv *compadretest.Server, a *api) string {
	t.Helper()
	newToolsGit(t).push(srv.ToolsRepo, "releases/"+srv.Organization, "echo", toolsProject(toolsV1))
	var out map[string]any
	a.call("POST", "/tool/", map[string]any{"name": "echo", "description": "Echo returns its text", "tags": map[string]any{}}, http.StatusCreated, &out)
	id := out["id"].(string)
	a.call("POST", "/tool/"+id+"/version", map[string]any{"project_path": "echo", "bump_type": "major"}, http.StatusCreated, nil)
	return id
}

// TestConversationToolCallLinksToItsInvocation: a tool the agent called
// while answering is listed in the interaction's details, linked to the
// page of its recorded invocation.
func TestConversationToolCallLinksToItsInvocation(t *testing.T) {
	srv := compadretest.Start(t, compadretest.WithSandbox())
	a := newAPI(t, srv)
	toolID := convoPublishEcho(t, srv, a)

	g := convoGraph()
	start := g["states"].([]any)[0].(map[string]any)
	start["action_tool_call_specs"] = []any{map[string]any{"tool_id": toolID, "version_constraint": ">=1.0.0",
		"additional_instruction": "Fetch the details.", "audio_fillers": []any{}, "audio_filler_triggered_after": 10,
		"result_persistence": "persisted-preferred"}}
	serviceID, _ := convoService(a, "Fetcher", "fetcher", g)
	conv := convoStart(a, serviceID)
	turn := convoSay(a, conv, `Please fetch the details {"text": "parcel 42"}`)["interaction_id"].(string)

	var invs struct {
		ToolInvocations []struct {
			ID string `json:"id"`
		} `json:"tool_invocations"`
	}
	a.call("GET", "/tool/invocation?conversation_id="+conv, nil, http.StatusOK, &invs)
	if len(invs.ToolInvocations) != 1 {
		t.Fatalf("invocations recorded: %+v", invs)
	}

	b := newBrowser(t, srv, 1280, 900)
	b.signIn(srv.Credentials)
	b.visit("#/conversations/" + conv)
	group := fmt.Sprintf(`main li.interaction[data-interaction="%s"]`, turn)
	b.waitText(group, "parcel 42")
	b.run(chromedp.Click(group+` details.insights > summary`, chromedp.ByQuery))
	link := fmt.Sprintf(`%s .tool-call a[href="#/tools/%s/invocations/%s"]`, group, toolID, invs.ToolInvocations[0].ID)
	b.waitText(link, "echo")
	b.run(chromedp.Click(group+` .tool-call details > summary`, chromedp.ByQuery))
	b.waitText(group+" .tool-call", "parcel 42")
	b.eval(`window.scrollTo(0, 0)`, nil)
	b.screenshot("conversation-tool-call")
}

// TestConversationInsightsRefusedToAnEndUser: an end user (the default
// user role) reads their transcript, but may not read the context graph an
// interaction ended in, which insights need: the details say so, and the
// rest of the page stands.
func TestConversationInsightsRefusedToAnEndUser(t *testing.T) {
	srv := compadretest.Start(t)
	admin := newAPI(t, srv)
	serviceID, _ := convoService(admin, "Billing desk", "billing_desk", convoGraph())
	var created map[string]any
	admin.call("POST", "/user/", map[string]any{"first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.com",
		"role_name": "DefaultUserRole"}, http.StatusCreated, &created)
	creds := srv.NewAPIKey(t, srv.Organization, created["user_id"].(string))
	ada := &api{t: t, base: srv.BaseURL + "/v1/" + srv.Organization, token: compadretest.SignIn(t, creds)}
	conv := convoStart(ada, serviceID)
	turn := convoSay(ada, conv, "I have a question about my invoice")["interaction_id"].(string)

	b := newBrowser(t, srv, 1280, 900)
	b.allow(http.StatusForbidden, "/insights")
	b.allow(http.StatusForbidden, "/service_hierarchical_state_machine/")
	b.signIn(creds)
	b.visit("#/conversations/" + conv)
	group := fmt.Sprintf(`main li.interaction[data-interaction="%s"]`, turn)
	b.waitText(group, "Explain the invoice")
	b.run(chromedp.Click(group+` details.insights > summary`, chromedp.ByQuery))
	b.waitText(group+" .denied", "Your role does not allow this")
	// The inner thoughts come with the messages, which the user may read.
	b.waitText(group+" .thoughts", "The user has an invoice question")
	b.waitText("main .panel-body", "Ada Lovelace")

	// The graph's page: the version is refused, the page says so.
	b.run(chromedp.Click(`main a.graph-link`, chromedp.ByQuery))
	b.waitText("main .denied", "Your role does not allow this")
	if n := b.count("svg.graph"); n != 0 {
		t.Errorf("a graph drawn for a user who may not read it: %d", n)
	}
}
