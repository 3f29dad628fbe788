package httpapi

import (
	"context"
	"encoding/json"

	"github.com/compadre-dev/compadre/config"
	"github.com/compadre-dev/compadre/engine"
	"github.com/compadre-dev/compadre/store"
	"github.com/compadre-dev/compadre/voice"
)

// audioConfigIn is request_audio_config as the query carries it: JSON, one
// of the reference's MP3 and PCM configurations.
type audioConfigIn struct {
	Type        string `json:"type"`
	FrameRate   *int   `json:"frame_rate"`
	NChannels   *int   `json:"n_channels"`
	SampleWidth *int   `json:"sample_width"`
}

// audioConfig reads request_audio_config. nil means none, or MP3, whose
// frames describe themselves; its faults are 422s, as a schema's would be.
func audioConfig(raw string) (*voice.PCMConfig, error) {
	if raw == "" || raw == "null" {
		return nil, nil
	}
	loc := []any{"query", "request_audio_config"}
	var in audioConfigIn
	if err := json.Unmarshal([]byte(raw), &in); err != nil {
		return nil, validationFailed(fieldError{Loc: loc, Type: "json_invalid",
			Msg: "request_audio_config must be a JSON object such as {\"type\": \"mp3\"}", Input: raw})
	}
	var f faults
	switch in.Type {
	case "mp3":
		return nil, nil
	case "pcm":
		switch {
		case in.FrameRate == nil:
			f.Add(extend(loc, "frame_rate"), "missing", "Field required")
		case *in.FrameRate < 4000 || *in.FrameRate > 44100:
			f.Add(extend(loc, "frame_rate"), "value_error", "frame_rate must be between 4000 and 44100", *in.FrameRate)
		}
		switch {
		case in.NChannels == nil:
			f.Add(extend(loc, "n_channels"), "missing", "Field required")
		case *in.NChannels != 1:
			f.Add(extend(loc, "n_channels"), "literal_error", "Input should be 1", *in.NChannels)
		}
		switch {
		case in.SampleWidth == nil:
			f.Add(extend(loc, "sample_width"), "missing", "Field required")
		case *in.SampleWidth != 2 && *in.SampleWidth != 4:
			f.Add(extend(loc, "sample_width"), "enum", "Input should be 2 or 4", *in.SampleWidth)
		}
	default:
		f.Add(extend(loc, "type"), "union_tag_invalid", "Input tag should be 'mp3' or 'pcm'", in.Type)
	}
	if err := f.Err(); err != nil {
		return nil, err
	}
	return &voice.PCMConfig{FrameRate: *in.FrameRate, Channels: *in.NChannels, SampleWidth: *in.SampleWidth}, nil
}

// hear decodes a voice message and transcribes it: the message the agent
// reads is the transcript, and the audio is kept as its source.
func (s *Server) hear(ctx context.Context, orgID string, form interactForm, cfg *voice.PCMConfig, language string) (engine.Input, error) {
	clip, err := voice.Decode(form.message, form.contentType, cfg)
	if err != nil {
		return engine.Input{}, err
	}
	text, err := s.transcriber.Transcribe(ctx, clip, language)
	if err != nil {
		return engine.Input{}, err
	}
	return engine.Input{Kind: form.kind, Text: text, Format: "voice",
		Audio: &store.Blob{ID: store.NewID(), OrgID: orgID, ContentType: clip.ContentType, Data: clip.Data}}, nil
}

// speechLanguage is the language a conversation is spoken in: the user's
// preferred one, else the agent's default spoken language.
func speechLanguage(preferred *string, agent store.AgentVersion) (string, error) {
	if preferred != nil && *preferred != "" {
		return *preferred, nil
	}
	content, err := config.ParseAgent(agent.Body)
	if err != nil {
		return "", err
	}
	return content.Identity.DefaultSpokenLanguage, nil
}
