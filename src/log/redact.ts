/**
 * Removes secrets from anything written to a log, a terminal or an error message. Known secret
 * values are registered as they are read; well-known secret shapes are caught by pattern too.
 */
const PRIVATE_KEY_BLOCK = /-----BEGIN ([A-Z ]*)PRIVATE KEY-----[\s\S]*?-----END \1PRIVATE KEY-----/g;
const BOOTSTRAP_TOKEN = /\b([a-z0-9]{6})\.[a-z0-9]{16}\b/g;
/** Key material and credentials as kubeconfigs and containerd/registry configs spell them (base64 or plain). */
const SECRET_FIELD = /\b(client-key-data|password|identitytoken|auth|token)(["']?\s*[:=]\s*["']?)[^\s"',}]+/gi;
const MIN_SECRET_LENGTH = 4;

/** What is a secret by its shape alone (no registered values): for text kubestrap did not make, such as a file's current content. */
export function redactShapes(text: string): string {
  return text
    .replace(PRIVATE_KEY_BLOCK, '-----BEGIN $1PRIVATE KEY-----[REDACTED]-----END $1PRIVATE KEY-----')
    .replace(BOOTSTRAP_TOKEN, '$1.[REDACTED]')
    .replace(SECRET_FIELD, '$1$2[REDACTED]');
}

/**
 * Text from a host made safe for a terminal: control characters (escape sequences could rewrite
 * what the operator sees) shown escaped, newlines and tabs kept.
 */
export function printable(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

export class Redactor {
  private readonly secrets = new Set<string>();

  add(secret: string | undefined): void {
    if (secret && secret.length >= MIN_SECRET_LENGTH) this.secrets.add(secret);
  }

  redact(text: string): string {
    let out = redactShapes(text);
    for (const secret of this.secrets) out = out.split(secret).join('[REDACTED]');
    return out;
  }
}
