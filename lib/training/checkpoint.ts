/**
 * Training checkpoints: one file per run directory, rewritten after every epoch.
 *
 * Format (little-endian): "SAMATCK1" | uint32 header bytes | UTF-8 JSON header | zero padding to a
 * multiple of 4 | float32 data of every tensor back to back. The header holds the run fingerprint
 * (the full training config and a hash of the training data), the number of finished epochs, the
 * RNG state, the metrics so far, the accumulated training seconds and, per tensor, its name, shape
 * and offset. Tensors are the model parameters ("param:"), BatchNorm running statistics
 * ("buffer:") and SGD momentum buffers ("momentum:").
 *
 * The backend that wrote a checkpoint is recorded but not checked: a run resumed on another
 * backend continues with that backend's rounding (bit-identical resumes need the same backend and
 * machine; on tfjs-node CPU they were measured bit-identical, even across a SIGKILL and restart).
 *
 * Writes are atomic: the file is written to a temporary name in the same directory, flushed to
 * disk, then renamed over the old one, so a run killed at any moment leaves either the previous
 * or the new checkpoint, never a torn one.
 *
 * Integrity (version 2): the header's "sha256" is the SHA-256 of the header JSON without that
 * field followed by the float32 data, so a flipped byte anywhere (an epoch 3 -> 9, a negated
 * weight) is refused instead of resumed. Version 1 files (no checksum) still load, unverified,
 * so runs checkpointed before checksums existed can resume. Every file is also checked for a
 * consistent shape index, a valid RNG state and finite numbers; any fault is one sentence naming
 * the file and the fix (delete it).
 */
import { createHash } from "node:crypto";
import { join } from "node:path";
import { writeFileAtomic } from "../util/atomic_write.ts";
import type { NamedArray } from "../models/model.ts";
import { UserError } from "../util/user_error.ts";
import { OptionError } from "../util/validate.ts";
import { canonicalJson } from "../util/canonical_json.ts";

const MAGIC = "SAMATCK1";
export const CHECKPOINT_FILE = "checkpoint.samat";

export interface CheckpointState<M = unknown> {
  /** Everything that must match for a resume to be valid. */
  fingerprint: Record<string, unknown>;
  /** Finished epochs. */
  epoch: number;
  rng: number[];
  metrics: M[];
  trainSeconds: number;
  tensors: Record<string, NamedArray>;
  /** Informational: the backend that wrote it, when. */
  backend?: string;
  savedAt?: string;
}

export class CheckpointError extends UserError {
  override name = "CheckpointError";
}

export function checkpointPath(dir: string): string {
  return join(dir, CHECKPOINT_FILE);
}

/** Hex SHA-256 of the header JSON (without its checksum) followed by the tensor data. */
function payloadHash(headerJson: string, data: Uint8Array): string {
  return createHash("sha256").update(new TextEncoder().encode(headerJson)).update(data)
    .digest("hex");
}

/** Save the state; the file is replaced atomically (lib/util/atomic_write.ts). */
export function saveCheckpoint(path: string, state: CheckpointState): void {
  const names = Object.keys(state.tensors);
  let offset = 0;
  const index = names.map((name) => {
    const t = state.tensors[name];
    const entry = { name, shape: t.shape, offset, length: t.data.length };
    offset += t.data.length;
    return entry;
  });
  const header = {
    version: 2,
    fingerprint: state.fingerprint,
    epoch: state.epoch,
    rng: state.rng,
    metrics: state.metrics,
    trainSeconds: state.trainSeconds,
    backend: state.backend,
    savedAt: state.savedAt ?? new Date().toISOString(),
    tensors: index,
  };
  const floats = new Float32Array(offset);
  names.forEach((name, i) => floats.set(state.tensors[name].data, index[i].offset));
  const data = new Uint8Array(floats.buffer);
  // The checksum goes last, so the loader rebuilds the hashed JSON by dropping it.
  const sha256 = payloadHash(JSON.stringify(header), data);
  const headerBytes = new TextEncoder().encode(JSON.stringify({ ...header, sha256 }));
  const start = Math.ceil((8 + 4 + headerBytes.length) / 4) * 4;
  const bytes = new Uint8Array(start + data.length);
  bytes.set(new TextEncoder().encode(MAGIC), 0);
  new DataView(bytes.buffer).setUint32(8, headerBytes.length, true);
  bytes.set(headerBytes, 12);
  bytes.set(data, start);

  writeFileAtomic(path, bytes);
}

