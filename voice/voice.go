// Package voice reads the audio of voice interactions and turns speech into
// text and back. Decode checks a user's audio (WAV, raw PCM or MP3) and
// describes it as a Clip; a Transcriber turns a Clip into text and a
// Synthesizer turns an agent's text into a Clip.
//
// Without a speech model the server uses Builtin, which does not recognise
// speech: its transcript only describes the audio, as
//
//	[voice message: 1.90 s of audio, 16000 Hz, mono]
//
// (seconds with two decimals; "mono", "stereo" or "N channels"). There is
// no built-in Synthesizer: with none configured, the API refuses
// response_format=voice. With a speech server configured, OpenAITranscriber
// and OpenAISynthesizer call it over the OpenAI-compatible audio protocol.
// See DECISIONS.md, "What does voice do without a speech model?".
package voice

import (
	"encoding/binary"
	"errors"
	"fmt"
	"mime"
	"strconv"
	"strings"
	"time"
)

// MaxDuration is the longest audio Decode accepts. A voice message is
// seconds long; the cap bounds the memory an MP3, which expands about a
// hundredfold when decoded, can take.
const MaxDuration = 10 * time.Minute

// ErrUnsupportedFormat is matched (errors.Is) by every *UnsupportedError.
var ErrUnsupportedFormat = errors.New("voice: unsupported audio format")

// Accepted lists the audio formats Decode reads, for messages.
const Accepted = "WAV (PCM, 8/16/24/32-bit), raw PCM (16 or 32-bit, per request_audio_config), MP3 (MPEG-1/2 Layer III)"

// UnsupportedError is audio in a format Decode does not read (Ogg, FLAC,
// WebM, MP4, ...), or a content type it does not accept. The API answers
// it with 415.
type UnsupportedError struct {
	// Found names the format found, or the content type declared.
	Found string
}

func (e *UnsupportedError) Error() string {
	return fmt.Sprintf("voice: unsupported audio format %s; accepted: %s", e.Found, Accepted)
}

// Is makes errors.Is(err, ErrUnsupportedFormat) true.
func (e *UnsupportedError) Is(target error) bool { return target == ErrUnsupportedFormat }

// BrokenError is audio in an accepted format that cannot be used: empty,
// truncated, corrupt, inconsistent with request_audio_config, or longer
// than MaxDuration. The API answers it with 400.
type BrokenError struct {
	Reason string
}

func (e *BrokenError) Error() string { return "voice: unusable audio: " + e.Reason }

func broken(format string, args ...any) error {
	return &BrokenError{Reason: fmt.Sprintf(format, args...)}
}

// PCMConfig is a request_audio_config of type "pcm": the layout of raw PCM
// audio, which carries no header of its own.
type PCMConfig struct {
	FrameRate   int // samples per second, 4000 to 44100
	Channels    int // n_channels; only 1
	SampleWidth int // bytes per sample: 2 or 4, signed little-endian
}

func (c PCMConfig) check() error {
	switch {
	case c.FrameRate < 4000 || c.FrameRate > 44100:
		return broken("request_audio_config frame_rate %d is not between 4000 and 44100", c.FrameRate)
	case c.Channels != 1:
		return broken("request_audio_config n_channels %d is not 1", c.Channels)
	case c.SampleWidth != 2 && c.SampleWidth != 4:
		return broken("request_audio_config sample_width %d is not 2 or 4", c.SampleWidth)
	}
	return nil
}

// Clip is decoded, checked audio.
type Clip struct {
	// Format is "wav", "pcm" or "mp3".
	Format string
	// ContentType is the media type the audio came with, without
	// parameters ("audio/x-wav"), when it names the format found;
	// otherwise (none, a generic one, or a WAV sent as audio/pcm) it is
	// the format's own: audio/wav, audio/mpeg or audio/pcm.
	ContentType string
	SampleRate  int
	Channels    int
	// SampleWidth is bytes per sample of one channel (1 to 4); 2 for
	// MP3, which decodes to 16-bit samples.
	SampleWidth int
	// Frames is the number of samples per channel.
	Frames   int64
	Duration time.Duration
	// Data is the audio exactly as given.
	Data []byte

	pcm       []byte  // the samples within Data (WAV, PCM)
	bigEndian bool    // audio/L16 is network byte order (RFC 2586)
	mono      []int16 // decoded MP3, already mono
}

// Mono16 returns the clip's samples as 16-bit mono: channels are averaged,
// and wider or narrower samples are scaled to 16 bits. The result is the
// caller's to change.
func (c Clip) Mono16() []int16 {
	if c.Format == "mp3" {
		return append([]int16(nil), c.mono...)
	}
	w, n := c.SampleWidth, c.Channels
	if w < 1 || w > 4 || n < 1 {
		return nil
	}
	frames := len(c.pcm) / (w * n)
	out := make([]int16, frames)
	for f := range frames {
		sum := 0
		for ch := range n {
			b := c.pcm[(f*n+ch)*w:]
			var s int16
			switch {
			case w == 1:
				s = int16(int(b[0])-128) << 8 // 8-bit WAV is unsigned
			case c.bigEndian:
				s = int16(binary.BigEndian.Uint16(b))
			default:
				// The most significant two bytes of a little-endian sample.
				s = int16(binary.LittleEndian.Uint16(b[w-2:]))
			}
			sum += int(s)
		}
		out[f] = int16(sum / n)
	}
	return out
}

