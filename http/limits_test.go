package httpapi_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// maxTags is a tag map with the most tags a request may hold, every key and
// value at its longest (keys made distinct by a numbered prefix).
func maxTags(keyLen, valueLen int) map[string]any {
	tags := map[string]any{}
	for i := range 20 {
		tags[fmt.Sprintf("%02d", i)+strings.Repeat("k", keyLen-2)] = strings.Repeat("v", valueLen)
	}
	return tags
}

// recordOverhead is what a listed record adds beyond its free text: IDs,
// timestamps, flags, JSON punctuation and field names.
const recordOverhead = 4 << 10

// For each listing, a record with every free-text field at the document's
// maximum is stored and listed, one character more is refused with 422 and
// stores nothing, and the listing's size stays within the bound the limits
// give a record; a full page is then at most page size × that bound. See
// DECISIONS.md, "How long may each field be?".
func TestListingsAreBounded(t *testing.T) {
	w := conversationSetup(t)
	c := w.admin
	x := strings.Repeat
	// The longest address the email format allows: a 64-character local
	// part and a 189-character domain, 254 in all.
	email := x("a", 64) + "@" + x("b", 63) + "." + x("c", 63) + "." + x("d", 58) + ".io"
	keyterms := func(n int) []any {
		out := []any{}
		for i := range 20 {
			out = append(out, fmt.Sprintf("%c", 'a'+i)+x("k", n-1))
		}
		return out
	}
	tests := []struct {
		name string
		// create stores a record whose bounded fields are at their maximum,
		// plus over characters on the field under test.
		create    func(over int) (int, map[string]any)
		list, key string
		pageSize  int
		// recordText is the most free text one record can carry.
		recordText int
	}{
		{"users, first name", func(over int) (int, map[string]any) {
			return c.do("POST", "/user/", map[string]any{"first_name": x("f", 256+over), "last_name": x("l", 256),
				"email": email, "role_name": "DefaultUserRole"})
		}, "/user/?limit=100", "users", 100, 256 + 256 + 254},
		{"users, last name", func(over int) (int, map[string]any) {
			return c.do("POST", "/user/", map[string]any{"first_name": x("f", 256), "last_name": x("l", 256+over),
				"email": "2" + email[1:], "role_name": "DefaultUserRole"})
		}, "/user/?limit=100", "users", 100, 256 + 256 + 254},
		{"roles", func(over int) (int, map[string]any) {
			return c.do("POST", "/role/", map[string]any{"role_name": x("r", 256), "description": x("d", 10000+over),
				"permission_grants": []any{}, "frontend_view": "client"})
		}, "/role/", "roles", 1, 256 + 10000}, // unpaged: the bound is per role
		{"tools", func(over int) (int, map[string]any) {
			return c.do("POST", "/tool/", map[string]any{"name": x("t", 256), "description": x("d", 10000),
				"tags": maxTags(256, 256+over)})
		}, "/tool/?limit=20", "tools", 20, 256 + 10000 + 2*20*(256+256)}, // tags again in filter_values
		{"agents", func(over int) (int, map[string]any) {
			return c.do("POST", "/organization/agent", map[string]any{"agent_name": x("a", 256+over)})
		}, "/organization/agent?limit=20", "agents", 20, 256},
		{"services", func(over int) (int, map[string]any) {
			return c.do("POST", "/service/", serviceBody(x("s", 256), w.agentID, w.stateMachineID, map[string]any{
				"description": x("d", 10000+over), "tags": maxTags(256, 256), "keyterms": keyterms(100)}))
		}, "/service/?limit=20", "services", 20, 256 + 10000 + 20*(256+256) + 20*100},
		{"conversation tags", func(over int) (int, map[string]any) {
			status, _, raw := c.conversationCreate(t, "?response_format=text",
				map[string]any{"service_id": w.svcID, "tags": maxTags(256, 100+over)})
			return status, map[string]any{"raw": string(raw)}
		}, "/conversation/?limit=150", "conversations", 150, 20 * (256 + 100)},
		{"metrics, name", func(over int) (int, map[string]any) {
			b := metricBody("n"+x("n", 255+over), metricValue("boolean"))
			b["additional_notes"] = x("a", 10000)
			return c.do("POST", "/metric/", b)
		}, "/metric/?limit=50", "metrics", 50, 256 + 10000},
		{"metrics, notes", func(over int) (int, map[string]any) {
			b := metricBody("o"+x("n", 255), metricValue("boolean"))
			b["additional_notes"] = x("a", 10000+over)
			return c.do("POST", "/metric/", b)
		}, "/metric/?limit=50", "metrics", 50, 256 + 10000},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			count := func() (int, int) {
				status, raw := c.raw("GET", "/v1/"+c.org+tc.list, nil, map[string]string{"Authorization": "Bearer " + c.token})
				if status != http.StatusOK {
					t.Fatalf("list: got status %d, want 200: %.300s", status, raw)
				}
				var page map[string]any
				if err := json.Unmarshal(raw, &page); err != nil {
					t.Fatal(err)
				}
				items, ok := page[tc.key].([]any)
				if !ok {
					t.Fatalf("list: no %s in %.300s", tc.key, raw)
				}
				return len(items), len(raw)
			}
			before, _ := count()
			status, body := tc.create(1)
			mustStatus(t, "one character over", status, http.StatusUnprocessableEntity, body)
			if after, _ := count(); after != before {
				t.Fatalf("the refused record was stored: %d records, want %d", after, before)
			}
			status, body = tc.create(0)
			if status != http.StatusOK && status != http.StatusCreated {
				t.Fatalf("at the maximum: got status %d, want 201: %v", status, body)
			}
			records, size := count()
			if records != before+1 {
				t.Fatalf("got %d records, want %d", records, before+1)
			}
			perRecord := tc.recordText + recordOverhead
			if size > records*perRecord {
				t.Errorf("listing of %d records is %d bytes, over the bound of %d a record", records, size, perRecord)
			}
			t.Logf("a full page is at most %d × %d = %d bytes", tc.pageSize, perRecord, tc.pageSize*perRecord)
		})
	}
}

// A full page of users at their longest, the case that was 99 MB before
// names had a maximum, stays within page size × a user's bound.
func TestFullUserPageIsBounded(t *testing.T) {
	_, c := newTestServer(t)
	x := strings.Repeat
	for i := range 99 { // the administrator is the hundredth
		domain := fmt.Sprintf("%03d", i) + x("b", 60) + "." + x("c", 63) + "." + x("d", 58) + ".io"
		status, body := c.do("POST", "/user/", map[string]any{"first_name": x("f", 256), "last_name": x("l", 256),
			"email": x("a", 64) + "@" + domain, "role_name": "DefaultUserRole"})
		mustStatus(t, "create user", status, http.StatusCreated, body)
	}
	status, raw := c.raw("GET", "/v1/"+c.org+"/user/?limit=100", nil, map[string]string{"Authorization": "Bearer " + c.token})
	if status != http.StatusOK {
		t.Fatalf("got status %d, want 200", status)
	}
	var page struct {
		Users []any `json:"users"`
	}
	if err := json.Unmarshal(raw, &page); err != nil {
		t.Fatal(err)
	}
	bound := 100 * (256 + 256 + 254 + recordOverhead)
	if len(page.Users) != 100 || len(raw) > bound {
		t.Errorf("got %d users in %d bytes, want 100 in at most %d", len(page.Users), len(raw), bound)
	}
	t.Logf("a full page of 100 users at their longest: %d bytes (bound %d)", len(raw), bound)
}
