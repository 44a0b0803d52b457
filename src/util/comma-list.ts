/** The items of a comma-separated flag value (`--skip a,b`), trimmed, empty ones dropped; none when the flag is absent. */
export const commaList = (text: string | undefined): string[] =>
  text
    ? text
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean)
    : [];
