// A dataset that is not on this machine is said at once (presence only, nothing read): by the
// registry, and in an experiment's plan (the dry run), so a 4-hour plan does not read as runnable.
import assert from "node:assert/strict";
import { datasetAbsence } from "../lib/data/registry.ts";
import { describePlan, planGrid } from "../lib/experiments/plan.ts";

Deno.test("datasetAbsence: the missing file and the fix; null once the files (or the archive) are there", () => {
  const dir = Deno.makeTempDirSync({ prefix: "absence_" });
  try {
    assert.match(
      datasetAbsence("cifar10", dir)!,
      /^CIFAR-10 not found: .*cifar-10-binary\.tar\.gz.*scripts\/dataset\.ts download cifar10/,
    );
    Deno.writeFileSync(`${dir}/cifar-10-binary.tar.gz`, new Uint8Array()); // checked when loaded
    assert.equal(datasetAbsence("cifar10", dir), null);
    assert.match(datasetAbsence("cifar100", dir)!, /^CIFAR-100 not found/);
    Deno.mkdirSync(`${dir}/cifar-100-binary`);
    assert.equal(datasetAbsence("cifar100", dir), null);

    assert.match(
      datasetAbsence("fashion-mnist", dir)!,
      /train-images-idx3-ubyte\.gz is missing; .*FASHION_MNIST_DIR/,
    );
    for (const f of ["train-images-idx3", "train-labels-idx1", "t10k-images-idx3"]) {
      Deno.writeFileSync(`${dir}/${f}-ubyte.gz`, new Uint8Array());
    }
    assert.match(datasetAbsence("fashion-mnist", dir)!, /t10k-labels-idx1-ubyte\.gz is missing/);
    Deno.writeFileSync(`${dir}/t10k-labels-idx1-ubyte`, new Uint8Array()); // uncompressed is fine
    assert.equal(datasetAbsence("fashion-mnist", dir), null);
    assert.throws(() => datasetAbsence("mnist"), /Unknown dataset "mnist"/);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("describePlan says first and last that the dataset is absent, when there is work left", () => {
  const dir = Deno.makeTempDirSync({ prefix: "absence_plan_" });
  try {
    const plan = planGrid({ dataset: "cifar10", preset: "cpu", resultsPath: `${dir}/r.csv` });
    plan.datasetAbsent = "CIFAR-10 not found: fetch it.";
    const lines = describePlan(plan).split("\n");
    const note =
      /^The dataset is not on this machine, so none of these runs can start yet: CIFAR-10 not found: fetch it\.$/;
    assert.match(lines[0], /^cifar10 \/ preset cpu: 36 run\(s\)/);
    assert.match(lines[1], note);
    assert.match(lines.at(-1)!, note);
    plan.datasetAbsent = null;
    assert.doesNotMatch(describePlan(plan), /not on this machine/);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});
