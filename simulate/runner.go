package simulate

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/compadre-dev/compadre/clock"
	"github.com/compadre-dev/compadre/engine"
	"github.com/compadre-dev/compadre/llm"
	"github.com/compadre-dev/compadre/store"
	"github.com/compadre-dev/compadre/tools"
)

// DefaultWorkers is how many run items are worked on at once: half the
// processors, and at least one. Each item is a conversation, one
// interaction at a time, and its tool calls run in the sandbox's background
// slots; the other half is left to the API's requests.
func DefaultWorkers() int { return max(1, runtime.GOMAXPROCS(0)/2) }

// Defaults of Config.
const (
	// DefaultPoll is how often an idle worker looks for work it was not
	// woken for (items made by another process on the same database).
	DefaultPoll = time.Second
)

// Config is what a Runner works with.
type Config struct {
	Store  *store.Store
	Engine *engine.Engine
	// Model plays the simulated users.
	Model        llm.Provider
	ModelTimeout time.Duration
	Workers      int
	Poll         time.Duration
	// Clock stamps what the worker records and wakes it when it moves;
	// nil means the system's.
	Clock *clock.Clock
	Log   *slog.Logger
}

// Runner works through the runs' items with a bounded pool of workers.
type Runner struct {
	cfg  Config
	wake chan struct{}

	mu     sync.Mutex
	active map[string]map[*context.CancelFunc]bool

	stop context.CancelFunc
	wg   sync.WaitGroup
}

// New returns a Runner; Start sets it working.
func New(cfg Config) *Runner {
	if cfg.Workers <= 0 {
		cfg.Workers = DefaultWorkers()
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
	return &Runner{cfg: cfg, wake: make(chan struct{}, cfg.Workers), active: map[string]map[*context.CancelFunc]bool{}}
}

// Start picks up what a previous process left: items that were running
// are run again from their start, and runs whose items are all done are
// completed. Then the workers start; they stop when Close is called.
func (r *Runner) Start(ctx context.Context) error {
	n, err := r.cfg.Store.RequeueRunningItems(ctx)
	if err != nil {
		return err
	}
	if n > 0 {
		r.cfg.Log.Info("simulation runs resumed", "items", n)
	}
	done, err := r.cfg.Store.RunsToComplete(ctx)
	if err != nil {
		return err
	}
	for _, run := range done {
		if err := r.complete(ctx, run[0], run[1]); err != nil {
			return err
		}
	}
	wctx, stop := context.WithCancel(context.WithoutCancel(ctx))
	r.stop = stop
	for range r.cfg.Workers {
		r.wg.Add(1)
		go r.work(wctx)
	}
	return nil
}

// Close stops the workers and waits for them. An item a worker was running
// stays running in the database, and the next Start runs it again.
func (r *Runner) Close() {
	if r.stop != nil {
		r.stop()
	}
	r.wg.Wait()
}

// Wake tells an idle worker there is work.
func (r *Runner) Wake() {
	for range r.cfg.Workers {
		select {
		case r.wake <- struct{}{}:
		default:
			return
		}
	}
}

// Cancel stops a run in progress: its pending items never start, and its
// running ones stop at their next step. A run that is not in progress is a
// *store.ConflictError.
func (r *Runner) Cancel(ctx context.Context, orgID, runID string, by store.Actor) error {
	reason := fmt.Sprintf("The run was cancelled by user %s before this run of the unit test started.", by.UserID)
	last, err := r.cfg.Store.CancelSimulationRun(ctx, orgID, runID, reason)
	if err != nil {
		return err
	}
	r.mu.Lock()
	for cancel := range r.active[runID] {
		(*cancel)()
	}
	r.mu.Unlock()
	if last {
		return r.complete(context.WithoutCancel(ctx), orgID, runID)
	}
	return nil
}

func (r *Runner) work(ctx context.Context) {
	defer r.wg.Done()
	for {
		advanced := r.cfg.Clock.Advanced()
		it, ok, err := r.cfg.Store.ClaimRunItem(ctx)
		if err != nil && ctx.Err() == nil {
			r.cfg.Log.Error("simulation: claim a run item", "err", err)
		}
		if !ok {
			select {
			case <-ctx.Done():
				return
			case <-r.wake:
			case <-advanced:
			case <-time.After(r.cfg.Poll):
			}
			continue
		}
		r.runItem(ctx, it)
	}
}

// track lets Cancel stop an item's work.
func (r *Runner) track(runID string, cancel *context.CancelFunc) func() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.active[runID] == nil {
		r.active[runID] = map[*context.CancelFunc]bool{}
	}
	r.active[runID][cancel] = true
	return func() {
		r.mu.Lock()
		defer r.mu.Unlock()
		delete(r.active[runID], cancel)
		if len(r.active[runID]) == 0 {
			delete(r.active, runID)
		}
	}
}

