/**
 * The job engine (lib/jobs/) on a tiny fake kind (tests/fake_jobs.ts), apart from training and
 * measures: what is done is skipped, an interrupted job resumes, a job another live process holds
 * is skipped (and said), worker processes split the jobs so each is done once, a failing worker
 * is one sentence, shards merge once and keep a damaged shard's complete rows, and a Slurm
 * submission writes its manifest and names the tasks that did not finish.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { JobError } from "../lib/jobs/job_error.ts";
import { runJobs, workerOrder } from "../lib/jobs/run_jobs.ts";
import { mergeShards, type ShardTable } from "../lib/jobs/shards.ts";
import { readManifest, submitArray, unfinishedTasks } from "../lib/jobs/slurm.ts";
import { workInProcesses } from "../lib/jobs/workers.ts";
import { processStartTime } from "../lib/util/lock.ts";
import { isUserError } from "../scripts/cli.ts";
import { fakeKind, type FakeSpec, planFake, runsLog } from "./fake_jobs.ts";

function withDir(f: (dir: string) => Promise<void> | void): () => Promise<void> {
  return async () => {
    const dir = Deno.makeTempDirSync({ prefix: "sam-at-jobs-" });
    try {
      await f(dir);
    } finally {
      Deno.removeSync(dir, { recursive: true });
    }
  };
}

const names = (lines: string[]) => lines.map((l) => l.split(" ")[0]);

Deno.test(
  "jobs: what is done is skipped, an interrupted job resumes where it stopped, locks are released",
  withDir(async (dir) => {
    const spec: FakeSpec = { dir, costs: { a: 1, b: 2, c: 3 }, steps: 3 };
    const lines: string[] = [];
    const log = (l: string) => lines.push(l);
    // b crashes at its second step: a is done, b has one step behind it, c was not reached.
    await assert.rejects(
      runJobs(fakeKind({ ...spec, failAt: { name: "b", step: 1 } }), planFake(spec), { log }),
      (e) => e instanceof JobError && e.message === "Job b failed at step 1.",
    );
    assert.deepEqual(names(runsLog(dir)), ["a"]);
    assert.deepEqual([...Deno.readDirSync(join(dir, "locks"))], [], "every lock released");
    // Planned again: a is skipped, b resumes at step 1, c is new; the first ETA is the plan's cost.
    const todo = planFake(spec);
    assert.deepEqual(todo.map((j) => [j.name, j.stepsDone]), [["b", 1], ["c", 0]]);
    lines.length = 0;
    const setups = { count: 0 };
    const done = await runJobs(fakeKind(spec, setups), todo, { log });
    assert.deepEqual([done.worked, done.heldElsewhere, setups.count], [2, 0, 1]);
    assert.equal(lines[0], "job 1/2: b (resuming at step 1, est. 2); ETA 5");
    assert.match(
      lines[1],
      /^job 2\/2: c \(new, est\. 3\); ETA 3$/,
      "a resumed job does not calibrate",
    );
    assert.deepEqual(names(runsLog(dir)), ["a", "b", "c"]);
    // Nothing left: no setup (no data or backend loaded), nothing run.
    const again = await runJobs(fakeKind(spec, setups), planFake(spec), { log });
    assert.deepEqual([again.worked, setups.count], [0, 1]);
  }),
);

Deno.test(
  "jobs: a job another live process holds is skipped with one sentence (silently in a worker); one finished meanwhile is not done again",
  withDir(async (dir) => {
    const spec: FakeSpec = { dir, costs: { a: 1, b: 1, c: 1 } };
    const other = new Deno.Command("sleep", { args: ["60"] }).spawn();
    try {
      Deno.mkdirSync(join(dir, "locks"));
      Deno.writeTextFileSync(
        join(dir, "locks", "a.lock"),
        JSON.stringify({
          host: Deno.hostname(),
          pid: other.pid,
          start: processStartTime(other.pid),
          token: "other",
          since: "2026-01-01T00:00:00.000Z",
        }),
      );
      const todo = planFake(spec);
      // c is finished by someone else after the plan was read.
      Deno.mkdirSync(join(dir, "out"));
      Deno.writeTextFileSync(join(dir, "out", "c.txt"), "elsewhere\n");
      const lines: string[] = [];
      const done = await runJobs(fakeKind(spec), todo, { log: (l) => lines.push(l) });
      assert.deepEqual([done.worked, done.heldElsewhere], [1, 1]);
      assert.match(
        lines[0],
        new RegExp(
          `^job 1/3: a skipped: process ${other.pid} \\(since 2026-01-01T00:00:00\\.000Z\\) is working on it \\(lock .*locks/a\\.lock\\)\\.$`,
        ),
      );
      assert.equal(lines.at(-1), "job 3/3: c was finished meanwhile by another process.");
      assert.deepEqual(names(runsLog(dir)), ["b"]);
      // In a worker, a held lock is a sibling's: skipped without a word.
      const quiet: string[] = [];
      const w = await runJobs(fakeKind(spec), planFake(spec), {
        log: (l) => quiet.push(l),
        workerShare: 2,
      });
      assert.deepEqual([w.worked, w.heldElsewhere, quiet], [0, 1, []]);
    } finally {
      other.kill("SIGKILL");
      await other.status;
    }
    // Its holder gone, the lock is stale and the job is done.
    const after = await runJobs(fakeKind(spec), planFake(spec), { log: () => {} });
    assert.equal(after.worked, 1);
    assert.deepEqual(names(runsLog(dir)).sort(), ["a", "b"]);
  }),
);

Deno.test("jobs: a worker takes phase by phase, the costliest first", () => {
  const kind = fakeKind({ dir: "/nonexistent", costs: {} });
  const jobs = [["a", 1, 0], ["b/1", 9, 1], ["c", 3, 0], ["d", 2, 0], ["e/1", 4, 1]].map((
    [name, cost, phase],
  ) => ({ name: String(name), cost: Number(cost), phase: Number(phase), stepsDone: 0 }));
  assert.deepEqual(workerOrder(kind, jobs).map((j) => j.name), ["c", "d", "a", "b/1", "e/1"]);
});

Deno.test(
  "jobs: two workers in one process share the jobs by their locks, each job done once",
  withDir(async (dir) => {
    const spec: FakeSpec = { dir, costs: { a: 1, b: 2, c: 3, d: 4, e: 5, f: 6 }, stepMs: 20 };
    const [x, y] = await Promise.all(
      [0, 1].map(() => runJobs(fakeKind(spec), planFake(spec), { log: () => {}, workerShare: 2 })),
    );
    assert.equal(x.worked + y.worked, 6);
    assert.ok(x.worked > 0 && y.worked > 0, `${x.worked} + ${y.worked}`);
    assert.deepEqual(names(runsLog(dir)).sort(), ["a", "b", "c", "d", "e", "f"]);
  }),
);

Deno.test(
  "jobs: worker processes split the jobs, each done once; a failing worker is one sentence and the finished jobs are kept",
  withDir(async (dir) => {
    const spec: FakeSpec = { dir, costs: { a: 1, b: 2, c: 3, d: 4 }, stepMs: 500 };
    const lines: string[] = [];
    await workInProcesses("tests/fixtures/fake_job_worker.ts", spec, 2, (l) => lines.push(l), "x");
    const log = runsLog(dir);
    assert.deepEqual(names(log).sort(), ["a", "b", "c", "d"]);
    assert.equal(new Set(log.map((l) => l.split(" ")[1])).size, 2, `two processes: ${log}`);
    assert.ok(lines.some((l) => l.startsWith("[worker 1/2] job ")), lines.join("\n"));
    assert.ok(lines.some((l) => l.startsWith("[worker 2/2] job ")), lines.join("\n"));

    const more: FakeSpec = {
      ...spec,
      costs: { ...spec.costs, e: 9, f: 1 },
      failAt: { name: "f", step: 0 },
    };
    await assert.rejects(
      workInProcesses(
        "tests/fixtures/fake_job_worker.ts",
        more,
        2,
        () => {},
        "every job done is kept",
      ),
      (e: Error) =>
        isUserError(e) &&
        /^Worker [12] of 2 stopped: Job f failed at step 0 \(every job done is kept; rerun to go on\)\.$/
          .test(e.message),
    );
    assert.deepEqual(names(runsLog(dir)).sort(), ["a", "b", "c", "d", "e"]);
  }),
);

/** A fake output table: JSON lines; a line that does not parse is damage. */
type Row = { id: string; run?: string; v: number };
const lines = (path: string): string[] => {
  try {
    return Deno.readTextFileSync(path).split("\n").filter(Boolean);
  } catch {
    return [];
  }
};
const table = (suffix: string, owner?: boolean): ShardTable<Row> => ({
  pathOf: (base) => base + suffix,
  existing: (base) => lines(base + suffix).map((l) => JSON.parse(l)),
  readShard: (path) => {
    const ok: Row[] = [];
    let bad = 0;
    for (const l of lines(path)) {
      try {
        ok.push(JSON.parse(l));
      } catch {
        bad++;
      }
    }
    return { rows: ok, problem: bad ? `is damaged: ${bad} line(s) cut` : undefined };
  },
  id: (r) => r.id,
  append: (base, r) => {
    if (lines(base + suffix).some((l) => JSON.parse(l).id === r.id)) return false;
    Deno.writeTextFileSync(base + suffix, JSON.stringify(r) + "\n", { append: true });
    return true;
  },
  ...(owner
    ? { owner: (r: Row) => r.run!, orphans: (n: number, o: string) => `has ${n} of ${o}` }
    : {}),
});

