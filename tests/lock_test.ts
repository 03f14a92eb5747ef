/**
 * Issue 14: nothing lost, nothing run twice. Locks (live, stale, damaged), two processes on one
 * grid, results paths that are not ours, verbatim appends without duplicates, temp files of dead
 * writers, and a full disk.
 */
import assert from "node:assert/strict";
import { TINY, toySplits } from "./tiny_grid.ts";
import { pathToFileURL } from "node:url";

const toFileUrl = (p: string) => pathToFileURL(p);
import { isUserError } from "../scripts/cli.ts";
import { planGrid } from "../lib/experiments/plan.ts";
import {
  appendRun,
  auditResults,
  checkResultsTarget,
  readEvals,
  readResults,
  ResultsFileError,
  RUN_COLUMNS,
} from "../lib/experiments/results.ts";
import { runGrid } from "../lib/experiments/runner.ts";
import { FileWriteError, removeStaleTemps, writeFileAtomic } from "../lib/util/atomic_write.ts";
import {
  describeHolder,
  LockError,
  pidAlive,
  processStartTime,
  tryLock,
  withLock,
} from "../lib/util/lock.ts";

const root = new URL("..", import.meta.url).pathname;

/** The pid of a process that has exited (so certainly not alive). */
async function deadPid(): Promise<number> {
  const child = new Deno.Command("true").spawn();
  await child.status;
  return child.pid;
}

/** A live process other than this one, and a lock file naming it as owner. */
function liveOther(): { child: Deno.ChildProcess; owner: string } {
  const child = new Deno.Command("sleep", { args: ["60"] }).spawn();
  const owner = JSON.stringify({
    host: Deno.hostname(),
    pid: child.pid,
    start: processStartTime(child.pid),
    token: "other",
    since: "2026-01-01T00:00:00.000Z",
  });
  return { child, owner };
}

async function stop(child: Deno.ChildProcess): Promise<void> {
  child.kill("SIGKILL");
  await child.status;
}

function tempDir(prefix: string): string {
  return Deno.makeTempDirSync({ prefix: `sam-at-${prefix}-` });
}

