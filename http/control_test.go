package httpapi_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/compadre-dev/compadre/compadretest"
)

// ctl calls the control API as the client and decodes a JSON answer.
func (c *client) ctl(method, path string, body any) (int, map[string]any) {
	c.t.Helper()
	headers := map[string]string{}
	if c.token != "" {
		headers["Authorization"] = "Bearer " + c.token
	}
	status, raw := c.raw(method, "/_compadre/"+path, body, headers)
	var out map[string]any
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &out); err != nil {
			c.t.Fatalf("%s %s: status %d, body is not a JSON object: %s", method, path, status, raw)
		}
	}
	return status, out
}

// inject adds a fault rule over HTTP and returns its ID.
func (c *client) inject(rule map[string]any) string {
	c.t.Helper()
	status, body := c.ctl("POST", "faults", rule)
	mustStatus(c.t, "create fault", status, http.StatusCreated, body)
	return body["id"].(string)
}

// faults lists the rules in force.
func (c *client) faults() []map[string]any {
	c.t.Helper()
	status, body := c.ctl("GET", "faults", nil)
	mustStatus(c.t, "list faults", status, http.StatusOK, body)
	var out []map[string]any
	for _, f := range body["faults"].([]any) {
		out = append(out, f.(map[string]any))
	}
	return out
}

// logged lists the request log with query.
func (c *client) logged(query string) []map[string]any {
	c.t.Helper()
	status, body := c.ctl("GET", "requests"+query, nil)
	mustStatus(c.t, "list requests", status, http.StatusOK, body)
	var out []map[string]any
	for _, r := range body["requests"].([]any) {
		out = append(out, r.(map[string]any))
	}
	return out
}

// send makes one request to /v1/{org}+path with the client's token and
// extra headers, on a connection of its own (a dropped connection is not
// retried), and returns the answer or the transport's error.
func (c *client) send(method, path string, body []byte, headers map[string]string) (*http.Response, []byte, error) {
	c.t.Helper()
	req, err := http.NewRequest(method, c.base+"/v1/"+c.org+path, bytes.NewReader(body))
	if err != nil {
		c.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := client.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	return resp, raw, err
}

func TestControlIsForSuperAdministrators(t *testing.T) {
	t.Parallel()
	srv, admin := newTestServer(t, compadretest.WithOrganization("alpha"))
	beta, _ := betaOrg(t, srv, admin)
	userID := admin.newUser("user@example.com", "DefaultUserRole")
	adminID := admin.newUser("administrator@example.com", "DefaultAdministratorRole")
	tests := []struct {
		name string
		c    *client
		want int
	}{
		{"no token", admin.as(""), http.StatusUnauthorized},
		{"invalid token", admin.as("not-a-token"), http.StatusUnauthorized},
		{"a user", admin.keyFor(userID, "DefaultUserRole"), http.StatusForbidden},
		{"an administrator", admin.keyFor(adminID, "DefaultAdministratorRole"), http.StatusForbidden},
		{"the super administrator", admin, http.StatusOK},
		{"another organization's super administrator", beta, http.StatusOK},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, path := range []string{"faults", "requests"} {
				status, body := tc.c.ctl("GET", path, nil)
				if status != tc.want {
					t.Errorf("GET %s: status %d, want %d: %v", path, status, tc.want, body)
				}
			}
			status, body := tc.c.ctl("POST", "faults", map[string]any{"operation": "get-users", "status": 503})
			if want := map[bool]int{true: http.StatusCreated, false: tc.want}[tc.want == http.StatusOK]; status != want {
				t.Errorf("POST faults: status %d, want %d: %v", status, want, body)
			}
		})
	}
	// Only the two super administrators' rules were added.
	if got := len(admin.faults()); got != 2 {
		t.Errorf("got %d rules, want 2", got)
	}
}

