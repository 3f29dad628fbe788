package engine

import (
	"encoding/base64"
	"fmt"

	"github.com/compadre-dev/compadre/store"
	"github.com/compadre-dev/compadre/voice"
)

// voicePiece is how much audio one new-message event carries: a quarter
// second of 16 kHz 16-bit mono PCM.
const voicePiece = voice.SynthesisRate / 4 * 2

// spoken is an agent message in voice: the new-message pieces (base64
// PCM16, as the reference says audio pieces are) and the WAV kept as the
// message's source.
type spoken struct {
	pieces []string
	blob   store.Blob
}

// voice speaks text in the agent's voice.
func (t *turn) voice(text string) (spoken, error) {
	synth := t.e.cfg.Synthesizer
	if synth == nil {
		return spoken{}, &Failure{ModelFailed, "No speech synthesizer is configured"}
	}
	voiceID := ""
	if vc := t.agent.VoiceConfig; vc != nil {
		voiceID = vc.VoiceID
	}
	clip, err := synth.Synthesize(t.ctx, text, t.run.Language, voiceID)
	if err != nil {
		return spoken{}, fmt.Errorf("engine: speak: %w", err)
	}
	samples := clip.Mono16()
	var out spoken
	for _, p := range voice.Chunks(voice.PCM16(samples), voicePiece) {
		out.pieces = append(out.pieces, base64.StdEncoding.EncodeToString(p))
	}
	if len(out.pieces) == 0 {
		return spoken{}, &Failure{ModelFailed, "The speech synthesizer returned no audio"}
	}
	out.blob = store.Blob{ID: store.NewID(), OrgID: t.conv.OrgID, ContentType: "audio/wav",
		Data: voice.EncodeWAV(samples, voice.SynthesisRate)}
	return out, nil
}