Deno.test(
  "shards: merged table by table, once; a damaged shard's complete rows are merged and it is named; a row without its owner is held back",
  withDir((dir) => {
    const tables = [table(".runs"), table(".notes", true)];
    const base = join(dir, "results");
    const write = (p: string, rows: (Row | string)[]) =>
      Deno.writeTextFileSync(
        p,
        rows.map((r) => typeof r === "string" ? r : JSON.stringify(r)).join("\n") + "\n",
      );
    const s1 = join(dir, "s1");
    const s2 = join(dir, "s2");
    write(s1 + ".runs", [{ id: "r1", v: 1 }]);
    write(s1 + ".notes", [{ id: "n1", run: "r1", v: 2 }, { id: "n2", run: "r1", v: 3 }]);
    write(s2 + ".runs", [{ id: "r2", v: 4 }, '{"id": "r3", "v":']);
    write(s2 + ".notes", [{ id: "n3", run: "r3", v: 5 }]);
    const first = mergeShards(base, [s1, s2], tables);
    assert.deepEqual(first.added, [2, 2]);
    assert.deepEqual(first.problems, [
      { path: s2 + ".runs", message: "is damaged: 1 line(s) cut" },
      { path: s2 + ".notes", message: "has 1 of r3" },
    ]);
    const before = [Deno.readTextFileSync(base + ".runs"), Deno.readTextFileSync(base + ".notes")];
    const second = mergeShards(base, [s1, s2], tables);
    assert.deepEqual([second.added, second.duplicates], [[0, 0], 4]);
    assert.deepEqual(
      [Deno.readTextFileSync(base + ".runs"), Deno.readTextFileSync(base + ".notes")],
      before,
      "merging twice changes nothing",
    );
    // The cut run row redone in its shard: its note follows it in.
    write(s2 + ".runs", [{ id: "r2", v: 4 }, { id: "r3", v: 6 }]);
    const third = mergeShards(base, [s1, s2], tables);
    assert.deepEqual([third.added, third.problems], [[1, 1], []]);
  }),
);

