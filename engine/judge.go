package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/compadre-dev/compadre/config"
	"github.com/compadre-dev/compadre/llm"
	"github.com/compadre-dev/compadre/store"
)

// JudgedMetric is a metric to evaluate and the version whose description
// and value shape the judge goes by.
type JudgedMetric struct {
	Metric  store.Metric
	Version store.MetricVersion
}

// Evaluation asks the judge about one conversation.
type Evaluation struct {
	OrgID          string
	ConversationID string
	// UpTo, when not nil, is the last interaction the judge reads.
	UpTo    *string
	Metrics []JudgedMetric
	Source  store.EvaluationSource
	// LogKey is the prefix of the keys of the judge's prompt logs; each
	// call adds "{nn}-evaluate-metric".
	LogKey string
	// Seed is passed to the model (the conversation's own seed, usually).
	Seed uint64
}

// Evaluate has the judge answer each metric's question about the
// conversation and stores the results with the prompt logs, in one
// transaction; the results come back in the order of ev.Metrics. A
// conversation without interactions (up to ev.UpTo) is a *store.RuleError.
// A judge that fails, or answers with anything but a value that fits the
// metric version (or null), fails the whole evaluation with a *Failure:
// its prompt logs, error included, are recorded, and no result is.
func (e *Engine) Evaluate(ctx context.Context, ev Evaluation) ([]store.MetricResult, error) {
	msgs, interactions, err := e.cfg.Store.Transcript(ctx, ev.OrgID, ev.ConversationID, ev.UpTo)
	if err != nil {
		return nil, err
	}
	if interactions == 0 {
		return nil, &store.RuleError{Refusal: store.Refusal{Rule: store.RuleNoInteractions, ID: ev.ConversationID}}
	}
	// The judge reads what was said: the agent's inner thoughts are its
	// own, not the conversation's.
	var passages []llm.Passage
	var ids []string
	var transcript strings.Builder
	transcript.WriteString("The conversation, one message a line:\n")
	for _, m := range msgs {
		if m.MessageType == store.MessageAgentInnerThought {
			continue
		}
		passages, ids = append(passages, llm.Passage{ID: m.ID, Text: m.Message}), append(ids, m.ID)
		fmt.Fprintf(&transcript, "[%s] %s (%s): %s\n", m.ID, m.MessageType, m.Sender,
			strings.Join(strings.Fields(m.Message), " "))
	}
	var logs []store.PromptLog
	results := make([]store.MetricResult, len(ev.Metrics))
	var failed error
	for i, jm := range ev.Metrics {
		r, log, err := e.judge(ctx, ev, i, jm, passages, ids, transcript.String())
		logs = append(logs, log)
		if err != nil {
			failed = err
			break
		}
		results[i] = r
	}
	if failed != nil {
		// The failure is what the caller hears about; the logs say why it
		// happened, and are kept even if the caller has gone.
		if err := e.cfg.Store.RecordPromptLogs(context.WithoutCancel(ctx), logs); err != nil {
			return nil, err
		}
		return nil, failed
	}
	return e.cfg.Store.RecordMetricResults(ctx, results, logs)
}

