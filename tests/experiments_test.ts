/** The experiment grid, presets, name errors, and runGrid's skip/resume on a tiny synthetic preset. */
import { TINY, toySplits } from "./tiny_grid.ts";
import assert from "node:assert/strict";
import { initBackend } from "../lib/backend/backend.ts";
import { CHECKPOINT_FILE, loadCheckpoint } from "../lib/training/checkpoint.ts";
import { resolveEval } from "../lib/attacks/protocols.ts";
import { evalColumns, PAPER_EVALS, pgd10 } from "../lib/experiments/columns.ts";
import {
  ALL_ROWS,
  ExperimentError,
  EXTRA_ROWS,
  GRID,
  paperRowId,
  parseRows,
  parseSeeds,
  RHO_NOTE,
} from "../lib/experiments/grid.ts";
import {
  estimateEvalSeconds,
  estimateTrainSeconds,
  planGrid,
  runKey,
} from "../lib/experiments/plan.ts";
import {
  DEFAULT_PRESET,
  getPreset,
  type Preset,
  PRESETS,
  seedsOf,
  validatePreset,
} from "../lib/experiments/presets.ts";
import {
  appendEval,
  appendRun,
  readEvals,
  readResults,
  type ResultRow,
} from "../lib/experiments/results.ts";
import { checkGridOptions, runGrid } from "../lib/experiments/runner.ts";
import { exportModel } from "../lib/models/model.ts";
import { loadModelFile } from "../lib/models/model_file.ts";
import { familyOf, methodColumns } from "../lib/training/method.ts";

const root = new URL("..", import.meta.url).pathname;

