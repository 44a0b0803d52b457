/** `kubestrap bundle create|list|verify|keygen`: the air-gap bundle of one inventory's cluster, and the keys that sign it. */
import { Command } from 'commander';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { loadInventory } from '../inventory/load.js';
import { createBundle } from '../airgap/bundle-create.js';
import { BundleError, bundleHead, bundleTrust, verifyBundle } from '../airgap/bundle.js';
import { BundleKeyError, generateSigningKey, keyId, namedSigner, readSigningKey, readTrustedKey } from '../airgap/bundle-signature.js';
import { parsePlatform } from '../airgap/registry-client.js';
import type { BundleManifest } from '../kit/bundle.js';
import { printable } from '../log/redact.js';
import { writeLocalFile } from '../util/local-file.js';
import { UsageError } from './errors.js';

const mib = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
const collect = (value: string, previous: string[]) => [
  ...previous,
  ...value
    .split(',')
    .map((v) => v.trim())
    .filter(Boolean),
];

function parseMirror(text: string): [string, string] {
  const eq = text.indexOf('=');
  const [host, url] = [text.slice(0, eq), text.slice(eq + 1)];
  if (eq < 1 || !/^https?:\/\/[^\s]+$/.test(url))
    throw new UsageError(`--mirror ${text}: expected REGISTRY=URL, e.g. registry.k8s.io=https://mirror.example.com`);
  return [host, url];
}

/** A key file given on the command line, or a usage error naming the flag. */
function keyFrom<T>(flag: string, file: string, read: (file: string) => T): T {
  try {
    return read(file);
  } catch (err) {
    if (err instanceof BundleKeyError) throw new UsageError(`${flag}: ${err.message}`);
    throw err;
  }
}

function listText(manifest: BundleManifest): string {
  const size = (paths: readonly string[]) => paths.reduce((sum, p) => sum + (manifest.entries.find((e) => e.path === p)?.size ?? 0), 0);
  const lines = [
    `Kubernetes ${manifest.kubernetesVersion}; platforms ${manifest.platforms.join(', ')}; packages ${manifest.packageFamilies.join(', ') || 'none'}`,
    '',
    'IMAGE\tNODES\tPLATFORM\tMANIFEST\tSIZE',
  ];
  for (const image of manifest.images) {
    for (const [platform, p] of Object.entries(image.platforms)) {
      lines.push(
        `${image.name}\t${image.roles.join(',')}\t${platform}\t${p.manifest.digest}\t${mib(p.blobs.reduce((s, b) => s + b.size, 0))}`,
      );
    }
  }
  lines.push('', 'PACKAGE\tVERSION\tFAMILY/ARCH\tSIZE');
  for (const p of manifest.packages) lines.push(`${p.name}\t${p.version}\t${p.family}/${p.architecture}\t${mib(size([p.path]))}`);
  if (manifest.calicoManifest) lines.push('', `manifest: ${manifest.calicoManifest}`);
  lines.push('', `${manifest.entries.length} entries, ${mib(manifest.entries.reduce((s, e) => s + e.size, 0))}`);
  // bundle.json was validated (no control characters in its strings); printable() all the same, it came from outside
  return printable(lines.join('\n'));
}

