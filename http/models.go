package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"

	"github.com/compadre-dev/compadre/llm"
)

// The models the configured provider offers, from the one registry that
// also checks the models version sets prefer. See DECISIONS.md, "Which
// models does get-models list, and what do they take?".

type modelOut struct {
	Name              string          `json:"name"`
	ParamsModelSchema json.RawMessage `json:"params_model_schema"`
	Description       string          `json:"description"`
}

// getModels lists the models a version set may prefer, each with the JSON
// Schema of its parameters.
func (s *Server) getModels(w http.ResponseWriter, r *http.Request) error {
	models, err := s.models.Models(r.Context())
	if err != nil {
		return err
	}
	out := make([]modelOut, len(models))
	for i, m := range models {
		out[i] = modelOut{Name: m.Name, ParamsModelSchema: m.ParamsSchema, Description: m.Description}
	}
	writeJSON(w, http.StatusOK, map[string]any{"models": out})
	return nil
}

// checkPreferences refuses (400) a version set's model preference that
// names a model the registry does not hold, or parameters the model does
// not take. Preferences are checked in the order of their keys, so the
// same request always names the same fault.
func (s *Server) checkPreferences(ctx context.Context, prefs map[string]llmConfig) error {
	keys := make([]string, 0, len(prefs))
	for k := range prefs {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		pref := prefs[k]
		err := s.models.Check(ctx, pref.LLMName, pref.Params)
		var unknown *llm.UnknownModelError
		var params *llm.ParamsError
		switch {
		case errors.As(err, &unknown):
			return badRequest(fmt.Sprintf("The LLM model preference %q names the model %q, which this server does not "+
				"offer; get-models lists the models it does.", k, unknown.Name))
		case errors.As(err, &params) && params.Param == "":
			return badRequest(fmt.Sprintf("The LLM model preference %q gives the model %q parameters it does not take: %s.",
				k, params.Model, params.Reason))
		case errors.As(err, &params) && params.Unknown:
			return badRequest(fmt.Sprintf("The LLM model preference %q gives the model %q the parameter %q, which it "+
				"does not take; get-models lists the parameters each model takes.", k, params.Model, params.Param))
		case errors.As(err, &params):
			return badRequest(fmt.Sprintf("The LLM model preference %q gives the model %q a value of the parameter %q "+
				"that it does not take: %s.", k, params.Model, params.Param, params.Reason))
		case err != nil:
			return err
		}
	}
	return nil
}
