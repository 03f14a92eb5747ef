/**
 * libtensorflow 2.21 (the library tfjs-node runs here) logs through absl, which ignores
 * TF_CPP_MIN_LOG_LEVEL: loading it prints
 *
 *   WARNING: All log messages before absl::InitializeLog() is called are written to STDERR
 *   I0000 00:00:... port.cc:153] oneDNN custom operations are on. ...
 *
 * to file descriptor 2 from the library's static initialisers, before any function of it can be
 * called (tried: absl::SetMinLogLevel through FFI comes too late; TF_CPP_MIN_LOG_LEVEL=3 changes
 * nothing). `withNativeLogFilter` runs the load with descriptor 2 pointed at a temporary file, then
 * restores it and writes back every line except absl log lines below the severity that
 * TF_CPP_MIN_LOG_LEVEL asks for (0 INFO, 1 WARNING, 2 ERROR, 3 FATAL) and absl's "before
 * InitializeLog" notice. With TF_CPP_MIN_LOG_LEVEL=0, or where the C library cannot be reached
 * through FFI, it just runs the load.
 */

/** absl's line prefix: severity letter, MMDD, time (before InitializeLog "00:00:<epoch seconds>"), thread id, file:line]. */
const ABSL_LINE = /^([IWEF])\d{4} \d\d:\d\d:\d+\.\d+\s+\d+\s+[^\]\s]+:\d+\] /;
const ABSL_NOTICE =
  /^WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR$/;
const SEVERITY = { I: 0, W: 1, E: 2, F: 3 } as const;

/** The minimum severity TF_CPP_MIN_LOG_LEVEL asks for (its default, 0, keeps everything). */
export function minLogLevel(value = Deno.env.get("TF_CPP_MIN_LOG_LEVEL")): number {
  const n = Number(value ?? 0);
  return Number.isInteger(n) && n >= 0 ? Math.min(n, 3) : 0;
}

/** The text with absl log lines below `level` (and, if level > 0, absl's notice) removed. */
export function filterNativeLog(text: string, level: number): string {
  if (level <= 0) return text;
  return text.split(/(?<=\n)/).filter((line) => {
    const bare = line.replace(/\r?\n$/, "");
    if (ABSL_NOTICE.test(bare)) return false;
    const m = bare.match(ABSL_LINE);
    return !m || SEVERITY[m[1] as keyof typeof SEVERITY] >= level;
  }).join("");
}

function writeAll(bytes: Uint8Array): void {
  let done = 0;
  while (done < bytes.length) done += Deno.stderr.writeSync(bytes.subarray(done));
}

type Libc = Deno.DynamicLibrary<{
  dup: { parameters: ["i32"]; result: "i32" };
  dup2: { parameters: ["i32", "i32"]; result: "i32" };
  close: { parameters: ["i32"]; result: "i32" };
  creat: { parameters: ["buffer", "u32"]; result: "i32" };
}>;

function openLibc(): Libc | null {
  if (Deno.build.os !== "linux") return null;
  try {
    return Deno.dlopen("libc.so.6", {
      dup: { parameters: ["i32"], result: "i32" },
      dup2: { parameters: ["i32", "i32"], result: "i32" },
      close: { parameters: ["i32"], result: "i32" },
      creat: { parameters: ["buffer", "u32"], result: "i32" },
    });
  } catch {
    return null; // no --allow-ffi, or no glibc: load unfiltered
  }
}

/** Run `load` (which loads a native library) with its stderr filtered as described above. */
export async function withNativeLogFilter<T>(load: () => Promise<T>): Promise<T> {
  const level = minLogLevel();
  const libc = level > 0 ? openLibc() : null;
  if (!libc) return await load();
  const path = Deno.makeTempFileSync({ prefix: "sam_at_native_log_" });
  const saved = libc.symbols.dup(2);
  const file = libc.symbols.creat(new TextEncoder().encode(path + "\0"), 0o600);
  if (saved < 0 || file < 0 || libc.symbols.dup2(file, 2) < 0) {
    for (const fd of [saved, file]) if (fd >= 0) libc.symbols.close(fd);
    libc.close();
    Deno.removeSync(path);
    return await load();
  }
  libc.symbols.close(file);
  try {
    return await load();
  } finally {
    libc.symbols.dup2(saved, 2);
    libc.symbols.close(saved);
    libc.close();
    const text = filterNativeLog(Deno.readTextFileSync(path), level);
    Deno.removeSync(path);
    if (text) writeAll(new TextEncoder().encode(text));
  }
}
