package httpapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/compadre-dev/compadre/compadretest"
	"github.com/compadre-dev/compadre/llm"
)

// helperGraph is a context graph whose start state helps the user until
// they say goodbye; actionSpecs are start's engage-user tools.
func helperGraph(actionSpecs ...map[string]any) map[string]any {
	g := stateMachineMinimal()
	start := stateMachineAction("start", "Help the user", map[string]any{"description": "The user says goodbye", "next_state": "end"})
	specs := []any{}
	for _, s := range actionSpecs {
		specs = append(specs, s)
	}
	start["action_tool_call_specs"] = specs
	g["states"] = []any{start, stateMachineAction("end", "Say goodbye")}
	return g
}

// behaviorFor is a create-dynamic-behavior-set body for a set applied to
// services, active or not.
func behaviorFor(name string, active bool, services []string, triggers []string, actions ...map[string]any) map[string]any {
	b := behaviorSetBody(name, triggers, actions...)
	b["initial_version"].(map[string]any)["is_active"] = active
	list := []any{}
	for _, s := range services {
		list = append(list, s)
	}
	b["applied_to_services"] = list
	return b
}

// behaviorOverride is an inject-instruction action that replaces the
// state's action.
func behaviorOverride(text string) map[string]any {
	a := behaviorInject(text)
	a["overrides_instructions"] = true
	return a
}

// behaviorInvocations lists a set's invocations as the admin sees them.
func (c *client) behaviorInvocations(t testing.TB, setID string) []map[string]any {
	t.Helper()
	status, body := c.do("GET", "/dynamic_behavior_set/"+setID+"/invocation/", nil)
	mustStatus(t, "invocations", status, http.StatusOK, body)
	return behaviorItems(body, "dynamic_behavior_invocations")
}

// actionsOf are a stream's agent actions of the given type.
func actionsOf(s stream, typ string) []map[string]any {
	var out []map[string]any
	for _, ev := range s.events {
		if a, ok := ev["action"].(map[string]any); ok && a["type"] == typ {
			out = append(out, a)
		}
	}
	return out
}

func versionPair(id string, v int) string { return fmt.Sprint([]any{id, float64(v)}) }

