import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import * as tf from "@tensorflow/tfjs-core";
import { initBackend } from "../lib/backend/backend.ts";
import { type BatchMoments, createModel, type Model, type ModelSpec } from "../lib/models/model.ts";
import {
  loadModelFile,
  ModelFileError,
  readModelFileMeta,
  saveModelFile,
} from "../lib/models/model_file.ts";
import { Rng } from "../lib/util/rng.ts";

await initBackend();

const SMALLCNN: ModelSpec = {
  arch: "smallcnn",
  width: 8,
  inputShape: [28, 28, 1],
  numClasses: 10,
  mean: [0.286],
  std: [0.353],
};
const PRN18: ModelSpec = {
  arch: "prn18",
  width: 4,
  inputShape: [32, 32, 3],
  numClasses: 10,
  mean: [0.4914, 0.4822, 0.4465],
  std: [0.2471, 0.2435, 0.2616],
};
const META = { run: "fashion-mnist-quick/SAM-rho0.05", row: 7, seed: 3, dataset: "fashion-mnist" };

/** A model after a few "training" steps: perturbed weights and non-trivial BN running stats. */
function trainedModel(spec: ModelSpec, seed: number): Model {
  const rng = Rng.fromSeed(seed);
  const m = createModel(spec, rng);
  for (let step = 0; step < 3; step++) {
    tf.tidy(() => {
      m.params.forEach((p) => {
        const noise = rng.fillNormal(new Float32Array(p.size)).map((v) => 0.05 * v);
        p.assign(tf.add(p, tf.tensor(noise, p.shape)));
      });
    });
    const x = tf.tidy(() =>
      tf.tensor(
        rng.fillUniform(new Float32Array(8 * spec.inputShape.reduce((a, b) => a * b)), 0, 1),
        [
          8,
          ...spec.inputShape,
        ],
      ) as tf.Tensor4D
    );
    const moments: BatchMoments[] = [];
    tf.dispose(m.forward(x, "train", moments));
    m.commitMoments(moments);
    x.dispose();
  }
  return m;
}

function randomImages(spec: ModelSpec, n: number, seed: number): Float32Array {
  return Rng.fromSeed(seed).fillUniform(
    new Float32Array(n * spec.inputShape.reduce((a, b) => a * b)),
    0,
    1,
  );
}

function logits(m: Model, images: Float32Array): Float32Array {
  return tf.tidy(() => {
    const n = images.length / m.spec.inputShape.reduce((a, b) => a * b);
    const x = tf.tensor(images, [n, ...m.spec.inputShape]) as tf.Tensor4D;
    return m.forward(x, "eval").dataSync() as Float32Array;
  });
}

function tempDir(): string {
  return Deno.makeTempDirSync({ prefix: "sam-at-modelfile-" });
}

Deno.test("model file: smallcnn and prn18 round-trip bit-identically with their metadata", () => {
  const dir = tempDir();
  const before = tf.memory().numTensors;
  try {
    for (const spec of [SMALLCNN, PRN18]) {
      const m = trainedModel(spec, 11);
      // BN running statistics really moved away from their initial 0 / 1.
      assert.ok(m.buffers[0].dataSync().some((v) => Math.abs(v) > 1e-3));
      const path = `${dir}/results/x/models/${spec.arch}.safetensors`;
      saveModelFile(path, m, META);
      assert.deepEqual([...Deno.readDirSync(`${dir}/results/x/models`)].map((e) => e.name).sort(), [
        ...(spec.arch === "prn18" ? ["prn18.safetensors", "smallcnn.safetensors"] : [
          "smallcnn.safetensors",
        ]),
      ]); // no temp file left behind
      const info = readModelFileMeta(path);
      assert.deepEqual(info.spec, spec);
      assert.deepEqual(info.meta, META);
      assert.equal(info.version, 2);
      assert.deepEqual(
        info.tensors.map((t) => t.name),
        [...m.paramNames, ...m.bufferNames],
      );
      const { model, meta } = loadModelFile(path);
      assert.deepEqual(meta, META);
      assert.deepEqual(model.spec, spec);
      [...m.params, ...m.buffers].forEach((v, i) =>
        assert.deepEqual(
          [...model.params, ...model.buffers][i].dataSync(),
          v.dataSync(),
          `tensor ${i}`,
        )
      );
      const x = randomImages(spec, 4, 5);
      const a = logits(m, x), b = logits(model, x);
      assert.deepEqual(b, a); // bit-identical
      // The file really follows the safetensors layout: u64 length, space-padded JSON, 8-aligned.
      const bytes = Deno.readFileSync(path);
      const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
      assert.equal(n % 8, 0);
      const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n)));
      assert.equal(typeof header.__metadata__.sam_at, "string");
      assert.deepEqual(header["conv1.weight"].dtype, "F32");
      assert.deepEqual(header["conv1.weight"].data_offsets, [0, 4 * m.params[0].size]);
      m.dispose();
      model.dispose();
    }
    assert.equal(tf.memory().numTensors, before, "no tensor leak");
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

