/**
 * Issue 31 #6 and #7: a results path is resolved once (a symlinked CSV: every file of the run goes
 * beside the real file, and the real path keys the lock), and a results file this user does not
 * own or cannot write is refused before any work, with one sentence, never replaced.
 */
import { TINY_QUICK as TINY, toySplits } from "./tiny_grid.ts";
import assert from "node:assert/strict";
import { join } from "node:path";
import { initBackend } from "../lib/backend/backend.ts";
import { planGrid } from "../lib/experiments/plan.ts";
import {
  appendRun,
  checkResultsTarget,
  evalsPathFor,
  readEvals,
  readResults,
} from "../lib/experiments/results.ts";
import { runGrid } from "../lib/experiments/runner.ts";

const root = new URL("..", import.meta.url).pathname;
const toy = () => toySplits(TINY);

Deno.test("symlinked results CSV: runs, evaluations, models and checkpoints all go beside the real file (issue 31 #6)", async () => {
  await initBackend();
  const dir = Deno.makeTempDirSync({ prefix: "sam-at-symlink-" });
  try {
    Deno.mkdirSync(`${dir}/real`);
    Deno.mkdirSync(`${dir}/elsewhere`);
    const real = `${dir}/real/r.csv`;
    appendRun(real, { run_key: "k0000000f", clean: 0.5 }); // another run, so the file exists
    const link = `${dir}/elsewhere/r.csv`;
    Deno.symlinkSync("../real/r.csv", link);
    const o = {
      preset: TINY,
      data: toy(),
      rows: "ST",
      resultsPath: link,
      progress: "none" as const,
      workers: 1,
      log: () => {},
    };
    const plan = planGrid(o);
    assert.equal(plan.resultsPath, Deno.realPathSync(real));
    assert.equal((await runGrid(o)).trained, 1);
    assert.equal(readResults(real).length, 2);
    assert.equal(readEvals(real).length, 1, "the evaluation beside the real file");
    assert.ok(Deno.statSync(`${dir}/real/models/r`).isDirectory, "the model beside the real file");
    assert.deepEqual([...Deno.readDirSync(`${dir}/elsewhere`)].map((e) => e.name), ["r.csv"]);
    assert.ok(Deno.lstatSync(link).isSymlink, "the link stays a link");
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("symlinked results CSV: a process writing through the link and one writing the target share one lock; no row is lost (issue 31 #6)", async () => {
  const dir = Deno.makeTempDirSync({ prefix: "sam-at-symlink-race-" });
  try {
    const real = `${dir}/r.csv`;
    const link = `${dir}/link.csv`;
    appendRun(real, { run_key: "k00000000", clean: 0.5 });
    Deno.symlinkSync(real, link);
    const n = 40;
    const writer = (path: string, tag: number) =>
      new Deno.Command(Deno.execPath(), {
        args: [
          "eval",
          `import { appendRun } from "${root}lib/experiments/results.ts";
           for (let i = 0; i < ${n}; i++) {
             appendRun(${
            JSON.stringify(path)
          }, { run_key: "k${tag}" + String(i).padStart(7, "0"), clean: 0.5 });
           }`,
        ],
        stdout: "piped",
        stderr: "piped",
      }).output();
    const outs = await Promise.all([writer(real, 1), writer(link, 2)]);
    for (const o of outs) assert.equal(o.code, 0, new TextDecoder().decode(o.stderr));
    assert.equal(readResults(real).length, 1 + 2 * n, "every row of both writers");
    assert.equal(readResults(link).length, 1 + 2 * n);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("a read-only or foreign-owned results file is refused before any work and never replaced; in a sticky folder too (issue 31 #7)", async () => {
  const dir = Deno.makeTempDirSync({ prefix: "sam-at-owner-" });
  const o = {
    preset: TINY,
    data: toy(),
    rows: "ST",
    resultsPath: `${dir}/r.csv`,
    progress: "none" as const,
    workers: 1,
    log: () => {},
  };
  try {
    appendRun(o.resultsPath, { run_key: "k0000000f", clean: 0.5 });
    const text = Deno.readTextFileSync(o.resultsPath);
    Deno.chmodSync(o.resultsPath, 0o444);
    const readOnly =
      /Results file .*r\.csv is read-only \(mode 444\); make it writable \(chmod u\+w\) or name another file with --results\.$/;
    assert.throws(() => checkResultsTarget(o.resultsPath), readOnly);
    await assert.rejects(runGrid(o), readOnly);
    assert.throws(
      () => appendRun(o.resultsPath, { run_key: "k0000000e", clean: 0.5 }),
      /read-only/,
    );
    assert.equal(Deno.readTextFileSync(o.resultsPath), text);
    assert.equal(Deno.statSync(o.resultsPath).mode! & 0o777, 0o444, "not replaced");
    assert.throws(() => Deno.statSync(`${dir}/models`), Deno.errors.NotFound, "nothing trained");
    Deno.chmodSync(o.resultsPath, 0o644);

    // The evaluations file beside it is checked the same way.
    Deno.writeTextFileSync(evalsPathFor(o.resultsPath), "");
    Deno.chmodSync(evalsPathFor(o.resultsPath), 0o400);
    assert.throws(
      () => checkResultsTarget(o.resultsPath),
      /r\.evals\.csv is read-only \(mode 400\)/,
    );
    Deno.chmodSync(evalsPathFor(o.resultsPath), 0o644);

    if (Deno.uid() !== 0) return; // another owner needs root to set up
    // Another user's file, in a sticky folder (like /tmp), where only its owner may replace it.
    Deno.chmodSync(dir, 0o1777);
    Deno.chownSync(o.resultsPath, 65534, 65534);
    const foreign =
      /Results file .*r\.csv belongs to user 65534, not to this user \(0\); copy it to a file of your own or name another file with --results\.$/;
    assert.throws(() => checkResultsTarget(o.resultsPath), foreign);
    await assert.rejects(runGrid(o), foreign);
    assert.equal(Deno.statSync(o.resultsPath).uid, 65534, "not replaced");
    assert.throws(() => Deno.statSync(`${dir}/models`), Deno.errors.NotFound, "nothing trained");
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("the committed results files pass the ownership check of this checkout", () => {
  for (const name of ["fashion-mnist-default", "fashion-mnist-full"]) {
    checkResultsTarget(join(root, "results", `${name}.csv`));
  }
});
