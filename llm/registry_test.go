package llm

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// modelServer answers GET /v1/models with the IDs it holds (404 while
// listing is off) and counts the requests.
type modelServer struct {
	*httptest.Server
	mu       sync.Mutex
	ids      []string
	listing  bool
	requests int
}

func newModelServer(t *testing.T, ids ...string) *modelServer {
	t.Helper()
	m := &modelServer{ids: ids, listing: true}
	m.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		m.mu.Lock()
		defer m.mu.Unlock()
		if r.URL.Path != "/v1/models" || !m.listing {
			http.Error(w, `{"error":{"message":"not found"}}`, http.StatusNotFound)
			return
		}
		m.requests++
		data := []map[string]string{}
		for _, id := range m.ids {
			data = append(data, map[string]string{"id": id, "object": "model"})
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"object": "list", "data": data})
	}))
	t.Cleanup(m.Close)
	return m
}

func (m *modelServer) set(listing bool, ids ...string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.listing, m.ids = listing, ids
}

func (m *modelServer) count() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.requests
}

// testClock is a clock the test moves.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func (m *modelServer) registry(t *testing.T, clock *testClock, log *bytes.Buffer) *Registry {
	t.Helper()
	p, err := NewOpenAI(OpenAIConfig{URL: m.URL + "/v1", Model: "default-model"})
	if err != nil {
		t.Fatal(err)
	}
	r := NewRegistry(p, RegistryConfig{Now: clock.now, Log: slog.New(slog.NewTextHandler(log, nil))})
	t.Cleanup(r.Close)
	return r
}

func names(t *testing.T, r *Registry) []string {
	t.Helper()
	models, err := r.Models(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, m := range models {
		out = append(out, m.Name)
	}
	return out
}

func TestRegistryBuiltin(t *testing.T) {
	t.Parallel()
	r := NewRegistry(Builtin{}, RegistryConfig{})
	r.Start()
	t.Cleanup(r.Close)
	if got, want := names(t, r), append([]string{BuiltinName}, referenceModels...); !slices.Equal(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	models, _ := r.Models(context.Background())
	for _, m := range models {
		if _, err := jsonschema.UnmarshalJSON(bytes.NewReader(m.ParamsSchema)); err != nil || m.Description == "" {
			t.Errorf("%s: schema %s (%v), description %q", m.Name, m.ParamsSchema, err, m.Description)
		}
	}

	ctx := context.Background()
	tests := []struct {
		name    string
		model   string
		params  map[string]any
		unknown bool
		param   string // the parameter a *ParamsError names; "" for none
		// notTaken says the model takes no such parameter at all.
		notTaken bool
	}{
		{name: "the built-in model without parameters", model: BuiltinName},
		{name: "the built-in model with a seed", model: BuiltinName, params: map[string]any{"seed": float64(7)}},
		{name: "the built-in model with a temperature", model: BuiltinName, params: map[string]any{"temperature": 0.5}, param: "temperature", notTaken: true},
		{name: "a hosted model with every parameter", model: "google_gemini-2.5-pro", params: map[string]any{
			"temperature": 2.0, "top_p": 0.0, "max_tokens": float64(1), "seed": float64(1<<31 - 1), "stop": "END",
			"presence_penalty": -2.0, "frequency_penalty": 2.0}},
		{name: "a temperature above 2", model: "azure_gpt-4.1-2025-04-14", params: map[string]any{"temperature": 2.01}, param: "temperature"},
		{name: "a top_p below 0", model: "azure_gpt-4.1-2025-04-14", params: map[string]any{"top_p": -0.1}, param: "top_p"},
		{name: "max_tokens of 0", model: "aws_claude-opus-4-6", params: map[string]any{"max_tokens": float64(0)}, param: "max_tokens"},
		{name: "a fractional max_tokens", model: "aws_claude-opus-4-6", params: map[string]any{"max_tokens": 1.5}, param: "max_tokens"},
		{name: "a seed of 2^31", model: "aws_claude-opus-4-6", params: map[string]any{"seed": float64(1 << 31)}, param: "seed"},
		{name: "five stop sequences", model: "aws_claude-opus-4-6", params: map[string]any{"stop": []any{"a", "b", "c", "d", "e"}}, param: "stop"},
		{name: "an unknown parameter, named before a bad one", model: "aws_claude-opus-4-6",
			params: map[string]any{"temprature": 1.0, "top_p": 3.0}, param: "temprature", notTaken: true},
		{name: "an unknown model", model: "gpt-0", unknown: true},
		{name: "a name differing in case", model: "BUILTIN", unknown: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := r.Check(ctx, tt.model, tt.params)
			var unknown *UnknownModelError
			var pe *ParamsError
			switch {
			case tt.unknown:
				if !errors.As(err, &unknown) || unknown.Name != tt.model {
					t.Errorf("got %v, want an *UnknownModelError for %q", err, tt.model)
				}
			case tt.param != "":
				if !errors.As(err, &pe) || pe.Param != tt.param || pe.Model != tt.model || pe.Reason == "" || pe.Unknown != tt.notTaken {
					t.Errorf("got %#v, want a *ParamsError naming %q of %q", err, tt.param, tt.model)
				}
			case err != nil:
				t.Errorf("got %v, want accepted", err)
			}
		})
	}
}

func TestRegistryListsTheServersModels(t *testing.T) {
	t.Parallel()
	srv := newModelServer(t, "llama3.2", "default-model", "qwen2.5:7b")
	clock := &testClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	var log bytes.Buffer
	r := srv.registry(t, clock, &log)
	r.Start()
	// The default model comes first and once, then the server's in its order.
	want := []string{"default-model", "llama3.2", "qwen2.5:7b"}
	if got := names(t, r); !slices.Equal(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	if err := r.Check(context.Background(), "qwen2.5:7b", map[string]any{"temperature": 0.7}); err != nil {
		t.Errorf("a listed model: %v", err)
	}

	// Within a minute the list is not asked for again, even for a name
	// it lacks.
	srv.set(true, "llama3.2", "phi4")
	clock.add(ModelsMaxAge - time.Second)
	var unknown *UnknownModelError
	if err := r.Check(context.Background(), "phi4", nil); !errors.As(err, &unknown) {
		t.Errorf("phi4 before a minute: got %v, want unknown", err)
	}
	if got := names(t, r); !slices.Equal(got, want) || srv.count() != 1 {
		t.Errorf("before a minute: %v after %d requests, want %v after 1", got, srv.count(), want)
	}

	// After it, a name not on the list sends for the list again.
	clock.add(time.Second)
	if err := r.Check(context.Background(), "phi4", nil); err != nil {
		t.Errorf("phi4 after a minute: %v", err)
	}
	if got, want := names(t, r), []string{"default-model", "llama3.2", "phi4"}; !slices.Equal(got, want) || srv.count() != 2 {
		t.Errorf("after a minute: %v after %d requests, want %v after 2", got, srv.count(), want)
	}

	// A server that stops listing leaves the list as it was, with a warning.
	srv.set(false)
	clock.add(ModelsMaxAge)
	if got, want := names(t, r), []string{"default-model", "llama3.2", "phi4"}; !slices.Equal(got, want) {
		t.Errorf("after a failed request: %v, want %v", got, want)
	}
	if !strings.Contains(log.String(), "did not list its models") {
		t.Errorf("log: %q, want a warning", log.String())
	}
}

func TestRegistryWithoutAServerList(t *testing.T) {
	t.Parallel()
	srv := newModelServer(t)
	srv.set(false)
	var log bytes.Buffer
	r := srv.registry(t, &testClock{t: time.Now()}, &log)
	r.Start()
	if got := names(t, r); !slices.Equal(got, []string{"default-model"}) {
		t.Errorf("got %v, want the default model alone", got)
	}
	if !strings.Contains(log.String(), "level=WARN") || !strings.Contains(log.String(), "default-model") {
		t.Errorf("log: %q, want a warning naming the default model", log.String())
	}
}

// TestRegistryWaitsForTheFirstList: a check made while the first request
// for the list runs waits for it, rather than refusing a model the server
// is about to list; a caller that gives up gets its own error.
func TestRegistryWaitsForTheFirstList(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	entered := make(chan struct{}, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		entered <- struct{}{}
		select {
		case <-release:
		case <-r.Context().Done():
			return
		}
		_, _ = w.Write([]byte(`{"data":[{"id":"late"}]}`))
	}))
	t.Cleanup(srv.Close)
	p, err := NewOpenAI(OpenAIConfig{URL: srv.URL, Model: "m"})
	if err != nil {
		t.Fatal(err)
	}
	r := NewRegistry(p, RegistryConfig{})
	t.Cleanup(r.Close)
	r.Start()
	<-entered
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := r.Check(ctx, "late", nil); !errors.Is(err, context.Canceled) {
		t.Errorf("a caller that gave up: got %v, want context.Canceled", err)
	}
	// The default model needs no list.
	if err := r.Check(ctx, "m", nil); err != nil {
		t.Errorf("the default model: %v", err)
	}
	close(release)
	if err := r.Check(context.Background(), "late", nil); err != nil {
		t.Errorf("a model of the first list: %v", err)
	}
}

