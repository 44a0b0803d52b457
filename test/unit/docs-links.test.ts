/** The README fits on a screen and points into docs/; every relative link of both resolves. */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { expect, test } from 'vitest';

const pages = [
  'README.md',
  ...readdirSync('docs')
    .filter((f) => f.endsWith('.md'))
    .map((f) => join('docs', f)),
];

/** Markdown link targets that are files of this repository (not URLs, not anchors of the same page). */
function relativeLinks(text: string): string[] {
  return [...text.matchAll(/\]\(([^)\s]+)\)/g)].map((m) => m[1]!).filter((t) => !/^[a-z]+:/.test(t) && !t.startsWith('#'));
}

test('README.md is at most 200 lines and links every page of docs/', () => {
  const readme = readFileSync('README.md', 'utf8');
  expect(readme.split('\n').length).toBeLessThanOrEqual(200);
  for (const page of pages.filter((p) => p !== 'README.md')) expect(relativeLinks(readme), page).toContain(page);
});

test.each(pages)('every relative link in %s resolves', (page) => {
  const links = relativeLinks(readFileSync(page, 'utf8'));
  const broken = links.filter((l) => !existsSync(join(dirname(page), l.split('#')[0]!)));
  expect(broken).toEqual([]);
});
