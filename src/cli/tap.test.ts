// `sluice tap` and `sluice top`: the request they send, their output from a public API that streams
// events, the message when the controller cannot be reached, and the whole path for real: proxies →
// tap relay → public API server (gRPC/JSON port) → CLI.
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, it } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { Logger } from '../log/logger.ts';
import { closeServer, listen } from '../../test/support/net.ts';
import { startProxy, type RunningProxy } from '../../test/support/proxy.ts';
import type { ControllerConfig } from '../control/config.ts';
import { PublicApiRegistry, type ControllerContext } from '../control/context.ts';
import type { DiscoveryBackend, PodInfo } from '../control/discovery/types.ts';
import { startPublicApiServer } from '../control/public-api/server.ts';
import { tapComponent } from '../control/tap/component.ts';
import { TAP_PORT_LABEL } from '../control/tap/resolve.ts';
import type { CliIo } from './io.ts';
import { runCli } from './run.ts';
import { run as runTap, tapRequest } from './tap.ts';
import { renderScreen, run as runTop } from './top.ts';

function capture(env: Record<string, string> = {}): CliIo & { out: string[]; err: string[] } {
  const out: string[] = [];
  const err: string[] = [];
  return { env, out, err, stdout: (t) => void out.push(t), stderr: (t) => void err.push(t) };
}

const event = (stream: number, http: object): object => ({
  source: { ip: { ipv4: 0x0a000001, ip: 'ipv4' }, port: 5000 },
  source_meta: { labels: { pod: 'web-1' } },
  route_meta: null,
  destination: { ip: { ipv4: 0x0a000002, ip: 'ipv4' }, port: 8080 },
  destination_meta: { labels: { tls: 'disabled', pod: 'emoji-1' } },
  proxy_direction: 'OUTBOUND',
  http: { ...http, event: Object.keys(http)[0] },
  event: 'http',
});

const id = (stream: number): object => ({ base: 77, stream });
const EVENTS = [
  event(1, { request_init: { id: id(1), method: { registered: 'GET', type: 'registered' }, scheme: null, authority: 'emoji:8080', path: '/list', headers: null } }),
  event(1, { response_init: { id: id(1), since_request_init: { seconds: 0, nanos: 1_500_000 }, http_status: 200, headers: null } }),
  event(1, { response_end: { id: id(1), since_request_init: { seconds: 0, nanos: 2_000_000 }, since_response_init: { seconds: 0, nanos: 500_000 }, response_bytes: 42, eos: null, trailers: null } }),
];

describe('the tap request', () => {
  it('carries the target, the filters as an all-match, and maxRps (100 by default)', () => {
    assert.deepEqual(tapRequest(['deploy/web'], { namespace: 'emojivoto' }), {
      target: { resource: { namespace: 'emojivoto', type: 'deployment', name: 'web' }, label_selector: '' },
      maxRps: 100,
    });
    assert.deepEqual(
      tapRequest(['po', 'web-1'], { to: 'deploy/emoji', 'to-namespace': 'other', method: 'post', path: '/api', authority: 'a:80', scheme: 'http', 'max-rps': '2.5', selector: 'app=web' }, true),
      {
        target: { resource: { namespace: 'default', type: 'pod', name: 'web-1' }, label_selector: 'app=web' },
        maxRps: 2.5,
        match: {
          all: {
            matches: [
              { destinations: { resource: { namespace: 'other', type: 'deployment', name: 'emoji' } } },
              { http: { scheme: 'http' } },
              { http: { method: 'POST' } },
              { http: { authority: 'a:80' } },
              { http: { path: '/api' } },
            ],
          },
        },
        extract: { http: { headers: {} } },
      },
    );
  });

  it('refuses what cannot be tapped', () => {
    assert.throws(() => tapRequest(['svc/web'], {}), /cannot tap a service/);
    assert.throws(() => tapRequest(['deploy/a', 'deploy/b'], {}), /one resource/);
    assert.throws(() => tapRequest(['deploy/web'], { 'max-rps': '0' }), /--max-rps/);
    assert.throws(() => tapRequest(['deploy/web'], { to: 'au/web:80' }), /--to must name pods/);
  });
});

