package voice

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"math"
	"os"
	"slices"
	"strings"
	"testing"
	"time"
)

// Fixtures in testdata/:
//   - hello.wav is the Python SDK's voice fixture
//     (tests/integration/fixtures/hello.wav), 16 kHz mono 16-bit speech.
//   - tone-16k-mono.mp3 and tone-44k-stereo.mp3 are a 440 Hz sine at half
//     full scale, encoded with LAME 3.100 from WAVs Python's wave module
//     wrote: `lame -b 32 -m m --resample 16` (0.5 s, MPEG-2, no tags) and
//     `lame -b 64 -m j --resample 44.1 --add-id3v2 --tt tone --ta compadre` (0.3 s,
//     MPEG-1, ID3v2 and ID3v1 tags).
func fixture(t *testing.T, name string) []byte {
	t.Helper()
	data, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// makeWAV builds a WAV file: a fmt chunk (extensible when sub is not 0,
// with sub as the subformat's tag), an odd-sized LIST chunk to exercise
// padding, and a data chunk.
func makeWAV(tag, sub, channels, rate, bits int, samples []byte) []byte {
	le16 := func(b []byte, v int) []byte { return binary.LittleEndian.AppendUint16(b, uint16(v)) }
	le32 := func(b []byte, v int) []byte { return binary.LittleEndian.AppendUint32(b, uint32(v)) }
	align := channels * bits / 8
	f := le16(nil, tag)
	f = le16(f, channels)
	f = le32(f, rate)
	f = le32(f, rate*align)
	f = le16(f, align)
	f = le16(f, bits)
	if sub != 0 {
		f = le16(f, 22)
		f = le16(f, bits)
		f = le32(f, 0)
		f = le16(f, sub)
		f = append(f, guidSuffix...)
	}
	chunk := func(b []byte, id string, body []byte) []byte {
		b = le32(append(b, id...), len(body))
		b = append(b, body...)
		if len(body)%2 == 1 {
			b = append(b, 0)
		}
		return b
	}
	body := chunk([]byte("WAVE"), "fmt ", f)
	body = chunk(body, "LIST", []byte("INFOISFT\x03\x00\x00\x00go\x00"))
	body = chunk(body, "data", samples)
	return append(le32([]byte("RIFF"), len(body)), body...)
}

// samplesAt encodes +0.5 and then -0.25 of full scale in each channel, at
// the given width, as a WAV (8-bit unsigned) or raw PCM holds them.
func samplesAt(bits, channels int) []byte {
	var out []byte
	for _, v := range []float64{0.5, -0.25} {
		for range channels {
			switch bits {
			case 8:
				out = append(out, byte(128+int(v*128)))
			case 16:
				out = binary.LittleEndian.AppendUint16(out, uint16(int16(v*32768)))
			case 24:
				x := uint32(int32(v * (1 << 23)))
				out = append(out, byte(x), byte(x>>8), byte(x>>16))
			case 32:
				out = binary.LittleEndian.AppendUint32(out, uint32(int32(v*(1<<31))))
			}
		}
	}
	return out
}

func TestDecode(t *testing.T) {
	hello := fixture(t, "hello.wav")
	mono16k := &PCMConfig{FrameRate: 16000, Channels: 1, SampleWidth: 2}
	pcm := make([]byte, 3210)[:3200]
	tooLong := make([]byte, 2*4000*int(MaxDuration/time.Second))
	tests := []struct {
		name        string
		data        []byte
		contentType string
		cfg         *PCMConfig
		// want* are checked when neither error is expected.
		wantFormat, wantType                string
		wantRate, wantChannels, wantWidth   int
		wantFrames                          int64
		wantMono                            []int16 // checked when set
		wantBroken, wantUnsupported, wantIn string
	}{
		{name: "SDK fixture under its PCM config", data: hello, contentType: "audio/wav", cfg: mono16k,
			wantFormat: "wav", wantType: "audio/wav", wantRate: 16000, wantChannels: 1, wantWidth: 2, wantFrames: 30357},
		{name: "SDK fixture without config", data: hello, contentType: "audio/x-wav",
			wantFormat: "wav", wantType: "audio/x-wav", wantRate: 16000, wantChannels: 1, wantWidth: 2, wantFrames: 30357},
		{name: "WAV sniffed from octet-stream", data: hello, contentType: "application/octet-stream",
			wantFormat: "wav", wantType: "audio/wav", wantRate: 16000, wantChannels: 1, wantWidth: 2, wantFrames: 30357},
		{name: "WAV sniffed without a content type", data: hello,
			wantFormat: "wav", wantType: "audio/wav", wantRate: 16000, wantChannels: 1, wantWidth: 2, wantFrames: 30357},
		{name: "WAV under audio/pcm", data: hello, contentType: "audio/pcm", cfg: mono16k,
			wantFormat: "wav", wantType: "audio/wav", wantRate: 16000, wantChannels: 1, wantWidth: 2, wantFrames: 30357},
		{name: "WAV whose rate disagrees with the config", data: hello, contentType: "audio/wav",
			cfg: &PCMConfig{FrameRate: 8000, Channels: 1, SampleWidth: 2}, wantBroken: "request_audio_config says 8000 Hz"},
		{name: "WAV whose width disagrees with the config", data: hello, contentType: "audio/wav",
			cfg: &PCMConfig{FrameRate: 16000, Channels: 1, SampleWidth: 4}, wantBroken: "16-bit; request_audio_config says 16000 Hz, 1 channel(s), 32-bit"},
		{name: "8-bit WAV", data: makeWAV(1, 0, 1, 8000, 8, samplesAt(8, 1)), contentType: "audio/wave",
			wantFormat: "wav", wantType: "audio/wave", wantRate: 8000, wantChannels: 1, wantWidth: 1, wantFrames: 2, wantMono: []int16{16384, -8192}},
		{name: "16-bit stereo WAV", data: makeWAV(1, 0, 2, 22050, 16, samplesAt(16, 2)), contentType: "audio/vnd.wave",
			wantFormat: "wav", wantType: "audio/vnd.wave", wantRate: 22050, wantChannels: 2, wantWidth: 2, wantFrames: 2, wantMono: []int16{16384, -8192}},
		{name: "24-bit WAV", data: makeWAV(1, 0, 1, 48000, 24, samplesAt(24, 1)), contentType: "audio/wav",
			wantFormat: "wav", wantType: "audio/wav", wantRate: 48000, wantChannels: 1, wantWidth: 3, wantFrames: 2, wantMono: []int16{16384, -8192}},
		{name: "32-bit WAV", data: makeWAV(1, 0, 1, 44100, 32, samplesAt(32, 1)), contentType: "audio/wav",
			wantFormat: "wav", wantType: "audio/wav", wantRate: 44100, wantChannels: 1, wantWidth: 4, wantFrames: 2, wantMono: []int16{16384, -8192}},
		{name: "extensible 24-bit 3-channel WAV", data: makeWAV(0xfffe, 1, 3, 16000, 24, samplesAt(24, 3)), contentType: "audio/wav",
			wantFormat: "wav", wantType: "audio/wav", wantRate: 16000, wantChannels: 3, wantWidth: 3, wantFrames: 2, wantMono: []int16{16384, -8192}},
		{name: "32-bit WAV under a width-4 config", data: makeWAV(1, 0, 1, 16000, 32, samplesAt(32, 1)), contentType: "audio/wav",
			cfg: &PCMConfig{FrameRate: 16000, Channels: 1, SampleWidth: 4}, wantFormat: "wav", wantType: "audio/wav",
			wantRate: 16000, wantChannels: 1, wantWidth: 4, wantFrames: 2},
		{name: "float WAV", data: makeWAV(3, 0, 1, 16000, 32, make([]byte, 8)), contentType: "audio/wav", wantUnsupported: "IEEE float"},
		{name: "extensible float WAV", data: makeWAV(0xfffe, 3, 1, 16000, 32, make([]byte, 8)), contentType: "audio/wav", wantUnsupported: "IEEE float"},
		{name: "mu-law WAV", data: makeWAV(7, 0, 1, 8000, 8, make([]byte, 8)), contentType: "audio/wav", wantUnsupported: "encoding 0x0007"},
		{name: "12-bit WAV", data: makeWAV(1, 0, 1, 8000, 12, make([]byte, 8)), contentType: "audio/wav", wantUnsupported: "12-bit"},
		{name: "truncated WAV", data: hello[:1000], contentType: "audio/wav", wantBroken: "truncated WAV: the RIFF header says 60792 bytes, 1000 are present"},
		{name: "WAV cut inside its header", data: hello[:10], contentType: "audio/wav", wantBroken: "truncated WAV: 10 bytes"},
		{name: "WAV with bytes after its RIFF chunk", data: append(slices.Clone(hello), 0, 0), contentType: "audio/wav", wantBroken: "2 bytes follow"},
		{name: "WAV with an empty data chunk", data: makeWAV(1, 0, 1, 16000, 16, nil), contentType: "audio/wav", wantBroken: "no samples"},
		{name: "WAV with half a frame", data: makeWAV(1, 0, 2, 16000, 16, make([]byte, 6)), contentType: "audio/wav", wantBroken: "not a whole number of 4-byte frames"},
		{name: "WAV with no fmt chunk", data: []byte("RIFF\x0c\x00\x00\x00WAVEdata\x00\x00\x00\x00"), contentType: "audio/wav", wantBroken: "no fmt chunk"},
		{name: "WAV with a wrong block align", data: func() []byte {
			b := makeWAV(1, 0, 1, 16000, 16, make([]byte, 4))
			b[32] = 4
			return b
		}(), contentType: "audio/wav", wantBroken: "block align is 4"},
		{name: "RIFF that is not WAVE", data: []byte("RIFF\x04\x00\x00\x00AVI "), contentType: "audio/wav", wantUnsupported: "riff (not WAVE)"},
		{name: "audio/wav without a RIFF header", data: []byte("this is not audio at all"), contentType: "audio/wav", wantBroken: "not a WAV file"},
		{name: "empty body", data: nil, contentType: "audio/wav", wantBroken: "body is empty"},
		{name: "empty PCM body", data: []byte{}, contentType: "audio/pcm", cfg: mono16k, wantBroken: "body is empty"},
		{name: "raw PCM of whole frames", data: pcm, contentType: "audio/pcm", cfg: mono16k,
			wantFormat: "pcm", wantType: "audio/pcm", wantRate: 16000, wantChannels: 1, wantWidth: 2, wantFrames: 1600},
		{name: "raw 32-bit PCM", data: samplesAt(32, 1), contentType: "application/octet-stream", cfg: &PCMConfig{FrameRate: 4000, Channels: 1, SampleWidth: 4},
			wantFormat: "pcm", wantType: "audio/pcm", wantRate: 4000, wantChannels: 1, wantWidth: 4, wantFrames: 2, wantMono: []int16{16384, -8192}},
		{name: "raw PCM without a content type", data: samplesAt(16, 1), cfg: &PCMConfig{FrameRate: 44100, Channels: 1, SampleWidth: 2},
			wantFormat: "pcm", wantType: "audio/pcm", wantRate: 44100, wantChannels: 1, wantWidth: 2, wantFrames: 2, wantMono: []int16{16384, -8192}},
		{name: "raw PCM with half a frame", data: pcm[:3201], contentType: "audio/pcm", cfg: mono16k, wantBroken: "3201 bytes is not a whole number of 2-byte frames"},
		{name: "raw 32-bit PCM with half a frame", data: pcm[:3202], contentType: "audio/pcm", cfg: &PCMConfig{FrameRate: 16000, Channels: 1, SampleWidth: 4}, wantBroken: "not a whole number of 4-byte frames"},
		{name: "raw PCM without a config", data: pcm, contentType: "audio/pcm", wantBroken: "needs a request_audio_config"},
		{name: "config with two channels", data: pcm, contentType: "audio/pcm", cfg: &PCMConfig{FrameRate: 16000, Channels: 2, SampleWidth: 2}, wantBroken: "n_channels 2"},
		{name: "config with a rate below 4000", data: pcm, contentType: "audio/pcm", cfg: &PCMConfig{FrameRate: 3999, Channels: 1, SampleWidth: 2}, wantBroken: "frame_rate 3999"},
		{name: "raw PCM of exactly the longest duration", data: tooLong, contentType: "audio/pcm", cfg: &PCMConfig{FrameRate: 4000, Channels: 1, SampleWidth: 2},
			wantFormat: "pcm", wantType: "audio/pcm", wantRate: 4000, wantChannels: 1, wantWidth: 2, wantFrames: 4000 * 600},
		{name: "raw PCM one frame too long", data: append(slices.Clone(tooLong), 0, 0), contentType: "audio/pcm", cfg: &PCMConfig{FrameRate: 4000, Channels: 1, SampleWidth: 2}, wantBroken: "at most 10m0s"},
		{name: "audio/L16 with parameters", data: []byte{0x40, 0x00, 0xe0, 0x00}, contentType: "audio/L16; rate=8000; channels=1",
			wantFormat: "pcm", wantType: "audio/l16", wantRate: 8000, wantChannels: 1, wantWidth: 2, wantFrames: 2, wantMono: []int16{16384, -8192}},
		{name: "audio/L16 taking the config's rate", data: []byte{0x40, 0x00}, contentType: "audio/L16", cfg: mono16k,
			wantFormat: "pcm", wantType: "audio/l16", wantRate: 16000, wantChannels: 1, wantWidth: 2, wantFrames: 1, wantMono: []int16{16384}},
		{name: "audio/L16 disagreeing with the config", data: []byte{0x40, 0x00}, contentType: "audio/L16;rate=8000", cfg: mono16k, wantBroken: "rate=8000"},
		{name: "audio/L16 without a rate", data: []byte{0x40, 0x00}, contentType: "audio/L16", wantBroken: "needs a rate"},
		{name: "MPEG-2 mono MP3", data: fixture(t, "tone-16k-mono.mp3"), contentType: "audio/mpeg",
			// 2304 bytes of 144-byte frames, 576 samples each; the stereo
			// fixture holds 14 frames of 1152 samples between its tags.
			wantFormat: "mp3", wantType: "audio/mpeg", wantRate: 16000, wantChannels: 1, wantWidth: 2, wantFrames: 16 * 576},
		{name: "MPEG-1 stereo MP3 with ID3 tags", data: fixture(t, "tone-44k-stereo.mp3"), contentType: "audio/mp3",
			wantFormat: "mp3", wantType: "audio/mp3", wantRate: 44100, wantChannels: 2, wantWidth: 2, wantFrames: 14 * 1152},
		{name: "MP3 sniffed by its ID3 tag", data: fixture(t, "tone-44k-stereo.mp3"), contentType: "application/octet-stream",
			wantFormat: "mp3", wantType: "audio/mpeg", wantRate: 44100, wantChannels: 2, wantWidth: 2, wantFrames: 14 * 1152},
		{name: "MP3 sniffed by its frame sync", data: fixture(t, "tone-16k-mono.mp3"),
			wantFormat: "mp3", wantType: "audio/mpeg", wantRate: 16000, wantChannels: 1, wantWidth: 2, wantFrames: 16 * 576},
		{name: "MP3 under a PCM config", data: fixture(t, "tone-16k-mono.mp3"), contentType: "audio/mpeg", cfg: mono16k,
			wantFormat: "mp3", wantType: "audio/mpeg", wantRate: 16000, wantChannels: 1, wantWidth: 2, wantFrames: 16 * 576},
		{name: "truncated MP3", data: fixture(t, "tone-16k-mono.mp3")[:2300], contentType: "audio/mpeg", wantBroken: "truncated MP3: the frame at byte 2160 needs 144 bytes, 140 are present"},
		{name: "MP3 with junk between frames", data: slices.Insert(fixture(t, "tone-16k-mono.mp3"), 288, 1, 2, 3), contentType: "audio/mpeg", wantBroken: "no frame header at byte 288"},
		{name: "MP3 with a truncated ID3 tag", data: []byte("ID3\x03\x00\x00\x00\x00\x10\x00abc"), contentType: "audio/mpeg", wantBroken: "ID3 tag says 2058 bytes"},
		{name: "audio/mpeg that is not MP3", data: []byte("not an mp3 file"), contentType: "audio/mpeg", wantBroken: "not an MP3 file"},
		{name: "MPEG layer II", data: []byte{0xff, 0xfd, 0x90, 0x00, 0, 0, 0, 0}, contentType: "audio/mpeg", wantUnsupported: "layer II"},
		{name: "Ogg sniffed", data: []byte("OggS\x00\x02rest"), contentType: "application/octet-stream", wantUnsupported: "format ogg;"},
		{name: "FLAC under audio/wav", data: []byte("fLaC\x00\x00\x00\x22"), contentType: "audio/wav", wantUnsupported: "format flac;"},
		{name: "FLAC even under a PCM config", data: []byte("fLaC\x00\x00\x00\x22"), contentType: "application/octet-stream", cfg: mono16k, wantUnsupported: "format flac;"},
		{name: "WebM sniffed", data: []byte("\x1a\x45\xdf\xa3\x01\x00"), wantUnsupported: "webm"},
		{name: "MP4 sniffed", data: []byte("\x00\x00\x00\x20ftypM4A "), contentType: "application/octet-stream", wantUnsupported: "mp4"},
		{name: "unknown bytes without a config", data: []byte("hello"), contentType: "application/octet-stream", wantUnsupported: "unrecognised audio"},
		{name: "audio/ogg content type", data: hello, contentType: "audio/ogg", wantUnsupported: "format audio/ogg;"},
		{name: "audio/flac content type", data: hello, contentType: "audio/flac", wantUnsupported: "audio/flac"},
		{name: "video/webm content type", data: hello, contentType: "video/webm", wantUnsupported: "video/webm"},
		{name: "text content type", data: hello, contentType: "text/plain; charset=utf-8", wantUnsupported: "text/plain"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clip, err := Decode(tt.data, tt.contentType, tt.cfg)
			var be *BrokenError
			switch {
			case tt.wantBroken != "":
				if !errors.As(err, &be) || !strings.Contains(be.Reason, tt.wantBroken) {
					t.Fatalf("got %v, want a *BrokenError saying %q", err, tt.wantBroken)
				}
				return
			case tt.wantUnsupported != "":
				if !errors.Is(err, ErrUnsupportedFormat) || !strings.Contains(err.Error(), tt.wantUnsupported) || !strings.Contains(err.Error(), Accepted) {
					t.Fatalf("got %v, want ErrUnsupportedFormat naming %q and the accepted formats", err, tt.wantUnsupported)
				}
				var ue *UnsupportedError
				if !errors.As(err, &ue) {
					t.Fatalf("got %T, want *UnsupportedError", err)
				}
				return
			case err != nil:
				t.Fatalf("got error %v, want none", err)
			}
			got := [...]any{clip.Format, clip.ContentType, clip.SampleRate, clip.Channels, clip.SampleWidth, clip.Frames}
			want := [...]any{tt.wantFormat, tt.wantType, tt.wantRate, tt.wantChannels, tt.wantWidth, tt.wantFrames}
			if got != want {
				t.Errorf("got format, type, rate, channels, width, frames %v, want %v", got, want)
			}
			if d := time.Duration(tt.wantFrames) * time.Second / time.Duration(tt.wantRate); clip.Duration != d {
				t.Errorf("got duration %v, want %v", clip.Duration, d)
			}
			if !bytes.Equal(clip.Data, tt.data) {
				t.Error("got Data different from the audio given")
			}
			mono := clip.Mono16()
			if int64(len(mono)) != clip.Frames {
				t.Errorf("got %d mono samples, want %d", len(mono), clip.Frames)
			}
			if tt.wantMono != nil && !slices.Equal(mono, tt.wantMono) {
				t.Errorf("got mono samples %v, want %v", mono, tt.wantMono)
			}
		})
	}
}

