package pep440

import (
	"errors"
	"strings"
	"testing"
)

func TestConstraintMatch(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		constraint string
		wantString string
		match      []string
		noMatch    []string
	}{
		{
			name:       "range",
			constraint: ">=1.2,<2",
			wantString: ">=1.2,<2",
			match:      []string{"1.2.0", "1.2.3", "1.9.99"},
			noMatch:    []string{"1.1.9", "2.0.0", "2.0.1", "0.0.0"},
		},
		{
			name:       "spaces around clauses and operators are ignored",
			constraint: "  >= 1.2 ,  < 2  ",
			wantString: ">=1.2,<2",
			match:      []string{"1.2.0", "1.9.99"},
			noMatch:    []string{"1.1.9", "2.0.0"},
		},
		{
			name:       "space after comma",
			constraint: ">=1.2, <2, !=1.5.0",
			wantString: ">=1.2,<2,!=1.5.0",
			match:      []string{"1.2.0", "1.5.1"},
			noMatch:    []string{"1.5.0", "2.0.0"},
		},
		{
			name:       "exact",
			constraint: "==1.0.0",
			wantString: "==1.0.0",
			match:      []string{"1.0.0"},
			noMatch:    []string{"1.0.1", "0.1.0", "10.0.0"},
		},
		{
			name:       "exact with fewer parts pads with zeros",
			constraint: "==1.2",
			wantString: "==1.2",
			match:      []string{"1.2.0"},
			noMatch:    []string{"1.2.1", "1.20.0"},
		},
		{
			name:       "prefix match on major",
			constraint: "==1.*",
			wantString: "==1.*",
			match:      []string{"1.0.0", "1.2.3", "1.99.99"},
			noMatch:    []string{"0.9.9", "2.0.0", "10.0.0"},
		},
		{
			name:       "prefix match on minor",
			constraint: "==1.2.*",
			wantString: "==1.2.*",
			match:      []string{"1.2.0", "1.2.9"},
			noMatch:    []string{"1.3.0", "1.20.0", "2.2.0"},
		},
		{
			name:       "compatible release with two parts allows newer minors",
			constraint: "~=1.2",
			wantString: "~=1.2",
			match:      []string{"1.2.0", "1.2.5", "1.9.0"},
			noMatch:    []string{"1.1.9", "2.0.0"},
		},
		{
			name:       "compatible release with three parts allows newer patches only",
			constraint: "~=1.2.3",
			wantString: "~=1.2.3",
			match:      []string{"1.2.3", "1.2.9"},
			noMatch:    []string{"1.2.2", "1.3.0"},
		},
		{
			name:       "exclusion",
			constraint: "!=1.1.0",
			wantString: "!=1.1.0",
			match:      []string{"1.0.0", "1.1.1", "2.0.0"},
			noMatch:    []string{"1.1.0"},
		},
		{
			name:       "prefix exclusion",
			constraint: "!=1.*",
			wantString: "!=1.*",
			match:      []string{"0.9.0", "2.0.0"},
			noMatch:    []string{"1.0.0", "1.5.2"},
		},
		{
			name:       "less than",
			constraint: "<2",
			wantString: "<2",
			match:      []string{"0.0.1", "1.99.99"},
			noMatch:    []string{"2.0.0", "3.0.0"},
		},
		{
			name:       "at most",
			constraint: "<=1.0",
			wantString: "<=1.0",
			match:      []string{"1.0.0", "0.9.9"},
			noMatch:    []string{"1.0.1"},
		},
		{
			name:       "greater than",
			constraint: ">1.0",
			wantString: ">1.0",
			match:      []string{"1.0.1", "2.0.0"},
			noMatch:    []string{"1.0.0", "0.9.0"},
		},
		{
			name:       "arbitrary equality compares the text",
			constraint: "===1.0.0",
			wantString: "===1.0.0",
			match:      []string{"1.0.0"},
			noMatch:    []string{"1.0.1"},
		},
		{
			name:       "arbitrary equality does not pad with zeros",
			constraint: "===1.0",
			wantString: "===1.0",
			noMatch:    []string{"1.0.0"},
		},
		{
			name:       "a release is newer than its pre-releases",
			constraint: ">=1.0.0rc1",
			wantString: ">=1.0.0rc1",
			match:      []string{"1.0.0", "1.0.1"},
			noMatch:    []string{"0.9.9"},
		},
		{
			name:       "below a pre-release excludes the release",
			constraint: "<2.0.0a1",
			wantString: "<2.0.0a1",
			match:      []string{"1.9.9"},
			noMatch:    []string{"2.0.0"},
		},
		{
			name:       "a local version matches no tool version",
			constraint: "==1.0.0+build5",
			wantString: "==1.0.0+build5",
			noMatch:    []string{"1.0.0"},
		},
		{
			name:       "an epoch sorts above every tool version",
			constraint: "<1!0.0",
			wantString: "<1!0.0",
			match:      []string{"0.0.0", "99.0.0"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := ParseConstraint(tt.constraint)
			if err != nil {
				t.Fatalf("ParseConstraint(%q): %v", tt.constraint, err)
			}
			if got := c.String(); got != tt.wantString {
				t.Errorf("String() = %q, want %q", got, tt.wantString)
			}
			for _, s := range tt.match {
				if !c.Match(mustVersion(t, s)) {
					t.Errorf("%q does not match %s, want a match", tt.constraint, s)
				}
			}
			for _, s := range tt.noMatch {
				if c.Match(mustVersion(t, s)) {
					t.Errorf("%q matches %s, want no match", tt.constraint, s)
				}
			}
		})
	}
}