func TestConversationDynamicBehaviors(t *testing.T) {
	t.Parallel()
	srv, c := newTestServer(t)
	svc := c.talkingService(t, "Helper", helperGraph())
	other := c.talkingService(t, "Other", helperGraph())

	refunds := c.behaviorCreate(behaviorFor("Refunds", true, []string{svc}, []string{"refund request", "money back"},
		behaviorInject("Offer the refund politely.")))
	escalate := c.behaviorCreate(behaviorFor("Escalate", true, []string{svc}, []string{"angry complaint manager"},
		behaviorOverride("Apologise and fetch a manager.")))
	// Neither an inactive set nor one applied to another service is
	// weighed, though their triggers match.
	c.behaviorCreate(behaviorFor("Inactive", false, []string{svc}, []string{"weather forecast"}, behaviorInject("Talk about rain.")))
	c.behaviorCreate(behaviorFor("Elsewhere", true, []string{other}, []string{"weather forecast"}, behaviorInject("Talk about sun.")))
	// Only a set's newest version is weighed.
	food := c.behaviorCreate(behaviorFor("Food", true, []string{svc}, []string{"pizza"}, behaviorOverride("Recommend pizza.")))
	status, body := c.do("POST", "/dynamic_behavior_set/"+food+"/version/", behaviorVersionBody([]string{"sushi"},
		behaviorOverride("Recommend sushi.")))
	mustStatus(t, "food version 2", status, http.StatusCreated, body)

	opened := c.open(t, "", map[string]any{"service_id": svc})
	checkLines(t, opened, true)
	if got := actionsOf(opened, "select-dynamic-behavior-completed"); len(got) != 0 {
		t.Errorf("an opening turn without a message selected a behavior: %v", got)
	}
	convID := opened.events[0]["conversation_id"].(string)
	conv := c.conversationGet(t, convID)
	previousAgentMsg := opened.last()["message_id"].(string)

	const (
		plain = "[user-message-available select-dynamic-behavior-completed " +
			"navigate-state-machine-action-state-action-selected engage-user-message-fragment-generated new-message interaction-complete]"
		overridden = "[user-message-available select-dynamic-behavior-completed navigate-state-machine-dynamic-behavior-override " +
			"navigate-state-machine-action-state-action-selected engage-user-dynamic-behavior-override " +
			"engage-user-message-fragment-generated new-message interaction-complete]"
	)
	tests := []struct {
		name, message string
		// selected and previous are version pairs, or "" for null.
		selected, previous string
		types, full        string
		// overrides is the overriding_instructions both override events
		// carry.
		overrides bool
		// injected is an instruction every prompt of the interaction shows.
		injected string
	}{
		{"no trigger matches", "Hello there", "", "", plain, "Help the user", false, ""},
		{"an added instruction", "I have a refund request", versionPair(refunds, 1), "", overridden, "Help the user", false,
			"Offer the refund politely."},
		{"an overriding instruction", "This is an angry complaint, get the manager", versionPair(escalate, 1),
			versionPair(refunds, 1), overridden, "Apologise and fetch a manager.", true, "Apologise and fetch a manager."},
		{"inactive and elsewhere sets", "What is the weather forecast", "", versionPair(escalate, 1), plain, "Help the user", false, ""},
		{"an older version's trigger", "I want pizza", "", "", plain, "Help the user", false, ""},
		{"the newest version", "I want sushi", versionPair(food, 2), "", overridden, "Recommend sushi.", true, "Recommend sushi."},
	}
	invocations := map[string][]string{} // set ID: the user messages that invoked it
	for _, tc := range tests {
		s := c.interact(t, convID, "", userMessage(tc.message))
		if s.status != http.StatusOK || s.last()["type"] != "interaction-complete" {
			t.Fatalf("%s: status %d: %s", tc.name, s.status, s.raw)
		}
		checkLines(t, s, false)
		checkMessagePieces(t, s)
		if got := fmt.Sprint(s.types()); got != tc.types {
			t.Errorf("%s: events\n got %s\nwant %s", tc.name, got, tc.types)
		}
		sel := actionsOf(s, "select-dynamic-behavior-completed")[0]
		pair := func(v any) string {
			if v == nil {
				return ""
			}
			return fmt.Sprint(v)
		}
		if pair(sel["selected_dynamic_behavior_set_version_info"]) != tc.selected ||
			pair(sel["previous_selected_dynamic_behavior_set_version_info"]) != tc.previous {
			t.Errorf("%s: selection %v, want selected %q previous %q", tc.name, sel, tc.selected, tc.previous)
		}
		for _, typ := range []string{"navigate-state-machine-dynamic-behavior-override", "engage-user-dynamic-behavior-override"} {
			for _, o := range actionsOf(s, typ) {
				if o["overriding_instructions"] != tc.overrides || o["overriding_tool_candidates"] != false {
					t.Errorf("%s: %v", tc.name, o)
				}
			}
		}
		done := s.last()
		if done["full_message"] != tc.full {
			t.Errorf("%s: full message %q, want %q", tc.name, done["full_message"], tc.full)
		}
		interaction := done["interaction_id"].(string)
		status, ins := c.do("GET", "/conversation/"+convID+"/interaction/"+interaction+"/insights", nil)
		mustStatus(t, "insights", status, http.StatusOK, ins)
		if got := pair(ins["triggered_dynamic_behavior_set_version_info"]); got != tc.selected {
			t.Errorf("%s: insights triggered %q, want %q", tc.name, got, tc.selected)
		}
		if ins["current_state_action"] != "Help the user" {
			t.Errorf("%s: insights action %v", tc.name, ins["current_state_action"])
		}

		logs, err := srv.Store().PromptLogs(context.Background(), srv.Organization, "conversation/"+convID+"/interaction/"+interaction+"/", 100)
		if err != nil {
			t.Fatal(err)
		}
		var purposes []string
		for _, l := range logs {
			purposes = append(purposes, l.Purpose)
			var msgs []llm.Message
			if err := json.Unmarshal(l.Prompt, &msgs); err != nil {
				t.Fatal(err)
			}
			// The selection comes before the behavior is in force.
			want := tc.injected != "" && l.Purpose != "select-dynamic-behavior"
			if shown := strings.Contains(msgs[0].Content, "dynamic behavior in force"); shown != want ||
				want && !strings.Contains(msgs[0].Content, "- "+tc.injected) {
				t.Errorf("%s: %s prompt: %s", tc.name, l.Purpose, msgs[0].Content)
			}
		}
		if fmt.Sprint(purposes) != "[select-dynamic-behavior select-exit-condition engage-user]" {
			t.Errorf("%s: prompts %v", tc.name, purposes)
		}

		if tc.selected != "" {
			setID := strings.Fields(strings.Trim(tc.selected, "[]"))[0]
			invs := c.behaviorInvocations(t, setID)
			invocations[setID] = append(invocations[setID], tc.message)
			if len(invs) != len(invocations[setID]) {
				t.Fatalf("%s: %d invocations of the set, want %d", tc.name, len(invs), len(invocations[setID]))
			}
			inv := invs[0] // newest first
			if inv["conversation_id"] != convID || inv["service_id"] != svc || inv["user_id"] != conv["user_id"] ||
				inv["org_id"] != srv.Organization || pair(inv["dynamic_behavior_set_version_info"]) != tc.selected ||
				inv["initial_message_id"] != s.events[0]["message_id"] || inv["agent_message_id"] != previousAgentMsg ||
				fmt.Sprint(inv["agent_inner_thoughts_ids"]) != "[]" || fmt.Sprint(inv["external_event_message_ids"]) != "[]" {
				t.Errorf("%s: invocation %v", tc.name, inv)
			}
		}
		previousAgentMsg = done["message_id"].(string)
	}

	// External events sent with the message are named by the invocation.
	now := time.Now().UTC().Format(time.RFC3339Nano)
	s := c.interact(t, convID, "", append(userMessage("Money back please"),
		formField{name: "external_event_message_content", value: "Order cancelled"},
		formField{name: "external_event_message_timestamp", value: now}))
	if s.status != http.StatusOK || s.last()["type"] != "interaction-complete" {
		t.Fatalf("with an event: status %d: %s", s.status, s.raw)
	}
	status, page := c.do("GET", "/conversation/"+convID+"/messages/?message_type=external-event&interaction_id="+
		s.last()["interaction_id"].(string), nil)
	mustStatus(t, "event messages", status, http.StatusOK, page)
	eventID := page["messages"].([]any)[0].(map[string]any)["id"]
	if inv := c.behaviorInvocations(t, refunds)[0]; fmt.Sprint(inv["external_event_message_ids"]) != fmt.Sprintf("[%s]", eventID) ||
		inv["initial_message_id"] != s.events[0]["message_id"] || inv["agent_message_id"] != previousAgentMsg {
		t.Errorf("invocation with an event: %v", inv)
	}

	// The inner thoughts that led to the agent's latest message are named
	// by the invocation too.
	walker := c.talkingService(t, "Walker", walkerGraph())
	thanks := c.behaviorCreate(behaviorFor("Thanks", true, []string{walker}, []string{"grateful"}, behaviorInject("Be warm.")))
	walkConv := c.open(t, "", map[string]any{"service_id": walker}).events[0]["conversation_id"].(string)
	s = c.interact(t, walkConv, "", userMessage("I have a question about my invoice"))
	thinking := s.last()
	status, page = c.do("GET", "/conversation/"+walkConv+"/messages/?message_type=agent-inner-thought&interaction_id="+
		thinking["interaction_id"].(string), nil)
	mustStatus(t, "inner thoughts", status, http.StatusOK, page)
	var thoughts []any
	for _, m := range page["messages"].([]any) {
		thoughts = append(thoughts, m.(map[string]any)["id"])
	}
	s = c.interact(t, walkConv, "", userMessage("I am grateful"))
	checkLines(t, s, false)
	invs := c.behaviorInvocations(t, thanks)
	if len(thoughts) != 2 || len(invs) != 1 || fmt.Sprint(invs[0]["agent_inner_thoughts_ids"]) != fmt.Sprint(thoughts) ||
		invs[0]["agent_message_id"] != thinking["message_id"] {
		t.Errorf("invocations %v, want inner thoughts %v and agent message %v", invs, thoughts, thinking["message_id"])
	}

	// An interaction that fails after the selection records no invocation.
	looper := c.talkingService(t, "Looper", loopingGraph())
	loops := c.behaviorCreate(behaviorFor("Loops", true, []string{looper}, []string{"loop"}, behaviorInject("Loop gladly.")))
	loopConv := c.open(t, "", map[string]any{"service_id": looper}).events[0]["conversation_id"].(string)
	s = c.interact(t, loopConv, "", userMessage("loop please"))
	if sel := actionsOf(s, "select-dynamic-behavior-completed"); s.last()["type"] != "error" || len(sel) != 1 ||
		fmt.Sprint(sel[0]["selected_dynamic_behavior_set_version_info"]) != versionPair(loops, 1) {
		t.Fatalf("loop: %s", s.raw)
	}
	if invs := c.behaviorInvocations(t, loops); len(invs) != 0 {
		t.Errorf("a failed interaction recorded invocations: %v", invs)
	}
}

