/**
 * Whether this code runs inside a Deno Jupyter kernel (`deno jupyter`): the one check behind
 * the progress bars, tables and charts that draw themselves in a notebook and print text elsewhere.
 */

/** Deno.jupyter throws when touched outside `deno jupyter`; this asks without throwing. */
export function jupyterAvailable(): boolean {
  try {
    return typeof (Deno as any).jupyter?.display === "function";
  } catch {
    return false;
  }
}
