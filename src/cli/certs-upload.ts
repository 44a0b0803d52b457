/**
 * `kubestrap certs upload`: kubeadm's upload-certs, so that another control plane can join from
 * the node itself (`kubestrap join --control-plane --certificate-key K`): the control plane's
 * shared CA material sealed into kube-system/kubeadm-certs for 2 hours.
 */
import { Command } from 'commander';
import { joinCommand } from '../join/join-command.js';
import { tokenSecret } from '../kube/bootstrap-objects.js';
import { SHARED_FILES, uploadCerts } from '../kube/upload-certs.js';
import { DEFAULT_TOKEN_GROUPS, DEFAULT_TOKEN_USAGES, generateToken } from '../pki/bootstrap-token.js';
import { generateCertificateKey, validateCertificateKey } from '../pki/certificate-key.js';
import { addClusterAccessOptions, withControlPlane, type ClusterAccessOptions } from './cluster-access.js';
import { UsageError } from './errors.js';
import { KUBERNETES_DIR } from '../../templates/paths.js';

interface UploadOptions extends ClusterAccessOptions {
  certificateKey?: string;
  printJoinCommand?: boolean;
}

/** A control-plane join token lives as long as the uploaded certificates. */
const JOIN_TOKEN_TTL_SECONDS = 2 * 3600;

export function certsUploadCommand(): Command {
  return addClusterAccessOptions(
    new Command('upload')
      .description(
        "seal the control plane's CAs and service-account key into kube-system/kubeadm-certs (2 h) for control planes joining with a certificate key",
      )
      .option('--certificate-key <hex>', 'the key to seal with (default: a new random one, printed)')
      .option('--print-join-command', 'print the whole control-plane join command (with a new 2 h token) instead of the key alone'),
  )
    .addHelpText(
      'after',
      '\nExamples:\n  kubestrap certs upload --print-join-command -i cluster.yaml\n  kubestrap certs upload                 # on a control-plane node: prints the key',
    )
    .action(async (options: UploadOptions) => {
      const problem = options.certificateKey === undefined ? undefined : validateCertificateKey(options.certificateKey);
      if (problem) throw new UsageError(`--certificate-key: ${problem}`);
      const key = options.certificateKey ?? generateCertificateKey();
      await withControlPlane('certs-upload', options, async ({ api, host, server, caCertPem }) => {
        const read = await host.readFiles(SHARED_FILES.map((p) => `${KUBERNETES_DIR}/${p}`));
        const missing = SHARED_FILES.filter((p) => !read.get(`${KUBERNETES_DIR}/${p}`));
        if (missing.length) throw new Error(`${host.name} lacks ${missing.join(', ')}: is it a control plane?`);
        await uploadCerts(api, new Map(SHARED_FILES.map((p) => [p, read.get(`${KUBERNETES_DIR}/${p}`)!.content.toString('utf8')])), key);
        if (!options.printJoinCommand) {
          console.log(key);
          return;
        }
        const token = generateToken();
        await api.apply(
          tokenSecret(token, {
            description: 'kubestrap: control-plane join',
            ttlSeconds: JOIN_TOKEN_TTL_SECONDS,
            usages: DEFAULT_TOKEN_USAGES,
            groups: DEFAULT_TOKEN_GROUPS,
            now: new Date(),
          }),
        );
        console.log(joinCommand({ program: 'kubestrap', server, token, caCertPem, certificateKey: key }));
      });
    });
}
