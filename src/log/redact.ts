/**
 * Removes secrets from anything written to a log, a terminal or an error message. Known secret
 * values are registered as they are read; well-known secret shapes are caught by pattern too.
 */
const PRIVATE_KEY_BLOCK = /-----BEGIN ([A-Z ]*)PRIVATE KEY-----[\s\S]*?-----END \1PRIVATE KEY-----/g;
const BOOTSTRAP_TOKEN = /\b([a-z0-9]{6})\.[a-z0-9]{16}\b/g;
const MIN_SECRET_LENGTH = 4;

export class Redactor {
  private readonly secrets = new Set<string>();

  add(secret: string | undefined): void {
    if (secret && secret.length >= MIN_SECRET_LENGTH) this.secrets.add(secret);
  }

  redact(text: string): string {
    let out = text.replace(PRIVATE_KEY_BLOCK, '-----BEGIN $1PRIVATE KEY-----[REDACTED]-----END $1PRIVATE KEY-----');
    out = out.replace(BOOTSTRAP_TOKEN, '$1.[REDACTED]');
    for (const secret of this.secrets) out = out.split(secret).join('[REDACTED]');
    return out;
  }
}
