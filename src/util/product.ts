/** kubestrap's own version, as `--version` prints it and the API sees it (User-Agent); a unit test keeps it equal to package.json's. */
export const KUBESTRAP_VERSION = '0.1.0';

/** What kubestrap calls itself on every API request: managedFields and audit logs then name kubestrap. */
export const USER_AGENT = `kubestrap/${KUBESTRAP_VERSION}`;
