/**
 * The binary CIFAR-10 path end to end, without network: a small HTTP server on 127.0.0.1 serves
 * a generated archive in the official CIFAR-10 binary layout, and the project's download ->
 * checksum -> extract -> load path runs against it (the URL is a setting; the official URL and
 * checksum stay the default). A truncated, broken-off, missing or wrong-checksum download is one
 * sentence and leaves nothing in the cache folder; a URL other than the official one without a
 * checksum is refused. Then the same through scripts/dataset.ts (--url, --sha256, the
 * SAM_AT_CIFAR10_URL / SAM_AT_CIFAR10_SHA256 environment variables).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  checksums,
  CIFAR_ARCHIVES,
  DatasetError,
  downloadCifar,
  loadCifar10,
  resolveDownload,
} from "../lib/data/data.ts";
import { checksumOf, cifar10TarGz, cifarPixel } from "./cifar_bytes.ts";
import { CIFAR10_CLASSES } from "../lib/data/cifar10_jpeg.ts";
import { entriesOf, fixtureImages, writeFiles } from "./image_folder_fixture.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const quiet = () => {};
const ARCHIVE: Uint8Array<ArrayBuffer> = new Uint8Array(cifar10TarGz());
const SHA256 = checksums(ARCHIVE).sha256;

/**
 * A loopback server for the test's lifetime: /cifar-10-binary.tar.gz the whole archive,
 * /short.tar.gz its first half (a server that sends less than the archive), /broken.tar.gz half of
 * it and then a dropped connection, anything else 404.
 */
async function withServer<T>(fn: (base: string) => Promise<T>): Promise<T> {
  const half = ARCHIVE.slice(0, ARCHIVE.length >> 1);
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: quiet }, (req) => {
    const path = new URL(req.url).pathname;
    if (path === "/cifar-10-binary.tar.gz") return new Response(ARCHIVE);
    if (path === "/short.tar.gz") return new Response(half);
    if (path === "/broken.tar.gz") {
      const body = new ReadableStream<Uint8Array>({
        start(controller) {
          controller.enqueue(half.slice());
        },
        async pull(controller) {
          // After the headers and the first half have gone out: the client is reading the body.
          await new Promise((r) => setTimeout(r, 100));
          controller.error(new Error("connection dropped"));
        },
      });
      return new Response(body, { headers: { "content-length": String(ARCHIVE.length) } });
    }
    return new Response("not here", { status: 404 });
  });
  try {
    return await fn(`http://127.0.0.1:${server.addr.port}`);
  } finally {
    await server.shutdown();
  }
}

