/**
 * Every page of the committed report (results/report/) is checked for what a reader must not meet:
 * a table cut short without a row count, a `null` cell, a quoted string as a cell's result, a table
 * that can be clipped, an index summary cut mid-sentence. The checks themselves are tested first
 * on pages that have each defect.
 */
import assert from "node:assert/strict";
import { htmlProblems, indexProblems, notebookProblems } from "../lib/report/page_check.ts";
import { renderTable } from "../lib/report/show_table.ts";

const REPORT = new URL("../results/report/", import.meta.url).pathname;

const output = (body: string) =>
  `<style id="sam-at-table-scroll"></style><div class="jp-OutputArea-child"><div class="jp-RenderedHTMLCommon jp-OutputArea-output" data-mime-type="text/html">${body}</div></div><div class="jp-Cell x">`;

Deno.test("the page checks catch each defect and pass a page of show_table tables", () => {
  const rows = Array.from({ length: 60 }, (_, i) => ({ run: `r${i}`, x: i === 3 ? null : i / 7 }));
  assert.deepEqual(htmlProblems(output(renderTable(rows).html)), []);
  // polars' own display: the first 50 rows, no count, no scroll container.
  const polars = `<table><thead><tr><th>a</th></tr></thead><tbody>${
    "<tr><td>1</td></tr>".repeat(50)
  }</tbody></table>`;
  const p = htmlProblems(output(polars));
  assert.ok(p.some((x) => /50 rows shown\) without a visible row count/.test(x)), p.join("; "));
  assert.ok(p.some((x) => /without its scroll container/.test(x)));
  assert.ok(
    htmlProblems(output(renderTable(rows).html).replace(/<style[^>]*><\/style>/, ""))
      .some((x) => /no #sam-at-table-scroll style/.test(x)),
  );
  assert.ok(
    htmlProblems("<table><tr><td>null</td></tr></table>").some((x) => /showing null/.test(x)),
  );
  const nb = {
    cells: [{
      cell_type: "code",
      outputs: [{ output_type: "execute_result", data: { "text/plain": '"No results"' } }],
    }],
  };
  assert.match(notebookProblems(nb)[0], /cell 1 shows a quoted string/);
  const index = (s: string) => `<a href="x.html">X</a><div class="s">${s}</div></td><td>`;
  assert.deepEqual(indexProblems(index("A whole sentence.")), []);
  assert.match(indexProblems(index("decide the claims on CPU: the"))[0], /cut mid-sentence/);
  assert.match(indexProblems(index("from `data/paper_tables.csv`."))[0], /raw backticks/);
});

Deno.test("every page of the committed report passes the page checks", () => {
  // Pages only (screenshots/ and other folders beside them are not pages).
  const names = [...Deno.readDirSync(REPORT)].filter((e) => e.isFile).map((e) => e.name).sort();
  assert.ok(names.includes("index.html"), `no rendered report in ${REPORT}`);
  const problems: string[] = [];
  for (const name of names) {
    const text = Deno.readTextFileSync(`${REPORT}${name}`);
    const found = name === "index.html"
      ? indexProblems(text)
      : name.endsWith(".html")
      ? htmlProblems(text)
      : name.endsWith(".ipynb")
      ? notebookProblems(JSON.parse(text))
      : [];
    problems.push(...found.map((p) => `${name}: ${p}`));
  }
  assert.deepEqual(
    problems,
    [],
    `re-render with bin/deno task report --out results/report:\n${problems.join("\n")}`,
  );
});
