/** The experiment grid, presets, name errors, and runGrid's skip/resume on a tiny synthetic preset. */
import assert from "node:assert/strict";
import { initBackend } from "../lib/backend/backend.ts";
import { CHECKPOINT_FILE, loadCheckpoint } from "../lib/training/checkpoint.ts";
import type { DatasetSplits } from "../lib/data/data.ts";
import { PAPER_EVAL_ATTACKS } from "../lib/training/evaluate.ts";
import {
  configKey,
  DEFAULT_PRESET,
  estimateRunSeconds,
  evalColumns,
  ExperimentError,
  getPreset,
  GRID,
  paperRowId,
  parseRows,
  parseSeeds,
  planGrid,
  type Preset,
  PRESETS,
  runGrid,
  validatePreset,
} from "../lib/experiments/experiments.ts";
import { appendResult, readResults } from "../lib/experiments/results.ts";
import { toyDataset } from "./toy_data.ts";

const root = new URL("..", import.meta.url).pathname;

Deno.test("the grid is the paper's 12 rows with the authors' settings", () => {
  const k = (v: number | undefined) => (v === undefined ? undefined : +(v * 255).toFixed(6));
  const got = GRID.map((r) => [r.id, r.method, r.rho, r.norm, k(r.eps), k(r.alpha), r.steps]);
  assert.deepEqual(got, [
    ["ST", "ST", undefined, undefined, undefined, undefined, undefined],
    ["SAM-0.05", "SAM", 0.05, undefined, undefined, undefined, undefined],
    ["SAM-0.1", "SAM", 0.1, undefined, undefined, undefined, undefined],
    ["SAM-0.2", "SAM", 0.2, undefined, undefined, undefined, undefined],
    ["AT-linf-1", "AT", undefined, "linf", 1, 0.5, 5],
    ["AT-linf-2", "AT", undefined, "linf", 2, 1, 5],
    ["AT-linf-4", "AT", undefined, "linf", 4, 1, 10],
    ["AT-linf-8", "AT", undefined, "linf", 8, 2, 10],
    ["AT-l2-16", "AT", undefined, "l2", 16, 8, 5],
    ["AT-l2-32", "AT", undefined, "l2", 32, 16, 5],
    ["AT-l2-64", "AT", undefined, "l2", 64, 32, 5],
    ["AT-l2-128", "AT", undefined, "l2", 128, 64, 5],
  ]);
  // Every row of both paper tables joins to exactly one grid row.
  const [header, ...lines] = Deno.readTextFileSync(`${root}data/paper_tables.csv`).trim().split(
    "\n",
  ).map((l) => l.split(","));
  for (const dataset of ["cifar10", "cifar100"]) {
    const ids = lines.filter((l) => l[0] === dataset).map((l) =>
      paperRowId(Object.fromEntries(header.map((h, i) => [h, l[i]])))
    );
    assert.deepEqual(ids, GRID.map((r) => r.id), dataset);
  }
  assert.deepEqual(evalColumns().map((c) => c.key), [
    "clean",
    "linf_1_255",
    "linf_2_255",
    "l2_16_255",
    "l2_32_255",
  ]);
});

Deno.test("every preset validates; paper presets are the paper's protocol; the Fashion-MNIST default fits the budget", () => {
  for (const [dataset, presets] of Object.entries(PRESETS)) {
    assert.ok(
      presets[DEFAULT_PRESET[dataset as keyof typeof DEFAULT_PRESET]],
      `${dataset} has its default preset`,
    );
    for (const p of Object.values(presets)) {
      validatePreset(p);
      assert.equal(p.dataset, dataset);
    }
    const paper = presets.paper;
    assert.deepEqual(
      [
        paper.train.arch,
        paper.train.width,
        paper.train.epochs,
        paper.train.lr,
        paper.train.batchSize,
        paper.trainSize,
        paper.testSize,
        paper.seeds.length,
      ],
      ["prn18", 64, 100, 0.1, 128, "all", "all", 3],
    );
    // The paper's columns are always evaluated (extensions only add).
    for (const a of PAPER_EVAL_ATTACKS) assert.ok(paper.evalAttacks.includes(a));
  }
  const fm = getPreset("fashion-mnist");
  assert.ok(fm.seeds.length >= 2, "mean ± std needs at least 2 seeds");
  const total = GRID.reduce((s, r) => s + estimateRunSeconds(fm, r), 0) * fm.seeds.length;
  assert.ok(total < 12 * 60, `default grid estimated at ${total.toFixed(0)} s`);
  assert.throws(
    () => validatePreset({ ...fm, trainSize: 0 }),
    /trainSize must be "all" or a whole number >= 1/,
  );
  assert.throws(
    () => validatePreset({ ...fm, train: { ...fm.train, lr: -1 } }),
    /Invalid option lr/,
  );
});

