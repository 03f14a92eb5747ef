/** Every user-facing error class extends UserError, which is what the CLIs catch (scripts/cli.ts). */
import assert from "node:assert/strict";
import { isUserError } from "../scripts/cli.ts";
import { BackendError } from "../lib/backend/backend.ts";
import { DatasetError } from "../lib/data/dataset.ts";
import { TarError } from "../lib/data/tar.ts";
import { ExperimentError } from "../lib/experiments/grid.ts";
import { ResultsFileError } from "../lib/experiments/results.ts";
import { JobError } from "../lib/jobs/job_error.ts";
import { ModelFileError } from "../lib/models/model_file.ts";
import { CheckpointError, restoreCheckpoint } from "../lib/training/checkpoint.ts";
import { TrainingDivergedError } from "../lib/training/train.ts";
import { FileWriteError } from "../lib/util/atomic_write.ts";
import { LockError } from "../lib/util/lock.ts";
import { UserError } from "../lib/util/user_error.ts";
import { OptionError } from "../lib/util/validate.ts";

const CLASSES = [
  BackendError,
  CheckpointError,
  DatasetError,
  ExperimentError,
  FileWriteError,
  JobError,
  LockError,
  ModelFileError,
  OptionError,
  ResultsFileError,
  TarError,
  TrainingDivergedError,
];

Deno.test("user errors: one base class, which the CLI catches; each keeps its own name", () => {
  for (const C of CLASSES) {
    const e = new C("One sentence.");
    assert.ok(e instanceof UserError && e instanceof Error, C.name);
    assert.ok(isUserError(e), C.name);
    assert.equal(e.name, C.name);
    assert.equal(String(e), `${C.name}: One sentence.`);
  }
  assert.equal(isUserError(new Error("bug")), false);
  assert.equal(isUserError(new RangeError("bug")), false);
  assert.equal(isUserError("text"), false);
});

Deno.test("user errors: an option a checkpoint's state fails still reads as a damaged checkpoint", () => {
  assert.throws(
    () =>
      restoreCheckpoint("ck.bin", () => {
        throw new OptionError("Invalid option lr: got -1, expected a finite number > 0.");
      }),
    (e) =>
      e instanceof CheckpointError &&
      /^Checkpoint ck\.bin is damaged \(Invalid option lr/.test(e.message),
  );
});

Deno.test("user errors: no error class outside lib/util/user_error.ts extends Error directly", async () => {
  const offenders: string[] = [];
  const walk = async (dir: string) => {
    for await (const e of Deno.readDir(dir)) {
      const path = `${dir}/${e.name}`;
      if (e.isDirectory) await walk(path);
      else if (path.endsWith(".ts") && path !== "lib/util/user_error.ts") {
        const text = await Deno.readTextFile(path);
        for (const m of text.matchAll(/class (\w+) extends (Error|RangeError|TypeError)\b/g)) {
          offenders.push(`${path}: ${m[1]}`);
        }
      }
    }
  };
  for (const dir of ["lib", "scripts", "bench"]) await walk(dir);
  assert.deepEqual(offenders, []);
});