func TestControlOffIsUnknownAndUndocumented(t *testing.T) {
	t.Parallel()
	documented := func(c *client) (paths, schemas int) {
		status, raw := c.raw("GET", "/v1/openapi.json", nil, nil)
		mustStatus(t, "openapi document", status, http.StatusOK, string(raw))
		var doc struct {
			Paths      map[string]any `json:"paths"`
			Components struct {
				Schemas map[string]any `json:"schemas"`
			} `json:"components"`
		}
		if err := json.Unmarshal(raw, &doc); err != nil {
			t.Fatal(err)
		}
		for p := range doc.Paths {
			if strings.HasPrefix(p, "/_compadre/") {
				paths++
			}
		}
		for name := range doc.Components.Schemas {
			if strings.HasPrefix(name, "Control") {
				schemas++
			}
		}
		if strings.Contains(string(raw), "#/components/schemas/Control") && schemas == 0 {
			t.Error("the document refers to a control schema it does not have")
		}
		return paths, schemas
	}

	_, off := newTestServer(t, compadretest.WithControlAPI(false))
	_, unknownBody := off.raw("GET", "/no/such/path", nil, nil)
	for _, tc := range []struct{ method, path string }{
		{"GET", "faults"}, {"POST", "faults"}, {"DELETE", "faults"}, {"DELETE", "faults/f1"},
		{"GET", "requests"}, {"DELETE", "requests"},
	} {
		status, raw := off.raw(tc.method, "/_compadre/"+tc.path, map[string]any{"operation": "*", "status": 503},
			map[string]string{"Authorization": "Bearer " + off.token})
		if status != http.StatusNotFound || !bytes.Equal(raw, unknownBody) {
			t.Errorf("off: %s %s: status %d %s, want 404 %s", tc.method, tc.path, status, raw, unknownBody)
		}
	}
	if paths, schemas := documented(off); paths != 0 || schemas != 0 {
		t.Errorf("off: the document has %d control paths and %d control schemas, want none", paths, schemas)
	}
	// The header is not honoured either.
	resp, raw, err := off.send("GET", "/organization/", nil, map[string]string{"X-Compadre-Fault": "status=503"})
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Errorf("off: a fault header: %v %v %s, want 200", err, resp, raw)
	}

	_, on := newTestServer(t)
	if paths, schemas := documented(on); paths != 9 || schemas == 0 {
		t.Errorf("on: the document has %d control paths and %d control schemas, want 9 and some", paths, schemas)
	}
}

func TestFaultStatusAnswers(t *testing.T) {
	t.Parallel()
	_, c := newTestServer(t)
	toolBody := []byte(`{"name": "weather", "description": "d", "tags": {}}`)
	tests := []struct {
		name       string
		rule       map[string]any
		method     string
		path       string
		body       []byte
		wantStatus int
		wantDetail string
		retryAfter string
	}{
		{"429 with its Retry-After", map[string]any{"operation": "get-users", "status": 429, "retry_after": 7},
			"GET", "/user/", nil, 429, "The user has exceeded the rate limit of 60 requests per minute for this endpoint.", "7"},
		{"429 waits a second by default", map[string]any{"operation": "create-tool", "status": 429},
			"POST", "/tool/", toolBody, 429, "The user has exceeded the rate limit of 20 requests per minute for this endpoint.", "1"},
		{"503", map[string]any{"operation": "get-organization", "status": 503},
			"GET", "/organization/", nil, 503, "The service is going through temporary maintenance.", ""},
		{"503 with a Retry-After", map[string]any{"operation": "get-tools", "status": 503, "retry_after": 30},
			"GET", "/tool/", nil, 503, "The service is going through temporary maintenance.", "30"},
		{"409", map[string]any{"operation": "create-tool", "status": 409},
			"POST", "/tool/", toolBody, 409, "A related operation is in progress; try again once it ends.", ""},
		{"500", map[string]any{"operation": "get_roles_v1__organization__role__get", "status": 500},
			"GET", "/role/", nil, 500, "Internal Server Error", ""},
		{"another status", map[string]any{"operation": "get-users", "status": 418},
			"GET", "/user/", nil, 418, "I'm a teapot", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			id := c.inject(tc.rule)
			defer c.ctl("DELETE", "faults/"+id, nil)
			resp, raw, err := c.send(tc.method, tc.path, tc.body, nil)
			if err != nil {
				t.Fatal(err)
			}
			var body map[string]any
			_ = json.Unmarshal(raw, &body)
			if resp.StatusCode != tc.wantStatus || detail(body) != tc.wantDetail || len(body) != 1 {
				t.Errorf("got %d %s, want %d {\"detail\": %q}", resp.StatusCode, raw, tc.wantStatus, tc.wantDetail)
			}
			if got := resp.Header.Get("Retry-After"); got != tc.retryAfter {
				t.Errorf("Retry-After %q, want %q", got, tc.retryAfter)
			}
			if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q", ct)
			}
		})
	}
	// The faulted create-tool calls created nothing.
	status, body := c.do("GET", "/tool/", nil)
	if mustStatus(t, "get tools", status, http.StatusOK, body); len(body["tools"].([]any)) != 0 {
		t.Errorf("faulted creates created tools: %v", body)
	}
}

