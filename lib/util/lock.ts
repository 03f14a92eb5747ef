/**
 * Lock files shared by processes that write the same results file or train the same run.
 *
 * A lock is the file `<something>.lock` holding its owner as JSON (host, pid, the process's start
 * time, a random token). It is created in one step (a hard link of a finished temp file), so no
 * reader ever sees half an owner. Policy: a process waits (up to a minute) for a results-file
 * lock, which is held for milliseconds, and skips a run whose lock another live process holds,
 * saying so; a lock whose process is gone (pid not alive, or the pid now belongs to a process
 * started later) is taken over at once. An empty lock (the first version's format) counts as
 * stale after 10 s. Locks of another host cannot be checked and count as live.
 */
import { dirname } from "node:path";
import process from "node:process";
import { UserError } from "./user_error.ts";

/** A lock that cannot be taken or is damaged; its message names the file and the fix. */
export class LockError extends UserError {
  override name = "LockError";
}

export interface LockOwner {
  host: string;
  pid: number;
  /** Start time of the process (field 22 of /proc/<pid>/stat), against pid reuse. */
  start: string | null;
  token: string;
  since: string;
}

export interface HeldLock {
  path: string;
  owner: LockOwner;
  release(): void;
}

export interface LockHolder {
  path: string;
  /** null: the lock file is empty or unreadable (an old-format or half-written lock). */
  owner: LockOwner | null;
}

const EMPTY_LOCK_STALE_MS = 10_000;

function hostname(): string {
  try {
    return Deno.hostname();
  } catch {
    return "unknown";
  }
}

/** The start time of a process from /proc, or null where /proc has no such process. */
export function processStartTime(pid: number): string | null {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    // The command name (field 2) is in parentheses and may hold spaces: split after it.
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19] ?? null;
  } catch {
    return null;
  }
}

function hasProc(): boolean {
  try {
    return Deno.statSync("/proc/self/stat").isFile;
  } catch {
    return false;
  }
}

/** Whether process `pid` of this host is running (and, given its start time, is that process). */
export function pidAlive(pid: number, start?: string | null): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  if (pid === Deno.pid) return true;
  if (hasProc()) {
    const now = processStartTime(pid);
    if (now === null) return false;
    return start == null || now === start;
  }
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as { code?: string }).code === "EPERM";
  }
}

