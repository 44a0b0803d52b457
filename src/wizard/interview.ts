/**
 * The interactive questions of `kubestrap init` (enquirer; only ever reached with a terminal).
 * Each answer is checked as it is given and re-asked with the reason; every host is contacted
 * over SSH while its answers are fresh, showing the host key's fingerprint for the operator to
 * trust (it is then pinned in the inventory).
 */
import { parseVersion } from '../util/version.js';
import { KUBEADM_CHANGES } from '../../templates/versions.js';
import { existsSync, readFileSync } from 'node:fs';
import enquirer from 'enquirer';
import { fingerprint, keyType } from '../transport/host-keys.js';
import { openSsh, type Credentials } from '../transport/ssh.js';
import { expandHome } from '../util/paths.js';
import { CHINA_PROFILE, checks, DEFAULTS, SUPPORTED_VERSIONS, type Answers, type HostAnswer, type MirrorProfile } from './answers.js';

type Prompt = Parameters<typeof enquirer.prompt>[0];

async function ask<T>(question: Record<string, unknown>): Promise<T> {
  const answer = await enquirer.prompt({ name: 'value', ...question } as Prompt);
  return (answer as { value: T }).value;
}

const validate = (check: (v: string) => string | undefined) => (value: string) => check(value.trim()) ?? true;

function credentialsFor(auth: HostAnswer['auth']): Credentials {
  if ('keyPath' in auth) return { privateKey: readFileSync(expandHome(auth.keyPath)) };
  if ('agent' in auth) return { agent: process.env.SSH_AUTH_SOCK ?? '' };
  return { password: process.env[auth.passwordEnv] ?? '' };
}

/** Connects once; the operator sees the host key and decides. Returns the trusted fingerprint or why it failed. */
async function checkHost(host: Omit<HostAnswer, 'hostKey'>): Promise<{ hostKey: string; cgroupV1: boolean } | { problem: string }> {
  let trusted: string | undefined;
  let rejected = false;
  try {
    const channel = await openSsh(
      { name: host.name, address: host.address, port: host.port ?? 22, user: host.user, credentials: credentialsFor(host.auth) },
      {
        connectTimeoutMs: 10_000,
        hostKeys: {
          verify: async (_target, key) => {
            const print = fingerprint(key);
            const ok = await ask<boolean>({
              type: 'confirm',
              message: `${host.address} presents ${keyType(key)} key ${print}. Trust it (check it on the host: ssh-keygen -lf /etc/ssh/ssh_host_*_key.pub)?`,
              initial: false,
            });
            if (ok) trusted = print;
            else rejected = true;
            return ok ? { ok: true } : { ok: false, reason: `host key ${print} rejected` };
          },
        },
      },
    );
    const cgroup = await channel.run('stat -fc %T /sys/fs/cgroup', {});
    await channel.close();
    return { hostKey: trusted!, cgroupV1: cgroup.stdout.toString('utf8').trim() !== 'cgroup2fs' };
  } catch (err) {
    return { problem: rejected ? 'you did not trust its host key' : (err as Error).message };
  }
}

async function askHost(index: number, firstHost: boolean): Promise<HostAnswer> {
  for (;;) {
    const address = (
      await ask<string>({
        type: 'input',
        message: `Host ${index + 1}: address (IP or DNS name)`,
        validate: validate((v) => checks.address(v)),
      })
    ).trim();
    const name = (
      await ask<string>({
        type: 'input',
        message: 'Node name',
        initial: `node-${index + 1}`,
        validate: (v: string) => /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(v) || 'lower-case letters, digits, - and .',
      })
    ).trim();
    const user = (await ask<string>({ type: 'input', message: 'SSH user', initial: 'root' })).trim();
    const method = await ask<string>({
      type: 'select',
      message: 'Log in with',
      choices: ['key file', 'ssh-agent', 'password from an environment variable'],
    });
    let auth: HostAnswer['auth'];
    if (method === 'key file') {
      const keyPath = await ask<string>({
        type: 'input',
        message: 'Private key file',
        initial: '~/.ssh/id_ed25519',
        validate: (v: string) => existsSync(expandHome(v.trim())) || `cannot read ${v}`,
      });
      auth = { keyPath: keyPath.trim() };
    } else if (method === 'ssh-agent') auth = { agent: true };
    else
      auth = {
        passwordEnv: (
          await ask<string>({ type: 'input', message: 'Environment variable with the password', initial: 'KUBESTRAP_SSH_PASSWORD' })
        ).trim(),
      };
    let sudo: HostAnswer['sudo'];
    if (user !== 'root') {
      const mode = await ask<string>({
        type: 'select',
        message: 'sudo',
        choices: ['passwordless', 'password from an environment variable'],
      });
      sudo =
        mode === 'passwordless'
          ? { mode: 'passwordless' }
          : {
              mode: 'password',
              passwordEnv: (
                await ask<string>({
                  type: 'input',
                  message: 'Environment variable with the sudo password',
                  initial: 'KUBESTRAP_SUDO_PASSWORD',
                })
              ).trim(),
            };
    }
    const role = await ask<string>({
      type: 'select',
      message: 'Roles',
      choices: firstHost
        ? ['control-plane', 'control-plane and worker', 'worker']
        : ['worker', 'control-plane', 'control-plane and worker'],
    });
    const roles: HostAnswer['roles'] =
      role === 'worker' ? ['worker'] : role === 'control-plane' ? ['control-plane'] : ['control-plane', 'worker'];
    const host = { name, address, user, auth, ...(sudo ? { sudo } : {}), roles };
    const checked = await checkHost(host);
    if ('hostKey' in checked) return { ...host, hostKey: checked.hostKey, cgroupV1: checked.cgroupV1 };
    console.error(`  ${address}: ${checked.problem} — let's try this host again`);
  }
}

