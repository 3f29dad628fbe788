package httpapi

import (
	"bytes"
	"encoding/json"
	"io"
	"math"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
	"path"
	"regexp"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// The request log keeps the last requests the server answered, for a test
// to assert on what its client sent and got. See DECISIONS.md, "What does
// the request log keep, and how are secrets kept out of it?".

// DefaultRequestLogSize is how many requests the log keeps when the
// control API is on and no size is given.
const DefaultRequestLogSize = 1000

// MaxRequestLogSize is the most requests the log may be asked to keep.
const MaxRequestLogSize = 100_000

// maxLoggedBody is how much of each body the log keeps.
const maxLoggedBody = 64 << 10

// redacted replaces every secret the log would otherwise show.
const redacted = "[redacted]"

// LoggedRequest is one request of the request log, with its secrets
// redacted. Entries are numbered in the order the requests finished.
type LoggedRequest struct {
	ID        int64     `json:"id"`
	RequestID string    `json:"request_id"`
	Time      time.Time `json:"time"`
	Method    string    `json:"method"`
	// Path is the request's path, a credential in it (the token of an
	// audio or artifacts link) redacted; Query its query string, likewise.
	Path      string `json:"path"`
	Query     string `json:"query"`
	Operation string `json:"operation"`
	// Organization is the organization the path names, or else the
	// caller's; User is the caller's, if the request authenticated.
	Organization *string `json:"organization"`
	User         *string `json:"user"`
	// Status is the answer's status; 0 if the connection was dropped
	// without one.
	Status          int                 `json:"status"`
	LatencyMS       float64             `json:"latency_ms"`
	RequestHeaders  map[string][]string `json:"request_headers"`
	RequestBody     *LoggedBody         `json:"request_body"`
	ResponseHeaders map[string][]string `json:"response_headers"`
	ResponseBody    *LoggedBody         `json:"response_body"`
	// Events are the events of an NDJSON answer, as sent; nil for any
	// other answer.
	Events []json.RawMessage `json:"events"`
	// Fault is the fault injected into the request, if any.
	Fault *LoggedFault `json:"fault"`
}

// LoggedBody is a request's or an answer's body: JSON (secrets redacted)
// when it is whole JSON, text when it is other text (values named like
// secrets redacted), parts when it is a multipart form, and nothing but
// its type and size otherwise. Size counts every byte; the log keeps the
// first 64 KiB, and Truncated says it kept less than Size.
type LoggedBody struct {
	ContentType string          `json:"content_type"`
	Size        int64           `json:"size"`
	Truncated   bool            `json:"truncated"`
	JSON        json.RawMessage `json:"json,omitempty"`
	Text        *string         `json:"text,omitempty"`
	Parts       []LoggedPart    `json:"parts,omitempty"`
}

// LoggedPart summarises one part of a multipart form: its name, file name
// and type, size, and the value of a short text field.
type LoggedPart struct {
	Name        string  `json:"name"`
	Filename    string  `json:"filename,omitempty"`
	ContentType string  `json:"content_type,omitempty"`
	Size        int64   `json:"size"`
	Value       *string `json:"value,omitempty"`
}

// LoggedFault names the fault injected into a request: the rule's ID or
// "header", and what it did (latency, status, drop, cut_stream).
type LoggedFault struct {
	Source  string   `json:"source"`
	Actions []string `json:"actions"`
}

// RequestFilter selects entries of the request log: of operations matching
// Operation (a glob, as a fault rule's), of Organization, numbered after
// After, at most Limit of them (0: all), oldest first.
type RequestFilter struct {
	Operation    string
	Organization string
	After        int64
	Limit        int
}

// requestLog is a ring of the last entries.
type requestLog struct {
	mu      sync.Mutex
	entries []*logEntry
	// next is the slot the next entry goes in; seq numbered the last one.
	next int
	seq  int64
}

func newRequestLog(size int) *requestLog {
	return &requestLog{entries: make([]*logEntry, size)}
}

// logEntry is an entry as recorded: headers are redacted when captured,
// bodies when the entry is first read, since reading them costs more than
// a request should pay. Until then the raw bodies are in memory only.
type logEntry struct {
	LoggedRequest
	reqType, respType string
	req, resp         boundedBuffer
	once              sync.Once
}

func (l *requestLog) add(e *logEntry) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.seq++
	e.ID = l.seq
	l.entries[l.next] = e
	l.next = (l.next + 1) % len(l.entries)
}

