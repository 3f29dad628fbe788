package httpapi

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"

	"github.com/compadre-dev/compadre/auth"
	"github.com/compadre-dev/compadre/engine"
	"github.com/compadre-dev/compadre/store"
)

type evaluateMetricsRequest struct {
	MetricIDs               []string `json:"metric_ids"`
	ConversationID          string   `json:"conversation_id"`
	EvaluateToInteractionID *string  `json:"evaluate_to_interaction_id"`
}

type metricEvaluation struct {
	MetricID      string          `json:"metric_id"`
	Value         json.RawMessage `json:"value"`
	References    []string        `json:"references"`
	Justification string          `json:"justification"`
}

// evaluateMetrics has the judge evaluate the latest versions of the
// metrics on the conversation and stores the results as manual ones.
// The caller needs Metric:GetMetric, Metric:EvaluateMetric and
// Metric:GetMetricEvaluationResult on every metric, and
// Conversation:GetConversation on the conversation, whose messages the
// judge reads (DECISIONS.md, "What may evaluate-metrics judge?").
func (s *Server) evaluateMetrics(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	st := state(ctx)
	var req evaluateMetricsRequest
	if err := decodeBody(r, &req); err != nil {
		return err
	}
	conv, err := s.store.GetConversation(ctx, st.org.ID, req.ConversationID)
	if err != nil {
		return err
	}
	if err := st.allow(auth.ConversationGetConversation, conversationAttrs(conv)); err != nil {
		return err
	}
	judged := make([]engine.JudgedMetric, len(req.MetricIDs))
	for i, id := range req.MetricIDs {
		m, v, err := s.store.LatestMetricVersion(ctx, st.org.ID, id)
		if err != nil {
			return err
		}
		for _, perm := range []auth.Permission{auth.MetricGetMetric, auth.MetricEvaluateMetric,
			auth.MetricGetMetricEvaluationResult} {
			if err := st.allow(perm, metricAttrs(m)); err != nil {
				return err
			}
		}
		if m.IsDeleted {
			return &store.RuleError{Refusal: store.Refusal{Rule: store.RuleRetired, Kind: store.KindMetric, ID: m.ID}}
		}
		judged[i] = engine.JudgedMetric{Metric: m, Version: v}
	}
	results, err := s.engine.Evaluate(ctx, engine.Evaluation{
		OrgID: st.org.ID, ConversationID: conv.ID, UpTo: req.EvaluateToInteractionID, Metrics: judged,
		Seed: conv.Seed, LogKey: "conversation/" + conv.ID + "/evaluation/" + store.NewID() + "/",
		Source: store.EvaluationSource{Type: store.SourceManual, ConversationID: conv.ID,
			EvaluateToInteractionID: req.EvaluateToInteractionID, InvokedBy: actor(r)},
	})
	if err != nil {
		return err
	}
	out := make([]metricEvaluation, len(results))
	for i, res := range results {
		out[i] = metricEvaluation{MetricID: res.MetricID, Value: res.Result, References: res.References,
			Justification: res.Justification}
	}
	writeJSON(w, http.StatusOK, map[string]any{"metrics": out})
	return nil
}

// metricResultInstance is a stored result as the API shows it.
type metricResultInstance struct {
	ID            string          `json:"id"`
	OrgID         string          `json:"org_id"`
	CreatedAt     string          `json:"created_at"`
	UpdatedAt     string          `json:"updated_at"`
	MetricID      string          `json:"metric_id"`
	MetricVersion int             `json:"metric_version"`
	Result        json.RawMessage `json:"result"`
	Justification string          `json:"justification"`
	Source        map[string]any  `json:"source"`
}

func metricResultOut(res store.MetricResult) metricResultInstance {
	src := res.Source
	source := map[string]any{"type": src.Type, "references": res.References}
	switch src.Type {
	case store.SourceManual:
		source["conversation_id"] = src.ConversationID
		source["evaluate_to_interaction_id"] = src.EvaluateToInteractionID
		source["invoked_by"] = userInfo{OrgID: src.InvokedBy.OrgID, UserID: src.InvokedBy.UserID}
	case store.SourcePostSession:
		source["conversation_id"] = src.ConversationID
	case store.SourceSimulation:
		source["simulation_unit_test_set_run_id"] = src.SimulationRunID
		source["unit_test_id"] = src.UnitTestID
		source["run_index"] = src.RunIndex
	}
	return metricResultInstance{ID: res.ID, OrgID: res.OrgID, CreatedAt: apiTime(res.CreatedAt),
		UpdatedAt: apiTime(res.UpdatedAt), MetricID: res.MetricID, MetricVersion: res.MetricVersion,
		Result: res.Result, Justification: res.Justification, Source: source}
}

// getMetricEvaluationResults lists the results of the metrics the caller
// holds Metric:GetMetricEvaluationResult for.
func (s *Server) getMetricEvaluationResults(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	st := state(ctx)
	f := store.MetricResultFilter{MetricIDs: queryStrings(r, "metric_id"), SourceTypes: queryStrings(r, "source_type"),
		ConversationIDs: queryStrings(r, "conversation_id"), SimulationRunIDs: queryStrings(r, "simulation_unit_test_set_run_id"),
		Limit: queryInt(r, "limit"), Offset: max(0, queryInt(r, "continuation_token"))}
	var err error
	if f.Sort, err = sortKeys(r, store.ValidMetricResultSortField); err != nil {
		return err
	}
	var fe faults
	f.After = queryTime(r, &fe, "timestamp_after")
	f.Before = queryTime(r, &fe, "timestamp_before")
	for i, raw := range queryStrings(r, "metric_id_and_version") {
		id, version, _ := strings.Cut(raw, "-")
		mv := store.MetricIDVersion{MetricID: id}
		if version != "" {
			n, err := strconv.Atoi(version)
			if err != nil || n < 1 {
				fe.Add([]any{"query", "metric_id_and_version", i}, "value_error",
					"Each value must be <metric_id>-<version>, the version a positive number or empty", raw)
				continue
			}
			mv.Version = &n
		}
		f.MetricVersions = append(f.MetricVersions, mv)
	}
	if err := fe.Err(); err != nil {
		return err
	}
	all, err := s.store.ListMetrics(ctx, st.org.ID, store.MetricFilter{})
	if err != nil {
		return err
	}
	if visible := visibleMetrics(r, auth.MetricGetMetricEvaluationResult, all); len(visible) < len(all) {
		f.Visible = make([]string, len(visible))
		for i, m := range visible {
			f.Visible[i] = m.ID
		}
	}
	results, more, metricIDs, err := s.store.ListMetricResults(ctx, st.org.ID, f)
	if err != nil {
		return err
	}
	out := make([]metricResultInstance, len(results))
	for i, res := range results {
		out[i] = metricResultOut(res)
	}
	var fv any
	if f.Offset == 0 {
		fv = map[string]any{"metric_ids": metricIDs}
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"metric_evaluation_results": out, "has_more": more,
		"continuation_token": nextToken(f.Offset, len(results), more), "filter_values": fv,
	})
	return nil
}
