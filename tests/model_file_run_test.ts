/**
 * Issue 31 #1: a model file is verified whole before its numbers are trusted. Version 2 files
 * carry a SHA-256 over header and data (an edited normalisation is refused), and the header's run
 * key must match the run that loads it (another run's model copied over the file is refused).
 * Version 1 files (the committed models) still load: their data checksum, their run key and,
 * where the caller knows it, their model spec are checked.
 */
import { TINY_QUICK, toySplits } from "./tiny_grid.ts";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { initBackend } from "../lib/backend/backend.ts";
import { pgd10 } from "../lib/experiments/columns.ts";
import { planGrid } from "../lib/experiments/plan.ts";
import { type Preset } from "../lib/experiments/presets.ts";
import { readEvals } from "../lib/experiments/results.ts";
import { runGrid } from "../lib/experiments/runner.ts";
import { createModel, type ModelSpec } from "../lib/models/model.ts";
import {
  loadModelFile,
  ModelFileError,
  readModelFileMeta,
  saveModelFile,
} from "../lib/models/model_file.ts";
import { Rng } from "../lib/util/rng.ts";

await initBackend();

const root = new URL("..", import.meta.url).pathname;
const SPEC: ModelSpec = {
  arch: "smallcnn",
  width: 2,
  inputShape: [8, 8, 1],
  numClasses: 3,
  mean: [0.286],
  std: [0.353],
};

/**
 * The file with one ASCII string of its header replaced by another of the same length (the
 * sam_at metadata is a JSON string inside the header, so its quotes read \\").
 */
function edit(path: string, from: string, to: string, out = path): void {
  const bytes = Deno.readFileSync(path);
  const text = new TextDecoder("latin1").decode(bytes);
  const at = text.indexOf(from);
  assert.ok(at > 0 && from.length === to.length, `${from} in ${path}`);
  bytes.set(new TextEncoder().encode(to), at);
  Deno.writeFileSync(out, bytes);
}

const refused = (f: () => unknown, why: RegExp) =>
  assert.throws(f, (e: Error) => e instanceof ModelFileError && why.test(e.message));

