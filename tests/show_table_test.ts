/** Tables as the notebooks show them: all rows, a row count, "–" for missing, a scroll container. */
import assert from "node:assert/strict";
import { COUNT_CLASS, renderTable, TABLE_CLASS } from "../lib/report/show_table.ts";

Deno.test("renderTable shows every row (past polars' 50), counts them and never prints null", () => {
  const rows = Array.from({ length: 53 }, (_, i) => ({
    run: `fashion-mnist-full r${i}`,
    eps: i === 0 ? null : 0.1234567 * i,
    rho: undefined,
    acc: NaN,
  }));
  const t = renderTable(rows, { digits: 3 });
  assert.equal(t.cells.length, 53);
  assert.equal((t.html.match(/<tr>/g) ?? []).length, 54, "header + 53 rows");
  assert.match(t.html, new RegExp(`class="${TABLE_CLASS}" style="overflow-x:auto`));
  assert.match(
    t.html,
    new RegExp(`class="${COUNT_CLASS}"[^>]*>53 rows × 4 columns, all shown; – = no value`),
  );
  assert.doesNotMatch(t.html, />null</);
  assert.doesNotMatch(t.html, />undefined</);
  assert.doesNotMatch(t.html, />NaN</);
  assert.equal(t.cells[0][1], "–");
  assert.equal(t.cells[2][1], "0.247");
  assert.match(t.html, /white-space:nowrap/, "a long row label stays on one line");
});

Deno.test("renderTable: no missing note when nothing is missing; bad digits and columns refused", () => {
  const t = renderTable([{ a: 1, b: "x<y" }]);
  assert.match(t.html, /1 row × 2 columns, all shown\.</);
  assert.match(t.html, /x&lt;y/);
  assert.throws(() => renderTable([{ a: 1 }], { digits: 0 }), /digits must be/);
  assert.throws(() => renderTable([{ a: 1 }], { columns: { b: 3 } }), /no column b/);
  assert.match(renderTable([]).html, /0 rows × 0 columns/);
});

Deno.test("renderTable: an empty table says why in its count line when told", () => {
  const t = renderTable([], { empty: "no AT rows in these results yet" });
  assert.match(
    t.html,
    new RegExp(`class="${COUNT_CLASS}"[^>]*>0 rows — no AT rows in these results yet\\.<`),
  );
  assert.match(renderTable([{ a: 1 }], { empty: "unused" }).html, /1 row × 1 column, all shown\.</);
});
