/**
 * scripts/arch_table.py, the one table the PyTorch side builds from (scripts/torch_models.py, for
 * scripts/load_model.py and bench/peer_torch.py): its tensors (names, shapes, order) equal the
 * TypeScript models' for every registered architecture, and it checks a model file's tensors
 * against the spec in the file's header. Standard-library Python only: runs without torch.
 */
import assert from "node:assert/strict";
import { initBackend } from "../lib/backend/backend.ts";
import { ARCHS, createModel, type ModelSpec } from "../lib/models/model.ts";
import { saveModelFile } from "../lib/models/model_file.ts";
import { Rng } from "../lib/util/rng.ts";

await initBackend();

const decode = (b: Uint8Array) => new TextDecoder().decode(b);

function python(args: string[]): { ok: boolean; out: string; err: string } {
  const r = new Deno.Command("python3", { args }).outputSync();
  return { ok: r.success, out: decode(r.stdout), err: decode(r.stderr) };
}

const spec = (
  arch: string,
  width: number,
  inputShape: [number, number, number],
  numClasses = 10,
): ModelSpec => ({
  arch: arch as ModelSpec["arch"],
  width,
  inputShape,
  numClasses,
  mean: new Array(inputShape[2]).fill(0.5),
  std: new Array(inputShape[2]).fill(0.25),
});

const SPECS: ModelSpec[] = [
  spec("smallcnn", 4, [28, 28, 1]),
  spec("smallcnn", 3, [30, 30, 3], 7),
  spec("prn18", 4, [32, 32, 3]),
  spec("prn18", 2, [28, 28, 1], 5),
  spec("wrn16", 1, [28, 28, 1]), // k = 1: block1's first block keeps its shape, no shortcut
  spec("wrn16", 2, [32, 32, 3]),
];

Deno.test("arch table: every registered architecture is in scripts/arch_table.py", () => {
  for (const arch of ARCHS) assert.ok(SPECS.some((s) => s.arch === arch), arch);
});

Deno.test("arch table: names, shapes and order equal the TypeScript models' (the model file's)", () => {
  const r = python(["scripts/arch_table.py", "--spec", JSON.stringify(SPECS)]);
  assert.ok(r.ok, r.err);
  const tables = JSON.parse(r.out) as [string, number[]][][];
  SPECS.forEach((s, i) => {
    const m = createModel(s, Rng.fromSeed(i));
    try {
      const want = [...m.params, ...m.buffers].map((v, j) => [
        [...m.paramNames, ...m.bufferNames][j],
        v.shape,
      ]);
      assert.deepEqual(tables[i], want, `${s.arch} width ${s.width}`);
    } finally {
      m.dispose();
    }
  });
  const bad = python([
    "scripts/arch_table.py",
    "--spec",
    JSON.stringify(spec("vgg", 4, [8, 8, 1])),
  ]);
  assert.ok(!bad.ok);
  assert.match(bad.err, /unknown architecture "vgg": known are prn18, smallcnn, wrn16/);
});

Deno.test("arch table: a model file's tensors checked against its header's spec; the torch side compiles", () => {
  const dir = Deno.makeTempDirSync();
  try {
    for (const [k, s] of [SPECS[0], SPECS[5]].entries()) {
      const m = createModel(s, Rng.fromSeed(k));
      const path = `${dir}/${k}-${s.arch}.safetensors`;
      saveModelFile(path, m);
      m.dispose();
      const r = python(["scripts/arch_table.py", path]);
      assert.ok(r.ok, r.err);
      assert.match(r.out, new RegExp(`${s.arch} width ${s.width}, \\d+ tensors as the table says`));
    }
    // The header read as load_model.py reads it, against another width: refused, naming a tensor.
    const check = python([
      "-c",
      `import sys; sys.path.insert(0, "scripts")
import arch_table, model_file_check as c
header, sam_at, _, _ = c.read_checked(sys.argv[1])
have = {k: v["shape"] for k, v in header.items() if k != "__metadata__"}
print(arch_table.mismatch(sam_at["spec"], have))
print(arch_table.mismatch(dict(sam_at["spec"], width=3), have))
print(arch_table.mismatch(dict(sam_at["spec"], arch="prn18"), have))`,
      `${dir}/1-wrn16.safetensors`,
    ]);
    assert.ok(check.ok, check.err);
    const [same, width, arch] = check.out.trim().split("\n");
    assert.equal(same, "None");
    assert.equal(
      width,
      "tensor block1.layer.0.conv1.weight has shape [3, 3, 16, 32], expected [3, 3, 16, 48]",
    );
    assert.match(arch, /^tensor \S+ differs$/);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
  // Without torch the modules cannot run here, but their files must at least compile.
  const c = python([
    "-c",
    "import sys\nfor f in sys.argv[1:]: compile(open(f).read(), f, 'exec')",
    "scripts/torch_models.py",
    "scripts/load_model.py",
    "bench/peer_torch.py",
  ]);
  assert.ok(c.ok, c.err);
});
