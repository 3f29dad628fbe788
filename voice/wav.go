package voice

import (
	"encoding/binary"
	"fmt"
)

// guidSuffix ends every WAVE_FORMAT_EXTENSIBLE subformat GUID whose first
// two bytes are a plain format tag (KSDATAFORMAT_SUBTYPE_PCM is tag 1).
const guidSuffix = "\x00\x00\x00\x00\x10\x00\x80\x00\x00\xaa\x00\x38\x9b\x71"

func decodeWAV(data []byte, cfg *PCMConfig, lenient bool) (Clip, error) {
	le16 := func(b []byte) int { return int(binary.LittleEndian.Uint16(b)) }
	le32 := func(b []byte) int64 { return int64(binary.LittleEndian.Uint32(b)) }
	if len(data) < 12 {
		return Clip{}, broken("truncated WAV: %d bytes, fewer than the 12 of a RIFF header", len(data))
	}
	if riff := le32(data[4:]) + 8; !lenient && riff > int64(len(data)) {
		return Clip{}, broken("truncated WAV: the RIFF header says %d bytes, %d are present", riff, len(data))
	} else if !lenient && riff < int64(len(data)) {
		return Clip{}, broken("%d bytes follow the end of the WAV's RIFF chunk", int64(len(data))-riff)
	}

	var fmtChunk, samples []byte
	for pos := 12; pos < len(data); {
		if len(data)-pos < 8 {
			if lenient {
				break
			}
			return Clip{}, broken("truncated WAV: the chunk header at byte %d is cut off", pos)
		}
		id, size, body := string(data[pos:pos+4]), le32(data[pos+4:]), pos+8
		if rest := int64(len(data) - body); size > rest || (lenient && id == "data" && size == 0) {
			// A speech server streaming WAV cannot know the sizes when it
			// writes the header, so it writes 0 or 0xFFFFFFFF.
			if !lenient || id != "data" {
				return Clip{}, broken("truncated WAV: chunk %q at byte %d says %d bytes, %d are present", id, pos, size, rest)
			}
			size = rest
		}
		switch chunk := data[body : body+int(size)]; id {
		case "fmt ":
			if fmtChunk != nil {
				return Clip{}, broken("the WAV has two fmt chunks")
			}
			fmtChunk = chunk
		case "data":
			if samples != nil {
				return Clip{}, broken("the WAV has two data chunks")
			}
			samples = chunk
		}
		pos = body + int(size) + int(size&1) // chunks are padded to even sizes
	}
	if fmtChunk == nil {
		return Clip{}, broken("the WAV has no fmt chunk")
	}
	if samples == nil {
		return Clip{}, broken("the WAV has no data chunk")
	}
	if len(fmtChunk) < 16 {
		return Clip{}, broken("the WAV's fmt chunk has %d bytes, fewer than 16", len(fmtChunk))
	}
	tag, channels, rate := le16(fmtChunk), le16(fmtChunk[2:]), int(le32(fmtChunk[4:]))
	byteRate, align, bits := le32(fmtChunk[8:]), le16(fmtChunk[12:]), le16(fmtChunk[14:])
	if tag == 0xfffe {
		if len(fmtChunk) < 40 {
			return Clip{}, broken("the WAV's extensible fmt chunk has %d bytes, fewer than 40", len(fmtChunk))
		}
		if string(fmtChunk[26:40]) != guidSuffix {
			return Clip{}, &UnsupportedError{Found: "wav (unknown extensible subformat)"}
		}
		tag = le16(fmtChunk[24:])
	}
	switch {
	case tag == 3:
		return Clip{}, &UnsupportedError{Found: "wav (IEEE float samples)"}
	case tag != 1:
		return Clip{}, &UnsupportedError{Found: fmt.Sprintf("wav (encoding 0x%04x, not PCM)", tag)}
	case bits != 8 && bits != 16 && bits != 24 && bits != 32:
		return Clip{}, &UnsupportedError{Found: fmt.Sprintf("wav (%d-bit samples)", bits)}
	case channels == 0 || rate == 0:
		return Clip{}, broken("the WAV's fmt chunk says %d channels at %d Hz", channels, rate)
	case align != channels*bits/8:
		return Clip{}, broken("the WAV's block align is %d; %d channels of %d bits need %d", align, channels, bits, channels*bits/8)
	case byteRate != int64(rate)*int64(align):
		return Clip{}, broken("the WAV's byte rate is %d; %d Hz of %d-byte frames need %d", byteRate, rate, align, rate*align)
	}
	if len(samples)%align != 0 {
		if !lenient {
			return Clip{}, broken("the WAV's data chunk of %d bytes is not a whole number of %d-byte frames", len(samples), align)
		}
		samples = samples[:len(samples)-len(samples)%align]
	}
	if cfg != nil && (rate != cfg.FrameRate || channels != cfg.Channels || bits != 8*cfg.SampleWidth) {
		return Clip{}, broken("the WAV header says %d Hz, %d channel(s), %d-bit; request_audio_config says %d Hz, %d channel(s), %d-bit",
			rate, channels, bits, cfg.FrameRate, cfg.Channels, 8*cfg.SampleWidth)
	}
	return Clip{Format: "wav", SampleRate: rate, Channels: channels, SampleWidth: bits / 8,
		Frames: int64(len(samples) / align), pcm: samples}, nil
}
