// Lets processes that run as another uid (the app as 1000, the proxy as 2102) run what is in this
// checkout, wherever it lives. A checkout in a private directory (`/root/src/sluice`, a `mktemp -d`)
// is unreachable for them: one ancestor directory is 0700. Nothing on disk is changed to fix that.
// Instead each such process starts in its own private mount namespace (`unshare --mount`) where the
// checkout and the Node binary are bind-mounted under a world-traversable directory in the temporary
// directory; the process is given paths under that directory. The mounts vanish with the namespace,
// and `remove()` deletes the empty mount points.
import { chmodSync, closeSync, mkdirSync, mkdtempSync, openSync, rmdirSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { isAbsolute, join, relative } from 'node:path';

export class SharedCheckout {
  /** The checkout as the other users see it. */
  readonly root: string;
  /** The Node binary as the other users see it. */
  readonly node: string;
  private readonly checkout: string;
  private readonly nodeBinary: string;
  private readonly dir: string;

  /** `checkout`: the repository's directory; `nodeBinary`: the Node the other users must run. */
  constructor(checkout: string, nodeBinary: string) {
    this.checkout = checkout;
    this.nodeBinary = nodeBinary;
    this.dir = mkdtempSync(join(tmpdir(), 'sluice-shared-'));
    // mkdtemp makes 0700; the other users must be able to pass through it.
    chmodSync(this.dir, 0o755);
    this.root = join(this.dir, 'checkout');
    this.node = join(this.dir, 'node');
    mkdirSync(this.root, { mode: 0o755 });
    closeSync(openSync(this.node, 'w', 0o755));
  }

  /** A path inside the checkout, as the other users see it. */
  path(inCheckout: string): string {
    const rel = relative(this.checkout, inCheckout);
    if (rel.startsWith('..') || isAbsolute(rel)) throw new Error(`${inCheckout} is not inside the checkout ${this.checkout}`);
    return join(this.root, rel);
  }

  /**
   * The argv prefix that runs the rest of a command line in a private mount namespace holding the two
   * bind mounts. Every step execs the next, so the pid stays the program's own (signals reach it).
   */
  prefix(): string[] {
    const script = 'mount --bind "$1" "$2" && mount --bind "$3" "$4" && shift 4 && exec "$@"';
    return ['unshare', '--mount', '--propagation', 'private', '--', 'sh', '-c', script, 'sh', this.checkout, this.root, this.nodeBinary, this.node];
  }

  /**
   * Deletes the empty mount points; the mounts themselves lived only in the processes' namespaces.
   * Never recursive: were a mount still active here, rmdir/unlink fail (EBUSY) instead of deleting
   * the checkout through it.
   */
  remove(): void {
    rmdirSync(this.root);
    unlinkSync(this.node);
    rmdirSync(this.dir);
  }
}
