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
    assert.ok(
      (await Deno.stat(`${out}/mathjax-tex-svg.js`)).size > 500_000,
      "MathJax copied beside the page",
    );
    assert.ok(
      (await Deno.stat(`${out}/plotly.min.js`)).size > 1_000_000,
      "plotly.min.js copied beside the page",
    );
    assert.match(await Deno.readTextFile(`${out}/index.html`), /report_smoke\.html/);
  } finally {
    await Deno.remove(out, { recursive: true });
  }
});

// ---------------------------------------------------------------------------------------------
// Chart titles: plotly.js 3 draws a title only in the form {text: ...}; a bare string is ignored.

import { normalizeTitles, titleText } from "../lib/report/notebook.ts";
import { readableTable, roundSignificant } from "../lib/report/table.ts";
import { titleProblems } from "./chart_titles.ts";

const PLOTLY_MIME = "application/vnd.plotly.v1+json";
const REPORT = `${root}results/report`;

type Spec = { layout?: Record<string, unknown> };

/** Every plotly chart of a rendered page: from the .ipynb outputs, or the JSON the .html embeds. */
function chartsOf(path: string): Spec[] {
  const text = Deno.readTextFileSync(path);
  if (path.endsWith(".ipynb")) {
    const nb = JSON.parse(text) as { cells: { outputs?: { data?: Record<string, unknown> }[] }[] };
    return nb.cells.flatMap((c) => c.outputs ?? []).map((o) => o.data?.[PLOTLY_MIME]).filter(
      Boolean,
    ) as Spec[];
  }
  return [
    ...text.matchAll(
      /data-mime-type="application\/vnd\.plotly\.v1\+json"[^>]*>\s*<div[^>]*><\/div>\s*<script type="application\/json">(.*?)<\/script>/gs,
    ),
  ]
    .map((m) => JSON.parse(m[1]) as Spec);
}

Deno.test("every chart on every rendered report page has a title (and axis titles) plotly.js 3 draws", () => {
  const pages = [...Deno.readDirSync(REPORT)].map((e) => e.name)
    .filter((n) => (n.endsWith(".ipynb") || n.endsWith(".html")) && n !== "index.html").sort();
  assert.ok(pages.length > 0, `no rendered pages in ${REPORT}; run bin/deno task report`);
  const problems: string[] = [];
  let charts = 0;
  for (const page of pages) {
    chartsOf(`${REPORT}/${page}`).forEach((spec, i) => {
      charts++;
      for (const p of titleProblems(spec)) {
        problems.push(`${page} chart ${i + 1} ("${titleText(spec.layout ?? {})}"): ${p}`);
      }
    });
  }
  assert.ok(charts > 0, "the rendered pages hold charts");
  assert.deepEqual(
    problems,
    [],
    `${problems.length} chart(s) of ${charts} with a missing title:\n${problems.join("\n")}`,
  );
});

Deno.test("showPlot's normalizeTitles turns string titles of the chart, its axes and legend into {text}", () => {
  const layout = {
    title: "A",
    xaxis: { title: "x", type: "log" },
    yaxis2: { title: { text: "y2" }, side: "right" },
    legend: { title: "L", x: 0 },
    shapes: [{ type: "line", title: "not a layout title" }],
  };
  assert.deepEqual(normalizeTitles(layout), {
    title: { text: "A" },
    xaxis: { title: { text: "x" }, type: "log" },
    yaxis2: { title: { text: "y2" }, side: "right" },
    legend: { title: { text: "L" }, x: 0 },
    shapes: [{ type: "line", title: "not a layout title" }],
  });
  assert.equal(layout.title, "A", "the caller's layout is not changed");
  assert.equal(titleText({ title: "A" }), "A");
  assert.equal(titleText({}), "");
  assert.deepEqual(titleProblems({ layout: { title: "bare" } }), [
    'no title (layout.title = "bare")',
  ]);
});

Deno.test("readableTable rounds floats to significant digits for display; integers, strings, nulls unchanged", () => {
  assert.equal(roundSignificant(1.3032287642118246e-13, 4), 1.303e-13);
  assert.equal(roundSignificant(10.986122886681098, 4), 10.99);
  assert.equal(roundSignificant(0.0007655327686243819, 3), 0.000766);
  assert.equal(roundSignificant(123456, 2), 123456, "integers stay exact");
  assert.ok(Number.isNaN(roundSignificant(NaN, 3)));
  assert.equal(roundSignificant(-Infinity, 3), -Infinity);
  assert.throws(() => roundSignificant(1.5, 0), /digits must be an integer from 1 to 17/);
  const rows = [
    { name: "a", d: 100, gap: 3.706355629820844e-13, w: 10.986122886681096, ok: true, none: null },
    { name: "b", d: 1000, gap: null, w: 0.6157046755523590, ok: false, none: null },
  ];
  const t = readableTable(rows, { digits: 4, columns: { w: 6 } });
  assert.deepEqual(t.toRecords(), [
    { name: "a", d: 100, gap: 3.706e-13, w: 10.9861, ok: true, none: null },
    { name: "b", d: 1000, gap: null, w: 0.615705, ok: false, none: null },
  ]);
  assert.deepEqual(
    rows[0].w,
    10.986122886681096,
    "the rows keep full precision (CSVs are written from them)",
  );
  assert.match(t.toHTML(), /<td>3\.706e-13<\/td>/);
  assert.throws(() => readableTable(rows, { columns: { missing: 3 } }), /no column missing/);
  assert.throws(() => readableTable(rows, { columns: { w: 40 } }), /column w: digits must be/);
});
