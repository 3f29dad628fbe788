package compadretest_test

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/compadre-dev/compadre/compadretest"
)

func TestStartSignsInAndServes(t *testing.T) {
	srv := compadretest.Start(t, compadretest.WithOrganization("fixture"))
	if srv.Organization != "fixture" {
		t.Fatalf("organization %q, want fixture", srv.Organization)
	}

	req, _ := http.NewRequest("POST", srv.BaseURL+"/v1/fixture/user/signin_with_api_key", nil)
	req.Header.Set("x-api-key", srv.APIKey)
	req.Header.Set("x-api-key-id", srv.APIKeyID)
	req.Header.Set("x-user-id", srv.UserID)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var token struct {
		IDToken string `json:"id_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&token); err != nil || resp.StatusCode != 200 || token.IDToken == "" {
		t.Fatalf("sign in: status %d, err %v", resp.StatusCode, err)
	}

	req, _ = http.NewRequest("GET", srv.BaseURL+"/v1/fixture/user/", nil)
	req.Header.Set("Authorization", "Bearer "+token.IDToken)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var users struct {
		Users []struct {
			UserID string `json:"user_id"`
		} `json:"users"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&users); err != nil || resp.StatusCode != 200 {
		t.Fatalf("list users: status %d, err %v", resp.StatusCode, err)
	}
	if len(users.Users) != 1 || users.Users[0].UserID != srv.UserID {
		t.Errorf("users %+v, want just the administrator %s", users.Users, srv.UserID)
	}
}
