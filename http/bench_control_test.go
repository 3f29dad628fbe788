package httpapi_test

import (
	"testing"

	"github.com/compadre-dev/compadre/compadretest"
)

// BenchmarkGetOrganizationControl is BenchmarkGetOrganization without the
// control API, with it on and no fault rule (one atomic load and a header
// lookup per request), and with the request log also keeping every request
// as compadretest does. The goal is the empty rule set within 2% of off.
func BenchmarkGetOrganizationControl(b *testing.B) {
	for _, tc := range []struct {
		name string
		opts []compadretest.Option
	}{
		{"control=off", []compadretest.Option{compadretest.WithControlAPI(false)}},
		{"control=on/rules=0/log=off", []compadretest.Option{compadretest.WithRequestLogSize(0)}},
		{"control=on/rules=0/log=1000", nil},
	} {
		b.Run(tc.name, func(b *testing.B) { benchGetOrganization(b, tc.opts...) })
	}
}
