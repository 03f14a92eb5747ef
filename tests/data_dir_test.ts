/**
 * --data-dir: where the dataset is, given by hand, reaches every place that reads the data (the
 * plan's presence check, the runner, worker processes, Slurm tasks, the measure cache) and
 * changes no run's identity. A dry run says where the data was found; a bad path is one
 * sentence, exit 2.
 */
import assert from "node:assert/strict";
import { isAbsolute, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { CIFAR10_CLASSES } from "../lib/data/cifar10_jpeg.ts";
import { checkDataDir, datasetSource } from "../lib/data/registry.ts";
import { planGrid } from "../lib/experiments/plan.ts";
import { checkGridOptions } from "../lib/experiments/runner.ts";
import { prepareSlurm } from "../lib/experiments/slurm.ts";
import { workerSpec } from "../lib/experiments/workers.ts";
import { isUserError } from "../scripts/cli.ts";
import { entriesOf, fixtureImages, tarGzBytes, writeFiles } from "./image_folder_fixture.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));

async function experiment(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  const r = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", "scripts/experiment.ts", ...args],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: r.code, out: dec.decode(r.stdout), err: dec.decode(r.stderr) };
}

/** A tiny cifar10-jpeg image folder (one 4x4 PNG per class and split) and the same as a .tar.gz. */
async function withTinyCifar<T>(
  fn: (p: { dir: string; folder: string; archive: string }) => T | Promise<T>,
): Promise<T> {
  const dir = await Deno.makeTempDir({ prefix: "data-dir-test-" });
  try {
    const images = await fixtureImages({
      classes: CIFAR10_CLASSES,
      files: { train: ["0.png"], test: ["0.png"] },
      shape: [4, 4, 3],
    });
    const folder = await writeFiles(join(dir, "cifar10-tiny"), entriesOf(images));
    const archive = join(dir, "cifar10-tiny.tar.gz");
    await Deno.writeFile(archive, tarGzBytes(entriesOf(images, "cifar10")));
    return await fn({ dir, folder, archive });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("--data-dir: a dry run says where the dataset was found (a folder or an archive); run keys do not change", async () => {
  await withTinyCifar(async ({ dir, folder, archive }) => {
    const results = join(dir, "r.csv");
    const base = ["--dataset", "cifar10-jpeg", "--dry-run", "--results", results, "--seeds", "0"];
    for (const source of [folder, archive]) {
      const r = await experiment(...base, "--data-dir", source);
      assert.equal(r.code, 0, r.err);
      const lines = r.out.split("\n");
      assert.equal(lines[0], `Dataset CIFAR-10 (JPEG q75 copy): found at ${source}.`);
      assert.match(lines[1], /^cifar10-jpeg \/ preset cpu: \d+ run\(s\), 0 complete in .*r\.csv/);
      assert.doesNotMatch(r.out, /not on this machine/);
    }
    // The same runs, the same keys and names, with or without --data-dir (and in any form).
    const plain = planGrid({ dataset: "cifar10-jpeg", resultsPath: results });
    for (const dataDir of [folder, archive, join(folder, "..", "cifar10-tiny")]) {
      const given = planGrid({ dataset: "cifar10-jpeg", resultsPath: results, dataDir });
      assert.deepEqual(
        given.runs.map((r) => [r.runKey, r.runId, r.modelPath, r.checkpointDir]),
        plain.runs.map((r) => [r.runKey, r.runId, r.modelPath, r.checkpointDir]),
      );
      assert.equal(given.resultsPath, plain.resultsPath);
      assert.equal(given.datasetSource, resolve(dataDir));
      assert.equal(given.datasetAbsent, null);
    }
  });
});

Deno.test("--data-dir: a path that does not exist, or does not hold the dataset, is one sentence, exit 2", async () => {
  await withTinyCifar(async ({ dir }) => {
    const results = ["--results", join(dir, "r.csv")];
    const missing = join(dir, "no-such-folder");
    const empty = join(dir, "empty");
    await Deno.mkdir(empty);
    const cases: [string[], RegExp][] = [
      [
        ["--dataset", "cifar10-jpeg", "--data-dir", missing],
        /^--data-dir .*no-such-folder does not exist; give the folder \(or archive\) that holds CIFAR-10 \(JPEG q75 copy\), or leave --data-dir out to look in the default place\.$/,
      ],
      [
        ["--dataset", "cifar10-jpeg", "--data-dir", empty],
        /^CIFAR-10 \(JPEG q75 copy\) not found at .*empty: put cifar10-jpeg\.tar\.gz .* or pass --data-dir PATH/,
      ],
      [
        ["--dataset", "cifar10", "--data-dir", empty],
        /^CIFAR-10 not found: neither .*empty\/cifar-10-batches-bin nor .*empty\/cifar-10-binary\.tar\.gz exists; run `bin\/deno run -A scripts\/dataset\.ts download cifar10`/,
      ],
      [
        ["--dataset", "fashion-mnist", "--data-dir", empty],
        /^.*empty\/train-images-idx3-ubyte\.gz is missing; /,
      ],
    ];
    for (const [args, expected] of cases) {
      // In a dry run, and before any work in a real one.
      for (const mode of [["--dry-run"], ["--rows", "ST", "--seeds", "0"]]) {
        const r = await experiment(...mode, ...args, ...results);
        assert.equal(r.code, 2, `${args.join(" ")}: ${r.out}${r.err}`);
        assert.match(r.err.trim(), expected, args.join(" "));
        assert.equal(r.err.trimEnd().split("\n").length, 1, `one line: ${r.err}`);
        assert.equal(r.out, "", "nothing planned or run");
      }
    }
    assert.throws(() => Deno.statSync(join(dir, "r.csv")), Deno.errors.NotFound, "nothing written");
    // The same checks as a library call.
    assert.throws(
      () =>
        checkGridOptions({
          dataset: "cifar10-jpeg",
          dataDir: missing,
          resultsPath: join(dir, "r.csv"),
        }),
      (e) => isUserError(e) && /does not exist/.test(e.message),
    );
    assert.throws(
      () => checkDataDir("cifar10", empty),
      (e) => isUserError(e) && /CIFAR-10 not found/.test(e.message),
    );
  });
});

Deno.test("--data-dir reaches worker processes and Slurm tasks as an absolute path", async () => {
  await withTinyCifar(async ({ dir, folder }) => {
    // Given relative to the caller's folder; the children start in the repository.
    const o = {
      dataset: "cifar10-jpeg",
      dataDir: relative(Deno.cwd(), folder),
      resultsPath: join(dir, "r.csv"),
    };
    assert.ok(!isAbsolute(o.dataDir));
    checkGridOptions(o);
    const plan = planGrid(o);
    assert.equal(plan.dataDir, folder);
    assert.equal(workerSpec(o, plan, 2).dataDir, folder);
    const job = prepareSlurm(o);
    assert.ok(job.runs.length > 0);
    for (const script of [job.arrayScript, job.mergeScript]) {
      assert.ok(script.includes(` --data-dir ${folder} `), script);
    }
    // A worker process plans with the path it is given (a missing one stops it in one sentence,
    // before any work: the proof that the field reaches the child's runGrid).
    const spec = { ...workerSpec(o, plan, 2), dataDir: join(dir, "gone") };
    const child = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-all", "scripts/grid_worker.ts", JSON.stringify(spec)],
      cwd: ROOT,
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(child.code, 2);
    assert.match(
      new TextDecoder().decode(child.stderr).trim(),
      /^--data-dir .*gone does not exist; give the folder \(or archive\) that holds CIFAR-10/,
    );
    // Without it, neither gets one.
    const none = { dataset: "cifar10-jpeg", resultsPath: join(dir, "r.csv") };
    assert.equal(workerSpec(none, planGrid(none), 2).dataDir, undefined);
    assert.doesNotMatch(prepareSlurm(none).arrayScript, /--data-dir/);
  });
});

Deno.test("datasetSource: where each dataset would load from, or undefined", async () => {
  await withTinyCifar(async ({ dir, folder, archive }) => {
    assert.equal(datasetSource("cifar10-jpeg", folder), folder);
    assert.equal(datasetSource("cifar10-jpeg", archive), archive);
    assert.equal(datasetSource("cifar10-jpeg", dir), undefined, "no train/ and test/ in it");
    assert.equal(datasetSource("cifar10", dir), undefined);
    await Deno.mkdir(join(dir, "cifar-10-batches-bin"));
    assert.equal(datasetSource("cifar10", dir), join(dir, "cifar-10-batches-bin"));
    await Deno.writeFile(join(dir, "cifar-100-binary.tar.gz"), new Uint8Array(1));
    assert.equal(datasetSource("cifar100", dir), join(dir, "cifar-100-binary.tar.gz"));
  });
});