func (l *requestLog) clear() {
	l.mu.Lock()
	defer l.mu.Unlock()
	clear(l.entries)
	l.next = 0
}

// list returns the entries f selects, oldest first.
func (l *requestLog) list(f RequestFilter) []LoggedRequest {
	l.mu.Lock()
	var picked []*logEntry
	for i := range l.entries {
		e := l.entries[(l.next+i)%len(l.entries)]
		if e == nil || e.ID <= f.After || f.Organization != "" && (e.Organization == nil || *e.Organization != f.Organization) {
			continue
		}
		if f.Operation != "" {
			if ok, _ := path.Match(f.Operation, e.Operation); !ok {
				continue
			}
		}
		picked = append(picked, e)
		if f.Limit > 0 && len(picked) == f.Limit {
			break
		}
	}
	l.mu.Unlock()
	out := make([]LoggedRequest, len(picked))
	for i, e := range picked {
		out[i] = e.view()
	}
	return out
}

// view is the entry with its bodies read and redacted, once.
func (e *logEntry) view() LoggedRequest {
	e.once.Do(func() {
		e.RequestBody = loggedBody(e.reqType, &e.req)
		if isNDJSON(e.respType) {
			e.Events = loggedEvents(&e.resp)
			e.ResponseBody = &LoggedBody{ContentType: e.respType, Size: e.resp.total, Truncated: e.resp.truncated()}
		} else {
			e.ResponseBody = loggedBody(e.respType, &e.resp)
		}
		e.req, e.resp = boundedBuffer{}, boundedBuffer{}
	})
	return e.LoggedRequest
}

// boundedBuffer keeps the first maxLoggedBody bytes written to it and
// counts them all.
type boundedBuffer struct {
	b     []byte
	total int64
}

func (b *boundedBuffer) Write(p []byte) (int, error) {
	b.total += int64(len(p))
	if room := maxLoggedBody - len(b.b); room > 0 {
		b.b = append(b.b, p[:min(room, len(p))]...)
	}
	return len(p), nil
}

func (b *boundedBuffer) truncated() bool { return b.total > int64(len(b.b)) }

// capture is what the log learns of a request while it is served.
type capture struct {
	rec      *statusRecorder
	start    time.Time
	at       time.Time
	headers  http.Header
	req      boundedBuffer
	resp     boundedBuffer
	body     *teeBody
	recorded bool
}

// teeBody copies what the handler reads of a request body into the
// capture.
type teeBody struct {
	io.ReadCloser
	into *boundedBuffer
	eof  bool
}

func (t *teeBody) Read(p []byte) (int, error) {
	n, err := t.ReadCloser.Read(p)
	_, _ = t.into.Write(p[:n])
	if err == io.EOF {
		t.eof = true
	}
	return n, err
}

// beginCapture starts capturing r for the request log.
func (s *Server) beginCapture(r *http.Request, rec *statusRecorder, start time.Time) *capture {
	c := &capture{rec: rec, start: start, at: s.now().UTC(), headers: redactedHeaders(r.Header)}
	if r.Body != nil && r.Body != http.NoBody {
		c.body = &teeBody{ReadCloser: r.Body, into: &c.req}
		r.Body = c.body
	}
	return c
}

