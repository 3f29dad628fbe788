package httpapi_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/compadre-dev/compadre/compadretest"
)

// The conversation engine's benchmarks run interactions over loopback
// under the built-in model, with rate limits off (interact allows 15 a
// minute per user). Each reports the time until the stream's first event
// and until interaction-complete, p50 and p99, or the interactions a
// second 50 users get through, each talking in a conversation of their
// own. BenchmarkInteractTool does the same through a tool-call state
// running the published echo tool in the sandbox, next to one invoke of
// that tool, which is what a tool's share of an interaction is compared
// with.

// concurrentUsers is how many users talk at once in the throughput runs.
const concurrentUsers = 50

// chatMessage shares no word with the chat graph's exit condition, so
// every interaction stays in the start state: the shortest interaction
// there is, one model call and one answer.
const chatMessage = "Hello there, how are you today?"

// chatGraph is a context graph whose start state answers until the user
// says goodbye.
func chatGraph() map[string]any {
	g := stateMachineMinimal()
	g["states"] = []any{
		stateMachineAction("start", "Answer the question",
			map[string]any{"description": "The user says goodbye", "next_state": "end"}),
		stateMachineAction("end", "Say goodbye"),
	}
	return g
}

// walkMessage takes the loop graph's way out of start.
const walkMessage = "I have a question about my invoice"

// loopGraph is walkerGraph with the recall state leading back to start,
// so every interaction about an invoice passes through a decision, an
// annotation, a reflection and a recall state before start answers.
func loopGraph() map[string]any {
	g := walkerGraph()
	states := g["states"].([]any)
	states[4].(map[string]any)["next_state"] = "start"
	return g
}

// toolMessage takes the tool graph's way to its tool-call state, and its
// JSON object is what the built-in model fills the echo tool's text with.
const toolMessage = `Please echo {"text": "hi"}`

// toolGraph is a context graph whose start state leads, when the user
// asks for an echo, to a tool-call state running the echo tool toolID,
// which leads back to start to answer.
func toolGraph(toolID string) map[string]any {
	g := stateMachineMinimal()
	exit := func(desc, next string) map[string]any { return map[string]any{"description": desc, "next_state": next} }
	g["states"] = []any{
		stateMachineAction("start", "Answer the question", exit("The user asks to echo some text", "echo"),
			exit("The user says goodbye", "end")),
		map[string]any{
			"type": "tool-call", "name": "echo", "next_state": "start",
			"designated_tool": stateMachineSpec(toolID, "persisted"),
			"designated_tool_call_params_generation_audio_fillers":                []any{},
			"designated_tool_call_params_generation_audio_filler_triggered_after": 1,
			"designated_tool_call_objective":                                      "Echo the text",
			"designated_tool_call_context":                                        "The user wants it back",
			"designated_tool_call_guidances":                                      []any{},
			"designated_tool_call_validations":                                    []any{},
			"tool_call_specs":                                                     []any{},
		},
		stateMachineAction("end", "Say goodbye"),
	}
	return g
}

// timing is when an interaction's first event and its
// interaction-complete arrived, counted from sending the request.
type timing struct {
	first, complete time.Duration
	// events are the stream's events up to interaction-complete, decoded
	// only when asked for.
	events []map[string]any
}

// timedInteract sends one interaction in conversation convID as c's user
// and reads its stream as it comes. A stream that ends in anything but
// interaction-complete is an error. It returns errors rather than failing
// the benchmark, so concurrent users can call it.
func timedInteract(hc *http.Client, c *client, convID string, body []byte, ctype string, keep bool) (timing, error) {
	var tm timing
	req, err := http.NewRequest("POST", c.base+"/v1/"+c.org+"/conversation/"+convID+
		"/interact?request_format=text&response_format=text", bytes.NewReader(body))
	if err != nil {
		return tm, err
	}
	req.Header.Set("Content-Type", ctype)
	req.Header.Set("Authorization", "Bearer "+c.token)
	t0 := time.Now()
	resp, err := hc.Do(req)
	if err != nil {
		return tm, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		raw, _ := io.ReadAll(resp.Body)
		return tm, fmt.Errorf("interact: status %d: %s", resp.StatusCode, raw)
	}
	r := bufio.NewReader(resp.Body)
	for n := 0; ; n++ {
		line, err := r.ReadBytes('\n')
		if err != nil {
			return tm, fmt.Errorf("interact: the stream ended without interaction-complete: %v", err)
		}
		if n == 0 {
			tm.first = time.Since(t0)
		}
		var ev struct {
			Type string `json:"type"`
		}
		if err := json.Unmarshal(line, &ev); err != nil {
			return tm, fmt.Errorf("interact: stream line %q: %v", line, err)
		}
		if keep {
			var full map[string]any
			_ = json.Unmarshal(line, &full)
			tm.events = append(tm.events, full)
		}
		switch ev.Type {
		case "interaction-complete":
			tm.complete = time.Since(t0)
			// Read the end of the stream, so the connection is reused.
			if _, err := io.Copy(io.Discard, r); err != nil {
				return tm, err
			}
			return tm, nil
		case "error":
			return tm, fmt.Errorf("interact: error event %s", line)
		}
	}
}

