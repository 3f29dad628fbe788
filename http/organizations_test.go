package httpapi_test

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"image"
	"image/png"
	"net/http"
	"testing"
)

func pngBase64(t testing.TB, w, h int) string {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, image.NewGray(image.Rect(0, 0, w, h))); err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(b.Bytes())
}

// icoBase64 makes an ICO directory with one size-by-size entry.
func icoBase64(size int) string {
	b := make([]byte, 6+16)
	binary.LittleEndian.PutUint16(b[2:], 1)
	binary.LittleEndian.PutUint16(b[4:], 1)
	b[6], b[7] = byte(size), byte(size)
	return base64.StdEncoding.EncodeToString(b)
}

func TestGetOrganization(t *testing.T) {
	t.Parallel()
	_, c := newTestServer(t)
	anon := c.as("")

	status, body := anon.do("GET", "/organization/", nil)
	mustStatus(t, "anonymous", status, http.StatusOK, body)
	for _, k := range []string{"default_user_preferences", "tenant_id"} {
		if v, ok := body[k]; !ok || v != nil {
			t.Errorf("anonymous: %s = %v (present %v), want null", k, v, ok)
		}
	}
	if body["org_id"] != c.org || body["org_name"] != c.org {
		t.Errorf("anonymous: %v", body)
	}

	status, body = c.do("GET", "/organization/", nil)
	mustStatus(t, "administrator", status, http.StatusOK, body)
	prefs, ok := body["default_user_preferences"].(map[string]any)
	if !ok || prefs["conversations_visible_to_admins"] != true || body["tenant_id"] == nil {
		t.Errorf("administrator sees %v", body)
	}

	if status, _ := c.as("bad").do("GET", "/organization/", nil); status != http.StatusUnauthorized {
		t.Errorf("invalid token: status %d, want 401", status)
	}
	cc := *c
	cc.org = "missing"
	if status, _ := cc.as("").do("GET", "/organization/", nil); status != http.StatusNotFound {
		t.Errorf("unknown organization: status %d, want 404", status)
	}
}

func TestModifyOrganization(t *testing.T) {
	t.Parallel()
	_, c := newTestServer(t)
	tests := []struct {
		name string
		body any
		want int
	}{
		{"preferences", map[string]any{"default_user_preferences": map[string]any{"timezone": "Europe/Berlin", "preferred_language": "deu"}}, http.StatusNoContent},
		{"dimensions", map[string]any{"user_dimensions": []any{map[string]any{"description": "age", "tags": []any{"young"}}}}, http.StatusNoContent},
		{"logo", map[string]any{"logo": pngBase64(t, 400, 160)}, http.StatusNoContent},
		{"logo of the wrong shape", map[string]any{"logo": pngBase64(t, 400, 400)}, http.StatusBadRequest},
		{"logo not base64", map[string]any{"logo": "!!"}, http.StatusUnprocessableEntity},
		{"favicon too small", map[string]any{"favicon": icoBase64(16)}, http.StatusBadRequest},
		{"unknown time zone", map[string]any{"default_user_preferences": map[string]any{"timezone": "Mars/Olympus"}}, http.StatusUnprocessableEntity},
		{"empty dimensions", map[string]any{"user_dimensions": []any{}}, http.StatusUnprocessableEntity},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, body := c.do("POST", "/organization/", tc.body)
			mustStatus(t, tc.name, status, tc.want, body)
		})
	}
	_, body := c.do("GET", "/organization/", nil)
	prefs := body["default_user_preferences"].(map[string]any)
	if prefs["timezone"] != "Europe/Berlin" || prefs["preferred_language"] != "deu" {
		t.Errorf("preferences not kept: %v", prefs)
	}
	status, body := c.do("GET", "/organization/user_dimensions/", nil)
	mustStatus(t, "dimensions", status, http.StatusOK, body)
	if dims := body["user_dimensions"].([]any); len(dims) != 1 {
		t.Errorf("dimensions %v, want the one set", dims)
	}
}

func TestCreateAndDeleteOrganization(t *testing.T) {
	t.Parallel()
	_, c := newTestServer(t)
	status, body := c.createOrg("second")
	mustStatus(t, "create", status, http.StatusCreated, body)
	if body["org_id"] != "second" {
		t.Errorf("body %v", body)
	}
	status, body = c.createOrg("second")
	mustStatus(t, "create again", status, http.StatusConflict, body)
	status, body = c.createOrg("Not_Valid")
	mustStatus(t, "invalid ID", status, http.StatusBadRequest, body)

	other := *c
	other.org = "second"
	if status, _ := other.as("").do("GET", "/organization/", nil); status != http.StatusOK {
		t.Errorf("new organization not served: %d", status)
	}

	status, body = c.do("DELETE", "/organization/", nil)
	mustStatus(t, "delete", status, http.StatusNoContent, body)
	if status, _ := c.as("").do("GET", "/organization/", nil); status != http.StatusNotFound {
		t.Errorf("deleted organization: status %d, want 404", status)
	}
}
