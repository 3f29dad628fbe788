// Package postprocess processes conversations once they finish, as the
// hosted platform does: it learns a user model and memories about the
// user, and evaluates the metrics applied to the conversation's service.
// The steps are jobs in the database, queued in the transaction that
// finishes the conversation, so none is lost to a restart; each finished
// step is recorded on the conversation and announced to webhook
// destinations in one transaction.
package postprocess

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/compadre-dev/compadre/clock"
	"github.com/compadre-dev/compadre/engine"
	"github.com/compadre-dev/compadre/llm"
	"github.com/compadre-dev/compadre/store"
)

// The purposes of the model calls the steps make.
const (
	PurposeUserModel = "generate-user-model"
	PurposeMemories  = "extract-memories"
)

// Defaults of Config.
const (
	DefaultWorkers = 1
	DefaultPoll    = 250 * time.Millisecond
	// MaxAttempts is how many times a step is tried before it is failed
	// for good.
	MaxAttempts = 3
	lease       = 5 * time.Minute
	retryAfter  = 10 * time.Second
)

// Config is what a Processor works with.
type Config struct {
	Store        *store.Store
	Engine       *engine.Engine
	Model        llm.Provider
	ModelTimeout time.Duration
	Workers      int
	Poll         time.Duration
	// Clock stamps what the worker records and wakes it when it moves;
	// nil means the system's.
	Clock *clock.Clock
	Log   *slog.Logger
}

// Processor runs the queued post-processing steps.
type Processor struct {
	cfg  Config
	stop context.CancelFunc
	wg   sync.WaitGroup
}

