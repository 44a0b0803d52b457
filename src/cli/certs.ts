import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command, Option } from 'commander';
import { loadInventory } from '../inventory/load.js';
import { CERTIFICATES, KUBECONFIGS } from '../pki/catalogue.js';
import { generateCertificateKey } from '../pki/certificate-key.js';
import { buildClusterPki, type Finding } from '../pki/cluster-pki.js';
import { expirationRows, formatExpiration, type ExpirationRow } from '../pki/expiration.js';
import { clusterPki, pkiNodes } from '../pki/from-inventory.js';
import { nodeRoot, readNodeFiles, writeNodeFiles } from '../pki/local-store.js';
import { certsUploadCommand } from './certs-upload.js';
import { UsageError } from './errors.js';
import { checkExpirationPhase } from '../../phases/check-expiration.js';
import { certsRenewPhases } from '../../phases/index.js';
import { reportOutcome, runInSession } from './run-phases.js';
import { addHostOptions, addInventoryOption, type HostOptions } from './session.js';

interface GenerateOptions {
  inventory: string;
  out: string;
  caFrom?: string;
}

function formatFindings(findings: readonly Finding[]): string {
  const lines = findings.map((f) => `${f.status.padEnd(8)} ${f.node}: ${f.file}${f.problems.length ? ` — ${f.problems.join('; ')}` : ''}`);
  const count = (s: Finding['status']) => findings.filter((f) => f.status === s).length;
  lines.push(
    `${count('created')} created, ${count('renewed')} renewed, ${count('kept')} kept, ${count('mismatch')} not matching their spec`,
  );
  return lines.join('\n');
}

/** Runs generation (or renewal) for the inventory into OUT and prints what happened. */
async function generate(options: GenerateOptions, renew: ReadonlySet<string>): Promise<number> {
  const { inventory } = await loadInventory(options.inventory, { checkKeyFiles: false });
  const config = clusterPki(inventory);
  const nodes = pkiNodes(inventory);
  const existing = new Map(nodes.map((n) => [n.node.nodeName, readNodeFiles(options.out, n.node.nodeName)]));
  const first = nodes.find((n) => n.controlPlane)!.node.nodeName;
  if (options.caFrom) existing.set(first, withSuppliedCa(existing.get(first)!, options.caFrom, first));
  const result = await buildClusterPki(config, nodes, existing, { renew });
  for (const [node, files] of result.writes) writeNodeFiles(options.out, node, files);
  if (options.caFrom) writeNodeFiles(options.out, first, suppliedCaFiles(options.caFrom));
  console.log(formatFindings(result.findings));
  const mismatches = result.findings.filter((f) => f.status === 'mismatch');
  if (mismatches.length) {
    console.error(
      `\n${mismatches.length} file(s) do not match their spec and were left as they are; replace them with: kubestrap certs renew <name>|all -i ${options.inventory} --out ${options.out}`,
    );
    return 1;
  }
  return 0;
}

const CA_SUPPLY = ['ca.crt', 'ca.key', 'front-proxy-ca.crt', 'front-proxy-ca.key', 'etcd/ca.crt', 'etcd/ca.key', 'sa.key', 'sa.pub'];

function suppliedCaFiles(dir: string) {
  return CA_SUPPLY.filter((f) => existsSync(join(dir, f))).map((f) => ({
    path: `pki/${f}`,
    content: readFileSync(join(dir, f), 'utf8'),
    mode: f.endsWith('.crt') ? 0o644 : 0o600,
  }));
}

/** A user-supplied CA directory (like /etc/kubernetes/pki) seeds the first control plane. */
function withSuppliedCa(have: ReadonlyMap<string, string>, dir: string, node: string): Map<string, string> {
  if (!existsSync(join(dir, 'ca.crt')) || !existsSync(join(dir, 'ca.key')))
    throw new UsageError(`--ca-from ${dir}: needs ca.crt and ca.key`);
  const merged = new Map(have);
  for (const file of suppliedCaFiles(dir)) {
    const current = have.get(file.path);
    if (current !== undefined && current !== file.content) throw new UsageError(`--ca-from: ${node} already has a different ${file.path}`);
    merged.set(file.path, file.content);
  }
  return merged;
}

function generateCommand(): Command {
  return addInventoryOption(new Command('generate'))
    .description(
      "generate the cluster's CAs, certificates, service-account keys and kubeconfigs into OUT/<node>/etc/kubernetes (touches no host)",
    )
    .requiredOption('--out <dir>', 'output directory; existing material there is reused')
    .option('--ca-from <dir>', 'use this CA (a directory with ca.crt and ca.key, optionally front-proxy-ca.*, etcd/ca.*, sa.*)')
    .addHelpText('after', '\nExample:\n  kubestrap certs generate -i cluster.yaml --out ./pki-out')
    .action(async (options: GenerateOptions) => {
      process.exitCode = await generate(options, new Set());
    });
}

