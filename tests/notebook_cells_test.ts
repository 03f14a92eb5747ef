/**
 * The notebooks' own cells are type-checked too: each notebook's code cells, joined in order into
 * one module beside it, must pass `deno check` (so a renamed export or a wrong argument fails here,
 * not in a rendered report). The logic lives in lib/ and is checked there; this covers the glue.
 */
import assert from "node:assert/strict";

const root = new URL("..", import.meta.url).pathname;

Deno.test("every notebook's code cells pass deno check", async () => {
  const names = [...Deno.readDirSync(`${root}notebooks`)].map((e) => e.name)
    .filter((n) => n.endsWith(".ipynb") && !n.startsWith("_")).sort();
  assert.ok(names.length >= 10, `notebooks found: ${names}`);
  const files: string[] = [];
  try {
    for (const name of names) {
      const nb = JSON.parse(Deno.readTextFileSync(`${root}notebooks/${name}`)) as {
        cells: { cell_type: string; source: string | string[] }[];
      };
      // The cells share one scope, as in the kernel; their one-line imports go to the top.
      const lines = nb.cells.filter((c) => c.cell_type === "code")
        .map((c) => (Array.isArray(c.source) ? c.source.join("") : c.source)).join("\n").split(
          "\n",
        );
      const imports = lines.filter((l) => l.startsWith("import "));
      const body = lines.filter((l) => !l.startsWith("import "));
      const path = `${root}notebooks/.cells_${name.replace(/\.ipynb$/, "")}.ts`;
      Deno.writeTextFileSync(path, [...imports, "export {};", ...body].join("\n") + "\n");
      files.push(path);
    }
    const run = await new Deno.Command(Deno.execPath(), {
      args: ["check", ...files],
      cwd: root,
      stdout: "piped",
      stderr: "piped",
    }).output();
    const out = new TextDecoder().decode(run.stderr);
    assert.equal(run.code, 0, `deno check of the notebooks' cells failed:\n${out.slice(0, 4000)}`);
  } finally {
    for (const f of files) Deno.removeSync(f);
  }
});
