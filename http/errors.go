package httpapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strconv"
	"strings"

	"github.com/compadre-dev/compadre/auth"
	"github.com/compadre-dev/compadre/config"
	"github.com/compadre-dev/compadre/engine"
	"github.com/compadre-dev/compadre/store"
	"github.com/compadre-dev/compadre/tools"
	"github.com/compadre-dev/compadre/voice"
)

// apiError is an error with the status and detail a client should see. The
// cause, if any, is for the log only and never serialized.
type apiError struct {
	status int
	detail any
	header http.Header
	cause  error
}

func (e *apiError) Error() string {
	if e.cause != nil {
		return e.cause.Error()
	}
	if s, ok := e.detail.(string); ok {
		return s
	}
	return http.StatusText(e.status)
}

func (e *apiError) Unwrap() error { return e.cause }

func errorf(status int, detail string) *apiError { return &apiError{status: status, detail: detail} }

func badRequest(detail string) *apiError   { return errorf(http.StatusBadRequest, detail) }
func notFound(detail string) *apiError     { return errorf(http.StatusNotFound, detail) }
func conflict(detail string) *apiError     { return errorf(http.StatusConflict, detail) }
func unauthorized(detail string) *apiError { return errorf(http.StatusUnauthorized, detail) }

func forbidden(p auth.Permission) *apiError {
	return errorf(http.StatusForbidden, "Missing required permission: "+string(p)+".")
}

// fieldError is one entry of a 422 body, shaped as FastAPI shapes them.
type fieldError = config.Fault

func validationFailed(errs ...fieldError) *apiError {
	return &apiError{status: http.StatusUnprocessableEntity, detail: errs}
}

// failureStatus is the status of an interaction's error event for each
// kind of failure.
var failureStatus = map[engine.FailureKind]int{
	engine.GraphBroken:      http.StatusInternalServerError,
	engine.ToolFailed:       http.StatusBadRequest,
	engine.ToolsUnavailable: http.StatusServiceUnavailable,
	engine.ModelFailed:      http.StatusBadGateway,
	engine.ModelTimedOut:    http.StatusGatewayTimeout,
}

// writeError is the one place errors become responses.
func writeError(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error) {
	ae := errorResponse(r, log, err)
	for k, v := range ae.header {
		w.Header()[k] = v
	}
	writeJSON(w, ae.status, map[string]any{"detail": ae.detail})
}

// errorResponse is the one place errors get the status and detail a client
// sees, as a response or as a stream's error event. Anything it does not
// recognise is a 500 whose real cause goes to the log, not the client.
func errorResponse(r *http.Request, log *slog.Logger, err error) *apiError {
	var ae *apiError
	var failure *engine.Failure
	var re *store.RuleError
	var ce *store.ConflictError
	var ne *store.NotFoundError
	var problems *tools.Problems
	var source *tools.SourceError
	var invalid *config.Invalid
	var unresolved *config.Unresolved
	var incomplete *config.Incomplete
	var unsupportedAudio *voice.UnsupportedError
	var brokenAudio *voice.BrokenError
	var speech *voice.ProviderError
	var refusedSQL *store.SQLRefusal
	switch {
	case errors.As(err, &ae):
	case errors.As(err, &invalid):
		ae = validationFailed(invalid.Faults...)
	case errors.As(err, &unresolved):
		ae = badRequest(unresolved.Error())
	case errors.As(err, &incomplete):
		ae = badRequest(incomplete.Error())
	case errors.As(err, &failure):
		ae = errorf(failureStatus[failure.Kind], failure.Reason+".")
	case errors.As(err, &unsupportedAudio):
		ae = errorf(http.StatusUnsupportedMediaType, fmt.Sprintf("The audio format is not supported: %s. Send WAV, "+
			"raw PCM described by request_audio_config, or MP3.", unsupportedAudio.Found))
	case errors.As(err, &brokenAudio):
		ae = badRequest("The audio cannot be used: " + brokenAudio.Reason + ".")
	case errors.As(err, &speech) && errors.Is(err, voice.ErrTimeout):
		ae = errorf(http.StatusGatewayTimeout, "The speech server did not answer in time.")
	case errors.As(err, &speech):
		ae = errorf(http.StatusBadGateway, "The speech server failed: "+speech.Error()+".")
	case errors.Is(err, engine.ErrBusy):
		ae = conflict("A related operation on this conversation is in process; try again once it ends.")
	case errors.As(err, &re) && re.Missing != nil:
		ae = badRequest(missingDetail(re.Missing))
	case errors.As(err, &re):
		ae = badRequest(refusalDetail(re.Refusal))
	case errors.As(err, &ce):
		ae = conflict(refusalDetail(ce.Refusal))
	case errors.As(err, &ne):
		ae = notFound(missingDetail(ne))
	case errors.As(err, &problems):
		ae = badRequest(problems.Summary + " " + strings.Join(problems.List, " "))
	case errors.As(err, &source):
		ae = sourceError(source)
	case errors.Is(err, tools.ErrBusy):
		ae = conflict("A related operation on this tool is in progress.")
	case errors.Is(err, tools.ErrSandboxStarting):
		ae = errorf(http.StatusServiceUnavailable, "The Python sandbox is still starting; retry in a few seconds.")
		ae.header = http.Header{"Retry-After": {"5"}}
	case errors.Is(err, tools.ErrSandboxUnavailable):
		ae = errorf(http.StatusServiceUnavailable, "The Python sandbox is not running; tools cannot be built or run.")
	case errors.Is(err, tools.ErrDeprecated):
		ae = badRequest("The tool version is deprecated and cannot be invoked.")
	case errors.As(err, &refusedSQL):
		ae = badRequest("The SQL query is invalid: " + refusedSQL.Reason + ".")
	case errors.Is(err, store.ErrSQLTimeout):
		ae = errorf(http.StatusRequestTimeout, "The supplied query cannot be executed within the time limit; it was stopped.")
	case errors.Is(err, auth.ErrUnauthenticated):
		ae = unauthorized("Invalid authorization credentials.")
	case errors.Is(err, os.ErrDeadlineExceeded):
		// The body did not arrive within the server's body timeout; what is
		// left of it on the wire cannot be told from a next request.
		log.WarnContext(r.Context(), "request body timed out", "request_id", requestID(r.Context()), "error", err)
		ae = &apiError{status: http.StatusRequestTimeout, detail: "The request body did not arrive in time.",
			header: http.Header{"Connection": {"close"}}}
	default:
		log.ErrorContext(r.Context(), "request failed", "request_id", requestID(r.Context()), "error", err)
		ae = errorf(http.StatusInternalServerError, "Internal Server Error")
	}
	return ae
}

