import assert from "node:assert/strict";
import { formatDuration } from "../lib/util/progress.ts";
import { jupyterAvailable } from "../lib/util/jupyter.ts";

Deno.test("progress: durations and Jupyter detection outside a kernel", () => {
  assert.equal(formatDuration(0), "00:00");
  assert.equal(formatDuration(75.4), "01:15");
  assert.equal(formatDuration(3 * 3600 + 62), "3:01:02");
  assert.equal(formatDuration(Infinity), "--:--");
  assert.equal(jupyterAvailable(), false); // Deno.jupyter throws outside `deno jupyter`; we must not
});

Deno.test("progress: plain lines (piped stderr) and an in-place bar (terminal) carry rate and ETA", async () => {
  const script = `
    import { createProgress } from "${new URL("../lib/util/progress.ts", import.meta.url).href}";
    const style = Deno.args[0];
    const p = createProgress({ label: "ST", total: 300, style });
    for (let i = 1; i <= 3; i++) await p.update(i * 100, "epoch " + i + "/3");
    await p.finish("loss 0.5");
  `;
  for (const style of ["lines", "terminal"]) {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["eval", "--no-config", script, style],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const err = new TextDecoder().decode(out.stderr);
    assert.equal(out.code, 0, err);
    assert.match(
      err,
      /ST .*100%.*300\/300 img \| [\d.]+ img\/s \| elapsed 00:00 \| ETA 00:00 \| loss 0\.5\n$/,
    );
    if (style === "lines") {
      assert.match(
        err,
        /^ST +33% 100\/300 img \| [\d.]+ img\/s \| elapsed 00:00 \| ETA [\d:-]+ \| epoch 1\/3\n/,
      );
    } else {assert.ok(
        err.startsWith("\r\x1b[2KST ") && /^[█░]{24} +33% 100\/300 img/.test(err.slice(8)),
        err,
      );}
  }
});
