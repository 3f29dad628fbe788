package httpapi

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io/fs"
	"mime"
	"net"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"
	"sync"
	"time"

	assets "github.com/compadre-dev/compadre/embed"
	"github.com/compadre-dev/compadre/store"
	"github.com/gorilla/mux"
)

// consoleCSP is the console's Content-Security-Policy: scripts, styles and
// requests only from the server itself, no inline script or style
// element, no plugins, no framing. Text the API returns is only ever
// inserted as text (see embed/console/js/dom.js), and this policy is the
// second line: an injected <script> or onerror attribute would not run.
const consoleCSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; font-src 'self'; manifest-src 'self'; base-uri 'none'; form-action 'none'; " +
	"frame-ancestors 'none'"

// consoleFile is one of the console's files, ready to serve.
type consoleFile struct {
	body, gzipped []byte
	contentType   string
	etag          string
}

// consoleFiles is the embedded console ready to serve, made once per
// process: compressing it takes about 16 ms, which every server a test
// starts would pay again. The files never change while the process runs.
var consoleFiles = sync.OnceValues(consoleAssets)

// consoleAssets prepares the embedded console: each file with its content
// type, a strong ETag and a gzip copy, so a request costs a map lookup.
func consoleAssets() (map[string]*consoleFile, error) {
	files := map[string]*consoleFile{}
	err := fs.WalkDir(assets.Console, "console", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(assets.Console, p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		f := &consoleFile{body: b, etag: `"` + hex.EncodeToString(sum[:8]) + `"`,
			contentType: mime.TypeByExtension(path.Ext(p))}
		if f.contentType == "" {
			f.contentType = "application/octet-stream"
		}
		var z bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&z, gzip.BestCompression)
		_, _ = zw.Write(b)
		if err := zw.Close(); err != nil {
			return err
		}
		if z.Len() < len(b) {
			f.gzipped = z.Bytes()
		}
		files[strings.TrimPrefix(p, "console/")] = f
		return nil
	})
	return files, err
}

// mountConsole serves the console at / and its files under /console/, and
// the first start's sign-in for it under /_console/. None of these are
// operations of the API: they are outside the served document, the
// request log and fault injection.
func (s *Server) mountConsole(router *mux.Router) error {
	files, err := consoleFiles()
	if err != nil {
		return err
	}
	if _, ok := files["index.html"]; !ok {
		return errors.New("httpapi: the console has no index.html")
	}
	// index.html is served at / only; ".." never names a file here.
	serve := func(w http.ResponseWriter, r *http.Request, name string) {
		consoleRequest(r)
		f, ok := files[name]
		if !ok || strings.Contains(name, "..") {
			writeJSON(w, http.StatusNotFound, map[string]string{"detail": "Not Found"})
			return
		}
		f.serve(w, r)
	}
	router.Path("/").Methods(http.MethodGet, http.MethodHead).HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		serve(w, r, "index.html")
	})
	router.PathPrefix("/console/").Methods(http.MethodGet, http.MethodHead).HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := strings.TrimPrefix(r.URL.Path, "/console/")
		if name == "index.html" {
			name = ""
		}
		serve(w, r, name)
	})
	router.Path("/_console/config").Methods(http.MethodGet).HandlerFunc(s.consoleConfig)
	router.Path("/_console/first-start/sign-in").Methods(http.MethodPost).HandlerFunc(s.consoleFirstStartSignIn)
	return nil
}

// consoleRequest marks a request as the console's, not the API's.
func consoleRequest(r *http.Request) {
	st := state(r.Context())
	st.op, st.outsideAPI = "console", true
}

func (f *consoleFile) serve(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	consoleHeaders(h)
	h.Set("Content-Type", f.contentType)
	h.Set("ETag", f.etag)
	// Files keep their names across versions, so a browser revalidates
	// each on load: one round trip on loopback, and never a stale console
	// after an upgrade.
	h.Set("Cache-Control", "no-cache")
	h.Add("Vary", "Accept-Encoding")
	if r.Header.Get("If-None-Match") == f.etag {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	body := f.body
	if f.gzipped != nil && acceptsGzip(r.Header.Get("Accept-Encoding")) {
		h.Set("Content-Encoding", "gzip")
		body = f.gzipped
	}
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(body)
	}
}

// consoleHeaders are the security headers of everything the console
// serves.
func consoleHeaders(h http.Header) {
	h.Set("Content-Security-Policy", consoleCSP)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
}