const RENEWABLE = ['all', ...CERTIFICATES.filter((c) => c.ca).map((c) => c.name), ...KUBECONFIGS.map((k) => k.file)];

interface RenewOptions extends HostOptions {
  out?: string;
  caFrom?: string;
}

function renewCommand(): Command {
  return addHostOptions(new Command('renew'))
    .description(
      're-issue certificates (and kubeconfig client certificates) from the existing CAs: on every control plane of the inventory (restarting what reads them, one control plane at a time, and refreshing the saved admin kubeconfig), or in a certs generate directory (--out)',
    )
    .argument('<name>', `what to renew: ${RENEWABLE.join(', ')}`)
    .option('--out <dir>', 'renew in this certs generate directory instead of on the hosts')
    .addHelpText(
      'after',
      '\nExamples:\n  kubestrap certs renew all -i cluster.yaml\n  kubestrap certs renew apiserver -i cluster.yaml --out ./pki-out',
    )
    .action(async (name: string, options: RenewOptions) => {
      if (!RENEWABLE.includes(name)) throw new UsageError(`cannot renew ${JSON.stringify(name)}; choose one of ${RENEWABLE.join(', ')}`);
      if (options.out) {
        process.exitCode = await generate({ inventory: options.inventory, out: options.out }, new Set([name]));
        return;
      }
      process.exitCode = await runInSession(
        'certs-renew',
        options,
        certsRenewPhases(new Set([name])),
        'apply',
        options.output,
        (result, session, print) => reportOutcome(result, session, print),
      );
    });
}

interface ExpirationOptions extends Partial<Omit<HostOptions, 'output'>> {
  dir?: string;
  output: 'table' | 'json';
  warnDays: string;
}

function checkExpirationCommand(): Command {
  return addHostOptions(new Command('check-expiration'), { inventoryOptional: true, withoutProgress: true })
    .description(
      "show when every certificate, kubeconfig and kubelet certificate expires, soonest first: of every inventory host (-i), a certs generate directory, or one node's /etc/kubernetes (--dir)",
    )
    .option('--dir <dir>', 'OUT of certs generate, or an /etc/kubernetes directory (instead of -i)')
    .addOption(new Option('--output <format>', 'table or json').choices(['table', 'json']).default('table'))
    .option('--warn-days <n>', 'flag certificates expiring within this many days', '30')
    .addHelpText(
      'after',
      '\nExamples:\n  kubestrap certs check-expiration -i cluster.yaml\n  kubestrap certs check-expiration --dir /etc/kubernetes --output json',
    )
    .action(async (options: ExpirationOptions) => {
      const warnDays = Number(options.warnDays);
      if (!Number.isInteger(warnDays) || warnDays < 0)
        throw new UsageError(`--warn-days must be a whole number of days, got ${JSON.stringify(options.warnDays)}`);
      const print = (rows: readonly ExpirationRow[]) => {
        console.log(options.output === 'json' ? JSON.stringify(rows, null, 2) : formatExpiration(rows, warnDays));
      };
      if (options.inventory && options.dir)
        throw new UsageError('give either -i (every host of the inventory) or --dir (a local directory)');
      if (options.inventory) {
        const rows: ExpirationRow[] = [];
        process.exitCode = await runInSession(
          'check-expiration',
          { ...(options as Omit<HostOptions, 'output'>), output: 'silent' },
          [checkExpirationPhase(rows)],
          'plan',
          'silent',
          (result) => {
            print(rows);
            const failed = result.outcomes.filter((o) => o.status !== 'ok');
            for (const o of failed) console.error(`${o.name}: not read (${o.error})`);
            return failed.length ? 1 : 0;
          },
        );
        return;
      }
      if (!options.dir) throw new UsageError('give -i FILE (every host of the inventory) or --dir DIR');
      if (!existsSync(options.dir)) throw new UsageError(`${options.dir}: no such directory`);
      const roots = existsSync(join(options.dir, 'pki'))
        ? [{ node: '', root: options.dir }]
        : readdirNodes(options.dir).map((node) => ({ node, root: nodeRoot(options.dir!, node) }));
      if (roots.length === 0) throw new UsageError(`${options.dir}: no pki directory found`);
      print(roots.flatMap(({ node, root }) => expirationRows(node, root, new Date())));
    });
}

function readdirNodes(out: string): string[] {
  return readdirSync(out).filter((n) => existsSync(join(nodeRoot(out, n), 'pki')));
}

export function certsCommand(): Command {
  return new Command('certs')
    .description('PKI: generate, renew, check expiration, certificate keys for control-plane joins')
    .addCommand(generateCommand())
    .addCommand(renewCommand())
    .addCommand(checkExpirationCommand())
    .addCommand(certsUploadCommand())
    .addCommand(
      new Command('certificate-key')
        .description('print a new random key for encrypting the control-plane certificates (upload-certs)')
        .addHelpText('after', '\nExample:\n  kubestrap certs certificate-key')
        .action(() => {
          console.log(generateCertificateKey());
        }),
    );
}
