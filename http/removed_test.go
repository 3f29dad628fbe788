package httpapi_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// TestRemovedEndpointsAreAbsent holds the operations the v0.6.0–v0.7.0
// release notes removed to their removal: they are neither served nor
// documented, so a client still calling them learns at once.
func TestRemovedEndpointsAreAbsent(t *testing.T) {
	t.Parallel()
	_, c := newTestServer(t)
	for _, tc := range []struct {
		method, path string
		want         int
	}{
		// The path now has the shape of update-metric's and
		// delete-metric's, /metric/{metric_id}/, which take no GET.
		{"GET", "/metric/organization/", http.StatusMethodNotAllowed},
		{"GET", "/metric/organization", http.StatusNotFound},
	} {
		status, body := c.do(tc.method, tc.path, nil)
		if status != tc.want {
			t.Errorf("%s %s: status %d, want %d (body %v)", tc.method, tc.path, status, tc.want, body)
		}
	}

	status, raw := c.raw("GET", "/v1/openapi.json", nil, nil)
	mustStatus(t, "openapi document", status, http.StatusOK, string(raw))
	var doc struct {
		Paths map[string]map[string]struct {
			OperationID string `json:"operationId"`
		} `json:"paths"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	removed := map[string]bool{"get-organization-metrics": true, "create-invited-user": true, "update-user-info": true}
	for path, ops := range doc.Paths {
		if strings.Contains(path, "/metric/organization") {
			t.Errorf("the document still has %s", path)
		}
		for method, op := range ops {
			if removed[op.OperationID] {
				t.Errorf("the document still has %s %s (%s)", method, path, op.OperationID)
			}
		}
	}
}