// reportTimings reports the p50 and p99 of the times to the first event
// and to interaction-complete.
func reportTimings(b *testing.B, ts []timing) {
	if len(ts) == 0 {
		return
	}
	ms := func(pick func(timing) time.Duration, p float64) float64 {
		d := make([]time.Duration, len(ts))
		for i, t := range ts {
			d[i] = pick(t)
		}
		slices.Sort(d)
		return float64(d[int(p*float64(len(d)-1))].Microseconds()) / 1000
	}
	first := func(t timing) time.Duration { return t.first }
	complete := func(t timing) time.Duration { return t.complete }
	b.ReportMetric(ms(first, 0.50), "p50-ms-to-first-event")
	b.ReportMetric(ms(first, 0.99), "p99-ms-to-first-event")
	b.ReportMetric(ms(complete, 0.50), "p50-ms-to-complete")
	b.ReportMetric(ms(complete, 0.99), "p99-ms-to-complete")
}

// benchTransport keeps a connection per concurrent user alive.
func benchTransport() *http.Transport {
	return &http.Transport{MaxIdleConnsPerHost: 2 * concurrentUsers}
}

// openConversation opens a conversation with the service as c's user
// and returns its ID.
func openConversation(b *testing.B, c *client, svc string) string {
	b.Helper()
	s := c.open(b, "", map[string]any{"service_id": svc})
	if s.status != http.StatusCreated || len(s.events) == 0 {
		b.Fatalf("create conversation: status %d: %s", s.status, s.raw)
	}
	return s.events[0]["conversation_id"].(string)
}

// talkers returns n users of the organization, each signed in, with a
// conversation of their own with the service (a user has one unfinished
// conversation per service).
func talkers(b *testing.B, admin *client, svc string, n int) ([]*client, []string) {
	b.Helper()
	// One key signs every user in: an organization holds at most
	// store.MaxAPIKeys keys.
	status, key := admin.do("POST", "/organization/api_key/", map[string]any{"name": "talkers", "duration": "P1D",
		"role_name": "DefaultUserRole"})
	mustStatus(b, "create key", status, http.StatusCreated, key)
	users, convs := make([]*client, n), make([]string, n)
	for i := range users {
		userID := admin.newUser(fmt.Sprintf("talker%d@example.com", i), "DefaultUserRole")
		users[i] = admin.as(admin.signIn(key["api_key"].(string), key["api_key_id"].(string), userID))
		convs[i] = openConversation(b, users[i], svc)
	}
	return users, convs
}

// benchLatency runs b.N interactions one after another in one
// conversation, each sending the same message.
func benchLatency(b *testing.B, hc *http.Client, c *client, convID, message string) {
	body, ctype := multipartBody(b, userMessage(message))
	var ts []timing
	for b.Loop() {
		tm, err := timedInteract(hc, c, convID, body, ctype, false)
		if err != nil {
			b.Fatal(err)
		}
		ts = append(ts, tm)
	}
	b.StopTimer()
	reportTimings(b, ts)
}

// benchConcurrent runs b.N interactions spread over the users, each in its
// own conversation, all talking at once, and reports interactions a
// second along with the latencies under that load.
func benchConcurrent(b *testing.B, hc *http.Client, users []*client, convs []string, message string) {
	body, ctype := multipartBody(b, userMessage(message))
	var next atomic.Int64
	var mu sync.Mutex
	var ts []timing
	var errs []error
	var wg sync.WaitGroup
	b.ResetTimer()
	start := time.Now()
	for i := range users {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []timing
			for next.Add(1) <= int64(b.N) {
				tm, err := timedInteract(hc, users[i], convs[i], body, ctype, false)
				if err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
					return
				}
				mine = append(mine, tm)
			}
			mu.Lock()
			ts = append(ts, mine...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	if err := errors.Join(errs...); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(len(ts))/elapsed.Seconds(), "interactions/s")
	reportTimings(b, ts)
}

