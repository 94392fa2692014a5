// The engine against Go's HTTP/2 stack (grpc-go, test/go/h2peer): a Go gRPC client to the engine's
// server role, the engine's client role to a Go gRPC server, and Go to Go through a relay on the engine.
// grpc-go is a strict, independent implementation that PINGs as it receives DATA (bandwidth estimation)
// and checks flow control to the byte. Needs Debian's golang-go and golang-google-grpc-dev (installed by
// `scripts/system-deps.sh go`, which this test runs); without them every test skips, saying why.
import assert from 'node:assert/strict';
import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { after, before, describe, it, type TestContext } from 'node:test';
import { EngineClient, patternBytes, startEchoServer, type EngineServer } from '../../../test/support/h2-engine.ts';
import { startRelay, type Relay } from '../../../test/support/h2-relay.ts';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const GO_SYSTEM_PATH = '/usr/share/gocode';
const run = promisify(execFile);

let skipReason: string | undefined;
let work: string | undefined;
let peerBinary = '';
let goServer: ChildProcess | undefined;
let goServerPort = 0;
let echo: EngineServer | undefined;
let relay: Relay | undefined;

function skipped(t: TestContext): boolean {
  if (skipReason === undefined) return false;
  t.skip(skipReason);
  return true;
}

/** The gRPC wire form of one message: no compression, 4-byte length, bytes. */
function grpcMessage(m: Buffer): Buffer {
  const prefix = Buffer.alloc(5);
  prefix.writeUInt32BE(m.length, 1);
  return Buffer.concat([prefix, m]);
}

const grpcHead = (method: string): string[] => [':method', 'POST', ':scheme', 'http', ':path', method, ':authority', 'go', 'content-type', 'application/grpc', 'te', 'trailers'];

function field(list: readonly string[] | null, name: string): string | undefined {
  if (list === null) return undefined;
  const i = list.indexOf(name);
  return i >= 0 && i % 2 === 0 ? list[i + 1] : undefined;
}

describe('engine ↔ Go (grpc-go)', { timeout: 120_000 }, () => {
  before(async () => {
    spawnSync('bash', [path.join(ROOT, 'scripts/system-deps.sh'), 'go'], { encoding: 'utf8' });
    if (spawnSync('go', ['version']).error !== undefined || !existsSync(path.join(GO_SYSTEM_PATH, 'src/google.golang.org/grpc'))) {
      skipReason = 'Go peer not available (needs golang-go and golang-google-grpc-dev: bash scripts/system-deps.sh go, as root)';
      return;
    }
    work = mkdtempSync(path.join(tmpdir(), 'sluice-h2peer-'));
    const dir = path.join(work, 'gopath', 'src', 'sluice.dev', 'h2peer');
    mkdirSync(dir, { recursive: true });
    copyFileSync(path.join(ROOT, 'test/go/h2peer/main.go'), path.join(dir, 'main.go'));
    peerBinary = path.join(work, 'h2peer');
    await run('go', ['build', '-o', peerBinary, '.'], {
      cwd: dir,
      env: { ...process.env, GO111MODULE: 'off', GOPATH: `${path.join(work, 'gopath')}:${GO_SYSTEM_PATH}`, GOCACHE: path.join(tmpdir(), 'sluice-go-build-cache'), GOFLAGS: '' },
    });
    goServer = spawn(peerBinary, ['server'], { stdio: ['ignore', 'pipe', 'inherit'] });
    goServerPort = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('the Go server did not start')), 10_000);
      createInterface({ input: goServer!.stdout! }).once('line', (line) => {
        clearTimeout(timer);
        resolve(Number(/^listening (\d+)$/.exec(line)?.[1] ?? NaN));
      });
    });
    echo = await startEchoServer({ streamWindow: 16_384, connectionWindow: 65_535 });
    relay = await startRelay(goServerPort, { streamWindow: 16_384, connectionWindow: 65_535 });
  });
  after(async () => {
    goServer?.kill();
    await echo?.close();
    await relay?.close();
    if (work !== undefined) rmSync(work, { recursive: true, force: true });
  });

  it('a Go gRPC client to the engine server: 50 unary calls up to 70 KB, a 200-message stream, trailers-only', async (t) => {
    if (skipped(t)) return;
    const { stdout } = await run(peerBinary, ['client', `127.0.0.1:${echo!.port}`], { timeout: 30_000 });
    assert.equal(stdout.trim(), 'ok unary=50 stream=200 trailers-only=NotFound');
  });

  it('the engine client to a Go gRPC server: unary, several messages on one stream, trailers-only', async (t) => {
    if (skipped(t)) return;
    const client = await EngineClient.connect(goServerPort, { streamWindow: 16_384, connectionWindow: 65_535 });
    try {
      const big = patternBytes(300_000, 2);
      const unary = await (await client.request(grpcHead('/t.T/Unary'), grpcMessage(big))).response;
      assert.equal(unary.status, 200);
      assert.ok(unary.body.equals(grpcMessage(big)));
      assert.equal(field(unary.trailers, 'grpc-status'), '0');
      const messages = Array.from({ length: 50 }, (_, i) => grpcMessage(patternBytes(i * 997, i)));
      const stream = await (await client.request(grpcHead('/t.T/Chat'), Buffer.concat(messages))).response;
      assert.ok(stream.body.equals(Buffer.concat(messages)));
      const missing = await (await client.request(grpcHead('/t.T/TrailersOnly'), grpcMessage(Buffer.from('x')))).response;
      assert.equal(missing.trailers, null);
      assert.equal(field(missing.headers, 'grpc-status'), '5');
    } finally {
      client.conn.close();
    }
  });

  it('Go client → relay on the engine → Go server', async (t) => {
    if (skipped(t)) return;
    const { stdout } = await run(peerBinary, ['client', `127.0.0.1:${relay!.port}`], { timeout: 30_000 });
    assert.equal(stdout.trim(), 'ok unary=50 stream=200 trailers-only=NotFound');
  });
});