// sourceError words what a publish could not use from the repository.
func sourceError(e *tools.SourceError) *apiError {
	short := func(hash string) string { return hash[:min(12, len(hash))] }
	switch e.Fault {
	case tools.BranchMissing:
		return notFound(fmt.Sprintf("Branch %q not found in the tools repository.", e.Branch))
	case tools.BranchInvalid:
		return notFound(fmt.Sprintf("Branch %q is not a valid branch name.", e.Branch))
	case tools.CommitMissing:
		return notFound(fmt.Sprintf("Commit %s not found in the tools repository.", e.Commit))
	case tools.CommitMalformed:
		return notFound(fmt.Sprintf("Commit %q is not 40 hex digits.", e.Commit))
	case tools.DirNotRelative:
		return notFound(fmt.Sprintf("Directory %q is not a relative path such as tools/weather.", e.Dir))
	case tools.DirMissing:
		return notFound(fmt.Sprintf("Directory %q not found at commit %s.", e.Dir, short(e.Commit)))
	case tools.DirNotDirectory:
		return notFound(fmt.Sprintf("%q at commit %s is not a directory.", e.Dir, short(e.Commit)))
	case tools.DirBadEntry:
		return badRequest(fmt.Sprintf("Directory %q at commit %s holds an entry named %q, which is not a valid file name.",
			e.Dir, short(e.Commit), e.Name))
	case tools.TooManyFiles:
		return badRequest(fmt.Sprintf("The project %q at commit %s has more than %d files.", e.Dir, short(e.Commit), e.Limit))
	case tools.TooManyBytes:
		return badRequest(fmt.Sprintf("The project %q at commit %s has more than %d MiB of files.", e.Dir, short(e.Commit), e.Limit))
	}
	return badRequest(fmt.Sprintf("Branch %s is at %s, an ancestor of %s, from which the tool was last published.",
		e.Branch, short(e.Commit), short(e.Since)))
}

// missingDetail words a missing record for the client: the one place the
// store's not-found facts become sentences.
func missingDetail(e *store.NotFoundError) string {
	noun := string(e.Kind)
	switch {
	case e.Deprecated:
		return "The " + noun + " " + e.ID + " is deprecated."
	case e.NoVersions:
		return "The " + noun + " " + e.ID + " has no versions yet."
	case e.Version != "":
		return "The " + noun + " " + e.ID + " has no version " + e.Version + "."
	}
	noun = strings.ToUpper(noun[:1]) + noun[1:]
	ids := strconv.Quote(e.ID)
	if len(e.More) > 0 {
		noun += "s"
		for _, id := range e.More {
			ids += ", " + strconv.Quote(id)
		}
	}
	if e.Owner != nil {
		return noun + " " + ids + " of " + string(e.Owner.Kind) + " " + strconv.Quote(e.Owner.ID) + " not found."
	}
	return noun + " " + ids + " not found."
}

