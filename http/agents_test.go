package httpapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/compadre-dev/compadre/compadretest"
	"github.com/compadre-dev/compadre/store"
)

// agentVersionBody is a complete, valid first version of an agent.
func agentVersionBody() map[string]any {
	return map[string]any{
		"initials": "AM",
		"identity": map[string]any{
			"name": "Amy", "role": "Support agent", "developed_by": "Example Inc.", "default_spoken_language": "eng",
			"relationship_to_developer": map[string]any{
				"ownership": "Example Inc.", "type": "assistant", "conversation_visibility": "visible",
				"thought_visibility": "hidden",
			},
		},
		"background":             "Amy helps customers with their orders.",
		"behaviors":              []any{"Be polite."},
		"communication_patterns": []any{"Short sentences."},
		"voice_config":           map[string]any{"voice_id": "voice-1"},
	}
}

// newAgent creates an agent named name with one valid version through the
// API and returns its ID. Services and conversations tests use it for an
// agent to refer to.
func (c *client) newAgent(t testing.TB, name string) string {
	t.Helper()
	status, body := c.do("POST", "/organization/agent", map[string]any{"agent_name": name})
	mustStatus(t, "create agent "+name, status, http.StatusCreated, body)
	id := body["id"].(string)
	status, body = c.do("POST", "/organization/agent/"+id+"/", agentVersionBody())
	mustStatus(t, "create agent "+name+" version", status, http.StatusCreated, body)
	return id
}

func TestAgentFixture(t *testing.T) {
	t.Parallel()
	_, c := newTestServer(t)
	id := c.newAgent(t, "Amy")
	status, body := c.do("GET", "/organization/agent/"+id+"/version", nil)
	mustStatus(t, "versions", status, http.StatusOK, body)
	vs := body["agent_versions"].([]any)
	if len(vs) != 1 || vs[0].(map[string]any)["version"] != float64(1) {
		t.Fatalf("got versions %v, want version 1 only", vs)
	}
}

// agentVersions returns the versions of an agent the client sees with the
// query, failing the test unless the answer is 200.
func (c *client) agentVersions(t testing.TB, id, query string) ([]map[string]any, map[string]any) {
	t.Helper()
	status, body := c.do("GET", "/organization/agent/"+id+"/version"+query, nil)
	mustStatus(t, "get agent versions"+query, status, http.StatusOK, body)
	var out []map[string]any
	for _, v := range body["agent_versions"].([]any) {
		out = append(out, v.(map[string]any))
	}
	return out, body
}

// agentList returns the agents the client sees with the query, by name.
func (c *client) agentList(t testing.TB, query string) (map[string]map[string]any, map[string]any) {
	t.Helper()
	status, body := c.do("GET", "/organization/agent"+query, nil)
	mustStatus(t, "get agents"+query, status, http.StatusOK, body)
	out := map[string]map[string]any{}
	for _, a := range body["agents"].([]any) {
		ag := a.(map[string]any)
		out[ag["name"].(string)] = ag
	}
	return out, body
}

// agentCreate creates an agent without versions and returns its ID.
func (c *client) agentCreate(t testing.TB, name string) string {
	t.Helper()
	status, body := c.do("POST", "/organization/agent", map[string]any{"agent_name": name})
	mustStatus(t, "create agent "+name, status, http.StatusCreated, body)
	return body["id"].(string)
}

// agentWith returns a complete first version with key set to value (nil
// deletes key).
func agentWith(key string, value any) map[string]any {
	b := agentVersionBody()
	if value == nil {
		delete(b, key)
	} else {
		b[key] = value
	}
	return b
}

// agentWithIdentity returns a complete first version whose identity has key
// set to value (nil deletes key).
func agentWithIdentity(key string, value any) map[string]any {
	b := agentVersionBody()
	id := b["identity"].(map[string]any)
	if value == nil {
		delete(id, key)
	} else {
		id[key] = value
	}
	return b
}

func versionNumbers(vs []map[string]any) []int {
	out := make([]int, len(vs))
	for i, v := range vs {
		out[i] = int(v["version"].(float64))
	}
	return out
}

func sameInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestAgentVoiceConfig(t *testing.T) {
	t.Parallel()
	_, c := newTestServer(t)
	id := c.agentCreate(t, "Voice")

	for _, field := range []string{"stability", "similarity_boost", "style"} {
		for _, value := range []any{0.5, nil} {
			t.Run(fmt.Sprintf("%s=%v", field, value), func(t *testing.T) {
				vc := map[string]any{"voice_id": "voice-1", field: value}
				status, body := c.do("POST", "/organization/agent/"+id+"/", agentWith("voice_config", vc))
				mustStatus(t, field, status, http.StatusUnprocessableEntity, body)
				text := errorText(body)
				if !strings.Contains(text, "removed") || !strings.Contains(text, "v0.7.0") || !strings.Contains(text, field) {
					t.Errorf("error %q does not say %s was removed in v0.7.0", text, field)
				}
			})
		}
	}
	all := map[string]any{"voice_id": "v", "stability": 1, "similarity_boost": 1, "style": 1}
	status, body := c.do("POST", "/organization/agent/"+id+"/", agentWith("voice_config", all))
	mustStatus(t, "all three", status, http.StatusUnprocessableEntity, body)
	if n := len(body["detail"].([]any)); n != 3 {
		t.Errorf("got %d errors for three removed fields, want 3: %v", n, body)
	}
	if vs, _ := c.agentVersions(t, id, ""); len(vs) != 0 {
		t.Fatalf("refused versions were stored: %v", vs)
	}
	if got, _ := c.agentList(t, "?id="+id); got["Voice"]["latest_version"] != nil {
		t.Fatalf("latest_version after refusals: %v, want null", got["Voice"]["latest_version"])
	}

	// voice_id alone is a whole voice config; the deprecated audio quality
	// setting is accepted and dropped.
	vc := map[string]any{"voice_id": "voice-2", "audio_quality": "high"}
	status, body = c.do("POST", "/organization/agent/"+id+"/", agentWith("voice_config", vc))
	mustStatus(t, "voice_id only", status, http.StatusCreated, body)
	vs, _ := c.agentVersions(t, id, "")
	if len(vs) != 1 {
		t.Fatalf("got %d versions, want 1", len(vs))
	}
	got := vs[0]["voice_config"].(map[string]any)
	if len(got) != 1 || got["voice_id"] != "voice-2" {
		t.Errorf("voice_config %v, want only voice_id voice-2", got)
	}

	// A later version may leave the voice alone (absent or null) or change it.
	for _, body := range []map[string]any{{"background": "b2"}, {"background": "b3", "voice_config": nil}} {
		status, resp := c.do("POST", "/organization/agent/"+id+"/", body)
		mustStatus(t, "keep voice", status, http.StatusCreated, resp)
	}
	status, body = c.do("POST", "/organization/agent/"+id+"/", map[string]any{"voice_config": map[string]any{"voice_id": "voice-3"}})
	mustStatus(t, "change voice", status, http.StatusCreated, body)
	vs, _ = c.agentVersions(t, id, "")
	var voices []any
	for _, v := range vs {
		voices = append(voices, v["voice_config"].(map[string]any)["voice_id"])
	}
	if fmt.Sprint(voices) != "[voice-2 voice-2 voice-2 voice-3]" {
		t.Errorf("voices by version: %v", voices)
	}
}

