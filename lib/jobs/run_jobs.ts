/**
 * The engine's loop in one process: each job under its own lock, one after the other. A job whose
 * lock another live process holds is skipped (said, unless that process is a sibling worker); a
 * job is re-read from the files once its lock is taken, so nothing finished elsewhere is done
 * again. The ETA scales the kind's cost estimates by how fast this process has actually been.
 */
import { describeHolder, tryLock } from "../util/lock.ts";
import { shownPath } from "../util/shown_path.ts";
import type { JobKind, JobStart } from "./job_kind.ts";

export interface RunJobsOptions {
  log: (line: string) => void;
  /**
   * Set in a worker process (workers.ts): how many workers share the jobs. Their locks are
   * expected there, so nothing is said about them, and the costliest jobs go first, so that no
   * worker is left alone with a long job at the end.
   */
  workerShare?: number;
}

export interface JobsOutcome {
  /** Jobs started here. */
  worked: number;
  /** Jobs skipped because another live process held their lock. */
  heldElsewhere: number;
  seconds: number;
}

/** The order a worker takes jobs in: phase by phase, the costliest first (stable otherwise). */
export function workerOrder<J>(kind: JobKind<J, unknown>, jobs: readonly J[]): J[] {
  const phase = (j: J) => kind.phase?.(j) ?? 0;
  return [...jobs].sort((p, q) => phase(p) - phase(q) || kind.cost(q) - kind.cost(p));
}

/** Run `todo` (the jobs with work left, in plan order) here. */
export async function runJobs<J, C>(
  kind: JobKind<J, C>,
  todo: readonly J[],
  o: RunJobsOptions,
): Promise<JobsOutcome> {
  const start = performance.now();
  const inWorker = o.workerShare !== undefined;
  const share = o.workerShare ?? 1;
  const jobs = inWorker ? workerOrder(kind, todo) : [...todo];
  const out: JobsOutcome = { worked: 0, heldElsewhere: 0, seconds: 0 };
  if (jobs.length === 0) return out;
  const shared = await kind.setup();
  let doneEstimate = 0;
  let doneActual = 0;
  for (let i = 0; i < jobs.length; i++) {
    const place = `${kind.noun} ${i + 1}/${jobs.length}: ${kind.label(jobs[i])}`;
    const lock = tryLock(kind.lockPath(jobs[i]));
    if ("held" in lock) {
      // In a worker, that is (usually) a sibling worker: nothing to say.
      if (!inWorker) {
        o.log(
          `${place} skipped: ${describeHolder(lock)} is working on it (lock ${
            shownPath(lock.path)
          }).`,
        );
      }
      out.heldElsewhere++;
      continue;
    }
    try {
      const job = kind.refresh(jobs[i]);
      if (job === null) {
        // In a worker: by a sibling, as planned.
        if (!inWorker) o.log(`${place} was finished meanwhile by another process.`);
        continue;
      }
      const speed = doneEstimate > 0 ? doneActual / doneEstimate : 1;
      const at: JobStart = {
        index: i + 1,
        total: jobs.length,
        estimate: kind.cost(job) * speed,
        eta: jobs.slice(i).reduce((s, j) => s + kind.cost(j), 0) * speed / share,
        elapsed: (performance.now() - start) / 1000,
      };
      const line = kind.startLine?.(job, at);
      if (line) o.log(line);
      out.worked++;
      const t0 = performance.now();
      const fair = await kind.run(job, shared, at);
      if (fair !== false) {
        doneEstimate += kind.cost(job);
        doneActual += (performance.now() - t0) / 1000;
      }
    } finally {
      lock.release();
    }
  }
  out.seconds = (performance.now() - start) / 1000;
  return out;
}
