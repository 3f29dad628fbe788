package httpapi

import (
	"bytes"
	"io"
	"net/http/httptest"
	"sort"
	"testing"
)

// TestDocumentMatchesRoutes fails when a served route is missing from the
// OpenAPI document, or the document names an operation that is not served.
func TestDocumentMatchesRoutes(t *testing.T) {
	t.Parallel()
	doc, err := loadAPIDocument()
	if err != nil {
		t.Fatal(err)
	}
	served := map[string]string{}
	for _, rt := range (&Server{}).routes() {
		served[rt.op] = rt.method + " " + rt.path
	}
	documented := map[string]string{}
	for id, op := range doc.ops {
		documented[id] = op.method + " " + op.path
	}
	var problems []string
	for id, where := range served {
		if documented[id] != where {
			problems = append(problems, "served but not documented as such: "+id+" "+where+" (document: "+documented[id]+")")
		}
	}
	for id, where := range documented {
		if _, ok := served[id]; !ok {
			problems = append(problems, "documented but not served: "+id+" "+where)
		}
	}
	sort.Strings(problems)
	for _, p := range problems {
		t.Error(p)
	}
}

// TestEveryOperationCompiles compiles every operation's schemas, which a
// server does only when a request first needs them: a schema that does not
// compile fails here rather than in a client's request.
func TestEveryOperationCompiles(t *testing.T) {
	t.Parallel()
	doc, err := loadAPIDocument()
	if err != nil {
		t.Fatal(err)
	}
	params, bodies := 0, 0
	for id, op := range doc.ops {
		if err := doc.compiled(op); err != nil {
			t.Errorf("%s: %v", id, err)
			continue
		}
		if op.hasBody != (op.body != nil) {
			t.Errorf("%s: has a body %v, compiled one %v", id, op.hasBody, op.body != nil)
		}
		for _, p := range op.params {
			if p.schema == nil {
				t.Errorf("%s: parameter %s not compiled", id, p.name)
			}
		}
		params += len(op.params)
		if op.hasBody {
			bodies++
		}
	}
	if bodies == 0 || params == 0 {
		t.Errorf("compiled %d parameter and %d body schemas, want some of each", bodies, params)
	}
}

// A body the document offers only as a multipart form or raw audio reaches
// the handler unread and unchecked, whatever its size, while a JSON body is
// still read and validated. See DECISIONS.md, "Why are bodies other than
// JSON left to the handler?".
func TestOnlyJSONBodiesAreReadByTheValidator(t *testing.T) {
	t.Parallel()
	doc, err := loadAPIDocument()
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{doc: doc}
	// Larger than the validator's own limit, so reading it would be a 413.
	audio := bytes.Repeat([]byte{0x52}, maxBodyBytes+1)
	tests := []struct {
		name, op, url, ctype string
		body                 []byte
		wantErr              bool
		wantLeft             []byte
	}{
		{"raw audio", "interact-with-conversation", "/?request_format=voice&response_format=text", "audio/wav", audio, false, audio},
		{"multipart form", "interact-with-conversation", "/?request_format=text&response_format=text",
			"multipart/form-data; boundary=b", []byte("--b\r\nContent-Disposition: form-data; name=\"initial_message_type\"\r\n\r\nuser-message\r\n--b--\r\n"), false,
			[]byte("--b\r\nContent-Disposition: form-data; name=\"initial_message_type\"\r\n\r\nuser-message\r\n--b--\r\n")},
		{"JSON", "generate-conversation-starter", "/", "application/json", []byte(`{"service_id": "x"}`), true, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			op, err := doc.operation(tc.op)
			if err != nil {
				t.Fatal(err)
			}
			r := httptest.NewRequest("POST", tc.url, bytes.NewReader(tc.body))
			r.Header.Set("Content-Type", tc.ctype)
			st := &requestState{}
			err = s.validateRequest(httptest.NewRecorder(), r, op, st)
			if gotErr := err != nil; gotErr != tc.wantErr {
				t.Fatalf("got error %v, want an error %v", err, tc.wantErr)
			}
			left, _ := io.ReadAll(r.Body)
			if !bytes.Equal(left, tc.wantLeft) {
				t.Errorf("got %d bytes left for the handler, want %d", len(left), len(tc.wantLeft))
			}
			if tc.wantLeft != nil && st.body != nil {
				t.Errorf("got a validated body of %d bytes, want none", len(st.body))
			}
		})
	}
}