// acceptsGzip reports whether an Accept-Encoding header takes gzip: named
// with a q-value above zero, or without one.
func acceptsGzip(accept string) bool {
	for part := range strings.SplitSeq(accept, ",") {
		name, params, _ := strings.Cut(part, ";")
		if !strings.EqualFold(strings.TrimSpace(name), "gzip") {
			continue
		}
		for p := range strings.SplitSeq(params, ";") {
			k, v, _ := strings.Cut(strings.TrimSpace(p), "=")
			if strings.EqualFold(k, "q") {
				q, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
				return err == nil && q > 0
			}
		}
		return true
	}
	return false
}

// FirstStart are the credentials of the first start, which the console
// offers to sign in with to a browser on the server's own machine.
type FirstStart struct {
	Organization, UserID, APIKeyID, APIKey string
}

// consoleConfig tells the console what this server offers it: whether the
// first start's credentials may be used from this browser (for which
// organization; never the key itself), and whether the control API is on.
func (s *Server) consoleConfig(w http.ResponseWriter, r *http.Request) {
	consoleRequest(r)
	consoleHeaders(w.Header())
	w.Header().Set("Cache-Control", "no-store")
	first := map[string]any{"offered": false}
	if creds, ok := s.offeredFirstStart(r); ok {
		first = map[string]any{"offered": true, "organization": creds.Organization}
	}
	writeJSON(w, http.StatusOK, map[string]any{"first_start": first, "control_api": s.control != nil, "version": s.version})
}

// consoleFirstStartSignIn signs the console in with the first start's
// API key, on the server's side, and answers with a token as
// sign-in-with-api-key does (plus the organization), so the key itself
// never reaches the browser.
func (s *Server) consoleFirstStartSignIn(w http.ResponseWriter, r *http.Request) {
	consoleRequest(r)
	consoleHeaders(w.Header())
	w.Header().Set("Cache-Control", "no-store")
	// A page of another origin can send a simple cross-origin POST but not
	// one with a JSON content type without a preflight, which is never
	// granted here; its Origin header would also differ from the host.
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mt != "application/json" {
		writeJSON(w, http.StatusUnsupportedMediaType, map[string]string{"detail": "Content-Type must be application/json."})
		return
	}
	creds, ok := s.offeredFirstStart(r)
	if !ok {
		writeJSON(w, http.StatusForbidden, map[string]string{"detail": "The first start's credentials are offered only to a browser on the server's own machine."})
		return
	}
	ctx := r.Context()
	org, err := s.store.GetOrganization(ctx, creds.Organization)
	if err == nil {
		var token string
		var exp time.Time
		token, exp, err = s.signInWithKey(ctx, org.ID, creds.APIKeyID, creds.APIKey, creds.UserID)
		if err == nil {
			writeJSON(w, http.StatusOK, map[string]string{"organization": org.ID, "user_id": creds.UserID,
				"id_token": token, "expires_at": apiTime(exp)})
			return
		}
	}
	var apiErr *apiError
	if errors.Is(err, store.ErrNotFound) || errors.As(err, &apiErr) {
		writeJSON(w, http.StatusUnauthorized, map[string]string{"detail": "The first start's credentials no longer sign in (the key or user was deleted, or the state was reset)."})
		return
	}
	writeError(w, r, s.log, err)
}

// offeredFirstStart is the first start's credentials when this request may
// have them: the console is on, the credentials exist, and the browser
// reached the server over loopback by a loopback name (so a page of
// another site that rebinds its DNS name to 127.0.0.1 is refused), from
// the server's own origin when it says where it comes from.
func (s *Server) offeredFirstStart(r *http.Request) (FirstStart, bool) {
	if s.firstStart == nil || !loopbackRequest(r) {
		return FirstStart{}, false
	}
	return s.firstStart()
}

func loopbackRequest(r *http.Request) bool {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return false
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return false
	}
	if !loopbackName(r.Host) {
		return false
	}
	if origin := r.Header.Get("Origin"); origin != "" {
		u, err := url.Parse(origin)
		if err != nil || u.Host != r.Host {
			return false
		}
	}
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" && site != "same-origin" && site != "none" {
		return false
	}
	return true
}

// loopbackName reports whether a Host header names this machine by a
// loopback address or localhost.
func loopbackName(hostport string) bool {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.ToLower(host), ".")
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip != nil && ip.IsLoopback()
}