func TestAgentLanguage(t *testing.T) {
	t.Parallel()
	_, c := newTestServer(t)
	id := c.agentCreate(t, "Polyglot")
	for _, lang := range []string{"arabic", "english", "ar", "ARA", "xyz", "zzz", ""} {
		status, body := c.do("POST", "/organization/agent/"+id+"/", agentWithIdentity("default_spoken_language", lang))
		mustStatus(t, "language "+lang, status, http.StatusUnprocessableEntity, body)
	}
	if vs, _ := c.agentVersions(t, id, ""); len(vs) != 0 {
		t.Fatalf("refused versions were stored: %v", vs)
	}
	// Arabic, supported since v0.7.0, is ara; the first version needs every
	// field, later ones only the identity that changes.
	status, body := c.do("POST", "/organization/agent/"+id+"/", agentWithIdentity("default_spoken_language", "ara"))
	mustStatus(t, "language ara", status, http.StatusCreated, body)
	for _, lang := range []string{"ara", "arb", "eng", "spa"} {
		if lang != "ara" {
			identity := agentWithIdentity("default_spoken_language", lang)["identity"]
			status, body := c.do("POST", "/organization/agent/"+id+"/", map[string]any{"identity": identity})
			mustStatus(t, "language "+lang, status, http.StatusCreated, body)
		}
		vs, _ := c.agentVersions(t, id, "?version=latest")
		if got := vs[0]["identity"].(map[string]any)["default_spoken_language"]; got != lang {
			t.Errorf("stored language %v, want %s", got, lang)
		}
	}
}

func TestAgentVersionValidation(t *testing.T) {
	t.Parallel()
	_, c := newTestServer(t)
	id := c.agentCreate(t, "Strict")
	rel := agentVersionBody()["identity"].(map[string]any)["relationship_to_developer"].(map[string]any)
	withoutOwnership := map[string]any{}
	for k, v := range rel {
		if k != "ownership" {
			withoutOwnership[k] = v
		}
	}
	tests := []struct {
		name string
		body any
		at   string
	}{
		{"not an object", []any{1}, "[body]"},
		{"initials too long", agentWith("initials", "ABCD"), "initials"},
		{"initials empty", agentWith("initials", ""), "initials"},
		{"initials blank", agentWith("initials", "  "), "initials"},
		{"initials a number", agentWith("initials", 7), "initials"},
		{"background blank", agentWith("background", " \t"), "background"},
		{"behaviors not a list", agentWith("behaviors", "be nice"), "behaviors"},
		{"behavior empty", agentWith("behaviors", []any{"ok", ""}), "behaviors 1"},
		{"behavior blank", agentWith("behaviors", []any{"   "}), "behaviors 0"},
		{"communication pattern blank", agentWith("communication_patterns", []any{" "}), "communication_patterns 0"},
		{"identity not an object", agentWith("identity", "Amy"), "identity"},
		{"identity without name", agentWithIdentity("name", nil), "name"},
		{"identity name blank", agentWithIdentity("name", " "), "name"},
		{"identity without role", agentWithIdentity("role", nil), "role"},
		{"identity without developer", agentWithIdentity("developed_by", nil), "developed_by"},
		{"identity without language", agentWithIdentity("default_spoken_language", nil), "default_spoken_language"},
		{"identity without relationship", agentWithIdentity("relationship_to_developer", nil), "relationship_to_developer"},
		{"relationship without ownership", agentWithIdentity("relationship_to_developer", withoutOwnership), "ownership"},
		{"voice config without voice_id", agentWith("voice_config", map[string]any{}), "voice_id"},
		{"voice_id blank", agentWith("voice_config", map[string]any{"voice_id": " "}), "voice_id"},
		{"voice config not an object", agentWith("voice_config", "voice-1"), "voice_config"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, body := c.do("POST", "/organization/agent/"+id+"/", tc.body)
			mustStatus(t, tc.name, status, http.StatusUnprocessableEntity, body)
			if !strings.Contains(errorText(body), tc.at) {
				t.Errorf("error %q is not located at %s", errorText(body), tc.at)
			}
		})
	}
	status, body := c.do("POST", "/organization/agent/"+id+"/?version=0", agentVersionBody())
	mustStatus(t, "version 0", status, http.StatusUnprocessableEntity, body)
	if vs, _ := c.agentVersions(t, id, ""); len(vs) != 0 {
		t.Fatalf("refused versions were stored: %v", vs)
	}

	// Surrounding whitespace is trimmed from what is stored.
	padded := agentWith("background", "  Helps.  ")
	padded["behaviors"] = []any{" Be kind. "}
	status, body = c.do("POST", "/organization/agent/"+id+"/", padded)
	mustStatus(t, "padded", status, http.StatusCreated, body)
	vs, _ := c.agentVersions(t, id, "")
	if vs[0]["background"] != "Helps." || vs[0]["behaviors"].([]any)[0] != "Be kind." {
		t.Errorf("stored %v / %v, want trimmed text", vs[0]["background"], vs[0]["behaviors"])
	}
}

