package llm

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
)

// builtinParamsSchema is what the built-in model takes: the seed that
// breaks its ties, in the range every server keeps a seed in.
const builtinParamsSchema = `{"$schema":"https://json-schema.org/draft/2020-12/schema","type":"object",` +
	`"properties":{"seed":{"type":"integer","minimum":0,"maximum":2147483647,` +
	`"description":"Breaks ties between equally good answers; by default the conversation's own seed."}},` +
	`"additionalProperties":false}`

// chatParamsSchema is what a chat-completions model takes: the request
// fields of the OpenAI-compatible protocol that tune sampling, with that
// protocol's bounds. Servers keep the seed in 32 bits (llama.cpp) or a
// signed int, so it is bounded below 2^31.
const chatParamsSchema = `{"$schema":"https://json-schema.org/draft/2020-12/schema","type":"object","properties":{` +
	`"temperature":{"type":"number","minimum":0,"maximum":2,"description":"Sampling temperature: higher is more varied."},` +
	`"top_p":{"type":"number","minimum":0,"maximum":1,"description":"Nucleus sampling: the probability mass of the tokens considered."},` +
	`"max_tokens":{"type":"integer","minimum":1,"maximum":2147483647,"description":"The most tokens an answer may take."},` +
	`"seed":{"type":"integer","minimum":0,"maximum":2147483647,"description":"Asks for repeatable sampling; by default the conversation's own seed."},` +
	`"stop":{"description":"Where the model stops: one sequence, or up to four.","anyOf":[` +
	`{"type":"string","minLength":1,"maxLength":200},` +
	`{"type":"array","minItems":1,"maxItems":4,"items":{"type":"string","minLength":1,"maxLength":200}}]},` +
	`"presence_penalty":{"type":"number","minimum":-2,"maximum":2,"description":"Penalises tokens that have appeared at all."},` +
	`"frequency_penalty":{"type":"number","minimum":-2,"maximum":2,"description":"Penalises tokens by how often they have appeared."}` +
	`},"additionalProperties":false}`

// referenceModels are the model names the hosted API accepts in a version
// set (its LLMType). Version sets written for it name them, so the built-in
// provider offers each, answered by its own rules. See DECISIONS.md,
// "Which models does get-models list, and what do they take?".
var referenceModels = []string{
	"azure_gpt-4.1-2025-04-14",
	"openai_gpt-4.1-2025-04-14",
	"azure_gpt-4.1-mini-2025-04-14",
	"openai_gpt-4.1-mini-2025-04-14",
	"azure_gpt-5-nano-2025-08-07",
	"azure_gpt-5.1-2025-11-13",
	"openai_gpt-5.1-2025-11-13",
	"azure_gpt-5.2-2025-12-11",
	"openai_gpt-5-nano-2025-08-07",
	"openai_gpt-5-mini-2025-08-07",
	"openai_gpt-5.2-2025-12-11",
	"aws_claude-sonnet-4-5-20250929",
	"aws_claude-haiku-4-5-20251001",
	"aws_claude-sonnet-4-6",
	"aws_claude-opus-4-6",
	"google_gemini-2.5-pro",
	"google_gemini-2.5-flash",
}

// Params are the model parameters a call passes on. Each nil or empty
// field is left to the model. The chat-completions provider sends them
// all; the built-in one honours Seed alone.
type Params struct {
	Temperature      *float64
	TopP             *float64
	MaxTokens        *int
	Seed             *uint64
	Stop             []string
	PresencePenalty  *float64
	FrequencyPenalty *float64
}

// ParseParams reads the parameters of a version set's model preference.
// A value of the wrong type or out of range is left out rather than
// refused: preferences are checked when they are written (Registry.Check),
// and one stored before that must not stop a conversation.
func ParseParams(m map[string]any) Params {
	num := func(key string, lo, hi float64) *float64 {
		var f float64
		switch v := m[key].(type) {
		case float64:
			f = v
		case int:
			f = float64(v)
		case json.Number:
			var err error
			if f, err = v.Float64(); err != nil {
				return nil
			}
		default:
			return nil
		}
		if f < lo || f > hi {
			return nil
		}
		return &f
	}
	whole := func(key string, lo float64) *float64 {
		f := num(key, lo, 1<<31-1)
		if f == nil || *f != float64(int64(*f)) {
			return nil
		}
		return f
	}
	var p Params
	p.Temperature = num("temperature", 0, 2)
	p.TopP = num("top_p", 0, 1)
	p.PresencePenalty = num("presence_penalty", -2, 2)
	p.FrequencyPenalty = num("frequency_penalty", -2, 2)
	if f := whole("max_tokens", 1); f != nil {
		n := int(*f)
		p.MaxTokens = &n
	}
	if f := whole("seed", 0); f != nil {
		n := uint64(*f)
		p.Seed = &n
	}
	switch v := m["stop"].(type) {
	case string:
		if v != "" {
			p.Stop = []string{v}
		}
	case []any:
		for _, s := range v {
			if s, ok := s.(string); ok && s != "" {
				p.Stop = append(p.Stop, s)
			}
		}
	}
	return p
}

