// Package llm is the one door to language models. The conversation engine,
// the metric judge, the simulated user and recommend-responses all ask
// their questions as a Call and get an Answer back, from whichever Provider
// is configured: the built-in one, which needs no network and answers by
// documented rules, or any server that speaks the OpenAI-compatible
// chat-completions protocol.
//
// # The built-in provider
//
// Builtin is the default. It understands nothing and writes no language
// of its own: it reads Subject, Guidance, Options, Schema, WordLimit,
// Passages and Seed (never Messages), and the same call always gets the
// same answer.
// Tests steer it through those fields by these rules:
//
//   - Choice: the words of a text are its runs of letters and digits,
//     lower-cased, three or more long, less a fixed list of common English
//     words (stopWords). Each option scores the number of distinct words it
//     shares with Subject; the highest score wins. Ties go to
//     tied[Seed % len(tied)], tied being the tied indexes in order. When
//     every option scores zero the answer is option 0, where callers put
//     their default. To have option i chosen, put its words in the user's
//     message.
//   - Text: Guidance, trimmed, cut to its first WordLimit words (joined by
//     single spaces) when WordLimit is above zero and it has more; without
//     Guidance, FallbackText, cut the same way. For Purpose
//     "recommend-responses", each non-blank line of Guidance is one
//     response, cut to WordLimit on its own, and the answer is those lines.
//   - Object: if Subject holds a JSON object (from its first "{" to the
//     matching "}"), each of its values for a property the schema lists is
//     taken when it satisfies that property's schema. Each required
//     property still missing gets its schema's default, else const, else
//     examples[0], else enum[0], else the first branch of anyOf or oneOf
//     (after a local $ref), else the least value of its type: 0 or the
//     nearest value within minimum/maximum (exclusive ones too), "x"
//     repeated minLength times (or a fixed value for a few formats),
//     minItems items, false, null, an object of its required properties.
//     The result is validated against the schema; when it fails, the call
//     fails with an *Error rather than answering something else.
//   - Judging (an Object call of Purpose PurposeEvaluateMetric, whose
//     Schema VerdictSchema made): the terms looked for are the phrases
//     Guidance puts in double quotes or, when it quotes none, its words.
//     A phrase is found in a passage that contains it, ignoring case and
//     runs of spaces; a word, in a passage having it among its words. A
//     boolean result is true when every term is found, else false; a
//     numerical one is lower + (upper - lower) * found / terms; both are
//     null ("not applicable") when there is no term. A categorical result
//     is the category with the most distinct words found in the passages
//     (the first of those tied), or null when none has any. References
//     are the IDs of the passages where a term, or a word of the chosen
//     category, was found, in passage order; the justification names the
//     terms found and those not found. To have a boolean metric judged
//     true, quote in its description what the conversation must say.
//   - Completion is the answer's text: the Text, the Object's JSON, or the
//     chosen index and option ("2: option"). Model is "builtin", whatever
//     model the call names. Of Params, only Seed is read: when set, it
//     stands for the call's Seed.
//
// # Models
//
// A Registry holds the models the configured provider offers, each with
// the JSON Schema of the parameters it takes: get-models lists
// it, and version sets' model preferences are checked against it. The
// built-in provider offers "builtin" and the hosted API's model names,
// all answered by its rules; the chat-completions one, its default model
// and whatever the server's /models lists.
package llm

import (
	"context"
	"encoding/json"
	"fmt"
)

// Kind is the shape of answer a call asks for.
type Kind int

const (
	// Text asks for free text (an agent message, a reflection).
	Text Kind = iota
	// Choice asks for one of Call.Options, answered by its index.
	Choice
	// Object asks for a JSON object that satisfies Call.Schema (tool
	// parameters, a metric's value).
	Object
)

// Message is one message of a rendered prompt.
type Message struct {
	// Role is "system", "user" or "assistant".
	Role    string `json:"role"`
	Content string `json:"content"`
}

// Call is one question to a model. Messages is the rendered prompt a real
// model reads; Subject, Guidance, Options and Schema are the same question
// in a form the built-in provider's rules can read without parsing prose.
type Call struct {
	// Purpose says what the caller asks for ("engage-user",
	// "select-exit-condition", "tool-params", ...). It names the call in
	// prompt logs and picks the built-in provider's rule.
	Purpose  string
	Messages []Message
	Kind     Kind
	// Options are what a Choice call chooses among, in order.
	Options []string
	// Schema is the JSON Schema an Object answer must satisfy.
	Schema json.RawMessage
	// WordLimit, when above zero, bounds a Text answer in words.
	WordLimit int
	// Subject is the text the question is about, usually the user's
	// latest message.
	Subject string
	// Guidance is what the caller wants said or done (the action chosen,
	// the problem to reflect on).
	Guidance string
	// Seed is stored per conversation; the built-in provider breaks ties
	// with it, and real models are passed it (modulo 2^31) where they
	// take one.
	Seed uint64
	// Model is the model to ask; empty means the provider's default.
	Model string
	// Params are the model parameters a version set's preference gives
	// for this kind of call; the zero value leaves each to the model.
	Params Params
	// Passages are the texts an answer may cite by ID (a judge's
	// references); Messages carry the same texts for a real model.
	Passages []Passage
}

// Answer is a model's reply to a Call.
type Answer struct {
	// Text is the answer of a Text call.
	Text string
	// Choice is the index into Call.Options of a Choice call's answer.
	Choice int
	// Object is the answer of an Object call.
	Object json.RawMessage
	// Completion is the reply exactly as the model gave it, for the
	// prompt log.
	Completion string
	// Model is the model that answered.
	Model string
}

// Model is a model a provider offers, with a JSON Schema of the
// parameters it takes.
type Model struct {
	Name         string
	ParamsSchema json.RawMessage
	// Description says what answers when the model is asked.
	Description string
}

// Provider answers calls. Complete must return promptly when ctx ends, and
// must return an error, never a made-up answer, when the model's reply
// does not fit the call (a choice out of range, an object that is not
// JSON).
type Provider interface {
	// Name is the provider's name as flags and /readyz spell it.
	Name() string
	Complete(ctx context.Context, c Call) (Answer, error)
	// Models lists the models the provider offers; it may ask a server.
	Models(ctx context.Context) ([]Model, error)
	// DefaultModel is the model a call that names none asks, which is
	// offered whatever Models says.
	DefaultModel() Model
}

// Error is a provider's failure to answer a call: a call no model could
// answer, a server that failed or timed out, or a reply that does not fit
// the call. Its text never holds the provider's API key.
type Error struct {
	// Provider is the name of the provider that failed.
	Provider string
	// Status is the HTTP status a model server answered with; 0 when the
	// failure was not an HTTP answer.
	Status int
	Msg    string
	// Err is the cause, when there is one (a context error, a transport
	// error), for errors.Is.
	Err error
}

func (e *Error) Error() string {
	if e.Status != 0 {
		return fmt.Sprintf("llm: %s: status %d: %s", e.Provider, e.Status, e.Msg)
	}
	return fmt.Sprintf("llm: %s: %s", e.Provider, e.Msg)
}

func (e *Error) Unwrap() error { return e.Err }

// New returns the provider a setting names: "builtin" (also the empty
// name) or "openai", which cfg configures and which needs its URL and
// Model.
func New(name string, cfg OpenAIConfig) (Provider, error) {
	switch name {
	case "", BuiltinName:
		return Builtin{}, nil
	case OpenAIName:
		return NewOpenAI(cfg)
	}
	return nil, fmt.Errorf("llm: unknown provider %q; want %s or %s", name, BuiltinName, OpenAIName)
}
