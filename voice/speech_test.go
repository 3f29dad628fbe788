package voice

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"maps"
	"math"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"
)

const testKey = "sk-test-0123456789abcdef"

// speechServer answers like an OpenAI-compatible audio server, after
// checking the bearer key.
func speechServer(t *testing.T, handle func(w http.ResponseWriter, r *http.Request)) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if got := r.Header.Get("Authorization"); got != "Bearer "+testKey {
			t.Errorf("got Authorization %q, want the bearer key", got)
		}
		if r.Method != http.MethodPost {
			t.Errorf("got method %s, want POST", r.Method)
		}
		handle(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// streamedWAV is a 440 Hz tone as a speech server streams WAV: its RIFF
// and data sizes are 0xFFFFFFFF because they were unknown when written.
func streamedWAV(rate int, d time.Duration) []byte {
	n := int(int64(rate) * int64(d) / int64(time.Second))
	samples := make([]int16, n)
	for i := range samples {
		samples[i] = int16(10000 * math.Sin(2*math.Pi*440*float64(i)/float64(rate)))
	}
	b := EncodeWAV(samples, rate)
	binary.LittleEndian.PutUint32(b[4:], 0xffffffff)
	binary.LittleEndian.PutUint32(b[40:], 0xffffffff)
	return b
}

func TestOpenAITranscriber(t *testing.T) {
	hello, err := Decode(fixture(t, "hello.wav"), "audio/wav", nil)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := Decode(samplesAt(16, 1), "audio/pcm", &PCMConfig{FrameRate: 8000, Channels: 1, SampleWidth: 2})
	if err != nil {
		t.Fatal(err)
	}
	mp3Clip, err := Decode(fixture(t, "tone-16k-mono.mp3"), "audio/mpeg", nil)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name                    string
		clip                    Clip
		language, model         string
		wantFile, wantType      string
		wantModel, wantLanguage string
	}{
		{"WAV as given", hello, "eng", "", "audio.wav", "audio/wav", "whisper-1", "en"},
		{"raw PCM wrapped in WAV", raw, "spa", "my-whisper", "audio.wav", "audio/wav", "my-whisper", "es"},
		{"MP3 as given, no language", mp3Clip, "", "", "audio.mp3", "audio/mpeg", "whisper-1", ""},
		{"a language without a two-letter code", hello, "haw", "", "audio.wav", "audio/wav", "whisper-1", "haw"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := speechServer(t, func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path != "/v1/audio/transcriptions" {
					t.Errorf("got path %s, want /v1/audio/transcriptions", r.URL.Path)
				}
				if err := r.ParseMultipartForm(1 << 20); err != nil {
					t.Errorf("got %v, want a multipart body", err)
					return
				}
				got := [...]string{r.FormValue("model"), r.FormValue("language"), r.FormValue("response_format")}
				if want := [...]string{tt.wantModel, tt.wantLanguage, "json"}; got != want {
					t.Errorf("got model, language, response_format %q, want %q", got, want)
				}
				f, h, err := r.FormFile("file")
				if err != nil {
					t.Error(err)
					return
				}
				data, _ := io.ReadAll(f)
				if h.Filename != tt.wantFile || h.Header.Get("Content-Type") != tt.wantType {
					t.Errorf("got file %q of type %q, want %q of type %q", h.Filename, h.Header.Get("Content-Type"), tt.wantFile, tt.wantType)
				}
				sent, err := Decode(data, h.Header.Get("Content-Type"), nil)
				if err != nil || !slices.Equal(sent.Mono16(), tt.clip.Mono16()) || sent.SampleRate != tt.clip.SampleRate {
					t.Errorf("got a file that decodes to %d samples at %d Hz (%v), want the clip's %d at %d Hz",
						sent.Frames, sent.SampleRate, err, tt.clip.Frames, tt.clip.SampleRate)
				}
				w.Write([]byte(`{"text":"hello there"}`))
			})
			tr, err := NewOpenAITranscriber(OpenAIConfig{URL: srv.URL + "/v1/", Key: testKey, Model: tt.model})
			if err != nil {
				t.Fatal(err)
			}
			got, err := tr.Transcribe(context.Background(), tt.clip, tt.language)
			if err != nil || got != "hello there" {
				t.Errorf("got %q, %v, want %q", got, err, "hello there")
			}
		})
	}
}

