package httpapi

import (
	"archive/zip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"

	a "github.com/compadre-dev/compadre/auth"
	"github.com/compadre-dev/compadre/llm"
	"github.com/compadre-dev/compadre/store"
)

// Prompt logs: every call to a model, downloaded as a zip by key prefix.
// See DECISIONS.md, "Which prompt logs does get-prompt-logs download, and
// who may read each?" and "How is a prompt log written into the zip?".

// maxPromptLogs is the most prompt logs one download holds: a prefix
// matching more is refused, as the reference says.
const maxPromptLogs = 1000

// promptLogSeparator parts the history prompts of a log's history file,
// as the reference says.
const promptLogSeparator = "\n---\n"

// getPromptLogs streams a zip of the organization's prompt logs of the
// past 30 days whose keys start with prompt_log_prefix. Each log is
// checked against what it belongs to, once per conversation or
// simulation run; one the caller may not read is an error entry in place
// of its content.
func (s *Server) getPromptLogs(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	st := state(ctx)
	prefix := queryString(r, "prompt_log_prefix")
	since := s.now().Add(-store.PromptLogRetention)
	n, err := s.store.CountPromptLogs(ctx, st.org.ID, prefix, since)
	if err != nil {
		return err
	}
	switch {
	case n == 0:
		return notFound("No prompt logs found matching the supplied prefix")
	case n > maxPromptLogs:
		return badRequest(fmt.Sprintf("The prefix matches %d prompt logs of the past 30 days; at most %d can be "+
			"downloaded at once. Narrow the prefix to a conversation (conversation/{id}/), an interaction "+
			"(conversation/{id}/interaction/{id}/) or a simulation run (simulation/{id}/).", n, maxPromptLogs))
	}
	out := &zipResponse{w: w}
	zw := zip.NewWriter(out)
	access := promptLogAccess{s: s, ctx: ctx, st: st, decided: map[string]string{}}
	written := 0
	err = s.store.EachPromptLog(ctx, st.org.ID, prefix, since, maxPromptLogs, func(l store.PromptLog) error {
		refusal, err := access.refusal(l)
		if err != nil {
			return err
		}
		written++
		return writePromptLog(zw, l, refusal)
	})
	switch {
	case err == nil && written == 0:
		// Every log counted was swept away before it was read.
		return notFound("No prompt logs found matching the supplied prefix")
	case err == nil:
		err = zw.Close()
	}
	switch {
	case err != nil && !out.started:
		return err
	case err != nil && ctx.Err() != nil:
		s.log.InfoContext(ctx, "client left during a prompt log download", "request_id", requestID(ctx))
	case err != nil:
		// The status has gone out: as the reference says, the stream ends
		// without the zip's central directory, so no reader takes it for
		// a whole archive.
		s.log.WarnContext(ctx, "prompt log download cut short", "request_id", requestID(ctx), "error", err)
	}
	return nil
}

// zipResponse sends the status and headers with the first byte of the
// zip, so a failure before the first log can still be an ordinary error
// response.
type zipResponse struct {
	w       http.ResponseWriter
	started bool
}

func (z *zipResponse) Write(p []byte) (int, error) {
	if !z.started {
		z.started = true
		h := z.w.Header()
		h.Set("Content-Type", "application/zip")
		h.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": "prompt_logs.zip"}))
		h.Set("Cache-Control", "no-store")
		z.w.WriteHeader(http.StatusOK)
	}
	return z.w.Write(p)
}

// promptLogAccess decides who may read which prompt log: a log under
// simulation/{run}/ is the run's (the simulated user's, the engine's and
// the judge's calls alike), any other the conversation it was made for.
// Each conversation and run is decided once per download.
type promptLogAccess struct {
	s   *Server
	ctx context.Context
	st  *requestState
	// decided maps "conversation/{id}" and "simulation/{id}" to the
	// refusal of their logs, "" when the caller may read them.
	decided map[string]string
}