Deno.test("bad names and seeds get one sentence listing the valid ones", () => {
  assert.throws(() => getPreset("mnist"), {
    name: "ExperimentError",
    message: 'Unknown dataset "mnist": use one of fashion-mnist, cifar10, cifar100.',
  });
  assert.throws(() => getPreset("cifar10", "default"), {
    message: 'Unknown preset "default" for cifar10: use one of cpu, paper.',
  });
  assert.throws(
    () => parseRows("ST,SAM-0.3"),
    /^ExperimentError: Unknown row "SAM-0.3": use "all" or a comma list of ST, SAM-0.05, .*AT-l2-128\.$/,
  );
  assert.throws(() => parseSeeds("0,-1"), ExperimentError);
  assert.throws(() => parseSeeds("0,0"), /each seed may appear once/);
  assert.throws(() => parseSeeds(""), /Invalid seeds/);
  assert.deepEqual(parseRows("at-LINF-1/255,ST").map((r) => r.id), ["ST", "AT-linf-1"]);
  assert.deepEqual(parseSeeds("2,0"), [2, 0]);
});

async function cli(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  const r = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", "scripts/experiment.ts", ...args],
    cwd: root,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: r.code, out: dec.decode(r.stdout), err: dec.decode(r.stderr) };
}

Deno.test("CLI: help, name errors, missing CIFAR, and a dry run that skips a finished run", async () => {
  const help = await cli("--help");
  assert.equal(help.code, 0);
  assert.match(help.out, /--dry-run/);
  const bad = await cli("--dataset", "cifar10", "--preset", "fast");
  assert.equal(bad.code, 2);
  assert.equal(bad.err.trim(), 'Unknown preset "fast" for cifar10: use one of cpu, paper.');
  const seeds = await cli("--seeds", "x");
  assert.equal(seeds.code, 2);
  assert.match(seeds.err.trim(), /^Invalid seeds "x": give whole numbers/);

  const dir = Deno.makeTempDirSync({ prefix: "sam-at-cli-" });
  try {
    const hasCifar100 = (() => {
      try {
        return Deno.statSync(`${root}data/cache/cifar100`).isDirectory;
      } catch {
        return false;
      }
    })();
    if (!hasCifar100) { // as on the build machines: the data's own sentence, no stack trace
      const missing = await cli(
        "--dataset",
        "cifar100",
        "--rows",
        "ST",
        "--seeds",
        "0",
        "--results",
        `${dir}/c.csv`,
      );
      assert.equal(missing.code, 2);
      assert.match(missing.err, /CIFAR-100 not found: .*lib\/data\/data\.ts download cifar100/);
      assert.doesNotMatch(missing.err, /\n\s+at /, "no stack trace");
    }
    // A results row with the default preset's key for ST seed 0: the dry run marks it done.
    const csv = `${dir}/fm.csv`;
    const preset = getPreset("fashion-mnist");
    appendResult(csv, {
      dataset: "fashion-mnist",
      preset: "default",
      row_id: "ST",
      seed: 0,
      config_key: configKey(preset, GRID[0], 0),
    });
    const dry = await cli("--dry-run", "--rows", "ST,SAM-0.1", "--seeds", "0", "--results", csv);
    assert.equal(dry.code, 0, dry.err);
    assert.match(dry.out, /2 run\(s\), 1 already in/);
    assert.match(dry.out, /ST\s+seed 0\s+done \(skip\)/);
    assert.match(dry.out, /SAM-0\.1\s+seed 0\s+new, est\./);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("every run's key reads back from the CSV (no key is mistaken for a number)", () => {
  const dir = Deno.makeTempDirSync({ prefix: "sam-at-keys-" });
  try {
    for (const [dataset, presets] of Object.entries(PRESETS)) {
      for (const p of Object.values(presets)) {
        const csv = `${dir}/${dataset}-${p.name}.csv`;
        for (const seed of p.seeds) {
          for (const row of GRID) {
            appendResult(csv, {
              dataset,
              preset: p.name,
              row_id: row.id,
              seed,
              config_key: configKey(p, row, seed),
            });
          }
        }
        const plan = planGrid({ dataset, preset: p.name, resultsPath: csv });
        assert.equal(
          plan.runs.filter((r) => r.status === "done").length,
          GRID.length * p.seeds.length,
          csv,
        );
        assert.equal(
          new Set(plan.runs.map((r) => r.configKey)).size,
          plan.runs.length,
          "keys are unique",
        );
      }
    }
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

/** A 2-epoch width-2 small CNN on a few hundred 8x8 synthetic images. */
const TINY: Preset = {
  ...getPreset("fashion-mnist"),
  name: "test-tiny",
  train: { ...getPreset("fashion-mnist").train, width: 2, epochs: 2, batchSize: 32, lr: 0.05 },
  trainSize: 96,
  testSize: 32,
  seeds: [0],
  evalAttacks: [{ norm: "linf", eps: 8 / 255 }],
  notes: "test only",
};
const toy = (): DatasetSplits => ({
  train: { ...toyDataset(160, 8, 1, 3, 1), name: "toy/train" },
  test: { ...toyDataset(48, 8, 1, 3, 2), name: "toy/test" },
  classNames: ["a", "b", "c"],
});

Deno.test("runGrid: finished runs are skipped, an interrupted run resumes from its checkpoint, one CSV row per run", async () => {
  await initBackend();
  const dir = Deno.makeTempDirSync({ prefix: "sam-at-grid-" });
  const data = toy();
  const lines: string[] = [];
  const base = {
    preset: TINY,
    data,
    resultsPath: `${dir}/r.csv`,
    progress: "none" as const,
    log: (l: string) => lines.push(l),
  };
  try {
    // 1. SAM is "killed" after its first epoch; ST finished before it.
    await assert.rejects(
      runGrid({
        ...base,
        rows: "ST,SAM-0.1",
        onEpochEnd: ({ epoch }) => {
          if (lines.at(-1)?.includes("SAM-0.1") && epoch === 1) throw new Error("simulated kill");
        },
      }),
      /simulated kill/,
    );
    assert.deepEqual(readResults(base.resultsPath).map((r) => r.row_id), ["ST"]);
    const plan = planGrid({ ...base, rows: "ST,SAM-0.1" });
    assert.deepEqual(plan.runs.map((r) => r.status), ["done", "resume"]);
    assert.match(plan.runs[1].checkpointDir, /runs\/r\/checkpoints\/SAM-0\.1-seed0-k[0-9a-f]{8}$/);
    assert.equal(loadCheckpoint(`${plan.runs[1].checkpointDir}/${CHECKPOINT_FILE}`)?.epoch, 1);

    // 2. Again: ST is skipped, SAM resumes after epoch 1 and its checkpoint is removed when done.
    const second = await runGrid({ ...base, rows: "ST,SAM-0.1" });
    assert.equal(second.trained, 1);
    assert.equal(second.skipped, 1);
    assert.equal(second.rows.length, 2);
    assert.equal(second.rows[1].resumed_from_epoch, 1);
    assert.ok(
      lines.some((l) => /run 1\/1: SAM-0\.1 seed 0 \(resuming, est\. .*ETA/.test(l)),
      lines.join("\n"),
    );
    assert.throws(() => Deno.statSync(plan.runs[1].checkpointDir), Deno.errors.NotFound);

    // The resumed run ends where an uninterrupted one does.
    const fresh = await runGrid({ ...base, rows: "SAM-0.1", resultsPath: `${dir}/fresh.csv` });
    for (const k of ["clean", "linf_8_255", "final_train_loss"]) {
      assert.equal(second.rows[1][k], fresh.rows[0][k], k);
    }

    // 3. Nothing left to do: no training, same rows.
    const third = await runGrid({ ...base, rows: "ST,SAM-0.1" });
    assert.equal(third.trained, 0);
    assert.deepEqual(third.rows.map((r) => r.run_id), second.rows.map((r) => r.run_id));

    // 4. A new seed adds only its own runs; every run has exactly one row.
    const fourth = await runGrid({ ...base, rows: "ST,SAM-0.1", seeds: "0,1" });
    assert.equal(fourth.trained, 2);
    const all = readResults(base.resultsPath);
    assert.equal(all.length, 4);
    assert.equal(new Set(all.map((r) => r.config_key)).size, 4);
    assert.deepEqual(all.map((r) => `${r.row_id}/${r.seed}/${r.preset}`), [
      "ST/0/test-tiny",
      "SAM-0.1/0/test-tiny",
      "ST/1/test-tiny",
      "SAM-0.1/1/test-tiny",
    ]);
    for (const r of all) {
      assert.equal(r.train_size, 96);
      assert.equal(r.test_size, 32);
      assert.ok((r.train_seconds as number) > 0 && (r.eval_seconds as number) > 0);
    }

    // 5. A changed setting is a different run, not a skip.
    const changed = planGrid({
      ...base,
      preset: { ...TINY, train: { ...TINY.train, epochs: 3 } },
      rows: "ST",
    });
    assert.deepEqual(changed.runs.map((r) => r.status), ["new"]);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});