// A fault applies before authentication is checked: a client sees the
// 503 whatever its credentials.
func TestFaultComesBeforeAuthentication(t *testing.T) {
	t.Parallel()
	_, c := newTestServer(t)
	c.inject(map[string]any{"operation": "get-users", "status": 503})
	resp, raw, err := c.as("bad-token").send("GET", "/user/", nil, nil)
	if err != nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("got %v %v %s, want 503", err, resp, raw)
	}
}

func TestFaultLatency(t *testing.T) {
	t.Parallel()
	_, c := newTestServer(t)
	tests := []struct {
		name    string
		latency map[string]any
		status  int
		atLeast time.Duration
		want    int
	}{
		{"fixed", map[string]any{"ms": 150}, 0, 150 * time.Millisecond, http.StatusOK},
		{"uniform", map[string]any{"distribution": "uniform", "min_ms": 120, "max_ms": 160}, 0, 120 * time.Millisecond, http.StatusOK},
		{"normal without spread", map[string]any{"distribution": "normal", "mean_ms": 100, "stddev_ms": 0}, 0, 100 * time.Millisecond, http.StatusOK},
		{"then a status", map[string]any{"ms": 100}, 503, 100 * time.Millisecond, http.StatusServiceUnavailable},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rule := map[string]any{"operation": "get-organization", "latency": tc.latency}
			if tc.status != 0 {
				rule["status"] = tc.status
			}
			id := c.inject(rule)
			defer c.ctl("DELETE", "faults/"+id, nil)
			start := time.Now()
			resp, raw, err := c.send("GET", "/organization/", nil, nil)
			elapsed := time.Since(start)
			if err != nil || resp.StatusCode != tc.want {
				t.Fatalf("got %v %v %s, want %d", err, resp, raw, tc.want)
			}
			if elapsed < tc.atLeast {
				t.Errorf("answered after %s, want at least %s", elapsed, tc.atLeast)
			}
		})
	}
}

func TestFaultDropClosesTheConnection(t *testing.T) {
	t.Parallel()
	_, c := newTestServer(t)
	id := c.inject(map[string]any{"operation": "get-users", "drop": true})
	_, _, err := c.send("GET", "/user/", nil, nil)
	if !errors.Is(err, io.EOF) {
		t.Fatalf("got error %v, want io.EOF", err)
	}
	// Other operations are untouched, and the drop is logged as one.
	if status, body := c.do("GET", "/organization/", nil); status != http.StatusOK {
		t.Errorf("get-organization: status %d: %v", status, body)
	}
	got := c.logged("?operation=get-users")
	if len(got) != 1 || got[0]["status"] != float64(0) || fmt.Sprint(got[0]["fault"]) != fmt.Sprintf("map[actions:[drop] source:%s]", id) {
		t.Errorf("logged %v, want one request with status 0 and the drop", got)
	}
}

// readLines sends a streamed request and reads its lines until the stream
// ends, returning them and what ended it.
func (c *client) readLines(t *testing.T, path, ctype string, body []byte) (int, []string, error) {
	t.Helper()
	req, err := http.NewRequest("POST", c.base+"/v1/"+c.org+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", ctype)
	req.Header.Set("Authorization", "Bearer "+c.token)
	resp, err := (&http.Client{Transport: &http.Transport{DisableKeepAlives: true}}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	br := bufio.NewReader(resp.Body)
	var lines []string
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			if line != "" {
				lines = append(lines, line)
			}
			return resp.StatusCode, lines, err
		}
		lines = append(lines, line)
	}
}

