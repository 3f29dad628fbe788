package config

import (
	"encoding/json"
	"fmt"
)

// AgentRelationship, AgentIdentity, AgentVoiceConfig and Agent are an agent
// version's content, as requests carry it, as get-agent-versions returns it
// and as the store keeps it (the body of a version, which the store does
// not read). A change to them changes the API and the stored documents
// alike, so versions written before it must still decode.
type AgentRelationship struct {
	Ownership              string `json:"ownership"`
	Type                   string `json:"type"`
	ConversationVisibility string `json:"conversation_visibility"`
	ThoughtVisibility      string `json:"thought_visibility"`
}

type AgentIdentity struct {
	Name                    string            `json:"name"`
	Role                    string            `json:"role"`
	DevelopedBy             string            `json:"developed_by"`
	DefaultSpokenLanguage   string            `json:"default_spoken_language"`
	RelationshipToDeveloper AgentRelationship `json:"relationship_to_developer"`
}

type AgentVoiceConfig struct {
	VoiceID string `json:"voice_id"`
}

type Agent struct {
	Initials              string            `json:"initials"`
	Identity              AgentIdentity     `json:"identity"`
	Background            string            `json:"background"`
	Behaviors             []string          `json:"behaviors"`
	CommunicationPatterns []string          `json:"communication_patterns"`
	VoiceConfig           *AgentVoiceConfig `json:"voice_config"`
}

// ParseAgent reads an agent version as the store holds it.
func ParseAgent(body []byte) (Agent, error) {
	var a Agent
	if err := json.Unmarshal(body, &a); err != nil {
		return Agent{}, fmt.Errorf("config: agent: %w", err)
	}
	return a, nil
}

// AgentVoiceConfigIn is a voice_config as a request carries it. The fields
// v0.7.0 removed are read only to refuse them: a client still tuning
// stability would otherwise believe its setting took effect. Any other
// unknown field, such as the deprecated audio quality setting, is ignored
// like every unknown field of a request.
type AgentVoiceConfigIn struct {
	VoiceID         string          `json:"voice_id"`
	Stability       json.RawMessage `json:"stability"`
	SimilarityBoost json.RawMessage `json:"similarity_boost"`
	Style           json.RawMessage `json:"style"`
}

// AgentPatch is a new agent version as declared: a nil field keeps the
// previous version's value.
type AgentPatch struct {
	Initials              *string             `json:"initials"`
	Identity              *AgentIdentity      `json:"identity"`
	Background            *string             `json:"background"`
	Behaviors             *[]string           `json:"behaviors"`
	CommunicationPatterns *[]string           `json:"communication_patterns"`
	VoiceConfig           *AgentVoiceConfigIn `json:"voice_config"`
}

// Check checks the patch's fields and returns them trimmed, reporting
// every fault at once as an *Invalid located under "body".
func (p AgentPatch) Check() (Agent, error) {
	var problems Faults
	text := func(s string, loc ...any) string {
		return problems.Stripped(s, append([]any{"body"}, loc...)...)
	}
	texts := func(in *[]string, field string) []string {
		if in == nil {
			return nil
		}
		out := make([]string, len(*in))
		for i, s := range *in {
			out[i] = text(s, field, i)
		}
		return out
	}
	var c Agent
	if p.Initials != nil {
		c.Initials = text(*p.Initials, "initials")
	}
	if id := p.Identity; id != nil {
		rel := id.RelationshipToDeveloper
		c.Identity = AgentIdentity{
			Name:                  text(id.Name, "identity", "name"),
			Role:                  text(id.Role, "identity", "role"),
			DevelopedBy:           text(id.DevelopedBy, "identity", "developed_by"),
			DefaultSpokenLanguage: id.DefaultSpokenLanguage,
			RelationshipToDeveloper: AgentRelationship{
				Ownership:              text(rel.Ownership, "identity", "relationship_to_developer", "ownership"),
				Type:                   text(rel.Type, "identity", "relationship_to_developer", "type"),
				ConversationVisibility: text(rel.ConversationVisibility, "identity", "relationship_to_developer", "conversation_visibility"),
				ThoughtVisibility:      text(rel.ThoughtVisibility, "identity", "relationship_to_developer", "thought_visibility"),
			},
		}
	}
	if p.Background != nil {
		c.Background = text(*p.Background, "background")
	}
	c.Behaviors = texts(p.Behaviors, "behaviors")
	c.CommunicationPatterns = texts(p.CommunicationPatterns, "communication_patterns")
	if vc := p.VoiceConfig; vc != nil {
		for _, f := range []struct {
			name  string
			value json.RawMessage
		}{{"stability", vc.Stability}, {"similarity_boost", vc.SimilarityBoost}, {"style", vc.Style}} {
			if f.value != nil {
				problems.Add([]any{"body", "voice_config", f.name}, "value_error", f.name+
					" was removed from voice_config in v0.7.0: a voice config takes only voice_id. "+
					"Remove stability, similarity_boost and style", f.value)
			}
		}
		c.VoiceConfig = &AgentVoiceConfig{VoiceID: text(vc.VoiceID, "voice_config", "voice_id")}
	}
	if err := problems.Err(); err != nil {
		return Agent{}, err
	}
	return c, nil
}

// Over returns prev with the fields the patch sets replaced by c's, c being
// what Check returned. The first version has no previous one, so the patch
// must set every field; if it does not, the error is an *Incomplete.
func (p AgentPatch) Over(prev *Agent, c Agent) (Agent, error) {
	if prev == nil {
		var missing []string
		for _, f := range []struct {
			name string
			set  bool
		}{
			{"initials", p.Initials != nil}, {"identity", p.Identity != nil}, {"background", p.Background != nil},
			{"behaviors", p.Behaviors != nil}, {"communication_patterns", p.CommunicationPatterns != nil},
			{"voice_config", p.VoiceConfig != nil},
		} {
			if !f.set {
				missing = append(missing, f.name)
			}
		}
		if len(missing) > 0 {
			return Agent{}, &Incomplete{Of: "agent", Missing: missing}
		}
		return c, nil
	}
	out := *prev
	if p.Initials != nil {
		out.Initials = c.Initials
	}
	if p.Identity != nil {
		out.Identity = c.Identity
	}
	if p.Background != nil {
		out.Background = c.Background
	}
	if p.Behaviors != nil {
		out.Behaviors = c.Behaviors
	}
	if p.CommunicationPatterns != nil {
		out.CommunicationPatterns = c.CommunicationPatterns
	}
	if p.VoiceConfig != nil {
		out.VoiceConfig = c.VoiceConfig
	}
	return out, nil
}
