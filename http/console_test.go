package httpapi_test

import (
	"compress/gzip"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/compadre-dev/compadre/app"
	"github.com/compadre-dev/compadre/compadretest"
)

// fetch sends a request with headers and answers the response with its
// body read (and not decompressed: the transport's own gzip is off).
func fetch(t *testing.T, method, url string, headers map[string]string, body string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range headers {
		if k == "Host" {
			req.Host = v
			continue
		}
		req.Header.Set(k, v)
	}
	res, err := (&http.Transport{DisableCompression: true}).RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res, b
}

func TestConsoleFiles(t *testing.T) {
	srv := compadretest.Start(t)
	for _, tc := range []struct {
		path, contentType, contains string
	}{
		{"/", "text/html; charset=utf-8", `<script type="module" src="/console/js/main.js">`},
		{"/console/app.css", "text/css; charset=utf-8", "--accent"},
		{"/console/js/main.js", "text/javascript; charset=utf-8", "import"},
		{"/console/js/dom.js", "text/javascript; charset=utf-8", "createElement"},
		{"/console/favicon.svg", "image/svg+xml", "<svg"},
	} {
		t.Run(tc.path, func(t *testing.T) {
			res, body := fetch(t, "GET", srv.BaseURL+tc.path, nil, "")
			if res.StatusCode != http.StatusOK {
				t.Fatalf("status %d: %s", res.StatusCode, body)
			}
			h := res.Header
			if got := h.Get("Content-Type"); got != tc.contentType {
				t.Errorf("Content-Type %q, want %q", got, tc.contentType)
			}
			csp := h.Get("Content-Security-Policy")
			for _, want := range []string{"default-src 'none'", "script-src 'self'", "style-src 'self'", "frame-ancestors 'none'", "base-uri 'none'"} {
				if !strings.Contains(csp, want) {
					t.Errorf("CSP %q lacks %q", csp, want)
				}
			}
			if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") {
				t.Errorf("CSP allows inline or eval: %q", csp)
			}
			if h.Get("X-Content-Type-Options") != "nosniff" || h.Get("X-Frame-Options") != "DENY" || h.Get("Referrer-Policy") != "no-referrer" {
				t.Errorf("security headers: %v", h)
			}
			if !strings.Contains(string(body), tc.contains) {
				t.Errorf("body lacks %q", tc.contains)
			}
			// Compressed on request, the same bytes once inflated.
			zres, zbody := fetch(t, "GET", srv.BaseURL+tc.path, map[string]string{"Accept-Encoding": "gzip"}, "")
			if zres.Header.Get("Content-Encoding") == "gzip" {
				zr, err := gzip.NewReader(strings.NewReader(string(zbody)))
				if err != nil {
					t.Fatal(err)
				}
				plain, _ := io.ReadAll(zr)
				if string(plain) != string(body) {
					t.Error("gzipped body differs from the plain one")
				}
			} else if len(body) > 1024 {
				t.Errorf("a %d-byte file was not compressed", len(body))
			}
			// Revalidation by ETag.
			etag := h.Get("ETag")
			if etag == "" || h.Get("Cache-Control") != "no-cache" {
				t.Fatalf("ETag %q, Cache-Control %q", etag, h.Get("Cache-Control"))
			}
			nres, nbody := fetch(t, "GET", srv.BaseURL+tc.path, map[string]string{"If-None-Match": etag}, "")
			if nres.StatusCode != http.StatusNotModified || len(nbody) != 0 {
				t.Errorf("revalidation: %d with %d bytes", nres.StatusCode, len(nbody))
			}
		})
	}
	for _, path := range []string{"/console/", "/console/nope.js", "/console/index.html"} {
		if res, _ := fetch(t, "GET", srv.BaseURL+path, nil, ""); res.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 404", path, res.StatusCode)
		}
	}
	if res, _ := fetch(t, "POST", srv.BaseURL+"/", nil, ""); res.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST /: %d, want 405", res.StatusCode)
	}
	// The console's files are not the API's requests.
	for _, r := range srv.Requests(t) {
		if r.Operation == "console" || strings.HasPrefix(r.Path, "/console/") {
			t.Errorf("request log holds %s %s", r.Method, r.Path)
		}
	}
}

