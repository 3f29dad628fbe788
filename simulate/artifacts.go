package simulate

import (
	"context"
	"encoding/json"
	"time"

	"github.com/compadre-dev/compadre/store"
)

// ArtifactsContentType is the media type of a run's artifacts.
const ArtifactsContentType = "application/json"

// ArtifactsFormat names the layout of the artifacts document; it changes
// only when that layout does.
const ArtifactsFormat = "compadre.simulation-artifacts.v1"

// Artifacts is a completed run as one JSON document: for each unit test,
// what the run pinned, and for each of its runs the transcript, the tool
// calls and the metric results with their justifications. DECISIONS.md,
// "What is in a simulation run's artifacts?", describes it field by field.
type Artifacts struct {
	Format        string             `json:"format"`
	RunID         string             `json:"simulation_unit_test_set_run_id"`
	OrgID         string             `json:"org_id"`
	UnitTestSetID string             `json:"simulation_unit_test_set_id"`
	Creator       actor              `json:"creator"`
	CreatedAt     time.Time          `json:"created_at"`
	Cancelled     bool               `json:"cancelled"`
	FailedMetrics bool               `json:"failed_metrics"`
	Errored       bool               `json:"errored"`
	UnitTests     []UnitTestArtifact `json:"unit_tests"`
}

type actor struct {
	OrgID  string `json:"org_id"`
	UserID string `json:"user_id"`
}

// UnitTestArtifact is one unit test of the run.
type UnitTestArtifact struct {
	UnitTestID string        `json:"unit_test_id"`
	Spec       Spec          `json:"spec"`
	Runs       []RunArtifact `json:"runs"`
}

// RunArtifact is one run of a unit test.
type RunArtifact struct {
	RunIndex       int                `json:"run_index"`
	Status         string             `json:"status"`
	Error          *string            `json:"error"`
	ConversationID *string            `json:"conversation_id"`
	Transcript     []MessageArtifact  `json:"transcript"`
	ToolCalls      []ToolCallArtifact `json:"tool_calls"`
	MetricResults  []ResultArtifact   `json:"metric_results"`
}

// MessageArtifact is one message of a simulated conversation.
type MessageArtifact struct {
	ID            string    `json:"id"`
	InteractionID string    `json:"interaction_id"`
	MessageType   string    `json:"message_type"`
	Sender        string    `json:"sender"`
	Message       string    `json:"message"`
	CreatedAt     time.Time `json:"created_at"`
}

// ToolCallArtifact is one tool run the agent made in the conversation.
type ToolCallArtifact struct {
	InvocationID     string          `json:"tool_invocation_id"`
	ToolID           string          `json:"tool_id"`
	Version          [3]int          `json:"version"`
	InteractionID    *string         `json:"interaction_id"`
	Input            json.RawMessage `json:"input"`
	Succeeded        bool            `json:"succeeded"`
	Output           string          `json:"output"`
	ExceptionType    string          `json:"exception_type"`
	ExceptionMessage string          `json:"exception_message"`
	DurationMS       int64           `json:"duration_ms"`
}

// ResultArtifact is one success criterion's judging.
type ResultArtifact struct {
	SuccessCriterionName string          `json:"success_criterion_name"`
	MetricID             string          `json:"metric_id"`
	MetricVersion        int             `json:"metric_version"`
	MetricResultID       string          `json:"metric_evaluation_result_id"`
	Result               json.RawMessage `json:"result"`
	Justification        string          `json:"justification"`
	References           []string        `json:"references"`
	Passed               bool            `json:"passed"`
}