function sleep(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

function readRaw(path: string): string | null {
  try {
    return Deno.readTextFileSync(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return null;
    if (err instanceof Deno.errors.IsADirectory) {
      throw new LockError(`Lock file ${path} is a directory; remove it and rerun.`);
    }
    throw new LockError(
      `Lock file ${path} cannot be read (${(err as Error).message}); remove it and rerun.`,
    );
  }
}

function parseOwner(raw: string): LockOwner | null {
  try {
    const o = JSON.parse(raw);
    return o && typeof o === "object" && Number.isInteger(o.pid) && typeof o.token === "string"
      ? o as LockOwner
      : null;
  } catch {
    return null;
  }
}

function ageMs(path: string): number {
  try {
    return Date.now() - (Deno.statSync(path).mtime?.getTime() ?? Date.now());
  } catch {
    return 0;
  }
}

/** Whether a lock's owner is certainly gone. */
function isStale(path: string, owner: LockOwner | null): boolean {
  if (owner === null) return ageMs(path) > EMPTY_LOCK_STALE_MS;
  if (owner.host !== hostname()) return false;
  return !pidAlive(owner.pid, owner.start);
}

/** "process 1234 on host h (since ...)", for messages. */
export function describeHolder(h: LockHolder): string {
  if (!h.owner) return "an unknown process (empty lock file)";
  const host = h.owner.host === hostname() ? "" : ` on host ${h.owner.host}`;
  return `process ${h.owner.pid}${host} (since ${h.owner.since})`;
}

/** Create `path` with `text` in one step; false when it exists already. */
function createWhole(path: string, text: string): boolean {
  const tmp = `${path}.tmp-${Deno.pid}-${crypto.randomUUID().slice(0, 8)}`;
  try {
    Deno.writeTextFileSync(tmp, text);
    try {
      Deno.linkSync(tmp, path);
      return true;
    } catch (err) {
      if (err instanceof Deno.errors.AlreadyExists) return false;
      // A file system without hard links: create-exclusive, then write (readers allow 10 s).
      let f: Deno.FsFile;
      try {
        f = Deno.openSync(path, { write: true, createNew: true });
      } catch (err2) {
        if (err2 instanceof Deno.errors.AlreadyExists) return false;
        throw err2;
      }
      try {
        f.writeSync(new TextEncoder().encode(text));
      } finally {
        f.close();
      }
      return true;
    }
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code === "ENOSPC" || code === "EDQUOT") {
      throw new LockError(
        `Disk full while writing ${path}; free space and rerun: finished runs are kept.`,
      );
    }
    if (err instanceof Deno.errors.PermissionDenied || code === "EROFS" || code === "ENOTDIR") {
      throw new LockError(
        `Cannot create lock file ${path} (${
          (err as Error).message
        }); make its folder writable or name another results path.`,
      );
    }
    throw err;
  } finally {
    try {
      Deno.removeSync(tmp);
    } catch { /* gone */ }
  }
}

/** Remove a stale lock unless it changed meanwhile (another process may have taken it over). */
function takeOver(path: string, staleRaw: string): void {
  const guard = `${path}.takeover`;
  try {
    Deno.openSync(guard, { write: true, createNew: true }).close();
  } catch (err) {
    if (!(err instanceof Deno.errors.AlreadyExists)) throw err;
    // A takeover lasts milliseconds: an old guard was left by a killed process.
    if (ageMs(guard) > EMPTY_LOCK_STALE_MS) Deno.removeSync(guard);
    else sleep(20);
    return;
  }
  try {
    if (readRaw(path) === staleRaw) Deno.removeSync(path);
  } finally {
    Deno.removeSync(guard);
  }
}

/** Take the lock at `path` now, or say who holds it; a stale lock is taken over. */
export function tryLock(path: string): HeldLock | LockHolder & { held: true } {
  Deno.mkdirSync(dirname(path), { recursive: true });
  const owner: LockOwner = {
    host: hostname(),
    pid: Deno.pid,
    start: processStartTime(Deno.pid),
    token: crypto.randomUUID(),
    since: new Date().toISOString(),
  };
  const text = JSON.stringify(owner);
  for (let attempt = 0; attempt < 100; attempt++) {
    if (createWhole(path, text)) {
      return {
        path,
        owner,
        release() {
          // Only our own lock: never remove one that another process took over.
          try {
            if (readRaw(path) === text) Deno.removeSync(path);
          } catch { /* already gone */ }
        },
      };
    }
    const raw = readRaw(path);
    if (raw === null) continue; // released meanwhile
    const holder = parseOwner(raw);
    if (isStale(path, holder)) {
      takeOver(path, raw);
      continue;
    }
    return { path, owner: holder, held: true };
  }
  throw new LockError(`Lock file ${path} keeps changing hands; remove it and rerun.`);
}

/**
 * Remove the lock at `path` when its owner is certainly gone (a killed writer's), so it is not
 * left behind; a live holder's lock is kept. Returns whether a stale lock was removed.
 */
export function clearStaleLock(path: string): boolean {
  const raw = readRaw(path);
  if (raw === null || !isStale(path, parseOwner(raw))) return false;
  takeOver(path, raw);
  return readRaw(path) === null;
}

/** Run `body` holding the lock at `lockPath`, waiting up to `waitMs` for a live holder. */
export function withLock<T>(
  lockPath: string,
  what: string,
  body: () => T,
  waitMs = 60_000,
): T {
  const deadline = Date.now() + waitMs;
  for (;;) {
    const got = tryLock(lockPath);
    if (!("held" in got)) {
      try {
        return body();
      } finally {
        got.release();
      }
    }
    if (Date.now() > deadline) {
      throw new LockError(
        `${what} has been locked by ${describeHolder(got)} for over ${
          Math.round(waitMs / 1000)
        } s (lock file ${lockPath}); wait for that process to finish, or stop it and rerun (a dead process's lock is taken over).`,
      );
    }
    sleep(50);
  }
}