func TestAgentFirstVersionNeedsEveryField(t *testing.T) {
	t.Parallel()
	_, c := newTestServer(t)
	id := c.agentCreate(t, "First")
	for _, field := range []string{"initials", "identity", "background", "behaviors", "communication_patterns", "voice_config"} {
		for _, body := range []map[string]any{agentWith(field, nil), func() map[string]any { b := agentVersionBody(); b[field] = nil; return b }()} {
			status, resp := c.do("POST", "/organization/agent/"+id+"/", body)
			mustStatus(t, "without "+field, status, http.StatusBadRequest, resp)
			if !strings.Contains(detail(resp), field) {
				t.Errorf("error %q does not name %s", detail(resp), field)
			}
		}
	}
	status, body := c.do("POST", "/organization/agent/"+id+"/", map[string]any{})
	mustStatus(t, "empty", status, http.StatusBadRequest, body)
	if vs, _ := c.agentVersions(t, id, ""); len(vs) != 0 {
		t.Fatalf("refused versions were stored: %v", vs)
	}
	// Empty lists are values like any other.
	b := agentVersionBody()
	b["behaviors"], b["communication_patterns"] = []any{}, []any{}
	status, body = c.do("POST", "/organization/agent/"+id+"/", b)
	mustStatus(t, "empty lists", status, http.StatusCreated, body)
}

func TestAgentVersionNumbering(t *testing.T) {
	t.Parallel()
	_, c := newTestServer(t)
	id := c.agentCreate(t, "Counted")
	status, body := c.do("POST", "/organization/agent/"+id+"/", agentVersionBody())
	mustStatus(t, "v1", status, http.StatusCreated, body)
	if body["version"] != float64(1) {
		t.Fatalf("first version %v, want 1", body["version"])
	}
	if _, err := time.Parse(time.RFC3339Nano, body["created_at"].(string)); err != nil {
		t.Errorf("created_at: %v", err)
	}
	// A later version takes only what changes and keeps the rest.
	status, body = c.do("POST", "/organization/agent/"+id+"/", map[string]any{"background": "New background.", "behaviors": []any{"a", "b"}})
	mustStatus(t, "v2", status, http.StatusCreated, body)
	if body["version"] != float64(2) {
		t.Fatalf("second version %v, want 2", body["version"])
	}
	for _, tc := range []struct {
		query string
		want  int
	}{{"?version=2", 409}, {"?version=4", 409}, {"?version=3", 201}, {"?version=3", 409}, {"", 201}} {
		status, body := c.do("POST", "/organization/agent/"+id+"/"+tc.query, map[string]any{"initials": "C"})
		mustStatus(t, "create "+tc.query, status, tc.want, body)
	}
	vs, _ := c.agentVersions(t, id, "")
	if got := versionNumbers(vs); !sameInts(got, []int{1, 2, 3, 4}) {
		t.Fatalf("versions %v, want 1-4", got)
	}
	first, second := vs[0], vs[1]
	if second["background"] != "New background." || fmt.Sprint(second["behaviors"]) != "[a b]" {
		t.Errorf("v2 lacks its changes: %v", second)
	}
	if fmt.Sprint(second["identity"]) != fmt.Sprint(first["identity"]) || second["initials"] != "AM" ||
		fmt.Sprint(second["communication_patterns"]) != fmt.Sprint(first["communication_patterns"]) {
		t.Errorf("v2 did not keep v1's other fields: %v", second)
	}
	if first["background"] != "Amy helps customers with their orders." {
		t.Errorf("v1 changed: %v", first)
	}
	if vs[3]["initials"] != "C" || vs[3]["background"] != "New background." {
		t.Errorf("v4: %v", vs[3])
	}
	creator := first["creator"].(map[string]any)
	if first["agent_id"] != id || first["org_id"] == "" || creator["user_id"] == "" || creator["org_id"] != first["org_id"] {
		t.Errorf("v1 identity fields: %v", first)
	}
	// Numbers are per agent.
	other := c.newAgent(t, "Other")
	if vs, _ := c.agentVersions(t, other, ""); !sameInts(versionNumbers(vs), []int{1}) {
		t.Errorf("other agent versions %v, want [1]", versionNumbers(vs))
	}
	if got, _ := c.agentList(t, ""); got["Counted"]["latest_version"] != float64(4) || got["Other"]["latest_version"] != float64(1) {
		t.Errorf("latest versions: %v", got)
	}
}

