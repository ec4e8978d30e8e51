import type { Store } from '../store/store.js';

/** Total size of the bodies kept; a year's hired-employees answer is ~130 KB at 183 jobs. */
const MAX_BYTES = 8 * 1024 * 1024;

/**
 * Serialized report answers (JSON or CSV bodies, encoded once: a string would be measured and
 * encoded again on every send), kept while the store's data version stays the
 * same. Under load, serializing a large answer costs far more than the query on the maintained
 * counts, so this is what keeps report throughput near the server's own.
 *
 * Exact by construction: a body is computed after reading the version, so it holds at least
 * everything committed up to then, and a request that starts after a commit reads a version no
 * body computed before that commit is kept under. Concurrent requests for the same body share
 * one computation.
 */
export class ReportCache {
  private version: string | undefined;
  private readonly bodies = new Map<string, Promise<Buffer>>();
  private bytes = 0;

  async get(store: Store, key: string, compute: () => Promise<Buffer>): Promise<Buffer> {
    const version = await store.dataVersion();
    if (version === undefined) return compute();
    if (version !== this.version) {
      // A slow request may still carry the version before the current one: then the bodies are
      // recomputed once more, never served across a commit.
      this.version = version;
      this.clear();
    }
    let body = this.bodies.get(key);
    if (body === undefined) {
      body = compute();
      this.bodies.set(key, body);
      body.then(
        (bytes) => this.account(key, body!, bytes),
        () => this.forget(key, body!),
      );
    }
    return body;
  }

  private account(key: string, body: Promise<Buffer>, bytes: Buffer): void {
    if (this.bodies.get(key) !== body) return;
    this.bytes += bytes.length;
    if (this.bytes > MAX_BYTES) this.clear();
  }

  private forget(key: string, body: Promise<Buffer>): void {
    if (this.bodies.get(key) === body) this.bodies.delete(key);
  }

  private clear(): void {
    this.bodies.clear();
    this.bytes = 0;
  }
}