// Decode reads and checks audio as a client sent it. contentType is the
// request's content type; cfg is request_audio_config when its type is
// "pcm", or nil. Raw PCM is read as cfg describes it. A WAV file is
// accepted whatever the content type or cfg says, since the Python SDK
// sends WAV under a PCM config; with a cfg, the WAV's own header must
// agree with it (rate, channels, sample width), else the audio is a
// *BrokenError. MP3 ignores cfg. A generic content type
// (application/octet-stream, or none) is sniffed by magic bytes.
//
// Errors are *UnsupportedError (the API's 415) or *BrokenError (its 400).
// See DECISIONS.md, "Why does `voice` check audio itself, and how
// strictly?".
func Decode(data []byte, contentType string, cfg *PCMConfig) (Clip, error) {
	return decode(data, contentType, cfg, false)
}

// decode is Decode; lenient accepts the WAV a speech server streams, whose
// RIFF and data sizes are placeholders (0 or 0xFFFFFFFF).
func decode(data []byte, contentType string, cfg *PCMConfig, lenient bool) (Clip, error) {
	mediaType, params := "", map[string]string(nil)
	if contentType != "" {
		var err error
		if mediaType, params, err = mime.ParseMediaType(contentType); err != nil {
			return Clip{}, &UnsupportedError{Found: fmt.Sprintf("%q (unreadable content type)", contentType)}
		}
	}
	if cfg != nil {
		if err := cfg.check(); err != nil {
			return Clip{}, err
		}
	}
	var declared string
	switch mediaType {
	case "audio/wav", "audio/x-wav", "audio/wave", "audio/vnd.wave":
		declared = "wav"
	case "audio/mpeg", "audio/mp3":
		declared = "mp3"
	case "audio/pcm":
		declared = "pcm"
	case "audio/l16": // mime lowercases media types
		declared = "l16"
	case "", "application/octet-stream":
	default:
		return Clip{}, &UnsupportedError{Found: mediaType}
	}
	if len(data) == 0 {
		return Clip{}, broken("no audio: the body is empty")
	}

	found := sniff(data)
	var (
		c   Clip
		err error
	)
	switch {
	case found == "wav":
		c, err = decodeWAV(data, cfg, lenient)
	case found != "" && found != "mp3":
		return Clip{}, &UnsupportedError{Found: found}
	case found == "mp3" || declared == "mp3":
		c, err = decodeMP3(data)
	case declared == "wav":
		return Clip{}, broken("not a WAV file: it does not start with a RIFF/WAVE header")
	case declared == "l16":
		c, err = decodeL16(data, params, cfg)
	case cfg != nil:
		c, err = decodeRaw(data, *cfg)
	case declared == "pcm":
		return Clip{}, broken("raw PCM needs a request_audio_config of type pcm to say its layout")
	case looksLikeMP3(data):
		c, err = decodeMP3(data)
	default:
		return Clip{}, &UnsupportedError{Found: "unrecognised audio (no known header)"}
	}
	if err != nil {
		return Clip{}, err
	}
	c.Data = data
	c.ContentType = mediaType
	if declared != c.Format && !(declared == "l16" && c.Format == "pcm") {
		c.ContentType = map[string]string{"wav": "audio/wav", "mp3": "audio/mpeg", "pcm": "audio/pcm"}[c.Format]
	}
	if c.Frames == 0 {
		return Clip{}, broken("no audio: the %s data holds no samples", c.Format)
	}
	c.Duration = time.Duration(c.Frames * int64(time.Second) / int64(c.SampleRate))
	if c.Duration > MaxDuration {
		return Clip{}, broken("the audio lasts %s; at most %s is accepted", c.Duration.Round(time.Second), MaxDuration)
	}
	return c, nil
}

// sniff names the format data's magic bytes show, or "" when they show
// none. MP3 counts only with an ID3 tag here: a bare frame sync is two
// bytes that raw PCM often starts with too.
func sniff(data []byte) string {
	has := func(off int, magic string) bool {
		return len(data) >= off+len(magic) && string(data[off:off+len(magic)]) == magic
	}
	switch {
	case has(0, "RIFF") && (len(data) < 12 || has(8, "WAVE")):
		return "wav" // a cut-off header is a broken WAV, not an unknown format
	case has(0, "RIFX") && has(8, "WAVE"):
		return "wav (big-endian RIFX)"
	case has(0, "RF64"):
		return "wav (RF64)"
	case has(0, "ID3"):
		return "mp3"
	case has(0, "OggS"):
		return "ogg"
	case has(0, "fLaC"):
		return "flac"
	case has(0, "\x1a\x45\xdf\xa3"):
		return "webm/matroska"
	case has(4, "ftyp"):
		return "mp4/m4a"
	case has(0, "FORM") && (has(8, "AIFF") || has(8, "AIFC")):
		return "aiff"
	case has(0, "#!AMR"):
		return "amr"
	case has(0, ".snd"):
		return "au"
	case has(0, "RIFF"):
		return "riff (not WAVE)"
	}
	return ""
}