func TestGetAgentVersions(t *testing.T) {
	t.Parallel()
	_, c := newTestServer(t)
	id := c.newAgent(t, "Paged")
	for range 11 {
		status, body := c.do("POST", "/organization/agent/"+id+"/", map[string]any{"initials": "P"})
		mustStatus(t, "create", status, http.StatusCreated, body)
	}
	vs, body := c.agentVersions(t, id, "")
	if !sameInts(versionNumbers(vs), []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}) || body["has_more"] != true || body["continuation_token"] != float64(10) {
		t.Fatalf("first page %v, has_more %v, token %v", versionNumbers(vs), body["has_more"], body["continuation_token"])
	}
	vs, body = c.agentVersions(t, id, "?continuation_token=10")
	if !sameInts(versionNumbers(vs), []int{11, 12}) || body["has_more"] != false || body["continuation_token"] != nil {
		t.Fatalf("second page %v, has_more %v, token %v", versionNumbers(vs), body["has_more"], body["continuation_token"])
	}
	tests := []struct {
		query string
		want  []int
	}{
		{"?version=latest", []int{12}},
		{"?version=3", []int{3}},
		{"?version=13", []int{}},
		{"?version=2-5", []int{2, 3, 4, 5}},
		{"?version=4-4", []int{4}},
		{"?version=10-latest", []int{10, 11, 12}},
		{"?version=11-20", []int{11, 12}},
		{"?sort_by=-version&limit=3", []int{12, 11, 10}},
		{"?sort_by=%2Bversion&limit=2", []int{1, 2}},
		{"?sort_by=-version&version=2-4", []int{4, 3, 2}},
		{"?limit=1&continuation_token=5", []int{6}},
		{"?continuation_token=40", []int{}},
	}
	for _, tc := range tests {
		vs, _ := c.agentVersions(t, id, tc.query)
		if got := versionNumbers(vs); !sameInts(got, tc.want) {
			t.Errorf("%s: got %v, want %v", tc.query, got, tc.want)
		}
	}
	for _, query := range []string{"?version=abc", "?version=5-2", "?version=0", "?version=-1", "?version=latest-3", "?version=1-2-3",
		"?limit=0", "?limit=11", "?sort_by=created_at", "?continuation_token=x"} {
		status, body := c.do("GET", "/organization/agent/"+id+"/version"+query, nil)
		mustStatus(t, query, status, http.StatusUnprocessableEntity, body)
	}
	vs, _ = c.agentVersions(t, id, "?limit=10")
	if len(vs) != 10 {
		t.Errorf("limit 10 gave %d versions", len(vs))
	}
	// No versions yet is an empty page.
	bare := c.agentCreate(t, "Bare")
	if vs, body := c.agentVersions(t, bare, "?version=latest"); len(vs) != 0 || body["has_more"] != false {
		t.Errorf("versions of an agent without any: %v", body)
	}
}

