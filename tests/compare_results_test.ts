/** scripts/compare_results.ts: equal files exit 0, one changed value is named and exits 1. */
import assert from "node:assert/strict";
import { join } from "node:path";

const repo = new URL("..", import.meta.url).pathname;

async function compare(a: string, b: string) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", join(repo, "scripts/compare_results.ts"), a, b],
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).output();
  return { code: out.code, text: new TextDecoder().decode(out.stdout) };
}

Deno.test("compare_results: equal files exit 0; a changed accuracy is named and exits 1", async () => {
  const dir = Deno.makeTempDirSync();
  for (const side of ["a", "b"]) {
    Deno.mkdirSync(join(dir, side));
    for (const f of ["fashion-mnist-default.csv", "fashion-mnist-default.evals.csv"]) {
      Deno.copyFileSync(join(repo, "results", f), join(dir, side, f));
    }
  }
  const [a, b] = ["a", "b"].map((s) => join(dir, s, "fashion-mnist-default.csv"));
  const same = await compare(a, b);
  assert.equal(same.code, 0);
  assert.match(same.text, /values equal, 0 differ \(36 runs/);
  const evals = join(dir, "b", "fashion-mnist-default.evals.csv");
  const lines = Deno.readTextFileSync(evals).split("\n");
  // n, accuracy, empty stages: the first row's accuracy moved by a tenth of a point.
  const moved = lines[1].replace(
    /,(\d+),([0-9.]+),,/,
    (_, n, acc) => `,${n},${Number(acc) + 0.001},,`,
  );
  assert.notEqual(moved, lines[1]);
  lines[1] = moved;
  Deno.writeTextFileSync(evals, lines.join("\n"));
  const changed = await compare(a, b);
  assert.equal(changed.code, 1);
  assert.match(changed.text, / accuracy: .* vs /);
  assert.match(changed.text, /1 differ/);
  Deno.removeSync(dir, { recursive: true });
});