func TestOpenAISynthesizer(t *testing.T) {
	tests := []struct {
		name, voice, voiceID string
		answer               []byte
		wantVoice            string
		wantFrames           int64
	}{
		{"streamed 24 kHz WAV, the configured voice", "alloy", "agent-voice", streamedWAV(24000, 250*time.Millisecond), "alloy", 4000},
		{"the agent's voice when none is configured", "", "agent-voice", streamedWAV(16000, 100*time.Millisecond), "agent-voice", 1600},
		{"MP3 although WAV was asked", "alloy", "", fixture(t, "tone-44k-stereo.mp3"), "alloy", 14 * 1152 * 16000 / 44100},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := speechServer(t, func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path != "/v1/audio/speech" || r.Header.Get("Content-Type") != "application/json" {
					t.Errorf("got path %s of type %q, want /v1/audio/speech of application/json", r.URL.Path, r.Header.Get("Content-Type"))
				}
				var req map[string]string
				if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
					t.Error(err)
					return
				}
				want := map[string]string{"model": "tts-1", "input": "Hola, amigo.", "voice": tt.wantVoice, "response_format": "wav"}
				if !maps.Equal(req, want) {
					t.Errorf("got request %v, want %v", req, want)
				}
				w.Header().Set("Content-Type", "audio/wav")
				w.Write(tt.answer)
			})
			s, err := NewOpenAISynthesizer(OpenAIConfig{URL: srv.URL + "/v1", Key: testKey, Voice: tt.voice})
			if err != nil {
				t.Fatal(err)
			}
			clip, err := s.Synthesize(context.Background(), "Hola, amigo.", "spa", tt.voiceID)
			if err != nil {
				t.Fatal(err)
			}
			got := [...]any{clip.Format, clip.SampleRate, clip.Channels, clip.SampleWidth, clip.Frames}
			if want := [...]any{"wav", SynthesisRate, 1, 2, tt.wantFrames}; got != want {
				t.Errorf("got format, rate, channels, width, frames %v, want %v", got, want)
			}
			// What the synthesizer returns is a WAV file Decode accepts
			// strictly, as fillers are sent.
			if _, err := Decode(clip.Data, "audio/wav", &PCMConfig{FrameRate: 16000, Channels: 1, SampleWidth: 2}); err != nil {
				t.Errorf("got %v decoding the synthesized WAV, want none", err)
			}
		})
	}
}