func TestGetAgents(t *testing.T) {
	t.Parallel()
	_, c := newTestServer(t)
	bare := c.agentCreate(t, "Bare")
	full := c.newAgent(t, "Full")
	got, _ := c.agentList(t, "")
	if len(got) != 2 {
		t.Fatalf("agents %v, want Bare and Full", got)
	}
	if a := got["Bare"]; a["id"] != bare || a["deprecated"] != false || a["latest_version"] != nil {
		t.Errorf("Bare: %v", a)
	}
	if _, present := got["Bare"]["latest_version"]; !present {
		t.Error("latest_version left out instead of null")
	}
	if a := got["Full"]; a["id"] != full || a["latest_version"] != float64(1) {
		t.Errorf("Full: %v", a)
	}
	if got, _ := c.agentList(t, "?id="+full); len(got) != 1 || got["Full"] == nil {
		t.Errorf("by id: %v", got)
	}
	if got, _ := c.agentList(t, "?id="+full+"&id="+bare); len(got) != 2 {
		t.Errorf("by two ids: %v", got)
	}
	for i := range 20 {
		c.agentCreate(t, fmt.Sprintf("Agent %02d", i))
	}
	_, body := c.agentList(t, "")
	if n := len(body["agents"].([]any)); n != 10 || body["has_more"] != true || body["continuation_token"] != float64(10) {
		t.Errorf("default page: %d agents, has_more %v, token %v", n, body["has_more"], body["continuation_token"])
	}
	seen := map[string]bool{}
	token := 0
	for {
		_, body := c.agentList(t, fmt.Sprintf("?limit=7&continuation_token=%d", token))
		for _, a := range body["agents"].([]any) {
			seen[a.(map[string]any)["id"].(string)] = true
		}
		if body["has_more"] != true {
			break
		}
		token = int(body["continuation_token"].(float64))
	}
	if len(seen) != 22 {
		t.Errorf("paging saw %d agents, want 22", len(seen))
	}
	_, body = c.agentList(t, "?limit=20&continuation_token=20")
	if n := len(body["agents"].([]any)); n != 2 || body["has_more"] != false || body["continuation_token"] != nil {
		t.Errorf("last page: %v", body)
	}
	for _, query := range []string{"?limit=0", "?limit=21", "?id=nothex", "?deprecated=maybe", "?id=" + full + "&id=" + full} {
		status, body := c.do("GET", "/organization/agent"+query, nil)
		mustStatus(t, query, status, http.StatusUnprocessableEntity, body)
	}
}

func TestCreateAgent(t *testing.T) {
	t.Parallel()
	_, c := newTestServer(t)
	c.agentCreate(t, "Amy")
	long := strings.Repeat("n", 256)
	c.agentCreate(t, long)
	tests := []struct {
		name string
		body any
		want int
	}{
		{"same name", map[string]any{"agent_name": "Amy"}, 409},
		{"same name padded", map[string]any{"agent_name": "  Amy "}, 409},
		{"blank", map[string]any{"agent_name": "   "}, 422},
		{"empty", map[string]any{"agent_name": ""}, 422},
		{"too long", map[string]any{"agent_name": long + "n"}, 422},
		{"missing", map[string]any{}, 422},
		{"not a string", map[string]any{"agent_name": 3}, 422},
		{"no body", nil, 422},
	}
	for _, tc := range tests {
		status, body := c.do("POST", "/organization/agent", tc.body)
		mustStatus(t, tc.name, status, tc.want, body)
	}
	if got, _ := c.agentList(t, "?limit=20"); len(got) != 2 {
		t.Errorf("refused creates changed the agents: %v", got)
	}
}

