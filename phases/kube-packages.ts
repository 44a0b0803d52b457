/**
 * kube-packages: kubelet, kubectl and cri-tools at the cluster's version, from pkgs.k8s.io, a
 * mirror of it (or of the legacy layout), or package files uploaded from the workstation (a
 * directory, or the air-gap bundle's for the host's package family and architecture); pinned
 * so routine upgrades leave them alone. Uploaded files are written 0600 into a directory of
 * their own and removed once installed, whether the install worked or not; plans name them,
 * never show their content.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { probe } from '../src/transport/probe.js';
import { quote } from '../src/transport/quote.js';
import { debArchitecture, goArchitecture } from '../src/airgap/architectures.js';
import { aptRepo, KUBE_PACKAGES, packageVersion, repoInputOf, rpmRepo } from '../templates/kube-repos.js';
import { downloadKey, packageOps, parseInstalled } from '../src/facts/packages.js';
import { parseVersion } from '../src/util/version.js';
import { whenUnlocked } from '../src/facts/package-lock.js';
import { applyFiles, planFiles, type FilePayload } from '../src/kit/managed-files.js';
import type { Change, Phase } from '../src/kit/phase.js';
import { KUBERNETES_CHANGES } from '../templates/versions.js';

/** `files`: the package files on the workstation, verified bundle entries or the operator's offline directory. */
type Payload =
  | FilePayload
  | { kind: 'key'; url: string; path: string }
  | { kind: 'install'; packages: ReadonlyArray<{ name: string; version: string }> }
  | { kind: 'install-files'; files: readonly string[] }
  | { kind: 'hold' };

/** Where uploaded package files wait for their install, and only that long. */
const UPLOAD_DIR = '/var/cache/kubestrap/packages';

export const kubePackagesPhase: Phase<Payload> = {
  name: 'kube-packages',
  title: 'kubelet, kubectl and cri-tools at the cluster version',
  description:
    'Installs kubelet, kubectl and cri-tools pinned to the cluster version from pkgs.k8s.io, a mirror, or uploaded package files.',
  async plan(ctx, target) {
    const { host, facts } = target;
    const pk = ctx.inventory.cluster.packages;
    const version = parseVersion(ctx.inventory.cluster.kubernetesVersion)!;
    const ops = packageOps(facts.packageManager);
    if (!ops) throw new Error(`no supported package manager (found ${facts.packageManager}); kubestrap handles apt, dnf and yum`);
    const apt = facts.packageManager === 'apt';
    const seen = await probe(host, {
      installed: ops.query([...KUBE_PACKAGES]),
      held: apt ? `apt-mark showhold ${KUBE_PACKAGES.join(' ')}` : 'true',
    });
    const installed = parseInstalled(seen.installed.join('\n'));
    const held = new Set(seen.held);
    const wanted = `${version.major}.${version.minor}.${version.patch}`;
    const kubeOk = (name: string) => installed.get(name)?.startsWith(`${wanted}-`) || installed.get(name) === wanted;
    const missing = KUBE_PACKAGES.filter((name) => (name === 'cri-tools' ? !installed.has(name) : !kubeOk(name)));
    const changes: Change<Payload>[] = [];
    if (missing.length) {
      const summary = missing
        .map((n) => `${n} ${n === 'cri-tools' ? '(any)' : wanted}${installed.has(n) ? ` (now ${installed.get(n)})` : ''}`)
        .join(', ');
      if (ctx.bundle || pk.source === 'offline') {
        // the bundle's packages for this host's family and architecture (preflight refused a bundle without them)
        const files = ctx.bundle
          ? ctx.bundle.packageFiles(apt ? 'deb' : 'rpm', apt ? debArchitecture(goArchitecture(facts.arch)) : facts.arch)
          : readdirSync(pk.offlineDir!)
              .filter((f) => f.endsWith(apt ? '.deb' : '.rpm'))
              .map((f) => join(pk.offlineDir!, f));
        if (files.length === 0) throw new Error(`${pk.offlineDir} has no ${apt ? '.deb' : '.rpm'} files for ${facts.os.prettyName}`);
        const names = files.map((f) => basename(f)).join(', ');
        changes.push({
          target: 'packages',
          summary: `install ${summary} from ${files.length} uploaded file(s): ${names}`,
          payload: { kind: 'install-files', files },
        });
      } else {
        if (pk.source === 'upstream' && !KUBERNETES_CHANGES.onPkgsK8sIo(version)) {
          throw new Error(
            `pkgs.k8s.io has no packages for ${version.text} (it starts at v1.24): set cluster.packages.source: mirror with mirrorLayout: legacy, or source: offline`,
          );
        }
        const input = repoInputOf(pk, version.minor);
        const repo = apt ? aptRepo(input) : rpmRepo(input);
        changes.push(...(await planFiles(host, [{ path: repo.path, content: repo.content, mode: 0o644 }])));
        if (repo.key && !(await host.exists(repo.key.path)))
          changes.push({
            target: repo.key.path,
            summary: `download signing key from ${repo.key.url}`,
            payload: { kind: 'key', ...repo.key },
          });
        const pin = packageVersion(version.text, input.layout, apt);
        changes.push({
          target: 'packages',
          summary: `install ${summary}`,
          payload: { kind: 'install', packages: missing.map((name) => ({ name, version: name === 'cri-tools' ? '' : pin })) },
        });
      }
    }
    const unheld = apt ? KUBE_PACKAGES.filter((n) => !held.has(n)) : [];
    if (unheld.length)
      changes.push({ target: 'package holds', summary: `hold ${unheld.join(' ')} at their version`, payload: { kind: 'hold' } });
    return { changes };
  },
  async apply(ctx, target, changes) {
    const { host, facts } = target;
    const ops = packageOps(facts.packageManager)!;
    await applyFiles(host, changes);
    if (changes.some((c) => c.payload.kind === 'install' || c.payload.kind === 'install-files'))
      await whenUnlocked(target.host, ops.locks, (line) => {
        ctx.progress(target.spec.name, line);
      });
    for (const { payload } of changes) {
      if (payload.kind === 'key') await host.check(downloadKey(payload.url, payload.path));
    }
    for (const { payload } of changes) {
      if (payload.kind === 'install') await host.check(ops.install(payload.packages), { timeoutMs: 15 * 60_000 });
      if (payload.kind === 'install-files') {
        const uploads = payload.files.map((f) => ({ path: `${UPLOAD_DIR}/${basename(f)}`, content: readFileSync(f), mode: 0o600 }));
        await host.check(`rm -rf ${quote(UPLOAD_DIR)} && install -d -m 0700 ${quote(UPLOAD_DIR)}`);
        await host.writeFiles(uploads);
        const paths = uploads.map((u) => u.path);
        await host.check([`trap ${quote(`rm -rf ${quote(UPLOAD_DIR)}`)} EXIT`, ops.installFiles(paths)].join('\n'), {
          timeoutMs: 15 * 60_000,
        });
      }
      if (payload.kind === 'hold') await host.check(ops.hold([...KUBE_PACKAGES]));
    }
  },
};
