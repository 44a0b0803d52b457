/** `kubestrap bundle create|list|verify`: the air-gap bundle of one inventory's cluster. */
import { Command } from 'commander';
import { resolve } from 'node:path';
import { loadInventory } from '../inventory/load.js';
import { createBundle } from '../airgap/bundle-create.js';
import { BundleError, bundleManifestText, verifyBundle, type BundleManifest, type PackageFamily } from '../airgap/bundle.js';
import { parsePlatform } from '../airgap/registry-client.js';
import { UsageError } from './errors.js';

const mib = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
const collect = (value: string, previous: string[]) => [...previous, ...value.split(',').map((v) => v.trim()).filter(Boolean)];

function parseMirror(text: string): [string, string] {
  const eq = text.indexOf('=');
  const [host, url] = [text.slice(0, eq), text.slice(eq + 1)];
  if (eq < 1 || !/^https?:\/\/[^\s]+$/.test(url)) throw new UsageError(`--mirror ${text}: expected REGISTRY=URL, e.g. registry.k8s.io=https://mirror.example.com`);
  return [host, url];
}

function listText(manifest: BundleManifest): string {
  const size = (paths: readonly string[]) => paths.reduce((sum, p) => sum + (manifest.entries.find((e) => e.path === p)?.size ?? 0), 0);
  const lines = [`Kubernetes ${manifest.kubernetesVersion}; platforms ${manifest.platforms.join(', ')}; packages ${manifest.packageFamilies.join(', ') || 'none'}`, '', 'IMAGE\tNODES\tPLATFORM\tMANIFEST\tSIZE'];
  for (const image of manifest.images) {
    for (const [platform, p] of Object.entries(image.platforms)) {
      lines.push(`${image.name}\t${image.roles.join(',')}\t${platform}\t${p.manifest.digest}\t${mib(p.blobs.reduce((s, b) => s + b.size, 0))}`);
    }
  }
  lines.push('', 'PACKAGE\tVERSION\tFAMILY/ARCH\tSIZE');
  for (const p of manifest.packages) lines.push(`${p.name}\t${p.version}\t${p.family}/${p.architecture}\t${mib(size([p.path]))}`);
  if (manifest.calicoManifest) lines.push('', `manifest: ${manifest.calicoManifest}`);
  lines.push('', `${manifest.entries.length} entries, ${mib(manifest.entries.reduce((s, e) => s + e.size, 0))}`);
  return lines.join('\n');
}

export function bundleCommand(): Command {
  const bundle = new Command('bundle').description('air-gapped sites: one archive with every image, package and manifest the cluster needs, delivered by apply');
  bundle
    .command('create')
    .description('on a connected workstation: collect the images, packages and CNI manifest of the inventory\'s cluster into one bundle')
    .requiredOption('-i, --inventory <file>', 'inventory file')
    .requiredOption('-o, --output <bundle>', 'bundle file to write (a tar archive)')
    .option('--platform <os/arch>', 'platforms of the hosts (repeatable or comma-separated)', collect, [])
    .option('--packages <family>', 'package families of the hosts: deb, rpm (repeatable or comma-separated; default deb)', collect, [])
    .option('--mirror <registry=url>', 'pull the images of REGISTRY from URL (repeatable)', collect, [])
    .addHelpText('after', '\nExample:\n  kubestrap bundle create -i cluster.yaml -o cluster-v1.33.1.bundle --platform linux/amd64,linux/arm64')
    .action(async (options: { inventory: string; output: string; platform: string[]; packages: string[]; mirror: string[] }) => {
      const platforms = (options.platform.length ? options.platform : ['linux/amd64']).map((p) => {
        try {
          return parsePlatform(p);
        } catch (err) {
          throw new UsageError(`--platform: ${(err as Error).message}`);
        }
      });
      const families = (options.packages.length ? options.packages : ['deb']).map((f) => {
        if (f !== 'deb' && f !== 'rpm') throw new UsageError(`--packages ${f}: expected deb or rpm`);
        return f as PackageFamily;
      });
      const mirrors = new Map(options.mirror.map(parseMirror));
      const loaded = await loadInventory(options.inventory, { checkKeyFiles: false });
      const result = await createBundle({ inventory: loaded.inventory, output: resolve(options.output), platforms, packageFamilies: families, mirrors, progress: (line) => console.error(`  ${line}`) });
      const m = result.manifest;
      console.log(
        `${result.unchanged ? 'unchanged' : 'wrote'} ${options.output}: ${m.images.length} images, ${m.packages.length} packages${m.calicoManifest ? ', the Calico manifest' : ''}; ${mib(result.bundleBytes)}; downloaded ${result.downloadedBytes} bytes`,
      );
    });
  bundle
    .command('list')
    .description('show what a bundle holds')
    .argument('<bundle>', 'bundle file')
    .action(async (file: string) => {
      console.log(listText(JSON.parse(await bundleManifestText(file)) as BundleManifest));
    });
  bundle
    .command('verify')
    .description("check every entry of a bundle against its manifest's sha256")
    .argument('<bundle>', 'bundle file')
    .action(async (file: string) => {
      const { problems, checked } = await verifyBundle(file);
      if (problems.length) throw new BundleError(`${file} is damaged:\n  ${problems.join('\n  ')}`);
      console.log(`${file}: ${checked} entries verified`);
    });
  return bundle;
}
