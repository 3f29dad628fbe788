package voice_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/compadre-dev/compadre/voice"
)

// A voice message is decoded under the request's audio config, then
// transcribed; without a speech model the transcript describes the audio.
func ExampleBuiltin() {
	wav := voice.EncodeWAV(make([]int16, 24000), 16000) // 1.5 s of silence
	clip, err := voice.Decode(wav, "audio/wav", &voice.PCMConfig{FrameRate: 16000, Channels: 1, SampleWidth: 2})
	if err != nil {
		panic(err)
	}
	text, _ := voice.Builtin{}.Transcribe(context.Background(), clip, "eng")
	fmt.Println(text)

	_, err = voice.Decode([]byte("OggS\x00\x02"), "application/octet-stream", nil)
	fmt.Println(errors.Is(err, voice.ErrUnsupportedFormat))
	// Output:
	// [voice message: 1.50 s of audio, 16000 Hz, mono]
	// true
}
