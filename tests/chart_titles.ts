/**
 * What is wrong with a plotly chart's titles, for the tests of the chart builders and of the
 * rendered pages. plotly.js 3 draws a title only in the form `{text: ...}`: a bare string
 * (`title: "..."`, fine until plotly.js 2) is ignored, so the chart and its axes lose their titles.
 */

type Layout = Record<string, unknown>;

const textOf = (
  t: unknown,
) => (t && typeof t === "object" ? (t as { text?: unknown }).text : undefined);

/**
 * Problems with the chart's titles: no non-empty `{text}` title, or an axis title not in the
 * `{text}` form. None for a chart whose titles plotly.js 3 draws.
 */
export function titleProblems(spec: { layout?: Layout }): string[] {
  const layout = spec.layout ?? {};
  const found: string[] = [];
  const title = textOf(layout.title);
  if (typeof title !== "string" || title.trim() === "") {
    found.push(`no title (layout.title = ${JSON.stringify(layout.title)})`);
  }
  for (const [key, value] of Object.entries(layout)) {
    if (!/^[xy]axis\d*$/.test(key) || !value || typeof value !== "object" || !("title" in value)) {
      continue;
    }
    // {text: ""} is a deliberate blank (small multiples that share one axis title); only a title
    // plotly.js 3 would drop (a bare string, or an object without text) is a problem.
    const t = textOf((value as { title: unknown }).title);
    if (typeof t !== "string") {
      found.push(
        `${key}.title is not {text} (${JSON.stringify((value as { title: unknown }).title)})`,
      );
    }
  }
  return found;
}