// seed is the seed a call asks with: its parameters', else its own.
func (c Call) seed() uint64 {
	if c.Params.Seed != nil {
		return *c.Params.Seed
	}
	return c.Seed
}

// ModelsMaxAge is how old the list of a server's models may grow before
// it is asked again, when get-models is called or a name is not on it.
const ModelsMaxAge = time.Minute

// modelsTimeout bounds one request for the list, so a server that does
// not answer holds a caller up briefly, not for a model call's timeout.
const modelsTimeout = 10 * time.Second

// UnknownModelError is a model name the registry does not hold.
type UnknownModelError struct {
	Name string
}

func (e *UnknownModelError) Error() string {
	return fmt.Sprintf("llm: the model %q is not offered", e.Name)
}

// ParamsError is a parameter a model does not take, or a value it does
// not take for one.
type ParamsError struct {
	Model string
	// Param is the parameter at fault; empty when the fault is the whole
	// of the parameters.
	Param string
	// Unknown says the model takes no parameter of that name at all.
	Unknown bool
	// Reason says what is wrong, as a sentence fragment.
	Reason string
}

func (e *ParamsError) Error() string {
	if e.Param == "" {
		return fmt.Sprintf("llm: the parameters of model %q: %s", e.Model, e.Reason)
	}
	return fmt.Sprintf("llm: the parameter %q of model %q: %s", e.Param, e.Model, e.Reason)
}

// RegistryConfig configures a Registry.
type RegistryConfig struct {
	// Log receives a warning when a server does not list its models; nil
	// discards it.
	Log *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Registry is the one list of the models the configured provider offers,
// each with the JSON Schema of its parameters. It feeds get-models and
// checks the models a version set prefers. The provider's default model
// is always on it; the rest is what the provider's Models says, asked at
// Start and again when the list is older than ModelsMaxAge and someone
// needs it. A failed request keeps the list as it was.
type Registry struct {
	provider Provider
	log      *slog.Logger
	now      func() time.Time
	// ctx bounds the requests for the list; Close cancels it and waits
	// for them.
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu     sync.Mutex
	closed bool
	models []entry
	// compiled holds each distinct schema compiled once: a server's many
	// models share one.
	compiled  map[string]*jsonschema.Schema
	fetchedAt time.Time
	// inflight is closed when the running request for the list ends; nil
	// while none runs.
	inflight chan struct{}
}

type entry struct {
	Model
	schema *jsonschema.Schema
}

// NewRegistry returns the registry of p's models, holding the default
// model until Start (or the first need) asks p for the rest.
func NewRegistry(p Provider, cfg RegistryConfig) *Registry {
	r := &Registry{provider: p, log: cfg.Log, now: cfg.Now, compiled: map[string]*jsonschema.Schema{}}
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	if r.now == nil {
		r.now = time.Now
	}
	r.ctx, r.cancel = context.WithCancel(context.Background())
	r.models = r.entries(nil)
	return r
}

// Start asks the provider for its models in the background: a server
// slow to answer must not hold up the start, and whoever needs the list
// meanwhile waits for the answer.
func (r *Registry) Start() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.inflight == nil {
		r.startLocked()
	}
}

// Close stops a running request for the list and waits for it.
func (r *Registry) Close() {
	r.mu.Lock()
	r.closed = true
	r.mu.Unlock()
	r.cancel()
	r.wg.Wait()
}

// Models returns the models, first asking the provider again when the
// list is older than ModelsMaxAge.
func (r *Registry) Models(ctx context.Context) ([]Model, error) {
	if err := r.await(ctx); err != nil {
		return nil, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]Model, len(r.models))
	for i, e := range r.models {
		out[i] = e.Model
	}
	return out, nil
}

