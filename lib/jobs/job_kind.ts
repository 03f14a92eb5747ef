/**
 * What a kind of job plugs into the job engine (lib/jobs/): how one job is named, locked, priced,
 * re-read and run. The engine owns the rest: the order, one lock per job (a job another process
 * holds is skipped), the ETA, worker processes (workers.ts) and Slurm shards (shards.ts,
 * slurm.ts). The kinds: a training run with its evaluations (lib/experiments/run_job.ts) and the
 * mechanism measures of a trained run (lib/analysis/measure_job.ts).
 *
 * A job is the kind's own typed value, planned and checked before the engine sees it: the engine
 * never validates settings, it only orders, locks and runs.
 */

export interface JobKind<J, C> {
  /** The word lines use for one job: "run". */
  noun: string;
  /** Which job, in lines: "ST seed 0". */
  label(job: J): string;
  /** The lock file of the job: every process that may work on it takes this one. */
  lockPath(job: J): string;
  /** Estimated seconds (or the kind's work units): workers take the costliest first. */
  cost(job: J): number;
  /** Jobs of a lower phase go first in a worker (training before evaluations of trained runs). */
  phase?(job: J): number;
  /**
   * Load what the jobs share (a dataset, the backend): called once, before the first job, and
   * only when some job has work left.
   */
  setup(): Promise<C>;
  /**
   * The job as the files say now, read once its lock is held (another process may have done part
   * or all of it since the plan); null when nothing of it is left.
   */
  refresh(job: J): J | null;
  /** The line said as a job starts (with its place and calibrated times), or null for none. */
  startLine?(job: J, at: JobStart): string | null;
  /**
   * Do the job and write its output. Resolves false when its wall time is no fair sample of its
   * cost (a run resumed from a checkpoint did only part of it): the ETA calibration leaves it out.
   */
  run(job: J, shared: C, at: JobStart): Promise<boolean | void>;
}

/** Where a job stands as it starts. */
export interface JobStart {
  /** 1-based place in this process's list. */
  index: number;
  total: number;
  /** This job's cost scaled by how fast this process has been so far. */
  estimate: number;
  /** What is left of the list (this job included), scaled the same way and shared by the workers. */
  eta: number;
  /** Seconds since the engine started. */
  elapsed: number;
}