func TestFaultCutsStreams(t *testing.T) {
	t.Parallel()
	w := conversationSetup(t)
	c := w.admin
	body, _ := json.Marshal(map[string]any{"service_id": w.svcID})

	c.inject(map[string]any{"operation": "create-conversation", "cut_stream_after": 1, "count": 1})
	status, lines, err := c.readLines(t, "/conversation/?response_format=text", "application/json", body)
	if status != http.StatusCreated || len(lines) != 1 || !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("got %d, %d lines %q, %v; want 201, exactly 1 line, then the connection closed", status, len(lines), lines, err)
	}
	var ev map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &ev); err != nil || ev["type"] != "conversation-created" {
		t.Fatalf("the line is %q (%v), want conversation-created", lines[0], err)
	}
	// The turn was cut short, as if the client had gone: nothing is kept.
	if got, _ := c.conversationList(t, ""); len(got) != 0 {
		t.Errorf("a cut opening turn kept %d conversations", len(got))
	}
	logged := c.logged("?operation=create-conversation")
	if len(logged) != 1 || logged[0]["status"] != float64(http.StatusCreated) {
		t.Fatalf("logged %v, want one create-conversation, 201", logged)
	}
	if events, _ := logged[0]["events"].([]any); len(events) != 1 || fmt.Sprint(logged[0]["fault"].(map[string]any)["actions"]) != "[cut_stream]" {
		t.Errorf("logged events %v and fault %v, want the one event sent and the cut", logged[0]["events"], logged[0]["fault"])
	}

	// The rule is spent: the next conversation streams whole, and an
	// interaction is cut after two events.
	convID := c.conversationStart(t, w.svcID, nil)
	c.inject(map[string]any{"operation": "interact-with-conversation", "cut_stream_after": 2})
	form, ctype := multipartBody(t, userMessage("hello"))
	status, lines, err = c.readLines(t, "/conversation/"+convID+"/interact?request_format=text&response_format=text", ctype, form)
	if status != http.StatusOK || len(lines) != 2 || !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("interact: got %d, %d lines %q, %v; want 200, exactly 2 lines, then the connection closed", status, len(lines), lines, err)
	}
}

func TestFaultProbabilityAndCount(t *testing.T) {
	t.Parallel()
	_, c := newTestServer(t)
	never := c.inject(map[string]any{"operation": "get-users", "status": 503, "probability": 0})
	for range 20 {
		if status, body := c.do("GET", "/user/", nil); status != http.StatusOK {
			t.Fatalf("probability 0: status %d: %v", status, body)
		}
	}
	c.ctl("DELETE", "faults/"+never, nil)
	always := c.inject(map[string]any{"operation": "get-users", "status": 503, "probability": 1})
	for range 20 {
		if status, _ := c.do("GET", "/user/", nil); status != http.StatusServiceUnavailable {
			t.Fatalf("probability 1: status %d, want 503", status)
		}
	}
	c.ctl("DELETE", "faults/"+always, nil)

	counted := c.inject(map[string]any{"operation": "get-users", "status": 503, "count": 2})
	for i, want := range []int{503, 503, 200, 200} {
		if status, _ := c.do("GET", "/user/", nil); status != want {
			t.Errorf("request %d: status %d, want %d", i, status, want)
		}
	}
	got := c.faults()
	if len(got) != 1 || got[0]["id"] != counted || got[0]["applied"] != float64(2) || got[0]["remaining"] != float64(0) {
		t.Errorf("listed %v, want the spent rule: applied 2, remaining 0", got)
	}
	status, body := c.ctl("DELETE", "faults/"+never, nil)
	if status != http.StatusNotFound {
		t.Errorf("deleting a deleted rule: status %d, want 404: %v", status, body)
	}
	if status, _ := c.ctl("DELETE", "faults", nil); status != http.StatusNoContent || len(c.faults()) != 0 {
		t.Errorf("clear: status %d, %d rules left", status, len(c.faults()))
	}
}