describe('against a public API that streams events', () => {
  let server: http.Server;
  let port: number;
  const requests: Array<{ path: string; body: unknown }> = [];

  before(async () => {
    server = http.createServer((req, res) => {
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (c: string) => (body += c));
      req.on('end', () => {
        requests.push({ path: req.url ?? '', body: JSON.parse(body) });
        res.writeHead(200, { 'content-type': 'application/x-ndjson' });
        for (const e of EVENTS) res.write(`${JSON.stringify(e)}\n`);
        res.end();
      });
    });
    port = await listen(server);
  });
  after(() => closeServer(server));

  it('tap prints one line per event until the stream ends', async () => {
    const io = capture({ SLUICE_API_ADDR: `127.0.0.1:${port}` });
    assert.equal(await runTap(['deploy/web', '-n', 'emojivoto', '--path', '/list'], io, new AbortController().signal), 0);
    assert.deepEqual(io.out.join('').split('\n'), [
      'req id=77:1 proxy=out src=10.0.0.1:5000 dst=10.0.0.2:8080 tls=disabled :method=GET :authority=emoji:8080 :path=/list',
      'rsp id=77:1 proxy=out src=10.0.0.1:5000 dst=10.0.0.2:8080 tls=disabled :status=200 latency=1500µs',
      'end id=77:1 proxy=out src=10.0.0.1:5000 dst=10.0.0.2:8080 tls=disabled duration=500µs response-length=42B',
      '',
    ]);
    const last = requests.at(-1);
    assert.equal(last?.path, '/api/v1/TapByResource');
    assert.deepEqual((last?.body as { match: unknown }).match, { all: { matches: [{ http: { path: '/list' } }] } });
  });

  it('tap -o json prints objects; -o wide adds labels', async () => {
    const json = capture();
    await runTap(['deploy/web', '-o', 'json', '--api', `127.0.0.1:${port}`], json, new AbortController().signal);
    const objects = json.out.join('').trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
    assert.deepEqual(Object.keys(objects[0] as object), ['source', 'destination', 'routeMeta', 'proxyDirection', 'requestInitEvent']);
    const wide = capture();
    await runTap(['deploy/web', '-o', 'wide', '--api', `127.0.0.1:${port}`], wide, new AbortController().signal);
    assert.match(wide.out[0] as string, / src_pod=web-1 dst_pod=emoji-1 dst_tls=disabled\n$/);
  });

  it('top prints the table when the stream ends (no terminal)', async () => {
    const io = capture({ SLUICE_API_ADDR: `127.0.0.1:${port}` });
    assert.equal(await runTop(['deploy/web', '--interval', '10s'], io, new AbortController().signal, { tty: false, rows: 24, columns: 80 }), 0);
    assert.equal(
      io.out.join(''),
      ['Source  Destination  Method  Path   Count  Best  Worst  Last  Success Rate', 'web-1   emoji-1      GET     /list      1   2ms    2ms   2ms       100.00%', ''].join('\n'),
    );
  });

  it('top on a terminal draws in place on an alternate screen and restores it', async () => {
    const io = capture({ SLUICE_API_ADDR: `127.0.0.1:${port}` });
    await runTop(['deploy/web'], io, new AbortController().signal, { tty: true, rows: 10, columns: 40 });
    const text = io.out.join('');
    assert.ok(text.startsWith('\x1b[?1049h\x1b[?25l\x1b[H'), JSON.stringify(text.slice(0, 20)));
    assert.ok(text.includes('\x1b[?25h\x1b[?1049l'));
    assert.ok(text.endsWith('100.00%\n'));
  });

  it('renders a screen cut to the terminal', () => {
    const screen = renderScreen('title that is long', 'a\nb\nc\nd\n', { tty: true, rows: 4, columns: 5 });
    assert.equal(screen, '\x1b[Htitle\x1b[K\n\x1b[K\na\x1b[K\n\x1b[J');
  });
});

describe('without a controller', () => {
  it('says where it looked and how to point it elsewhere', async () => {
    const closed = http.createServer();
    const port = await listen(closed);
    await closeServer(closed);
    for (const command of ['tap', 'top']) {
      const io = capture({ SLUICE_API_ADDR: `127.0.0.1:${port}` });
      assert.equal(await runCli([command, 'deploy/web'], io), 1);
      assert.match(io.err.join(''), new RegExp(`cannot reach the Sluice controller's public API at 127\\.0\\.0\\.1:${port} \\(connection refused\\)`));
      assert.match(io.err.join(''), /--api HOST:PORT or SLUICE_API_ADDR/);
    }
  });

  it('is listed in the help, and -h prints each command’s usage', async () => {
    const io = capture();
    assert.equal(await runCli(['--help'], io), 0);
    assert.match(io.out.join(''), /\n {2}tap +Watch the requests/);
    assert.match(io.out.join(''), /\n {2}top +Live table/);
    const tapHelp = capture();
    assert.equal(await runCli(['tap', '-h'], tapHelp), 0);
    assert.match(tapHelp.out.join(''), /sluice tap \[flags\] \(TYPE \[NAME\] \| TYPE\/NAME\)/);
  });
});

