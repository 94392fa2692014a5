// A TCP port whose connects never complete, for connect-timeout tests without root or iptables: a
// listening socket (made through libc, because a Node server always accepts) with a backlog of 0 that
// nobody accepts from. Once one connection fills its accept queue, Linux drops further SYNs, so a
// client's connect hangs until its own timeout, exactly as towards a host that does not answer.
import koffi from 'koffi';
import net from 'node:net';

const AF_INET = 2;
const SOCK_STREAM = 1;

interface Libc {
  socket: (domain: number, type: number, protocol: number) => number;
  bind: (fd: number, addr: Buffer, length: number) => number;
  listen: (fd: number, backlog: number) => number;
  getsockname: (fd: number, addr: Buffer, length: number[]) => number;
  close: (fd: number) => number;
}

let libc: Libc | undefined;
function load(): Libc {
  if (libc !== undefined) return libc;
  const lib = koffi.load('libc.so.6');
  libc = {
    socket: lib.func('int socket(int, int, int)'),
    bind: lib.func('int bind(int, const uint8_t *addr, uint32_t len)'),
    listen: lib.func('int listen(int, int)'),
    getsockname: lib.func('int getsockname(int, _Out_ uint8_t *addr, _Inout_ uint32_t *len)'),
    close: lib.func('int close(int)'),
  };
  return libc;
}

export interface Blackhole {
  readonly port: number;
  close(): void;
}

/** A port on 127.0.0.1 where every connect from now on hangs. */
export async function startBlackhole(): Promise<Blackhole> {
  const c = load();
  const fd = c.socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) throw new Error(`socket() failed: errno ${koffi.errno()}`);
  const addr = Buffer.alloc(16);
  addr.writeUInt16LE(AF_INET, 0);
  addr.set([127, 0, 0, 1], 4);
  if (c.bind(fd, addr, 16) !== 0 || c.listen(fd, 0) !== 0) {
    c.close(fd);
    throw new Error(`bind/listen failed: errno ${koffi.errno()}`);
  }
  const bound = Buffer.alloc(16);
  c.getsockname(fd, bound, [16]);
  const port = bound.readUInt16BE(2);
  // The one connection the queue holds; after it, SYNs are dropped.
  const filler = await new Promise<net.Socket>((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => resolve(socket));
    socket.once('error', reject);
  });
  return {
    port,
    close: () => {
      filler.destroy();
      c.close(fd);
    },
  };
}