// Concurrent requests never take more than a rule's count.
func TestFaultCountHoldsUnderConcurrency(t *testing.T) {
	t.Parallel()
	srv, c := newTestServer(t)
	srv.Inject(t, compadretest.Rule{Operation: "get-organization", Status: 503, Count: 5})
	var wg sync.WaitGroup
	var mu sync.Mutex
	faulted := 0
	for range 40 {
		wg.Go(func() {
			resp, _, err := c.send("GET", "/organization/", nil, nil)
			if err != nil {
				t.Error(err)
				return
			}
			if resp.StatusCode == http.StatusServiceUnavailable {
				mu.Lock()
				faulted++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if faulted != 5 {
		t.Errorf("%d requests faulted, want 5", faulted)
	}
}

func TestFaultMatches(t *testing.T) {
	t.Parallel()
	srv, admin := newTestServer(t, compadretest.WithOrganization("alpha"))
	beta, _ := betaOrg(t, srv, admin)
	otherID := admin.newUser("other@example.com", "DefaultSuperAdministratorRole")
	other := admin.keyFor(otherID, "DefaultSuperAdministratorRole")

	type call struct {
		c            *client
		method, path string
		want         int
	}
	tests := []struct {
		name  string
		rule  map[string]any
		calls []call
	}{
		{"a glob", map[string]any{"operation": "get-*", "status": 503}, []call{
			{admin, "GET", "/user/", 503}, {admin, "GET", "/organization/", 503}, {admin, "POST", "/role/", 422},
		}},
		{"a class", map[string]any{"operation": "get-[ot]*", "status": 503}, []call{
			{admin, "GET", "/organization/", 503}, {admin, "GET", "/tool/", 503}, {admin, "GET", "/user/", 200},
		}},
		{"every operation", map[string]any{"operation": "*", "status": 500}, []call{
			{admin, "GET", "/user/", 500}, {admin, "POST", "/tool/", 500},
		}},
		{"an organization", map[string]any{"operation": "get-users", "organization": "beta", "status": 503}, []call{
			{admin, "GET", "/user/", 200}, {beta, "GET", "/user/", 503},
		}},
		{"a user", map[string]any{"operation": "get-users", "user": otherID, "status": 503}, []call{
			{admin, "GET", "/user/", 200}, {other, "GET", "/user/", 503},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			id := admin.inject(tc.rule)
			defer admin.ctl("DELETE", "faults/"+id, nil)
			for _, cl := range tc.calls {
				var body []byte
				if cl.method == "POST" {
					body = []byte(`{}`)
				}
				resp, raw, err := cl.c.send(cl.method, cl.path, body, nil)
				if err != nil || resp.StatusCode != cl.want {
					t.Errorf("%s %s as %s: %v %v %s, want %d", cl.method, cl.path, cl.c.org, err, resp, raw, cl.want)
				}
			}
			// The control API itself is never faulted.
			if status, _ := admin.ctl("GET", "faults", nil); status != http.StatusOK {
				t.Errorf("the control API answered %d under the rule", status)
			}
		})
	}
}

func TestFaultRulesRefused(t *testing.T) {
	t.Parallel()
	_, c := newTestServer(t)
	tests := []struct {
		name string
		rule any
		want int
	}{
		{"no operation", map[string]any{"status": 503}, 422},
		{"an unknown field", map[string]any{"operation": "get-users", "status": 503, "statuss": 1}, 422},
		{"a status that is not an error", map[string]any{"operation": "get-users", "status": 302}, 422},
		{"a probability above 1", map[string]any{"operation": "get-users", "status": 503, "probability": 1.5}, 422},
		{"a negative count", map[string]any{"operation": "get-users", "status": 503, "count": -1}, 422},
		{"a latency too long", map[string]any{"operation": "get-users", "latency": map[string]any{"ms": 300001}}, 422},
		{"an unknown distribution", map[string]any{"operation": "get-users", "latency": map[string]any{"distribution": "zipf"}}, 422},
		{"a cut after no event", map[string]any{"operation": "create-conversation", "cut_stream_after": 0}, 422},
		{"an operation that does not exist", map[string]any{"operation": "get-organisation", "status": 503}, 400},
		{"a glob that matches nothing", map[string]any{"operation": "fetch-*", "status": 503}, 400},
		{"a malformed glob", map[string]any{"operation": "get-[", "status": 503}, 400},
		{"the control API", map[string]any{"operation": "control-list-faults", "status": 503}, 400},
		{"no action", map[string]any{"operation": "get-users"}, 400},
		{"two actions", map[string]any{"operation": "get-users", "status": 503, "drop": true}, 400},
		{"a Retry-After with a 500", map[string]any{"operation": "get-users", "status": 500, "retry_after": 2}, 400},
		{"a cut of an answer that does not stream", map[string]any{"operation": "get-users", "cut_stream_after": 2}, 400},
		{"uniform bounds out of order", map[string]any{"operation": "get-users", "latency": map[string]any{"distribution": "uniform", "min_ms": 20, "max_ms": 10}}, 400},
		{"fields of another distribution", map[string]any{"operation": "get-users", "latency": map[string]any{"ms": 10, "mean_ms": 20}}, 400},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, body := c.ctl("POST", "faults", tc.rule)
			if status != tc.want {
				t.Errorf("status %d, want %d: %v", status, tc.want, body)
			}
		})
	}
	if got := c.faults(); len(got) != 0 {
		t.Errorf("refused rules are in force: %v", got)
	}
}

func TestFaultHeader(t *testing.T) {
	t.Parallel()
	_, c := newTestServer(t)
	// The header takes precedence over a rule.
	c.inject(map[string]any{"operation": "get-tools", "status": 500})
	tests := []struct {
		name, header string
		path         string
		want         int
		retryAfter   string
		atLeast      time.Duration
	}{
		{"a status", "status=503", "/user/", 503, "", 0},
		{"a 429 with its Retry-After", " status=429 ; retry-after=2 ", "/user/", 429, "2", 0},
		{"before a rule", "status=409", "/tool/", 409, "", 0},
		{"latency", "latency=120ms", "/user/", 200, "", 120 * time.Millisecond},
		{"uniform latency then a status", "latency=100ms..130ms;status=503", "/user/", 503, "", 100 * time.Millisecond},
		{"not a number", "status=abc", "/user/", 400, "", 0},
		{"not an error status", "status=200", "/user/", 400, "", 0},
		{"an unknown item", "explode", "/user/", 400, "", 0},
		{"drop with a value", "drop=1", "/user/", 400, "", 0},
		{"two actions", "status=503;drop", "/user/", 400, "", 0},
		{"a Retry-After alone", "retry-after=2", "/user/", 400, "", 0},
		{"an item twice", "status=503;status=500", "/user/", 400, "", 0},
		{"a bad duration", "latency=soon", "/user/", 400, "", 0},
		{"a range out of order", "latency=2s..1s", "/user/", 400, "", 0},
		{"a cut of nothing", "cut-stream=0", "/user/", 400, "", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			resp, raw, err := c.send("GET", tc.path, nil, map[string]string{"X-Compadre-Fault": tc.header})
			if err != nil || resp.StatusCode != tc.want {
				t.Fatalf("got %v %v %s, want %d", err, resp, raw, tc.want)
			}
			if got := resp.Header.Get("Retry-After"); got != tc.retryAfter {
				t.Errorf("Retry-After %q, want %q", got, tc.retryAfter)
			}
			if elapsed := time.Since(start); elapsed < tc.atLeast {
				t.Errorf("answered after %s, want at least %s", elapsed, tc.atLeast)
			}
			if tc.want == http.StatusBadRequest && !strings.Contains(string(raw), "X-Compadre-Fault") {
				t.Errorf("a 400 that does not name the header: %s", raw)
			}
		})
	}
	t.Run("drop", func(t *testing.T) {
		if _, _, err := c.send("GET", "/user/", nil, map[string]string{"X-Compadre-Fault": "drop"}); !errors.Is(err, io.EOF) {
			t.Errorf("got error %v, want io.EOF", err)
		}
	})
	t.Run("the control API ignores it", func(t *testing.T) {
		status, raw := c.raw("GET", "/_compadre/faults", nil, map[string]string{"Authorization": "Bearer " + c.token,
			"X-Compadre-Fault": "status=503"})
		if status != http.StatusOK {
			t.Errorf("status %d: %s", status, raw)
		}
	})
}

// syncBuffer is a log destination safe for the server's goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func TestFaultsAreMarked(t *testing.T) {
	t.Parallel()
	var logs syncBuffer
	srv, c := newTestServer(t, compadretest.WithLogger(slog.New(slog.NewJSONHandler(&logs, nil))))
	id := srv.Inject(t, compadretest.Rule{Operation: "get-users", Status: 503, Latency: &compadretest.Latency{MS: 1}})
	c.do("GET", "/user/", nil)
	c.send("GET", "/organization/", nil, map[string]string{"X-Compadre-Fault": "status=500"})
	c.do("GET", "/tool/", nil)

	var faulted []string
	for line := range strings.SplitSeq(strings.TrimSpace(logs.String()), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil || rec["msg"] != "request" {
			continue
		}
		if f, ok := rec["fault"]; ok {
			faulted = append(faulted, fmt.Sprintf("%v %v %v", rec["operation"], rec["status"], f))
		}
	}
	want := []string{"get-users 503 " + id, "get-organization 500 header"}
	if fmt.Sprint(faulted) != fmt.Sprint(want) {
		t.Errorf("access log marks %q, want %q", faulted, want)
	}

	_, metrics := c.raw("GET", "/metrics", nil, nil)
	for _, m := range []string{
		`compadre_faults_injected_total{kind="latency",operation="get-users"} 1`,
		`compadre_faults_injected_total{kind="status",operation="get-users"} 1`,
		`compadre_faults_injected_total{kind="status",operation="get-organization"} 1`,
	} {
		if !strings.Contains(string(metrics), m) {
			t.Errorf("metrics lack %s", m)
		}
	}
	if strings.Contains(string(metrics), `compadre_faults_injected_total{kind="status",operation="get-tools"}`) {
		t.Error("metrics count a fault on get-tools, which had none")
	}
}