// artifacts assembles the run's artifacts document.
func (r *Runner) artifacts(ctx context.Context, orgID, runID string) ([]byte, error) {
	st := r.cfg.Store
	run, err := st.GetSimulationRun(ctx, orgID, runID)
	if err != nil {
		return nil, err
	}
	specs, err := Specs(run)
	if err != nil {
		return nil, err
	}
	results, _, _, err := st.ListMetricResults(ctx, orgID, store.MetricResultFilter{
		SimulationRunIDs: []string{runID}, SourceTypes: []string{store.SourceSimulation}, Limit: maxArtifactRows})
	if err != nil {
		return nil, err
	}
	byID := map[string]store.MetricResult{}
	for _, res := range results {
		byID[res.ID] = res
	}
	invs, _, err := st.ListToolInvocations(ctx, orgID, store.InvocationFilter{RunIDs: []string{runID}, Limit: -1})
	if err != nil {
		return nil, err
	}
	doc := Artifacts{Format: ArtifactsFormat, RunID: run.ID, OrgID: run.OrgID, UnitTestSetID: run.UnitTestSetID,
		Creator: actor{run.Creator.OrgID, run.Creator.UserID}, CreatedAt: run.CreatedAt, Cancelled: run.Cancelled,
		FailedMetrics: run.FailedMetrics, Errored: run.Errored, UnitTests: make([]UnitTestArtifact, len(specs))}
	for i, spec := range specs {
		doc.UnitTests[i] = UnitTestArtifact{UnitTestID: spec.UnitTestID, Spec: spec, Runs: []RunArtifact{}}
	}
	for _, it := range run.Items {
		if it.SpecIndex < 0 || it.SpecIndex >= len(specs) {
			continue
		}
		ra := RunArtifact{RunIndex: it.RunIndex, Status: it.Status, Error: it.Error, ConversationID: it.ConversationID,
			Transcript: []MessageArtifact{}, ToolCalls: []ToolCallArtifact{}, MetricResults: []ResultArtifact{}}
		if it.ConversationID != nil {
			msgs, _, err := st.ListMessages(ctx, orgID, *it.ConversationID, store.MessageFilter{Limit: -1})
			if err != nil {
				return nil, err
			}
			for _, m := range msgs {
				ra.Transcript = append(ra.Transcript, MessageArtifact{ID: m.ID, InteractionID: m.InteractionID,
					MessageType: m.MessageType, Sender: m.Sender, Message: m.Message, CreatedAt: m.CreatedAt})
			}
		}
		// Invocations come newest first; the artifact tells them in order.
		for j := len(invs) - 1; j >= 0; j-- {
			inv := invs[j]
			if inv.UnitTestID == nil || *inv.UnitTestID != it.UnitTestID || inv.RunIndex == nil || *inv.RunIndex != it.RunIndex {
				continue
			}
			ra.ToolCalls = append(ra.ToolCalls, ToolCallArtifact{InvocationID: inv.ID, ToolID: inv.ToolID,
				Version: [3]int{inv.Major, inv.Minor, inv.Patch}, InteractionID: inv.InteractionID, Input: inv.Inputs,
				Succeeded: inv.Succeeded, Output: inv.Output, ExceptionType: inv.ExceptionType,
				ExceptionMessage: inv.ExceptionMessage, DurationMS: inv.DurationMS})
		}
		spec := specs[it.SpecIndex]
		for k, c := range it.Criteria {
			res := byID[c.ResultID]
			name := ""
			if k < len(spec.MetricsToEvaluate) {
				name = spec.MetricsToEvaluate[k].SuccessCriterionName
			}
			ra.MetricResults = append(ra.MetricResults, ResultArtifact{SuccessCriterionName: name, MetricID: c.MetricID,
				MetricVersion: c.MetricVersion, MetricResultID: c.ResultID, Result: res.Result,
				Justification: res.Justification, References: res.References, Passed: c.Passed})
		}
		doc.UnitTests[it.SpecIndex].Runs = append(doc.UnitTests[it.SpecIndex].Runs, ra)
	}
	return json.MarshalIndent(doc, "", "  ")
}

// maxArtifactRows bounds the metric results one run's artifacts read: a
// set of at most 50 unit tests, each run at most 100 times with at most 50
// criteria.
const maxArtifactRows = 250000
