/** The join command line printed for operators (kubeadm's flags, so either program accepts it). */
import { caPin } from '../pki/ca-pin.js';
import { formatToken, type BootstrapToken } from '../pki/bootstrap-token.js';

export interface JoinCommandInput {
  readonly program: 'kubeadm' | 'kubestrap';
  /** https://host:port of the API endpoint nodes join. */
  readonly server: string;
  readonly token: BootstrapToken;
  readonly caCertPem: string;
  /** Present for a control-plane join; the key decrypts the uploaded certificates. */
  readonly certificateKey?: string;
}

export function joinCommand(input: JoinCommandInput): string {
  const words = [
    input.program,
    'join',
    new URL(input.server).host,
    '--token',
    formatToken(input.token),
    '--discovery-token-ca-cert-hash',
    caPin(input.caCertPem),
  ];
  if (input.certificateKey !== undefined) words.push('--control-plane', '--certificate-key', input.certificateKey);
  return words.join(' ');
}