// Check returns nil when the registry holds the model name and params
// satisfy its schema; else an *UnknownModelError or a *ParamsError. A name
// it does not hold sends it to the provider again first, when the list is
// older than ModelsMaxAge, since the server may have gained the model.
func (r *Registry) Check(ctx context.Context, name string, params map[string]any) error {
	e, ok := r.lookup(name)
	if !ok {
		if err := r.await(ctx); err != nil {
			return err
		}
		if e, ok = r.lookup(name); !ok {
			return &UnknownModelError{Name: name}
		}
	}
	if params == nil {
		params = map[string]any{}
	}
	if err := e.schema.Validate(params); err != nil {
		return paramsError(name, err)
	}
	return nil
}

func (r *Registry) lookup(name string) (entry, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	i := slices.IndexFunc(r.models, func(e entry) bool { return e.Name == name })
	if i < 0 {
		return entry{}, false
	}
	return r.models[i], true
}

// await waits for the running request for the list, first starting one
// when none runs and the list is older than ModelsMaxAge.
func (r *Registry) await(ctx context.Context) error {
	r.mu.Lock()
	if r.inflight == nil && (r.fetchedAt.IsZero() || r.now().Sub(r.fetchedAt) >= ModelsMaxAge) {
		r.startLocked()
	}
	done := r.inflight
	r.mu.Unlock()
	if done == nil {
		return nil
	}
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// startLocked starts a request for the list; r.mu is held.
func (r *Registry) startLocked() {
	if r.closed {
		return
	}
	done := make(chan struct{})
	r.inflight = done
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		ctx, cancel := context.WithTimeout(r.ctx, modelsTimeout)
		defer cancel()
		listed, err := r.provider.Models(ctx)
		r.mu.Lock()
		defer r.mu.Unlock()
		r.fetchedAt = r.now()
		if err != nil {
			r.log.Warn("the model server did not list its models; the models listed keep to the last list it gave",
				"provider", r.provider.Name(), "default_model", r.provider.DefaultModel().Name, "error", err)
		} else {
			r.models = r.entries(listed)
		}
		r.inflight = nil
		close(done)
	}()
}

// entries is the default model followed by listed, each name once, with
// its schema compiled; r.mu is held or r is not yet shared. A model whose
// schema does not compile is left out: nothing could be checked against it.
func (r *Registry) entries(listed []Model) []entry {
	all := append([]Model{r.provider.DefaultModel()}, listed...)
	out := make([]entry, 0, len(all))
	for _, m := range all {
		if slices.ContainsFunc(out, func(e entry) bool { return e.Name == m.Name }) {
			continue
		}
		s, err := r.compile(m.ParamsSchema)
		if err != nil {
			r.log.Warn("a model's parameter schema does not compile; the model is not listed", "model", m.Name, "error", err)
			continue
		}
		out = append(out, entry{Model: m, schema: s})
	}
	return out
}

func (r *Registry) compile(raw json.RawMessage) (*jsonschema.Schema, error) {
	if s, ok := r.compiled[string(raw)]; ok {
		return s, nil
	}
	s, err := compileSchema(raw)
	if err != nil {
		return nil, err
	}
	r.compiled[string(raw)] = s.root
	return s.root, nil
}

// paramsError names the first parameter (by name) that err finds at
// fault, with every reason it has.
func paramsError(model string, err error) error {
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return &ParamsError{Model: model, Reason: err.Error()}
	}
	p := message.NewPrinter(language.English)
	reasons := map[string][]string{}
	unknown := map[string]bool{}
	var walk func(*jsonschema.ValidationError)
	walk = func(ve *jsonschema.ValidationError) {
		if len(ve.Causes) > 0 {
			for _, c := range ve.Causes {
				walk(c)
			}
			return
		}
		if extra, ok := ve.ErrorKind.(*kind.AdditionalProperties); ok {
			for _, name := range extra.Properties {
				reasons[name] = append(reasons[name], "the model takes no such parameter")
				unknown[name] = true
			}
			return
		}
		param := ""
		if len(ve.InstanceLocation) > 0 {
			param = ve.InstanceLocation[0]
		}
		reasons[param] = append(reasons[param], ve.ErrorKind.LocalizedString(p))
	}
	walk(ve)
	if len(reasons) == 0 {
		return &ParamsError{Model: model, Reason: err.Error()}
	}
	params := make([]string, 0, len(reasons))
	for name := range reasons {
		params = append(params, name)
	}
	slices.Sort(params)
	first := params[0]
	return &ParamsError{Model: model, Param: first, Unknown: unknown[first], Reason: strings.Join(reasons[first], "; ")}
}
