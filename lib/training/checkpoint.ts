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
 */
import { join } from "node:path";
import { writeFileAtomic } from "../util/atomic_write.ts";
import type { NamedArray } from "../models/model.ts";

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

export class CheckpointError extends Error {
  override name = "CheckpointError";
}

export function checkpointPath(dir: string): string {
  return join(dir, CHECKPOINT_FILE);
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
    version: 1,
    fingerprint: state.fingerprint,
    epoch: state.epoch,
    rng: state.rng,
    metrics: state.metrics,
    trainSeconds: state.trainSeconds,
    backend: state.backend,
    savedAt: state.savedAt ?? new Date().toISOString(),
    tensors: index,
  };
  const headerBytes = new TextEncoder().encode(JSON.stringify(header));
  const start = Math.ceil((8 + 4 + headerBytes.length) / 4) * 4;
  const bytes = new Uint8Array(start + offset * 4);
  bytes.set(new TextEncoder().encode(MAGIC), 0);
  new DataView(bytes.buffer).setUint32(8, headerBytes.length, true);
  bytes.set(headerBytes, 12);
  const floats = new Float32Array(bytes.buffer, start, offset);
  names.forEach((name, i) => floats.set(state.tensors[name].data, index[i].offset));

  writeFileAtomic(path, bytes);
}

/** The checkpoint at path, or null when there is none. Throws CheckpointError on a damaged file. */
export function loadCheckpoint<M = unknown>(path: string): CheckpointState<M> | null {
  let bytes: Uint8Array;
  try {
    bytes = Deno.readFileSync(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return null;
    throw err;
  }
  const damaged = (why: string) =>
    new CheckpointError(
      `Checkpoint ${path} is damaged (${why}); delete it to start the run afresh.`,
    );
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
  const start = Math.ceil((12 + headerLength) / 4) * 4;
  const total = (header.tensors as { length: number }[]).reduce((s, t) => s + t.length, 0);
  if (start + total * 4 !== bytes.length) throw damaged("truncated data");
  // Copy into an aligned buffer: readFileSync's bytes need not start at a multiple of 4.
  const floats = new Float32Array(bytes.slice(start).buffer);
  const tensors: Record<string, NamedArray> = {};
  for (
    const t of header.tensors as { name: string; shape: number[]; offset: number; length: number }[]
  ) {
    tensors[t.name] = { shape: t.shape, data: floats.subarray(t.offset, t.offset + t.length) };
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

function stable(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stable).join(",")}]`;
  if (value !== null && typeof value === "object") {
    const keys = Object.keys(value as object).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${stable((value as any)[k])}`).join(",")}}`;
  }
  return JSON.stringify(value);
}

/**
 * Throw a CheckpointError naming the first setting that differs between the checkpoint's
 * fingerprint and this run's.
 */
export function checkFingerprint(
  path: string,
  saved: Record<string, unknown>,
  current: Record<string, unknown>,
): void {
  const keys = [...new Set([...Object.keys(current), ...Object.keys(saved ?? {})])].sort();
  for (const key of keys) {
    const a = stable(saved?.[key]);
    const b = stable(current[key]);
    if (a !== b) {
      throw new CheckpointError(
        `Checkpoint ${path} belongs to a different run (${key} was ${a ?? "unset"}, this run has ${
          b ?? "unset"
        }); use another checkpoint directory or delete it to start afresh.`,
      );
    }
  }
}
