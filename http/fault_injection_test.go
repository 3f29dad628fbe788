package httpapi

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestParseFaultHeader(t *testing.T) {
	tests := []struct {
		name, header string
		want         faultPlan
		wantErr      string
	}{
		{name: "a status", header: "status=503", want: faultPlan{status: 503}},
		{name: "a 429 with its Retry-After", header: "status=429;retry-after=2", want: faultPlan{status: 429, retryAfter: 2}},
		{name: "spaces and case", header: " STATUS = 503 ;; ", want: faultPlan{status: 503}},
		{name: "a fixed latency", header: "latency=250ms", want: faultPlan{latency: 250 * time.Millisecond}},
		{name: "an empty range", header: "latency=1s..1s", want: faultPlan{latency: time.Second}},
		{name: "latency then a drop", header: "latency=5ms;drop", want: faultPlan{latency: 5 * time.Millisecond, drop: true}},
		{name: "a cut", header: "cut-stream=3", want: faultPlan{cutAfter: 3}},
		{name: "nothing", header: ";", wantErr: "needs an action"},
		{name: "a Retry-After with a 500", header: "status=500;retry-after=1", wantErr: "429 or 503"},
		{name: "a status below 400", header: "status=399", wantErr: "status must be a whole number from 400 to 599"},
		{name: "a value missing", header: "status", wantErr: "status needs a value"},
		{name: "a drop with a value", header: "drop=yes", wantErr: "drop takes no value"},
		{name: "unknown", header: "explode", wantErr: `unknown item "explode"`},
		{name: "twice", header: "drop;drop", wantErr: "drop is given twice"},
		{name: "a latency too long", header: "latency=6m", wantErr: "latency must be"},
		{name: "a negative latency", header: "latency=-1s", wantErr: "latency must be"},
		{name: "two actions", header: "drop;cut-stream=1", wantErr: "at most one"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseFaultHeader(tc.header)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !strings.HasPrefix(err.Error(), "The X-Compadre-Fault header is malformed: ") {
					t.Fatalf("got %v, want an error saying %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tc.want.source = "header"
			if *got != tc.want {
				t.Errorf("got %+v, want %+v", *got, tc.want)
			}
		})
	}
}

func TestUniformHeaderLatencyStaysInItsRange(t *testing.T) {
	for range 200 {
		p, err := parseFaultHeader("latency=10ms..20ms")
		if err != nil {
			t.Fatal(err)
		}
		if p.latency < 10*time.Millisecond || p.latency > 20*time.Millisecond {
			t.Fatalf("got %s, want 10ms to 20ms", p.latency)
		}
	}
}

func TestLatencySamplesStayInBounds(t *testing.T) {
	tests := []struct {
		name   string
		l      FaultLatency
		lo, hi time.Duration
	}{
		{"fixed", FaultLatency{MS: 30}, 30 * time.Millisecond, 30 * time.Millisecond},
		{"uniform", FaultLatency{Distribution: "uniform", MinMS: 10, MaxMS: 20}, 10 * time.Millisecond, 20 * time.Millisecond},
		{"normal, clamped", FaultLatency{Distribution: "normal", MeanMS: 10, StddevMS: 100, MaxMS: 50}, 0, 50 * time.Millisecond},
		{"normal, under the ceiling", FaultLatency{Distribution: "normal", MeanMS: 10, StddevMS: 1_000_000}, 0, MaxFaultLatency},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for range 1000 {
				if d := tc.l.sample(); d < tc.lo || d > tc.hi {
					t.Fatalf("sampled %s, want %s to %s", d, tc.lo, tc.hi)
				}
			}
		})
	}
}

// A rule may name any operation of the server but the control API's, and
// its checks agree with the document's bounds.
func TestCheckFaultRule(t *testing.T) {
	ops := []string{"get-users", "create-conversation"}
	tests := []struct {
		name    string
		rule    FaultRule
		wantErr string
	}{
		{"a status", FaultRule{Operation: "get-users", Status: 503}, ""},
		{"a glob", FaultRule{Operation: "*", Latency: &FaultLatency{MS: 1}}, ""},
		{"a cut on a glob with a stream", FaultRule{Operation: "create-*", CutStreamAfter: 1}, ""},
		{"a probability", FaultRule{Operation: "get-users", Drop: true, Probability: new(1.0)}, ""},
		{"an unknown operation", FaultRule{Operation: "get-user", Status: 503}, "matches no operation"},
		{"an empty pattern", FaultRule{Status: 503}, "matches no operation"},
		{"a cut without a stream", FaultRule{Operation: "get-*", CutStreamAfter: 1}, "no operation that streams"},
		{"a normal latency with ms", FaultRule{Operation: "get-users", Latency: &FaultLatency{Distribution: "normal", MS: 3}}, "takes mean_ms"},
		{"a negative count", FaultRule{Operation: "get-users", Status: 503, Count: -1}, "count"},
		{"a probability of 2", FaultRule{Operation: "get-users", Status: 503, Probability: new(2.0)}, "probability"},
		{"a status of 200", FaultRule{Operation: "get-users", Status: 200}, "400 to 599"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := checkFaultRule(tc.rule, ops)
			if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Errorf("got %v, want %q", err, tc.wantErr)
			}
		})
	}
}

// A rule's JSON is the document's: what a test gets back from Go or HTTP.
func TestFaultJSON(t *testing.T) {
	var fs faultSet
	fs.operations = []string{"get-users"}
	f, err := fs.add(FaultRule{Operation: "get-users", Status: 503, Count: 2})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(f)
	if want := `{"id":"f1","operation":"get-users","status":503,"count":2,"applied":0,"remaining":2}`; string(b) != want {
		t.Errorf("got %s, want %s", b, want)
	}
	g, _ := fs.add(FaultRule{Operation: "get-users", Drop: true})
	b, _ = json.Marshal(g)
	if want := `{"id":"f2","operation":"get-users","drop":true,"applied":0,"remaining":null}`; string(b) != want {
		t.Errorf("got %s, want %s", b, want)
	}
}