// judge asks the model one metric's question and checks the answer.
func (e *Engine) judge(ctx context.Context, ev Evaluation, i int, jm JudgedMetric, passages []llm.Passage, ids []string,
	transcript string) (store.MetricResult, store.PromptLog, error) {
	var value config.MetricValue
	if err := json.Unmarshal(jm.Version.Value, &value); err != nil {
		return store.MetricResult{}, store.PromptLog{}, fmt.Errorf("engine: metric %s value: %w", jm.Metric.ID, err)
	}
	shape := llm.ResultShape{Type: value.Type, Categories: value.Categories}
	if value.LowerBound != nil && value.UpperBound != nil {
		shape.LowerBound, shape.UpperBound = *value.LowerBound, *value.UpperBound
	}
	schema, err := llm.VerdictSchema(shape, ids)
	if err != nil {
		return store.MetricResult{}, store.PromptLog{}, err
	}
	c := llm.Call{Purpose: llm.PurposeEvaluateMetric, Kind: llm.Object, Schema: schema, Guidance: jm.Version.Description,
		Passages: passages, Seed: ev.Seed, Messages: []llm.Message{
			{Role: "system", Content: judgeInstructions(jm, shape)},
			{Role: "user", Content: transcript},
		}}
	ans, err := e.complete(ctx, c)
	prompt, _ := json.Marshal(c.Messages)
	conv := ev.ConversationID
	log := store.PromptLog{OrgID: ev.OrgID, Key: fmt.Sprintf("%s%02d-%s", ev.LogKey, i+1, c.Purpose),
		ConversationID: &conv, Purpose: c.Purpose, Model: ans.Model, Prompt: prompt, Completion: ans.Completion,
		CreatedAt: e.cfg.Now()}
	if log.Model == "" {
		log.Model = e.cfg.Model.Name()
	}
	if err != nil {
		log.Error = err.Error()
		return store.MetricResult{}, log, e.modelFailure(ctx, c.Purpose, err)
	}
	var v llm.Verdict
	err = json.Unmarshal(ans.Object, &v)
	if err == nil {
		err = checkVerdict(v, shape, ids)
	}
	if err != nil {
		log.Error = err.Error()
		return store.MetricResult{}, log, &Failure{ModelFailed, fmt.Sprintf(
			"The judge's answer for metric %s does not fit it: %v", jm.Metric.ID, err)}
	}
	return store.MetricResult{OrgID: ev.OrgID, MetricID: jm.Metric.ID, MetricVersion: jm.Version.Version,
		Result: compactJSON(v.Result), Justification: v.Justification, References: v.References, Source: ev.Source}, log, nil
}

// judgeInstructions tells a model what the metric asks and what answer
// it may give.
func judgeInstructions(jm JudgedMetric, shape llm.ResultShape) string {
	var b strings.Builder
	b.WriteString("You are a judge. You read a conversation between an AI agent and a user, and answer one " +
		"question about it: the metric below.\n")
	fmt.Fprintf(&b, "Metric: %s\nQuestion: %s\n", jm.Metric.Name, jm.Version.Description)
	if n := jm.Metric.AdditionalNotes; n != nil {
		b.WriteString("Notes: " + *n + "\n")
	}
	switch shape.Type {
	case llm.ResultBoolean:
		b.WriteString("The result is true or false.")
	case llm.ResultNumerical:
		fmt.Fprintf(&b, "The result is a number from %g to %g, both included.", shape.LowerBound, shape.UpperBound)
	case llm.ResultCategorical:
		b.WriteString("The result is exactly one of these categories: " + strings.Join(shape.Categories, "; ") + ".")
	}
	b.WriteString(" It is null when the question does not apply to this conversation. Give a short justification, " +
		"and as references the IDs (in brackets) of the messages your answer rests on.")
	return b.String()
}

// checkVerdict checks that a verdict fits the metric: a bool, a finite
// number within the bounds, one of the categories, or null; references
// that are the conversation's messages.
func checkVerdict(v llm.Verdict, shape llm.ResultShape, ids []string) error {
	raw := bytes.TrimSpace(v.Result)
	if len(raw) == 0 {
		return fmt.Errorf("no result")
	}
	for _, ref := range v.References {
		if !slices.Contains(ids, ref) {
			return fmt.Errorf("reference %q is not a message of the conversation", ref)
		}
	}
	if string(raw) == "null" {
		return nil
	}
	switch shape.Type {
	case llm.ResultBoolean:
		var b bool
		if json.Unmarshal(raw, &b) != nil {
			return fmt.Errorf("result %s is not a boolean", raw)
		}
	case llm.ResultNumerical:
		var n float64
		if json.Unmarshal(raw, &n) != nil || math.IsNaN(n) || math.IsInf(n, 0) {
			return fmt.Errorf("result %s is not a number", raw)
		}
		if n < shape.LowerBound || n > shape.UpperBound {
			return fmt.Errorf("result %s is outside [%g, %g]", raw, shape.LowerBound, shape.UpperBound)
		}
	case llm.ResultCategorical:
		var s string
		if json.Unmarshal(raw, &s) != nil || !slices.Contains(shape.Categories, s) {
			return fmt.Errorf("result %s is not one of the categories", raw)
		}
	default:
		return fmt.Errorf("unknown value type %q", shape.Type)
	}
	return nil
}

func compactJSON(raw json.RawMessage) json.RawMessage {
	var b bytes.Buffer
	if json.Compact(&b, raw) != nil {
		return raw
	}
	return b.Bytes()
}
