/**
 * Results shards: a job done apart from its results file (one Slurm array task) writes its output
 * to files of its own, one per table of the kind (a training run: its runs row and its
 * evaluation rows), so no two processes ever append to one file. Merging copies every complete
 * shard row the results file lacks into it, table by table, so merging twice changes nothing. A
 * row that belongs to a row of the first table (an evaluation of a run) is held back, and named,
 * while that row is in neither the results file nor a shard: a reader never sees it alone. A
 * damaged shard keeps its complete rows: they are merged, the damage is named, and nothing
 * already merged is touched.
 */

/** One output table of a kind, as the merge sees it. */
export interface ShardTable<R> {
  /** This table's file beside a results path or a shard path (x.csv -> x.evals.csv). */
  pathOf(base: string): string;
  /** The complete rows the results file has already. */
  existing(base: string): readonly R[];
  /** A shard file's complete rows and what is wrong with the rest ("is damaged: ..."). */
  readShard(path: string): { rows: R[]; problem?: string };
  /** Rows with one id are one result. */
  id(row: R): string;
  /** Append one row to the results file; false when it was there already. */
  append(base: string, row: R): boolean;
  /** The first table's id of the row this one belongs to (an evaluation's run). */
  owner?(row: R): string;
  /** Names `count` rows held back because their owner `owner` is nowhere (a sentence's end). */
  orphans?(count: number, owner: string): string;
}

export interface ShardProblem {
  path: string;
  message: string;
}

export interface MergeOutcome {
  /** Shard files read (the first table's; the other tables' files come with them). */
  shards: string[];
  /** Rows added, per table. */
  added: number[];
  /** Shard rows the results file already had. */
  duplicates: number;
  /** Shard files with rows that could not be merged (their complete rows were). */
  problems: ShardProblem[];
}

/** The files of a shards folder that `keep` accepts, in name order ([] when it is absent). */
export function listShardFiles(dir: string, keep: (name: string) => boolean): string[] {
  const names: string[] = [];
  try {
    for (const e of Deno.readDirSync(dir)) if (e.isFile && keep(e.name)) names.push(e.name);
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  }
  return names.sort().map((n) => `${dir.replace(/\/$/, "")}/${n}`);
}

/**
 * Merge `shards` (paths of the first table's files) into the results file `base`, table by
 * table: each complete row it lacks is appended once. Never throws for a damaged shard (the caller
 * reports `problems`); the results file is only ever appended to.
 */
export function mergeShards<R>(
  base: string,
  shards: readonly string[],
  tables: readonly ShardTable<R>[],
): MergeOutcome {
  const out: MergeOutcome = { shards: [...shards], added: [], duplicates: 0, problems: [] };
  const ids = tables.map((t) => new Set(t.existing(base).map((r) => t.id(r))));
  tables.forEach((t, i) => {
    out.added.push(0);
    for (const shard of shards) {
      const path = t.pathOf(shard);
      const { rows, problem } = t.readShard(path);
      if (problem) out.problems.push({ path, message: problem });
      const orphans = new Map<string, number>();
      for (const r of rows) {
        const owner = i > 0 && t.owner ? t.owner(r) : null;
        if (owner !== null && !ids[0].has(owner)) {
          orphans.set(owner, (orphans.get(owner) ?? 0) + 1);
        } else if (ids[i].has(t.id(r))) out.duplicates++;
        else if (t.append(base, r)) {
          ids[i].add(t.id(r));
          out.added[i]++;
        }
      }
      for (const [owner, count] of orphans) {
        out.problems.push({
          path,
          message: t.orphans?.(count, owner) ??
            `has ${count} row(s) of ${owner}, which is in no other table; they were not merged`,
        });
      }
    }
  });
  return out;
}