export function bundleCommand(): Command {
  const bundle = new Command('bundle').description(
    'air-gapped sites: one archive with every image, package and manifest the cluster needs, delivered by apply',
  );
  bundle
    .command('create')
    .description("on a connected workstation: collect the images, packages and CNI manifest of the inventory's cluster into one bundle")
    .requiredOption('-i, --inventory <file>', 'inventory file')
    .requiredOption('-o, --output <bundle>', 'bundle file to write (a tar archive)')
    .option('--platform <os/arch>', 'platforms of the hosts (repeatable or comma-separated)', collect, [])
    .option('--packages <family>', 'package families of the hosts: deb, rpm (repeatable or comma-separated; default deb)', collect, [])
    .option(
      '--mirror <registry=url>',
      'pull the images of REGISTRY from URL (repeatable); a mirror gets the login stored for its own host, never over http',
      collect,
      [],
    )
    .option('--sign-key <file>', 'sign bundle.json with this Ed25519 private key (PEM; kubestrap bundle keygen)')
    .addHelpText(
      'after',
      '\nExample:\n  kubestrap bundle create -i cluster.yaml -o cluster-v1.33.1.bundle --platform linux/amd64,linux/arm64 --sign-key bundle-signing.key',
    )
    .action(
      async (options: {
        inventory: string;
        output: string;
        platform: string[];
        packages: string[];
        mirror: string[];
        signKey?: string;
      }) => {
        const platforms = (options.platform.length ? options.platform : ['linux/amd64']).map((p) => {
          try {
            return parsePlatform(p);
          } catch (err) {
            throw new UsageError(`--platform: ${(err as Error).message}`);
          }
        });
        const families = (options.packages.length ? options.packages : ['deb']).map((f) => {
          if (f !== 'deb' && f !== 'rpm') throw new UsageError(`--packages ${f}: expected deb or rpm`);
          return f;
        });
        const mirrors = new Map(options.mirror.map(parseMirror));
        const signingKey = options.signKey ? keyFrom('--sign-key', options.signKey, readSigningKey) : undefined;
        const loaded = await loadInventory(options.inventory, { checkKeyFiles: false });
        const result = await createBundle({
          inventory: loaded.inventory,
          output: resolve(options.output),
          platforms,
          packageFamilies: families,
          mirrors,
          ...(signingKey ? { signingKey } : {}),
          progress: (line) => {
            console.error(`  ${printable(line)}`);
          },
        });
        const m = result.manifest;
        console.log(
          `${result.unchanged ? 'unchanged' : 'wrote'} ${options.output}: ${m.images.length} images, ${m.packages.length} packages${m.calicoManifest ? ', the Calico manifest' : ''}; ${mib(result.bundleBytes)}; downloaded ${result.downloadedBytes} bytes`,
        );
        console.log(`bundle.json sha256 ${result.manifestSha256} (cluster.airgap.bundleSha256 pins exactly this bundle)`);
        console.log(
          signingKey ? `signed by key ${keyId(signingKey)}` : 'not signed: sites can only pin it by its sha256 (--sign-key signs it)',
        );
      },
    );
  bundle
    .command('list')
    .description('show what a bundle holds')
    .argument('<bundle>', 'bundle file')
    .action(async (file: string) => {
      console.log(listText((await bundleHead(file)).manifest));
    });
  bundle
    .command('verify')
    .description('check a bundle: bundle.json valid, every entry against its sha256, and with --trusted-key its signature')
    .argument('<bundle>', 'bundle file')
    .option('--trusted-key <file>', 'a public key (PEM) whose signature the bundle must carry (repeatable)', collect, [])
    .action(async (file: string, options: { trustedKey: string[] }) => {
      const keys = options.trustedKey.map((k) => ({ file: k, key: keyFrom('--trusted-key', k, readTrustedKey) }));
      const { head, problems, checked } = await verifyBundle(file);
      const trust = bundleTrust(head, { keys }, { keys: '--trusted-key', sha256: '' });
      if (problems.length) throw new BundleError(printable(`${file} is damaged:\n  ${problems.join('\n  ')}`));
      console.log(`${file}: ${checked} entries verified; bundle.json sha256 ${head.manifestSha256}`);
      if (trust.kind === 'signature') console.log(`signed by trusted key ${trust.keyId}`);
      else if (head.signatureText === undefined)
        console.log('not signed: nothing vouches for who made it (give --trusted-key to require a signature)');
      else console.log(`signature by key ${namedSigner(file, head.signatureText)} not checked: give --trusted-key`);
    });
  bundle
    .command('keygen')
    .description(
      'make an Ed25519 key pair for signing bundles: FILE (private, 0600, stays where bundles are made) and FILE.pub (what sites trust)',
    )
    .requiredOption('-o, --output <file>', 'private key file to write; the public key goes to <file>.pub')
    .action((options: { output: string }) => {
      for (const f of [options.output, `${options.output}.pub`])
        if (existsSync(f)) throw new UsageError(`${f} exists: keygen does not overwrite a key`);
      const pair = generateSigningKey();
      writeLocalFile(options.output, pair.privatePem, 0o600);
      writeLocalFile(`${options.output}.pub`, pair.publicPem, 0o644);
      console.log(`wrote ${options.output} (private, 0600) and ${options.output}.pub; key ${pair.keyId}`);
      console.log(
        `sign:  kubestrap bundle create ... --sign-key ${options.output}\ntrust: cluster.airgap.trustedKeys: [${options.output}.pub] in the site's inventory`,
      );
    });
  return bundle;
}