// recordRequest adds the request to the log, once: when it ends, or before
// a fault closes its connection, so that a client that saw the connection
// close finds the request logged. Requests to the control API are not
// logged.
func (s *Server) recordRequest(r *http.Request, st *requestState) {
	c := st.capture
	if c == nil || c.recorded || st.outsideAPI {
		return
	}
	c.recorded = true
	// A body the handler did not read (a request refused before it, or
	// faulted) is still what the client sent: read what the log keeps of
	// it, unless the client waits to be asked for it.
	if c.body != nil && !c.body.eof && c.req.total < maxLoggedBody && r.Header.Get("Expect") == "" {
		_, _ = io.CopyN(io.Discard, c.body, maxLoggedBody-c.req.total)
	}
	status := c.rec.status
	if st.dropped {
		status = 0
	} else if status == 0 {
		status = http.StatusOK
	}
	e := &logEntry{LoggedRequest: LoggedRequest{
		RequestID: st.id, Time: c.at, Method: r.Method, Path: redactedPath(r.URL.Path, st.vars),
		Query: redactedQuery(r.URL.RawQuery), Operation: st.op, Status: status,
		LatencyMS:      math.Round(float64(time.Since(c.start).Microseconds())) / 1000,
		RequestHeaders: c.headers, ResponseHeaders: redactedHeaders(c.rec.Header()),
	}, reqType: r.Header.Get("Content-Type"), respType: c.rec.Header().Get("Content-Type"), req: c.req, resp: c.resp}
	if org := st.vars["organization"]; org != "" {
		e.Organization = &org
	} else if st.principal != nil {
		e.Organization = &st.principal.OrgID
	}
	if st.principal != nil {
		e.User = &st.principal.UserID
	}
	if st.fault != nil {
		e.Fault = &LoggedFault{Source: st.fault.source, Actions: st.fault.actions}
	}
	s.control.log.add(e)
}

// secretName reports whether a field, header or parameter of this name
// holds a secret: an authorization header or cookie, or a name ending in
// token, secret, password or api key in any spelling (id_token, x-api-key,
// webhookSecret). Names of IDs (api_key_id) and counts (max_tokens) are
// not secrets.
func secretName(name string) bool {
	// Every request's headers are checked: folding by hand costs nothing,
	// where a strings.Replacer cost a fifth of a logged request.
	var buf [64]byte
	folded := buf[:0]
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c == '-' || c == '_':
			continue
		case 'A' <= c && c <= 'Z':
			c += 'a' - 'A'
		}
		folded = append(folded, c)
	}
	switch n := string(folded); n {
	case "authorization", "proxyauthorization", "cookie", "setcookie":
		return true
	default:
		for _, suffix := range secretSuffixes {
			if strings.HasSuffix(n, suffix) {
				return true
			}
		}
	}
	return false
}

// secretSuffixes end the folded names of secrets.
var secretSuffixes = []string{"token", "secret", "password", "passwd", "apikey", "privatekey"}

func redactedHeaders(h http.Header) map[string][]string {
	out := make(map[string][]string, len(h))
	for k, v := range h {
		if secretName(k) {
			v = []string{redacted}
		}
		out[k] = v
	}
	return out
}

// redactedPath replaces the path variables named like secrets (the token
// of a download link) with [redacted].
func redactedPath(p string, vars map[string]string) string {
	for k, v := range vars {
		if v != "" && secretName(k) {
			p = strings.Replace(p, "/"+v, "/"+redacted, 1)
		}
	}
	return p
}

func redactedQuery(raw string) string {
	if raw == "" {
		return ""
	}
	q, err := url.ParseQuery(raw)
	if err != nil {
		return redactedText(raw)
	}
	changed := false
	for k := range q {
		if secretName(k) {
			q[k] = []string{redacted}
			changed = true
		}
	}
	if !changed {
		return raw
	}
	return q.Encode()
}

// redactedJSON replaces the string values of fields named like secrets,
// and the value of an object that says it is a secret (a variable with
// "is_secret": true), with [redacted].
func redactedJSON(v any) any {
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			if _, isString := x.(string); isString && secretName(k) {
				v[k] = redacted
				continue
			}
			v[k] = redactedJSON(x)
		}
		if v["is_secret"] == true {
			if _, ok := v["value"].(string); ok {
				v["value"] = redacted
			}
		}
	case []any:
		for i, x := range v {
			v[i] = redactedJSON(x)
		}
	}
	return v
}

