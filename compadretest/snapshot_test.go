package compadretest_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"slices"
	"testing"

	"github.com/compadre-dev/compadre/compadretest"
)

// userAPI lists and creates users of the server's organization as its
// administrator.
type userAPI struct {
	srv   *compadretest.Server
	token string
}

func (u userAPI) do(t *testing.T, method, path string, body any, want int) map[string]any {
	t.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest(method, u.srv.BaseURL+"/v1/"+u.srv.Organization+path, bytes.NewReader(b))
	req.Header.Set("Authorization", "Bearer "+u.token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out := map[string]any{}
	_ = json.NewDecoder(resp.Body).Decode(&out)
	if resp.StatusCode != want {
		t.Fatalf("%s %s: got %d %v, want %d", method, path, resp.StatusCode, out, want)
	}
	return out
}

func (u userAPI) emails(t *testing.T) []string {
	t.Helper()
	var out []string
	for _, user := range u.do(t, "GET", "/user/", nil, http.StatusOK)["users"].([]any) {
		out = append(out, user.(map[string]any)["email"].(string))
	}
	slices.Sort(out)
	return out
}

func (u userAPI) create(t *testing.T, email string) string {
	t.Helper()
	return u.do(t, "POST", "/user/", map[string]any{"first_name": "F", "last_name": "L", "email": email,
		"role_name": "DefaultUserRole"}, http.StatusCreated)["user_id"].(string)
}

// TestSeedOnceRestorePerTest: the package doc's pattern. Each subtest
// starts from the seeded state whatever the one before it did; Reset
// goes back to the first start, the seeded user's key still signing in.
func TestSeedOnceRestorePerTest(t *testing.T) {
	srv := compadretest.Start(t)
	api := userAPI{srv: srv, token: srv.SignIn(t)}
	seedID := api.create(t, "seed@example.com")
	seedCreds := srv.NewAPIKey(t, srv.Organization, seedID)
	seeded := srv.Snapshot(t)
	want := []string{"admin@example.com", "seed@example.com"}

	for _, email := range []string{"one@example.com", "two@example.com", "three@example.com"} {
		t.Run(email, func(t *testing.T) {
			srv.Restore(t, seeded)
			if got := api.emails(t); !slices.Equal(got, want) {
				t.Fatalf("users after restore: got %v, want %v", got, want)
			}
			api.create(t, email)
			if got := api.emails(t); len(got) != 3 {
				t.Errorf("users after creating %s: got %v", email, got)
			}
		})
	}

	srv.Reset(t)
	if got, want := api.emails(t), []string{"admin@example.com", "seed@example.com"}; !slices.Equal(got, want) {
		t.Errorf("users after reset: got %v, want the administrator and the key's user %v", got, want)
	}
	compadretest.SignIn(t, seedCreds)
	api.create(t, "after@example.com")
	srv.Restore(t, seeded)
	if got := api.emails(t); !slices.Equal(got, want) {
		t.Errorf("users after restoring past a reset: got %v, want %v", got, want)
	}
}