func TestRequestLog(t *testing.T) {
	t.Parallel()
	srv, c := newTestServer(t, compadretest.WithRequestLogSize(4), compadretest.WithOrganization("alpha"))
	c.ctl("DELETE", "requests", nil)
	c.do("GET", "/organization/", nil)
	c.do("GET", "/user/?limit=5", nil)
	c.do("POST", "/role/", map[string]any{"role_name": "x"})
	c.ctl("GET", "faults", nil) // not logged
	c.raw("GET", "/healthz", nil, nil)
	got := c.logged("")
	var ops []string
	for i, r := range got {
		ops = append(ops, fmt.Sprintf("%v %v %v", r["method"], r["operation"], r["status"]))
		if i > 0 && r["id"].(float64) <= got[i-1]["id"].(float64) {
			t.Errorf("entry %d is numbered %v after %v", i, r["id"], got[i-1]["id"])
		}
	}
	want := []string{"GET get-organization 200", "GET get-users 200", "POST create-role 422", "GET healthz 200"}
	if fmt.Sprint(ops) != fmt.Sprint(want) {
		t.Fatalf("logged %q, want %q", ops, want)
	}
	users := got[1]
	if users["path"] != "/v1/alpha/user/" || users["query"] != "limit=5" || users["organization"] != "alpha" ||
		users["user"] != srv.UserID || users["request_body"] != nil || users["events"] != nil || users["fault"] != nil {
		t.Errorf("get-users entry: %v", users)
	}
	if ms, _ := users["latency_ms"].(float64); ms <= 0 {
		t.Errorf("latency_ms %v", users["latency_ms"])
	}
	if got[3]["organization"] != nil || got[3]["user"] != nil {
		t.Errorf("healthz names an organization or user: %v", got[3])
	}
	role := got[2]
	if fmt.Sprint(role["request_body"]) != "map[content_type:application/json json:map[role_name:x] size:17 truncated:false]" {
		t.Errorf("create-role request body: %v", role["request_body"])
	}
	if rb, _ := role["response_body"].(map[string]any); rb == nil || !strings.Contains(fmt.Sprint(rb["json"]), "Field required") {
		t.Errorf("create-role response body: %v", role["response_body"])
	}

	// Four kept: a fifth request pushes the oldest out.
	c.do("GET", "/tool/", nil)
	got = c.logged("")
	if len(got) != 4 || got[0]["operation"] != "get-users" || got[3]["operation"] != "get-tools" {
		t.Errorf("after a fifth request: %d entries, %v first and %v last", len(got), got[0]["operation"], got[3]["operation"])
	}

	// Filters.
	after := got[1]["id"].(float64)
	for _, tc := range []struct {
		query string
		want  int
	}{
		{"?operation=get-*", 2},
		{"?operation=create-role", 1},
		{"?organization=alpha", 3},
		{"?organization=beta", 0},
		{fmt.Sprintf("?after=%d", int(after)), 2},
		{"?limit=1", 1},
	} {
		if n := len(c.logged(tc.query)); n != tc.want {
			t.Errorf("%s: %d entries, want %d", tc.query, n, tc.want)
		}
	}
	if status, body := c.ctl("GET", "requests?limit=0", nil); status != http.StatusUnprocessableEntity {
		t.Errorf("limit=0: status %d: %v", status, body)
	}

	// Clearing empties it; numbering goes on.
	last := got[3]["id"].(float64)
	if status, _ := c.ctl("DELETE", "requests", nil); status != http.StatusNoContent {
		t.Fatalf("clear: status %d", status)
	}
	if n := len(c.logged("")); n != 0 {
		t.Fatalf("%d entries after clearing", n)
	}
	c.do("GET", "/organization/", nil)
	if got = c.logged(""); len(got) != 1 || got[0]["id"].(float64) <= last {
		t.Errorf("after clearing: %v", got)
	}

	// From Go, typed.
	logged := srv.Requests(t)
	if len(logged) != 1 || logged[0].Operation != "get-organization" || logged[0].Status != 200 || *logged[0].Organization != "alpha" {
		t.Errorf("srv.Requests: %+v", logged)
	}
}

