/**
 * Which TensorFlow.js backend runs the tensors. One setting chooses it: the `backend` argument,
 * else the environment variable SAM_AT_BACKEND, else "tensorflow".
 *
 * - tensorflow:     @tensorflow/tfjs-node (libtensorflow, multi-threaded CPU). The default.
 * - tensorflow-gpu: @tensorflow/tfjs-node-gpu (CUDA); opt-in, installed by `SAM_AT_GPU=1 scripts/setup.sh`.
 * - wasm:           @tensorflow/tfjs-backend-wasm, dependency-free fallback (single thread, SIMD).
 *
 * Every lib module imports "@tensorflow/tfjs-core"; all backends register into that one engine.
 */
import util from "node:util";
import * as tf from "@tensorflow/tfjs-core";
import { withNativeLogFilter } from "./native_log.ts";
import { UserError } from "../util/user_error.ts";

export const BACKENDS = ["tensorflow", "tensorflow-gpu", "wasm"] as const;

/** A backend that is unknown or cannot load; the message names the fix. */
export class BackendError extends UserError {
  override name = "BackendError";
}
export type BackendName = typeof BACKENDS[number];

/** The name tfjs registers each backend under. */
const ENGINE_NAME: Record<BackendName, string> = {
  "tensorflow": "tensorflow",
  "tensorflow-gpu": "tensorflow",
  "wasm": "wasm",
};

let active: BackendName | undefined;
/** Which of tensorflow / tensorflow-gpu this process loaded (they cannot both load). */
let loadedTensorflow: BackendName | undefined;

export function parseBackend(name: string): BackendName {
  if ((BACKENDS as readonly string[]).includes(name)) return name as BackendName;
  throw new BackendError(
    `Unknown backend "${name}": use one of ${
      BACKENDS.join(", ")
    } (the backend option or SAM_AT_BACKEND).`,
  );
}

/** The backend asked for by SAM_AT_BACKEND, or the default. */
export function backendFromEnv(): BackendName {
  return parseBackend(Deno.env.get("SAM_AT_BACKEND") || "tensorflow");
}

/** The backend initBackend() made active, if any. */
export function activeBackend(): BackendName | undefined {
  return active;
}

/** Load and activate a backend; calling again with the same name is free. */
export async function initBackend(name?: string): Promise<BackendName> {
  const chosen = name === undefined ? backendFromEnv() : parseBackend(name);
  if (active === chosen) return chosen;
  // tensorflow and tensorflow-gpu exclude each other; wasm loads beside either.
  if (ENGINE_NAME[chosen] === "tensorflow" && loadedTensorflow && loadedTensorflow !== chosen) {
    throw new BackendError(
      `Backend ${loadedTensorflow} is already loaded in this process; tensorflow and tensorflow-gpu cannot both load. Restart with the other one.`,
    );
  }
  if (chosen === "wasm") await loadWasm();
  else {
    await loadTensorflow(chosen);
    loadedTensorflow = chosen;
  }
  if (!(await tf.setBackend(ENGINE_NAME[chosen]))) {
    throw new BackendError(
      `Backend ${chosen} registered but failed to initialise; try SAM_AT_BACKEND=wasm.`,
    );
  }
  await tf.ready();
  active = chosen;
  return chosen;
}

async function loadTensorflow(name: "tensorflow" | "tensorflow-gpu"): Promise<void> {
  if (tf.findBackend("tensorflow")) return;
  // Deno's node:util lacks isNullOrUndefined, which tfjs-node calls.
  (util as any).isNullOrUndefined ??= (v: unknown) => v === null || v === undefined;
  // libtensorflow logs its CPU-feature banner to stderr unless told not to; its absl log lines on
  // load ignore the variable and are filtered by withNativeLogFilter (native_log.ts).
  if (Deno.env.get("TF_CPP_MIN_LOG_LEVEL") === undefined) Deno.env.set("TF_CPP_MIN_LOG_LEVEL", "2");
  // libtensorflow turns its oneDNN kernels on by itself only on CPUs with AVX-512 (VNNI/BF16) or
  // AMX; elsewhere it falls back to Eigen. Measured on a 2-core AMD EPYC with AVX2 only (small CNN
  // width 8, batch 128, scripts/step_times.ts): ST 42 -> 27 ms, SAM 74 -> 32, PGD-10 AT 332 -> 164
  // with oneDNN on. So on unless the user says otherwise (TF_ENABLE_ONEDNN_OPTS=0: Eigen).
  if (Deno.env.get("TF_ENABLE_ONEDNN_OPTS") === undefined) Deno.env.set("TF_ENABLE_ONEDNN_OPTS", "1");
  try {
    await withNativeLogFilter(() =>
      name === "tensorflow" ? import("@tensorflow/tfjs-node") : import("@tensorflow/tfjs-node-gpu")
    );
  } catch (err) {
    const how = name === "tensorflow"
      ? "run 'bash scripts/setup.sh'"
      : "install CUDA 11.2 + cuDNN 8.1 and run 'SAM_AT_GPU=1 bash scripts/setup.sh'";
    throw new BackendError(
      `The ${name} backend could not load (${
        firstLine(err)
      }): ${how}, or fall back with SAM_AT_BACKEND=${
        name === "tensorflow" ? "wasm" : "tensorflow"
      }.`,
    );
  }
}

/**
 * tfjs-node's module (its image decoders, for lib/data/image_folder.ts), loaded the way the
 * tensorflow backend loads, without making it the active backend.
 */
export async function tfjsNodeModule(): Promise<any> {
  const name = loadedTensorflow === "tensorflow-gpu" ? "tensorflow-gpu" : "tensorflow";
  await loadTensorflow(name);
  loadedTensorflow = name;
  return loadedTensorflow === "tensorflow"
    ? await import("@tensorflow/tfjs-node")
    : await import("@tensorflow/tfjs-node-gpu");
}

async function loadWasm(): Promise<void> {
  if (tf.findBackend("wasm")) return;
  const { registerWasmTraining } = await import("./wasm_kernels.ts");
  await registerWasmTraining();
}

function firstLine(err: unknown): string {
  const text = String(err instanceof Error ? err.message : err).split("\n")[0];
  // Deno's wording for a package absent from node_modules runs to several sentences.
  const missing = text.match(/Could not find a matching package for '(?:npm:)?(@?[^@']+)/);
  return missing ? `${missing[1]} is not installed` : text;
}
