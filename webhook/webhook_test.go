package webhook

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"
)

// The signature is the one the official SDKs verify, here computed
// independently (Python: hmac.new(b"secret", b'v1:1700000000000:{"a":1}',
// hashlib.sha256).hexdigest()).
func TestSign(t *testing.T) {
	const want = "23a423a162f92205a0e4141069773ff05994b82869d0aaccf5e305f42dffadca"
	if got := Sign("secret", 1700000000000, []byte(`{"a":1}`)); got != want {
		t.Errorf("signature %s, want %s", got, want)
	}
}

func TestCheckURL(t *testing.T) {
	strict, local, open := Policy{}, Policy{Loopback: true}, Policy{Loopback: true, PrivateNetworks: true}
	tests := []struct {
		url    string
		policy Policy
		ok     bool
	}{
		{"https://hooks.example.com/in", strict, true},
		{"https://93.184.216.34/in", strict, true},
		{"http://hooks.example.com/in", strict, false},
		{"http://hooks.example.com/in", local, false},
		{"http://127.0.0.1:8080/in", strict, false},
		{"http://127.0.0.1:8080/in", local, true},
		{"http://localhost:8080/in", local, true},
		{"https://[::1]/in", local, true},
		{"https://[::1]/in", strict, false},
		{"https://10.0.0.5/in", strict, false},
		{"https://10.0.0.5/in", local, false},
		{"https://10.0.0.5/in", open, true},
		{"https://192.168.1.2/in", strict, false},
		{"https://172.16.0.1/in", strict, false},
		{"https://100.64.0.1/in", strict, false},
		{"https://169.254.169.254/latest/meta-data", strict, false},
		{"https://169.254.169.254/latest/meta-data", local, false},
		{"https://[fe80::1]/in", strict, false},
		{"https://[fd00::1]/in", strict, false},
		{"https://[::ffff:10.0.0.1]/in", strict, false},
		{"https://0.0.0.0/in", open, false},
		{"https://224.0.0.1/in", open, false},
		{"https://user:pass@hooks.example.com/in", strict, false},
		{"hooks.example.com/in", strict, false},
		{"ftp://hooks.example.com/in", strict, false},
	}
	for _, tt := range tests {
		err := tt.policy.CheckURL(tt.url)
		if (err == nil) != tt.ok {
			t.Errorf("%s under %+v: %v, want allowed %v", tt.url, tt.policy, err, tt.ok)
		}
		if err != nil && !errors.Is(err, ErrRefused) {
			t.Errorf("%s: %v is not ErrRefused", tt.url, err)
		}
	}
}

// The policy holds when the connection is made, not only when the URL is
// saved: a name resolving to loopback is refused without Loopback, and a
// redirect is not followed.
func TestClientChecksAtConnectionTime(t *testing.T) {
	hits := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits++
		if r.URL.Path == "/moved" {
			http.Redirect(w, r, "/elsewhere", http.StatusFound)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	u, _ := url.Parse(srv.URL)
	_, port, _ := net.SplitHostPort(u.Host)
	byName := "http://localhost:" + port + "/in"
	ctx := context.Background()

	if code := post(ctx, Policy{}.Client(time.Second), byName, "k", 1, "s", []byte("{}")); code != 0 || hits != 0 {
		t.Fatalf("a strict client reached loopback by name: status %d, %d hits", code, hits)
	}
	local := Policy{Loopback: true}.Client(time.Second)
	if code := post(ctx, local, byName, "k", 1, "s", []byte("{}")); code != http.StatusNoContent || hits != 1 {
		t.Fatalf("a loopback client: status %d, %d hits", code, hits)
	}
	if code := post(ctx, local, srv.URL+"/moved", "k", 1, "s", []byte("{}")); code != http.StatusFound || hits != 2 {
		t.Errorf("a redirect: status %d, %d hits; want 302 answered and not followed", code, hits)
	}
}
