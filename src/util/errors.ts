/** What was thrown, as an Error: JavaScript lets a rejection carry any value. */
export function asError(thrown: unknown): Error {
  return thrown instanceof Error ? thrown : new Error(String(thrown));
}

/** The message of what was thrown, whatever it was. */
export const messageOf = (thrown: unknown): string => asError(thrown).message;