// TestRegistryClose: Close ends a request still running, and a closed
// registry asks nothing more.
func TestRegistryClose(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
	}))
	t.Cleanup(srv.Close)
	p, err := NewOpenAI(OpenAIConfig{URL: srv.URL, Model: "m"})
	if err != nil {
		t.Fatal(err)
	}
	r := NewRegistry(p, RegistryConfig{})
	r.Start()
	r.Close()
	if got := names(t, r); !slices.Equal(got, []string{"m"}) {
		t.Errorf("got %v, want the default model", got)
	}
}

func TestParseParams(t *testing.T) {
	t.Parallel()
	f := func(v float64) *float64 { return &v }
	n := func(v int) *int { return &v }
	u := func(v uint64) *uint64 { return &v }
	tests := []struct {
		name string
		in   map[string]any
		want Params
	}{
		{"none", nil, Params{}},
		{"every parameter", map[string]any{"temperature": 0.5, "top_p": 1.0, "max_tokens": float64(64), "seed": float64(9),
			"stop": []any{"a", "b"}, "presence_penalty": -1.0, "frequency_penalty": json.Number("1.5")},
			Params{Temperature: f(0.5), TopP: f(1), MaxTokens: n(64), Seed: u(9), Stop: []string{"a", "b"},
				PresencePenalty: f(-1), FrequencyPenalty: f(1.5)}},
		{"one stop sequence", map[string]any{"stop": "END"}, Params{Stop: []string{"END"}}},
		// Stored before checks existed: out of range or of the wrong type
		// is left to the model rather than sent.
		{"out of range", map[string]any{"temperature": 3.0, "top_p": -1.0, "max_tokens": float64(0), "seed": float64(-1)}, Params{}},
		{"wrong types", map[string]any{"temperature": "hot", "max_tokens": 1.5, "stop": 4.0}, Params{}},
		{"unknown keys", map[string]any{"model": "other", "messages": []any{}}, Params{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ParseParams(tt.in); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}