func TestConversationDynamicBehaviorTools(t *testing.T) {
	t.Parallel()
	srv, c := newTestServer(t, compadretest.WithSandbox())
	shout := publishEchoTool(t, srv, c, "shouter")
	repeat := publishEchoTool(t, srv, c, "repeater")
	stateSpec := stateMachineSpec(shout, "ephemeral")
	stateSpec["additional_instruction"] = "Use it to shout things."
	svc := c.talkingService(t, "Tools", helperGraph(stateSpec))
	c.behaviorCreate(behaviorFor("Chorus", true, []string{svc}, []string{"chorus"}, behaviorTools(behaviorSpec(repeat, ">=1"))))
	solo := behaviorTools(behaviorSpec(repeat, ">=1"))
	solo["overrides_existing_tool_call_specs"] = true
	c.behaviorCreate(behaviorFor("Solo", true, []string{svc}, []string{"solo"}, solo))
	convID := c.open(t, "", map[string]any{"service_id": svc}).events[0]["conversation_id"].(string)

	tests := []struct {
		name, message string
		// called are the tools the agent calls, in name order.
		called    []string
		overrides any
	}{
		{"the state's tools", "shout and repeat", []string{shout}, nil},
		{"tools added", "chorus: shout and repeat", []string{shout, repeat}, false},
		{"tools replaced", "solo: shout and repeat", []string{repeat}, true},
	}
	for _, tc := range tests {
		s := c.interact(t, convID, "", userMessage(tc.message))
		if s.status != http.StatusOK || s.last()["type"] != "interaction-complete" {
			t.Fatalf("%s: status %d: %s", tc.name, s.status, s.raw)
		}
		checkLines(t, s, false)
		var called []string
		for _, a := range actionsOf(s, "tool-call-started") {
			called = append(called, a["tool_id"].(string))
		}
		slices.Sort(called)
		want := slices.Clone(tc.called)
		slices.Sort(want)
		if fmt.Sprint(called) != fmt.Sprint(want) {
			t.Errorf("%s: called %v, want %v", tc.name, called, want)
		}
		overrides := actionsOf(s, "engage-user-dynamic-behavior-override")
		switch {
		case tc.overrides == nil && len(overrides) != 0:
			t.Errorf("%s: override without a behavior: %v", tc.name, overrides)
		case tc.overrides != nil && (len(overrides) != 1 || overrides[0]["overriding_tool_candidates"] != tc.overrides ||
			overrides[0]["overriding_instructions"] != false):
			t.Errorf("%s: overrides %v, want overriding_tool_candidates %v", tc.name, overrides, tc.overrides)
		}
		if n := len(actionsOf(s, "navigate-state-machine-dynamic-behavior-override")); n != 0 {
			t.Errorf("%s: a behavior without instructions overrode navigation", tc.name)
		}
		status, ins := c.do("GET", "/conversation/"+convID+"/interaction/"+s.last()["interaction_id"].(string)+"/insights", nil)
		mustStatus(t, "insights", status, http.StatusOK, ins)
		var logged []string
		for _, round := range ins["engage_user_tool_call_logs"].([]any) {
			for _, l := range round.([]any) {
				logged = append(logged, l.(map[string]any)["tool_id"].(string))
			}
		}
		if slices.Sort(logged); fmt.Sprint(logged) != fmt.Sprint(want) {
			t.Errorf("%s: engage-user tool logs %v, want %v", tc.name, logged, want)
		}
	}
}