Deno.test("the grid is the paper's 12 rows with the authors' settings, plus our ASAM and SAM+AT rows", () => {
  const k = (v: unknown) => (v === null ? null : +(Number(v) * 255).toFixed(6));
  const cols = (m: (typeof ALL_ROWS)[number]["method"]) => {
    const c = methodColumns(m);
    return [c.method, c.rho, c.norm, k(c.eps), k(c.alpha), c.steps];
  };
  const got = GRID.map((r) => [r.id, ...cols(r.method)]);
  assert.deepEqual(got, [
    ["ST", "ST", null, null, null, null, null],
    ["SAM-0.05", "SAM", 0.05, null, null, null, null],
    ["SAM-0.1", "SAM", 0.1, null, null, null, null],
    ["SAM-0.2", "SAM", 0.2, null, null, null, null],
    ["AT-linf-1", "AT", null, "linf", 1, 0.5, 5],
    ["AT-linf-2", "AT", null, "linf", 2, 1, 5],
    ["AT-linf-4", "AT", null, "linf", 4, 1, 10],
    ["AT-linf-8", "AT", null, "linf", 8, 2, 10],
    ["AT-l2-16", "AT", null, "l2", 16, 8, 5],
    ["AT-l2-32", "AT", null, "l2", 32, 16, 5],
    ["AT-l2-64", "AT", null, "l2", 64, 32, 5],
    ["AT-l2-128", "AT", null, "l2", 128, 64, 5],
  ]);
  assert.ok(GRID.every((r) => r.paper));
  // SAM is plain SAM in the paper's rows (not adaptive); AT is SGD on PGD inputs.
  assert.ok(GRID.every((r) => r.method.optimizer.name === "sgd" || !r.method.optimizer.adaptive));
  // Beyond the paper: ASAM at two radii and SAM (rho 0.1) on the AT L-inf 8/255 inputs.
  assert.deepEqual(EXTRA_ROWS.map((r) => [r.id, familyOf(r.method), r.paper, ...cols(r.method)]), [
    ["ASAM-0.5", "ASAM", false, "ASAM", 0.5, null, null, null, null],
    ["ASAM-1", "ASAM", false, "ASAM", 1, null, null, null, null],
    ["SAM-0.1+AT-linf-8", "SAM+AT", false, "SAM+AT", 0.1, "linf", 8, 2, 10],
  ]);
  assert.match(RHO_NOTE, /0\.05, 0\.1, 0\.2/);
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
    "pgd10_linf_1_255",
    "pgd10_linf_2_255",
    "pgd10_l2_16_255",
    "pgd10_l2_32_255",
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
    const keys = new Set(paper.evals.map((e) => resolveEval(e).key));
    for (const e of PAPER_EVALS) assert.ok(keys.has(resolveEval(e).key), resolveEval(e).key);
  }
  // Every preset's rows are grid rows, and its seeds per row are its seeds unless it says otherwise.
  for (const presets of Object.values(PRESETS)) {
    for (const p of Object.values(presets)) {
      for (const id of p.rows) assert.ok(ALL_ROWS.some((r) => r.id === id), `${p.name}: ${id}`);
      for (const id of p.rows) {
        assert.deepEqual(seedsOf(p, id), p.rowSeeds?.[id] ?? p.seeds);
      }
    }
  }
  const fm = getPreset("fashion-mnist");
  assert.ok(fm.seeds.length >= 2, "mean ± std needs at least 2 seeds");
  assert.deepEqual(fm.rows, GRID.map((r) => r.id));
  // The estimate of the whole default grid (training and every evaluation) fits the budget.
  const dir = Deno.makeTempDirSync({ prefix: "sam-at-estimate-" });
  try {
    const plan = planGrid({ dataset: "fashion-mnist", resultsPath: `${dir}/none.csv` });
    assert.equal(plan.runs.length, GRID.length * fm.seeds.length);
    assert.ok(
      plan.runs.every((r) =>
        r.status === "new" &&
        r.missingEvals.length ===
          fm.evals.filter((e) => !e.seeds || e.seeds.includes(r.seed)).length
      ),
    );
    // Each new run's estimate is its training plus its evaluations (the dry-run's total is their
    // sum); the report's 20-minute budget is checked against the clock by scripts/cost_check.ts,
    // not here. A 10-step AT run costs more than a SAM run, which costs more than an ST run.
    for (const r of plan.runs) {
      const train = estimateTrainSeconds(fm, r.row, fm.trainSize as number);
      const evals = estimateEvalSeconds(fm, r.missingEvals, plan.testSize);
      assert.ok(Math.abs(r.estimatedSeconds - train - evals) < 1e-9 && evals > 0, r.runKey);
    }
    const est = (id: string) => plan.runs.find((r) => r.row.id === id)!.estimatedSeconds;
    assert.ok(est("AT-linf-8") > est("SAM-0.1") && est("SAM-0.1") > est("ST"));
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
  assert.throws(
    () => validatePreset({ ...fm, trainSize: 0 }),
    /trainSize must be "all" or a whole number >= 1/,
  );
  assert.throws(
    () => validatePreset({ ...fm, train: { ...fm.train, lr: -1 } }),
    /Invalid option lr/,
  );
  assert.throws(
    () => validatePreset({ ...fm, rows: ["ST", "SAM-0.3"] }),
    /^ExperimentError: Preset fashion-mnist\/default: unknown row SAM-0\.3; rows are ST, /,
  );
  assert.throws(
    () => validatePreset({ ...fm, rowSeeds: { "ASAM-1": [0] } }),
    /rowSeeds names ASAM-1, which is not one of its rows/,
  );
  assert.throws(
    () => validatePreset({ ...fm, evals: [{ attack: "cw", norm: "linf", eps: 0.1 }] }),
    /^OptionError: Unknown attack "cw": use one of /,
  );
  assert.throws(
    () => validatePreset({ ...fm, evals: [pgd10("linf", 8 / 255), pgd10("linf", 8 / 255)] }),
    /Invalid option evals: got "pgd10_linf_8_255", expected each evaluation once/,
  );
});