// textSecrets finds "name": "value" and name=value pairs in text that is
// not whole JSON (a body cut at 64 KiB, a form); redactedText redacts
// those whose name is a secret's.
var textSecrets = regexp.MustCompile(`("([A-Za-z0-9_-]+)"[ \t\r\n]*:[ \t\r\n]*)"(?:[^"\\]|\\.)*"?|(\b([A-Za-z0-9_-]+)=)[^&\s;]*`)

func redactedText(s string) string {
	return textSecrets.ReplaceAllStringFunc(s, func(m string) string {
		sub := textSecrets.FindStringSubmatch(m)
		switch {
		case sub[2] != "" && secretName(sub[2]):
			return sub[1] + `"` + redacted + `"`
		case sub[4] != "" && secretName(sub[4]):
			return sub[3] + redacted
		}
		return m
	})
}

func isNDJSON(contentType string) bool {
	mt, _, _ := mime.ParseMediaType(contentType)
	return mt == "application/x-ndjson"
}

// loggedBody describes a body for the log; nil for none.
func loggedBody(contentType string, b *boundedBuffer) *LoggedBody {
	if b.total == 0 {
		return nil
	}
	out := &LoggedBody{ContentType: contentType, Size: b.total, Truncated: b.truncated()}
	mt, params, _ := mime.ParseMediaType(contentType)
	switch {
	case strings.HasPrefix(mt, "multipart/"):
		out.Parts = loggedParts(b.b, params["boundary"])
	case !out.Truncated && json.Valid(b.b):
		out.JSON = redactedJSONBytes(b.b)
	default:
		kept := b.b
		if out.Truncated {
			kept = trimPartialRune(kept)
		}
		if utf8.Valid(kept) {
			text := redactedText(string(kept))
			out.Text = &text
		}
	}
	return out
}

// trimPartialRune drops a rune the 64 KiB cut split.
func trimPartialRune(b []byte) []byte {
	for i := 0; i < utf8.UTFMax && len(b) > 0; i++ {
		if r, _ := utf8.DecodeLastRune(b); r != utf8.RuneError {
			return b
		}
		b = b[:len(b)-1]
	}
	return b
}

func redactedJSONBytes(b []byte) json.RawMessage {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil
	}
	out, err := json.Marshal(redactedJSON(v))
	if err != nil {
		return nil
	}
	return out
}

// loggedEvents are the whole lines of an NDJSON answer, each redacted; a
// line that is not JSON is kept as a JSON string.
func loggedEvents(b *boundedBuffer) []json.RawMessage {
	events := []json.RawMessage{}
	data := b.b
	for len(data) > 0 {
		line, rest, whole := bytes.Cut(data, []byte("\n"))
		if !whole && b.truncated() {
			break
		}
		data = rest
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		if ev := redactedJSONBytes(line); ev != nil {
			events = append(events, ev)
			continue
		}
		s, _ := json.Marshal(redactedText(string(line)))
		events = append(events, s)
	}
	return events
}

// maxPartValue is the longest text field whose value the log shows.
const maxPartValue = 1 << 10

// loggedParts summarises a multipart body: each part's name, file name,
// type and size, and a short text field's value, unless it is named like
// a secret.
func loggedParts(b []byte, boundary string) []LoggedPart {
	parts := []LoggedPart{}
	if boundary == "" {
		return parts
	}
	mr := multipart.NewReader(bytes.NewReader(b), boundary)
	for {
		p, err := mr.NextPart()
		if err != nil {
			return parts
		}
		var content boundedBuffer
		n, _ := io.Copy(&content, p)
		lp := LoggedPart{Name: p.FormName(), Filename: p.FileName(), ContentType: p.Header.Get("Content-Type"), Size: n}
		if lp.Filename == "" && n <= maxPartValue && utf8.Valid(content.b) {
			v := string(content.b)
			if secretName(lp.Name) {
				v = redacted
			}
			lp.Value = &v
		}
		parts = append(parts, lp)
	}
}