// TestOpenAIFailures runs every failure against both the transcriber and
// the synthesizer: the error is a *ProviderError, says what happened, and
// never holds the key, even when the server echoes it.
func TestOpenAIFailures(t *testing.T) {
	clip, err := Decode(fixture(t, "hello.wav"), "audio/wav", nil)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name        string
		handle      func(w http.ResponseWriter, r *http.Request)
		ctx         func() context.Context
		wantStatus  int
		wantIn      string
		wantTimeout bool
		wantCancel  bool
	}{
		{name: "500 echoing the key", handle: func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusInternalServerError)
			w.Write([]byte(`{"error":{"message":"Incorrect API key provided: ` + testKey + `"}}`))
		}, wantStatus: 500, wantIn: "Incorrect API key provided: [key]"},
		{name: "long body with the key across the cut", handle: func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, strings.Repeat("x", 290)+testKey+strings.Repeat("y", 500), http.StatusBadGateway)
		}, wantStatus: 502, wantIn: strings.Repeat("x", 290) + "[key]"},
		{name: "401 with a plain body", handle: func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "bad key "+testKey, http.StatusUnauthorized)
		}, wantStatus: 401, wantIn: "bad key [key]"},
		{name: "an answer that is not the protocol's", handle: func(w http.ResponseWriter, r *http.Request) {
			w.Write([]byte("<html>proxy error</html>"))
		}, wantIn: "the answer is not"},
		{name: "one sample at 24 kHz", handle: func(w http.ResponseWriter, r *http.Request) {
			// For the synthesizer, fewer samples than one at 16 kHz.
			w.Write(EncodeWAV([]int16{5}, 24000))
		}, wantIn: "the answer is not"},
		{name: "slow server", handle: hang, wantTimeout: true, wantIn: "no answer from"},
		{name: "cancelled caller", handle: hang, ctx: func() context.Context {
			ctx, cancel := context.WithCancel(context.Background())
			time.AfterFunc(20*time.Millisecond, cancel)
			return ctx
		}, wantCancel: true},
	}
	for _, tt := range tests {
		srv := speechServer(t, tt.handle)
		cfg := OpenAIConfig{URL: srv.URL, Key: testKey, Voice: "alloy", Timeout: 100 * time.Millisecond}
		if tt.ctx != nil {
			cfg.Timeout = time.Minute
		}
		tr, err := NewOpenAITranscriber(cfg)
		if err != nil {
			t.Fatal(err)
		}
		sy, err := NewOpenAISynthesizer(cfg)
		if err != nil {
			t.Fatal(err)
		}
		calls := map[string]func(context.Context) error{
			"transcribe": func(ctx context.Context) error { _, err := tr.Transcribe(ctx, clip, "eng"); return err },
			"synthesize": func(ctx context.Context) error { _, err := sy.Synthesize(ctx, "Hi.", "eng", ""); return err },
		}
		for op, call := range calls {
			t.Run(tt.name+"/"+op, func(t *testing.T) {
				ctx := context.Background()
				if tt.ctx != nil {
					ctx = tt.ctx()
				}
				err := call(ctx)
				var pe *ProviderError
				if !errors.As(err, &pe) {
					t.Fatalf("got %v, want a *ProviderError", err)
				}
				if pe.Op != op || pe.Status != tt.wantStatus || !strings.Contains(err.Error(), tt.wantIn) {
					t.Errorf("got %q (op %s, status %d), want op %s, status %d, saying %q", err, pe.Op, pe.Status, op, tt.wantStatus, tt.wantIn)
				}
				if got := errors.Is(err, ErrTimeout); got != tt.wantTimeout {
					t.Errorf("got errors.Is(err, ErrTimeout) %v, want %v", got, tt.wantTimeout)
				}
				if got := errors.Is(err, context.Canceled); got != tt.wantCancel {
					t.Errorf("got errors.Is(err, context.Canceled) %v, want %v", got, tt.wantCancel)
				}
				var be *BrokenError
				if errors.As(err, &be) || errors.Is(err, ErrUnsupportedFormat) {
					t.Errorf("got %q matching a client fault, want a server fault only", err)
				}
				if strings.Contains(err.Error(), testKey[:10]) {
					t.Errorf("got (part of) the key in %q", err)
				}
			})
		}
	}
}

// hang answers only when the client goes away, so a call that ends does
// so by its own timeout or cancellation. The body is read first: the
// server notices a client leaving only once it reads past the body.
func hang(w http.ResponseWriter, r *http.Request) {
	io.Copy(io.Discard, r.Body)
	<-r.Context().Done()
}

func TestNewOpenAIConfig(t *testing.T) {
	for _, url := range []string{"", "not a url", "ftp://host/v1", "http://", "://" + testKey} {
		t.Run(url, func(t *testing.T) {
			_, err := NewOpenAITranscriber(OpenAIConfig{URL: url, Key: testKey})
			if err == nil {
				t.Fatalf("got no error for URL %q", url)
			}
			if strings.Contains(err.Error(), testKey) {
				t.Errorf("got the key in %q", err)
			}
		})
	}
}
