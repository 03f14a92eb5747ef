/** A job-engine request that cannot be served (a bad --workers, a refused sbatch): one sentence. */
import { UserError } from "../util/user_error.ts";

export class JobError extends UserError {
  override name = "JobError";
}