func TestConstraintMatchNegativeVersion(t *testing.T) {
	t.Parallel()
	c, err := ParseConstraint("<1.0")
	if err != nil {
		t.Fatal(err)
	}
	if c.Match(Version{Major: -1}) {
		t.Errorf("<1.0 matches %v, want no match for a version that cannot exist", Version{Major: -1})
	}
}

func TestParseConstraintErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		constraint string
		wantErr    string
	}{
		{"empty", "", "it is empty"},
		{"blank", "  \t ", "it is empty"},
		{"bare version", "1.0", `clause "1.0" does not start with an operator`},
		{"single equals", "=1.0", `clause "=1.0" does not start with an operator`},
		{"reversed operator", "=>1.0", `clause "=>1.0" does not start with an operator`},
		{"star", "*", `clause "*" does not start with an operator`},
		{"alternatives", ">=1.0||<0.5", `clause ">=1.0||<0.5" must be an operator followed by one version`},
		{"clauses without comma", ">=1.2 <2", `clause ">=1.2 <2" must be an operator followed by one version`},
		{"operator alone", ">=", `clause ">=" must be an operator followed by one version`},
		{"trailing comma", ">=1.2,", "empty clause"},
		{"leading comma", ",>=1.2", "empty clause"},
		{"double comma", ">=1.2,,<2", "empty clause"},
		{"wildcard with ordering", ">=1.*", "a wild card is not allowed"},
		{"wildcard with compatible", "~=1.*", "a wild card is not allowed"},
		{"compatible with one part", "~=1", "the compatible operator requires at least two digits"},
		{"not a version", ">=abc", `clause ">=abc": "abc" is not a PEP 440 version`},
		{"wildcard in the middle", "==1.*.3", `clause "==1.*.3": "1.*.3" is not a PEP 440 version`},
		{"number too large", ">=99999999999999999999", `"99999999999999999999" is not a PEP 440 version`},
		{"doubled operator", ">>1", `clause ">>1"`},
		{"semicolon", ">=1.2;", `clause ">=1.2;"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := ParseConstraint(tt.constraint)
			if err == nil {
				t.Fatalf("ParseConstraint(%q) succeeded, want an error", tt.constraint)
			}
			if !errors.Is(err, ErrInvalidConstraint) {
				t.Errorf("error %v is not ErrInvalidConstraint", err)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error %q does not say %q", err, tt.wantErr)
			}
		})
	}
}

func TestParseVersion(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in      string
		want    Version
		wantErr string
	}{
		{in: "0.0.0", want: Version{0, 0, 0}},
		{in: "1.2.3", want: Version{1, 2, 3}},
		{in: "10.200.3000", want: Version{10, 200, 3000}},
		{in: "", wantErr: "want major.minor.patch"},
		{in: "1.2", wantErr: "want major.minor.patch"},
		{in: "1.2.3.4", wantErr: "want major.minor.patch"},
		{in: "1..3", wantErr: "a part is empty"},
		{in: "1.2.", wantErr: "a part is empty"},
		{in: "01.2.3", wantErr: `part "01" has a leading zero`},
		{in: "1.2.00", wantErr: `part "00" has a leading zero`},
		{in: "v1.2.3", wantErr: `part "v1" is not a non-negative integer`},
		{in: "-1.2.3", wantErr: `part "-1" is not a non-negative integer`},
		{in: "+1.2.3", wantErr: `part "+1" is not a non-negative integer`},
		{in: "1.2.3a1", wantErr: `part "3a1" is not a non-negative integer`},
		{in: " 1.2.3", wantErr: `part " 1" is not a non-negative integer`},
		{in: "1.2.99999999999999999999", wantErr: "is too large"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			got, err := ParseVersion(tt.in)
			if tt.wantErr != "" {
				if err == nil {
					t.Fatalf("ParseVersion(%q) = %v, want an error", tt.in, got)
				}
				if !errors.Is(err, ErrInvalidVersion) {
					t.Errorf("error %v is not ErrInvalidVersion", err)
				}
				if !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("error %q does not say %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseVersion(%q): %v", tt.in, err)
			}
			if got != tt.want {
				t.Errorf("ParseVersion(%q) = %+v, want %+v", tt.in, got, tt.want)
			}
			if got.String() != tt.in {
				t.Errorf("String() = %q, want %q", got.String(), tt.in)
			}
		})
	}
}

func TestVersionBump(t *testing.T) {
	t.Parallel()
	tests := []struct {
		from, kind, want string
		wantErr          bool
	}{
		{from: "1.2.3", kind: "major", want: "2.0.0"},
		{from: "1.2.3", kind: "minor", want: "1.3.0"},
		{from: "1.2.3", kind: "patch", want: "1.2.4"},
		{from: "0.0.0", kind: "patch", want: "0.0.1"},
		{from: "0.9.9", kind: "minor", want: "0.10.0"},
		{from: "1.2.3", kind: "Major", wantErr: true},
		{from: "1.2.3", kind: "", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.from+" "+tt.kind, func(t *testing.T) {
			t.Parallel()
			got, err := mustVersion(t, tt.from).Bump(tt.kind)
			if tt.wantErr {
				if err == nil {
					t.Errorf("Bump(%q) = %v, want an error", tt.kind, got)
				}
				return
			}
			if err != nil {
				t.Fatalf("Bump(%q): %v", tt.kind, err)
			}
			if got.String() != tt.want {
				t.Errorf("%s Bump(%q) = %s, want %s", tt.from, tt.kind, got, tt.want)
			}
		})
	}
}

func mustVersion(t *testing.T, s string) Version {
	t.Helper()
	v, err := ParseVersion(s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}