func TestDeleteAgent(t *testing.T) {
	t.Parallel()
	srv, c := newTestServer(t)
	id := c.newAgent(t, "Gone")
	keep := c.newAgent(t, "Kept")
	status, body := c.do("DELETE", "/organization/agent/"+id+"/", nil)
	mustStatus(t, "delete", status, http.StatusOK, body)

	got, _ := c.agentList(t, "")
	if got["Gone"]["deprecated"] != true || got["Gone"]["latest_version"] != float64(1) || got["Kept"]["deprecated"] != false {
		t.Errorf("after delete: %v", got)
	}
	if got, _ := c.agentList(t, "?deprecated=true"); len(got) != 1 || got["Gone"] == nil {
		t.Errorf("deprecated=true: %v", got)
	}
	if got, _ := c.agentList(t, "?deprecated=false"); len(got) != 1 || got["Kept"] == nil {
		t.Errorf("deprecated=false: %v", got)
	}
	// Its history stays readable; it takes no new versions and no services.
	if vs, _ := c.agentVersions(t, id, ""); len(vs) != 1 {
		t.Errorf("versions of the deleted agent: %v", vs)
	}
	status, body = c.do("POST", "/organization/agent/"+id+"/", map[string]any{"initials": "G"})
	mustStatus(t, "version of a deleted agent", status, http.StatusNotFound, body)
	if _, err := srv.Store().ResolveAgentVersion(context.Background(), srv.Organization, id, nil); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("resolving the deleted agent: %v, want not found", err)
	}
	status, body = c.do("DELETE", "/organization/agent/"+id+"/", nil)
	mustStatus(t, "delete again", status, http.StatusConflict, body)
	// Its name is free again.
	again := c.newAgent(t, "Gone")
	if again == id {
		t.Fatal("a new agent reused the deleted one's ID")
	}
	for _, missing := range []string{store.NewID(), "nothex"} {
		status, body = c.do("DELETE", "/organization/agent/"+missing+"/", nil)
		mustStatus(t, "delete unknown", status, http.StatusNotFound, body)
	}
	if got, _ := c.agentList(t, "?id="+keep); got["Kept"]["deprecated"] != false {
		t.Errorf("Kept changed: %v", got)
	}
}

// TestDeleteAgentInUse checks an agent an active service uses cannot be
// deleted, and one only inactive services use can.
func TestDeleteAgentInUse(t *testing.T) {
	t.Parallel()
	srv, c := newTestServer(t)
	ctx := context.Background()
	st := srv.Store()
	by := store.Actor{OrgID: srv.Organization, UserID: srv.UserID}
	sm, err := st.CreateStateMachine(ctx, store.StateMachine{OrgID: srv.Organization, Name: "graph", Creator: by})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.CreateStateMachineVersion(ctx, store.StateMachineVersion{OrgID: srv.Organization, RecordID: sm.ID,
		Body: json.RawMessage(`{}`), Creator: by}, nil, func(store.StateMachine) error { return nil }); err != nil {
		t.Fatal(err)
	}
	service := func(name, agentID string, active bool) {
		t.Helper()
		_, err := st.CreateService(ctx, store.Service{OrgID: srv.Organization, Name: name, Description: "d", IsActive: active,
			AgentID: agentID, StateMachineID: sm.ID, Creator: by}, nil, func(store.Service) error { return nil })
		if err != nil {
			t.Fatal(err)
		}
	}
	used := c.newAgent(t, "Used")
	service("live", used, true)
	status, body := c.do("DELETE", "/organization/agent/"+used+"/", nil)
	mustStatus(t, "delete an agent in use", status, http.StatusBadRequest, body)
	if !strings.Contains(detail(body), "active service") {
		t.Errorf("error %q does not mention the active service", detail(body))
	}
	if got, _ := c.agentList(t, "?id="+used); got["Used"]["deprecated"] != false {
		t.Errorf("refused delete deprecated the agent: %v", got)
	}
	idle := c.newAgent(t, "Idle")
	service("idle", idle, false)
	status, body = c.do("DELETE", "/organization/agent/"+idle+"/", nil)
	mustStatus(t, "delete an agent only an inactive service uses", status, http.StatusOK, body)
}

func TestAgentsOfAnotherOrganization(t *testing.T) {
	t.Parallel()
	srv, alpha := newTestServer(t, compadretest.WithOrganization("alpha"))
	beta, _ := betaOrg(t, srv, alpha)

	id := alpha.newAgent(t, "Amy")
	// The name is taken in alpha only.
	beta.newAgent(t, "Amy")
	if got, _ := beta.agentList(t, ""); len(got) != 1 || got["Amy"]["id"] == id {
		t.Errorf("beta sees %v", got)
	}
	if got, _ := beta.agentList(t, "?id="+id); len(got) != 0 {
		t.Errorf("beta sees alpha's agent by id: %v", got)
	}
	for _, req := range []struct{ method, path string }{
		{"GET", "/organization/agent/" + id + "/version"},
		{"POST", "/organization/agent/" + id + "/"},
		{"DELETE", "/organization/agent/" + id + "/"},
	} {
		status, body := beta.do(req.method, req.path, map[string]any{"initials": "B"})
		mustStatus(t, "beta "+req.method, status, http.StatusNotFound, body)
	}
	if vs, _ := alpha.agentVersions(t, id, ""); len(vs) != 1 {
		t.Errorf("alpha's agent changed: %v", vs)
	}
	if got, _ := alpha.agentList(t, ""); got["Amy"]["deprecated"] != false {
		t.Errorf("alpha's agent deleted: %v", got)
	}
}