// refusal says why the caller may not read l, or "" when it may. An error
// is a failure of the whole download.
func (pa *promptLogAccess) refusal(l store.PromptLog) (string, error) {
	owner := ""
	if rest, ok := strings.CutPrefix(l.Key, "simulation/"); ok {
		if id, _, ok := strings.Cut(rest, "/"); ok && id != "" {
			owner = "simulation/" + id
		}
	} else if l.ConversationID != nil {
		owner = "conversation/" + *l.ConversationID
	}
	if owner == "" {
		// Deny by default: every model call is made for a conversation or
		// a simulation run, so this log's reader cannot be known.
		return "This prompt log belongs to no conversation or simulation run, so it cannot be shown.", nil
	}
	if refusal, ok := pa.decided[owner]; ok {
		return refusal, nil
	}
	refusal, err := pa.decide(owner)
	if err != nil {
		return "", err
	}
	pa.decided[owner] = refusal
	return refusal, nil
}

func (pa *promptLogAccess) decide(owner string) (string, error) {
	kind, id, _ := strings.Cut(owner, "/")
	org := pa.st.org.ID
	if kind == "simulation" {
		// What get-simulation-unit-test-set-runs lists a run for.
		run, err := pa.s.store.GetSimulationRun(pa.ctx, org, id)
		if errors.Is(err, store.ErrNotFound) {
			return "The simulation unit test set run " + id + " this prompt log belongs to no longer exists.", nil
		}
		if err != nil {
			return "", err
		}
		if pa.st.allow(a.SimulationGetUnitTestSetRun, runAttrs(run)) != nil {
			return missingPromptLogPermission(a.SimulationGetUnitTestSetRun, "simulation unit test set run", id), nil
		}
		return "", nil
	}
	// What get-conversation-messages answers a conversation's messages
	// for: a prompt repeats them.
	c, err := pa.s.store.GetConversation(pa.ctx, org, id)
	if errors.Is(err, store.ErrNotFound) {
		return "The conversation " + id + " this prompt log belongs to no longer exists.", nil
	}
	if err != nil {
		return "", err
	}
	if pa.st.allow(a.ConversationGetMessage, conversationAttrs(c)) != nil {
		return missingPromptLogPermission(a.ConversationGetMessage, "conversation", id), nil
	}
	return "", nil
}

func missingPromptLogPermission(p a.Permission, noun, id string) string {
	return fmt.Sprintf("Missing required permission %s for the %s %s, to which this prompt log belongs.", p, noun, id)
}

// writePromptLog adds a log's entries to the zip: {key}-system and
// {key}-history, and {key}-error when the call failed, or only
// {key}-error with refusal when the caller may not read the log.
func writePromptLog(zw *zip.Writer, l store.PromptLog, refusal string) error {
	if refusal != "" {
		return writeZipEntry(zw, l, "-error", refusal)
	}
	var msgs []llm.Message
	if err := json.Unmarshal(l.Prompt, &msgs); err != nil {
		return writeZipEntry(zw, l, "-error", "The stored prompt could not be read: "+err.Error())
	}
	system, history := renderPrompt(msgs, l)
	if system != "" {
		if err := writeZipEntry(zw, l, "-system", system); err != nil {
			return err
		}
	}
	if history != "" {
		if err := writeZipEntry(zw, l, "-history", history); err != nil {
			return err
		}
	}
	if l.Error != "" {
		return writeZipEntry(zw, l, "-error", l.Error)
	}
	return nil
}

// renderPrompt splits a prompt into its system prompt, the system message
// it opens with, and its history: every later message as
// "{role}: {content}", then what the model answered as
// "completion ({model}): {completion}", parted by "---". A later system
// message (the task of the call, say) stays in the history, where the
// model read it.
func renderPrompt(msgs []llm.Message, l store.PromptLog) (system, history string) {
	if len(msgs) > 0 && msgs[0].Role == "system" {
		system, msgs = msgs[0].Content, msgs[1:]
	}
	var rest []string
	for _, m := range msgs {
		rest = append(rest, m.Role+": "+m.Content)
	}
	if l.Completion != "" {
		rest = append(rest, "completion ("+l.Model+"): "+l.Completion)
	}
	return system, strings.Join(rest, promptLogSeparator)
}

func writeZipEntry(zw *zip.Writer, l store.PromptLog, suffix, text string) error {
	f, err := zw.CreateHeader(&zip.FileHeader{Name: l.Key + suffix, Method: zip.Deflate, Modified: l.CreatedAt})
	if err != nil {
		return err
	}
	_, err = io.WriteString(f, text)
	return err
}