// checkedInteraction runs one interaction outside the timer and returns
// its events, so a benchmark can check it does the work it claims to
// measure.
func checkedInteraction(b *testing.B, hc *http.Client, c *client, convID, message string) []map[string]any {
	b.Helper()
	body, ctype := multipartBody(b, userMessage(message))
	tm, err := timedInteract(hc, c, convID, body, ctype, true)
	if err != nil {
		b.Fatal(err)
	}
	return tm.events
}

// actionTypes lists the stream's agent action types in order.
func actionTypes(events []map[string]any) []string {
	var out []string
	for _, ev := range events {
		if ev["type"] == "current-agent-action" {
			out = append(out, ev["action"].(map[string]any)["type"].(string))
		}
	}
	return out
}

// BenchmarkInteract measures interact-with-conversation without tools:
// "stay" is a message that keeps the conversation in its action state,
// "walk" one that passes through a state of every other kind but
// tool-call on its way back to the same action state; conversations=50 is
// "stay" from 50 users at once.
func BenchmarkInteract(b *testing.B) {
	_, c := newTestServer(b, compadretest.WithRateLimits(0))
	tr := benchTransport()
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr}
	chat := c.talkingService(b, "Chat", chatGraph())
	loop := c.talkingService(b, "Loop", loopGraph())

	// Conversations are opened here: a sub-benchmark runs once per
	// -count, and a user has one unfinished conversation per service.
	chatConv, loopConv := openConversation(b, c, chat), openConversation(b, c, loop)
	b.Run("stay", func(b *testing.B) {
		if got := actionTypes(checkedInteraction(b, hc, c, chatConv, chatMessage)); !slices.Equal(got, []string{
			"navigate-state-machine-action-state-action-selected", "engage-user-message-fragment-generated"}) {
			b.Fatalf("stay: actions %v", got)
		}
		benchLatency(b, hc, c, chatConv, chatMessage)
	})
	b.Run("walk", func(b *testing.B) {
		if got := actionTypes(checkedInteraction(b, hc, c, loopConv, walkMessage)); len(got) != 15 ||
			got[2] != "navigate-state-machine-decision-state-decision-started" {
			b.Fatalf("walk: actions %v", got)
		}
		benchLatency(b, hc, c, loopConv, walkMessage)
	})
	users, convs := talkers(b, c, chat, concurrentUsers)
	b.Run(fmt.Sprintf("conversations=%d", concurrentUsers), func(b *testing.B) {
		benchConcurrent(b, hc, users, convs, chatMessage)
	})
}

// BenchmarkInteractTool measures interactions through a tool-call state
// whose designated tool is the published echo tool, and beside them
// "invoke": invoke-tool-version of that tool with one input, one at a
// time, which is the sandbox's cost of the run as a client sees it.
func BenchmarkInteractTool(b *testing.B) {
	srv, c := newTestServer(b, compadretest.WithRateLimits(0), compadretest.WithSandbox())
	tr := benchTransport()
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr}
	toolID := publishEchoTool(b, srv, c, "echo")
	svc := c.talkingService(b, "Echo", toolGraph(toolID))
	body := invokeBody(input(map[string]any{"text": "hi"}, "regular"))
	// The first run warms the sandbox up; it is not one to time.
	status, out := c.do("POST", "/tool/"+toolID+"/version/1.0.0/invoke", body)
	if res, _ := out["invocation_results"].([]any); status != http.StatusOK || len(res) != 1 ||
		res[0].(map[string]any)["output"] != "hi" {
		b.Fatalf("invoke: status %d: %v", status, out)
	}

	b.Run("invoke", func(b *testing.B) {
		var lat []time.Duration
		start := time.Now()
		for b.Loop() {
			t0 := time.Now()
			status, out := c.do("POST", "/tool/"+toolID+"/version/1.0.0/invoke", body)
			if status != http.StatusOK {
				b.Fatalf("invoke: status %d: %v", status, out)
			}
			lat = append(lat, time.Since(t0))
		}
		reportLatency(b, lat, time.Since(start))
	})
	conv := openConversation(b, c, svc)
	b.Run("tool-call", func(b *testing.B) {
		events := checkedInteraction(b, hc, c, conv, toolMessage)
		var out any
		for _, ev := range events {
			if a, ok := ev["action"].(map[string]any); ok && a["type"] == "navigate-state-machine-tool-call-state-tool-output-available" {
				out = a["tool_output"]
			}
		}
		if out != "hi" {
			b.Fatalf("the echo tool's output: got %v, want hi; actions %v", out, actionTypes(events))
		}
		benchLatency(b, hc, c, conv, toolMessage)
	})
	users, convs := talkers(b, c, svc, concurrentUsers)
	b.Run(fmt.Sprintf("conversations=%d", concurrentUsers), func(b *testing.B) {
		benchConcurrent(b, hc, users, convs, toolMessage)
	})
}
