package llm

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"
)

const testKey = "sk-test-0123456789"

// fakeServer speaks the chat-completions protocol under /v1: it records
// each request's body and answers with reply (status, body).
type fakeServer struct {
	*httptest.Server
	requests chan *http.Request
	bodies   chan []byte
}

func newFakeServer(t *testing.T, status int, reply string) *fakeServer {
	t.Helper()
	f := &fakeServer{requests: make(chan *http.Request, 1), bodies: make(chan []byte, 1)}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		f.requests <- r
		f.bodies <- body
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		io.WriteString(w, reply)
	}))
	t.Cleanup(f.Close)
	return f
}

func (f *fakeServer) provider(t *testing.T) *OpenAI {
	t.Helper()
	p, err := NewOpenAI(OpenAIConfig{URL: f.URL + "/v1/", Key: testKey, Model: "llama3.2"})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// completion is a chat-completions reply whose message says content.
func completion(content string) string {
	b, _ := json.Marshal(map[string]any{
		"model":   "llama3.2:latest",
		"choices": []any{map[string]any{"index": 0, "message": map[string]any{"role": "assistant", "content": content}}},
	})
	return string(b)
}

func TestOpenAIChoiceRequest(t *testing.T) {
	t.Parallel()
	f := newFakeServer(t, http.StatusOK, completion(`{"choice": 2}`))
	a, err := f.provider(t).Complete(context.Background(), Call{
		Kind:     Choice,
		Messages: []Message{{Role: "system", Content: "Pick the next state."}, {Role: "user", Content: "I want a refund"}},
		Options:  []string{"greet", "upsell", "refund"},
		Seed:     1<<31 + 5,
	})
	if err != nil {
		t.Fatal(err)
	}
	if a.Choice != 2 || a.Completion != `{"choice": 2}` || a.Model != "llama3.2:latest" {
		t.Errorf("got %+v, want choice 2, the reply as completion, the server's model", a)
	}

	r, body := <-f.requests, <-f.bodies
	if r.Method != http.MethodPost || r.URL.Path != "/v1/chat/completions" {
		t.Errorf("got %s %s, want POST /v1/chat/completions", r.Method, r.URL.Path)
	}
	if got := r.Header.Get("Authorization"); got != "Bearer "+testKey {
		t.Errorf("Authorization: got %q, want the bearer key", got)
	}
	var req struct {
		Model          string    `json:"model"`
		Seed           uint64    `json:"seed"`
		Messages       []Message `json:"messages"`
		ResponseFormat struct {
			Type       string `json:"type"`
			JSONSchema struct {
				Name   string          `json:"name"`
				Strict bool            `json:"strict"`
				Schema json.RawMessage `json:"schema"`
			} `json:"json_schema"`
		} `json:"response_format"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		t.Fatal(err)
	}
	if req.Model != "llama3.2" || req.Seed != 5 {
		t.Errorf("model, seed: got %q, %d, want llama3.2, 5", req.Model, req.Seed)
	}
	if len(req.Messages) != 3 || req.Messages[1].Content != "I want a refund" {
		t.Fatalf("messages: got %+v, want the call's two and one more", req.Messages)
	}
	if last := req.Messages[2]; last.Role != "system" || !strings.Contains(last.Content, "\n0: greet\n1: upsell\n2: refund") {
		t.Errorf("last message: got %+v, want a system message numbering the options", last)
	}
	rf := req.ResponseFormat
	if rf.Type != "json_schema" || rf.JSONSchema.Name == "" || !rf.JSONSchema.Strict {
		t.Errorf("response_format: got %+v, want a strict, named json_schema", rf)
	}
	var schema, want any
	json.Unmarshal(rf.JSONSchema.Schema, &schema)
	json.Unmarshal([]byte(`{"type":"object","properties":{"choice":{"type":"integer","enum":[0,1,2]}},"required":["choice"],"additionalProperties":false}`), &want)
	if !reflect.DeepEqual(schema, want) {
		t.Errorf("schema: got %s, want one integer choice among 0, 1, 2", rf.JSONSchema.Schema)
	}
}

// TestOpenAIParams: a call's model and parameters go into the request as
// the protocol names them; absent ones are not sent at all.
func TestOpenAIParams(t *testing.T) {
	t.Parallel()
	temp, seed, tokens := 0.25, uint64(42), 64
	tests := []struct {
		name string
		call Call
		want string
	}{
		{"none", Call{Kind: Text, Seed: 3},
			`{"model":"llama3.2","messages":[],"seed":3}`},
		{"a preference's", Call{Kind: Text, Seed: 3, Model: "phi4", Params: Params{Temperature: &temp, Seed: &seed,
			MaxTokens: &tokens, Stop: []string{"END"}}},
			`{"model":"phi4","messages":[],"seed":42,"temperature":0.25,"max_tokens":64,"stop":["END"]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFakeServer(t, http.StatusOK, completion("Hello."))
			if _, err := f.provider(t).Complete(context.Background(), tt.call); err != nil {
				t.Fatal(err)
			}
			<-f.requests
			var got, want any
			if err := json.Unmarshal(<-f.bodies, &got); err != nil {
				t.Fatal(err)
			}
			json.Unmarshal([]byte(tt.want), &want)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("got %v, want %s", got, tt.want)
			}
		})
	}
}