describe('the whole path: proxies → tap relay → public API → sluice tap / top', () => {
  const proxies: RunningProxy[] = [];
  let backend: http.Server;
  let backendPort: number;
  let api: { address: { host: string; port: number }; close(): Promise<void> };

  before(async () => {
    backend = http.createServer((req, res) => {
      res.writeHead(req.url?.startsWith('/fail') ? 503 : 200);
      res.end('hello');
    });
    backendPort = await listen(backend);
    for (let i = 0; i < 2; i++) proxies.push(await startProxy({ SLUICE_PROXY_OUTBOUND_FORWARD_ADDR: `127.0.0.1:${backendPort}` }));
    const pods: PodInfo[] = proxies.map((p, i) => ({
      namespace: 'emojivoto',
      name: `web-${i}`,
      ip: '127.0.0.1',
      owner: { kind: 'Deployment', name: 'web' },
      serviceAccount: 'web',
      meshed: true,
      phase: 'Running',
      labels: { [TAP_PORT_LABEL]: String(p.tap?.port) },
    }));
    const discovery: DiscoveryBackend = { watchService: () => () => {}, watchProfile: () => () => {}, pods: () => pods, ready: async () => {}, close: () => {} };
    const log = new Logger('warn', 'plain', 'test');
    const ctx: ControllerContext = {
      config: {} as ControllerConfig,
      log,
      discovery,
      proxyApi: new grpc.Server(),
      publicApi: new PublicApiRegistry(),
      addresses: {},
      addMetrics: () => {},
      onClose: () => {},
    };
    await tapComponent()(ctx);
    api = await startPublicApiServer(ctx.publicApi, { host: '127.0.0.1', port: 0 }, log);
  });
  after(async () => {
    await api?.close();
    await Promise.all(proxies.map((p) => p.stop()));
    await closeServer(backend);
  });

  /** Runs a command while sending traffic through both proxies, until `enough(output)`; then Ctrl-C. */
  async function watch(command: typeof runTap, args: string[], enough: (text: string) => boolean): Promise<string> {
    const io = capture({ SLUICE_API_ADDR: `127.0.0.1:${api.address.port}` });
    const abort = new AbortController();
    const running = command(args, io, abort.signal);
    const deadline = Date.now() + 20_000;
    let n = 0;
    while (!enough(io.out.join(''))) {
      assert.ok(Date.now() < deadline, `not enough output: ${io.out.join('')}${io.err.join('')}`);
      const proxy = proxies[n % 2] as RunningProxy;
      const path = n % 3 === 2 ? '/fail' : '/api/list';
      n++;
      await new Promise<void>((resolve) => {
        http.get({ host: '127.0.0.1', port: proxy.outbound.port, path, headers: { host: `127.0.0.1:${backendPort}` }, agent: false }, (res) => {
          res.resume();
          res.on('end', resolve);
        }).on('error', () => resolve());
      });
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    abort.abort();
    assert.equal(await running, 0);
    return io.out.join('');
  }

  it('sluice tap prints the requests of both pods in Linkerd’s format', async () => {
    const text = await watch(runTap, ['deploy/web', '-n', 'emojivoto', '-o', 'wide'], (t) => /src_pod=web-0/.test(t) && /src_pod=web-1/.test(t) && /:status=503/.test(t));
    const lines = text.trim().split('\n');
    for (const line of lines) {
      assert.match(
        line,
        /^(req id=\d+:\d+ proxy=out src=127\.0\.0\.1:\d+ dst=127\.0\.0\.1:\d+ tls=disabled :method=GET :authority=127\.0\.0\.1:\d+ :path=\/(api\/list|fail)|rsp id=\d+:\d+ proxy=out .* :status=(200|503) latency=\d+µs|end id=\d+:\d+ proxy=out .* duration=\d+µs response-length=5B) src_deployment=web src_namespace=emojivoto src_pod=web-\d src_serviceaccount=web dst_tls=disabled$/,
      );
    }
  });

  it('sluice tap -o json carries the request and response headers', async () => {
    const text = await watch(runTap, ['deploy/web', '-n', 'emojivoto', '-o', 'json'], (t) => t.includes('responseInitEvent'));
    const events = text.trim().split('\n').map((line) => JSON.parse(line) as Record<string, any>);
    const init = events.find((e) => e['requestInitEvent'] !== undefined)?.['requestInitEvent'];
    assert.deepEqual(
      init.headers.filter((h: { name: string }) => h.name === 'host'),
      [{ name: 'host', value: `127.0.0.1:${backendPort}` }],
    );
    const rsp = events.find((e) => e['responseInitEvent'] !== undefined)?.['responseInitEvent'];
    assert.ok(rsp.headers.some((h: { name: string; value: string }) => h.name === 'date' && h.value.endsWith(' GMT')), JSON.stringify(rsp));
  });

  it('sluice top counts them by path, with their success rate', async () => {
    const text = await watch(
      (args, io, signal) => runTop(args, io, signal, { tty: false, rows: 24, columns: 120 }),
      ['deploy/web', '-n', 'emojivoto', '--interval', '100ms'],
      (t) => /\/fail +\d+ .* 0\.00%/.test(t) && /\/api\/list +\d+ .* 100\.00%/.test(t),
    );
    const last = text.trim().split('\n\n').at(-1) as string;
    assert.match(last, /^Source +Destination +Method +Path +Count +Best +Worst +Last +Success Rate\n/);
    assert.match(last, /\nweb-\d +127\.0\.0\.1 +GET +\/api\/list +\d+ /);
  });
});
