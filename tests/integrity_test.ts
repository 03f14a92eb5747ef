/**
 * Issue 16: integrity of checkpoints and results. Checksummed checkpoints (old ones still load),
 * every damaged checkpoint, results file or path answered with one sentence naming the file and
 * the fix, NaN rows retrained, a retrained model that differs refused, options checked first.
 */
import { TINY, toySplits } from "./tiny_grid.ts";
import assert from "node:assert/strict";
import { initBackend } from "../lib/backend/backend.ts";
import { planGrid } from "../lib/experiments/plan.ts";
import {
  appendRun,
  checkResultsTarget,
  readEvals,
  readResults,
  RUN_COLUMNS,
} from "../lib/experiments/results.ts";
import { runGrid } from "../lib/experiments/runner.ts";
import {
  CHECKPOINT_FILE,
  type CheckpointState,
  loadCheckpoint,
  saveCheckpoint,
} from "../lib/training/checkpoint.ts";
import { ST } from "../lib/training/method.ts";
import { train } from "../lib/training/train.ts";
import { toyDataset } from "./toy_data.ts";

const root = new URL("..", import.meta.url).pathname;
const DAMAGED = (why: string) =>
  new RegExp(
    `^CheckpointError: Checkpoint .*checkpoint\\.samat is damaged \\(${why}\\); delete it to start the run afresh\\.$`,
  );

function tempDir(prefix: string): string {
  return Deno.makeTempDirSync({ prefix: `sam-at-${prefix}-` });
}

function state(over: Partial<CheckpointState> = {}): CheckpointState {
  return {
    fingerprint: { epochs: 10, method: { optimizer: { name: "sgd" }, perturb: null } },
    epoch: 3,
    rng: [1, 2, 3, 4],
    metrics: [{ epoch: 3 }],
    trainSeconds: 1.5,
    tensors: {
      "param:w": { shape: [2, 3], data: Float32Array.from([1, 2, 3, 4, 5, 6]) },
      "momentum:w": { shape: [2, 3], data: new Float32Array(6) },
    },
    ...over,
  };
}

/** Header JSON and data offset of a checkpoint file. */
function layout(bytes: Uint8Array): { header: any; start: number } {
  const len = new DataView(bytes.buffer, bytes.byteOffset).getUint32(8, true);
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(12, 12 + len)));
  return { header, start: Math.ceil((12 + len) / 4) * 4 };
}

/** Write a checkpoint in the first format (version 1, no checksum) with the given header changes. */
function writeLegacy(path: string, s: CheckpointState, edit: (h: any) => void = () => {}): void {
  const names = Object.keys(s.tensors);
  let offset = 0;
  const tensors = names.map((name) => {
    const t = s.tensors[name];
    const e = { name, shape: t.shape, offset, length: t.data.length };
    offset += t.data.length;
    return e;
  });
  const header: any = {
    version: 1,
    fingerprint: s.fingerprint,
    epoch: s.epoch,
    rng: s.rng,
    metrics: s.metrics,
    trainSeconds: s.trainSeconds,
    backend: "tensorflow",
    savedAt: "2026-01-01T00:00:00.000Z",
    tensors,
  };
  edit(header);
  const hb = new TextEncoder().encode(JSON.stringify(header));
  const start = Math.ceil((12 + hb.length) / 4) * 4;
  const bytes = new Uint8Array(start + offset * 4);
  bytes.set(new TextEncoder().encode("SAMATCK1"));
  new DataView(bytes.buffer).setUint32(8, hb.length, true);
  bytes.set(hb, 12);
  const floats = new Float32Array(bytes.buffer, start, offset);
  names.forEach((n, i) => floats.set(s.tensors[n].data, tensors[i].offset));
  Deno.mkdirSync(path.replace(/\/[^/]+$/, ""), { recursive: true });
  Deno.writeFileSync(path, bytes);
}

