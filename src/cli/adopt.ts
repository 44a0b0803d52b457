/**
 * `kubestrap adopt`: writes the inventory of a running kubeadm cluster kubestrap did not make,
 * read through one of its control planes, so plan, apply and the day-2 commands work there.
 */
import { existsSync } from 'node:fs';
import { Command, Option } from 'commander';
import { adoptCluster } from '../adopt/adopt.js';
import { AdoptRefusal } from '../adopt/read-cluster.js';
import { printable } from '../log/redact.js';
import { RunLog } from '../log/run-log.js';
import { HostKeyPolicy } from '../transport/host-keys.js';
import { writeLocalFile } from '../util/local-file.js';
import { expandHome } from '../util/paths.js';
import { UsageError } from './errors.js';
import { askPassphrase } from './prompt.js';
import { SSH_CONFIG_FLAG, sshConfigFrom } from './session.js';

interface AdoptCliOptions {
  controlPlane: string;
  user?: string;
  port?: string;
  key?: string;
  hostsFromNodes?: boolean;
  node: string[];
  out: string;
  force?: boolean;
  acceptNewHostKeys?: boolean;
  knownHosts: string;
  sshConfig?: string;
  connectTimeout: string;
  logFile?: string;
}

/** --node NAME=ADDRESS: a node the operator vouches for the address of. */
function nodeAddresses(values: readonly string[]): Map<string, string> {
  return new Map(
    values.map((v) => {
      const eq = v.indexOf('=');
      const [name, address] = [v.slice(0, eq), v.slice(eq + 1)];
      if (eq < 1 || !/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(name) || !/^[A-Za-z0-9.:[\]-]+$/.test(address))
        throw new UsageError(`--node ${v}: expected NODE=ADDRESS, e.g. worker-1=192.168.1.21`);
      return [name, address];
    }),
  );
}

function wholeNumber(flag: string, text: string, max: number): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1 || n > max)
    throw new UsageError(`${flag} must be a whole number from 1 to ${max}, got ${JSON.stringify(text)}`);
  return n;
}

export function adoptCommand(): Command {
  return new Command('adopt')
    .description('write the inventory of a running kubeadm cluster (read through one control plane; nothing on the hosts changes)')
    .requiredOption('--control-plane <address>', "address of one of the cluster's control planes (SSH)")
    .option('--user <user>', "SSH login user (default: ~/.ssh/config's User for the address, else root)")
    .option('--port <port>', "SSH port (default: ~/.ssh/config's Port for the address, else 22)")
    .option('--key <file>', 'private key for the SSH login (default: the ssh-agent, else ~/.ssh/id_ed25519, id_ecdsa, id_rsa)')
    .option(
      '--hosts-from-nodes',
      "add every Node of the cluster as a host, reached at its InternalIP with the control plane's login (its host key must be known already: a Node chooses its own InternalIP)",
    )
    .option(
      '--node <name=address>',
      'add this Node as a host, reached at the address you give (repeatable; --accept-new-host-keys applies to it)',
      (v: string, prev: string[]) => [...prev, v],
      [] as string[],
    )
    .requiredOption('-o, --out <file>', 'where to write the inventory')
    .option('--force', 'overwrite the file if it exists')
    .option(
      '--accept-new-host-keys',
      'record unknown host keys in the known_hosts file instead of refusing them (changed keys are always refused)',
    )
    .option('--known-hosts <file>', 'known_hosts file', '~/.ssh/known_hosts')
    .option(...SSH_CONFIG_FLAG)
    .addOption(new Option('--connect-timeout <seconds>', 'SSH connect timeout').default('20'))
    .option('--log-file <file>', 'where to write the run log (default: ~/.kubestrap/logs/<time>-adopt.log)')
    .addHelpText(
      'after',
      '\nExample:\n  kubestrap adopt --control-plane 192.168.1.100 --key ~/.ssh/id_rsa --hosts-from-nodes -o cluster.yaml\n  kubestrap plan -i cluster.yaml',
    )
    .action(async (options: AdoptCliOptions) => {
      if (existsSync(options.out) && !options.force)
        throw new UsageError(`${options.out} exists: adopt does not overwrite an inventory (--force does)`);
      const log = RunLog.forCommand('adopt', options.logFile);
      try {
        const result = await adoptCluster({
          controlPlane: options.controlPlane,
          login: {
            ...(options.user ? { user: options.user } : {}),
            ...(options.port ? { port: wholeNumber('--port', options.port, 65535) } : {}),
            ...(options.key ? { keyPath: options.key } : {}),
          },
          hostsFromNodes: options.hostsFromNodes === true,
          nodeAddresses: nodeAddresses(options.node),
          hostKeys: new HostKeyPolicy({ knownHostsFile: expandHome(options.knownHosts), acceptNew: options.acceptNewHostKeys === true }),
          connectTimeoutMs: wholeNumber('--connect-timeout', options.connectTimeout, 600) * 1000,
          sshConfig: sshConfigFrom(options.sshConfig),
          log,
          ...(process.stdin.isTTY ? { passphrasePrompt: askPassphrase } : {}),
        });
        writeLocalFile(options.out, result.text, 0o644);
        const k = result.cluster.kubeadm;
        const unreached = result.hosts.filter((h) => h.problem);
        // names and versions come from the cluster: printable() keeps escape sequences off the terminal
        console.log(
          printable(
            `adopted cluster ${k.clusterName} (Kubernetes ${k.kubernetesVersion}, kubeadm-config ${k.apiVersion}): ${result.hosts.length} of ${result.cluster.nodes.length} nodes in ${options.out}`,
          ),
        );
        console.log('  NODE\tADDRESS\tADDRESS FROM\tHOST KEY (check each before trusting the file)');
        for (const h of result.hosts)
          console.log(
            printable(`  ${h.node.name}\t${h.address}\t${h.addressFrom === 'node' ? "the Node's InternalIP" : 'you'}\t${h.hostKey ?? '-'}`),
          );
        for (const h of unreached) console.log(printable(`  ${h.node.name}: not reached (${h.problem}); it is in the file, marked`));
        console.log(`${result.guesses} guessed value(s) are marked GUESS in the file. Next: kubestrap plan -i ${options.out}`);
        if (unreached.length) process.exitCode = 1;
      } catch (err) {
        if (err instanceof AdoptRefusal) {
          console.error(`error: not adopted: ${printable(err.message)}`);
          process.exitCode = 1;
          return;
        }
        throw err;
      } finally {
        await log.close();
      }
    });
}
