/** What a verified token says; used until `expiresAt` (epoch ms). */
export interface Expiring {
  readonly expiresAt: number;
}

/**
 * Tokens already verified, so a client's every request does not pay for the HMAC and the claim
 * checks again: keyed by the token's signature (its last part), holding the whole token (a
 * hit must be the same token, not another header and payload under a copied signature) and its
 * principal. Bounded: at most `maxEntries`, the least recently used leave first. An entry is
 * used only before the token's expiry; after it the token is verified again (and refused).
 */
export class VerifiedTokens<P extends Expiring> {
  private readonly entries = new Map<string, { token: string; principal: P }>();

  constructor(
    readonly maxEntries: number,
    private readonly now: () => number = () => Date.now(),
  ) {
    if (!Number.isInteger(maxEntries) || maxEntries < 0)
      throw new RangeError(`maxEntries must be an integer ≥ 0, got ${maxEntries}`);
  }

  get size(): number {
    return this.entries.size;
  }

  /** The principal of a token verified before and not expired yet; undefined otherwise. */
  get(token: string): P | undefined {
    const key = signatureOf(token);
    const entry = this.entries.get(key);
    if (!entry || entry.token !== token) return undefined;
    if (entry.principal.expiresAt <= this.now()) {
      this.entries.delete(key);
      return undefined;
    }
    // Most recently used last: Map iteration order is insertion order.
    this.entries.delete(key);
    this.entries.set(key, entry);
    return entry.principal;
  }

  set(token: string, principal: P): void {
    if (this.maxEntries === 0) return;
    const key = signatureOf(token);
    this.entries.delete(key);
    // Frozen: every request of the token gets this same object.
    this.entries.set(key, { token, principal: Object.freeze(principal) });
    while (this.entries.size > this.maxEntries)
      this.entries.delete(this.entries.keys().next().value!);
  }
}

function signatureOf(token: string): string {
  return token.slice(token.lastIndexOf('.') + 1);
}
