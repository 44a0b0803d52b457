import { existsSync, readFileSync } from 'node:fs';
import { writeLocalFile } from '../util/local-file.js';
import { Command, Option } from 'commander';
import { InventoryError } from '../inventory/issues.js';
import { parseInventory } from '../inventory/load.js';
import { checks, inventoryFor, parseAnswers, type Answers } from '../wizard/answers.js';
import { confirm, interview } from '../wizard/interview.js';
import { renderInventory } from '../wizard/render.js';
import { UsageError } from './errors.js';
import { runPhases } from './run-phases.js';

interface InitOptions {
  out: string;
  answers?: string;
  force?: boolean;
  plan?: boolean;
  clusterName?: string;
  kubernetesVersion?: string;
  controlPlaneEndpoint?: string;
  podSubnet?: string;
  serviceSubnet?: string;
  kubeProxyMode?: Answers['kubeProxyMode'];
  cni?: Answers['cni'];
  mirrorProfile?: Answers['mirrorProfile'];
  imageRepository?: string;
  packageMirror?: string;
  cgroupDriver?: Answers['cgroupDriver'];
}

/** Answers given as flags win over the answers file (scripts often vary just one). */
const FLAG_ANSWERS = [
  'clusterName',
  'kubernetesVersion',
  'controlPlaneEndpoint',
  'podSubnet',
  'serviceSubnet',
  'kubeProxyMode',
  'cni',
  'mirrorProfile',
  'imageRepository',
  'packageMirror',
  'cgroupDriver',
] as const;

function flagAnswers(options: InitOptions): Partial<Answers> {
  return Object.fromEntries(FLAG_ANSWERS.filter((k) => options[k] !== undefined).map((k) => [k, options[k]]));
}

function answersProblems(a: Answers): string[] {
  const problems: string[] = [];
  const note = (where: string, p: string | undefined) => p && problems.push(`${where}: ${p}`);
  note('kubernetesVersion', checks.version(a.kubernetesVersion));
  if (a.hosts.length === 0) problems.push('hosts: at least one host is needed');
  a.hosts.forEach((h, i) => note(`hosts[${i}].address`, checks.address(h.address)));
  note(
    'podSubnet',
    checks.clearOfHosts(
      a.podSubnet,
      a.hosts.map((h) => h.address),
    ),
  );
  note(
    'serviceSubnet',
    checks.networks(
      a.podSubnet,
      a.serviceSubnet,
      a.hosts.map((h) => h.address),
    ),
  );
  return problems;
}

/** Writes the whole file or nothing: an interrupted init never leaves half an inventory. */
function writeAtomically(path: string, text: string): void {
  writeLocalFile(path, text, 0o644);
}

export function initCommand(): Command {
  return new Command('init')
    .description('write an inventory by answering questions (checked as you go, hosts contacted over SSH); or from --answers FILE')
    .requiredOption('-o, --out <file>', 'inventory file to write')
    .option('--answers <file>', 'take every answer from this YAML file instead of asking (for scripts and CI)')
    .option('--force', 'overwrite an existing file without asking')
    .option('--no-plan', 'do not offer preflight and plan after writing')
    .option('--cluster-name <name>', 'answer: cluster name')
    .option('--kubernetes-version <version>', 'answer: Kubernetes version, e.g. v1.30.13')
    .option('--control-plane-endpoint <host:port>', 'answer: API load balancer or VIP')
    .option('--pod-subnet <cidr>', 'answer: pod subnet')
    .option('--service-subnet <cidr>', 'answer: service subnet')
    .addOption(new Option('--kube-proxy-mode <mode>', 'answer: kube-proxy mode').choices(['ipvs', 'iptables']))
    .addOption(new Option('--cni <plugin>', 'answer: pod network').choices(['flannel', 'calico', 'none']))
    .addOption(
      new Option('--mirror-profile <profile>', 'answer: where images and packages come from').choices(['upstream', 'china', 'custom']),
    )
    .option('--image-repository <registry>', 'answer: image repository (custom profile)')
    .option('--package-mirror <url>', 'answer: package mirror (custom profile)')
    .addOption(new Option('--cgroup-driver <driver>', 'answer: cgroup driver').choices(['systemd', 'cgroupfs']))
    .addHelpText(
      'after',
      '\nExamples:\n  kubestrap init -o cluster.yaml\n  kubestrap init -o cluster.yaml --answers answers.yaml --kubernetes-version v1.30.13 --force',
    )
    .action(async (options: InitOptions) => {
      const interactive = !options.answers;
      if (interactive && !(process.stdin.isTTY && process.stdout.isTTY)) {
        throw new UsageError(
          'kubestrap init asks questions and needs a terminal; without one, give every answer in a file: kubestrap init -o FILE --answers ANSWERS.yaml [--force]',
        );
      }
      if (existsSync(options.out) && !options.force) {
        if (!interactive) throw new UsageError(`${options.out} exists; add --force to overwrite it`);
        if (!(await confirm(`${options.out} exists. Overwrite it?`))) return;
      }
      // hosts come from the terminal or the answers file; flags answer everything else (and are
      // then not asked, or override the file)
      const flags = flagAnswers(options);
      const answers = options.answers ? { ...parseAnswers(readFileSync(options.answers, 'utf8')), ...flags } : await interview(flags);
      const problems = answersProblems(answers);
      if (problems.length) throw new UsageError(`${options.answers ?? 'answers'}: ${problems.join('; ')}`);
      const text = renderInventory(inventoryFor(answers));
      try {
        // the same validator as `kubestrap validate`, before anything is written
        await parseInventory(text, options.out);
      } catch (err) {
        if (err instanceof InventoryError) throw new UsageError(`the answers do not make a valid inventory:\n${err.message}`);
        throw err;
      }
      writeAtomically(options.out, text);
      console.log(`wrote ${options.out}`);
      if (!interactive || options.plan === false) return;
      if (!(await confirm('Run the preflight checks and show the plan now?', true))) return;
      const base = { inventory: options.out, concurrency: '20', output: 'auto' as const };
      const planned = await runPhases('plan', base);
      if (planned === 0 && (await confirm('Apply it now?'))) process.exitCode = await runPhases('apply', base);
      else process.exitCode = planned;
    });
}
