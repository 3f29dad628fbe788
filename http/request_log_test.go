package httpapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"mime/multipart"
	"regexp"
	"strings"
	"testing"
)

func TestSecretName(t *testing.T) {
	for name, want := range map[string]bool{
		"id_token": true, "sign_in_token": true, "access_token": true, "token": true, "api_key": true,
		"x-api-key": true, "X-Api-Key": true, "secret": true, "webhookSecret": true, "password": true,
		"Authorization": true, "Cookie": true, "Set-Cookie": true, "private_key": true,
		"api_key_id": false, "token_type": false, "max_tokens": false, "secret_generated_at": false,
		"name": false, "value": false, "x-api-key-id": false, "secret_envvars": false,
	} {
		if got := secretName(name); got != want {
			t.Errorf("%s: got %v, want %v", name, got, want)
		}
	}
}

func TestRedactedJSON(t *testing.T) {
	in := `{"api_key":"s1","api_key_id":"k","max_tokens":5,"nested":[{"id_token":"s2"},{"name":"A","value":"s3","is_secret":true},
		{"name":"B","value":"plain","is_secret":false}],"secret":{"kept":"an object is not a secret value"}}`
	got := string(redactedJSONBytes([]byte(in)))
	want := `{"api_key":"[redacted]","api_key_id":"k","max_tokens":5,"nested":[{"id_token":"[redacted]"},` +
		`{"is_secret":true,"name":"A","value":"[redacted]"},{"is_secret":false,"name":"B","value":"plain"}],` +
		`"secret":{"kept":"an object is not a secret value"}}`
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

func TestRedactedText(t *testing.T) {
	tests := []struct{ in, want string }{
		{`{"id_token": "abc", "name": "n", "secret":"x\"y"`, `{"id_token": "[redacted]", "name": "n", "secret":"[redacted]"`},
		{`{"api_key": "cut in the mid`, `{"api_key": "[redacted]"`},
		{`a=1&password=hunter2&b=2`, `a=1&password=[redacted]&b=2`},
		{`token=abc; path=/`, `token=[redacted]; path=/`},
		{`nothing to hide`, `nothing to hide`},
	}
	for _, tc := range tests {
		if got := redactedText(tc.in); got != tc.want {
			t.Errorf("%s: got %s, want %s", tc.in, got, tc.want)
		}
	}
}

func TestLoggedBodies(t *testing.T) {
	var form bytes.Buffer
	mw := multipart.NewWriter(&form)
	_ = mw.WriteField("initial_message_type", "user-message")
	_ = mw.WriteField("password", "hunter2")
	fw, _ := mw.CreateFormFile("recorded_message", "hello.wav")
	_, _ = fw.Write(bytes.Repeat([]byte{0}, 5000))
	_ = mw.Close()
	buffer := func(b []byte) *boundedBuffer {
		var bb boundedBuffer
		_, _ = bb.Write(b)
		return &bb
	}
	tests := []struct {
		name, ctype string
		body        []byte
		want        string
	}{
		{"none", "", nil, "null"},
		{"JSON", "application/json", []byte(`{"secret":"s"}`), `{"content_type":"application/json","size":14,"truncated":false,"json":{"secret":"[redacted]"}}`},
		{"text", "text/plain", []byte("password=p"), `{"content_type":"text/plain","size":10,"truncated":false,"text":"password=[redacted]"}`},
		{"binary", "audio/wav", []byte{0xff, 0xfe, 0}, `{"content_type":"audio/wav","size":3,"truncated":false}`},
		{"form", mw.FormDataContentType(), form.Bytes(), `{"content_type":"` + mw.FormDataContentType() + `","size":` +
			fmt.Sprint(form.Len()) + `,"truncated":false,"parts":[{"name":"initial_message_type","size":12,"value":"user-message"},` +
			`{"name":"password","size":7,"value":"[redacted]"},{"name":"recorded_message","filename":"hello.wav",` +
			`"content_type":"application/octet-stream","size":5000}]}`},
		{"cut", "application/json", append([]byte(`{"token":"t","x":"`), bytes.Repeat([]byte("é"), maxLoggedBody)...), ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, _ := json.Marshal(loggedBody(tc.ctype, buffer(tc.body)))
			if tc.want != "" && string(got) != tc.want {
				t.Errorf("got  %s\nwant %s", got, tc.want)
			}
			if tc.name == "cut" {
				lb := loggedBody(tc.ctype, buffer(tc.body))
				if !lb.Truncated || lb.Size != int64(len(tc.body)) || lb.Text == nil || len(*lb.Text) > maxLoggedBody+len(redacted) ||
					!strings.HasPrefix(*lb.Text, `{"token":"[redacted]"`) || lb.JSON != nil {
					t.Errorf("a cut body: truncated %v, size %d, text %.40q", lb.Truncated, lb.Size, *lb.Text)
				}
			}
		})
	}
}

func TestLoggedEvents(t *testing.T) {
	var b boundedBuffer
	_, _ = b.Write([]byte("{\"type\":\"a\",\"token\":\"t\"}\n\nnot json\n{\"type\":\"b\"}\n"))
	got, _ := json.Marshal(loggedEvents(&b))
	if want := `[{"token":"[redacted]","type":"a"},"not json",{"type":"b"}]`; string(got) != want {
		t.Errorf("got %s, want %s", got, want)
	}
}

func TestRequestLogRing(t *testing.T) {
	l := newRequestLog(3)
	for i := range 5 {
		l.add(&logEntry{LoggedRequest: LoggedRequest{Operation: fmt.Sprintf("op-%d", i)}})
	}
	var got []string
	for _, e := range l.list(RequestFilter{}) {
		got = append(got, fmt.Sprintf("%d:%s", e.ID, e.Operation))
	}
	if want := "[3:op-2 4:op-3 5:op-4]"; fmt.Sprint(got) != want {
		t.Errorf("got %v, want %s", got, want)
	}
	if got := l.list(RequestFilter{After: 3, Limit: 1}); len(got) != 1 || got[0].ID != 4 {
		t.Errorf("after 3, limit 1: %+v", got)
	}
	l.clear()
	l.add(&logEntry{})
	if got := l.list(RequestFilter{}); len(got) != 1 || got[0].ID != 6 {
		t.Errorf("after clearing: %+v", got)
	}
}

// The document without the control API refers to nothing it lacks.
func TestDocumentWithoutControlIsWhole(t *testing.T) {
	doc, err := loadAPIDocument()
	if err != nil {
		t.Fatal(err)
	}
	public, err := withoutControl(doc.json)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(public, &m); err != nil {
		t.Fatal(err)
	}
	schemas := m["components"].(map[string]any)["schemas"].(map[string]any)
	for _, ref := range regexp.MustCompile(`"#/components/schemas/([^"/]+)`).FindAllStringSubmatch(string(public), -1) {
		if _, ok := schemas[ref[1]]; !ok {
			t.Errorf("refers to schema %s, which it lacks", ref[1])
		}
	}
	if strings.Contains(string(public), ControlPrefix) || strings.Contains(string(public), "control-") {
		t.Error("the document still names the control API")
	}
	if len(public) >= len(doc.json) || !strings.Contains(string(public), `"maxItems":1000000`) && strings.Contains(string(doc.json), `"maxItems":1000000`) {
		t.Error("the document lost more than the control API, or rewrote its numbers")
	}
}
