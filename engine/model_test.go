package engine

import (
	"fmt"
	"strings"
	"testing"

	"github.com/compadre-dev/compadre/store"
)

func TestFragments(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"Hello.", []string{"Hello."}},
		{"Hello. How are you? Fine!", []string{"Hello. ", "How are you? ", "Fine!"}},
		{"Version 1.2 is out. Yes", []string{"Version 1.2 is out. ", "Yes"}},
		{"No stop at all", []string{"No stop at all"}},
		{"Trailing space. ", []string{"Trailing space. "}},
	}
	for _, tt := range tests {
		got := fragments(tt.in)
		if fmt.Sprintf("%q", got) != fmt.Sprintf("%q", tt.want) {
			t.Errorf("fragments(%q): got %q, want %q", tt.in, got, tt.want)
		}
		if strings.Join(got, "") != tt.in {
			t.Errorf("fragments(%q) do not join to the message", tt.in)
		}
	}
}

func TestUserReply(t *testing.T) {
	tests := []struct{ in, want string }{
		{"The user asks about billing", "I ask about billing."},
		{"the user is done.", "I am done."},
		{"The user has a question", "I have a question."},
		{"The user tries again", "I try again."},
		{"The user wishes to leave", "I wish to leave."},
		{"The user passes", "I pass."},
		{"The user confirms", "I confirm."},
		{"The user", "The user"},
		{"Order shipped", "Order shipped"},
	}
	for _, tt := range tests {
		if got := userReply(tt.in); got != tt.want {
			t.Errorf("userReply(%q): got %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestLimitWords(t *testing.T) {
	tests := []struct {
		in   string
		n    int
		want string
	}{
		{"one two three", 2, "one two"},
		{"one two three", 3, "one two three"},
		{" one  two ", 0, "one  two"},
		{"one two", -1, "one two"},
	}
	for _, tt := range tests {
		if got := limitWords(tt.in, tt.n); got != tt.want {
			t.Errorf("limitWords(%q, %d): got %q, want %q", tt.in, tt.n, got, tt.want)
		}
	}
}

func TestPreferred(t *testing.T) {
	dashed := store.LLMConfig{LLMName: "dashed"}
	underscored := store.LLMConfig{LLMName: "underscored"}
	tests := []struct {
		name    string
		prefs   map[string]store.LLMConfig
		purpose string
		want    string // the preferred model; "" for none
	}{
		{"none", nil, "engage-user", ""},
		{"the purpose", map[string]store.LLMConfig{"engage-user": dashed}, "engage-user", "dashed"},
		{"with underscores", map[string]store.LLMConfig{"engage_user": underscored}, "engage-user", "underscored"},
		{"the purpose's own spelling first", map[string]store.LLMConfig{"engage_user": underscored, "engage-user": dashed}, "engage-user", "dashed"},
		{"another purpose's", map[string]store.LLMConfig{"reflect": dashed}, "engage-user", ""},
		{"a prefix is not the purpose", map[string]store.LLMConfig{"engage-user": dashed}, "engage-user-tool", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := preferred(tt.prefs, tt.purpose)
			if ok != (tt.want != "") || got.LLMName != tt.want {
				t.Errorf("got %q (%v), want %q", got.LLMName, ok, tt.want)
			}
		})
	}
}
