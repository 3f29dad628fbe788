package httpapi

import (
	"net/http/httptest"
	"testing"
)

func TestLoopbackRequest(t *testing.T) {
	for _, tc := range []struct {
		name, remote, host, origin, site string
		want                             bool
	}{
		{"loopback by address", "127.0.0.1:5000", "127.0.0.1:8080", "", "", true},
		{"loopback by name", "127.0.0.1:5000", "localhost:8080", "", "", true},
		{"IPv6 loopback", "[::1]:5000", "[::1]:8080", "", "", true},
		{"same origin", "127.0.0.1:5000", "127.0.0.1:8080", "http://127.0.0.1:8080", "same-origin", true},
		{"typed address", "127.0.0.1:5000", "127.0.0.1:8080", "", "none", true},
		{"another machine", "192.0.2.7:5000", "127.0.0.1:8080", "", "", false},
		{"private network", "10.0.0.2:5000", "10.0.0.1:8080", "", "", false},
		// A site whose name resolves to 127.0.0.1 (DNS rebinding) arrives
		// over loopback with its own name as the host.
		{"rebound name", "127.0.0.1:5000", "attacker.example:8080", "", "", false},
		{"another origin", "127.0.0.1:5000", "127.0.0.1:8080", "http://attacker.example", "", false},
		{"another port's origin", "127.0.0.1:5000", "127.0.0.1:8080", "http://127.0.0.1:9999", "", false},
		{"cross-site fetch", "127.0.0.1:5000", "127.0.0.1:8080", "", "cross-site", false},
		{"unparsable remote", "pipe", "127.0.0.1:8080", "", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/_console/config", nil)
			r.RemoteAddr, r.Host = tc.remote, tc.host
			if tc.origin != "" {
				r.Header.Set("Origin", tc.origin)
			}
			if tc.site != "" {
				r.Header.Set("Sec-Fetch-Site", tc.site)
			}
			if got := loopbackRequest(r); got != tc.want {
				t.Errorf("loopbackRequest = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestAcceptsGzip(t *testing.T) {
	for accept, want := range map[string]bool{
		"":                        false,
		"gzip":                    true,
		"gzip, deflate, br, zstd": true,
		"br;q=1.0, gzip;q=0.5":    true,
		"gzip;q=0":                false,
		"gzip; q=0":               false,
		"identity":                false,
		"deflate, GZIP":           true,
		"x-gzip":                  false,
	} {
		if got := acceptsGzip(accept); got != want {
			t.Errorf("acceptsGzip(%q) = %v, want %v", accept, got, want)
		}
	}
}