// runItem has one simulated conversation and judges it, then records how
// it went; the last item of a run completes it.
func (r *Runner) runItem(ctx context.Context, it store.RunItem) {
	ictx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer r.track(it.RunID, &cancel)()
	run, err := r.cfg.Store.GetSimulationRun(ictx, it.OrgID, it.RunID)
	var spec Spec
	if err == nil {
		var specs []Spec
		if specs, err = Specs(run); err == nil && (it.SpecIndex < 0 || it.SpecIndex >= len(specs)) {
			err = fmt.Errorf("run %s has no spec %d", it.RunID, it.SpecIndex)
		} else if err == nil {
			spec = specs[it.SpecIndex]
		}
	}
	var problem error
	if err != nil {
		problem = err
	} else if !run.Cancelled {
		var convID string
		convID, problem = r.converse(ictx, run, spec, it)
		if convID != "" {
			it.ConversationID = &convID
			if ictx.Err() == nil {
				var judged error
				it.Criteria, judged = r.judge(ictx, run, spec, it, convID)
				problem = errors.Join(problem, judged)
			}
		}
	}
	if ctx.Err() != nil {
		// The server is stopping: the item stays running, to be run again.
		return
	}
	it.Status = store.ItemDone
	if ictx.Err() != nil || run.Cancelled {
		it.Status = store.ItemStopped
		problem = errors.New("the run was cancelled before this run of the unit test finished")
	}
	if problem != nil {
		msg := sentence(problem.Error())
		it.Error = &msg
	}
	last, err := r.cfg.Store.FinishRunItem(context.WithoutCancel(ctx), it)
	if err != nil {
		r.cfg.Log.Error("simulation: finish a run item", "run", it.RunID, "err", err)
		return
	}
	if last {
		if err := r.complete(context.WithoutCancel(ctx), it.OrgID, it.RunID); err != nil {
			r.cfg.Log.Error("simulation: complete a run", "run", it.RunID, "err", err)
		}
	}
}

// converse has the simulated conversation and returns its ID ("" when
// none was kept) and what went wrong, if anything: a failed interaction,
// or an agent that did not end the conversation within the unit test's
// max_interactions.
func (r *Runner) converse(ctx context.Context, run store.SimulationRun, spec Spec, it store.RunItem) (string, error) {
	agentVersion, _ := spec.Agent[1].(float64)
	smVersion, _ := spec.StateMachine[1].(float64)
	sim := &store.SimulatedConversation{RunID: run.ID, AgentVersion: int(agentVersion), StateMachineVersion: int(smVersion),
		LLMModelPreferences: spec.LLMModelPreferences}
	var conversationClock func() time.Time
	if at := spec.Scenario.ConversationStartsAt; at != nil {
		// The conversation's clock starts there and runs as the server's.
		sim.StartsAt = *at
		offset := at.Sub(r.cfg.Clock.Now())
		conversationClock = func() time.Time { return r.cfg.Clock.Now().Add(offset) }
	}
	conv, err := r.cfg.Store.PrepareConversation(ctx, store.NewConversation{OrgID: run.OrgID, UserID: run.Creator.UserID,
		ServiceID: spec.ServiceID, VersionSetName: spec.VersionSetName, Simulation: sim})
	if err != nil {
		return "", fmt.Errorf("the conversation could not start: %v", err)
	}
	release, _ := r.cfg.Engine.Hold(conv.ID)
	defer release()
	unitTest, runIndex := it.UnitTestID, it.RunIndex
	prefix := store.SimulationLogPrefix(run.ID, unitTest, runIndex)
	er := engine.Run{Mode: tools.ModeSimulation, SimulationRunID: &run.ID, UnitTestID: &unitTest, RunIndex: &runIndex,
		UserVariables: spec.Persona.NonsensitiveUserVariables, SensitiveUserVariables: spec.Persona.SensitiveUserVariables,
		LogPrefix: prefix, Clock: conversationClock}
	var last engine.InteractionComplete
	emit := func(ev engine.Event) error {
		if done, ok := ev.(engine.InteractionComplete); ok {
			last = done
		}
		return nil
	}
	user := &simulatedUser{r: r, spec: spec, orgID: run.OrgID, conversationID: conv.ID, logPrefix: prefix,
		seed: conv.Seed}
	var first *engine.Input
	if kind := spec.Scenario.InitialMessageType; kind != engine.InputSkip {
		text, err := user.say(ctx, nil)
		if err != nil {
			return "", err
		}
		first = &engine.Input{Kind: kind, Text: text, Format: "text", Sender: user.sender(kind)}
	}
	if err := r.cfg.Engine.Open(ctx, conv, first, er, emit); err != nil {
		return "", fmt.Errorf("the opening interaction failed: %v", err)
	}
	if err := r.cfg.Store.SetRunItemConversation(ctx, it, conv.ID); err != nil {
		return conv.ID, err
	}
	for n := 1; !last.ConversationCompleted; n++ {
		if n >= spec.MaxInteractions {
			return conv.ID, fmt.Errorf("the agent did not end the conversation within %d interactions", spec.MaxInteractions)
		}
		c, err := r.cfg.Store.GetConversation(ctx, conv.OrgID, conv.ID)
		if err != nil {
			return conv.ID, err
		}
		history, _, err := r.cfg.Store.ListMessages(ctx, conv.OrgID, conv.ID, store.MessageFilter{Limit: -1})
		if err != nil {
			return conv.ID, err
		}
		text, err := user.say(ctx, history)
		if err != nil {
			return conv.ID, err
		}
		in := engine.Input{Kind: engine.InputUserMessage, Text: text, Format: "text", Sender: user.sender(engine.InputUserMessage)}
		if err := r.cfg.Engine.Interact(ctx, c, in, er, emit); err != nil {
			return conv.ID, fmt.Errorf("interaction %d failed: %v", n+1, err)
		}
	}
	return conv.ID, nil
}

