/**
 * Trained-model files in the safetensors format (https://github.com/huggingface/safetensors), so
 * that PyTorch (scripts/load_model.py), AutoAttack or RobustBench scripts can evaluate a run.
 *
 * Layout (all little-endian):
 *   uint64 N | N bytes of UTF-8 JSON header, padded with spaces to a multiple of 8 | tensor data
 * The header maps each tensor name to {"dtype": "F32", "shape": [...], "data_offsets": [begin, end]}
 * (byte offsets into the data that follows the header; the tensors cover it back to back, without
 * holes) and "__metadata__" to a string -> string map. Tensors are every parameter and every
 * BatchNorm running statistic under the model's own names ("conv1.weight",
 * "layer2.0.shortcut.0.weight", "bn1.running_var", ...: PyTorch's state_dict names), in tfjs
 * layouts: conv weights [kh, kw, cin, cout] (HWIO), linear weights [in, out]. scripts/load_model.py
 * converts them to PyTorch's OIHW / [out, in].
 * __metadata__.sam_at is a JSON string:
 *   {"format": "sam-at-model", "version": 1, "spec": ModelSpec (arch, width, inputShape [H, W, C],
 *    numClasses, mean, std), "layout": "...", "sha256": see below,
 *    "meta": the caller's run description (run key, row id, seed, dataset, ...)}
 * The normalisation (mean/std) is part of the model: its inputs are NHWC pixels in [0, 1].
 *
 * Integrity. Version 2: "sha256" is the SHA-256 of the whole file with these 64 hex digits written
 * as zeros, so a changed byte anywhere (a normalisation mean, the run key, a weight) is refused;
 * the digits occur once in the header, so any reader can zero them and hash (scripts/
 * model_file_check.py does). Version 1 (the models written before): "sha256" covers the tensor
 * data only; such files still load, with their data checked, and their header checked only
 * against what the caller knows (loadModelFile's `expect`). Either version: a file whose name
 * ends in "-<run key>.safetensors" (the runner's) must hold that run's key in meta.run_key, so a
 * model of another run copied over it is refused.
 *
 * Why our own ~100 lines and no library: on npm, "safetensors" is a 0.0.1 placeholder without a
 * repository, and @huggingface/hub only parses headers of files on the Hub (no writer, and a large
 * dependency). The format is a length, a JSON header and raw float32 data, so a reader/writer is
 * short, and owning it lets every damaged state get its own one-sentence ModelFileError.
 * scripts/load_model.py reads the files with the reference `safetensors` package when installed,
 * which also checks that these files conform.
 */
import { createHash } from "node:crypto";
import { writeFileAtomic } from "../util/atomic_write.ts";
import { createModel, importModel, type Model, type ModelSpec, type NamedArray } from "./model.ts";
import { validateModelSpec } from "./model.ts";
import { Rng } from "../util/rng.ts";
import { UserError } from "../util/user_error.ts";

export const MODEL_FILE_FORMAT = "sam-at-model";
export const MODEL_FILE_VERSION = 2;
/** Versions this code reads (1: the checksum covers the tensor data only). */
const READABLE_VERSIONS = [1, 2];
export const MODEL_FILE_EXTENSION = ".safetensors";
/** How the tensors are laid out (recorded in the file, for readers). */
export const MODEL_FILE_LAYOUT =
  "tfjs: conv weights [kh, kw, cin, cout], linear weights [in, out]; inputs NHWC in [0, 1]";
/** The safetensors reference implementation refuses headers above 100 MB. */
const MAX_HEADER_BYTES = 100_000_000;

/** A model file that is missing, damaged or not ours; the message names the file and the fix. */
export class ModelFileError extends UserError {
  override name = "ModelFileError";
}

/** JSON-serialisable description of the run that trained the model. */
export type ModelFileMeta = Record<string, unknown>;