func TestOpenAIObjectRequest(t *testing.T) {
	t.Parallel()
	const schema = `{"type":"object","properties":{"city":{"type":"string"}},"required":["city"],"additionalProperties":false}`
	f := newFakeServer(t, http.StatusOK, completion(` {"city": "Lisbon"} `))
	a, err := f.provider(t).Complete(context.Background(), Call{
		Kind: Object, Model: "qwen2.5", Schema: json.RawMessage(schema),
		Messages: []Message{{Role: "user", Content: "Book Lisbon"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if string(a.Object) != `{"city":"Lisbon"}` {
		t.Errorf("object: got %s, want {\"city\":\"Lisbon\"}", a.Object)
	}
	var req struct {
		Model          string `json:"model"`
		ResponseFormat struct {
			JSONSchema struct {
				Schema json.RawMessage `json:"schema"`
			} `json:"json_schema"`
		} `json:"response_format"`
	}
	<-f.requests
	if err := json.Unmarshal(<-f.bodies, &req); err != nil {
		t.Fatal(err)
	}
	if req.Model != "qwen2.5" || string(req.ResponseFormat.JSONSchema.Schema) != schema {
		t.Errorf("got model %q, schema %s, want the call's", req.Model, req.ResponseFormat.JSONSchema.Schema)
	}
}

func TestOpenAIReplies(t *testing.T) {
	t.Parallel()
	choice := Call{Kind: Choice, Options: []string{"a", "b", "c"}}
	object := Call{Kind: Object, Schema: json.RawMessage(`{"type":"object","properties":{"n":{"type":"integer","minimum":1}},"required":["n"]}`)}
	text := Call{Kind: Text, WordLimit: 3, Messages: []Message{{Role: "user", Content: "hi"}}}
	tests := []struct {
		name       string
		call       Call
		status     int
		reply      string
		want       Answer // compared when wantStatus is -1
		wantStatus int    // the *Error's Status; -1 for no error
	}{
		{"choice in range", choice, 200, completion(`{"choice":0}`), Answer{Choice: 0, Completion: `{"choice":0}`, Model: "llama3.2:latest"}, -1},
		{"choice written as 2.0", choice, 200, completion(`{"choice":2.0}`), Answer{Choice: 2, Completion: `{"choice":2.0}`, Model: "llama3.2:latest"}, -1},
		{"choice one past the last", choice, 200, completion(`{"choice":3}`), Answer{}, 0},
		{"choice below zero", choice, 200, completion(`{"choice":-1}`), Answer{}, 0},
		{"choice as text", choice, 200, completion(`b`), Answer{}, 0},
		{"choice with another field", choice, 200, completion(`{"choice":1,"why":"x"}`), Answer{}, 0},
		{"object valid", object, 200, completion(`{"n":1}`), Answer{Object: json.RawMessage(`{"n":1}`), Completion: `{"n":1}`, Model: "llama3.2:latest"}, -1},
		{"object not JSON", object, 200, completion(`{"n":1`), Answer{}, 0},
		{"object with text after it", object, 200, completion(`{"n":1} done`), Answer{}, 0},
		{"object not an object", object, 200, completion(`[1]`), Answer{}, 0},
		{"object missing the schema", object, 200, completion(`{"n":0}`), Answer{}, 0},
		{"text cut to the limit", text, 200, completion("  one two three four  "), Answer{Text: "one two three", Completion: "  one two three four  ", Model: "llama3.2:latest"}, -1},
		{"text empty", text, 200, completion(" "), Answer{}, 0},
		{"no choices", text, 200, `{"choices":[]}`, Answer{}, 0},
		{"reply not JSON", text, 200, `<html>`, Answer{}, 0},
		{"server error", text, 500, `{"error":{"message":"model crashed"}}`, Answer{}, 500},
		{"not found", text, 404, `model "x" not found`, Answer{}, 404},
		{"refused key echoed", text, 401, `{"error":{"message":"Incorrect API key provided: ` + testKey + `"}}`, Answer{}, 401},
		{"refused key echoed as text", text, 403, `bad key ` + testKey, Answer{}, 403},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFakeServer(t, tt.status, tt.reply)
			a, err := f.provider(t).Complete(context.Background(), tt.call)
			if tt.wantStatus == -1 {
				if err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(a, tt.want) {
					t.Errorf("got %+v, want %+v", a, tt.want)
				}
				return
			}
			var e *Error
			if !errors.As(err, &e) || e.Provider != OpenAIName || e.Status != tt.wantStatus {
				t.Fatalf("got answer %+v, error %#v, want an *Error from openai with status %d", a, err, tt.wantStatus)
			}
			if strings.Contains(err.Error(), testKey) {
				t.Errorf("error %q holds the key", err)
			}
			if !reflect.DeepEqual(a, Answer{}) {
				t.Errorf("got answer %+v with the error, want none", a)
			}
		})
	}
}

// TestOpenAIGivesUp has a server that never answers: the call must end
// with an error once the timeout (or the caller's context) ends it.
func TestOpenAIGivesUp(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) })

	tests := []struct {
		name    string
		timeout time.Duration
		ctx     func() (context.Context, context.CancelFunc)
		want    error
	}{
		{"the provider's timeout", 20 * time.Millisecond, func() (context.Context, context.CancelFunc) { return context.Background(), func() {} }, context.DeadlineExceeded},
		{"the caller's deadline", time.Hour, func() (context.Context, context.CancelFunc) {
			return context.WithTimeout(context.Background(), 20*time.Millisecond)
		}, context.DeadlineExceeded},
		{"the caller's cancel", time.Hour, func() (context.Context, context.CancelFunc) {
			ctx, cancel := context.WithCancel(context.Background())
			time.AfterFunc(20*time.Millisecond, cancel)
			return ctx, cancel
		}, context.Canceled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p, err := NewOpenAI(OpenAIConfig{URL: srv.URL, Key: testKey, Model: "m", Timeout: tt.timeout})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := tt.ctx()
			defer cancel()
			_, err = p.Complete(ctx, Call{Kind: Text})
			var e *Error
			if !errors.As(err, &e) || !errors.Is(err, tt.want) {
				t.Fatalf("got %v, want an *Error that is %v", err, tt.want)
			}
			if strings.Contains(err.Error(), testKey) {
				t.Errorf("error %q holds the key", err)
			}
		})
	}
}