// TestDecodeFixtureDuration pins the SDK fixture's length: 30357 frames at
// 16 kHz.
func TestDecodeFixtureDuration(t *testing.T) {
	clip, err := Decode(fixture(t, "hello.wav"), "audio/wav", &PCMConfig{FrameRate: 16000, Channels: 1, SampleWidth: 2})
	if err != nil {
		t.Fatal(err)
	}
	if want := 1897312500 * time.Nanosecond; clip.Duration != want {
		t.Errorf("got %v, want %v", clip.Duration, want)
	}
}

// TestDecodeMP3Samples checks the MP3 fixtures decode to the tone they
// were made from: 440 Hz at half full scale (RMS about 11585).
func TestDecodeMP3Samples(t *testing.T) {
	for _, name := range []string{"tone-16k-mono.mp3", "tone-44k-stereo.mp3"} {
		t.Run(name, func(t *testing.T) {
			clip, err := Decode(fixture(t, name), "audio/mpeg", nil)
			if err != nil {
				t.Fatal(err)
			}
			s := clip.Mono16()
			// Skip the encoder's delay at the start and padding at the end.
			s = s[len(s)/5 : len(s)*4/5]
			crossings, sum := 0, 0.0
			for i := 1; i < len(s); i++ {
				if (s[i-1] < 0) != (s[i] < 0) {
					crossings++
				}
				sum += float64(s[i]) * float64(s[i])
			}
			freq := float64(crossings) / 2 / (float64(len(s)) / float64(clip.SampleRate))
			if freq < 420 || freq > 460 {
				t.Errorf("got a %.0f Hz tone, want 440 Hz", freq)
			}
			if rms := math.Sqrt(sum / float64(len(s))); rms < 10000 || rms > 13000 {
				t.Errorf("got RMS %.0f, want about 11585", rms)
			}
		})
	}
}