// --- damaged files ---------------------------------------------------------------------------

interface Parts {
  header: Record<string, any>;
  data: Uint8Array;
}

function split(bytes: Uint8Array): Parts {
  const n = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
  return {
    header: JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n))),
    data: bytes.slice(8 + n),
  };
}

/**
 * Reassemble a file; with `rehash` the sam_at checksum is recomputed (to test only other damage):
 * version 2's, over the whole file with its own digits as zeros.
 */
function join({ header, data }: Parts, rehash = true): Uint8Array {
  const zeros = "0".repeat(64);
  if (rehash) {
    const s = JSON.parse(header.__metadata__.sam_at);
    s.sha256 = zeros;
    header.__metadata__.sam_at = JSON.stringify(s);
  }
  const json = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  if (rehash) {
    const at = new TextDecoder("latin1").decode(out).indexOf(zeros);
    out.set(new TextEncoder().encode(createHash("sha256").update(out).digest("hex")), at);
  }
  return out;
}

/** Remove one tensor, shifting the later ones' offsets so the data has no hole. */
function dropTensor(p: Parts, name: string): Parts {
  const [b, e] = p.header[name].data_offsets;
  delete p.header[name];
  for (const [k, t] of Object.entries<any>(p.header)) {
    if (k !== "__metadata__" && t.data_offsets[0] >= e) {
      t.data_offsets = [t.data_offsets[0] - (e - b), t.data_offsets[1] - (e - b)];
    }
  }
  const data = new Uint8Array(p.data.length - (e - b));
  data.set(p.data.subarray(0, b));
  data.set(p.data.subarray(e), b);
  return { header: p.header, data };
}