async function withTemp<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await Deno.makeTempDir({ prefix: "cifar-download-test-" });
  try {
    return await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const listing = (dir: string) => [...Deno.readDirSync(dir)].map((e) => e.name).sort();

async function rejectsWith(promise: Promise<unknown>, pattern: RegExp): Promise<void> {
  await assert.rejects(promise, (err) => {
    assert.ok(err instanceof DatasetError, `expected a DatasetError, got ${err}`);
    assert.match(err.message, pattern);
    assert.ok(!err.message.includes("\n"), `one line: ${err.message}`);
    return true;
  });
}

Deno.test("CIFAR-10 from a local HTTP server: download -> checksum -> extract -> load", async () => {
  await withServer((base) =>
    withTemp(async (dir) => {
      const url = `${base}/cifar-10-binary.tar.gz`;
      const lines: string[] = [];
      const { checksum } = resolveDownload("cifar10", { url, sha256: SHA256 }, () => undefined);
      const folder = await downloadCifar("cifar10", dir, {
        url,
        checksum,
        log: (l) => lines.push(l),
      });
      assert.equal(folder, join(dir, "cifar-10-batches-bin"));
      assert.match(lines[0], new RegExp(`^Downloading ${url} to `));
      assert.deepEqual(listing(dir), ["cifar-10-batches-bin", "cifar-10-binary.tar.gz"]);
      assert.deepEqual(await Deno.readFile(join(dir, "cifar-10-binary.tar.gz")), ARCHIVE);
      // The loader reads what was extracted: five training batches in order, then the test batch.
      const { train, test, classNames } = await loadCifar10(dir, { officialCounts: false });
      assert.deepEqual(Array.from(train.labels), [1, 2, 3, 4, 5]);
      assert.deepEqual(Array.from(test.labels), [7, 9]);
      assert.equal(classNames[0], "airplane");
      // Channel-planar records became NHWC: record 1 of the test batch, pixel (5, 17), R G B.
      for (let c = 0; c < 3; c++) {
        assert.equal(
          test.images[((1 * 32 + 5) * 32 + 17) * 3 + c],
          Math.fround(cifarPixel(1, c, 5 * 32 + 17) / 255),
        );
      }
      // Once there, nothing is fetched again (the server is not asked: a wrong URL would fail).
      assert.equal(
        await downloadCifar("cifar10", dir, {
          url: `${base}/gone.tar.gz`,
          checksum,
          log: quiet,
        }),
        folder,
      );
    })
  );
});

Deno.test("CIFAR-10 from a local HTTP server: a truncated, broken-off, missing or wrong-checksum download is one sentence and leaves no cache", async () => {
  await withServer(async (base) => {
    const good = checksumOf(ARCHIVE);
    const cases: [string, string, object, RegExp][] = [
      [
        "truncated (the size is known)",
        "short.tar.gz",
        { checksum: good },
        new RegExp(
          `^Download of ${base}/short\\.tar\\.gz has ${
            ARCHIVE.length >> 1
          } bytes, expected ${ARCHIVE.length}, so it was deleted; retry, or download .* by hand and put it at .*cifar-10-binary\\.tar\\.gz \\(expected MD5 [0-9a-f]{32}, SHA-256 [0-9a-f]{64}, ${ARCHIVE.length} bytes\\)\\.$`,
        ),
      ],
      [
        "truncated (only the SHA-256 is known)",
        "short.tar.gz",
        { checksum: { sha256: SHA256 } },
        new RegExp(
          `^Download of ${base}/short\\.tar\\.gz has SHA-256 [0-9a-f]{64}, expected ${SHA256}, so it was deleted; retry, or download`,
        ),
      ],
      [
        "the connection drops",
        "broken.tar.gz",
        { checksum: good },
        new RegExp(
          `^Download of ${base}/broken\\.tar\\.gz broke off after \\d+ bytes \\(.*\\); retry, or download`,
        ),
      ],
      [
        "wrong checksum",
        "cifar-10-binary.tar.gz",
        { checksum: { ...good, sha256: "e".repeat(64) } },
        /has SHA-256 [0-9a-f]{64}, expected e{64}, so it was deleted; retry, or download/,
      ],
      [
        "HTTP 404",
        "nothing.tar.gz",
        { checksum: good },
        /^Could not download .*nothing\.tar\.gz \(HTTP 404 Not Found\); download .* by hand/,
      ],
      [
        "another URL without a checksum",
        "cifar-10-binary.tar.gz",
        {},
        /is not the official CIFAR-10 URL, so the archive from it must be checked against a checksum you give: pass its checksum/,
      ],
    ];
    for (const [what, path, options, pattern] of cases) {
      await withTemp(async (dir) => {
        const cache = join(dir, "cifar10");
        await rejectsWith(
          downloadCifar("cifar10", cache, { url: `${base}/${path}`, log: quiet, ...options }),
          pattern,
        );
        // No archive, no temp file, nothing extracted (the folder itself may have been made).
        const left = (() => {
          try {
            return listing(cache);
          } catch {
            return [];
          }
        })();
        assert.deepEqual(left, [], `${what}: nothing left behind`);
      });
    }
  });
});

Deno.test("download settings: the official URL and checksum by default; another URL needs its checksum; bad values are one sentence", () => {
  const none = () => undefined;
  const official = CIFAR_ARCHIVES.cifar10;
  assert.deepEqual(resolveDownload("cifar10", {}, none), { url: official.url, checksum: official });
  const url = "http://127.0.0.1:8000/c.tar.gz";
  assert.deepEqual(resolveDownload("cifar10", { url, sha256: SHA256.toUpperCase() }, none), {
    url,
    checksum: { sha256: SHA256, md5: undefined, bytes: undefined },
  });
  // A mirror named by the official SHA-256: the official size and MD5 are checked too.
  assert.deepEqual(
    resolveDownload("cifar10", { url, sha256: official.sha256 }, none).checksum,
    official,
  );
  // The environment, when the command line says nothing.
  const env = (k: string) =>
    ({ SAM_AT_CIFAR100_URL: url, SAM_AT_CIFAR100_SHA256: SHA256 } as Record<string, string>)[k];
  assert.deepEqual(resolveDownload("cifar100", {}, env), {
    url,
    checksum: { sha256: SHA256, md5: undefined, bytes: undefined },
  });
  assert.equal(resolveDownload("cifar10", {}, env).url, official.url, "CIFAR-100's settings only");
  const bad: [object, RegExp][] = [
    [
      { url },
      /is not the official CIFAR-10 URL, .*add --sha256 HEX \(or set SAM_AT_CIFAR10_SHA256\); a mirror of the official archive has SHA-256 c4a38c50/,
    ],
    [
      { url: "ftp://x/y", sha256: SHA256 },
      /^--url must be an http:\/\/ or https:\/\/ URL, not "ftp:\/\/x\/y"\.$/,
    ],
    [
      { url, sha256: "abc" },
      /^--sha256 must be the archive's SHA-256 \(64 hex digits\), not "abc"\.$/,
    ],
    [{ url, md5: "xyz" }, /^--md5 must be the archive's MD5 \(32 hex digits\)/],
    [{ url, sha256: SHA256, bytes: "12k" }, /^--bytes must be the archive's size in bytes/],
    [
      { sha256: SHA256 },
      /^The official CIFAR-10 archive is checked against its published checksum \(MD5 c32a1d4a.*\); a checksum of your own goes with an archive from another URL \(--url\)\.$/,
    ],
  ];
  for (const [given, pattern] of bad) {
    assert.throws(() => resolveDownload("cifar10", given, none), (e) => {
      assert.ok(e instanceof DatasetError);
      assert.match(e.message, pattern);
      return true;
    }, JSON.stringify(given));
  }
  assert.throws(
    () => resolveDownload("cifar10", {}, (k) => (k === "SAM_AT_CIFAR10_URL" ? url : undefined)),
    /SAM_AT_CIFAR10_SHA256/,
  );
});

async function datasetCli(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number; out: string; err: string }> {
  const r = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", "scripts/dataset.ts", ...args],
    cwd: ROOT,
    env,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: r.code, out: dec.decode(r.stdout), err: dec.decode(r.stderr) };
}

Deno.test("scripts/dataset.ts download cifar10 --url: with --sha256 or the environment it downloads, extracts and checks; without a checksum, or with a wrong one, one sentence and nothing kept", async () => {
  await withServer((base) =>
    withTemp(async (dir) => {
      const url = `${base}/cifar-10-binary.tar.gz`;
      const refused = await datasetCli(["download", "cifar10", join(dir, "a"), "--url", url]);
      assert.equal(refused.code, 2);
      assert.match(refused.err.trim(), /^\S+ is not the official CIFAR-10 URL, .*add --sha256 HEX/);
      assert.equal(refused.err.trim().split("\n").length, 1);
      assert.throws(() => Deno.statSync(join(dir, "a")), Deno.errors.NotFound, "nothing made");
      const wrong = await datasetCli([
        "download",
        "cifar10",
        join(dir, "b"),
        "--url",
        url,
        "--sha256",
        "0".repeat(64),
      ]);
      assert.equal(wrong.code, 2);
      assert.match(
        wrong.err.trim(),
        /^Download of .* has SHA-256 [0-9a-f]{64}, expected 0{64}, so it was deleted/,
      );
      assert.deepEqual(listing(join(dir, "b")), []);

      const ok = await datasetCli([
        "download",
        "cifar10",
        join(dir, "c"),
        "--url",
        url,
        "--sha256",
        SHA256,
      ]);
      assert.equal(ok.code, 0, ok.err);
      assert.equal(ok.out.trim().split("\n").at(-1), join(dir, "c", "cifar-10-batches-bin"));
      const check = await datasetCli(["check", "cifar10", join(dir, "c")]);
      assert.equal(check.code, 0, check.err);
      assert.equal(
        check.out.trim(),
        `CIFAR-10: found at ${join(dir, "c", "cifar-10-batches-bin")}.`,
      );

      const byEnv = await datasetCli(["download", "cifar10", join(dir, "d")], {
        SAM_AT_CIFAR10_URL: url,
        SAM_AT_CIFAR10_SHA256: SHA256,
      });
      assert.equal(byEnv.code, 0, byEnv.err);
      assert.deepEqual(listing(join(dir, "d")), ["cifar-10-batches-bin", "cifar-10-binary.tar.gz"]);
      assert.deepEqual(
        Array.from((await loadCifar10(join(dir, "d"), { officialCounts: false })).train.labels),
        [1, 2, 3, 4, 5],
      );
    })
  );
});

Deno.test("scripts/dataset.ts: check and info find cifar10-jpeg; bad commands are one sentence", async () => {
  const usage = await datasetCli(["fetch", "cifar10"]);
  assert.equal(usage.code, 2);
  assert.match(usage.err.trim(), /^usage: scripts\/dataset\.ts download /);
  const stray = await datasetCli(["check", "cifar10", "--url", "http://x/"]);
  assert.equal(stray.code, 2);
  assert.match(stray.err.trim(), /^--url, --sha256, --md5 and --bytes go with download only/);
  const unknown = await datasetCli(["check", "mnist"]);
  assert.equal(unknown.code, 2);
  assert.match(unknown.err.trim(), /^Unknown dataset "mnist": use one of /);
  await withTemp(async (dir) => {
    const absent = await datasetCli(["check", "cifar10-jpeg", dir]);
    assert.equal(absent.code, 2);
    assert.match(
      absent.err.trim(),
      /^CIFAR-10 \(JPEG q75 copy\) not found at .*: put cifar10-jpeg\.tar\.gz/,
    );
    // A user's image folder (a folder: nothing is cached for it).
    const images = await fixtureImages({
      classes: CIFAR10_CLASSES,
      files: { train: ["0.png", "1.png"], test: ["0.png"] },
      shape: [4, 4, 3],
    });
    const folder = await writeFiles(join(dir, "tiny"), entriesOf(images));
    const check = await datasetCli(["check", "cifar10-jpeg", folder]);
    assert.equal(check.out.trim(), `CIFAR-10 (JPEG q75 copy): found at ${folder}.`);
    const info = await datasetCli(["info", "cifar10-jpeg", folder]);
    assert.equal(info.code, 0, info.err);
    assert.match(
      info.out,
      /^cifar10-jpeg\/train: 20 images 4x4x3, 10 classes\ncifar10-jpeg\/test: 10 images 4x4x3, 10 classes\nloaded in /,
    );
  });
});
