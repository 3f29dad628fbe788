package llm

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// DefaultTimeout bounds a request to a model server when OpenAIConfig
// sets no Timeout.
const DefaultTimeout = 60 * time.Second

// maxReply bounds the body read from a model server.
const maxReply = 4 << 20

// OpenAIConfig configures the provider for servers that speak the
// OpenAI-compatible chat-completions protocol.
type OpenAIConfig struct {
	// URL is the server's base URL, the part before /chat/completions
	// (for Ollama, http://localhost:11434/v1).
	URL string
	// Key, when set, is sent as a bearer token. It never appears in an
	// error.
	Key string
	// Model is the model a call that names none asks.
	Model string
	// Timeout bounds each request; zero means DefaultTimeout.
	Timeout time.Duration
	// HTTPClient sends the requests; nil means http.DefaultClient.
	HTTPClient *http.Client
}

// OpenAI is the provider for any server that speaks the OpenAI-compatible
// chat-completions protocol: Choice and Object calls ask for a reply that
// satisfies a JSON Schema (response_format "json_schema"), and every
// reply is checked against it before it is answered.
type OpenAI struct {
	cfg  OpenAIConfig
	base string
}

var _ Provider = (*OpenAI)(nil)

// NewOpenAI checks cfg and returns the provider it configures.
func NewOpenAI(cfg OpenAIConfig) (*OpenAI, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, errors.New("llm: openai: the URL must be an http or https URL, such as http://localhost:11434/v1")
	}
	if cfg.Model == "" {
		return nil, errors.New("llm: openai: a model is needed")
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = http.DefaultClient
	}
	return &OpenAI{cfg: cfg, base: strings.TrimRight(cfg.URL, "/")}, nil
}

// Name returns "openai".
func (*OpenAI) Name() string { return OpenAIName }

type chatRequest struct {
	Model          string          `json:"model"`
	Messages       []Message       `json:"messages"`
	Seed           uint64          `json:"seed"`
	ResponseFormat *responseFormat `json:"response_format,omitempty"`
	// The sampling parameters a version set's preference gives; absent
	// ones are left to the server.
	Temperature      *float64 `json:"temperature,omitempty"`
	TopP             *float64 `json:"top_p,omitempty"`
	MaxTokens        *int     `json:"max_tokens,omitempty"`
	Stop             []string `json:"stop,omitempty"`
	PresencePenalty  *float64 `json:"presence_penalty,omitempty"`
	FrequencyPenalty *float64 `json:"frequency_penalty,omitempty"`
}

type responseFormat struct {
	Type       string     `json:"type"`
	JSONSchema jsonSchema `json:"json_schema"`
}

type jsonSchema struct {
	Name   string          `json:"name"`
	Strict bool            `json:"strict"`
	Schema json.RawMessage `json:"schema"`
}

type chatResponse struct {
	Model   string `json:"model"`
	Choices []struct {
		Message struct {
			Content string `json:"content"`
		} `json:"message"`
	} `json:"choices"`
}

// Complete asks the server. The caller's messages go first; a last system
// message says what the answer must look like: the numbered options of a
// Choice, the schema of an Object, the word limit of a Text.
func (p *OpenAI) Complete(ctx context.Context, c Call) (Answer, error) {
	schema, err := c.check()
	if err != nil {
		return Answer{}, p.fail(0, err.Error(), nil)
	}
	req := chatRequest{
		Model:    c.Model,
		Messages: append(make([]Message, 0, len(c.Messages)+1), c.Messages...),
		// Servers keep the seed in 32 bits (llama.cpp) or a signed int;
		// below 2^31 it means the same to all of them.
		Seed:        c.seed() % (1 << 31),
		Temperature: c.Params.Temperature, TopP: c.Params.TopP, MaxTokens: c.Params.MaxTokens, Stop: c.Params.Stop,
		PresencePenalty: c.Params.PresencePenalty, FrequencyPenalty: c.Params.FrequencyPenalty,
	}
	if req.Model == "" {
		req.Model = p.cfg.Model
	}
	var last string
	switch c.Kind {
	case Choice:
		var b strings.Builder
		b.WriteString(`Answer with a JSON object {"choice": N}, where N is the number of the option you choose:`)
		enum := make([]int, len(c.Options))
		for i, opt := range c.Options {
			enum[i] = i
			fmt.Fprintf(&b, "\n%d: %s", i, opt)
		}
		raw, _ := json.Marshal(map[string]any{
			"type":                 "object",
			"properties":           map[string]any{"choice": map[string]any{"type": "integer", "enum": enum}},
			"required":             []string{"choice"},
			"additionalProperties": false,
		})
		if schema, err = compileSchema(raw); err != nil {
			return Answer{}, p.fail(0, err.Error(), nil)
		}
		last = b.String()
		req.ResponseFormat = &responseFormat{Type: "json_schema", JSONSchema: jsonSchema{Name: "choice", Strict: true, Schema: raw}}
	case Object:
		last = "Answer with one JSON object that satisfies this JSON Schema: " + string(c.Schema)
		req.ResponseFormat = &responseFormat{Type: "json_schema", JSONSchema: jsonSchema{Name: "object", Strict: true, Schema: c.Schema}}
	default:
		if c.WordLimit > 0 {
			last = "Answer in at most " + strconv.Itoa(c.WordLimit) + " words."
		}
	}
	if last != "" {
		req.Messages = append(req.Messages, Message{Role: "system", Content: last})
	}

	var resp chatResponse
	if err := p.do(ctx, http.MethodPost, "/chat/completions", req, &resp); err != nil {
		return Answer{}, err
	}
	if len(resp.Choices) == 0 {
		return Answer{}, p.fail(0, "the reply holds no choices", nil)
	}
	content := resp.Choices[0].Message.Content
	a := Answer{Completion: content, Model: resp.Model}
	if a.Model == "" {
		a.Model = req.Model
	}
	switch c.Kind {
	case Choice:
		_, v, err := decodeObject(content, schema.root)
		if err != nil {
			return Answer{}, p.fail(0, err.Error(), nil)
		}
		// The schema admits only an integer in range, which may be
		// written 2.0.
		n, _ := v.(map[string]any)["choice"].(json.Number).Float64()
		a.Choice = int(n)
	case Object:
		if a.Object, _, err = decodeObject(content, schema.root); err != nil {
			return Answer{}, p.fail(0, err.Error(), nil)
		}
	default:
		if a.Text = limitWords(content, c.WordLimit); a.Text == "" {
			return Answer{}, p.fail(0, "the reply is empty", nil)
		}
	}
	return a, nil
}

