/**
 * The grid on Slurm: results shards and their merge (in-process, on a tiny synthetic preset), the
 * job scripts, bad input, and one real single-node Slurm (Debian's slurm-wlm and MUNGE, installed
 * by scripts/setup_slurm.sh when missing) running a 4-task array of the smoke preset whose merged
 * results must equal a local run of the same rows and seeds.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { initBackend } from "../lib/backend/backend.ts";
import type { DatasetSplits } from "../lib/data/data.ts";
import { pgd10 } from "../lib/experiments/columns.ts";
import { ExperimentError } from "../lib/experiments/grid.ts";
import { JobError } from "../lib/jobs/job_error.ts";
import { planGrid } from "../lib/experiments/plan.ts";
import { getPreset, type Preset } from "../lib/experiments/presets.ts";
import { evalsPathFor, readEvals, readResults } from "../lib/experiments/results.ts";
import { runGrid } from "../lib/experiments/runner.ts";
import { listShards, mergeShards, runShard, shardsDirFor } from "../lib/experiments/shards.ts";
import {
  manifestPath,
  mergeResults,
  prepareSlurm,
  slurmOptionsFrom,
  submitSlurm,
} from "../lib/experiments/slurm.ts";
import { toyDataset } from "./toy_data.ts";

const root = new URL("..", import.meta.url).pathname;

/** A 2-epoch width-2 small CNN on a few hundred 8x8 synthetic images (about a second a run). */
const TINY: Preset = {
  ...getPreset("fashion-mnist", "smoke"),
  name: "slurm-tiny",
  train: {
    ...getPreset("fashion-mnist", "smoke").train,
    width: 2,
    epochs: 2,
    batchSize: 32,
    lr: 0.05,
  },
  trainSize: 96,
  testSize: 32,
  seeds: [0, 1],
  rows: ["ST", "SAM-0.1"],
  evals: [pgd10("linf", 8 / 255)],
  notes: "test only",
};
const toy = (): DatasetSplits => ({
  train: { ...toyDataset(160, 8, 1, 3, 1), name: "toy/train" },
  test: { ...toyDataset(48, 8, 1, 3, 2), name: "toy/test" },
  classNames: ["a", "b", "c"],
});

/** What a run's results are, without the fields that differ between processes (times, paths). */
function outcome(resultsPath: string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const r of readResults(resultsPath)) {
    out[String(r.run_key)] = {
      row: r.row_id,
      seed: r.seed,
      clean: r.clean,
      loss: r.final_train_loss,
    };
  }
  for (const e of readEvals(resultsPath)) {
    out[`${e.run_key}/${e.eval_key}`] = { n: e.n, accuracy: e.accuracy, flags: e.robust_flags };
  }
  return out;
}

const bytes = (p: string) => Deno.readTextFileSync(p);