func TestAgentPermissions(t *testing.T) {
	t.Parallel()
	_, admin := newTestServer(t)
	amy := admin.newAgent(t, "Amy")
	bob := admin.newAgent(t, "Bob")
	onlyAmy := map[string]any{"name": equals("Amy")}
	admin.newRole("AmyKeeper",
		grant("Organization:GetAgent", onlyAmy),
		grant("Organization:CreateAgent", map[string]any{"name": equals("Amy 2")}),
		grant("Organization:CreateAgentVersion", map[string]any{"agent_id": equals(amy)}),
		grant("Organization:DeleteAgent", onlyAmy))
	admin.newRole("NoAgents")
	keeper := admin.keyFor(admin.newUser("keeper@example.com", "AmyKeeper"), "AmyKeeper")
	nobody := admin.keyFor(admin.newUser("nobody@example.com", "NoAgents"), "NoAgents")

	if got, body := keeper.agentList(t, ""); len(got) != 1 || got["Amy"] == nil || body["has_more"] != false {
		t.Errorf("keeper sees %v", got)
	}
	if got, _ := nobody.agentList(t, ""); len(got) != 0 {
		t.Errorf("a role without Organization:GetAgent sees %v", got)
	}
	keeper.agentVersions(t, amy, "")
	tests := []struct {
		name   string
		c      *client
		method string
		path   string
		body   any
		want   int
	}{
		{"versions of Bob", keeper, "GET", "/organization/agent/" + bob + "/version", nil, 403},
		{"version of Bob", keeper, "POST", "/organization/agent/" + bob + "/", map[string]any{"initials": "K"}, 403},
		{"delete Bob", keeper, "DELETE", "/organization/agent/" + bob + "/", nil, 403},
		{"create another name", keeper, "POST", "/organization/agent", map[string]any{"agent_name": "Carl"}, 403},
		{"unknown agent", keeper, "GET", "/organization/agent/" + store.NewID() + "/version", nil, 404},
		{"nobody versions", nobody, "GET", "/organization/agent/" + amy + "/version", nil, 403},
		{"nobody version", nobody, "POST", "/organization/agent/" + amy + "/", map[string]any{"initials": "N"}, 403},
		{"nobody delete", nobody, "DELETE", "/organization/agent/" + amy + "/", nil, 403},
		{"nobody create", nobody, "POST", "/organization/agent", map[string]any{"agent_name": "Amy 2"}, 403},
		{"version of Amy", keeper, "POST", "/organization/agent/" + amy + "/", map[string]any{"initials": "K"}, 201},
		{"create Amy 2", keeper, "POST", "/organization/agent", map[string]any{"agent_name": "Amy 2"}, 201},
	}
	for _, tc := range tests {
		status, body := tc.c.do(tc.method, tc.path, tc.body)
		mustStatus(t, tc.name, status, tc.want, body)
		if tc.want == 403 && !strings.Contains(detail(body), "Organization:") {
			t.Errorf("%s: error %q does not name the permission", tc.name, detail(body))
		}
	}
	got, _ := admin.agentList(t, "")
	if got["Bob"]["deprecated"] != false || got["Bob"]["latest_version"] != float64(1) || got["Amy"]["latest_version"] != float64(2) ||
		got["Carl"] != nil || len(got) != 3 {
		t.Errorf("after the refused requests: %v", got)
	}
	status, body := keeper.do("DELETE", "/organization/agent/"+amy+"/", nil)
	mustStatus(t, "keeper deletes Amy", status, http.StatusOK, body)
}