func decodeRaw(data []byte, cfg PCMConfig) (Clip, error) {
	frame := cfg.Channels * cfg.SampleWidth
	if len(data)%frame != 0 {
		return Clip{}, broken("raw PCM of %d bytes is not a whole number of %d-byte frames", len(data), frame)
	}
	return Clip{Format: "pcm", SampleRate: cfg.FrameRate, Channels: cfg.Channels, SampleWidth: cfg.SampleWidth,
		Frames: int64(len(data) / frame), pcm: data}, nil
}

// decodeL16 reads audio/L16 (RFC 2586): big-endian 16-bit samples whose
// rate and channels are parameters of the content type, or else cfg's.
func decodeL16(data []byte, params map[string]string, cfg *PCMConfig) (Clip, error) {
	rate, channels := 0, 1
	if cfg != nil {
		rate, channels = cfg.FrameRate, cfg.Channels
	}
	for name, dst := range map[string]*int{"rate": &rate, "channels": &channels} {
		v, ok := params[name]
		if !ok {
			continue
		}
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil || n < 1 {
			return Clip{}, broken("audio/L16 %s=%q is not a positive whole number", name, v)
		}
		if cfg != nil && n != *dst {
			return Clip{}, broken("audio/L16 says %s=%d; request_audio_config says %d", name, n, *dst)
		}
		*dst = n
	}
	if cfg != nil && cfg.SampleWidth != 2 {
		return Clip{}, broken("audio/L16 has 2-byte samples; request_audio_config says sample_width %d", cfg.SampleWidth)
	}
	if rate == 0 {
		return Clip{}, broken("audio/L16 needs a rate parameter or a request_audio_config")
	}
	c, err := decodeRaw(data, PCMConfig{FrameRate: rate, Channels: channels, SampleWidth: 2})
	c.bigEndian = true
	return c, err
}

// EncodeWAV returns 16-bit mono samples at rate as a WAV file.
func EncodeWAV(samples []int16, rate int) []byte {
	out := make([]byte, 44, 44+2*len(samples))
	copy(out, "RIFF")
	binary.LittleEndian.PutUint32(out[4:], uint32(36+2*len(samples)))
	copy(out[8:], "WAVEfmt ")
	binary.LittleEndian.PutUint32(out[16:], 16)
	binary.LittleEndian.PutUint16(out[20:], 1) // PCM
	binary.LittleEndian.PutUint16(out[22:], 1) // mono
	binary.LittleEndian.PutUint32(out[24:], uint32(rate))
	binary.LittleEndian.PutUint32(out[28:], uint32(2*rate))
	binary.LittleEndian.PutUint16(out[32:], 2)
	binary.LittleEndian.PutUint16(out[34:], 16)
	copy(out[36:], "data")
	binary.LittleEndian.PutUint32(out[40:], uint32(2*len(samples)))
	return append(out, PCM16(samples)...)
}

// PCM16 returns samples as little-endian 16-bit PCM bytes, the form of the
// audio pieces of a new-message event.
func PCM16(samples []int16) []byte {
	out := make([]byte, 2*len(samples))
	for i, s := range samples {
		binary.LittleEndian.PutUint16(out[2*i:], uint16(s))
	}
	return out
}

// Chunks cuts mono 16-bit PCM into pieces of at most max bytes for
// streaming, each a whole number of 2-byte samples (max is rounded down
// to even, and is at least 2). The pieces share pcm's memory. A trailing
// odd byte, half a sample, is dropped.
func Chunks(pcm []byte, max int) [][]byte {
	max = max &^ 1
	if max < 2 {
		max = 2
	}
	pcm = pcm[:len(pcm)&^1]
	var out [][]byte
	for len(pcm) > 0 {
		n := min(max, len(pcm))
		out = append(out, pcm[:n:n])
		pcm = pcm[n:]
	}
	return out
}

// Resample converts mono samples from one rate to another by linear
// interpolation. It does not filter before downsampling, so tones above
// the new rate's Nyquist frequency alias; speech carries little there.
// See DECISIONS.md, "Why is synthesized speech resampled to 16 kHz?".
func Resample(samples []int16, from, to int) []int16 {
	if from == to || len(samples) == 0 || from <= 0 || to <= 0 {
		return append([]int16(nil), samples...)
	}
	n := int(int64(len(samples)) * int64(to) / int64(from))
	out := make([]int16, n)
	for i := range out {
		pos := float64(i) * float64(from) / float64(to)
		j := int(pos)
		frac := pos - float64(j)
		a, b := float64(samples[j]), float64(samples[min(j+1, len(samples)-1)])
		out[i] = int16(a + (b-a)*frac)
	}
	return out
}
