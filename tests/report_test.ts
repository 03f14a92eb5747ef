// The report pipeline end to end on one tiny notebook: headless execution with the project's
// Deno kernel, then HTML whose plotly chart draws offline from the one shared plotly.min.js.
import assert from "node:assert/strict";

const root = new URL("..", import.meta.url).pathname;

Deno.test("the rendered report of a small notebook holds the chart data and the plotly script", async () => {
  const out = await Deno.makeTempDir({ prefix: "report_test_" });
  try {
    const run = await new Deno.Command("bash", {
      args: ["scripts/report.sh", "--out", out, "tests/fixtures/report_smoke.ipynb"],
      cwd: root,
      stdout: "piped",
      stderr: "piped",
    }).output();
    const log = new TextDecoder().decode(run.stderr);
    assert.equal(run.code, 0, `report.sh failed:\n${log}`);

    const html = await Deno.readTextFile(`${out}/report_smoke.html`);
    assert.match(html, /<script src="plotly\.min\.js"><\/script>/, "page loads plotly.js once");
    assert.match(html, /Plotly\.newPlot\(/, "chart is drawn by plotly.js");
    // The chart's own data travels in the page (trace name and values).
    const spec = html.match(/<script type="application\/json">(.*?)<\/script>/s);
    assert.ok(spec, "chart spec embedded as JSON");
    const chart = JSON.parse(spec[1]);
    assert.equal(chart.data[0].name, "smoke-trace-7319");
    assert.deepEqual(chart.data[0].y, [0.25, 0.5, 0.75]);
    assert.match(html, /<table/, "the polars DataFrame renders as an HTML table");
    // Offline: every script is local (a CDN require.js would also turn Plotly into an AMD module).
    assert.deepEqual(
      [...html.matchAll(/<script[^>]* src="([^"]+)"/g)].map((m) => m[1]).sort(),
      ["mathjax-tex-svg.js", "plotly.min.js"],
    );
    assert.ok((await Deno.stat(`${out}/mathjax-tex-svg.js`)).size > 500_000, "MathJax copied beside the page");
    assert.ok((await Deno.stat(`${out}/plotly.min.js`)).size > 1_000_000, "plotly.min.js copied beside the page");
    assert.match(await Deno.readTextFile(`${out}/index.html`), /report_smoke\.html/);
  } finally {
    await Deno.remove(out, { recursive: true });
  }
});
