// Invariant checks shared by the constructs. Each throws an error that names the construct, the
// prop and what to change, because a synth-time message is the only feedback a user gets before
// `kubectl apply` rejects the manifest.

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** True when `name` is an RFC 1123 label (Services, Namespaces, ports' DNS names): ≤ 63 chars. */
export function isDns1123Label(name: string): boolean {
  return name.length <= 63 && DNS1123_LABEL.test(name);
}

/** True when `name` is an RFC 1123 subdomain (most object names): ≤ 253 chars. */
export function isDns1123Subdomain(name: string): boolean {
  return name.length <= 253 && DNS1123_SUBDOMAIN.test(name);
}

/** Throws unless `value` is a DNS-1123 label; `what` names the prop, e.g. "GrpcService name". */
export function requireDns1123Label(what: string, value: string): string {
  if (!isDns1123Label(value)) {
    throw new Error(
      `${what} "${value}" is not a valid DNS-1123 label: use at most 63 lowercase letters, digits and '-', ` +
        `starting and ending with a letter or digit (e.g. "${suggestLabel(value)}").`,
    );
  }
  return value;
}

/** Throws unless `value` is an integer in [min, max]. */
export function requireIntInRange(what: string, value: number, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `an integer >= ${min}` : `an integer between ${min} and ${max}`;
    throw new Error(`${what} is ${value}: set it to ${range}.`);
  }
  return value;
}

/** Throws unless `port` is a TCP port number. */
export function requirePort(what: string, port: number): number {
  return requireIntInRange(what, port, 1, 65535);
}

/** A best-effort valid name, so the error message can show the user a concrete fix. */
function suggestLabel(value: string): string {
  const s = value
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 63)
    .replace(/-+$/g, '');
  return s.length > 0 ? s : 'imageflow';
}