Deno.test("checkpoint: a SHA-256 in the header catches a flipped epoch or a negated weight; an old checkpoint without one still loads", () => {
  const dir = tempDir("ck-sha");
  const path = `${dir}/run/${CHECKPOINT_FILE}`;
  try {
    saveCheckpoint(path, state());
    const good = Deno.readFileSync(path);
    const { header, start } = layout(good);
    assert.equal(header.version, 2);
    assert.match(header.sha256, /^[0-9a-f]{64}$/);
    assert.equal(loadCheckpoint(path)!.epoch, 3);

    // Epoch 3 -> 9 in the header (one byte, so nothing else gives it away).
    const flip = (find: string, to: string) => {
      const text = new TextDecoder().decode(good.subarray(0, start)); // header only: ASCII
      const at = text.indexOf(find) + find.length - 1;
      const b = good.slice();
      b[at] = to.charCodeAt(0);
      return b;
    };
    Deno.writeFileSync(path, flip('"epoch":3', "9"));
    assert.throws(
      () => loadCheckpoint(path),
      DAMAGED("its SHA-256 checksum does not match: the file was changed or corrupted"),
    );
    // A negated weight: the sign bit of the first float.
    const negated = good.slice();
    negated[start + 3] ^= 0x80;
    Deno.writeFileSync(path, negated);
    assert.throws(() => loadCheckpoint(path), /checksum does not match/);
    // A version flipped back to 1 does not switch the check off: the checksum is still there.
    Deno.writeFileSync(path, flip('"version":2', "1"));
    assert.throws(() => loadCheckpoint(path), /checksum does not match/);
    // Version 2 without a checksum is damaged, not legacy.
    writeLegacy(path, state(), (h) => (h.version = 2));
    assert.throws(() => loadCheckpoint(path), /checksum does not match/);

    // The first format (no checksum) loads unverified, bit-exactly: runs in flight can resume.
    writeLegacy(path, state());
    const old = loadCheckpoint(path)!;
    assert.equal(old.epoch, 3);
    assert.deepEqual(Array.from(old.tensors["param:w"].data), [1, 2, 3, 4, 5, 6]);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("checkpoint: a swapped shape, a bad index, a bad RNG state, a NaN weight or a directory is 'damaged; delete it', never a stack trace or 'diverged'", () => {
  const dir = tempDir("ck-bad");
  const path = `${dir}/run/${CHECKPOINT_FILE}`;
  try {
    // Old-format files (no checksum to catch the edit): the structure is still checked.
    writeLegacy(path, state(), (h) => (h.tensors[0].shape = [4, 3]));
    assert.throws(() => loadCheckpoint(path), DAMAGED('bad index entry "param:w"'));
    writeLegacy(path, state(), (h) => (h.tensors[1].offset = 0));
    assert.throws(() => loadCheckpoint(path), DAMAGED('bad index entry "momentum:w"'));
    writeLegacy(path, state(), (h) => (h.epoch = 11));
    assert.throws(() => loadCheckpoint(path), DAMAGED("bad epoch count 11"));
    writeLegacy(path, state(), (h) => (h.tensors = { a: 1 }));
    assert.throws(() => loadCheckpoint(path), DAMAGED("no tensor index"));
    // Written through saveCheckpoint (a valid checksum): the content itself is refused.
    for (const rng of [[1, 2, 3], [1, 2, 3, -4], [0, 0, 0, 0], [1, 2, 3, 2 ** 32]]) {
      saveCheckpoint(path, state({ rng }));
      assert.throws(() => loadCheckpoint(path), DAMAGED("bad RNG state"), JSON.stringify(rng));
    }
    saveCheckpoint(path, state({ trainSeconds: NaN }));
    assert.throws(() => loadCheckpoint(path), DAMAGED("bad training time"));
    const nan = state();
    nan.tensors["param:w"].data[4] = NaN;
    saveCheckpoint(path, nan);
    assert.throws(() => loadCheckpoint(path), DAMAGED("tensor param:w holds NaN or infinity"));
    // A directory where the checkpoint file belongs.
    Deno.removeSync(path);
    Deno.mkdirSync(path);
    assert.throws(() => loadCheckpoint(path), DAMAGED("a directory, not a file"));
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("checkpoint: a state that does not fit the model (swapped shape, missing tensor) stops train() with the 'delete it' sentence", async () => {
  await initBackend();
  const dir = tempDir("ck-model");
  const data = toyDataset(32, 8, 1, 3);
  const cfg = {
    method: ST,
    arch: "smallcnn" as const,
    width: 2,
    epochs: 2,
    batchSize: 16,
    seed: 3,
  };
  const path = `${dir}/${CHECKPOINT_FILE}`;
  try {
    await assert.rejects(
      train(data, cfg, {
        progress: "none",
        checkpointDir: dir,
        onEpochEnd: () => {
          throw new Error("stop after epoch 1");
        },
      }),
      /stop after epoch 1/,
    );
    const ck = loadCheckpoint(path)!;
    const kernel = Object.keys(ck.tensors).find((k) => ck.tensors[k].shape.length === 4)!;
    const swapped = { ...ck, tensors: { ...ck.tensors } };
    const t = ck.tensors[kernel];
    swapped.tensors[kernel] = { shape: [...t.shape].reverse(), data: t.data };
    saveCheckpoint(path, swapped);
    await assert.rejects(
      train(data, cfg, { progress: "none", checkpointDir: dir }),
      DAMAGED(
        `Model state ${
          kernel.replace(/[.[\]]/g, "\\$&")
        } has shape \\[.*\\], the model needs \\[.*\\]`,
      ),
    );
    const missing = { ...ck, tensors: { ...ck.tensors } };
    delete missing.tensors[kernel];
    saveCheckpoint(path, missing);
    await assert.rejects(
      train(data, cfg, { progress: "none", checkpointDir: dir }),
      DAMAGED(`Model state lacks ${kernel.replace(/[.[\]]/g, "\\$&")}`),
    );
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("results: a truncated header is refused with one sentence, never rewritten", () => {
  const dir = tempDir("header");
  try {
    const csv = `${dir}/r.csv`;
    const cells = RUN_COLUMNS.map((
      c,
    ) => (c === "run_key" ? "k00000001" : c === "clean" ? "0.5" : ""));
    // The header lost its last column: every row has one cell more than the header names.
    const text = `${RUN_COLUMNS.slice(0, -1).join(",")}\n${cells.join(",")}\n`;
    Deno.writeTextFileSync(csv, text);
    const sentence =
      /^ResultsFileError: Results file .*r\.csv is damaged: data row 1 has 36 cells but the header names only 35 \(a truncated header, or not a results CSV\); restore the file \(e\.g\. git checkout -- .*r\.csv\) or name another file with --results\.$/;
    assert.throws(() => readResults(csv), sentence);
    assert.throws(() => checkResultsTarget(csv), sentence);
    assert.throws(() => appendRun(csv, { run_key: "k00000002", clean: 0.5 }), sentence);
    // A header cut inside a name is not this project's header.
    Deno.writeTextFileSync(csv, text.replace("load_avg_1m", "load_avg_1m,model_f"));
    assert.throws(
      () => appendRun(csv, { run_key: "k00000002", clean: 0.5 }),
      /is not a results CSV of this project \(its header starts /,
    );
    assert.equal(Deno.readTextFileSync(csv), text.replace("load_avg_1m", "load_avg_1m,model_f"));
    // A symlinked results file stays a symlink; its target gets the row.
    const target = `${dir}/real.csv`;
    const link = `${dir}/link.csv`;
    appendRun(target, { run_key: "k00000001", clean: 0.5 });
    Deno.symlinkSync(target, link);
    appendRun(link, { run_key: "k00000002", clean: 0.6 });
    assert.ok(Deno.lstatSync(link).isSymlink);
    assert.deepEqual(readResults(target).map((r) => r.run_key), ["k00000001", "k00000002"]);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

/** The tiny synthetic grid (tests/tiny_grid.ts). */
const toy = () => toySplits(TINY);

Deno.test("runGrid: a NaN row is reported and retrained; a retrained model whose loss differs from the recorded one is refused", async () => {
  await initBackend();
  const dir = tempDir("nan");
  const data = toy();
  const lines: string[] = [];
  const base = {
    preset: TINY,
    data,
    rows: "ST",
    resultsPath: `${dir}/r.csv`,
    progress: "none" as const,
    log: (l: string) => lines.push(l),
  };
  try {
    const [run] = planGrid(base).runs;
    appendRun(base.resultsPath, { run_key: run.runKey, row_id: "ST", seed: 0, clean: NaN });
    assert.equal(planGrid(base).runs[0].status, "new", "a NaN row is not finished");
    const g = await runGrid(base);
    assert.equal(g.trained, 1);
    assert.match(
      lines.join("\n"),
      /r\.csv: the row of run ST seed 0 \(k[0-9a-f]{8}\) has clean = NaN; it counts as unfinished and the run is trained again\./,
    );
    const rows = readResults(base.resultsPath);
    assert.equal(rows.length, 2);
    assert.ok(Number.isFinite(rows[1].clean as number));
    assert.equal(readEvals(base.resultsPath).length, 1);

    // The recorded loss is not what retraining gives: refused, and the model file is not replaced.
    const other = `${dir}/other.csv`;
    appendRun(other, { ...rows[1], final_train_loss: 123 });
    const [r2] = planGrid({ ...base, resultsPath: other }).runs;
    await assert.rejects(
      runGrid({ ...base, resultsPath: other }),
      new RegExp(
        `^ExperimentError: Retrained ST seed 0 ends with training loss [0-9.e-]+, not the 123 recorded in .*other\\.csv, so it is not the recorded model; restore .*ST-seed0-k[0-9a-f]{8}\\.safetensors \\(e\\.g\\. git checkout\\), or remove that run's rows from the results files to train it afresh\\.$`,
      ),
    );
    assert.throws(() => Deno.statSync(r2.modelPath), Deno.errors.NotFound);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

async function cli(args: string[], env: Record<string, string> = {}) {
  const r = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", "scripts/experiment.ts", ...args],
    cwd: root,
    env,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: r.code, out: dec.decode(r.stdout), err: dec.decode(r.stderr).trim() };
}

Deno.test("CLI: names, repeated or dash-leading options, bad results paths and SAM_AT_BACKEND fail before any work, one sentence each", async () => {
  const dir = tempDir("cli");
  try {
    const readme = `${dir}/README.md`;
    Deno.writeTextFileSync(readme, "# not a CSV\n\nsome text, with a comma\n");
    const cases: [string[], RegExp, Record<string, string>?][] = [
      [["--preset", "toString"], /^Unknown preset "toString" for fashion-mnist: use one of /],
      [["--seeds", "-1"], /^Invalid seeds "-1": give whole numbers /],
      [["--rows", "ST", "--rows", "SAM-0.1"], /^Option --rows was given 2 times; give it once /],
      [["--rows"], /^Option --rows needs a value; see --help\.$/],
      [["--results", dir], /^Results path .* is a directory; name a CSV file with --results\.$/],
      [
        ["--results", `${readme}/x.csv`],
        /^Results path .*README\.md\/x\.csv lies under a file, not a folder; name another path with --results\.$/,
      ],
      [
        ["--results", readme],
        /README\.md is not a results CSV of this project .*it was left unchanged/,
      ],
      [[], /^Unknown backend "bogus": use one of tensorflow, /, { SAM_AT_BACKEND: "bogus" }],
    ];
    for (const [args, expected, env] of cases) {
      const results = args.includes("--results") ? [] : ["--results", `${dir}/r.csv`];
      // Without --dry-run too, where the old code failed only after loading data or an epoch
      // (one small run, in case a check were missing).
      const late = args.some((a) => a === "--rows" || a === "--seeds" || a === "--preset")
        ? []
        : [["--rows", "ST", "--seeds", "0"]];
      for (const mode of [["--dry-run"], ...late]) {
        const r = await cli([...mode, ...args, ...results], env);
        assert.equal(r.code, 2, `${args.join(" ")}: ${r.err}`);
        assert.match(r.err, expected, args.join(" "));
        assert.equal(r.err.split("\n").length, 1, `one line: ${r.err}`);
      }
    }
    assert.equal(Deno.readTextFileSync(readme), "# not a CSV\n\nsome text, with a comma\n");
    assert.throws(() => Deno.statSync(`${dir}/r.csv`), Deno.errors.NotFound, "nothing written");
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});