func TestBuiltinTranscribe(t *testing.T) {
	threeChannels, err := Decode(makeWAV(1, 0, 3, 8000, 16, make([]byte, 6*8000)), "audio/wav", nil)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		data []byte
		want string
	}{
		{"SDK fixture", fixture(t, "hello.wav"), "[voice message: 1.90 s of audio, 16000 Hz, mono]"},
		{"stereo MP3", fixture(t, "tone-44k-stereo.mp3"), "[voice message: 0.37 s of audio, 44100 Hz, stereo]"},
		{"three channels", threeChannels.Data, "[voice message: 1.00 s of audio, 8000 Hz, 3 channels]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clip, err := Decode(tt.data, "", nil)
			if err != nil {
				t.Fatal(err)
			}
			got, err := Builtin{}.Transcribe(context.Background(), clip, "eng")
			if err != nil || got != tt.want {
				t.Errorf("got %q, %v, want %q", got, err, tt.want)
			}
		})
	}
}

func TestEncodeWAV(t *testing.T) {
	samples := []int16{0, 1, -1, 32767, -32768, 1234}
	clip, err := Decode(EncodeWAV(samples, 16000), "audio/wav", &PCMConfig{FrameRate: 16000, Channels: 1, SampleWidth: 2})
	if err != nil {
		t.Fatal(err)
	}
	if got := clip.Mono16(); !slices.Equal(got, samples) {
		t.Errorf("got %v, want %v", got, samples)
	}
	if len(clip.Data) != 44+12 {
		t.Errorf("got %d bytes, want 56", len(clip.Data))
	}
}