Deno.test("model file: every damaged state gets one sentence naming the file and the fix", () => {
  const dir = tempDir();
  const good = `${dir}/good.safetensors`;
  const bad = `${dir}/bad.safetensors`;
  const m = trainedModel(SMALLCNN, 2);
  saveModelFile(good, m, META);
  m.dispose();
  const bytes = Deno.readFileSync(good);
  const before = tf.memory().numTensors;
  const fix = "; copy it again or re-run the training that wrote it\\.$";
  const cases: [string, () => void, RegExp][] = [
    [
      "missing",
      () => {},
      /^ModelFileError: Model file .*bad\.safetensors does not exist; check the path or run the training that writes it\.$/,
    ],
    [
      "directory",
      () => Deno.mkdirSync(bad),
      /^ModelFileError: Model file .*bad\.safetensors is a directory, not a file; pass the path of a \.safetensors file\.$/,
    ],
    [
      "empty",
      () => Deno.writeFileSync(bad, new Uint8Array()),
      new RegExp(`is damaged \\(truncated: 0 bytes, no header\\)${fix}`),
    ],
    [
      "truncated data",
      () => Deno.writeFileSync(bad, bytes.subarray(0, bytes.length - 3)),
      new RegExp(`is damaged \\(truncated: \\d+ bytes, the header needs \\d+\\)${fix}`),
    ],
    [
      "truncated header",
      () => Deno.writeFileSync(bad, bytes.subarray(0, 40)),
      new RegExp(`is damaged \\(truncated inside the header\\)${fix}`),
    ],
    [
      "absurd header length",
      () => {
        const b = bytes.slice();
        b[7] = 0x7f;
        Deno.writeFileSync(bad, b);
      },
      /is damaged \(header length \d+ is not plausible\)/,
    ],
    [
      "bad header JSON",
      () => {
        const b = bytes.slice();
        b[8] = 0x21; // "{" -> "!"
        Deno.writeFileSync(bad, b);
      },
      new RegExp(
        `^ModelFileError: Model file .*bad\\.safetensors is damaged \\(the header is not valid JSON\\)${fix}`,
      ),
    ],
    [
      "wrong dtype",
      () => {
        const p = split(bytes);
        p.header["bn2.running_mean"].dtype = "F16";
        Deno.writeFileSync(bad, join(p));
      },
      /is damaged \(tensor bn2\.running_mean has dtype "F16", expected "F32"\)/,
    ],
    [
      "missing tensor",
      () => Deno.writeFileSync(bad, join(dropTensor(split(bytes), "conv2.weight"))),
      /is damaged \(tensor conv2\.weight of a smallcnn width-8 model is missing\)/,
    ],
    [
      "misshapen tensor",
      () => {
        const p = split(bytes);
        p.header["conv1.weight"].shape = [9, 8]; // same byte count, wrong shape
        Deno.writeFileSync(bad, join(p));
      },
      /is damaged \(tensor conv1\.weight has shape \[9,8\], a smallcnn width-8 model needs \[3,3,1,8\]\)/,
    ],
    [
      "shape and byte count disagree",
      () => {
        const p = split(bytes);
        p.header["conv1.weight"].shape = [3, 3, 1, 9];
        Deno.writeFileSync(bad, join(p));
      },
      /is damaged \(tensor conv1\.weight has 288 bytes for shape \[3,3,1,9\]\)/,
    ],
    [
      "extra tensor",
      () => {
        const p = split(bytes);
        p.header["conv9.weight"] = {
          dtype: "F32",
          shape: [1],
          data_offsets: [p.data.length, p.data.length + 4],
        };
        Deno.writeFileSync(
          bad,
          join({ header: p.header, data: new Uint8Array([...p.data, 0, 0, 0, 0]) }),
        );
      },
      /is damaged \(tensor conv9\.weight is not part of a smallcnn width-8 model\)/,
    ],
    [
      "checksum mismatch",
      () => {
        const b = bytes.slice();
        b[b.length - 5] ^= 0x10;
        Deno.writeFileSync(bad, b);
      },
      new RegExp(`is damaged \\(its header or data does not match its SHA-256 checksum\\)${fix}`),
    ],
    [
      "not ours",
      () => {
        const p = split(bytes);
        p.header.__metadata__ = { format: "pt" };
        Deno.writeFileSync(bad, join(p, false));
      },
      /^ModelFileError: Model file .*bad\.safetensors has no sam_at metadata, so it was not written by saveModelFile; load it with the tool that wrote it\.$/,
    ],
    [
      "newer version",
      () => {
        const p = split(bytes);
        const s = JSON.parse(p.header.__metadata__.sam_at);
        s.version = 3;
        p.header.__metadata__.sam_at = JSON.stringify(s);
        Deno.writeFileSync(bad, join(p, false));
      },
      /has format version 3, this code reads versions 1 and 2; use the sam-at version that wrote it\.$/,
    ],
    [
      "invalid spec",
      () => {
        const p = split(bytes);
        const s = JSON.parse(p.header.__metadata__.sam_at);
        s.spec.arch = "vgg";
        p.header.__metadata__.sam_at = JSON.stringify(s);
        Deno.writeFileSync(bad, join(p, false));
      },
      /is damaged \(its model spec is invalid: Invalid option arch: got "vgg", expected one of "prn18", "smallcnn", "wrn16"\)/,
    ],
  ];
  try {
    for (const [what, make, message] of cases) {
      try {
        Deno.removeSync(bad, { recursive: true });
      } catch { /* absent */ }
      make();
      for (const reader of [loadModelFile, readModelFileMeta]) {
        // readModelFileMeta reads only the header: it cannot see checksum or tensor-set damage.
        if (
          reader === readModelFileMeta &&
          ["checksum mismatch", "missing tensor", "misshapen tensor", "extra tensor"].includes(what)
        ) {
          assert.doesNotThrow(() => readModelFileMeta(bad), what);
          continue;
        }
        assert.throws(() => reader(bad), (err: Error) => {
          assert.ok(err instanceof ModelFileError, `${what}: ${err}`);
          assert.match(`${err.name}: ${err.message}`, message, what);
          assert.equal(err.message.split(/\.\s/).length, 1, `${what}: one sentence`);
          assert.ok(err.message.includes(bad), `${what}: names the file`);
          return true;
        }, what);
      }
    }
    assert.equal(tf.memory().numTensors, before, "failed loads leak no tensors");
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

// --- PyTorch rebuild (scripts/load_model.py) ---------------------------------------------------

/** A python with torch and numpy: $SAM_AT_PYTHON, the bench's .venv, or python3. */
function findTorchPython(): string | null {
  const candidates = [Deno.env.get("SAM_AT_PYTHON"), ".venv/bin/python", "python3"].filter(
    (p): p is string => !!p,
  );
  for (const py of candidates) {
    try {
      const r = new Deno.Command(py, {
        args: ["-c", "import torch, numpy"],
        stderr: "null",
        stdout: "null",
      })
        .outputSync();
      if (r.success) return py;
    } catch { /* not there */ }
  }
  return null;
}

const torchPython = findTorchPython();
if (!torchPython) {
  console.log(
    "model_file_test: skipping the PyTorch comparison: no python with torch and numpy " +
      "($SAM_AT_PYTHON, .venv/bin/python (deno task bench installs it) or python3).",
  );
}

// One python process for all comparisons (importing torch takes seconds): each file is read with
// the `safetensors` package (where installed) and with the script's standard-library reader.
const DRIVER = `
import importlib.util, json, sys
import numpy as np, torch
sys.path.insert(0, "scripts")
import load_model
readers = (True, False) if importlib.util.find_spec("safetensors") else (False,)
out = []
for path, inputs in json.loads(sys.argv[1]):
    for pkg in readers:
        m = load_model.load(path, use_package=pkg)
        h, w, c = m.sam_at["spec"]["inputShape"]
        x = np.fromfile(inputs, dtype="<f4").reshape(-1, h, w, c)
        with torch.no_grad():
            y = m(torch.from_numpy(x).permute(0, 3, 1, 2))
        out.append({"path": path, "package": pkg, "meta": m.sam_at["meta"], "logits": y.flatten().tolist()})
print(json.dumps(out))
`;

Deno.test({
  // The test summary lists ignored tests by name only: the name says why this one is.
  name: "model file: scripts/load_model.py rebuilds the same model in PyTorch (max |diff| < 1e-4)" +
    (torchPython ? "" : " [IGNORED: no python with torch and numpy; set SAM_AT_PYTHON]"),
  ignore: !torchPython,
  fn: () => {
    const dir = tempDir();
    const decode = (b: Uint8Array) => new TextDecoder().decode(b);
    try {
      const specs: ModelSpec[] = [
        SMALLCNN,
        { ...PRN18, width: 16 },
        // Odd sizes on the stride-2 path (28 -> 14 -> 7 -> 4) and the other channel count.
        { ...SMALLCNN, arch: "prn18", width: 4 },
        { ...PRN18, arch: "smallcnn", width: 8, inputShape: [30, 30, 3] },
        // WRN-16-k in RobustBench's layout, with (k = 2) and without (k = 1) block1's shortcut.
        { ...PRN18, arch: "wrn16", width: 2 },
        { ...SMALLCNN, arch: "wrn16", width: 1 },
      ];
      const jobs: [string, string][] = [];
      const expected = new Map<string, Float32Array>();
      specs.forEach((spec, k) => {
        const m = trainedModel(spec, 21 + k);
        const path = `${dir}/${k}-${spec.arch}.safetensors`;
        saveModelFile(path, m, META);
        const x = randomImages(spec, 5, 9 + k);
        Deno.writeFileSync(`${path}.f32`, new Uint8Array(x.buffer));
        expected.set(path, logits(m, x));
        jobs.push([path, `${path}.f32`]);
        m.dispose();
      });
      const r = new Deno.Command(torchPython!, { args: ["-c", DRIVER, JSON.stringify(jobs)] })
        .outputSync();
      assert.ok(r.success, decode(r.stderr));
      const results = JSON.parse(decode(r.stdout)) as {
        path: string;
        package: boolean;
        meta: unknown;
        logits: number[];
      }[];
      assert.ok(results.length >= specs.length);
      for (const res of results) {
        const want = expected.get(res.path)!;
        const spec = readModelFileMeta(res.path).spec;
        assert.deepEqual(res.meta, META);
        assert.equal(res.logits.length, want.length);
        const diff = Math.max(...res.logits.map((v, i) => Math.abs(v - want[i])));
        const scale = Math.max(...want.map(Math.abs));
        console.log(
          `  ${spec.arch} w${spec.width} ${spec.inputShape.join("x")} (${
            res.package ? "safetensors package" : "stdlib reader"
          }): max |logit diff| = ${diff.toExponential(2)} (max |logit| ${scale.toFixed(2)})`,
        );
        assert.ok(diff < 1e-4, `${res.path}: max diff ${diff}`);
      }
      // The command line: metadata and the logits of a zero image.
      const cli = new Deno.Command(torchPython!, { args: ["scripts/load_model.py", jobs[0][0]] })
        .outputSync();
      assert.ok(cli.success, decode(cli.stderr));
      const text = decode(cli.stdout);
      assert.match(text, /"arch": "smallcnn"/);
      assert.match(text, /"run": "fashion-mnist-quick\/SAM-rho0.05"/);
      assert.match(text, /^logits: \[\[(-?[\d.e+-]+, ){9}-?[\d.e+-]+\]\]$/m);
    } finally {
      Deno.removeSync(dir, { recursive: true });
    }
  },
});
