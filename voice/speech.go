package voice

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"net/url"
	"strings"
	"time"

	"golang.org/x/text/language"
)

// Transcriber turns a user's audio into the text the engine reads.
type Transcriber interface {
	// Name is the transcriber's name as flags and records spell it.
	Name() string
	// Transcribe returns the text of clip. language is the ISO 639 code
	// the user is expected to speak ("eng"), or empty.
	Transcribe(ctx context.Context, clip Clip, language string) (string, error)
}

// Synthesizer turns an agent's text into speech.
type Synthesizer interface {
	// Name is the synthesizer's name as flags and records spell it.
	Name() string
	// Synthesize returns text spoken as a 16 kHz mono 16-bit WAV clip,
	// the form of audio fillers and, through Clip.Mono16 and PCM16, of a
	// new-message event's audio pieces. voiceID is the agent's
	// voice_config.voice_id.
	Synthesize(ctx context.Context, text, language, voiceID string) (Clip, error)
}

// SynthesisRate is the sample rate of every synthesized clip.
const SynthesisRate = 16000

// Builtin is the transcriber used without a speech model. It recognises no
// speech: its transcript describes the clip, for example
// "[voice message: 1.90 s of audio, 16000 Hz, mono]", so a voice
// interaction goes through the engine and its records show what was heard.
type Builtin struct{}

var _ Transcriber = Builtin{}

// Name returns "builtin".
func (Builtin) Name() string { return "builtin" }

// Transcribe describes clip; language is ignored.
func (Builtin) Transcribe(_ context.Context, clip Clip, _ string) (string, error) {
	channels := fmt.Sprintf("%d channels", clip.Channels)
	switch clip.Channels {
	case 1:
		channels = "mono"
	case 2:
		channels = "stereo"
	}
	return fmt.Sprintf("[voice message: %.2f s of audio, %d Hz, %s]", clip.Duration.Seconds(), clip.SampleRate, channels), nil
}

// OpenAIConfig says how to reach a server speaking the OpenAI-compatible
// audio protocol.
type OpenAIConfig struct {
	// URL is the API base, such as "https://host/v1"; the transcriber posts
	// to URL/audio/transcriptions and the synthesizer to URL/audio/speech.
	URL string
	// Key is sent as a bearer token. It never appears in errors.
	Key string
	// Model defaults to "whisper-1" for transcription and "tts-1" for
	// synthesis.
	Model string
	// Voice, when set, is the voice every synthesis uses; agents' voice
	// IDs name voices of the hosted API, which another server does not
	// know. When empty, the agent's voice ID is sent.
	Voice string
	// Timeout bounds each call, 60 s when zero.
	Timeout time.Duration
}

// ErrTimeout is matched (errors.Is) by a *ProviderError for a call that
// ran out of time.
var ErrTimeout = errors.New("voice: speech server timed out")

// ProviderError is a failed call to a speech server: no answer, an error
// status, or an answer that cannot be used.
type ProviderError struct {
	// Op is "transcribe" or "synthesize".
	Op string
	// Status is the server's HTTP status, or 0 when it gave none.
	Status int
	// Reason says what went wrong, with the key removed.
	Reason string
	// Err is ErrTimeout, context.Canceled, or nil.
	Err error
}

func (e *ProviderError) Error() string {
	if e.Status != 0 {
		return fmt.Sprintf("voice: %s: speech server answered %d: %s", e.Op, e.Status, e.Reason)
	}
	return fmt.Sprintf("voice: %s: %s", e.Op, e.Reason)
}

func (e *ProviderError) Unwrap() error { return e.Err }

// openAI is what the transcriber and synthesizer share: the config and
// one POST with the error handling of both.
type openAI struct {
	cfg    OpenAIConfig
	base   string
	client *http.Client
}

func newOpenAI(cfg OpenAIConfig, model string) (openAI, error) {
	if u, err := url.Parse(cfg.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return openAI{}, errors.New("voice: the speech server URL is not an http(s) URL")
	}
	if cfg.Model == "" {
		cfg.Model = model
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 60 * time.Second
	}
	return openAI{cfg: cfg, base: strings.TrimSuffix(cfg.URL, "/"), client: &http.Client{}}, nil
}

// post sends body to path and returns the answer's body when the status
// is 2xx and it holds at most limit bytes.
func (o openAI) post(ctx context.Context, op, path, contentType string, body []byte, limit int64) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, o.cfg.Timeout)
	defer cancel()
	fail := func(status int, reason string, err error) ([]byte, error) {
		if errors.Is(err, context.DeadlineExceeded) || errors.Is(ctx.Err(), context.DeadlineExceeded) {
			err = ErrTimeout
		} else if !errors.Is(err, context.Canceled) {
			err = nil
		}
		if o.cfg.Key != "" {
			reason = strings.ReplaceAll(reason, o.cfg.Key, "[key]")
		}
		// Cut after redacting, so no part of the key can be left at the end.
		if len(reason) > 300 {
			reason = strings.ToValidUTF8(reason[:300], "") + "..."
		}
		return nil, &ProviderError{Op: op, Status: status, Reason: reason, Err: err}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, o.base+path, bytes.NewReader(body))
	if err != nil {
		return fail(0, "building the request failed", err)
	}
	req.Header.Set("Content-Type", contentType)
	if o.cfg.Key != "" {
		req.Header.Set("Authorization", "Bearer "+o.cfg.Key)
	}
	resp, err := o.client.Do(req)
	if err != nil {
		// The *url.Error names the URL, which may hold credentials; its
		// cause is enough.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return fail(0, "no answer from "+req.URL.Host+": "+err.Error(), err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return fail(resp.StatusCode, "reading the answer failed: "+err.Error(), err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		msg := strings.TrimSpace(string(data))
		var e struct {
			Error struct{ Message string } `json:"error"`
		}
		if json.Unmarshal(data, &e) == nil && e.Error.Message != "" {
			msg = e.Error.Message
		}
		return fail(resp.StatusCode, msg, nil)
	}
	if int64(len(data)) > limit {
		return fail(resp.StatusCode, fmt.Sprintf("the answer is larger than %d bytes", limit), nil)
	}
	return data, nil
}