func TestRequestLogOff(t *testing.T) {
	t.Parallel()
	_, c := newTestServer(t, compadretest.WithRequestLogSize(0))
	for _, method := range []string{"GET", "DELETE"} {
		if status, body := c.ctl(method, "requests", nil); status != http.StatusConflict {
			t.Errorf("%s requests: status %d, want 409: %v", method, status, body)
		}
	}
	// Faults still work.
	c.inject(map[string]any{"operation": "get-users", "status": 503})
}

// No secret the API hands out or takes in appears anywhere in the request
// log: an API key's secret, a token, a webhook secret, a secret variable.
func TestRequestLogRedactsSecrets(t *testing.T) {
	t.Parallel()
	_, c := newTestServer(t)
	userID := c.newUser("user@example.com", "DefaultUserRole")
	status, body := c.do("POST", "/organization/api_key/", map[string]any{"name": "k", "duration": "P1D", "role_name": "DefaultUserRole"})
	mustStatus(t, "create key", status, http.StatusCreated, body)
	keySecret, keyID := body["api_key"].(string), body["api_key_id"].(string)
	token := c.signIn(keySecret, keyID, userID)
	_, hookSecret := c.hookCreate(t, "https://hooks.example.com/in", 1)
	status, body = c.do("POST", "/tool/", map[string]any{"name": "weather", "description": "d", "tags": map[string]any{}})
	mustStatus(t, "create tool", status, http.StatusCreated, body)
	const varSecret = "hunter2-tool-variable"
	c.do("POST", "/tool/"+body["id"].(string)+"/envvar", map[string]any{
		"inserts": []any{map[string]any{"name": "API_PASSWORD", "value": varSecret, "is_secret": true}}})
	c.raw("GET", "/v1/"+c.org+"/user/?sign_in_token=query-secret-xyz", nil, map[string]string{"Authorization": "Bearer " + token,
		"Cookie": "session=cookie-secret-xyz"})
	// A body past 64 KiB is text, cut; a secret in it is still redacted.
	big := `{"id_token": "truncated-secret-xyz", "padding": "` + strings.Repeat("x", 70<<10) + `"}`
	c.raw("POST", "/v1/"+c.org+"/role/", big, map[string]string{"Authorization": "Bearer " + token})

	status, raw := c.raw("GET", "/_compadre/requests", nil, map[string]string{"Authorization": "Bearer " + c.token})
	mustStatus(t, "list requests", status, http.StatusOK, string(raw))
	for name, secret := range map[string]string{"API key secret": keySecret, "sign-in token": token, "administrator's token": c.token,
		"webhook secret": hookSecret, "secret variable": varSecret, "query secret": "query-secret-xyz",
		"cookie": "cookie-secret-xyz", "truncated body's secret": "truncated-secret-xyz"} {
		if strings.Contains(string(raw), secret) {
			t.Errorf("the request log shows the %s", name)
		}
	}
	var list struct {
		Requests []compadretest.LoggedRequest `json:"requests"`
	}
	if err := json.Unmarshal(raw, &list); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, r := range list.Requests {
		seen[r.Operation] = true
		if r.Operation == "create-role" && (r.RequestBody == nil || !r.RequestBody.Truncated || r.RequestBody.Size != int64(len(big)) ||
			r.RequestBody.Text == nil || len(*r.RequestBody.Text) > 64<<10 || !strings.Contains(*r.RequestBody.Text, `"id_token": "[redacted]"`)) {
			t.Errorf("the cut body: %+v", r.RequestBody)
		}
		if r.Operation == "sign-in-with-api-key" && fmt.Sprint(r.RequestHeaders["X-Api-Key"]) != "[[redacted]]" {
			t.Errorf("sign-in headers: %v", r.RequestHeaders)
		}
	}
	for _, op := range []string{"create-api-key", "sign-in-with-api-key", "create-webhook-destination", "modify-tool-envvars", "get-users"} {
		if !seen[op] {
			t.Errorf("%s is not logged", op)
		}
	}
}

