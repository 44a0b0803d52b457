/** Bootstrap tokens (`abcdef.0123456789abcdef`), kubeadm-spec §5.1–5.2. */
import { randomInt } from 'node:crypto';

const ALPHABET = '0123456789abcdefghijklmnopqrstuvwxyz';
const TOKEN = /^([a-z0-9]{6})\.([a-z0-9]{16})$/;
const EXTRA_GROUP = /^system:bootstrappers:[a-z0-9:-]{0,255}[a-z0-9]$/;

export interface BootstrapToken {
  readonly id: string;
  readonly secret: string;
}

export const DEFAULT_TOKEN_GROUPS = ['system:bootstrappers:kubeadm:default-node-token'];
export const DEFAULT_TOKEN_USAGES = ['signing', 'authentication'] as const;
export type TokenUsage = 'signing' | 'authentication';

function randomString(length: number): string {
  // randomInt draws uniformly (rejection sampling inside), so every character is unbiased
  return Array.from({ length }, () => ALPHABET[randomInt(ALPHABET.length)]).join('');
}

export function generateToken(): BootstrapToken {
  return { id: randomString(6), secret: randomString(16) };
}

export function formatToken(t: BootstrapToken): string {
  return `${t.id}.${t.secret}`;
}

/** Parses a token; the error never repeats the token text, which is a secret. */
export function parseToken(text: string): BootstrapToken {
  const m = TOKEN.exec(text);
  if (!m) throw new Error('invalid bootstrap token: expected the form [a-z0-9]{6}.[a-z0-9]{16}, e.g. abcdef.0123456789abcdef');
  return { id: m[1]!, secret: m[2]! };
}

export function validateExtraGroup(group: string): string | undefined {
  return EXTRA_GROUP.test(group) ? undefined : `group ${JSON.stringify(group)} must match ${EXTRA_GROUP.source}`;
}
