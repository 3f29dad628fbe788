// Package simulate runs simulation unit test set runs: for each unit test
// of a set, as many times as the set says, a simulated user (a persona
// following a scenario) converses with the unit test's service through
// the conversation engine, and the judge then evaluates the unit test's
// metrics against its success criteria. Runs are background work kept in
// the database: a bounded pool of workers takes run items from it, so a
// run goes on after a restart and never holds up the API's requests.
package simulate

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/compadre-dev/compadre/config"
	"github.com/compadre-dev/compadre/store"
)

// VersionInfo is a versioned record and the version pinned: [id, version].
type VersionInfo [2]any

// MetricToEvaluate is one success criterion of a unit test, by the metric
// it judges.
type MetricToEvaluate struct {
	MetricID             string           `json:"metric_id"`
	SuccessCriterionName string           `json:"success_criterion_name"`
	SuccessCriterion     config.Criterion `json:"success_criterion"`
}

// Persona is the content of the persona version a run pinned.
type Persona struct {
	Name                      string            `json:"name"`
	Role                      string            `json:"role"`
	Background                string            `json:"background"`
	PreferredLanguage         *string           `json:"preferred_language"`
	Timezone                  *string           `json:"timezone"`
	UserModels                []string          `json:"user_models"`
	NonsensitiveUserVariables map[string]string `json:"nonsensitive_user_variables"`
	SensitiveUserVariables    map[string]string `json:"sensitive_user_variables"`
}

// Scenario is the content of the scenario version a run pinned.
type Scenario struct {
	Name               string `json:"name"`
	Objective          string `json:"objective"`
	Instructions       string `json:"instructions"`
	InitialMessageType string `json:"initial_message_type"`
	// ConversationStartsAt, when set, is when the simulated conversation
	// is recorded as created.
	ConversationStartsAt *time.Time `json:"conversation_starts_at"`
}

// Spec is what a run pins for one unit test when it is made: the fields of
// the reference's UnitTestRunSpec, and beside them the service, the version
// set and the content of the persona and scenario versions, so the run never
// has to read them again.
type Spec struct {
	UnitTestID          string                     `json:"unit_test_id"`
	RunCount            int                        `json:"run_count"`
	StateMachine        VersionInfo                `json:"service_hierarchical_state_machine_version_info"`
	Agent               VersionInfo                `json:"agent_version_info"`
	ScenarioVersion     *VersionInfo               `json:"scenario_version_info"`
	PersonaVersion      *VersionInfo               `json:"persona_version_info"`
	LLMModelPreferences map[string]store.LLMConfig `json:"llm_model_preferences"`
	MaxInteractions     int                        `json:"max_interactions"`
	MetricsToEvaluate   []MetricToEvaluate         `json:"metrics_to_evaluate"`

	ServiceID      string   `json:"service_id"`
	VersionSetName string   `json:"service_version_set_name"`
	Persona        Persona  `json:"persona"`
	Scenario       Scenario `json:"scenario"`
}

// Specs reads the specs a run stored.
func Specs(run store.SimulationRun) ([]Spec, error) {
	var specs []Spec
	if err := json.Unmarshal(run.Specs, &specs); err != nil {
		return nil, err
	}
	return specs, nil
}

// Passes reports whether a metric's result meets a success criterion:
// equal to a boolean criterion's expected value, in the relation its verb
// names to a numerical one's threshold, or among a categorical one's
// expected values. A null result (the metric did not apply) meets no
// criterion: a unit test asks for a value, and not getting one is a
// failure to see, not to hide.
func Passes(c config.Criterion, result json.RawMessage) bool {
	switch c.Type {
	case config.MetricBoolean:
		var b *bool
		return json.Unmarshal(result, &b) == nil && b != nil && c.ExpectedValue != nil && *b == *c.ExpectedValue
	case config.MetricNumerical:
		var n *float64
		if json.Unmarshal(result, &n) != nil || n == nil || c.Threshold == nil || math.IsNaN(*n) {
			return false
		}
		x, t := *n, *c.Threshold
		switch c.Verb {
		case "==":
			return x == t
		case "!=":
			return x != t
		case "<=":
			return x <= t
		case "<":
			return x < t
		case ">=":
			return x >= t
		case ">":
			return x > t
		}
	case config.MetricCategorical:
		var s *string
		return json.Unmarshal(result, &s) == nil && s != nil && slices.Contains(c.ExpectedValues, *s)
	}
	return false
}