func TestRequestLogKeepsStreamsAndForms(t *testing.T) {
	t.Parallel()
	w := conversationSetup(t)
	c := w.admin
	convID := c.conversationStart(t, w.svcID, nil)
	s := c.interact(t, convID, "", userMessage("hello there"))
	if s.status != http.StatusOK {
		t.Fatalf("interact: %d %s", s.status, s.raw)
	}
	logged := c.logged("?operation=*-conversation")
	if len(logged) != 2 {
		t.Fatalf("logged %d conversation requests, want 2", len(logged))
	}
	created, interacted := logged[0], logged[1]
	events, _ := created["events"].([]any)
	if len(events) < 3 || events[0].(map[string]any)["type"] != "conversation-created" {
		t.Errorf("create-conversation events: %v", created["events"])
	}
	if rb := created["response_body"].(map[string]any); rb["content_type"] != "application/x-ndjson" || rb["json"] != nil {
		t.Errorf("create-conversation response body: %v", rb)
	}
	if events, _ := interacted["events"].([]any); len(events) != len(s.events) {
		t.Errorf("interact: %d events logged, %d sent", len(events), len(s.events))
	}
	parts := fmt.Sprint(interacted["request_body"].(map[string]any)["parts"])
	if !strings.Contains(parts, "name:recorded_message") || !strings.Contains(parts, "value:hello there") {
		t.Errorf("interact form parts: %s", parts)
	}
}
