package compadretest_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/compadre-dev/compadre/compadretest"
)

func TestStartSignsInAndServes(t *testing.T) {
	srv := compadretest.Start(t, compadretest.WithOrganization("fixture"))
	if srv.Organization != "fixture" {
		t.Fatalf("organization %q, want fixture", srv.Organization)
	}

	token := srv.SignIn(t)

	req, _ := http.NewRequest("GET", srv.BaseURL+"/v1/fixture/user/", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
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

// TestStartHashesKeysCheaply checks the fixture's keys, the first one and
// those NewAPIKey mints, are hashed at the fixture cost and still sign in.
func TestStartHashesKeysCheaply(t *testing.T) {
	srv := compadretest.Start(t)
	minted := srv.NewAPIKey(t, srv.Organization, "")
	for _, c := range []struct{ name, keyID, secret, userID string }{
		{"first key", srv.APIKeyID, srv.APIKey, srv.UserID},
		{"minted key", minted.APIKeyID, minted.APIKey, minted.UserID},
	} {
		t.Run(c.name, func(t *testing.T) {
			k, err := srv.Store().GetAPIKey(context.Background(), srv.Organization, c.keyID)
			if err != nil {
				t.Fatal(err)
			}
			if got, want := strings.Split(k.SecretHash, "$")[3], "m=8,t=1,p=1"; got != want {
				t.Errorf("hash settings %s, want %s", got, want)
			}
			req, _ := http.NewRequest("POST", srv.BaseURL+"/v1/"+srv.Organization+"/user/signin_with_api_key", nil)
			req.Header.Set("x-api-key", c.secret)
			req.Header.Set("x-api-key-id", c.keyID)
			req.Header.Set("x-user-id", c.userID)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Errorf("sign in: status %d, want 200", resp.StatusCode)
			}
		})
	}
}

// TestSignInByEmail signs the administrator in through its mailed link and
// reads the mail back from the sink.
func TestSignInByEmail(t *testing.T) {
	srv := compadretest.Start(t)
	token := srv.SignInByEmail(t, "admin@example.com")
	req, _ := http.NewRequest("GET", srv.BaseURL+"/v1/"+srv.Organization+"/user/", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("get-users with the mailed link's token: status %d, want 200", resp.StatusCode)
	}
	mails := srv.Mail(t)
	if len(mails) != 1 || mails[0].To != "admin@example.com" || mails[0].Token() == "" ||
		!strings.HasPrefix(mails[0].File, srv.DataDir) {
		t.Errorf("mail %+v, want one to the administrator, with a link, in the data directory", mails)
	}
	if links := srv.SignInLinks(t, "ADMIN@example.com"); len(links) != 1 || links[0] != mails[0].Link {
		t.Errorf("links %q, want the mail's", links)
	}
}
