import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { BLOCK_BEGIN, BLOCK_END, blockFor, withBlock } from '../../phases/hosts-file.js';
import { parseInventory } from '../../src/inventory/load.js';
import { resolveHosts } from '../../src/inventory/resolve.js';
import type { Inventory } from '../../src/inventory/schema.js';

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

describe("which nodes a host's block names", () => {
  const inventory = async (workers: string[]) =>
    (
      await parseInventory(
        stringify({
          apiVersion: 'kubestrap.dev/v1alpha1',
          kind: 'Cluster',
          hostDefaults: { user: 'root', auth: { keyPath: '/nonexistent' } },
          cluster: { name: 'c', kubernetesVersion: '1.20.2' },
          hosts: [
            { name: 'cp-1', address: '10.0.0.1', roles: ['control-plane'] },
            ...workers.map((w, i) => ({ name: w, address: `10.0.0.${i + 11}`, roles: ['worker'] })),
          ],
        }),
        'inventory.yaml',
        { checkKeyFiles: false },
      )
    ).inventory;
  const host = (inv: Inventory, name: string) => resolveHosts(inv).find((h) => h.name === name)!;

  it('a worker gets the control planes and itself; a control plane gets no worker', async () => {
    const inv = await inventory(['w-1', 'w-2']);
    expect(blockFor(inv, host(inv, 'w-2')).split('\n').slice(1, -1)).toEqual(['10.0.0.1\tcp-1', '10.0.0.12\tw-2']);
    expect(blockFor(inv, host(inv, 'cp-1')).split('\n').slice(1, -1)).toEqual(['10.0.0.1\tcp-1']);
  });

  it("adding a worker to the inventory changes no other host's block", async () => {
    const before = await inventory(['w-1']);
    const after = await inventory(['w-1', 'w-2']);
    for (const name of ['cp-1', 'w-1']) expect(blockFor(after, host(after, name))).toBe(blockFor(before, host(before, name)));
  });
});
