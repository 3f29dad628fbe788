package voice

import (
	"bytes"
	"errors"
	"io"
	"time"

	"github.com/hajimehoshi/go-mp3"
)

// mp3Frame is what a Layer III frame header says.
type mp3Frame struct {
	version  string // "1", "2" or "2.5"
	layer    int
	bitrate  int // bits per second; 0 is "free format"
	rate     int
	channels int
	size     int // bytes, header included
	samples  int // per channel
}

var (
	mp3Bitrates1 = [15]int{0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320}
	mp3Bitrates2 = [15]int{0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160}
	mp3Rates     = [3]int{44100, 48000, 32000}
)

// readMP3Frame reads the frame header at the start of b; ok is false when
// there is none (no sync, or a reserved value).
func readMP3Frame(b []byte) (f mp3Frame, ok bool) {
	if len(b) < 4 || b[0] != 0xff || b[1]&0xe0 != 0xe0 {
		return f, false
	}
	version, layer := (b[1]>>3)&3, (b[1]>>1)&3
	bitrateIndex, rateIndex, padding := int(b[2]>>4), int(b[2]>>2)&3, int(b[2]>>1)&1
	if version == 1 || layer == 0 || bitrateIndex == 15 || rateIndex == 3 {
		return f, false
	}
	f.layer = 4 - int(layer)
	f.version = [4]string{"2.5", "", "2", "1"}[version]
	f.rate = mp3Rates[rateIndex] >> [4]int{2, 0, 1, 0}[version]
	f.channels = 2
	if b[3]>>6 == 3 {
		f.channels = 1
	}
	if f.layer != 3 {
		return f, true
	}
	if f.version == "1" {
		f.bitrate = mp3Bitrates1[bitrateIndex] * 1000
		f.samples, f.size = 1152, 144*f.bitrate/f.rate+padding
	} else {
		f.bitrate = mp3Bitrates2[bitrateIndex] * 1000
		f.samples, f.size = 576, 72*f.bitrate/f.rate+padding
	}
	return f, true
}

func looksLikeMP3(data []byte) bool {
	f, ok := readMP3Frame(data)
	return ok && f.layer == 3
}

// decodeMP3 walks every frame header itself, so that a truncated or
// corrupt file is refused (the decoder stops quietly at a cut-off frame
// and skips junk looking for the next sync), then decodes the frames.
func decodeMP3(data []byte) (Clip, error) {
	pos := 0
	if bytes.HasPrefix(data, []byte("ID3")) {
		if len(data) < 10 {
			return Clip{}, broken("truncated MP3: its ID3 tag header is cut off")
		}
		size := 0
		for _, b := range data[6:10] {
			if b >= 0x80 {
				return Clip{}, broken("the MP3's ID3 tag size is corrupt")
			}
			size = size<<7 | int(b)
		}
		pos = 10 + size
		if data[5]&0x10 != 0 { // a footer follows the tag
			pos += 10
		}
		if pos > len(data) {
			return Clip{}, broken("truncated MP3: its ID3 tag says %d bytes, %d are present", pos, len(data))
		}
	}
	start := pos
	first, ok := readMP3Frame(data[pos:])
	switch {
	case !ok:
		return Clip{}, broken("not an MP3 file: no MPEG audio frame at byte %d", pos)
	case first.layer != 3:
		return Clip{}, &UnsupportedError{Found: "MPEG audio layer " + [4]string{"", "I", "II"}[first.layer]}
	case first.version == "2.5":
		return Clip{}, &UnsupportedError{Found: "mp3 (MPEG-2.5)"}
	case first.bitrate == 0:
		return Clip{}, &UnsupportedError{Found: "mp3 (free-format bitrate)"}
	}
	frames := 0
	for pos < len(data) {
		f, ok := readMP3Frame(data[pos:])
		if !ok {
			if rest := data[pos:]; len(rest) == 128 && bytes.HasPrefix(rest, []byte("TAG")) ||
				bytes.HasPrefix(rest, []byte("APETAGEX")) || bytes.HasPrefix(rest, []byte("LYRICSBEGIN")) {
				break
			}
			return Clip{}, broken("corrupt MP3: no frame header at byte %d", pos)
		}
		if f.layer != 3 || f.version != first.version || f.rate != first.rate || f.bitrate == 0 {
			return Clip{}, broken("corrupt MP3: the frame at byte %d is not MPEG-%s Layer III at %d Hz as the first is", pos, first.version, first.rate)
		}
		if pos+f.size > len(data) {
			return Clip{}, broken("truncated MP3: the frame at byte %d needs %d bytes, %d are present", pos, f.size, len(data)-pos)
		}
		pos += f.size
		frames++
	}
	if d := time.Duration(int64(frames*first.samples) * int64(time.Second) / int64(first.rate)); d > MaxDuration {
		return Clip{}, broken("the audio lasts %s; at most %s is accepted", d.Round(time.Second), MaxDuration)
	}

	dec, err := mp3.NewDecoder(bytes.NewReader(data[start:pos]))
	if err != nil {
		return Clip{}, broken("corrupt MP3: %v", err)
	}
	// The decoder always gives 16-bit little-endian stereo; mono sources
	// come out with both channels equal.
	mono := make([]int16, 0, frames*first.samples)
	buf := make([]byte, 4*1152*8)
	for {
		n, err := io.ReadFull(dec, buf)
		for i := 0; i+4 <= n; i += 4 {
			l, r := int16(uint16(buf[i])|uint16(buf[i+1])<<8), int16(uint16(buf[i+2])|uint16(buf[i+3])<<8)
			mono = append(mono, int16((int(l)+int(r))/2))
		}
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			break
		}
		if err != nil {
			return Clip{}, broken("corrupt MP3: %v", err)
		}
	}
	return Clip{Format: "mp3", SampleRate: first.rate, Channels: first.channels, SampleWidth: 2,
		Frames: int64(len(mono)), mono: mono}, nil
}
