// Package pep440 reads tool versions (major.minor.patch) and the PEP 440
// specifier sets that select among them. It is a leaf: the tool publisher
// and the configuration checks both read constraints, and neither may
// depend on the other.
package pep440

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	specifier "github.com/aquasecurity/go-pep440-version"
)

// ErrInvalidConstraint is wrapped by every error ParseConstraint returns, so
// callers can report a bad query as the client's mistake.
var ErrInvalidConstraint = errors.New("invalid version constraint")

// ErrInvalidVersion is wrapped by every error ParseVersion returns.
var ErrInvalidVersion = errors.New("invalid version")

// Constraint is a PEP 440 version specifier set such as ">=1.2,<2": a
// version matches when it satisfies every comma-separated clause.
type Constraint struct {
	clauses []clause
}

type clause struct {
	text string // operator and version, without spaces: ">=1.2"
	spec specifier.Specifiers
}

// pep440Operators are the comparison operators PEP 440 defines, each listed
// before any operator it starts with so the first match is the longest.
var pep440Operators = []string{"===", "~=", "==", "!=", "<=", ">=", "<", ">"}

// ParseConstraint parses a PEP 440 specifier set. Whitespace around clauses
// and between an operator and its version is ignored.
//
// The specifier library also accepts forms PEP 440 does not define: a bare
// version or "=1.0" meaning "==1.0", "*", "||" alternatives, clauses
// separated by spaces instead of commas, and empty clauses. They are
// rejected here: pip refuses all but empty clauses, and whatever is
// accepted once becomes part of the API.
func ParseConstraint(s string) (Constraint, error) {
	c, err := ParseSpecifierSet(s)
	if err != nil {
		return Constraint{}, fmt.Errorf("%w %q: %s", ErrInvalidConstraint, strings.TrimSpace(s), err)
	}
	return c, nil
}

// ParseSpecifierSet parses s as ParseConstraint does, but its error is only
// the reason s is not a PEP 440 specifier set, without naming s, so that
// callers can phrase the error for their reader.
func ParseSpecifierSet(s string) (Constraint, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return Constraint{}, errors.New("it is empty")
	}
	var clauses []clause
	for raw := range strings.SplitSeq(s, ",") {
		raw = strings.TrimSpace(raw)
		if raw == "" {
			return Constraint{}, errors.New("it has an empty clause; separate clauses with single commas and do not end with one")
		}
		op := ""
		for _, o := range pep440Operators {
			if strings.HasPrefix(raw, o) {
				op = o
				break
			}
		}
		if op == "" {
			return Constraint{}, fmt.Errorf("clause %q does not start with an operator (one of %s)", raw, strings.Join(pep440Operators, " "))
		}
		version := strings.TrimSpace(raw[len(op):])
		if version == "" || strings.ContainsAny(version, " \t\r\n|") {
			return Constraint{}, fmt.Errorf("clause %q must be an operator followed by one version; separate clauses with commas", raw)
		}
		// Parsed here as well only for a clearer message than the
		// library's "improper constraint" when the version is malformed.
		if _, err := specifier.Parse(strings.TrimSuffix(version, ".*")); err != nil {
			return Constraint{}, fmt.Errorf("clause %q: %q is not a PEP 440 version", raw, version)
		}
		spec, err := specifier.NewSpecifiers(op + version)
		if err != nil {
			return Constraint{}, fmt.Errorf("clause %q: %v", raw, err)
		}
		clauses = append(clauses, clause{text: op + version, spec: spec})
	}
	return Constraint{clauses: clauses}, nil
}

// Match reports whether v satisfies every clause of c. The zero Constraint
// matches every version.
func (c Constraint) Match(v Version) bool {
	pv, err := specifier.Parse(v.String())
	if err != nil {
		// Only a Version built by hand with negative numbers gets here; it
		// names no real version, so nothing selects it.
		return false
	}
	for _, cl := range c.clauses {
		if !cl.spec.Check(pv) {
			return false
		}
	}
	return true
}

// String returns c normalized: clauses joined by commas, no spaces, so that
// " >= 1.2 , < 2 " and ">=1.2,<2" are stored and shown alike.
func (c Constraint) String() string {
	texts := make([]string, len(c.clauses))
	for i, cl := range c.clauses {
		texts[i] = cl.text
	}
	return strings.Join(texts, ",")
}

// Version is a tool version: major.minor.patch, each a non-negative integer.
type Version struct {
	Major, Minor, Patch int
}

// ParseVersion parses exactly "N.N.N", where each N is a non-negative
// integer written without leading zeros. Anything looser (a "v" prefix, two
// or four parts, pre-releases) is rejected so that every version has a
// single spelling and versions compare equal exactly when their strings do.
func ParseVersion(s string) (Version, error) {
	parts := strings.Split(s, ".")
	if len(parts) != 3 {
		return Version{}, fmt.Errorf("%w %q: want major.minor.patch, such as 1.0.0", ErrInvalidVersion, s)
	}
	var nums [3]int
	for i, p := range parts {
		n, err := parseVersionNumber(p)
		if err != nil {
			return Version{}, fmt.Errorf("%w %q: %s", ErrInvalidVersion, s, err)
		}
		nums[i] = n
	}
	return Version{Major: nums[0], Minor: nums[1], Patch: nums[2]}, nil
}

func parseVersionNumber(p string) (int, error) {
	if p == "" {
		return 0, errors.New("a part is empty")
	}
	for _, r := range p {
		if r < '0' || r > '9' {
			return 0, fmt.Errorf("part %q is not a non-negative integer", p)
		}
	}
	if len(p) > 1 && p[0] == '0' {
		return 0, fmt.Errorf("part %q has a leading zero", p)
	}
	n, err := strconv.Atoi(p)
	if err != nil {
		return 0, fmt.Errorf("part %q is too large", p)
	}
	return n, nil
}

// String returns v as "major.minor.patch".
func (v Version) String() string {
	return fmt.Sprintf("%d.%d.%d", v.Major, v.Minor, v.Patch)
}

// Bump returns the next version of the given kind: "major" resets minor and
// patch, "minor" resets patch, "patch" increments patch.
func (v Version) Bump(kind string) (Version, error) {
	switch kind {
	case "major":
		return Version{Major: v.Major + 1}, nil
	case "minor":
		return Version{Major: v.Major, Minor: v.Minor + 1}, nil
	case "patch":
		return Version{Major: v.Major, Minor: v.Minor, Patch: v.Patch + 1}, nil
	}
	return Version{}, fmt.Errorf("pep440: version bump %q: want major, minor or patch", kind)
}