// judge evaluates the unit test's metrics on the conversation, each at its
// latest version (a deleted metric too: runs go on judging what their unit
// tests named), and compares each result with its criterion.
func (r *Runner) judge(ctx context.Context, run store.SimulationRun, spec Spec, it store.RunItem, convID string) ([]store.CriterionResult, error) {
	if len(spec.MetricsToEvaluate) == 0 {
		return nil, nil
	}
	judged := make([]engine.JudgedMetric, len(spec.MetricsToEvaluate))
	for i, m := range spec.MetricsToEvaluate {
		metric, version, err := r.cfg.Store.LatestMetricVersion(ctx, run.OrgID, m.MetricID)
		if err != nil {
			return nil, fmt.Errorf("metric %s could not be read: %v", m.MetricID, err)
		}
		judged[i] = engine.JudgedMetric{Metric: metric, Version: version}
	}
	conv, err := r.cfg.Store.GetConversation(ctx, run.OrgID, convID)
	if err != nil {
		return nil, err
	}
	results, err := r.cfg.Engine.Evaluate(ctx, engine.Evaluation{OrgID: run.OrgID, ConversationID: convID,
		Metrics: judged, Seed: conv.Seed, LogKey: store.SimulationLogPrefix(run.ID, it.UnitTestID, it.RunIndex) + "evaluation/",
		Source: store.EvaluationSource{Type: store.SourceSimulation, SimulationRunID: run.ID, UnitTestID: it.UnitTestID,
			RunIndex: it.RunIndex}})
	if err != nil {
		return nil, fmt.Errorf("the metrics could not be evaluated: %v", err)
	}
	out := make([]store.CriterionResult, len(results))
	for i, res := range results {
		out[i] = store.CriterionResult{MetricID: res.MetricID, MetricVersion: res.MetricVersion, ResultID: res.ID,
			Passed: Passes(spec.MetricsToEvaluate[i].SuccessCriterion, res.Result)}
	}
	return out, nil
}

// complete writes the run's artifacts and marks it completed.
func (r *Runner) complete(ctx context.Context, orgID, runID string) error {
	doc, err := r.artifacts(ctx, orgID, runID)
	if err != nil {
		return err
	}
	return r.cfg.Store.CompleteSimulationRun(ctx, orgID, runID, store.Blob{ContentType: ArtifactsContentType, Data: doc})
}

// sentence makes an error's text a sentence for run_errors, which clients
// show as they are: a capital first letter and a closing period.
func sentence(s string) string {
	s = strings.TrimSpace(s)
	if s == "" {
		return s
	}
	r, n := utf8.DecodeRuneInString(s)
	s = string(unicode.ToUpper(r)) + s[n:]
	if !strings.HasSuffix(s, ".") {
		s += "."
	}
	return s
}