// OpenAITranscriber transcribes with POST {URL}/audio/transcriptions.
type OpenAITranscriber struct{ openAI }

var _ Transcriber = (*OpenAITranscriber)(nil)

// NewOpenAITranscriber checks cfg and returns a transcriber for it.
func NewOpenAITranscriber(cfg OpenAIConfig) (*OpenAITranscriber, error) {
	o, err := newOpenAI(cfg, "whisper-1")
	return &OpenAITranscriber{o}, err
}

// Name returns "openai".
func (*OpenAITranscriber) Name() string { return "openai" }

// Transcribe sends the clip as a file: WAV and MP3 as given, raw PCM
// wrapped in a WAV header since the protocol takes files. The language is
// sent as its two-letter code where one exists ("eng" → "en").
func (t *OpenAITranscriber) Transcribe(ctx context.Context, clip Clip, lang string) (string, error) {
	file, name, ctype := clip.Data, "audio."+clip.Format, clip.ContentType
	if clip.Format == "pcm" {
		file, name, ctype = EncodeWAV(clip.Mono16(), clip.SampleRate), "audio.wav", "audio/wav"
	}
	var body bytes.Buffer
	w := multipart.NewWriter(&body)
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", fmt.Sprintf(`form-data; name="file"; filename="%s"`, name))
	h.Set("Content-Type", ctype)
	part, _ := w.CreatePart(h) // writes to a bytes.Buffer cannot fail
	part.Write(file)
	w.WriteField("model", t.cfg.Model)
	w.WriteField("response_format", "json")
	if base, err := language.ParseBase(lang); lang != "" && err == nil {
		w.WriteField("language", base.String())
	}
	w.Close()
	data, err := t.post(ctx, "transcribe", "/audio/transcriptions", w.FormDataContentType(), body.Bytes(), 1<<20)
	if err != nil {
		return "", err
	}
	var answer struct {
		Text *string `json:"text"`
	}
	if json.Unmarshal(data, &answer) != nil || answer.Text == nil {
		return "", &ProviderError{Op: "transcribe", Reason: "the answer is not JSON with a text field"}
	}
	return *answer.Text, nil
}

// OpenAISynthesizer synthesizes with POST {URL}/audio/speech.
type OpenAISynthesizer struct{ openAI }

var _ Synthesizer = (*OpenAISynthesizer)(nil)

// NewOpenAISynthesizer checks cfg and returns a synthesizer for it.
func NewOpenAISynthesizer(cfg OpenAIConfig) (*OpenAISynthesizer, error) {
	o, err := newOpenAI(cfg, "tts-1")
	return &OpenAISynthesizer{o}, err
}

// Name returns "openai".
func (*OpenAISynthesizer) Name() string { return "openai" }

// Synthesize asks for WAV, and reads whatever audio comes back (WAV with
// streaming placeholder sizes, MP3) before resampling it to 16 kHz mono.
// The protocol takes no language; the server infers it from the text.
func (s *OpenAISynthesizer) Synthesize(ctx context.Context, text, _, voiceID string) (Clip, error) {
	voiceName := s.cfg.Voice
	if voiceName == "" {
		voiceName = voiceID
	}
	if strings.TrimSpace(text) == "" || voiceName == "" {
		return Clip{}, &ProviderError{Op: "synthesize", Reason: "nothing to say, or no voice to say it with"}
	}
	req, _ := json.Marshal(map[string]string{"model": s.cfg.Model, "input": text, "voice": voiceName, "response_format": "wav"})
	data, err := s.post(ctx, "synthesize", "/audio/speech", "application/json", req, 64<<20)
	if err != nil {
		return Clip{}, err
	}
	// The content type is not trusted: servers label WAV in many ways.
	got, err := decode(data, "", nil, true)
	if err != nil {
		return Clip{}, &ProviderError{Op: "synthesize", Reason: "the answer is not usable audio: " + err.Error()}
	}
	clip, err := Decode(EncodeWAV(Resample(got.Mono16(), got.SampleRate, SynthesisRate), SynthesisRate), "audio/wav", nil)
	if err != nil {
		// Too short to hold a sample at 16 kHz; never the client's fault.
		return Clip{}, &ProviderError{Op: "synthesize", Reason: "the answer is not usable audio: " + err.Error()}
	}
	return clip, nil
}