// Resolve pins what a run of the set uses, unit test by unit test: the
// version set's agent and state machine versions and model preferences,
// the latest persona and scenario versions with their content, and the
// success criteria; it returns the specs and each unit test's run count.
// A unit test, persona or scenario deleted since the set was made is a
// *store.RuleError: deleted records "cannot be used in any new
// simulations".
func Resolve(ctx context.Context, st *store.Store, orgID, userID string, set store.SimulationUnitTestSet) ([]Spec, []store.RunCount, error) {
	specs := make([]Spec, 0, len(set.UnitTestRuns))
	counts := make([]store.RunCount, 0, len(set.UnitTestRuns))
	for _, utr := range set.UnitTestRuns {
		u, err := st.GetSimulationUnitTest(ctx, orgID, utr.UnitTestID)
		if err != nil {
			return nil, nil, err
		}
		if u.IsDeleted {
			return nil, nil, retired(store.KindUnitTest, u.ID)
		}
		persona, err := st.GetSimulationRecord(ctx, store.SimulationPersonas, orgID, u.PersonaID)
		if err != nil {
			return nil, nil, err
		}
		scenario, err := st.GetSimulationRecord(ctx, store.SimulationScenarios, orgID, u.ScenarioID)
		if err != nil {
			return nil, nil, err
		}
		for _, rec := range []store.SimulationRecord{persona, scenario} {
			if rec.IsDeleted {
				return nil, nil, retired(recordKind(rec, persona), rec.ID)
			}
		}
		pv, err := st.LatestPersonaVersion(ctx, orgID, u.PersonaID)
		if err != nil {
			return nil, nil, err
		}
		sv, err := st.LatestScenarioVersion(ctx, orgID, u.ScenarioID)
		if err != nil {
			return nil, nil, err
		}
		conv, err := st.HypotheticalConversation(ctx, store.NewConversation{OrgID: orgID, UserID: userID,
			ServiceID: u.ServiceID, VersionSetName: u.VersionSetName})
		if err != nil {
			return nil, nil, err
		}
		spec := Spec{UnitTestID: u.ID, RunCount: utr.RunCount,
			StateMachine:   VersionInfo{conv.StateMachineID, conv.StateMachineVersion},
			Agent:          VersionInfo{conv.AgentID, conv.AgentVersion},
			PersonaVersion: &VersionInfo{u.PersonaID, pv.Version}, ScenarioVersion: &VersionInfo{u.ScenarioID, sv.Version},
			LLMModelPreferences: conv.LLMModelPreferences, MaxInteractions: u.MaxInteractions,
			MetricsToEvaluate: make([]MetricToEvaluate, len(u.SuccessCriteria)),
			ServiceID:         u.ServiceID, VersionSetName: u.VersionSetName,
			Persona: Persona{Name: persona.Name, Role: persona.Role, Background: pv.Content.Background,
				PreferredLanguage: pv.Content.PreferredLanguage, Timezone: pv.Content.Timezone,
				UserModels: pv.Content.UserModels, NonsensitiveUserVariables: pv.Content.NonsensitiveUserVariables,
				SensitiveUserVariables: pv.Content.SensitiveUserVariables},
			Scenario: Scenario{Name: scenario.Name, Objective: sv.Content.Objective, Instructions: sv.Content.Instructions,
				InitialMessageType: sv.Content.InitialMessageType, ConversationStartsAt: sv.Content.ConversationStartsAt},
		}
		if spec.LLMModelPreferences == nil {
			spec.LLMModelPreferences = map[string]store.LLMConfig{}
		}
		for i, sc := range u.SuccessCriteria {
			m := MetricToEvaluate{MetricID: sc.MetricID, SuccessCriterionName: sc.Name}
			if err := json.Unmarshal(sc.Criterion, &m.SuccessCriterion); err != nil {
				return nil, nil, fmt.Errorf("simulate: unit test %s criterion %d: %w", u.ID, i, err)
			}
			spec.MetricsToEvaluate[i] = m
		}
		specs = append(specs, spec)
		counts = append(counts, store.RunCount{UnitTestID: u.ID, Count: utr.RunCount})
	}
	return specs, counts, nil
}

func recordKind(rec, persona store.SimulationRecord) store.Kind {
	if rec.ID == persona.ID {
		return store.KindSimulationPersona
	}
	return store.KindSimulationScenario
}

func retired(kind store.Kind, id string) error {
	return &store.RuleError{Refusal: store.Refusal{Rule: store.RuleRetired, Kind: kind, ID: id}}
}
