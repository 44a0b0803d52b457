import { describe, expect, it } from 'vitest';
import { BLOCK_BEGIN, BLOCK_END, withBlock } from '../../phases/hosts-file.js';

describe('/etc/hosts managed block', () => {
  const block = `${BLOCK_BEGIN}\n10.0.0.1\tcp-1\n${BLOCK_END}`;
  it('appends once, then replaces in place', () => {
    const original = '127.0.0.1 localhost\n::1 localhost\n';
    const once = withBlock(original, block);
    expect(once).toBe(`${original}${block}\n`);
    const newer = `${BLOCK_BEGIN}\n10.0.0.1\tcp-1\n10.0.0.2\tw-1\n${BLOCK_END}`;
    const twice = withBlock(withBlock(once, block), newer);
    expect(twice.split(BLOCK_BEGIN)).toHaveLength(2);
    expect(twice).toContain('10.0.0.2\tw-1');
    expect(twice.startsWith(original)).toBe(true);
  });

  it('handles a file without a final newline', () => {
    expect(withBlock('127.0.0.1 localhost', block)).toBe(`127.0.0.1 localhost\n${block}\n`);
  });
});