Deno.test(
  "slurm: the array and its merge job are submitted, the manifest records both ids; a queued previous array is refused; unfinished tasks are named with their logs",
  withDir(async (dir) => {
    const bin = (name: string, body: string) => {
      const p = join(dir, name);
      Deno.writeTextFileSync(p, `#!/bin/sh\n${body}\n`);
      Deno.chmodSync(p, 0o755);
      return p;
    };
    // A fake sbatch: job ids 100, 101, ... in a counter file; a fake squeue that lists nothing.
    const sbatch = bin(
      "sbatch",
      `n=$(cat ${dir}/n 2>/dev/null || echo 100); echo $((n + 1)) > ${dir}/n; echo "$n;cluster"`,
    );
    const idle = bin("squeue", "exit 0");
    const manifestPath = join(dir, "slurm", "manifest.json");
    const submission = () => ({
      dir: join(dir, "slurm"),
      logDir: join(dir, "slurm", "logs"),
      folders: [join(dir, "shards")],
      arrayScript: "#!/bin/bash\necho array\n",
      mergeScript: "#!/bin/bash\necho merge\n",
      manifestPath,
      manifest: {
        submittedAt: "now",
        arrayJobId: null,
        mergeJobId: null,
        logDir: join(dir, "slurm", "logs"),
        runs: [{ task: 0, name: "a" }, { task: 1, name: "b" }],
      },
      mergeCommand: "merge by hand",
      tasks: "2 task(s): a, b",
      resultsPath: join(dir, "r.csv"),
    });
    const said: string[] = [];
    const s = await submitArray(submission(), { sbatch, squeue: idle }, (l) => said.push(l));
    assert.deepEqual(s, { arrayJobId: "100", mergeJobId: "101", tasks: 2 });
    assert.ok(Deno.statSync(join(dir, "shards")).isDirectory);
    assert.match(said[0], /^Submitted job array 100 \(2 task\(s\): a, b\) and merge job 101 /);
    const manifest = readManifest<{ task: number; name: string }>(manifestPath)!;
    assert.deepEqual([manifest.arrayJobId, manifest.mergeJobId], ["100", "101"]);
    assert.deepEqual(
      unfinishedTasks(manifest, (m) => m.name === "a"),
      [{ task: 1, name: "b", log: join(dir, "slurm", "logs", "100_1.out") }],
    );
    // The previous array still queued: refused before anything is written or submitted.
    const busy = bin("squeue-busy", `echo 100_1`);
    await assert.rejects(
      submitArray(submission(), { sbatch, squeue: busy }, () => {}),
      (e) =>
        e instanceof JobError &&
        /^Job array 100 of the previous --slurm is still queued or running: .*scancel 100 101\)/
          .test(
            e.message,
          ),
    );
    assert.equal(Deno.readTextFileSync(join(dir, "n")).trim(), "102", "nothing submitted");
  }),
);
