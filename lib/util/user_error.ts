/**
 * The one base class of every error whose message is already the whole answer for the user: one
 * sentence naming what is wrong and the fix (a bad option, a missing dataset, a damaged file...).
 * scripts/cli.ts catches this class, not a list: a CLI prints the sentence and exits 2. Anything
 * else that escapes is a bug and keeps its stack.
 */
export class UserError extends Error {
  override name = "UserError";
}
