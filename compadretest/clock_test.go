package compadretest_test

import (
	"context"
	"fmt"
	"net/http"
	"runtime"
	"testing"
	"time"

	"github.com/compadre-dev/compadre/compadretest"
)

func TestNowAndAdvance(t *testing.T) {
	t0 := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		opts []compadretest.Option
		// want is the server's time before any move, within a margin
		// for real time passing when the clock runs from time.Now.
		want   func() time.Time
		margin time.Duration
	}{
		{"without WithClock", nil, time.Now, time.Minute},
		{"with WithClock", []compadretest.Option{compadretest.WithClock(func() time.Time { return t0 })},
			func() time.Time { return t0 }, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := compadretest.Start(t, tt.opts...)
			near := func(got, want time.Time) bool { d := got.Sub(want); return d >= -tt.margin && d <= tt.margin }
			if got, want := srv.Now(), tt.want(); !near(got, want) {
				t.Errorf("before a move: %v, want %v", got, want)
			}
			srv.Advance(t, 48*time.Hour)
			srv.Advance(t, time.Second)
			if got, want := srv.Now(), tt.want().Add(48*time.Hour+time.Second); !near(got, want) {
				t.Errorf("after two moves: %v, want %v", got, want)
			}
			// Keys NewAPIKey mints live a year by the server's clock, so they
			// still sign in after the moves.
			creds := srv.NewAPIKey(t, srv.Organization, "")
			k, err := srv.Store().GetAPIKey(context.Background(), srv.Organization, creds.APIKeyID)
			if err != nil {
				t.Fatal(err)
			}
			if want := srv.Now().AddDate(1, 0, 0); !near(k.ExpiresAt, want) || k.ExpiresAt.After(want) {
				t.Errorf("a minted key expires %v, want a year from the server's time, %v", k.ExpiresAt, want)
			}
			token := compadretest.SignIn(t, creds)
			req, _ := http.NewRequest("GET", srv.BaseURL+"/v1/"+srv.Organization+"/organization/", nil)
			req.Header.Set("Authorization", "Bearer "+token)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Errorf("the minted key's token: status %d", resp.StatusCode)
			}
		})
	}
}

// Advance fails the test for a move of zero or back, and leaves the clock
// where it was.
func TestAdvanceOnlyForward(t *testing.T) {
	t0 := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	srv := compadretest.Start(t, compadretest.WithClock(func() time.Time { return t0 }))
	for _, d := range []time.Duration{0, -time.Second} {
		t.Run(d.String(), func(t *testing.T) {
			rec := &fatalRecorder{TB: t}
			done := make(chan struct{})
			go func() {
				defer close(done)
				srv.Advance(rec, d)
			}()
			<-done
			if rec.failure == "" {
				t.Errorf("Advance(%v) did not fail the test", d)
			}
			if !srv.Now().Equal(t0) {
				t.Errorf("the clock moved to %v", srv.Now())
			}
		})
	}
}

// fatalRecorder records a Fatalf instead of failing its test, and ends
// the calling goroutine as Fatalf does.
type fatalRecorder struct {
	testing.TB
	failure string
}

func (f *fatalRecorder) Fatalf(format string, args ...any) {
	f.failure = fmt.Sprintf(format, args...)
	runtime.Goexit()
}
