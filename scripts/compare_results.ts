/**
 * Two results files value by value: for every run of the first, its final training loss and clean
 * accuracy, and for every evaluation its accuracy and per-example robust flags, against the
 * second's (matched by run key). Used to show that a code change reproduces results bit for bit.
 *
 *   bin/deno run -A scripts/compare_results.ts A.csv B.csv   (their .evals.csv beside them)
 *
 * Exit 0 when every value is equal, 1 when some differ (each named), 2 on bad input.
 */
import { evalsPathFor, readEvals, readResults } from "../lib/experiments/results.ts";
import { fail, runCli } from "./cli.ts";

await runCli(() => {
  const [a, b] = Deno.args;
  if (!a || !b || Deno.args.length !== 2 || Deno.args.includes("--help")) {
    fail(
      "usage: bin/deno run -A scripts/compare_results.ts A.csv B.csv (their .evals.csv beside them)",
    );
  }
  for (const p of [a, b]) {
    try {
      Deno.statSync(p);
    } catch {
      fail(`${p} does not exist; give two results CSVs.`);
    }
  }
  const [ra, rb] = [readResults(a), readResults(b)];
  const [ea, eb] = [readEvals(a), readEvals(b)];
  let same = 0;
  const differ: string[] = [];
  const check = (what: string, x: unknown, y: unknown) => {
    if (x === y) same++;
    else differ.push(`${what}: ${String(x).slice(0, 24)} vs ${String(y).slice(0, 24)}`);
  };
  for (const r of ra) {
    const s = rb.find((x) => x.run_key === r.run_key);
    if (!s) {
      differ.push(`${r.row_id} seed ${r.seed}: missing from ${b}`);
      continue;
    }
    for (const k of ["final_train_loss", "clean"]) {
      check(`${r.row_id} seed ${r.seed} ${k}`, r[k], s[k]);
    }
  }
  for (const e of ea) {
    const f = eb.find((x) => x.run_key === e.run_key && x.eval_key === e.eval_key);
    if (!f) {
      differ.push(`${e.run_key} ${e.eval_key}: missing from ${evalsPathFor(b)}`);
      continue;
    }
    for (const k of ["accuracy", "robust_flags"]) {
      check(`${e.run_key} ${e.eval_key} ${k}`, e[k], f[k]);
    }
  }
  for (const d of differ) console.log(d);
  console.log(
    `${same} values equal, ${differ.length} differ (${ra.length} runs, ${ea.length} evaluations of ${a})`,
  );
  if (differ.length) Deno.exit(1);
  return Promise.resolve();
});
