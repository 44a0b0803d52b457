/**
 * kernel: reports a running kernel below the minimum and, only when the inventory asks for it,
 * upgrades RHEL 7 family hosts to kernel-ml from an ELRepo-style repository, makes it the
 * default boot entry, reboots and waits for the host to come back. Runs first, so that the
 * live settings of later phases are applied to the new kernel.
 */
import { kernelRepo } from '../templates/kube-repos.js';
import { kernelAtLeast } from '../src/util/kernel.js';
import { applyFiles, planFiles, type FilePayload } from '../src/kit/managed-files.js';
import type { Change, Phase } from '../src/kit/phase.js';

type Payload = FilePayload | { kind: 'upgrade'; minimum: string };

const REPO_FILE = '/etc/yum.repos.d/kubestrap-kernel.repo';
const REBOOT_TIMEOUT_MS = 10 * 60_000;

export const kernelPhase: Phase<Payload> = {
  name: 'kernel',
  title: 'kernel version (optional upgrade)',
  description:
    'Checks the running kernel against preparation.kernel.minimum; with preparation.kernel.upgrade, installs kernel-ml (RHEL 7 family), reboots and waits.',
  async plan(ctx, target) {
    const policy = ctx.inventory.preparation.kernel;
    const f = target.facts;
    if (kernelAtLeast(f.kernel, policy.minimum)) return { changes: [] };
    const below = `kernel ${f.kernel} is older than ${policy.minimum}`;
    if (!policy.upgrade)
      return {
        changes: [],
        warnings: [`${below}; set preparation.kernel.upgrade: true to upgrade it (RHEL 7 family), or upgrade it yourself`],
      };
    if (f.container) return { changes: [], warnings: [`${below}, but this is a container (${f.container}): the kernel is the machine's`] };
    const rhel7 = (f.packageManager === 'yum' || f.packageManager === 'dnf') && /^7(\.|$)/.test(f.os.versionId);
    if (!rhel7)
      return {
        changes: [],
        warnings: [
          `${below}; kubestrap upgrades kernels on the RHEL 7 family only — on ${f.os.prettyName} install the distribution's newer kernel (HWE, backports)`,
        ],
      };
    const repo = kernelRepo(policy.repository, policy.gpgKey);
    const changes: Change<Payload>[] = await planFiles(target.host, [{ path: REPO_FILE, content: repo, mode: 0o644 }]);
    changes.push({
      target: 'kernel',
      summary: `install kernel-ml, boot it by default, reboot and wait (now ${f.kernel})`,
      payload: { kind: 'upgrade', minimum: policy.minimum },
    });
    return { changes };
  },
  async apply(_ctx, target, changes) {
    await applyFiles(target.host, changes);
    const upgrade = changes.find((c) => c.payload.kind === 'upgrade');
    if (!upgrade || upgrade.payload.kind !== 'upgrade') return;
    const { host } = target;
    await host.check(
      'yum install -y --enablerepo=kubestrap-kernel kernel-ml && grub2-set-default 0 && grub2-mkconfig -o /boot/grub2/grub.cfg',
      { timeoutMs: 20 * 60_000 },
    );
    // reboot after this session has returned, so the command itself completes cleanly
    // reboot(8): systemd's, OpenRC's and sysvinit's alike
    await host.check('nohup sh -c "sleep 2; reboot" >/dev/null 2>&1 &');
    await new Promise((r) => setTimeout(r, 5000));
    await host.reconnect(REBOOT_TIMEOUT_MS);
    const kernel = (await host.check('uname -r')).stdout.trim();
    if (!kernelAtLeast(kernel, upgrade.payload.minimum))
      throw new Error(`after the reboot the host still runs kernel ${kernel}; check the boot entries (grub2-editenv list)`);
  },
};