export interface ModelFileInfo {
  spec: ModelSpec;
  meta: ModelFileMeta;
  version: number;
  /** Hex SHA-256: version 2 of the whole file (its own digits as zeros), version 1 of the data. */
  sha256: string;
  tensors: { name: string; dtype: string; shape: number[]; begin: number; end: number }[];
  /** Byte offset of the tensor data in the file. */
  dataStart: number;
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function sha256(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

/** The checksum field while the file is hashed (version 2). */
const UNSET = "0".repeat(64);

/** Where the ASCII text `what` occurs in `bytes`, when it occurs exactly once; else -1. */
function onlyOccurrence(bytes: Uint8Array, what: string): number {
  const text = new TextDecoder("latin1").decode(bytes); // one char per byte: indices agree
  const at = text.indexOf(what);
  return at >= 0 && text.indexOf(what, at + 1) < 0 ? at : -1;
}

/** Whether a version-2 file's bytes hash to the SHA-256 its header claims. */
function wholeFileMatches(bytes: Uint8Array, info: ModelFileInfo): boolean {
  const at = onlyOccurrence(bytes.subarray(0, info.dataStart), info.sha256);
  if (at < 0) return false;
  const copy = bytes.slice();
  copy.set(new TextEncoder().encode(UNSET), at);
  return sha256(copy) === info.sha256;
}

/** Write the model (parameters and BN running statistics) and `meta`; atomic (temp + rename). */
export function saveModelFile(path: string, model: Model, meta: ModelFileMeta = {}): void {
  if (!LITTLE_ENDIAN) {
    throw new ModelFileError("Model files are written on little-endian machines only.");
  }
  if (meta === null || typeof meta !== "object" || Array.isArray(meta)) {
    throw new ModelFileError(
      `Model file ${path}: meta must be a plain object, got ${JSON.stringify(meta)}.`,
    );
  }
  const names = [...model.paramNames, ...model.bufferNames];
  const vars = [...model.params, ...model.buffers];
  if (new Set(names).size !== names.length) {
    throw new ModelFileError(
      `Model file ${path}: the model has duplicate tensor names; rename them in lib/models/model.ts.`,
    );
  }
  const arrays = vars.map((v) => v.dataSync() as Float32Array);
  const asBytes = (a: Float32Array) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  const header: Record<string, unknown> = {};
  let offset = 0;
  const entries = names.map((name, i) => {
    const a = arrays[i];
    const entry = {
      dtype: "F32",
      shape: [...vars[i].shape],
      data_offsets: [offset, offset + a.byteLength],
    };
    offset += a.byteLength;
    return [name, entry] as const;
  });
  const samAt = {
    format: MODEL_FILE_FORMAT,
    version: MODEL_FILE_VERSION,
    spec: model.spec,
    layout: MODEL_FILE_LAYOUT,
    sha256: UNSET,
    meta,
  };
  let samAtJson: string;
  try {
    samAtJson = JSON.stringify(samAt);
  } catch (err) {
    throw new ModelFileError(
      `Model file ${path}: meta is not JSON-serialisable (${(err as Error).message}).`,
    );
  }
  header.__metadata__ = { sam_at: samAtJson };
  for (const [name, entry] of entries) header[name] = entry;
  const json = new TextEncoder().encode(JSON.stringify(header));
  const headerLength = Math.ceil(json.length / 8) * 8; // padded with spaces, as the format allows
  const bytes = new Uint8Array(8 + headerLength + offset);
  new DataView(bytes.buffer).setBigUint64(0, BigInt(headerLength), true);
  bytes.set(json, 8);
  bytes.fill(0x20, 8 + json.length, 8 + headerLength);
  entries.forEach(([, e], i) =>
    bytes.set(asBytes(arrays[i]), 8 + headerLength + e.data_offsets[0])
  );
  const at = onlyOccurrence(bytes.subarray(0, 8 + headerLength), UNSET);
  if (at < 0) {
    throw new ModelFileError(
      `Model file ${path}: meta holds 64 zeros, which the checksum field needs to itself; change meta.`,
    );
  }
  bytes.set(new TextEncoder().encode(sha256(bytes)), at);
  writeFileAtomic(path, bytes);
}

function damaged(path: string, why: string): ModelFileError {
  return new ModelFileError(
    `Model file ${path} is damaged (${why}); copy it again or re-run the training that wrote it.`,
  );
}

/** Open errors (missing, a directory, unreadable) as ModelFileErrors. */
function openError(path: string, err: unknown): ModelFileError {
  if (err instanceof ModelFileError) return err;
  if (err instanceof Deno.errors.NotFound) {
    return new ModelFileError(
      `Model file ${path} does not exist; check the path or run the training that writes it.`,
    );
  }
  if (err instanceof Deno.errors.IsADirectory) return isDirectory(path);
  return new ModelFileError(
    `Model file ${path} cannot be read (${(err as Error).message}); check its permissions.`,
  );
}

function isDirectory(path: string): ModelFileError {
  return new ModelFileError(
    `Model file ${path} is a directory, not a file; pass the path of a ${MODEL_FILE_EXTENSION} file.`,
  );
}

/** Read the header from the file's first bytes; checks it against the file size. */
function parseHeader(path: string, head: Uint8Array, fileSize: number): ModelFileInfo {
  if (fileSize < 8) throw damaged(path, `truncated: ${fileSize} bytes, no header`);
  const n = new DataView(head.buffer, head.byteOffset, 8).getBigUint64(0, true);
  if (n > BigInt(MAX_HEADER_BYTES)) throw damaged(path, `header length ${n} is not plausible`);
  const headerLength = Number(n);
  if (8 + headerLength > fileSize) throw damaged(path, "truncated inside the header");
  let header: any;
  try {
    header = JSON.parse(
      new TextDecoder("utf-8", { fatal: true }).decode(head.subarray(8, 8 + headerLength)),
    );
  } catch {
    throw damaged(path, "the header is not valid JSON");
  }
  if (header === null || typeof header !== "object" || Array.isArray(header)) {
    throw damaged(path, "the header is not a JSON object");
  }
  const rawMeta = header.__metadata__?.sam_at;
  if (typeof rawMeta !== "string") {
    throw new ModelFileError(
      `Model file ${path} has no sam_at metadata, so it was not written by saveModelFile; load it with the tool that wrote it.`,
    );
  }
  let samAt: any;
  try {
    samAt = JSON.parse(rawMeta);
  } catch {
    throw damaged(path, "the sam_at metadata is not valid JSON");
  }
  if (samAt?.format !== MODEL_FILE_FORMAT || typeof samAt.version !== "number") {
    throw damaged(path, "the sam_at metadata lacks its format and version");
  }
  if (!READABLE_VERSIONS.includes(samAt.version)) {
    throw new ModelFileError(
      `Model file ${path} has format version ${samAt.version}, this code reads versions ${
        READABLE_VERSIONS.join(" and ")
      }; use the sam-at version that wrote it.`,
    );
  }
  try {
    validateModelSpec(samAt.spec);
  } catch (err) {
    throw damaged(path, `its model spec is invalid: ${(err as Error).message.replace(/\.$/, "")}`);
  }
  if (typeof samAt.sha256 !== "string" || !/^[0-9a-f]{64}$/.test(samAt.sha256)) {
    throw damaged(path, "the sam_at metadata lacks the data checksum");
  }
  const tensors: ModelFileInfo["tensors"] = [];
  for (const [name, t] of Object.entries<any>(header)) {
    if (name === "__metadata__") continue;
    if (t?.dtype !== "F32") {
      throw damaged(path, `tensor ${name} has dtype ${JSON.stringify(t?.dtype)}, expected "F32"`);
    }
    const shape = t.shape, off = t.data_offsets;
    if (
      !Array.isArray(shape) ||
      !shape.every((d: unknown) => Number.isInteger(d) && (d as number) >= 0)
    ) {
      throw damaged(path, `tensor ${name} has no valid shape`);
    }
    if (
      !Array.isArray(off) || off.length !== 2 || !off.every(Number.isInteger) || off[0] > off[1]
    ) {
      throw damaged(path, `tensor ${name} has no valid data_offsets`);
    }
    if (off[1] - off[0] !== 4 * shape.reduce((a: number, b: number) => a * b, 1)) {
      throw damaged(path, `tensor ${name} has ${off[1] - off[0]} bytes for shape [${shape}]`);
    }
    tensors.push({ name, dtype: t.dtype, shape, begin: off[0], end: off[1] });
  }
  // The tensors must cover the data back to back (the format forbids holes and overlaps).
  const sorted = [...tensors].sort((a, b) => a.begin - b.begin);
  let end = 0;
  for (const t of sorted) {
    if (t.begin !== end) {
      throw damaged(path, `tensor ${t.name}'s data does not follow the previous one`);
    }
    end = t.end;
  }
  const dataStart = 8 + headerLength;
  if (dataStart + end !== fileSize) {
    throw damaged(
      path,
      dataStart + end > fileSize
        ? `truncated: ${fileSize} bytes, the header needs ${dataStart + end}`
        : `${fileSize - dataStart - end} bytes after the last tensor`,
    );
  }
  return {
    spec: samAt.spec,
    meta: samAt.meta ?? {},
    version: samAt.version,
    sha256: samAt.sha256,
    tensors,
    dataStart,
  };
}

/** The header only (spec, meta, tensor index): reads the first bytes, not the tensor data. */
export function readModelFileMeta(path: string): ModelFileInfo {
  let file: Deno.FsFile | undefined;
  try {
    const st = Deno.statSync(path);
    if (st.isDirectory) throw isDirectory(path);
    file = Deno.openSync(path, { read: true });
    const readExactly = (n: number): Uint8Array => {
      const buf = new Uint8Array(n);
      let got = 0;
      while (got < n) {
        const r = file!.readSync(buf.subarray(got));
        if (r === null) break;
        got += r;
      }
      return buf.subarray(0, got);
    };
    const size = st.size;
    const first = readExactly(Math.min(8, size));
    if (first.length < 8) throw damaged(path, `truncated: ${size} bytes, no header`);
    const n = new DataView(first.buffer).getBigUint64(0, true);
    const want = n > BigInt(MAX_HEADER_BYTES) || 8 + Number(n) > size ? 0 : Number(n);
    const head = new Uint8Array(8 + want);
    head.set(first);
    head.set(readExactly(want), 8);
    return parseHeader(path, head, size);
  } catch (err) {
    throw openError(path, err);
  } finally {
    file?.close();
  }
}

/** What the caller knows of the model a file must hold: the run's key, the model spec it trains. */
export interface ModelExpectation {
  runKey?: string;
  spec?: ModelSpec;
}

/** Refuse a file that holds another run's model, or a model other than the run trains. */
function checkIdentity(path: string, info: ModelFileInfo, expect: ModelExpectation): void {
  const again = "restore it (e.g. git checkout) or delete it to train that run again.";
  const held = info.meta.run_key;
  const named = /-(k[0-9a-f]{8})\.safetensors$/.exec(path)?.[1];
  for (const key of [expect.runKey, held === undefined ? undefined : named]) {
    if (key !== undefined && held !== key) {
      throw new ModelFileError(
        `Model file ${path} holds run ${
          held ?? "(none)"
        }, not run ${key} (a model of another run copied over it?); ${again}`,
      );
    }
  }
  if (!expect.spec) return;
  const want = expect.spec as unknown as Record<string, unknown>;
  const have = info.spec as unknown as Record<string, unknown>;
  for (const k of ["arch", "width", "inputShape", "numClasses", "mean", "std"]) {
    if (JSON.stringify(have[k]) !== JSON.stringify(want[k])) {
      throw new ModelFileError(
        `Model file ${path} was written for another model (its ${k} is ${
          JSON.stringify(have[k])
        }, the run's ${JSON.stringify(want[k])}); ${again}`,
      );
    }
  }
}

/**
 * Rebuild the model a file holds (createModel from its spec, then its tensors) and its meta,
 * after verifying the file (its checksum; its run key and spec against `expect`).
 */
export function loadModelFile(
  path: string,
  expect: ModelExpectation = {},
): { model: Model; meta: ModelFileMeta } {
  let bytes: Uint8Array;
  try {
    if (Deno.statSync(path).isDirectory) throw isDirectory(path);
    bytes = Deno.readFileSync(path);
  } catch (err) {
    throw openError(path, err);
  }
  if (!LITTLE_ENDIAN) {
    throw new ModelFileError("Model files are read on little-endian machines only.");
  }
  const info = parseHeader(path, bytes, bytes.length);
  const data = bytes.subarray(info.dataStart);
  if (info.version === 1 && sha256(data) !== info.sha256) {
    throw damaged(path, "the tensor data does not match its SHA-256 checksum");
  }
  if (info.version >= 2 && !wholeFileMatches(bytes, info)) {
    throw damaged(path, "its header or data does not match its SHA-256 checksum");
  }
  checkIdentity(path, info, expect);
  const byName = new Map(info.tensors.map((t) => [t.name, t]));
  const model = createModel(info.spec, Rng.fromSeed(0)); // weights are overwritten below
  try {
    const { arch, width } = info.spec;
    const names = [...model.paramNames, ...model.bufferNames];
    const vars = [...model.params, ...model.buffers];
    const state: Record<string, NamedArray> = {};
    names.forEach((name, i) => {
      const t = byName.get(name);
      if (!t) throw damaged(path, `tensor ${name} of a ${arch} width-${width} model is missing`);
      if (t.shape.join(",") !== vars[i].shape.join(",")) {
        throw damaged(
          path,
          `tensor ${name} has shape [${t.shape}], a ${arch} width-${width} model needs [${
            vars[i].shape
          }]`,
        );
      }
      byName.delete(name);
      // slice: an aligned copy (the file's bytes need not start at a multiple of 4).
      const kind = i < model.params.length ? "param" : "buffer";
      state[`${kind}:${name}`] = {
        shape: t.shape,
        data: new Float32Array(data.slice(t.begin, t.end).buffer),
      };
    });
    if (byName.size > 0) {
      throw damaged(
        path,
        `tensor ${[...byName.keys()][0]} is not part of a ${arch} width-${width} model`,
      );
    }
    importModel(model, state);
  } catch (err) {
    model.dispose();
    if (err instanceof ModelFileError) throw err;
    throw damaged(path, (err as Error).message.replace(/\.$/, ""));
  }
  return { model, meta: info.meta };
}
