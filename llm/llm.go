// Package llm is the one door to language models. The conversation engine,
// the metric judge, the simulated user and recommend-responses all ask
// their questions as a Call and get an Answer back, from whichever Provider
// is configured: the built-in one, which needs no network and answers by
// documented rules, or any server that speaks the OpenAI-compatible
// chat-completions protocol.
package llm

import (
	"context"
	"encoding/json"
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
	// with it, and real models are passed it where they take one.
	Seed uint64
	// Model is the model to ask; empty means the provider's default.
	Model string
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
}

// Provider answers calls. Complete must return promptly when ctx ends, and
// must return an error, never a made-up answer, when the model's reply
// does not fit the call (a choice out of range, an object that is not
// JSON).
type Provider interface {
	// Name is the provider's name as flags and /readyz spell it.
	Name() string
	Complete(ctx context.Context, c Call) (Answer, error)
	Models(ctx context.Context) ([]Model, error)
}
