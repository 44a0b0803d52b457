/**
 * A real holder of the package manager's lock on a lab host: dpkg installing a package whose
 * preinst sleeps, holding dpkg's locks as long (what an unattended upgrade does to kubestrap).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from './helpers.js';
import type { Lab, LabHost } from './lab.js';

function holderPackage(seconds: number): Buffer {
  const root = join(tempDir('lock-holder'), 'pkg');
  mkdirSync(join(root, 'DEBIAN'), { recursive: true });
  writeFileSync(
    join(root, 'DEBIAN', 'control'),
    'Package: kubestrap-lock-holder\nVersion: 1.0\nArchitecture: all\nMaintainer: kubestrap tests <tests@kubestrap.invalid>\nDescription: holds the dpkg lock for a while\n',
  );
  writeFileSync(join(root, 'DEBIAN', 'preinst'), `#!/bin/sh\nsleep ${seconds}\n`, { mode: 0o755 });
  execFileSync('dpkg-deb', ['--build', '--root-owner-group', root, `${root}.deb`], { stdio: 'ignore' });
  return readFileSync(`${root}.deb`);
}

/**
 * Starts `dpkg -i /root/holder.deb` on the host and returns once dpkg holds its locks; `done`
 * settles when dpkg has finished.
 */
export async function holdDpkgLock(lab: Lab, host: LabHost, seconds: number): Promise<{ done: Promise<void> }> {
  await lab.run(host, `base64 -d > /root/holder.deb <<'EOF'\n${holderPackage(seconds).toString('base64')}\nEOF`);
  const done = lab.run(host, 'dpkg -i /root/holder.deb >/dev/null 2>&1; true').then(() => undefined);
  let finished = false;
  void done.then(() => (finished = true));
  // the preinst runs (sleeps) with dpkg's locks taken
  while (!finished && lab.inside(host, 'pgrep -x dpkg >/dev/null && pgrep -x sleep >/dev/null && echo yes; true').trim() !== 'yes')
    await new Promise((r) => setTimeout(r, 100));
  return { done };
}
