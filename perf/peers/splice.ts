// Shared by the pipe peers: bytes both ways between two sockets, no parsing; either side's error or
// close ends both.
import type { Socket } from 'node:net';

export function splice(a: Socket, b: Socket): void {
  a.pipe(b).pipe(a);
  const close = (): void => {
    a.destroy();
    b.destroy();
  };
  for (const s of [a, b]) {
    s.on('error', close);
    s.on('close', close);
  }
}
