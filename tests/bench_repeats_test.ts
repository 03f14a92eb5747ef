// bench/repeats.ts: the median of whole runs' ratios per case, and the targets' verdicts.
import assert from "node:assert/strict";
import { summarize, summaryText, TARGETS } from "../bench/repeats.ts";

const HEADER =
  "backend,model,method,batch,torch_over_ours,ours_peak_rss_mb,torch_peak_rss_mb,load_start,load_end";
const run = (rows: string[]) => ({ path: "x.csv", text: [HEADER, ...rows].join("\n") + "\n" });

Deno.test("bench repeats: medians per case over runs, targets by method", () => {
  const cases = summarize([
    run([
      "tensorflow,prn18-w16,ST,128,1.10,1000,800,0.1,0.2",
      "tensorflow,prn18-w16,EVAL,128,0.9,900,1000,0.1,0.2",
    ]),
    run([
      "tensorflow,prn18-w16,ST,128,1.30,1100,800,0.3,0.4",
      "tensorflow,prn18-w16,EVAL,128,1.2,900,1000,0.1,0.2",
    ]),
    run([
      "tensorflow,prn18-w16,ST,128,1.20,1000,1000,0.5,0.6",
      "tensorflow,prn18-w16,EVAL,128,1.1,900,1000,0.1,0.2",
    ]),
  ]);
  assert.deepEqual(cases.map((c) => c.method), ["ST", "EVAL"]);
  assert.equal(cases[0].medianRatio, 1.2);
  assert.equal(cases[0].target, TARGETS.train);
  assert.equal(cases[0].medianRss, 1.25);
  assert.equal(cases[1].medianRatio, 1.1);
  assert.equal(cases[1].target, TARGETS.eval);
  const text = summaryText(cases);
  assert.equal(text.includes("MISSED"), false);
  // One slow run out of three does not decide the verdict; two do.
  const slow = summarize([
    run(["tensorflow,smallcnn-w8,SAM,128,1.0,1,1,0,0"]),
    run(["tensorflow,smallcnn-w8,SAM,128,1.1,1,1,0,0"]),
    run(["tensorflow,smallcnn-w8,SAM,128,1.3,1,1,0,0"]),
  ]);
  assert.equal(slow[0].medianRatio, 1.1);
  assert.equal(summaryText(slow).includes("MISSED"), true);
});

Deno.test("bench repeats: a file without the bench's columns is named in one sentence", () => {
  assert.throws(
    () => summarize([{ path: "other.csv", text: "a,b\n1,2\n" }]),
    /other\.csv: no "backend" column/,
  );
});

Deno.test("bench repeats: a case not measured (empty cells, e.g. --no-peer) is no ratio, not 0", () => {
  const [c] = summarize([run(["tensorflow,smallcnn-w8,ST,128,,500,,0,0"])]);
  assert.ok(Number.isNaN(c.medianRatio));
  assert.ok(Number.isNaN(c.medianRss));
  assert.match(summaryText([c]), /smallcnn-w8 +ST +128 +- +-x/);
});