/** Asks everything not already answered by flags (`preset`). */
export async function interview(preset: Partial<Answers> = {}): Promise<Answers> {
  const answered = <K extends keyof Answers>(key: K, question: () => Promise<Answers[K]>): Promise<Answers[K]> =>
    preset[key] !== undefined ? Promise.resolve(preset[key] as Answers[K]) : question();
  const clusterName = await answered('clusterName', async () =>
    (
      await ask<string>({
        type: 'input',
        message: 'Cluster name',
        initial: DEFAULTS.clusterName,
        validate: (v: string) => /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(v.trim()) || 'a lower-case DNS label',
      })
    ).trim(),
  );
  const kubernetesVersion = await answered('kubernetesVersion', () =>
    ask<string>({ type: 'select', message: 'Kubernetes version', choices: [...SUPPORTED_VERSIONS] }),
  );
  const hosts: HostAnswer[] = [];
  do hosts.push(await askHost(hosts.length, hosts.length === 0));
  while (await ask<boolean>({ type: 'confirm', message: 'Add another host?', initial: hosts.length < 2 }));
  // from 1.35 the kubelet refuses cgroup v1 unless told otherwise: ask now, not at the first plan
  const onV1 = hosts.filter((h) => h.cgroupV1).map((h) => h.name);
  const refusesV1 = KUBEADM_CHANGES.cgroupV1Refused(parseVersion(kubernetesVersion)!);
  const keepCgroupV1 = await answered('keepCgroupV1', async () =>
    onV1.length && refusesV1
      ? ask<boolean>({
          type: 'confirm',
          message: `${onV1.join(', ')} use${onV1.length === 1 ? 's' : ''} cgroup v1, which the ${kubernetesVersion} kubelet refuses. Keep ${onV1.length === 1 ? 'it' : 'them'} on cgroup v1 for now (kubelet failCgroupV1: false)?`,
          initial: true,
        })
      : false,
  );
  const controlPlanes = hosts.filter((h) => h.roles.includes('control-plane'));
  const endpointNeeded = controlPlanes.length > 1;
  const endpoint = await answered('controlPlaneEndpoint', async () =>
    (
      await ask<string>({
        type: 'input',
        message: endpointNeeded
          ? 'Control-plane endpoint (load balancer or VIP, host:port) — required with several control planes'
          : 'Control-plane endpoint (host:port; empty: the first control plane)',
        validate: (v: string) =>
          !v.trim()
            ? !endpointNeeded || 'required with more than one control plane'
            : /^[^\s:]+(:\d+)?$/.test(v.trim()) || 'host or host:port',
      })
    ).trim(),
  );
  const addresses = hosts.map((h) => h.address);
  const podSubnet = await answered('podSubnet', async () =>
    (
      await ask<string>({
        type: 'input',
        message: 'Pod subnet',
        initial: DEFAULTS.podSubnet,
        validate: validate((v) => checks.clearOfHosts(v, addresses)),
      })
    ).trim(),
  );
  const serviceSubnet = await answered('serviceSubnet', async () =>
    (
      await ask<string>({
        type: 'input',
        message: 'Service subnet',
        initial: DEFAULTS.serviceSubnet,
        validate: validate((v) => checks.networks(podSubnet, v, addresses)),
      })
    ).trim(),
  );
  const kubeProxyMode = await answered('kubeProxyMode', () =>
    ask<Answers['kubeProxyMode']>({ type: 'select', message: 'kube-proxy mode', choices: ['ipvs', 'iptables', 'nftables'] }),
  );
  const cni = await answered('cni', () =>
    ask<Answers['cni']>({ type: 'select', message: 'Pod network (CNI)', choices: ['flannel', 'calico', 'none'] }),
  );
  const mirrorProfile = await answered('mirrorProfile', async (): Promise<MirrorProfile> => {
    const profile = await ask<string>({
      type: 'select',
      message: 'Images and packages from',
      choices: ['upstream (registry.k8s.io, pkgs.k8s.io)', `China mirrors (${CHINA_PROFILE.imageRepository})`, 'custom mirrors'],
    });
    return profile.startsWith('upstream') ? 'upstream' : profile.startsWith('China') ? 'china' : 'custom';
  });
  const custom =
    mirrorProfile === 'custom' && !(preset.imageRepository && preset.packageMirror)
      ? {
          imageRepository: (
            await ask<string>({ type: 'input', message: 'Image repository', validate: (v: string) => !!v.trim() || 'required' })
          ).trim(),
          packageMirror: (
            await ask<string>({
              type: 'input',
              message: 'Package mirror URL (pkgs.k8s.io layout)',
              validate: (v: string) => /^https?:\/\//.test(v.trim()) || 'an http(s) URL',
            })
          ).trim(),
        }
      : {};
  const cgroupDriver = await answered('cgroupDriver', () =>
    ask<Answers['cgroupDriver']>({ type: 'select', message: 'cgroup driver (containerd and kubelet)', choices: ['systemd', 'cgroupfs'] }),
  );
  // flags also carry the custom mirror settings, which have no question of their own once given
  return {
    clusterName,
    kubernetesVersion,
    hosts,
    ...(endpoint ? { controlPlaneEndpoint: endpoint } : {}),
    podSubnet,
    serviceSubnet,
    kubeProxyMode,
    cni,
    mirrorProfile,
    ...custom,
    cgroupDriver,
    ...(keepCgroupV1 ? { keepCgroupV1 } : {}),
    ...preset,
  };
}

export async function confirm(message: string, initial = false): Promise<boolean> {
  return ask<boolean>({ type: 'confirm', message, initial });
}
