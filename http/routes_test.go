package httpapi

import (
	"bytes"
	"log/slog"
	"net/http"
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
		if wantSchema := op.hasBody && !op.rawBody; wantSchema != (op.body != nil) {
			t.Errorf("%s: has a JSON body %v, compiled one %v", id, wantSchema, op.body != nil)
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

// A body the document offers only as a multipart form or raw audio is
// handed to the handler as it came, past the 1 MiB a JSON body may have
// and unchecked, while a JSON body is still validated. See DECISIONS.md,
// "Why are bodies other than JSON left to the handler?".
func TestOnlyJSONBodiesAreCheckedByTheValidator(t *testing.T) {
	t.Parallel()
	doc, err := loadAPIDocument()
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{doc: doc}
	audio := bytes.Repeat([]byte{0x52}, maxBodyBytes+1)
	form := []byte("--b\r\nContent-Disposition: form-data; name=\"initial_message_type\"\r\n\r\nuser-message\r\n--b--\r\n")
	tests := []struct {
		name, op, url, ctype string
		body                 []byte
		wantStatus           int
		wantBody             []byte
	}{
		{"raw audio over 1 MiB", "interact-with-conversation", "/?request_format=voice&response_format=text", "audio/wav", audio, 0, audio},
		{"multipart form", "interact-with-conversation", "/?request_format=text&response_format=text", "multipart/form-data; boundary=b", form, 0, form},
		{"raw body over 16 MiB", "interact-with-conversation", "/?request_format=voice&response_format=text", "audio/wav",
			make([]byte, maxRawBodyBytes+1), http.StatusRequestEntityTooLarge, nil},
		{"JSON", "generate-conversation-starter", "/", "application/json", []byte(`{"service_id": "x"}`), http.StatusUnprocessableEntity,
			[]byte(`{"service_id": "x"}`)},
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
			switch {
			case tc.wantStatus == 0 && err != nil:
				t.Fatalf("got error %v, want none", err)
			case tc.wantStatus != 0 && (err == nil || errorResponse(r, slog.New(slog.DiscardHandler), err).status != tc.wantStatus):
				t.Fatalf("got error %v, want status %d", err, tc.wantStatus)
			}
			if !bytes.Equal(st.body, tc.wantBody) {
				t.Errorf("got %d bytes for the handler, want %d", len(st.body), len(tc.wantBody))
			}
		})
	}
}