// DefaultModel returns the configured model, which takes the
// chat-completions parameters.
func (p *OpenAI) DefaultModel() Model {
	return Model{Name: p.cfg.Model, ParamsSchema: json.RawMessage(chatParamsSchema),
		Description: "The model the server asks when a version set prefers none."}
}

// Models lists the models the server offers (GET /models), each taking
// the chat-completions parameters.
func (p *OpenAI) Models(ctx context.Context) ([]Model, error) {
	var resp struct {
		Data []struct {
			ID string `json:"id"`
		} `json:"data"`
	}
	if err := p.do(ctx, http.MethodGet, "/models", nil, &resp); err != nil {
		return nil, err
	}
	models := make([]Model, 0, len(resp.Data))
	for _, m := range resp.Data {
		if m.ID == "" {
			continue
		}
		models = append(models, Model{Name: m.ID, ParamsSchema: json.RawMessage(chatParamsSchema),
			Description: "A model of the configured OpenAI-compatible server."})
	}
	return models, nil
}

// do sends one request within the timeout and decodes a 2xx reply into
// out.
func (p *OpenAI) do(ctx context.Context, method, path string, body, out any) error {
	ctx, cancel := context.WithTimeout(ctx, p.cfg.Timeout)
	defer cancel()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return p.fail(0, err.Error(), nil)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, p.base+path, rd)
	if err != nil {
		return p.fail(0, err.Error(), nil)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if p.cfg.Key != "" {
		req.Header.Set("Authorization", "Bearer "+p.cfg.Key)
	}
	resp, err := p.cfg.HTTPClient.Do(req)
	if err != nil {
		return p.fail(0, err.Error(), err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxReply+1))
	if err != nil {
		return p.fail(0, "reading the reply: "+err.Error(), err)
	}
	if len(data) > maxReply {
		return p.fail(resp.StatusCode, fmt.Sprintf("the reply is larger than %d bytes", maxReply), nil)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return p.fail(resp.StatusCode, serverMessage(data), nil)
	}
	if err := json.Unmarshal(data, out); err != nil {
		return p.fail(0, "the reply is not the protocol's JSON: "+err.Error(), nil)
	}
	return nil
}

// serverMessage is what a failed request's body says: the protocol's
// error message, else the start of the body.
func serverMessage(body []byte) string {
	var e struct {
		Error json.RawMessage `json:"error"`
	}
	if json.Unmarshal(body, &e) == nil && len(e.Error) > 0 {
		var obj struct {
			Message string `json:"message"`
		}
		var s string
		if json.Unmarshal(e.Error, &obj) == nil && obj.Message != "" {
			return obj.Message
		} else if json.Unmarshal(e.Error, &s) == nil && s != "" {
			return s
		}
	}
	const max = 200
	if len(body) > max {
		body = body[:max]
	}
	if msg := strings.TrimSpace(strings.ToValidUTF8(string(body), "")); msg != "" {
		return msg
	}
	return "no message"
}

// fail makes the provider's error, with the key removed from its text:
// a server may echo the key it refused.
func (p *OpenAI) fail(status int, msg string, cause error) *Error {
	if p.cfg.Key != "" {
		msg = strings.ReplaceAll(msg, p.cfg.Key, "[key]")
	}
	return &Error{Provider: OpenAIName, Status: status, Msg: msg, Err: cause}
}