// refusalDetail words a refused write for the client: the one place the
// store's rules become sentences. Agents and state machines keep the
// wording each has always had.
func refusalDetail(r store.Refusal) string {
	switch r.Rule {
	case store.RuleLimit:
		switch r.Kind {
		case store.KindUser:
			return fmt.Sprintf("A user may have at most %d %s.", r.Limit, r.Of)
		case store.KindConversation:
			return fmt.Sprintf("The conversation cannot contain more than %d %s.", r.Limit, r.Of)
		case store.KindTool:
			return fmt.Sprintf("The tool already has %d %s; deprecate one before publishing another.", r.Limit, r.Of)
		}
		return fmt.Sprintf("The organization has reached the maximum of %d %s.", r.Limit, r.Of)
	case store.RuleUnfinishedConversation:
		return "The user has an unfinished conversation with this service; finish it before starting another."
	case store.RuleFinished:
		return fmt.Sprintf("Conversation %q is already finished.", r.ID)
	case store.RuleNameTaken:
		switch r.Kind {
		case store.KindAgent:
			return fmt.Sprintf("An agent named %q already exists.", r.Name)
		case store.KindStateMachine:
			return fmt.Sprintf("A state machine named %q already exists.", r.Name)
		case store.KindTool:
			return fmt.Sprintf("A tool named %q already exists.", r.Name)
		case store.KindRole:
			return fmt.Sprintf("A role named %q already exists in this organization.", r.Name)
		case store.KindUser:
			return fmt.Sprintf("A user with email %s already exists in this organization.", r.Name)
		}
		return fmt.Sprintf("An active %s named %q already exists.", r.Kind, r.Name)
	case store.RuleIDTaken:
		return fmt.Sprintf("An %s with ID %s already exists.", r.Kind, r.ID)
	case store.RuleNextVersion:
		switch r.Kind {
		case store.KindAgent:
			return fmt.Sprintf("The next version of the agent %s is %d, not %d.", r.ID, r.Next, r.Want)
		case store.KindStateMachine:
			return fmt.Sprintf("The next version of the state machine is %d, not %d.", r.Next, r.Want)
		}
		return fmt.Sprintf("Version %d cannot be created: the next version of %s %s is %d.", r.Want, r.Kind, r.ID, r.Next)
	case store.RuleFixedVersionSet:
		return "The " + r.Name + " version set always uses the newest agent and state machine versions and cannot be changed."
	case store.RulePermanentVersionSet:
		return "The " + r.Name + " version set cannot be deleted."
	case store.RuleVariableRequired:
		return fmt.Sprintf("Environment variable %q is required by a non-deprecated version of the tool.", r.Name)
	case store.RuleNoVariable:
		if r.Kind == store.KindToolVariable {
			return fmt.Sprintf("Environment variable %q does not exist.", r.Name)
		}
		return fmt.Sprintf("Variable %q does not exist.", r.Name)
	case store.RuleVariableExists:
		return fmt.Sprintf("Environment variable %q already exists.", r.Name)
	case store.RuleNameResting:
		return fmt.Sprintf("Environment variable %q was deleted less than %s ago; its name can be used again after that.", r.Name, r.Wait)
	case store.RuleDeleted:
		return fmt.Sprintf("The %s %s is already deleted.", r.Kind, r.ID)
	case store.RuleRetired:
		return fmt.Sprintf("The %s %s is deleted and can no longer be used.", r.Kind, r.ID)
	case store.RuleUnfinishedRun:
		return "The user already has an unfinished run for this simulation unit test set."
	case store.RuleNotInProgress:
		return fmt.Sprintf("The simulation unit test set run %s is not in progress.", r.ID)
	case store.RuleNoInteractions:
		return fmt.Sprintf("The conversation %s has no interactions.", r.ID)
	case store.RuleRotatedRecently:
		return fmt.Sprintf("The secret of the %s %s was rotated less than an hour ago; it can be rotated again in %s.", r.Kind, r.ID, r.Wait)
	case store.RuleCriterionType:
		return fmt.Sprintf("The success criterion's type %q does not match the type %q of the metric %s.", r.Of, r.Name, r.ID)
	case store.RuleFixedType:
		return fmt.Sprintf("The value type of %s %s is %s and cannot change between versions.", r.Kind, r.ID, r.Name)
	case store.RuleInUse:
		if r.Kind == store.KindMetric {
			return fmt.Sprintf("Metric is used in a simulation unit test (%s).", strings.Join(r.Others, ", "))
		}
		if r.Of != "" {
			return fmt.Sprintf("The %s %s is used in a %s (%s).", r.Kind, r.ID, r.Of, strings.Join(r.Others, ", "))
		}
		if r.Kind == store.KindAgent {
			return fmt.Sprintf("The agent %s is used by an active service; deactivate the service first.", r.ID)
		}
		return fmt.Sprintf("The %s %s is used by active services (%s); deactivate them first.", r.Kind, r.ID, strings.Join(r.Others, ", "))
	case store.RuleBusy:
		return fmt.Sprintf("A related operation on %s %s is in process; try again once it ends.", r.Kind, r.ID)
	}
	return "The request breaks a rule of the " + string(r.Kind) + "."
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		b = []byte(`{"detail":"Internal Server Error"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

func writeNoContent(w http.ResponseWriter) { w.WriteHeader(http.StatusNoContent) }
