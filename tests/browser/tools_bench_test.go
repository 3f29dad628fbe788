package browser_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/compadre-dev/compadre/compadretest"
)

// BenchmarkInvocationList1000 opens a tool page holding 1,000 invocations
// (ten pages of 100, the API's largest, loaded with the page's own "Load
// more") and reports how long the last page takes to render (from its
// answer arriving to after the next frame, as the page measures it in
// data-render-ms), the longest main-thread task while the pages load, and
// the wall time to load them all. Seeding runs the tool 1,000 times in the
// sandbox, before the timed loop.
func BenchmarkInvocationList1000(b *testing.B) {
	const total = 1000
	srv := compadretest.Start(b, compadretest.WithSandbox())
	a := newAPI(b, srv)
	id := seedTool(b, srv, a, "bench")
	seedStart := time.Now()
	// invoke-tool-version takes at most 10 inputs; every tenth run fails.
	for i := 0; i < total; i += 10 {
		inputs := make([]map[string]any, 10)
		for k := range inputs {
			inputs[k] = toolsInput(fmt.Sprintf("run %d", i+k), (i+k)%10 == 9)
		}
		invokeTool(b, a, id, []string{"1.0.0", "1.1.0"}[(i/10)%2], inputs...)
	}
	b.Logf("seeded %d invocations in %v", total, time.Since(seedStart))

	br := newBrowser(b, srv, 1280, 900)
	br.timeout = time.Minute
	br.signIn(srv.Credentials)
	// The longest task of the main thread since __longest was last zeroed.
	br.eval(`window.__longest = 0;
		new PerformanceObserver((l) => { for (const e of l.getEntries()) window.__longest = Math.max(window.__longest, e.duration); })
			.observe({ type: 'longtask' }); true`, nil)

	var renderSum, longest, wallSum float64
	n := 0
	for b.Loop() {
		br.visit("#/tools")
		br.waitText("main h1", "Tools")
		br.eval(`window.__longest = 0`, nil)
		start := time.Now()
		br.visit(fmt.Sprintf("#/tools/%s?limit=100", id))
		// Click "Load more" whenever it is ready, until all are in.
		br.run(chromedp.Poll(fmt.Sprintf(`(() => {
			const box = document.querySelector('main .invocations');
			if (!box) return false;
			if (box.dataset.loaded === '%d') return true;
			const more = box.querySelector('button.more');
			if (more && !more.hidden && !more.disabled) more.click();
			return false;
		})()`, total), nil, chromedp.WithPollingInterval(10*time.Millisecond)))
		wallSum += float64(time.Since(start).Milliseconds())
		var m struct {
			Render  string  `json:"render"`
			Longest float64 `json:"longest"`
			Points  int     `json:"points"`
			Rows    int     `json:"rows"`
		}
		br.eval(`({
			render: document.querySelector('main .invocations').dataset.renderMs,
			longest: window.__longest,
			points: document.querySelectorAll('main circle.point').length,
			rows: document.querySelectorAll('main .invocations tbody tr').length,
		})`, &m)
		if m.Points != total || m.Rows != total {
			b.Fatalf("%d points and %d rows, want %d of each", m.Points, m.Rows, total)
		}
		var render float64
		if _, err := fmt.Sscan(m.Render, &render); err != nil {
			b.Fatalf("data-render-ms %q: %v", m.Render, err)
		}
		renderSum += render
		longest = max(longest, m.Longest)
		n++
	}
	b.ReportMetric(renderSum/float64(n), "render-ms")
	b.ReportMetric(longest, "longtask-ms")
	b.ReportMetric(wallSum/float64(n), "load-all-ms")
}
