/**
 * Issue 31 #8: the report renderer refuses, in one line and before any work, a path that is not a
 * notebook (without echoing its bytes), a notebook that would replace another notebook's page (a
 * project notebook's name from outside notebooks/, or a page rendered from another file), and a
 * notebook named index (the index page). Nothing is executed: every refusal comes first.
 */
import assert from "node:assert/strict";
import { join } from "node:path";

const root = new URL("..", import.meta.url).pathname;

async function report(args: string[]) {
  const r = await new Deno.Command("bash", {
    args: ["scripts/report.sh", ...args],
    cwd: root,
    stdout: "piped",
    stderr: "piped",
  }).output();
  return { code: r.code, err: new TextDecoder().decode(r.stderr).trim() };
}

Deno.test("report: a non-notebook, another file under a project notebook's or an existing page's name, or index.ipynb is refused in one line (issue 31 #8)", async () => {
  const dir = Deno.makeTempDirSync({ prefix: "sam-at-report-input-" });
  const out = join(dir, "out");
  try {
    const secret = join(dir, "notes.txt");
    Deno.writeTextFileSync(secret, "SECRET-FIRST-BYTES of a private file\n");
    const fakeNb = join(dir, "fake.ipynb");
    Deno.writeTextFileSync(fakeNb, "SECRET-FIRST-BYTES, not JSON\n");
    const fixture = Deno.readTextFileSync(join(root, "tests/fixtures/report_smoke.ipynb"));
    const foreign = join(dir, "theorem_4_1_standard_training.ipynb");
    Deno.writeTextFileSync(foreign, fixture);
    const index = join(dir, "index.ipynb");
    Deno.writeTextFileSync(index, fixture);
    // A page rendered earlier from the fixture; another file of the same name must not replace it.
    Deno.mkdirSync(out);
    const page = JSON.parse(fixture);
    page.metadata.sam_at = { source: "tests/fixtures/report_smoke.ipynb" };
    Deno.writeTextFileSync(join(out, "report_smoke.ipynb"), JSON.stringify(page));
    const twin = join(dir, "twin", "report_smoke.ipynb");
    Deno.mkdirSync(join(dir, "twin"));
    Deno.writeTextFileSync(twin, fixture);

    const cases: [string[], RegExp][] = [
      [
        [secret],
        /^\[report\] error: .*notes\.txt is not a notebook \(\.ipynb\); pass a Jupyter notebook, e\.g\. notebooks\/NAME\.ipynb\.$/,
      ],
      [
        [fakeNb],
        /^\[report\] error: .*fake\.ipynb is not a readable Jupyter notebook \(NotJSONError\); pass a \.ipynb file saved by Jupyter\.$/,
      ],
      [
        [foreign],
        /^\[report\] error: .*theorem_4_1_standard_training\.ipynb is not notebooks\/theorem_4_1_standard_training\.ipynb but has its name, so its page would replace that notebook's; rename it\.$/,
      ],
      [
        [index],
        /^\[report\] error: .*index\.ipynb is named index, which is the report's index page; rename it\.$/,
      ],
      [
        [twin],
        /^\[report\] error: .*twin\/report_smoke\.ipynb would replace the page .*report_smoke\.html, rendered from tests\/fixtures\/report_smoke\.ipynb; rename it or pass another --out\.$/,
      ],
    ];
    for (const [i, [args, want]] of cases.entries()) {
      const mode = i % 2 ? ["--no-execute"] : []; // both modes check first
      const r = await report(["--out", out, ...mode, ...args]);
      assert.equal(r.code, 2, `${args}: ${r.err}`);
      assert.match(r.err, want);
      assert.equal(r.err.split("\n").length, 1, `one line: ${r.err}`);
      assert.ok(!r.err.includes("SECRET"), "the file's bytes are not echoed");
    }
    // Nothing was rendered or replaced.
    assert.deepEqual([...Deno.readDirSync(out)].map((e) => e.name), ["report_smoke.ipynb"]);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});