/** The checkpoint at path, or null when there is none. Throws CheckpointError on a damaged file. */
export function loadCheckpoint<M = unknown>(path: string): CheckpointState<M> | null {
  const damaged = (why: string) =>
    new CheckpointError(
      `Checkpoint ${path} is damaged (${why}); delete it to start the run afresh.`,
    );
  let bytes: Uint8Array;
  try {
    bytes = Deno.readFileSync(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return null;
    if (err instanceof Deno.errors.IsADirectory) throw damaged("a directory, not a file");
    throw new CheckpointError(
      `Checkpoint ${path} cannot be read (${
        (err as Error).message
      }); fix its permissions or delete it to start the run afresh.`,
    );
  }
  if (bytes.length < 12 || new TextDecoder().decode(bytes.subarray(0, 8)) !== MAGIC) {
    throw damaged("not a sam-at checkpoint");
  }
  const headerLength = new DataView(bytes.buffer, bytes.byteOffset).getUint32(8, true);
  if (12 + headerLength > bytes.length) throw damaged("truncated header");
  let header: any;
  try {
    header = JSON.parse(new TextDecoder().decode(bytes.subarray(12, 12 + headerLength)));
  } catch {
    throw damaged("unreadable header");
  }
  if (!header || typeof header !== "object" || Array.isArray(header)) {
    throw damaged("unreadable header");
  }
  if (!Array.isArray(header.tensors)) throw damaged("no tensor index");
  const start = Math.ceil((12 + headerLength) / 4) * 4;
  const total = (header.tensors as { length: number }[]).reduce((s, t) => s + t?.length, 0);
  if (!Number.isInteger(total) || start + total * 4 !== bytes.length) {
    throw damaged("truncated data");
  }
  // Copy into an aligned buffer: readFileSync's bytes need not start at a multiple of 4.
  const data = bytes.slice(start);
  const { sha256, ...hashed } = header;
  if (sha256 !== undefined || header.version !== 1) {
    if (sha256 !== payloadHash(JSON.stringify(hashed), data)) {
      throw damaged("its SHA-256 checksum does not match: the file was changed or corrupted");
    }
  }
  checkHeaderFields(header, damaged);
  const floats = new Float32Array(data.buffer);
  const tensors: Record<string, NamedArray> = {};
  let expectedOffset = 0;
  for (const t of header.tensors as TensorEntry[]) {
    const ok = t && typeof t.name === "string" && !Object.hasOwn(tensors, t.name) &&
      Array.isArray(t.shape) && t.shape.every((d) => Number.isInteger(d) && d >= 0) &&
      t.shape.reduce((a, d) => a * d, 1) === t.length && t.offset === expectedOffset;
    if (!ok) throw damaged(`bad index entry ${JSON.stringify(t?.name ?? t)}`);
    expectedOffset += t.length;
    const values = floats.subarray(t.offset, t.offset + t.length);
    // Training stops on a non-finite loss before saving, so a NaN here is damage, not divergence.
    if (!values.every(Number.isFinite)) throw damaged(`tensor ${t.name} holds NaN or infinity`);
    tensors[t.name] = { shape: t.shape, data: values };
  }
  return {
    fingerprint: header.fingerprint,
    epoch: header.epoch,
    rng: header.rng,
    metrics: header.metrics,
    trainSeconds: header.trainSeconds,
    tensors,
    backend: header.backend,
    savedAt: header.savedAt,
  };
}

interface TensorEntry {
  name: string;
  shape: number[];
  offset: number;
  length: number;
}

/** The header's scalar fields: a fingerprint, whole epochs, a valid RNG state, finite seconds. */
function checkHeaderFields(header: any, damaged: (why: string) => Error): void {
  const fp = header.fingerprint;
  if (!fp || typeof fp !== "object" || Array.isArray(fp)) throw damaged("no run fingerprint");
  const epochs = typeof fp.epochs === "number" ? fp.epochs : Infinity;
  if (!Number.isInteger(header.epoch) || header.epoch < 0 || header.epoch > epochs) {
    throw damaged(`bad epoch count ${JSON.stringify(header.epoch)}`);
  }
  const rng = header.rng;
  const rngOk = Array.isArray(rng) && rng.length === 4 &&
    rng.every((v: unknown) =>
      Number.isInteger(v) && (v as number) >= 0 && (v as number) < 2 ** 32
    ) &&
    rng.some((v: number) => v !== 0);
  if (!rngOk) throw damaged("bad RNG state");
  if (!Array.isArray(header.metrics)) throw damaged("no metrics list");
  if (typeof header.trainSeconds !== "number" || !(header.trainSeconds >= 0)) {
    throw damaged("bad training time");
  }
}

/**
 * Apply a loaded checkpoint (import weights, optimizer state, RNG state); a state that does not
 * fit this model (a missing tensor, a wrong shape) becomes the "damaged ... delete it" sentence.
 */
export function restoreCheckpoint(path: string, apply: () => void): void {
  try {
    apply();
  } catch (err) {
    // An option the loaded state fails (OptionError) is a state that does not fit too.
    if (!(err instanceof RangeError || err instanceof TypeError || err instanceof OptionError)) {
      throw err;
    }
    const why = err.message.split(/;|\.\s/)[0].replace(/\.$/, "");
    throw new CheckpointError(
      `Checkpoint ${path} is damaged (${why}); delete it to start the run afresh.`,
    );
  }
}

const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === "object" && !Array.isArray(v);

/** The differing leaf settings of two configs, as dotted paths ("method.optimizer.rho"). */
function differences(a: unknown, b: unknown, at: string): [string, string, string][] {
  if (isPlainObject(a) && isPlainObject(b)) {
    const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
    return keys.flatMap((k) => differences(a[k], b[k], at ? `${at}.${k}` : k));
  }
  const x = canonicalJson(a) ?? "unset";
  const y = canonicalJson(b) ?? "unset";
  return x === y ? [] : [[at || "fingerprint", x, y]];
}

/**
 * Throw a CheckpointError naming the settings (up to three, as dotted paths into nested
 * settings) that differ between the checkpoint's fingerprint and this run's.
 */
export function checkFingerprint(
  path: string,
  saved: Record<string, unknown>,
  current: Record<string, unknown>,
): void {
  const diffs = differences(saved ?? {}, current, "");
  if (diffs.length === 0) return;
  const shown = diffs.slice(0, 3).map(([k, a, b]) => `${k} was ${a}, this run has ${b}`);
  if (diffs.length > 3) shown.push(`and ${diffs.length - 3} more`);
  throw new CheckpointError(
    `Checkpoint ${path} belongs to a different run (${
      shown.join("; ")
    }); use another checkpoint directory or delete it to start afresh.`,
  );
}