Deno.test("model file: the checksum covers header and data; an edited normalisation or run key is refused (issue 31 #1)", () => {
  const dir = Deno.makeTempDirSync({ prefix: "sam-at-model-header-" });
  try {
    const m = createModel(SPEC, Rng.fromSeed(1));
    const path = `${dir}/ST-seed0-k0000000a.safetensors`;
    saveModelFile(path, m, { run_key: "k0000000a", row_id: "ST" });
    m.dispose();
    assert.equal(readModelFileMeta(path).version, 2);
    loadModelFile(path, { runKey: "k0000000a", spec: SPEC }).model.dispose();
    for (
      const [from, to] of [
        ['mean\\":[0.286]', 'mean\\":[0.386]'],
        ['std\\":[0.353]', 'std\\":[0.953]'],
        [
          "k0000000a",
          "k0000000b",
        ],
      ]
    ) {
      const bad = `${dir}/edited.safetensors`;
      edit(path, from, to, bad);
      refused(
        () => loadModelFile(bad),
        /^Model file .*edited\.safetensors is damaged \(its header or data does not match its SHA-256 checksum\); copy it again or re-run the training that wrote it\.$/,
      );
    }
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("model file: another run's model copied over a run's file is refused by run key, in both formats; a version-1 file still loads and its spec is checked where known (issue 31 #1)", () => {
  const dir = Deno.makeTempDirSync({ prefix: "sam-at-model-copy-" });
  try {
    const m = createModel(SPEC, Rng.fromSeed(2));
    const st = `${dir}/ST-seed0-k0000000a.safetensors`;
    saveModelFile(st, m, { run_key: "k0000000a" });
    m.dispose();
    const at = `${dir}/AT-linf-8-seed0-k0000000b.safetensors`;
    Deno.copyFileSync(st, at);
    const copied =
      /^Model file .*AT-linf-8-seed0-k0000000b\.safetensors holds run k0000000a, not run k0000000b \(a model of another run copied over it\?\); restore it \(e\.g\. git checkout\) or delete it to train that run again\.$/;
    refused(() => loadModelFile(at), copied);
    refused(
      () => loadModelFile(st, { runKey: "k0000000b" }),
      /holds run k0000000a, not run k0000000b/,
    );

    // A committed (version 1) model: loads as it is; copied over another run's name, refused.
    const committed = [...Deno.readDirSync(`${root}results/models/fashion-mnist-default`)]
      .map((e) => `${root}results/models/fashion-mnist-default/${e.name}`).sort()[0];
    const info = readModelFileMeta(committed);
    assert.equal(info.version, 1);
    const key = String(info.meta.run_key);
    loadModelFile(committed, { runKey: key, spec: info.spec }).model.dispose();
    const other = `${dir}/ST-seed0-k0000000c.safetensors`;
    Deno.copyFileSync(committed, other);
    refused(() => loadModelFile(other), new RegExp(`holds run ${key}, not run k0000000c`));
    // Its header is not covered by its checksum: an edited mean is caught by the run's spec.
    const v1 = `${dir}/ST-seed0-${key}.safetensors`;
    edit(committed, 'mean\\":[0.286]', 'mean\\":[0.386]', v1);
    loadModelFile(v1).model.dispose(); // nothing to compare with: version 1 cannot tell
    refused(
      () => loadModelFile(v1, { runKey: key, spec: info.spec }),
      /^Model file .* was written for another model \(its mean is \[0\.386\], the run's \[0\.286\]\); restore it \(e\.g\. git checkout\) or delete it to train that run again\.$/,
    );
    // Its data checksum still holds.
    assert.equal(
      createHash("sha256").update(Deno.readFileSync(committed).subarray(info.dataStart)).digest(
        "hex",
      ),
      info.sha256,
    );
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

const TINY: Preset = { ...TINY_QUICK, evals: [] };

Deno.test("runGrid: evaluating a run whose model file holds another run's model, or an edited header, is refused in one sentence; nothing is recorded (issue 31 #1)", async () => {
  const dir = Deno.makeTempDirSync({ prefix: "sam-at-model-grid-" });
  const data = toySplits(TINY);
  const o = {
    preset: TINY,
    data,
    rows: "ST,AT-linf-8",
    resultsPath: `${dir}/r.csv`,
    progress: "none" as const,
    workers: 1,
    log: () => {},
  };
  try {
    assert.equal((await runGrid(o)).trained, 2);
    const [st, at] = planGrid(o).runs;
    Deno.copyFileSync(st.modelPath, at.modelPath);
    const withEval = { ...o, preset: { ...TINY, evals: [pgd10("linf", 8 / 255)] } };
    await assert.rejects(
      runGrid({ ...withEval, rows: "AT-linf-8" }),
      /holds run k[0-9a-f]{8}, not run/,
    );
    edit(st.modelPath, 'mean\\":[0]', 'mean\\":[1]');
    await assert.rejects(
      runGrid({ ...withEval, rows: "ST" }),
      /does not match its SHA-256 checksum/,
    );
    assert.equal(readEvals(o.resultsPath).length, 0, "no evaluation of the wrong model recorded");
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("scripts/model_file_check.py (what load_model.py reads with): a version-2 file verified whole, an edited header or a copied-over file refused, a committed version-1 file loads with a note", () => {
  const dir = Deno.makeTempDirSync({ prefix: "sam-at-model-py-" });
  const py = (path: string) => {
    const r = new Deno.Command("python3", {
      args: ["scripts/model_file_check.py", path],
      cwd: root,
      stdout: "piped",
      stderr: "piped",
    }).outputSync();
    const dec = new TextDecoder();
    return { code: r.code, out: dec.decode(r.stdout), err: dec.decode(r.stderr).trim() };
  };
  try {
    const m = createModel(SPEC, Rng.fromSeed(3));
    const good = `${dir}/ST-seed0-k0000000a.safetensors`;
    saveModelFile(good, m, { run_key: "k0000000a" });
    m.dispose();
    const ok = py(good);
    assert.equal(ok.code, 0, ok.err);
    assert.equal(JSON.parse(ok.out).meta.run_key, "k0000000a");
    edit(good, 'mean\\":[0.286]', 'mean\\":[0.386]', `${dir}/edited.safetensors`);
    const edited = py(`${dir}/edited.safetensors`);
    assert.equal(edited.code, 2);
    assert.match(
      edited.err,
      /^Model file .*edited\.safetensors is damaged \(its header or data does not match its SHA-256 checksum\); copy it again or re-run the training that wrote it\.$/,
    );
    Deno.copyFileSync(good, `${dir}/AT-linf-8-seed0-k0000000b.safetensors`);
    const copied = py(`${dir}/AT-linf-8-seed0-k0000000b.safetensors`);
    assert.equal(copied.code, 2);
    assert.match(copied.err, /holds run k0000000a, not run k0000000b/);
    const committed = [...Deno.readDirSync(`${root}results/models/fashion-mnist-full`)]
      .map((e) => `${root}results/models/fashion-mnist-full/${e.name}`).sort()[0];
    const v1 = py(committed);
    assert.equal(v1.code, 0, v1.err);
    assert.match(
      v1.err,
      /^note: .* is a version-1 file: its checksum covers the tensor data, not the header\.$/,
    );
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});