func TestOpenAIModels(t *testing.T) {
	t.Parallel()
	f := newFakeServer(t, http.StatusOK, `{"object":"list","data":[{"id":"llama3.2","object":"model"},{"id":"qwen2.5:7b","object":"model"}]}`)
	models, err := f.provider(t).Models(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, m := range models {
		names = append(names, m.Name)
		if len(m.ParamsSchema) == 0 {
			t.Errorf("model %s: no params schema", m.Name)
		}
	}
	if !reflect.DeepEqual(names, []string{"llama3.2", "qwen2.5:7b"}) {
		t.Errorf("got %v, want the server's two models in its order", names)
	}
	r := <-f.requests
	if r.Method != http.MethodGet || r.URL.Path != "/v1/models" || r.Header.Get("Authorization") != "Bearer "+testKey {
		t.Errorf("got %s %s with Authorization %q, want GET /v1/models with the bearer key", r.Method, r.URL.Path, r.Header.Get("Authorization"))
	}

	failing := newFakeServer(t, http.StatusUnauthorized, `{"error":"bad key `+testKey+`"}`)
	_, err = failing.provider(t).Models(context.Background())
	var e *Error
	if !errors.As(err, &e) || e.Status != http.StatusUnauthorized || strings.Contains(err.Error(), testKey) || !strings.Contains(err.Error(), "bad key") {
		t.Errorf("got %v, want a 401 *Error with the server's message and without the key", err)
	}
}

func TestNew(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		provider string
		cfg      OpenAIConfig
		want     string // the provider's name; "" for an error
	}{
		{"builtin", "builtin", OpenAIConfig{}, BuiltinName},
		{"empty means builtin", "", OpenAIConfig{}, BuiltinName},
		{"openai", "openai", OpenAIConfig{URL: "http://localhost:11434/v1", Model: "llama3.2"}, OpenAIName},
		{"openai without a model", "openai", OpenAIConfig{URL: "http://localhost:11434/v1"}, ""},
		{"openai without a URL", "openai", OpenAIConfig{Model: "llama3.2"}, ""},
		{"openai with a URL of another scheme", "openai", OpenAIConfig{URL: "ftp://host/v1", Model: "m"}, ""},
		{"openai with a URL without a host", "openai", OpenAIConfig{URL: "http:///v1", Model: "m"}, ""},
		{"unknown", "anthropic", OpenAIConfig{}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p, err := New(tt.provider, tt.cfg)
			switch {
			case tt.want == "" && err == nil:
				t.Errorf("got provider %s, want an error", p.Name())
			case tt.want != "" && err != nil:
				t.Errorf("got %v, want provider %s", err, tt.want)
			case tt.want != "" && p.Name() != tt.want:
				t.Errorf("got provider %s, want %s", p.Name(), tt.want)
			}
		})
	}
}