Deno.test("shards: one run per shard; the merge equals a local run, skips duplicates, keeps a damaged shard's complete rows and names the fix and the runs that did not finish", async () => {
  await initBackend();
  const dir = Deno.makeTempDirSync({ prefix: "sam-at-shards-" });
  const base = { preset: TINY, data: toy(), progress: "none" as const, log: () => {} };
  const main = join(dir, "r.csv");
  try {
    const local = await runGrid({ ...base, resultsPath: join(dir, "local.csv") });
    assert.equal(local.trained, 4);
    // ST seed 0's task is killed after its first epoch, then requeued on another node: the lock
    // its first try left names a host this one cannot check, and the run resumes from its
    // checkpoint into the same shard.
    await assert.rejects(
      runShard({
        ...base,
        resultsPath: main,
        rows: "ST",
        seeds: "0",
        onEpochEnd: ({ epoch }) => {
          if (epoch === 1) throw new Error("simulated kill");
        },
      }),
      /simulated kill/,
    );
    const st0 = planGrid({ ...base, resultsPath: main, rows: "ST", seeds: "0" }).runs[0];
    assert.equal(st0.status, "resume");
    Deno.writeTextFileSync(
      `${st0.checkpointDir}.lock`,
      JSON.stringify({ host: "another-node", pid: 1, start: null, token: "t", since: "" }),
    );
    Deno.env.set("SLURM_ARRAY_JOB_ID", "7");
    try {
      for (const [row, seed] of [["ST", 0], ["SAM-0.1", 0], ["ST", 1], ["SAM-0.1", 1]] as const) {
        const r = await runShard({ ...base, resultsPath: main, rows: row, seeds: String(seed) });
        assert.match(r.shardPath, new RegExp(`shards/${row}-seed${seed}-k[0-9a-f]{8}\\.csv$`));
        assert.equal(r.trained, 1, `${row} seed ${seed} trained, not skipped`);
        if (row === "ST" && seed === 0) assert.equal(r.rows[0].resumed_from_epoch, 1);
      }
    } finally {
      Deno.env.delete("SLURM_ARRAY_JOB_ID");
    }
    assert.equal(listShards(main).length, 4);
    // Nothing was written to the results file itself; checkpoints and models are the main ones.
    assert.throws(() => Deno.statSync(main), Deno.errors.NotFound);
    assert.equal(Deno.readDirSync(join(dir, "models", "r")).toArray().length, 4);
    await assert.rejects(
      runShard({ ...base, resultsPath: main }),
      (e) => e instanceof ExperimentError && /exactly one run.*--rows.*--seeds/.test(e.message),
    );

    const first = mergeShards(main);
    assert.deepEqual([first.runsAdded, first.evalsAdded, first.duplicates], [4, 4, 0]);
    assert.deepEqual(outcome(main), outcome(join(dir, "local.csv")));
    // Merging twice changes nothing, byte for byte.
    const [runs, evals] = [bytes(main), bytes(evalsPathFor(main))];
    const second = mergeShards(main);
    assert.deepEqual([second.runsAdded, second.evalsAdded, second.duplicates], [0, 0, 8]);
    assert.equal(bytes(main), runs);
    assert.equal(bytes(evalsPathFor(main)), evals);

    // A fresh results file and a shard cut inside its last row: the complete rows are merged, the
    // cut one is not, the error names the shard and the command that redoes its run.
    const other = join(dir, "other.csv");
    Deno.mkdirSync(shardsDirFor(other), { recursive: true });
    for (const s of listShards(main)) {
      for (const p of [s, evalsPathFor(s)]) {
        Deno.copyFileSync(p, join(shardsDirFor(other), p.split("/").at(-1)!));
      }
    }
    const victim = listShards(other).find((p) => p.includes("/ST-seed1-"))!;
    const text = bytes(evalsPathFor(victim));
    Deno.writeTextFileSync(evalsPathFor(victim), text.slice(0, text.length - 20));
    const err = (() => {
      try {
        mergeResults({ preset: TINY, data: base.data, resultsPath: other }, () => {});
      } catch (e) {
        return e;
      }
    })();
    assert.ok(err instanceof ExperimentError, String(err));
    assert.match(
      err.message,
      /^Results shard .*ST-seed1-k[0-9a-f]{8}\.evals\.csv is damaged: row 1 .*; its complete rows were merged\. Delete it .* re-run `bin\/deno task experiment .*--rows ST --seeds 1 --shard`/,
    );
    assert.equal(readResults(other).length, 4, "every runs row merged");
    assert.equal(readEvals(other).length, 3, "the cut evaluation row is not merged");

    // The runs the last submission expected but did not get are named by row and seed.
    const plan = planGrid({ preset: TINY, data: base.data, resultsPath: other });
    const manifest = {
      dataset: TINY.dataset,
      preset: TINY.name,
      resultsPath: other,
      submittedAt: "",
      arrayJobId: "41",
      mergeJobId: "42",
      logDir: join(dir, "logs"),
      runs: plan.runs.map((r, task) => ({ task, row: r.row.id, seed: r.seed, runKey: r.runKey })),
    };
    Deno.mkdirSync(join(plan.runsDir, "slurm"), { recursive: true });
    Deno.writeTextFileSync(manifestPath(plan), JSON.stringify(manifest));
    Deno.removeSync(evalsPathFor(victim));
    const report = (() => {
      try {
        mergeResults({ preset: TINY, data: base.data, resultsPath: other }, () => {});
      } catch (e) {
        return e as Error;
      }
    })();
    assert.match(
      String(report?.message),
      /^1 of 4 run\(s\) of job array 41 did not finish: ST seed 1 \(task 2, log .*logs\/41_2\.out\)\. .*--slurm/,
    );
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("--slurm: the job array has one task per run with work left and the options asked for; bad options and a missing sbatch get one sentence", async () => {
  const dir = Deno.makeTempDirSync({ prefix: "sam-at-slurm-script-" });
  try {
    const o = { dataset: "fashion-mnist", preset: "smoke", resultsPath: join(dir, "r.csv") };
    const s = slurmOptionsFrom({
      slurm: true,
      partition: "gpu",
      "gpus-per-task": "1",
      "cpus-per-task": "8",
      time: "1-00:00:00",
    }, "tensorflow-gpu");
    const job = prepareSlurm(o, s);
    assert.equal(job.runs.length, 4);
    for (
      const line of [
        "#SBATCH --array=0-3",
        "#SBATCH --partition=gpu",
        "#SBATCH --gpus-per-task=1",
        "#SBATCH --cpus-per-task=8",
        "#SBATCH --time=1-00:00:00",
        "#SBATCH --requeue",
        `#SBATCH --chdir=${root.replace(/\/$/, "")}`,
        "RUNS=('ST 0' 'SAM-0.1 0' 'ST 1' 'SAM-0.1 1')",
        `--preset smoke --results ${dir}/r.csv --backend tensorflow-gpu --rows "$1" --seeds "$2" --shard`,
      ]
    ) assert.ok(job.arrayScript.includes(line), `${line}\n${job.arrayScript}`);
    assert.match(job.mergeScript, /--results \S+\/r\.csv --backend tensorflow-gpu --merge/);
    assert.doesNotMatch(job.mergeScript, /gpus/, "the merge needs no GPU");
    // The graph step engine reaches every task (it is not part of the run keys, so not planned).
    const graphJob = prepareSlurm(o, slurmOptionsFrom({ slurm: true, "step-engine": "graph" }));
    assert.match(graphJob.arrayScript, /--step-engine graph --rows "\$1" --seeds "\$2" --shard/);
    assert.doesNotMatch(job.arrayScript, /--step-engine/);
    for (
      const [a, msg] of [
        [{ partition: "gpu" }, /--partition applies only with --slurm/],
        [{ slurm: true, time: "1h" }, /--time must be a Slurm time limit/],
        [{ slurm: true, "gpus-per-task": "one" }, /--gpus-per-task must be a whole number/],
        [{ slurm: true, merge: true }, /--slurm and --merge do different things/],
      ] as const
    ) {
      assert.throws(
        () => slurmOptionsFrom(a),
        (e) => e instanceof JobError && msg.test(e.message),
      );
    }
    await assert.rejects(
      submitSlurm(job, { sbatch: join(dir, "no-sbatch-here") }, () => {}),
      (e) =>
        e instanceof JobError &&
        /is not on PATH: run --slurm on a Slurm login node/.test(e.message),
    );
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

// ---------------------------------------------------------------- a real single-node Slurm

async function sh(cmd: string, args: string[], env?: Record<string, string>) {
  const out = await new Deno.Command(cmd, { args, env, stdout: "piped", stderr: "piped" }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

const SLURM_COMMANDS = ["sbatch", "squeue", "sinfo", "scancel", "slurmctld", "slurmd", "munged"];

/** Install Slurm with the project's own opt-in setup when a command is missing; fail saying why. */
async function ensureSlurm(): Promise<void> {
  const have = async () =>
    (await sh("bash", ["-c", SLURM_COMMANDS.map((c) => `command -v ${c}`).join(" && ")])).code ===
      0;
  if (await have()) return;
  const r = await sh("bash", [join(root, "scripts/setup_slurm.sh")]);
  if (r.code !== 0 || !(await have())) {
    throw new Error(
      `Slurm could not be installed for this test, so it cannot run: ${
        (r.stderr.trim().split("\n").at(-1) ?? "").trim()
      } (it needs root and apt-get: run 'bash scripts/setup_slurm.sh' as root).`,
    );
  }
}

function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

function tail(path: string, lines = 8): string {
  try {
    return Deno.readTextFileSync(path).trim().split("\n").slice(-lines).join("\n");
  } catch {
    return "(no log)";
  }
}

interface Cluster {
  env: Record<string, string>;
  logs: string[];
  stop(): Promise<void>;
}

/**
 * munged, slurmctld and slurmd in the foreground as children of this test, every file of theirs
 * under `dir`, on free ports: nothing of a system Slurm or MUNGE is used or touched.
 */
async function startSlurm(dir: string): Promise<Cluster> {
  const m = join(dir, "munge");
  Deno.mkdirSync(m, { recursive: true, mode: 0o755 });
  Deno.chmodSync(dir, 0o755); // the MUNGE socket's folders must be searchable
  Deno.writeFileSync(join(m, "munge.key"), crypto.getRandomValues(new Uint8Array(1024)), {
    mode: 0o400,
  });
  const node = (await sh("slurmd", ["-C"])).stdout.split("\n")[0];
  assert.match(node, /^NodeName=\S+ CPUs=\d+/, "slurmd -C describes this machine");
  const host = node.split(" ")[0].slice("NodeName=".length);
  const conf = join(dir, "slurm.conf");
  Deno.writeTextFileSync(
    conf,
    [
      "ClusterName=samattest",
      `SlurmctldHost=${host}(127.0.0.1)`,
      `SlurmctldPort=${freePort()}`,
      `SlurmdPort=${freePort()}`,
      "SlurmUser=root",
      "SlurmdUser=root",
      "AuthType=auth/munge",
      "CredType=cred/munge",
      `AuthInfo=socket=${m}/munge.socket`,
      "ProctrackType=proctrack/linuxproc",
      "TaskPlugin=task/none",
      "SelectType=select/cons_tres",
      "SelectTypeParameters=CR_Core",
      "MpiDefault=none",
      "JobAcctGatherType=jobacct_gather/none",
      "AccountingStorageType=accounting_storage/none",
      // Test pending jobs every second, not every minute: the merge job starts at once.
      "SchedulerParameters=sched_interval=1",
      "ReturnToService=2",
      `StateSaveLocation=${dir}/state`,
      `SlurmdSpoolDir=${dir}/spool`,
      `SlurmctldPidFile=${dir}/slurmctld.pid`,
      `SlurmdPidFile=${dir}/slurmd.pid`,
      `SlurmctldLogFile=${dir}/slurmctld.log`,
      `SlurmdLogFile=${dir}/slurmd.log`,
      `${node} NodeAddr=127.0.0.1 State=UNKNOWN`,
      "PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP",
    ].join("\n") + "\n",
  );
  const env = { SLURM_CONF: conf };
  const children: Deno.ChildProcess[] = [];
  const spawn = (cmd: string, args: string[]) =>
    children.push(
      new Deno.Command(cmd, { args, env, stdin: "null", stdout: "null", stderr: "null" }).spawn(),
    );
  const logs = [`${m}/munged.log`, `${dir}/slurmctld.log`, `${dir}/slurmd.log`];
  const stop = async () => {
    // Jobs first (their processes are slurmd's children), then the daemons, by pid, newest first.
    const q = await sh("squeue", ["-h", "-o", "%i"], env).catch(() => null);
    const ids = q?.stdout.split("\n").map((l) => l.trim()).filter(Boolean) ?? [];
    if (ids.length) await sh("scancel", ids, env).catch(() => null);
    for (const c of children.reverse()) {
      try {
        Deno.kill(c.pid, "SIGTERM");
      } catch { /* already gone */ }
      const timer = setTimeout(() => {
        try {
          Deno.kill(c.pid, "SIGKILL");
        } catch { /* gone */ }
      }, 5000);
      await c.status;
      clearTimeout(timer);
    }
  };
  try {
    spawn("munged", [
      "--foreground",
      "--force", // as root, with its files in a temporary folder
      `--key-file=${m}/munge.key`,
      `--socket=${m}/munge.socket`,
      `--pid-file=${m}/munged.pid`,
      `--log-file=${m}/munged.log`,
      `--seed-file=${m}/munged.seed`,
    ]);
    spawn("slurmctld", ["-D", "-i"]);
    spawn("slurmd", ["-D", "-N", host]);
    const deadline = Date.now() + 20_000;
    for (;;) {
      const s = await sh("sinfo", ["-h", "-o", "%T"], env);
      if (s.code === 0 && /^idle/m.test(s.stdout)) break;
      if (Date.now() > deadline) {
        throw new Error(
          `Slurm did not come up within 20 s (sinfo: ${s.stdout.trim()}${s.stderr.trim()}):\n${
            logs.map((l) => `${l}:\n${tail(l)}`).join("\n")
          }`,
        );
      }
      await new Promise((r) => setTimeout(r, 200));
    }
    return { env, logs, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

async function experiment(args: string[], env: Record<string, string>) {
  return await sh(join(root, "bin/deno"), [
    "run",
    "--allow-all",
    join(root, "scripts/experiment.ts"),
    ...args,
  ], env);
}

Deno.test("a real Slurm: a 4-task array of the smoke preset and its merge job give the results of a local run; --merge again changes nothing; an unknown partition gets one sentence", async () => {
  await ensureSlurm();
  const dir = Deno.makeTempDirSync({ prefix: "sam-at-slurm-" });
  const cluster = await startSlurm(join(dir, "slurm")).catch((err) => {
    Deno.removeSync(dir, { recursive: true });
    throw err;
  });
  const results = join(dir, "r.csv");
  const common = ["--preset", "smoke", "--results", results];
  try {
    const sub = await experiment([...common, "--slurm", "--cpus-per-task", "1"], cluster.env);
    assert.equal(sub.code, 0, sub.stderr + sub.stdout);
    const ids = /job array (\d+) \(4 task\(s\).*merge job (\d+)/.exec(sub.stdout);
    assert.ok(ids, sub.stdout);

    // The same rows and seeds locally, in this process, while the cluster works.
    const local = await runGrid({
      preset: "smoke",
      resultsPath: join(dir, "local.csv"),
      progress: "none",
      log: () => {},
    });
    assert.equal(local.trained, 4);

    const deadline = Date.now() + 90_000;
    for (;;) {
      const q = await sh("squeue", ["-h", "-o", "%i %T"], cluster.env);
      if (q.code === 0 && q.stdout.trim() === "") break;
      if (Date.now() > deadline) throw new Error(`jobs still queued after 90 s:\n${q.stdout}`);
      await new Promise((r) => setTimeout(r, 250));
    }
    const logDir = join(dir, "runs", "r", "slurm", "logs");
    const mergeLog = tail(join(logDir, `${ids[2]}-merge.out`), 20);
    assert.match(
      mergeLog,
      /Merged 4 shard\(s\) into .*: 4 run row\(s\) and 4 evaluation row\(s\) added, 0 already there\./,
      mergeLog,
    );
    assert.equal(listShards(results).length, 4);
    assert.deepEqual(outcome(results), outcome(join(dir, "local.csv")));
    assert.equal(Object.keys(outcome(results)).length, 8);
    // Each task ran its own run: the task logs name one (row, seed) each.
    const tasks = [0, 1, 2, 3].map((i) => tail(join(logDir, `${ids[1]}_${i}.out`), 40));
    assert.deepEqual(
      tasks.map((t) => /array task \d+ on \S+: (\S+ seed \d+)/.exec(t)?.[1]),
      ["ST seed 0", "SAM-0.1 seed 0", "ST seed 1", "SAM-0.1 seed 1"],
      tasks.join("\n---\n"),
    );

    // By hand, again: nothing changes.
    const before = [bytes(results), bytes(evalsPathFor(results))];
    const again = await experiment([...common, "--merge"], cluster.env);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /0 run row\(s\) and 0 evaluation row\(s\) added, 8 already there/);
    assert.deepEqual([bytes(results), bytes(evalsPathFor(results))], before);
    // Everything is done: a second --slurm submits nothing.
    const none = await experiment([...common, "--slurm"], cluster.env);
    assert.match(none.stdout, /Nothing to submit/, none.stdout + none.stderr);

    const bad = await experiment(
      ["--preset", "smoke", "--results", join(dir, "other.csv"), "--slurm", "--partition", "nope"],
      cluster.env,
    );
    assert.equal(bad.code, 2, bad.stdout + bad.stderr);
    const said = bad.stderr.trim().split("\n");
    assert.equal(said.length, 1, bad.stderr);
    assert.match(
      said[0],
      /^Slurm has no usable partition "nope" \(sbatch: .*\): pick one that `sinfo -s` lists with --partition\.$/,
    );
  } catch (err) {
    throw new Error(
      `${err instanceof Error ? err.message : err}\n${
        cluster.logs.map((l) => `${l}:\n${tail(l)}`).join("\n")
      }`,
      { cause: err },
    );
  } finally {
    await cluster.stop();
    Deno.removeSync(dir, { recursive: true });
  }
});
