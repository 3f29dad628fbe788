package browser_test

import (
	"context"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/compadre-dev/compadre/compadretest"
)

// readyProbe runs before the console's own scripts on every load and
// records, in page time, the first moment the console shows a page with
// nothing left loading: the sign-in form, or a page of the console with
// its panels filled.
const readyProbe = `
new MutationObserver((_, obs) => {
  const signin = document.querySelector('form.signin');
  const main = document.querySelector('.body > main h1');
  if ((signin || main) && !document.querySelector('.loading')) {
    window.__ready = performance.now();
    obs.disconnect();
  }
}).observe(document, {subtree: true, childList: true, attributes: true});
`

// BenchmarkConsoleFirstLoad loads the console with the browser's cache
// off, as on a first visit: "sign-in" with no session (until the form
// shows), "overview" signed in (until the overview's panels are filled).
// It reports the bytes transferred (compressed, headers included) and the
// time from navigation to that moment.
func BenchmarkConsoleFirstLoad(b *testing.B) {
	srv := compadretest.Start(b)
	for _, tc := range []struct {
		name     string
		signedIn bool
	}{{"sign-in", false}, {"overview", true}} {
		b.Run(tc.name, func(b *testing.B) {
			br := newBrowser(b, srv, 1280, 900)
			if tc.signedIn {
				br.signIn(srv.Credentials)
			}
			br.run(network.SetCacheDisabled(true), chromedp.ActionFunc(func(ctx context.Context) error {
				_, err := page.AddScriptToEvaluateOnNewDocument(readyProbe).Do(ctx)
				return err
			}))
			var bytes, total float64
			b.ResetTimer()
			for range b.N {
				br.resetTransferred()
				br.open("/")
				var ms float64
				br.run(chromedp.Poll(`window.__ready`, &ms, chromedp.WithPollingInterval(5*time.Millisecond)))
				total += ms
				// Responses still arriving (favicon) count towards the load.
				time.Sleep(50 * time.Millisecond)
				bytes += br.transferredBytes()
			}
			b.ReportMetric(bytes/float64(b.N), "bytes/load")
			b.ReportMetric(total/float64(b.N), "ms-to-ready")
		})
	}
}
