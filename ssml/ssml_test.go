package ssml

import (
	"errors"
	"strings"
	"testing"
)

func TestCheckFiller(t *testing.T) {
	tests := []struct {
		name   string
		filler string
		// pos is the position of the expected fault, 0 for none.
		pos  int
		says string
	}{
		{"plain text", "One moment please.", 0, ""},
		{"empty", "", 0, ""},
		{"prosody at its edges", `<prosody rate="0.6" volume="2.0">Just a sec</prosody> <prosody rate="1.5" volume="0.5">ok</prosody>`, 0, ""},
		{"break", `Let me check<break time="500ms"/> right now<break time="1.5s"></break>.`, 0, ""},
		{"emotion", `<emotion name="happy">Sure!</emotion>`, 0, ""},
		{"nested", `<prosody rate="1.1"><emotion>Okay</emotion><break time="1s"/></prosody>`, 0, ""},
		{"entities", `Tom &amp; Jerry &lt;3`, 0, ""},
		{"rate above", `<prosody rate="1.51">x</prosody>`, 1, "rate must be a number from 0.6 to 1.5"},
		{"rate below", `ab<prosody rate="0.59">x</prosody>`, 3, "rate must be"},
		{"rate as percent", `<prosody rate="120%">x</prosody>`, 1, "rate must be"},
		{"volume above", `<prosody volume="2.01">x</prosody>`, 1, "volume must be a number from 0.5 to 2"},
		{"volume below", `<prosody volume="0.49">x</prosody>`, 1, "volume must be"},
		{"prosody pitch", `<prosody pitch="high">x</prosody>`, 1, `unsupported <prosody> attribute "pitch"`},
		{"bare prosody", `<prosody>x</prosody>`, 1, "needs a rate or volume"},
		{"break without time", `wait<break/>`, 5, "exactly one attribute, time"},
		{"break time in minutes", `<break time="1m"/>`, 1, "seconds or milliseconds"},
		{"break with content", `<break time="1s">no</break>`, 1, "cannot contain anything"},
		{"unknown tag", `Hello <say-as interpret-as="digits">12</say-as>`, 7, "unsupported tag <say-as>"},
		{"speak root", `<speak>Hi</speak>`, 1, "unsupported tag <speak>"},
		{"unclosed tag", `Hi <emotion>there`, 18, "malformed SSML"},
		{"mismatched close", `<emotion>Hi</prosody>`, 22, "malformed SSML"},
		{"stray close", `Hi</emotion>`, 13, "malformed SSML"},
		{"unquoted attribute", `<prosody rate=1.2>x</prosody>`, 16, "malformed SSML"},
		{"bare ampersand", `Tom & Jerry`, 6, "malformed SSML"},
		{"processing instruction", `<?xml version="1.0"?>Hi`, 1, "only <prosody>, <break> and <emotion>"},
		{"position counts characters, not bytes", `héllo <b>x</b>`, 7, "unsupported tag <b>"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckFiller(tc.filler)
			if tc.pos == 0 {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("accepted, want a fault at %d", tc.pos)
			}
			if e.Pos != tc.pos || !strings.Contains(e.Msg, tc.says) {
				t.Errorf("got %v, want position %d saying %q", err, tc.pos, tc.says)
			}
		})
	}
}

func TestFillerLength(t *testing.T) {
	// Markup counts toward the limit.
	tag := `<prosody rate="1.2">`
	body := strings.Repeat("a", MaxFillerLength-len(tag)-len("</prosody>"))
	if err := CheckFiller(tag + body + "</prosody>"); err != nil {
		t.Errorf("512 characters with markup: %v", err)
	}
	if err := CheckFiller(tag + body + "a</prosody>"); err == nil {
		t.Error("513 characters with markup accepted")
	}
	// Characters, not bytes: 512 two-byte letters are fine.
	if err := CheckFiller(strings.Repeat("é", 512)); err != nil {
		t.Errorf("512 two-byte characters: %v", err)
	}
	var e *Error
	if err := CheckFiller(strings.Repeat("é", 513)); !errors.As(err, &e) || e.Pos != 513 {
		t.Errorf("513 characters: %v", err)
	}
}

// FuzzCheckFiller checks that any text gets an answer, and that a fault's
// position lies within the filler (or just past its end).
func FuzzCheckFiller(f *testing.F) {
	for _, s := range []string{"", "Hi", `<prosody rate="1.2">x</prosody>`, `<break time="1s"/>`, "<a", "&", "]]>", "<![CDATA[x]]>", "<!-- c -->"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var e *Error
		if err := CheckFiller(s); errors.As(err, &e) {
			if n := len([]rune(s)); e.Pos < 1 || e.Pos > max(n, MaxFillerLength)+1 {
				t.Errorf("position %d outside a %d-character filler", e.Pos, n)
			}
		}
	})
}