// New returns a Processor; Start sets it working.
func New(cfg Config) *Processor {
	if cfg.Workers <= 0 {
		cfg.Workers = DefaultWorkers
	}
	if cfg.Poll <= 0 {
		cfg.Poll = DefaultPoll
	}
	if cfg.ModelTimeout <= 0 {
		cfg.ModelTimeout = engine.DefaultModelTimeout
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.New(nil)
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	return &Processor{cfg: cfg}
}

// Start starts the workers until Close; the steps a stopped process was
// running are taken again first.
func (p *Processor) Start(ctx context.Context) error {
	if err := p.cfg.Store.ReleasePostProcessingLeases(ctx); err != nil {
		return err
	}
	ctx, stop := context.WithCancel(context.WithoutCancel(ctx))
	p.stop = stop
	for range p.cfg.Workers {
		p.wg.Add(1)
		go p.work(ctx)
	}
	return nil
}

// Close stops the workers and waits for them.
func (p *Processor) Close() {
	if p.stop != nil {
		p.stop()
	}
	p.wg.Wait()
}

func (p *Processor) work(ctx context.Context) {
	defer p.wg.Done()
	for {
		// A failed step waits out its retry in its lease, by the clock.
		advanced := p.cfg.Clock.Advanced()
		job, ok, err := p.cfg.Store.ClaimPostProcessingJob(ctx, lease)
		if err != nil && ctx.Err() == nil {
			p.cfg.Log.Error("post-processing: claim a step", "err", err)
		}
		if !ok {
			select {
			case <-ctx.Done():
				return
			case <-p.cfg.Store.PostProcessingSignal():
			case <-advanced:
			case <-time.After(p.cfg.Poll):
			}
			continue
		}
		p.run(ctx, job)
	}
}

func (p *Processor) run(ctx context.Context, job store.PostProcessingJob) {
	res, err := p.step(ctx, job)
	if ctx.Err() != nil {
		return
	}
	if err == nil {
		err = p.cfg.Store.CompletePostProcessingStep(context.WithoutCancel(ctx), job, res)
	}
	if err != nil {
		p.cfg.Log.Warn("post-processing step failed", "conversation", job.ConversationID, "step", job.Step,
			"attempt", job.Attempts, "err", err)
		if ferr := p.cfg.Store.FailPostProcessingStep(context.WithoutCancel(ctx), job, err.Error(),
			job.Attempts >= MaxAttempts, retryAfter); ferr != nil {
			p.cfg.Log.Error("post-processing: record a failure", "err", ferr)
		}
	}
}

// step runs one step and returns what it learned.
func (p *Processor) step(ctx context.Context, job store.PostProcessingJob) (store.StepResults, error) {
	conv, err := p.cfg.Store.GetConversation(ctx, job.OrgID, job.ConversationID)
	if err != nil {
		return store.StepResults{}, err
	}
	msgs, _, err := p.cfg.Store.ListMessages(ctx, job.OrgID, job.ConversationID, store.MessageFilter{Limit: -1})
	if err != nil {
		return store.StepResults{}, err
	}
	// Each attempt logs under its own keys: a rerun after a restart does
	// not collide with the attempt it replaces.
	logs := fmt.Sprintf("conversation/%s/post-processing/%s/%d/", conv.ID, job.Step, job.Attempts)
	switch job.Step {
	case store.StepUserModels:
		return p.userModel(ctx, conv, msgs, logs)
	case store.StepMemories:
		return p.memories(ctx, conv, msgs, logs)
	case store.StepMetrics:
		return store.StepResults{}, p.metrics(ctx, conv, logs)
	}
	return store.StepResults{}, fmt.Errorf("unknown post-processing step %q", job.Step)
}

// transcript is the conversation as a model reads it.
func transcript(msgs []store.Message) string {
	var b strings.Builder
	for _, m := range msgs {
		fmt.Fprintf(&b, "[%s] %s (%s): %s\n", m.ID, m.Sender, m.MessageType, m.Message)
	}
	return b.String()
}

func userMessages(msgs []store.Message) []store.Message {
	var out []store.Message
	for _, m := range msgs {
		if m.MessageType == store.MessageUser {
			out = append(out, m)
		}
	}
	return out
}

// ask makes one model call for a step and records its prompt log under
// the key logs and the call's purpose.
func (p *Processor) ask(ctx context.Context, conv store.Conversation, logs string, c llm.Call) (llm.Answer, error) {
	c.Seed = conv.Seed
	cctx, cancel := context.WithTimeout(ctx, p.cfg.ModelTimeout)
	ans, err := p.cfg.Model.Complete(cctx, c)
	cancel()
	prompt, _ := json.Marshal(c.Messages)
	log := store.PromptLog{OrgID: conv.OrgID, Key: logs + c.Purpose,
		ConversationID: &conv.ID, Purpose: c.Purpose, Model: ans.Model, Prompt: prompt, Completion: ans.Completion,
		CreatedAt: p.cfg.Clock.Now()}
	if log.Model == "" {
		log.Model = p.cfg.Model.Name()
	}
	if err != nil {
		log.Error = err.Error()
	}
	if lerr := p.cfg.Store.RecordPromptLogs(context.WithoutCancel(ctx), []store.PromptLog{log}); lerr != nil {
		return ans, lerr
	}
	return ans, err
}

// userModel has the model say what the conversation taught about its
// user. The built-in model says the user's messages, quoted, one after
// the other: the guidance this step gives it.
func (p *Processor) userModel(ctx context.Context, conv store.Conversation, msgs []store.Message, logs string) (store.StepResults, error) {
	said := userMessages(msgs)
	if len(said) == 0 {
		return store.StepResults{}, nil
	}
	quoted := make([]string, len(said))
	for i, m := range said {
		quoted[i] = fmt.Sprintf("%q", m.Message)
	}
	c := llm.Call{Purpose: PurposeUserModel, Kind: llm.Text, Messages: []llm.Message{
		{Role: "system", Content: "From the conversation below, write what it tells about the user, in a few sentences " +
			"about the user in the third person. Say only what the user's own messages support."},
		{Role: "user", Content: transcript(msgs)},
	}, Guidance: "In this conversation the user said " + strings.Join(quoted, ", then ") + "."}
	ans, err := p.ask(ctx, conv, logs, c)
	if err != nil {
		return store.StepResults{}, err
	}
	return store.StepResults{UserModels: []store.UserModel{{UserID: conv.UserID, Content: strings.TrimSpace(ans.Text)}}}, nil
}

// memorySchema is what extract-memories answers.
var memorySchema = json.RawMessage(`{"type":"object","properties":{"memories":{"type":"array","maxItems":50,"items":{` +
	`"type":"object","properties":{"content":{"type":"string","minLength":1},"context":{"type":"string"},` +
	`"references":{"type":"array","items":{"type":"string"}}},"required":["content","context","references"],` +
	`"additionalProperties":false}}},"required":["memories"],"additionalProperties":false}`)

// memories has the model pick what the user said worth remembering. The
// built-in model remembers each user message: the subject this step gives
// it holds those memories already, and it answers the object it finds.
func (p *Processor) memories(ctx context.Context, conv store.Conversation, msgs []store.Message, logs string) (store.StepResults, error) {
	said := userMessages(msgs)
	if len(said) == 0 {
		return store.StepResults{}, nil
	}
	type memory struct {
		Content    string   `json:"content"`
		Context    string   `json:"context"`
		References []string `json:"references"`
	}
	var subject struct {
		Memories []memory `json:"memories"`
	}
	for _, m := range said {
		subject.Memories = append(subject.Memories, memory{Content: "The user said: " + m.Message,
			Context: "Conversation " + conv.ID + " with service " + conv.ServiceID, References: []string{m.ID}})
	}
	raw, _ := json.Marshal(subject)
	c := llm.Call{Purpose: PurposeMemories, Kind: llm.Object, Schema: memorySchema, Subject: string(raw),
		Messages: []llm.Message{
			{Role: "system", Content: "List what the user said in the conversation below that is worth remembering " +
				"about them in later conversations: each memory in one sentence, the context it was said in, and the " +
				"IDs (in brackets) of the messages it rests on."},
			{Role: "user", Content: transcript(msgs)},
		}}
	ans, err := p.ask(ctx, conv, logs, c)
	if err != nil {
		return store.StepResults{}, err
	}
	var got struct {
		Memories []memory `json:"memories"`
	}
	if err := json.Unmarshal(ans.Object, &got); err != nil {
		return store.StepResults{}, err
	}
	known := map[string]bool{}
	for _, m := range msgs {
		known[m.ID] = true
	}
	var out store.StepResults
	for _, m := range got.Memories {
		refs := []string{}
		for _, r := range m.References {
			// A reference to no message of the conversation is dropped.
			if known[r] {
				refs = append(refs, r)
			}
		}
		out.Memories = append(out.Memories, store.Memory{UserID: conv.UserID, Content: m.Content, Context: m.Context,
			References: refs})
	}
	return out, nil
}

// metrics evaluates, with source post-session, the live metrics applied
// to the conversation's service, each at its latest version.
func (p *Processor) metrics(ctx context.Context, conv store.Conversation, logs string) error {
	live := false
	ms, err := p.cfg.Store.ListMetrics(ctx, conv.OrgID, store.MetricFilter{IsDeleted: &live,
		AppliedToServices: []string{conv.ServiceID}})
	if err != nil || len(ms) == 0 {
		return err
	}
	judged := make([]engine.JudgedMetric, 0, len(ms))
	for _, m := range ms {
		metric, version, err := p.cfg.Store.LatestMetricVersion(ctx, conv.OrgID, m.ID)
		if err != nil {
			return err
		}
		judged = append(judged, engine.JudgedMetric{Metric: metric, Version: version})
	}
	if conv.Interactions == 0 {
		return nil
	}
	_, err = p.cfg.Engine.Evaluate(ctx, engine.Evaluation{OrgID: conv.OrgID, ConversationID: conv.ID, Metrics: judged,
		Seed: conv.Seed, LogKey: logs,
		Source: store.EvaluationSource{Type: store.SourcePostSession, ConversationID: conv.ID}})
	return err
}