Deno.test("lock: taken, held, released; a live holder is named and waited for; a dead one is taken over at once", async () => {
  const dir = tempDir("lock");
  const { child, owner } = liveOther();
  try {
    const path = `${dir}/a.lock`;
    const mine = tryLock(path);
    assert.ok(!("held" in mine));
    assert.ok("held" in tryLock(path), "a second taker sees it held");
    mine.release();
    assert.throws(() => Deno.statSync(path), Deno.errors.NotFound);

    // A live process's lock: skipped (tryLock) or waited for, then one sentence (withLock).
    Deno.writeTextFileSync(path, owner);
    const held = tryLock(path);
    assert.ok("held" in held);
    assert.match(describeHolder(held), new RegExp(`^process ${child.pid} \\(since `));
    const t0 = Date.now();
    assert.throws(
      () => withLock(path, "Results file r.csv", () => 1, 300),
      new RegExp(
        `^LockError: Results file r\\.csv has been locked by process ${child.pid} .* \\(lock file .*a\\.lock\\); wait for that process to finish, or stop it and rerun`,
      ),
    );
    assert.ok(Date.now() - t0 < 5000);

    // The same process gone: its lock is stale and taken over without waiting.
    await stop(child);
    assert.equal(pidAlive(child.pid, processStartTime(child.pid)), false);
    const t1 = Date.now();
    assert.equal(withLock(path, "x", () => 42), 42);
    assert.ok(Date.now() - t1 < 1000, "no wait for a dead owner");
    assert.throws(() => Deno.statSync(path), Deno.errors.NotFound);

    // A pid that is alive but started after the lock was written (pid reuse) is not the owner.
    Deno.writeTextFileSync(
      path,
      JSON.stringify({ host: Deno.hostname(), pid: Deno.pid, start: "1", token: "t", since: "" }),
    );
    // (our own pid counts as alive whatever the start: two workers of one process share a pid)
    assert.ok("held" in tryLock(path));
    Deno.removeSync(path);

    // An empty lock (the first version's format): live for 10 s, then stale.
    Deno.writeTextFileSync(path, "");
    assert.ok("held" in tryLock(path));
    const old = new Date(Date.now() - 60_000);
    Deno.utimeSync(path, old, old);
    const taken = tryLock(path);
    assert.ok(!("held" in taken));
    taken.release();

    // A directory where the lock belongs: one sentence.
    Deno.mkdirSync(path);
    assert.throws(
      () => tryLock(path),
      /^LockError: Lock file .*a\.lock is a directory; remove it and rerun\.$/,
    );
    assert.ok(isUserError(new LockError("x")));
  } finally {
    await stop(child).catch(() => {});
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("lock: a results lock left by a killed process does not block the next append", async () => {
  const dir = tempDir("lock-kill");
  try {
    const csv = `${dir}/r.csv`;
    // A process takes the results lock and dies holding it (as a kill during the rename would).
    const lockUrl = toFileUrl(`${root}lib/util/lock.ts`).href;
    const r = await new Deno.Command(Deno.execPath(), {
      args: ["eval", `import { tryLock } from "${lockUrl}"; tryLock("${csv}.lock"); Deno.exit(0);`],
    }).output();
    assert.equal(r.code, 0, new TextDecoder().decode(r.stderr));
    assert.ok(Deno.statSync(`${csv}.lock`).isFile, "the lock was left behind");
    const t0 = Date.now();
    assert.equal(appendRun(csv, { run_key: "k00000001", clean: 0.5 }), true);
    assert.ok(Date.now() - t0 < 2000, `took ${Date.now() - t0} ms`);
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["r.csv"]);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("results path: a file that is not this project's results CSV is refused and left as it was; the committed CSVs are accepted", () => {
  const dir = tempDir("foreign");
  try {
    const readme = `${dir}/README.md`;
    const text = Deno.readTextFileSync(`${root}README.md`);
    Deno.writeTextFileSync(readme, text);
    const sentence =
      /^ResultsFileError: .*README\.md is not a results CSV of this project \(its header starts "# SAM alone.*\); it was left unchanged: name a new file with --results or move this one away\.$/;
    assert.throws(() => checkResultsTarget(readme), sentence);
    assert.throws(() => appendRun(readme, { run_key: "k00000001", clean: 0.5 }), sentence);
    assert.equal(Deno.readTextFileSync(readme), text, "never rewritten");
    // The evaluations file beside it is checked as well.
    Deno.writeTextFileSync(`${dir}/x.evals.csv`, "a,b\n1,2\n");
    assert.throws(
      () => checkResultsTarget(`${dir}/x.csv`),
      /^ResultsFileError: .*x\.evals\.csv is not an evaluations CSV of this project \(its header starts "a,b"/,
    );
    // Every committed results file passes as it is.
    for (const name of ["fashion-mnist-default", "fashion-mnist-full"]) {
      checkResultsTarget(`${root}results/${name}.csv`);
    }
    assert.ok(isUserError(new ResultsFileError("x")));
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("results: an append keeps every finished row byte for byte; a duplicate is not added; a NaN row does not count as finished", () => {
  const dir = tempDir("append");
  try {
    const csv = `${dir}/r.csv`;
    // Hand-written rows (unusual number spellings a rewrite would not keep), every cell there.
    const before = `${
      RUN_COLUMNS.join(",")
    }\nr1,k00000001,,,,,,,,,,,,,,,,,,,,,,,,,,,,,1.50E-1,0.80,,,,\n`;
    Deno.writeTextFileSync(csv, before);
    assert.equal(appendRun(csv, { run_key: "k00000002", clean: 0.7 }), true);
    const after = Deno.readTextFileSync(csv);
    assert.equal(after.slice(0, before.length), before);
    // The same finished run again: refused, nothing written.
    assert.equal(appendRun(csv, { run_key: "k00000001", clean: 0.9 }), false);
    assert.equal(Deno.readTextFileSync(csv), after);
    // A NaN row is unfinished: the run's finished row can follow it, and the audit names it once.
    assert.equal(appendRun(csv, { run_key: "k00000003", row_id: "ST", seed: 0, clean: NaN }), true);
    assert.deepEqual(auditResults(csv), [
      `${csv}: the row of run ST seed 0 (k00000003) has clean = NaN; it counts as unfinished and the run is trained again.`,
    ]);
    assert.equal(appendRun(csv, { run_key: "k00000003", row_id: "ST", seed: 0, clean: 0.6 }), true);
    assert.deepEqual(auditResults(csv), []);
    // A duplicate already in the file (written by an old version) is reported, not doubled.
    Deno.writeTextFileSync(csv, Deno.readTextFileSync(csv) + after.split("\n")[2] + "\n");
    assert.deepEqual(auditResults(csv), [
      `${csv} holds 2 finished rows of k00000002; one is used, the others are ignored.`,
    ]);
    assert.equal(appendRun(csv, { run_key: "k00000002", clean: 0.7 }), false);
    assert.equal(readResults(csv).filter((r) => r.run_key === "k00000002").length, 2);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("temp files: those of dead writers are removed, a live writer's are kept; a full disk is one sentence and keeps the old file", async () => {
  const dir = tempDir("temps");
  try {
    const dead = await deadPid();
    const names = [
      `r.csv.tmp-${dead}`,
      `r.evals.csv.tmp-${dead}`,
      `r.csv.lock.tmp-${dead}-0a1b2c3d`,
    ];
    for (const n of names) Deno.writeTextFileSync(`${dir}/${n}`, "half");
    Deno.writeTextFileSync(`${dir}/r.csv.tmp-${Deno.pid}`, "mine, being written");
    Deno.writeTextFileSync(`${dir}/other.csv.tmp-${dead}`, "not ours");
    assert.deepEqual(
      removeStaleTemps(dir, "r.").map((p) => p.slice(dir.length + 1)).sort(),
      names.sort(),
    );
    assert.deepEqual(
      [...Deno.readDirSync(dir)].map((e) => e.name).sort(),
      [`other.csv.tmp-${dead}`, `r.csv.tmp-${Deno.pid}`],
    );
    Deno.removeSync(`${dir}/r.csv.tmp-${Deno.pid}`);

    // ENOSPC: the temp file is /dev/full. One sentence; the finished file and its rows are kept.
    const csv = `${dir}/r.csv`;
    appendRun(csv, { run_key: "k00000001", clean: 0.5 });
    const kept = Deno.readTextFileSync(csv);
    Deno.symlinkSync("/dev/full", `${csv}.tmp-${Deno.pid}`);
    const full =
      /^FileWriteError: Disk full while writing .*r\.csv; free space and rerun: finished runs are kept\.$/;
    assert.throws(() => appendRun(csv, { run_key: "k00000002", clean: 0.5 }), full);
    assert.equal(Deno.readTextFileSync(csv), kept);
    assert.throws(
      () => Deno.lstatSync(`${csv}.tmp-${Deno.pid}`),
      Deno.errors.NotFound,
      "temp removed",
    );
    Deno.symlinkSync("/dev/full", `${dir}/m.bin.tmp-${Deno.pid}`);
    assert.throws(
      () => writeFileAtomic(`${dir}/m.bin`, new Uint8Array(8)),
      /^FileWriteError: Disk full while writing .*m\.bin; free space and rerun/,
    );
    assert.ok(isUserError(new FileWriteError("x")));
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

/** A script that runs the tiny grid into `csv` and prints its counts as JSON. */
function workerScript(csv: string): string {
  const lib = (p: string) => toFileUrl(`${root}${p}`).href;
  return `
import { runGrid } from "${lib("lib/experiments/runner.ts")}";
import { TINY as preset, toySplits } from "${lib("tests/tiny_grid.ts")}";
const data = toySplits(preset);
const lines = [];
const g = await runGrid({ preset, data, rows: "ST,SAM-0.1", seeds: "0,1", resultsPath: ${
    JSON.stringify(csv)
  }, progress: "none", log: (l) => lines.push(l) });
console.log(JSON.stringify({ trained: g.trained, evaluated: g.evaluated, held: g.heldElsewhere, lines }));
`;
}

const toy = () => toySplits(TINY);
Deno.test("two processes on one grid and one results file: every run trained and evaluated exactly once", async () => {
  const dir = tempDir("two");
  try {
    const csv = `${dir}/r.csv`;
    const script = `${dir}/worker.ts`;
    Deno.writeTextFileSync(script, workerScript(csv));
    const start = () =>
      new Deno.Command(Deno.execPath(), {
        args: ["run", "--allow-all", "--config", `${root}deno.json`, script],
        cwd: root,
        stdout: "piped",
        stderr: "piped",
      }).output();
    const outs = await Promise.all([start(), start()]);
    const results = outs.map((o) => {
      assert.equal(o.code, 0, new TextDecoder().decode(o.stderr));
      return JSON.parse(new TextDecoder().decode(o.stdout).trim().split("\n").at(-1)!);
    });
    const rows = readResults(csv);
    assert.equal(rows.length, 4, JSON.stringify(results));
    assert.equal(new Set(rows.map((r) => r.run_key)).size, 4);
    const evals = readEvals(csv);
    assert.equal(evals.length, 4);
    assert.equal(new Set(evals.map((e) => e.run_key)).size, 4);
    assert.equal(results[0].trained + results[1].trained, 4, JSON.stringify(results));
    assert.equal(results[0].evaluated + results[1].evaluated, 4);
    // A skipped run says which process holds it (when the two overlapped at all).
    for (const r of results) {
      const skips = r.lines.filter((l: string) =>
        / skipped: process \d+ .* is working on it \(lock /.test(l)
      );
      assert.equal(skips.length, r.held);
    }
    // No lock or temp file is left; the checkpoints went with their finished runs.
    const left = [...Deno.readDirSync(dir)].map((e) => e.name).filter((n) => /lock|tmp/.test(n));
    assert.deepEqual(left, []);
    const ckDir = `${dir}/runs/r/checkpoints`;
    assert.deepEqual([...Deno.readDirSync(ckDir)].map((e) => e.name), []);

    // The next start removes temp files of dead writers beside the results, models and checkpoints.
    const dead = await deadPid();
    const temps = [`${dir}/r.csv.tmp-${dead}`, `${dir}/models/r/x.safetensors.tmp-${dead}`];
    Deno.mkdirSync(`${ckDir}/ST-seed0-kdead`, { recursive: true });
    temps.push(`${ckDir}/ST-seed0-kdead/checkpoint.samat.tmp-${dead}`);
    for (const t of temps) Deno.writeTextFileSync(t, "half");
    const lines: string[] = [];
    const again = await runGrid({
      preset: TINY,
      data: toy(),
      rows: "ST,SAM-0.1",
      seeds: "0,1",
      resultsPath: csv,
      progress: "none",
      log: (l) => lines.push(l),
    });
    assert.deepEqual([again.trained, again.evaluated], [0, 0]);
    assert.match(lines.join("\n"), /^removed 3 temp file\(s\) left by killed writers: /m);
    for (const t of temps) assert.throws(() => Deno.statSync(t), Deno.errors.NotFound, t);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("a run whose lock a live process holds is skipped with one sentence naming that process", async () => {
  const dir = tempDir("held");
  const { child, owner } = liveOther();
  try {
    const csv = `${dir}/r.csv`;
    const plan = planGrid({ preset: TINY, data: toy(), rows: "ST", seeds: "3", resultsPath: csv });
    Deno.mkdirSync(`${dir}/runs/r/checkpoints`, { recursive: true });
    Deno.writeTextFileSync(`${plan.runs[0].checkpointDir}.lock`, owner);
    const lines: string[] = [];
    const g = await runGrid({
      preset: TINY,
      data: toy(),
      rows: "ST",
      seeds: "3",
      resultsPath: csv,
      progress: "none",
      log: (l) => lines.push(l),
    });
    assert.deepEqual([g.trained, g.heldElsewhere], [0, 1]);
    assert.match(
      lines.join("\n"),
      new RegExp(
        `run 1/1: ST seed 3 skipped: process ${child.pid} \\(since .*\\) is working on it \\(lock .*ST-seed3-k[0-9a-f]{8}\\.lock\\)\\.`,
      ),
    );
    assert.match(
      lines.join("\n"),
      /1 run\(s\) skipped: another live process holds them and finishes them/,
    );
    assert.deepEqual(readResults(csv), []);
  } finally {
    await stop(child);
    Deno.removeSync(dir, { recursive: true });
  }
});