Deno.test("bad names and seeds get one sentence listing the valid ones", () => {
  assert.throws(() => getPreset("mnist"), {
    name: "ExperimentError",
    message: 'Unknown dataset "mnist": use one of fashion-mnist, cifar10, cifar10-jpeg, cifar100.',
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
      assert.match(missing.err, /CIFAR-100 not found: .*scripts\/dataset\.ts download cifar100/);
      assert.doesNotMatch(missing.err, /\n\s+at /, "no stack trace");
    }
    // The default preset's ST seed 0 trained and fully evaluated, SAM-0.05 seed 0 trained but not
    // evaluated, SAM-0.1 seed 0 not trained: the dry run says so for each.
    const csv = `${dir}/fm.csv`;
    const preset = getPreset("fashion-mnist");
    const key = (id: string) =>
      runKey(preset, GRID.find((r) => r.id === id)!, 0, preset.trainSize as number);
    for (const id of ["ST", "SAM-0.05"]) {
      appendRun(csv, {
        dataset: "fashion-mnist",
        preset: "default",
        row_id: id,
        seed: 0,
        run_key: key(id),
        clean: 0.8,
      });
    }
    for (const e of preset.evals) {
      const n = Math.min(1000, e.limit ?? 1000); // AutoAttack runs on the first 200 points
      appendEval(csv, { run_key: key("ST"), eval_key: resolveEval(e).key, n, accuracy: 0.5 });
    }
    const dry = await cli(
      "--dry-run",
      "--rows",
      "ST,SAM-0.05,SAM-0.1",
      "--seeds",
      "0",
      "--results",
      csv,
    );
    assert.equal(dry.code, 0, dry.err);
    assert.match(dry.out, /3 run\(s\), 1 complete in .*fm\.csv, 2 with work left \(estimated /);
    assert.match(dry.out, /ST\s+seed 0\s+ST\s+done \(skip\)/);
    assert.match(
      dry.out,
      /SAM-0\.05\s+seed 0\s+SAM\s+trained; evaluate pgd10_linf_1_255, pgd10_linf_2_255, .*pgd10_l2_128_255, aa-square1000_linf_8_255, .*apgdce20_linf_eps0\.5, est\./,
    );
    assert.match(dry.out, /SAM-0\.1\s+seed 0\s+SAM\s+new, est\./);
    assert.match(dry.out, /Preset notes: Fashion-MNIST/);
    // Nothing was written by a dry run.
    assert.equal(readResults(csv).length, 2);
    assert.equal(readEvals(csv).length, preset.evals.length);
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
        // Every planned run (the preset's rows, each with its seeds) gets a runs row with its key.
        const planned = planGrid({ dataset, preset: p.name, resultsPath: csv });
        assert.equal(
          planned.runs.length,
          p.rows.reduce((s, id) => s + seedsOf(p, id).length, 0),
          csv,
        );
        for (const r of planned.runs) {
          appendRun(csv, {
            dataset,
            preset: p.name,
            row_id: r.row.id,
            seed: r.seed,
            run_key: r.runKey,
            clean: 0.5,
          });
        }
        const plan = planGrid({ dataset, preset: p.name, resultsPath: csv });
        assert.equal(plan.runs.filter((r) => r.status === "done").length, plan.runs.length, csv);
        assert.ok(readResults(csv).every((r) => typeof r.run_key === "string"));
        assert.equal(
          new Set(plan.runs.map((r) => r.runKey)).size,
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
const toy = () => toySplits(TINY);
const weightsOf = (path: string) => {
  const { model } = loadModelFile(path);
  const w = Object.entries(exportModel(model)).map(([k, v]) => [k, Array.from(v.data)]);
  model.dispose();
  return w;
};

Deno.test("runGrid: finished runs are skipped, an interrupted run resumes from its checkpoint bit-identically, one runs row per run and one evaluation row per (run, evaluation)", async () => {
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
    // 1. SAM is "killed" after its first epoch; ST finished (trained, saved, evaluated) before it.
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
    assert.deepEqual(readEvals(base.resultsPath).map((r) => r.eval_key), ["pgd10_linf_8_255"]);
    const plan = planGrid({ ...base, rows: "ST,SAM-0.1" });
    assert.deepEqual(plan.runs.map((r) => r.status), ["done", "resume"]);
    assert.deepEqual(plan.runs.map((r) => r.missingEvals.length), [0, 1]);
    assert.match(plan.runs[1].checkpointDir, /runs\/r\/checkpoints\/SAM-0\.1-seed0-k[0-9a-f]{8}$/);
    assert.match(plan.runs[0].modelPath, /models\/r\/ST-seed0-k[0-9a-f]{8}\.safetensors$/);
    assert.ok(Deno.statSync(plan.runs[0].modelPath).isFile);
    assert.equal(loadCheckpoint(`${plan.runs[1].checkpointDir}/${CHECKPOINT_FILE}`)?.epoch, 1);

    // 2. Again: ST is skipped, SAM resumes after epoch 1 and its checkpoint is removed when done.
    const second = await runGrid({ ...base, rows: "ST,SAM-0.1" });
    assert.equal(second.trained, 1);
    assert.equal(second.evaluated, 1);
    assert.equal(second.skipped, 1);
    assert.equal(second.rows.length, 2);
    assert.equal(second.rows[1].resumed_from_epoch, 1);
    assert.ok(
      lines.some((l) => /run 1\/1: SAM-0\.1 seed 0 \(resuming, est\. .*ETA/.test(l)),
      lines.join("\n"),
    );
    assert.throws(() => Deno.statSync(plan.runs[1].checkpointDir), Deno.errors.NotFound);

    // The resumed run ends where an uninterrupted one does: same loss, same clean and robust
    // numbers, the same per-example flags, the same saved weights.
    const fresh = await runGrid({ ...base, rows: "SAM-0.1", resultsPath: `${dir}/fresh.csv` });
    for (const k of ["clean", "final_train_loss", "run_key"]) {
      assert.equal(second.rows[1][k], fresh.rows[0][k], k);
    }
    const evalOf = (g: { evals: Map<string, Map<string, ResultRow>> }, key: string) =>
      g.evals.get(key)!.get("pgd10_linf_8_255")!;
    const key = String(fresh.rows[0].run_key);
    for (const k of ["accuracy", "robust_flags", "n"]) {
      assert.equal(evalOf(second, key)[k], evalOf(fresh, key)[k], k);
    }
    const freshPlan = planGrid({ ...base, rows: "SAM-0.1", resultsPath: `${dir}/fresh.csv` });
    assert.deepEqual(weightsOf(plan.runs[1].modelPath), weightsOf(freshPlan.runs[0].modelPath));

    // 3. Nothing left to do: no training, no evaluation, same rows.
    const third = await runGrid({ ...base, rows: "ST,SAM-0.1" });
    assert.equal(third.trained, 0);
    assert.equal(third.evaluated, 0);
    assert.deepEqual(third.rows.map((r) => r.run_id), second.rows.map((r) => r.run_id));

    // 4. A new seed adds only its own runs; every run has exactly one row in each file.
    const fourth = await runGrid({ ...base, rows: "ST,SAM-0.1", seeds: "0,1" });
    assert.equal(fourth.trained, 2);
    const all = readResults(base.resultsPath);
    assert.equal(all.length, 4);
    assert.equal(new Set(all.map((r) => r.run_key)).size, 4);
    assert.deepEqual(all.map((r) => `${r.row_id}/${r.seed}/${r.preset}`), [
      "ST/0/test-tiny",
      "SAM-0.1/0/test-tiny",
      "ST/1/test-tiny",
      "SAM-0.1/1/test-tiny",
    ]);
    for (const r of all) {
      assert.equal(r.train_size, 96);
      assert.equal(r.test_size, 32);
      assert.ok((r.train_seconds as number) > 0);
      // Outside the repository the model's path is written in full.
      assert.ok(Deno.statSync(String(r.model_file)).isFile, String(r.model_file));
    }
    const evals = readEvals(base.resultsPath);
    assert.deepEqual(evals.map((e) => e.run_key), all.map((r) => r.run_key));
    for (const e of evals) {
      assert.equal(e.eval_key, "pgd10_linf_8_255");
      assert.equal(e.n, 32);
      assert.ok((e.seconds as number) > 0);
      assert.equal(typeof e.robust_flags, "string");
    }

    // 5. A changed setting is a different run, not a skip.
    const changed = planGrid({
      ...base,
      preset: { ...TINY, train: { ...TINY.train, epochs: 3 } },
      rows: "ST",
    });
    assert.deepEqual(changed.runs.map((r) => r.status), ["new"]);

    // 6. The preset gains an evaluation, and ST seed 0's model file is gone: ST is retrained once
    // (the same model: the log says its final training loss matches the recorded one) and
    // evaluated; SAM-0.1 seed 0 is evaluated from its saved model without training.
    const GAINED: Preset = { ...TINY, evals: [...TINY.evals, pgd10("l2", 0.5)] };
    Deno.removeSync(plan.runs[0].modelPath);
    lines.length = 0;
    const sixth = await runGrid({ ...base, preset: GAINED, rows: "ST,SAM-0.1", seeds: "0" });
    assert.equal(sixth.trained, 0, "no new runs row");
    assert.equal(sixth.evaluated, 2, "only the new evaluation, once per run");
    const log = lines.join("\n");
    assert.equal(
      lines.filter((l) => /is missing: retraining the model to evaluate it\.$/.test(l)).length,
      1,
      log,
    );
    assert.match(log, /models\/r\/ST-seed0-k[0-9a-f]{8}\.safetensors is missing: retraining/);
    const loss = String(second.rows[0].final_train_loss).replace(/[.+]/g, "\\$&");
    assert.match(
      log,
      new RegExp(
        `retrained ST seed 0: final training loss ${loss} matches the recorded ${loss}\\.`,
      ),
    );
    assert.doesNotMatch(log, /retrain(ed|ing)[^\n]*SAM-0\.1|SAM-0\.1[^\n]*retrain/);
    assert.ok(Deno.statSync(plan.runs[0].modelPath).isFile, "the retrained model is saved again");
    assert.equal(readResults(base.resultsPath).length, 4);
    const gained = readEvals(base.resultsPath).filter((e) => e.eval_key === "pgd10_l2_eps0.5");
    assert.deepEqual(gained.map((e) => e.run_key), [plan.runs[0].runKey, plan.runs[1].runKey]);
    // Evaluating a saved model gives what evaluating the freshly trained one gives.
    const direct = await runGrid({
      ...base,
      preset: GAINED,
      rows: "SAM-0.1",
      resultsPath: `${dir}/direct.csv`,
    });
    const d = direct.evals.get(plan.runs[1].runKey)!.get("pgd10_l2_eps0.5")!;
    for (const k of ["accuracy", "robust_flags"]) assert.equal(gained[1][k], d[k], k);
    // Once done, done: nothing is retrained or re-evaluated.
    const seventh = await runGrid({ ...base, preset: GAINED, rows: "ST,SAM-0.1", seeds: "0" });
    assert.deepEqual([seventh.trained, seventh.evaluated, seventh.skipped], [0, 0, 2]);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("runGrid: the graph engine (the default on tensorflow) gives an eager grid's rows bit for bit, say +graph-steps, and bad engines are refused in one sentence", async () => {
  await initBackend("tensorflow");
  const dir = Deno.makeTempDirSync({ prefix: "sam-at-graph-grid-" });
  const lines: string[] = [];
  const base = { preset: TINY, data: toy(), progress: "none" as const, rows: "ST,SAM-0.1" };
  try {
    const eager = await runGrid({
      ...base,
      resultsPath: `${dir}/eager.csv`,
      stepEngine: "eager",
      log: () => {},
    });
    const graph = await runGrid({
      ...base,
      resultsPath: `${dir}/graph.csv`,
      log: (l) => lines.push(l),
    });
    // 96 examples in batches of 32 for 2 epochs: 6 steps, the last 3 as a graph.
    assert.equal(
      lines.filter((l) => /graph step: 3 steps as a graph \(32x8x8x1\/32\)/.test(l)).length,
      2,
    );
    graph.rows.forEach((r, i) => {
      assert.equal(r.backend, "tensorflow+graph-steps");
      assert.equal(r.run_key, eager.rows[i].run_key, "the engine is not part of a run's settings");
      assert.equal(r.final_train_loss, eager.rows[i].final_train_loss, r.row_id as string);
    });
    assert.ok(eager.rows.every((r) => r.backend === "tensorflow"));
    // The evaluations: the same accuracy and flags; the engine named in the backend column.
    let evalRowsSeen = 0;
    for (const [runKey, byKey] of eager.evals) {
      for (const [key, e] of byKey) {
        const g = graph.evals.get(runKey)!.get(key)!;
        assert.equal(g.accuracy, e.accuracy, key);
        assert.equal(g.robust_flags, e.robust_flags, key);
        assert.equal(e.backend, "tensorflow");
        assert.match(String(g.backend), /^tensorflow(\+graph-steps)?$/);
        evalRowsSeen++;
      }
    }
    assert.ok(evalRowsSeen >= 2);
    assert.ok(lines.some((l) => /engine graph: [1-9]\d* attack iterations as a graph/.test(l)));
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
  assert.throws(
    () => checkGridOptions({ stepEngine: "jit" as "graph" }),
    /--step-engine.*"eager", "graph"/,
  );
  assert.throws(
    () => checkGridOptions({ stepEngine: "graph", backend: "wasm" }),
    /--step-engine graph needs the tensorflow backend.*not wasm/,
  );
});
