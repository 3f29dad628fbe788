package httpapi_test

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/compadre-dev/compadre/compadretest"
	"github.com/compadre-dev/compadre/llm"
	"github.com/compadre-dev/compadre/postprocess"
	"github.com/compadre-dev/compadre/store"
)

// A finished conversation is processed in the background: the user model
// and memories say what the user said, the metrics applied to the service
// are judged (source post-session), completed_post_processings grows step
// by step, and each step is announced by a signed webhook.
func TestPostProcessing(t *testing.T) {
	t.Parallel()
	srv, c := newTestServer(t)
	rcv := compadretest.NewReceiver(t)
	_, secret := c.hookCreate(t, rcv.URL, 3)
	j := c.judgedConversation(t)
	status, body := c.do("GET", "/conversation/?id="+j.conv, nil)
	mustStatus(t, "conversation", status, http.StatusOK, body)
	conv := behaviorItems(body, "conversations")[0]
	service := conv["service_id"].(string)
	metric := c.metricCreate(map[string]any{"name": "asked about invoices", "applied_to_services": []any{service},
		"additional_notes": nil, "tags": map[string]any{}, "initial_version_metric_value": map[string]any{
			"description": `Did the user mention an "invoice"?`, "metric_value": metricValue("boolean")}})
	other := c.metricCreate(metricBody("not applied", metricValue("boolean")))

	status, body = c.do("POST", "/conversation/"+j.conv+"/finish/", nil)
	mustStatus(t, "finish", status, http.StatusNoContent, body)

	got := rcv.Wait(t, 3, time.Minute)
	var steps []string
	for _, r := range got {
		if err := r.Verify(secret, time.Now()); err != nil {
			t.Errorf("verify: %v", err)
		}
		var ev map[string]string
		if err := json.Unmarshal(r.Body, &ev); err != nil {
			t.Fatal(err)
		}
		if ev["type"] != "conversation-post-processing-complete" || ev["conversation_id"] != j.conv ||
			ev["org_id"] != srv.Organization || len(ev) != 4 {
			t.Errorf("event: %v", ev)
		}
		steps = append(steps, ev["post_processing_type"])
	}
	slices.Sort(steps)
	if strings.Join(steps, ",") != "compute-metrics,extract-memories,generate-user-models" {
		t.Errorf("steps announced: %v", steps)
	}

	status, body = c.do("GET", "/conversation/?id="+j.conv, nil)
	mustStatus(t, "conversation after", status, http.StatusOK, body)
	after := behaviorItems(body, "conversations")[0]
	if done := after["completed_post_processings"].([]any); len(done) != 3 || after["is_analyzed"] != true {
		t.Errorf("after post-processing: %v", after)
	}

	user := conv["user_id"].(string)
	status, body = c.do("GET", "/user/"+user+"/user_model", nil)
	mustStatus(t, "user model", status, http.StatusOK, body)
	models := body["user_models"].([]any)
	if len(models) != 1 || !strings.Contains(models[0].(map[string]any)["content"].(string), "invoice") {
		t.Errorf("user model: %v", body)
	}
	status, body = c.do("GET", "/user/"+user+"/memory", nil)
	mustStatus(t, "memories", status, http.StatusOK, body)
	memories := body["memories"].([]any)
	if len(memories) != 1 {
		t.Fatalf("memories: %v", body)
	}
	m := memories[0].(map[string]any)
	if m["conversation_id"] != j.conv || !strings.Contains(m["content"].(string), "invoice") ||
		mustJSONText(t, m["references"]) != mustJSONText(t, []any{j.messages[1]}) {
		t.Errorf("memory: %v (messages %v)", m, j.messages)
	}

	results, _ := c.metricResults(t, "?conversation_id="+j.conv)
	if len(results) != 1 || results[0]["metric_id"] != metric || results[0]["result"] != true ||
		results[0]["source"].(map[string]any)["type"] != store.SourcePostSession {
		t.Errorf("post-session results: %s (the metric not applied was %s)", mustJSONText(t, results), other)
	}
}

// heldStep is the built-in model, except that the user model step waits
// until the test ends, as a slow model would while the server stops.
type heldStep struct {
	llm.Builtin
	entered chan struct{}
}

func (h heldStep) Complete(ctx context.Context, c llm.Call) (llm.Answer, error) {
	if c.Purpose == postprocess.PurposeUserModel {
		select {
		case h.entered <- struct{}{}:
		default:
		}
		<-ctx.Done()
		return llm.Answer{}, ctx.Err()
	}
	return h.Builtin.Complete(ctx, c)
}

// A restart in the middle of post-processing loses no step: the one that
// was running runs again when the server starts.
func TestPostProcessingSurvivesRestart(t *testing.T) {
	model := heldStep{entered: make(chan struct{}, 1)}
	srv, c := newTestServer(t, compadretest.WithModel(model))
	j := c.judgedConversation(t)
	status, body := c.do("POST", "/conversation/"+j.conv+"/finish/", nil)
	mustStatus(t, "finish", status, http.StatusNoContent, body)
	select {
	case <-model.entered:
	case <-time.After(time.Minute):
		t.Fatal("post-processing never started")
	}
	srv.Stop()

	again := compadretest.Start(t, compadretest.WithDataDir(srv.DataDir))
	c2 := &client{t: t, base: again.BaseURL, org: again.Organization}
	c2.token = c2.signIn(srv.APIKey, srv.APIKeyID, srv.UserID)
	deadline := time.Now().Add(time.Minute)
	for {
		status, body := c2.do("GET", "/conversation/?id="+j.conv, nil)
		mustStatus(t, "conversation", status, http.StatusOK, body)
		done := behaviorItems(body, "conversations")[0]["completed_post_processings"].([]any)
		if len(done) == 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the restart: %v", done)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
