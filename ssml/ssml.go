// Package ssml checks audio fillers: short texts an agent speaks while it
// waits, which may carry a few Speech Synthesis Markup Language tags (v0.7.0).
// A filler is at most MaxFillerLength characters, markup included, and may
// use only <prosody> (rate 0.6–1.5, volume 0.5–2.0), <break time="..."/> and
// <emotion>. Anything else, or markup that is not well formed, is refused
// with the character position of the fault.
package ssml

import (
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"
)

// MaxFillerLength is the most characters a filler may have, markup included.
const MaxFillerLength = 512

// Error is a fault in a filler. Pos is the 1-based character position where
// the fault was found.
type Error struct {
	Pos int
	Msg string
}

func (e *Error) Error() string { return fmt.Sprintf("at character %d: %s", e.Pos, e.Msg) }

// bounds are the inclusive limits of prosody's numeric attributes.
var bounds = map[string][2]float64{"rate": {0.6, 1.5}, "volume": {0.5, 2.0}}

// breakTime is a pause: a decimal number of seconds or milliseconds.
var breakTime = regexp.MustCompile(`^[0-9]+(\.[0-9]+)?(ms|s)$`)

// number is a plain decimal, as prosody's rate and volume are written.
var number = regexp.MustCompile(`^[0-9]+(\.[0-9]+)?$`)

// root wraps a filler so it parses as one XML document; offsets are
// reported relative to the filler, not the wrapper.
const root = "<ssml>"

// CheckFiller returns nil if s is an acceptable audio filler, or an *Error.
func CheckFiller(s string) error {
	if n := utf8.RuneCountInString(s); n > MaxFillerLength {
		return &Error{Pos: MaxFillerLength + 1, Msg: fmt.Sprintf("an audio filler is at most %d characters including SSML tags; this one has %d", MaxFillerLength, n)}
	}
	doc := root + s + "</ssml>"
	d := xml.NewDecoder(strings.NewReader(doc))
	d.Strict = true
	// pos converts a byte offset in doc to a character position in s.
	pos := func(off int64) int {
		i := max(0, min(int(off)-len(root), len(s)))
		return utf8.RuneCountInString(s[:i]) + 1
	}
	depth := 0
	for {
		start := d.InputOffset()
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			var se *xml.SyntaxError
			msg := err.Error()
			if errors.As(err, &se) {
				msg = se.Msg
			}
			return &Error{Pos: pos(d.InputOffset()), Msg: "malformed SSML: " + msg}
		}
		switch t := tok.(type) {
		case xml.StartElement:
			depth++
			if depth == 1 {
				continue // the wrapper
			}
			if err := checkElement(t); err != nil {
				return &Error{Pos: pos(start), Msg: err.Error()}
			}
			if t.Name.Local == "break" {
				// A break holds nothing: the next token must close it.
				next, err := d.Token()
				if end, ok := next.(xml.EndElement); err != nil || !ok || end.Name.Local != "break" {
					return &Error{Pos: pos(start), Msg: `<break> cannot contain anything; write <break time="500ms"/>`}
				}
				depth--
			}
		case xml.EndElement:
			depth--
		case xml.ProcInst, xml.Directive:
			return &Error{Pos: pos(start), Msg: "only <prosody>, <break> and <emotion> tags are allowed"}
		}
	}
}

// checkElement checks one opening tag's name and attributes.
func checkElement(e xml.StartElement) error {
	name := e.Name.Local
	if e.Name.Space != "" {
		return fmt.Errorf("unsupported tag <%s:%s>; only <prosody>, <break> and <emotion> are allowed", e.Name.Space, name)
	}
	switch name {
	case "prosody":
		if len(e.Attr) == 0 {
			return errors.New("<prosody> needs a rate or volume attribute")
		}
		for _, a := range e.Attr {
			lim, ok := bounds[a.Name.Local]
			if !ok || a.Name.Space != "" {
				return fmt.Errorf("unsupported <prosody> attribute %q; use rate or volume", a.Name.Local)
			}
			v, err := strconv.ParseFloat(a.Value, 64)
			if !number.MatchString(a.Value) || err != nil || v < lim[0] || v > lim[1] {
				return fmt.Errorf("<prosody> %s must be a number from %g to %g, not %q", a.Name.Local, lim[0], lim[1], a.Value)
			}
		}
	case "break":
		if len(e.Attr) != 1 || e.Attr[0].Name.Local != "time" || e.Attr[0].Name.Space != "" {
			return errors.New(`<break> takes exactly one attribute, time (e.g. time="500ms")`)
		}
		if !breakTime.MatchString(e.Attr[0].Value) {
			return fmt.Errorf(`<break> time must be seconds or milliseconds such as "1s" or "500ms", not %q`, e.Attr[0].Value)
		}
	case "emotion":
		// The hosted documentation names the tag but none of its attributes,
		// so any are accepted.
	default:
		return fmt.Errorf("unsupported tag <%s>; only <prosody>, <break> and <emotion> are allowed", name)
	}
	return nil
}
