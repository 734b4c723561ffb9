// Reads a JWT's `exp` without verifying it: the SDK only uses it to know when to renew (the server verifies).

/** The token's expiry in epoch milliseconds, or undefined when it cannot be read. */
export function jwtExpiryMs(jwt: string): number | undefined {
  const part = jwt.split('.')[1];
  if (part === undefined) return undefined;
  try {
    const json = atob(
      part
        .replace(/-/g, '+')
        .replace(/_/g, '/')
        .padEnd(Math.ceil(part.length / 4) * 4, '='),
    );
    const exp = (JSON.parse(json) as { exp?: unknown }).exp;
    return typeof exp === 'number' && Number.isFinite(exp) ? exp * 1000 : undefined;
  } catch {
    return undefined;
  }
}
