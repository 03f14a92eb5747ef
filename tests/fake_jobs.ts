/**
 * A tiny job kind for the job engine's tests (tests/jobs_test.ts and its worker process,
 * tests/fixtures/fake_job_worker.ts): job <name> takes `steps` steps, each leaving a file in
 * part/<name>/ (so a job killed midway resumes at its next step), then writes out/<name>.txt and
 * appends "<name> <pid>" to runs.log (so a job done twice shows twice).
 */
import { join } from "node:path";
import type { JobKind } from "../lib/jobs/job_kind.ts";
import { JobError } from "../lib/jobs/job_error.ts";

export interface FakeJob {
  name: string;
  cost: number;
  stepsDone: number;
  phase: number;
}

export interface FakeSpec {
  dir: string;
  /** Job name -> its cost (a job named "x/1" is in phase 1). */
  costs: Record<string, number>;
  steps?: number;
  stepMs?: number;
  /** Throw a one-sentence error at this step of this job (a crash midway). */
  failAt?: { name: string; step: number };
}

const exists = (p: string) => {
  try {
    Deno.statSync(p);
    return true;
  } catch {
    return false;
  }
};

const outPath = (dir: string, name: string) => join(dir, "out", `${name.replace("/", "_")}.txt`);
const partDir = (dir: string, name: string) => join(dir, "part", name.replace("/", "_"));

function read(spec: FakeSpec, name: string): FakeJob | null {
  if (exists(outPath(spec.dir, name))) return null;
  const parts = exists(partDir(spec.dir, name))
    ? [...Deno.readDirSync(partDir(spec.dir, name))]
    : [];
  return {
    name,
    cost: spec.costs[name],
    stepsDone: parts.length,
    phase: name.endsWith("/1") ? 1 : 0,
  };
}

/** The jobs with work left, in the order of `costs` (the plan). */
export function planFake(spec: FakeSpec): FakeJob[] {
  return Object.keys(spec.costs).map((n) => read(spec, n)).filter((j): j is FakeJob => j !== null);
}

/** "<name> <pid>" per finished job, in the order they finished. */
export function runsLog(dir: string): string[] {
  return exists(join(dir, "runs.log"))
    ? Deno.readTextFileSync(join(dir, "runs.log")).trim().split("\n").filter(Boolean)
    : [];
}

export function fakeKind(spec: FakeSpec, setups = { count: 0 }): JobKind<FakeJob, null> {
  const steps = spec.steps ?? 2;
  return {
    noun: "job",
    label: (j) => j.name,
    lockPath: (j) => join(spec.dir, "locks", `${j.name.replace("/", "_")}.lock`),
    cost: (j) => j.cost,
    phase: (j) => j.phase,
    setup() {
      setups.count++;
      return Promise.resolve(null);
    },
    refresh: (j) => read(spec, j.name),
    startLine: (j, at) =>
      `job ${at.index}/${at.total}: ${j.name} (${
        j.stepsDone ? `resuming at step ${j.stepsDone}` : "new"
      }, est. ${at.estimate}); ETA ${at.eta}`,
    async run(j) {
      Deno.mkdirSync(partDir(spec.dir, j.name), { recursive: true });
      for (let step = j.stepsDone; step < steps; step++) {
        await new Promise((r) => setTimeout(r, spec.stepMs ?? 5));
        if (spec.failAt?.name === j.name && spec.failAt.step === step) {
          throw new JobError(`Job ${j.name} failed at step ${step}.`);
        }
        Deno.writeTextFileSync(join(partDir(spec.dir, j.name), `${step}`), "");
      }
      Deno.mkdirSync(join(spec.dir, "out"), { recursive: true });
      Deno.writeTextFileSync(outPath(spec.dir, j.name), `${j.name} by ${Deno.pid}\n`);
      Deno.writeTextFileSync(join(spec.dir, "runs.log"), `${j.name} ${Deno.pid}\n`, {
        append: true,
      });
      return j.stepsDone === 0; // a resumed job did only part of its cost
    },
  };
}