func TestConsoleOff(t *testing.T) {
	srv := compadretest.Start(t, compadretest.WithConsole(false))
	for _, path := range []string{"/", "/console/app.css", "/_console/config"} {
		if res, _ := fetch(t, "GET", srv.BaseURL+path, nil, ""); res.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 404", path, res.StatusCode)
		}
	}
}

func TestConsoleFirstStart(t *testing.T) {
	srv := compadretest.Start(t)
	config := func(headers map[string]string) map[string]any {
		t.Helper()
		res, body := fetch(t, "GET", srv.BaseURL+"/_console/config", headers, "")
		if res.StatusCode != http.StatusOK {
			t.Fatalf("config: %d %s", res.StatusCode, body)
		}
		var out map[string]any
		if err := json.Unmarshal(body, &out); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(body), srv.APIKey) {
			t.Fatal("config holds the API key")
		}
		return out
	}
	got := config(nil)
	first := got["first_start"].(map[string]any)
	if first["offered"] != true || first["organization"] != srv.Organization || got["control_api"] != true {
		t.Fatalf("config: %v", got)
	}
	if off := config(map[string]string{"Host": "attacker.example"})["first_start"].(map[string]any); off["offered"] != false {
		t.Errorf("offered to a rebound name: %v", off)
	}

	signIn := func(headers map[string]string) (int, map[string]any) {
		t.Helper()
		h := map[string]string{"Content-Type": "application/json"}
		for k, v := range headers {
			h[k] = v
		}
		res, body := fetch(t, "POST", srv.BaseURL+"/_console/first-start/sign-in", h, "{}")
		var out map[string]any
		_ = json.Unmarshal(body, &out)
		if res.Header.Get("Cache-Control") != "no-store" {
			t.Errorf("Cache-Control %q", res.Header.Get("Cache-Control"))
		}
		return res.StatusCode, out
	}
	status, body := signIn(map[string]string{"Origin": srv.BaseURL})
	if status != http.StatusOK || body["organization"] != srv.Organization || body["user_id"] != srv.UserID || body["id_token"] == "" {
		t.Fatalf("sign-in: %d %v", status, body)
	}
	if strings.Contains(body["id_token"].(string), srv.APIKey) || body["api_key"] != nil {
		t.Fatal("sign-in answered the key")
	}
	// The token works on the API.
	res, _ := fetch(t, "GET", srv.BaseURL+"/v1/"+srv.Organization+"/organization/",
		map[string]string{"Authorization": "Bearer " + body["id_token"].(string)}, "")
	if res.StatusCode != http.StatusOK {
		t.Errorf("the token: %d", res.StatusCode)
	}

	for _, tc := range []struct {
		name    string
		headers map[string]string
		want    int
	}{
		{"another origin", map[string]string{"Origin": "http://attacker.example"}, http.StatusForbidden},
		{"a rebound name", map[string]string{"Host": "attacker.example"}, http.StatusForbidden},
		{"cross-site", map[string]string{"Sec-Fetch-Site": "cross-site"}, http.StatusForbidden},
		// A form another site submits cannot send JSON without a preflight.
		{"a form", map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, http.StatusUnsupportedMediaType},
		{"plain text", map[string]string{"Content-Type": "text/plain"}, http.StatusUnsupportedMediaType},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if status, body := signIn(tc.headers); status != tc.want || body["id_token"] != nil {
				t.Errorf("%d %v, want %d without a token", status, body, tc.want)
			}
		})
	}

	// Deleting credentials.json withdraws the offer at once.
	if err := os.Remove(filepath.Join(srv.DataDir, app.CredentialsFile)); err != nil {
		t.Fatal(err)
	}
	if first := config(nil)["first_start"].(map[string]any); first["offered"] != false {
		t.Errorf("offered without credentials.json: %v", first)
	}
	if status, _ := signIn(nil); status != http.StatusForbidden {
		t.Errorf("sign-in without credentials.json: %d", status)
	}
}