func TestChunks(t *testing.T) {
	pcm := []byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}
	tests := []struct {
		name string
		pcm  []byte
		max  int
		want []int
	}{
		{"even max", pcm, 4, []int{4, 4, 2}},
		{"odd max rounds down", pcm, 5, []int{4, 4, 2}},
		{"max below a sample", pcm, 1, []int{2, 2, 2, 2, 2}},
		{"max above the length", pcm, 100, []int{10}},
		{"odd length drops half a sample", pcm[:7], 4, []int{4, 2}},
		{"empty", nil, 4, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Chunks(tt.pcm, tt.max)
			var sizes []int
			for _, c := range got {
				sizes = append(sizes, len(c))
			}
			if !slices.Equal(sizes, tt.want) {
				t.Errorf("got piece sizes %v, want %v", sizes, tt.want)
			}
			if joined := bytes.Join(got, nil); !bytes.Equal(joined, tt.pcm[:len(tt.pcm)&^1]) {
				t.Errorf("got pieces joining to %v, want %v", joined, tt.pcm[:len(tt.pcm)&^1])
			}
		})
	}
}

func TestResample(t *testing.T) {
	ramp := make([]int16, 300)
	for i := range ramp {
		ramp[i] = int16(i * 30)
	}
	tests := []struct {
		name     string
		from, to int
		wantLen  int
		wantAt   map[int]int16
	}{
		{"24 kHz to 16 kHz", 24000, 16000, 200, map[int]int16{0: 0, 1: 45, 2: 90, 199: 8955}},
		{"8 kHz to 16 kHz", 8000, 16000, 600, map[int]int16{0: 0, 1: 15, 2: 30, 599: 8970}},
		{"same rate", 16000, 16000, 300, map[int]int16{299: 8970}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Resample(ramp, tt.from, tt.to)
			if len(got) != tt.wantLen {
				t.Fatalf("got %d samples, want %d", len(got), tt.wantLen)
			}
			for i, want := range tt.wantAt {
				if got[i] != want {
					t.Errorf("got sample %d = %d, want %d", i, got[i], want)
				}
			}
		})
	}
}

func BenchmarkDecode(b *testing.B) {
	for _, name := range []string{"hello.wav", "tone-44k-stereo.mp3"} {
		data, err := os.ReadFile("testdata/" + name)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				clip, err := Decode(data, "", nil)
				if err != nil {
					b.Fatal(err)
				}
				_ = clip.Mono16()
			}
		})
	}
}
