package browser_test

import (
	"testing"

	"github.com/compadre-dev/compadre/compadretest"
)

func TestSignInWithAnAPIKey(t *testing.T) {
	srv := compadretest.Start(t)
	b := newBrowser(t, srv, 1280, 900)
	b.signIn(srv.Credentials)
	b.waitText("main h1", "Overview")
	b.waitGone("main .loading")
	b.screenshot("overview")
}
