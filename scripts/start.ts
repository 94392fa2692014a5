// `npm start`: the Sluice demo on this machine, no cluster needed. Starts the controller (file
// discovery, Destination on 8086, public API on 8085, Identity on 8080 with a fresh trust anchor and
// issuer), three emojivoto-style services (web, emoji,
// voting) each behind its own sluice-proxy, and a traffic generator; waits until each is ready; prints
// what runs where and the commands to look at it, and the dashboard's URL; stays up until Ctrl-C (or
// `--duration`). A controller that exits is restarted, as Kubernetes restarts its pod; the proxies and
// the dashboard's open pages reconnect. How it fits together: docs/quickstart.md, docs/dashboard.md.
import { writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import {
  APPS,
  DESTINATION_PORT,
  HOST,
  NAMESPACE,
  PUBLIC_API_PORT,
  planPorts,
  portIsFree,
  renderDiscoveryFile,
  serviceAuthority,
  type App,
  type Plan,
  type PodPlan,
} from '../demo/mesh.ts';
import { prepareDemoIdentity, type DemoIdentity } from '../demo/identity.ts';
import { grpcAnswers, httpGet, tcpConnects, waitFor } from '../demo/probes.ts';
import { Supervisor, type ChildSpec, type Exit } from '../demo/supervisor.ts';
import { buildDashboard } from './build-dashboard.ts';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const DISCOVERY_FILE = join(ROOT, 'demo', 'mesh.yaml');

const USAGE = `Usage: npm start [-- flags]

Runs the Sluice demo: controller, web/emoji/voting each behind a sluice-proxy, and a traffic generator.

  --duration <seconds>   stop by itself after this long once everything is up (default: run until Ctrl-C)
  --rps <n>              requests per second the generator sends to web (default 10)
  --proxy-workers <n>    worker threads per proxy (default 1; 0 serves on the proxy's main thread)
  --any-ports            let the OS pick every port, the controller's too (default: fixed ports, see
                         docs/quickstart.md; the CLI then needs --api, as the summary shows)
  --verbose              children log at info instead of warn
  -h, --help`;

interface Options {
  readonly durationS: number | undefined;
  readonly rps: number;
  readonly proxyWorkers: number;
  readonly anyPorts: boolean;
  readonly verbose: boolean;
}

function parseOptions(): Options {
  const { values } = parseArgs({
    options: {
      duration: { type: 'string' },
      rps: { type: 'string', default: '10' },
      'proxy-workers': { type: 'string', default: '1' },
      'any-ports': { type: 'boolean', default: false },
      verbose: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    process.exit(0);
  }
  const number = (flag: string, text: string | undefined, ok: (n: number) => boolean): number => {
    const n = Number(text);
    if (text === undefined || text.trim() === '' || !ok(n)) {
      process.stderr.write(`npm start: --${flag} ${JSON.stringify(text)} is not valid\n\n${USAGE}\n`);
      process.exit(2);
    }
    return n;
  };
  return {
    durationS: values.duration === undefined ? undefined : number('duration', values.duration, (n) => n > 0),
    // Modest on purpose: the machine is shared, and tens of requests per second show everything.
    rps: number('rps', values.rps, (n) => n > 0 && n <= 200),
    proxyWorkers: number('proxy-workers', values['proxy-workers'], (n) => Number.isInteger(n) && n >= 0 && n <= 8),
    anyPorts: values['any-ports'],
    verbose: values.verbose,
  };
}

/** The environment every child inherits: ours, minus Sluice settings that would override the demo's. */
function baseEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (value !== undefined && !key.startsWith('SLUICE_')) env[key] = value;
  }
  return env;
}

const addr = (port: number): string => `${HOST}:${port}`;
/** Controller restarts allowed per minute before the demo gives up (a crash loop). */
const CONTROLLER_RESTARTS = 3;
const proxyName = (app: App): string => `${app}-proxy`;

function controllerSpec(plan: Plan, level: string, identity: DemoIdentity): ChildSpec {
  return {
    name: 'controller',
    cwd: ROOT,
    env: baseEnv(),
    args: [
      'src/control/main.ts',
      `--proxy-api-addr=${addr(plan.controller.destinationPort)}`,
      `--public-api-addr=${addr(plan.controller.publicApiPort)}`,
      `--dashboard-addr=${addr(plan.controller.dashboardPort)}`,
      '--discovery=file',
      `--discovery-file=${DISCOVERY_FILE}`,
      `--identity-addr=${addr(plan.identityPort)}`,
      ...identity.controllerArgs,
      `--log=${level}`,
    ],
  };
}

/**
 * One sidecar. No iptables here, so the proxy is told where its app is (inbound forward address), and
 * the app is told where its proxy is (web's --outbound). Names are resolved through the controller.
 * Each proxy proves its service account (`<app>` in emojivoto) with a local-mesh token and gets its
 * certificate from the controller before it is ready, as an injected proxy does in a cluster.
 */
function proxySpec(plan: Plan, pod: PodPlan, options: Options, level: string, identity: DemoIdentity): ChildSpec {
  const own = identity.proxy(pod.app, NAMESPACE);
  return {
    name: proxyName(pod.app),
    cwd: ROOT,
    env: {
      ...baseEnv(),
      SLUICE_PROXY_LOG: level,
      SLUICE_PROXY_WORKERS: String(options.proxyWorkers),
      SLUICE_PROXY_INBOUND_LISTEN_ADDR: addr(pod.inboundPort),
      SLUICE_PROXY_OUTBOUND_LISTEN_ADDR: addr(pod.outboundPort),
      SLUICE_PROXY_ADMIN_LISTEN_ADDR: addr(pod.adminPort),
      SLUICE_PROXY_TAP_LISTEN_ADDR: addr(pod.tapPort),
      SLUICE_PROXY_INBOUND_FORWARD_ADDR: addr(pod.appPort),
      SLUICE_PROXY_DESTINATION_SVC_ADDR: addr(plan.controller.destinationPort),
      SLUICE_PROXY_POD_NAME: pod.pod,
      SLUICE_PROXY_POD_NAMESPACE: NAMESPACE,
      SLUICE_PROXY_WORKLOAD: `deployment/${pod.deployment}`,
      // What Linkerd's injector sets: who is asking, for the controller's answers.
      SLUICE_PROXY_DESTINATION_CONTEXT: JSON.stringify({ ns: NAMESPACE, nodeName: 'localhost', pod: pod.pod }),
      // A demo stops in seconds, not after Linkerd's 120 s drain.
      SLUICE_PROXY_SHUTDOWN_GRACE_PERIOD: '2s',
      SLUICE_PROXY_IDENTITY_DIR: identity.dir,
      SLUICE_PROXY_IDENTITY_TRUST_ANCHORS: identity.anchorsPem,
      SLUICE_PROXY_IDENTITY_TOKEN_FILE: own.tokenFile,
      SLUICE_PROXY_IDENTITY_LOCAL_NAME: own.name,
      SLUICE_PROXY_IDENTITY_SVC_ADDR: addr(plan.identityPort),
      SLUICE_PROXY_IDENTITY_SVC_NAME: identity.controllerName,
      // Tap is served over mutual TLS to the controller's identity only (as injected in a cluster).
      SLUICE_PROXY_TAP_SVC_NAME: identity.controllerName,
    },
    args: ['src/acceptor/main.ts'],
  };
}

function appSpec(plan: Plan, app: App, level: string): ChildSpec {
  const pod = plan.pods[app];
  const args = [`demo/${app}.ts`, `--listen=${addr(pod.appPort)}`, `--log=${level}`, '--watch-stdin'];
  if (app === 'web') {
    args.push(
      `--outbound=${addr(pod.outboundPort)}`,
      `--emoji-svc=${serviceAuthority(plan.pods.emoji)}`,
      `--voting-svc=${serviceAuthority(plan.pods.voting)}`,
    );
  }
  return { name: app, cwd: ROOT, env: baseEnv(), args };
}

function trafficSpec(plan: Plan, options: Options, level: string): ChildSpec {
  const web = plan.pods.web;
  return {
    name: 'traffic',
    cwd: ROOT,
    env: baseEnv(),
    args: [
      'demo/traffic.ts',
      // The generator is not meshed: it talks to web's endpoint (its proxy's inbound listener) directly.
      `--target=${addr(web.inboundPort)}`,
      `--host=${serviceAuthority(web)}`,
      `--rps=${options.rps}`,
      `--stats=${addr(plan.trafficStatsPort)}`,
      `--log=${level}`,
      '--watch-stdin',
    ],
  };
}

function summary(plan: Plan, options: Options): string {
  const { destinationPort, publicApiPort, dashboardPort } = plan.controller;
  const rows: string[][] = [
    ['controller', `Destination ${addr(destinationPort)}, public API ${addr(publicApiPort)}`, `discovery ${relative(ROOT, DISCOVERY_FILE)}`],
    ['', `Identity ${addr(plan.identityPort)} (TLS)`, 'every proxy holds a certificate for <app>.emojivoto'],
  ];
  for (const app of APPS) {
    const p = plan.pods[app];
    rows.push([
      `deploy/${p.deployment}`,
      `pod ${NAMESPACE}/${p.pod}, app ${addr(p.appPort)}`,
      `service ${serviceAuthority(p)}`,
    ]);
    rows.push([
      `  ${proxyName(app)}`,
      `inbound ${addr(p.inboundPort)}  outbound ${addr(p.outboundPort)}`,
      `admin ${addr(p.adminPort)}  tap ${addr(p.tapPort)}`,
    ]);
  }
  rows.push(['traffic', `${options.rps} rps to web-svc (${addr(plan.pods.web.inboundPort)})`, `stats http://${addr(plan.trafficStatsPort)}/stats`]);
  const widths = [0, 1].map((col) => Math.max(...rows.map((row) => row[col]?.length ?? 0)));
  const table = rows.map((row) => `  ${row.map((cell, i) => cell.padEnd(widths[i] ?? 0)).join('   ').trimEnd()}`).join('\n');
  const web = plan.pods.web;
  // The CLI looks for the public API on 8085 unless told otherwise.
  const api = publicApiPort === PUBLIC_API_PORT ? '' : ` --api ${addr(publicApiPort)}`;
  const moved = plan.substituted.map((s) => `  ${s.what}: ${s.wanted} was taken, using ${s.got}`).join('\n');
  return [
    '',
    `Sluice demo running (namespace ${NAMESPACE}; traffic: generator → web → emoji + voting, each hop through the proxies):`,
    table,
    ...(moved === '' ? [] : ['', 'Ports moved because the usual ones were taken:', moved]),
    '',
    `Dashboard: http://${addr(dashboardPort)}/`,
    '',
    'Try (in another terminal):',
    commands([
      [`npx sluice stat deploy -n ${NAMESPACE}${api}`, 'success rate, RPS, latency per deployment'],
      [`npx sluice stat deploy/web -n ${NAMESPACE} --to deploy/voting${api}`, 'what web sends to voting'],
      [`npx sluice routes deploy/web -n ${NAMESPACE} --to svc/voting-svc${api}`, 'per gRPC method: VoteDoughnut fails 1 in 4'],
      [`npx sluice routes deploy/voting -n ${NAMESPACE}${api}`, 'the routes voting received'],
      [`npx sluice tap deploy/web -n ${NAMESPACE}${api}`, 'live requests, Ctrl-C to stop'],
      [`npx sluice top deploy/voting -n ${NAMESPACE}${api}`, 'live table of the busiest paths'],
      [`curl http://${addr(web.inboundPort)}/api/leaderboard`, 'web, through its proxy'],
      [`curl http://${addr(plan.trafficStatsPort)}/stats`, 'what the generator sent, to compare'],
      [`curl http://${addr(web.adminPort)}/metrics`, "web's proxy, Prometheus text"],
      [`curl -s http://${addr(web.adminPort)}/metrics | grep ^identity_`, "web's proxy certificate: expiry, certificates obtained"],
    ]),
    '',
    options.durationS === undefined ? 'Ctrl-C stops everything.' : `Stops by itself in ${options.durationS} s (or Ctrl-C).`,
    '',
  ].join('\n');
}

/** Commands with a comment each, the comments aligned. */
function commands(rows: ReadonlyArray<readonly [string, string]>): string {
  const width = Math.max(...rows.map(([command]) => command.length));
  return rows.map(([command, comment]) => `  ${command.padEnd(width)}   # ${comment}`).join('\n');
}

function describeExit(exit: Exit): string {
  return exit.signal !== null ? `killed by ${exit.signal}` : `exit code ${exit.code}`;
}

async function main(): Promise<void> {
  const options = parseOptions();
  const level = options.verbose ? 'info' : 'warn';
  const say = (line: string): void => void process.stdout.write(`${line}\n`);

  for (const [port, what] of [
    [DESTINATION_PORT, 'the controller\'s Destination API (proxies connect to it)'],
    [PUBLIC_API_PORT, 'the controller\'s public API (the sluice CLI connects to it)'],
  ] as const) {
    if (options.anyPorts) break;
    if (!(await portIsFree(port))) {
      process.stderr.write(
        `npm start: port ${port} on ${HOST} is already in use; the demo needs it for ${what}.\n` +
          `Stop whatever listens there (see: ss -ltnp 'sport = :${port}') and try again.\n`,
      );
      process.exit(1);
    }
  }

  const plan = await planPorts(!options.anyPorts);
  writeFileSync(DISCOVERY_FILE, renderDiscoveryFile(plan));
  const identity = await prepareDemoIdentity();
  await buildDashboard({ ifStale: true }).catch((error: Error) => {
    say(`! the dashboard's page could not be built (${error.message}); the controller will say so on its URL.`);
  });

  const supervisor = new Supervisor(Math.max(...['controller', 'traffic', ...APPS.map(proxyName)].map((n) => n.length)));
  let stopping: Promise<void> | undefined;
  let exitCode = 0;
  const stop = (code: number, why: string): Promise<void> => {
    if (stopping !== undefined) return stopping;
    exitCode = code;
    stopping = (async () => {
      say(`\n${why}`);
      await supervisor.stop([['traffic'], [...APPS], APPS.map(proxyName), ['controller']], 4000);
      identity.remove();
      say(exitCode === 0 ? 'Everything stopped.' : 'Everything stopped (after a failure).');
      process.exit(exitCode);
    })();
    return stopping;
  };
  const abandoned = (): boolean => stopping !== undefined;
  // The controller is restarted when it exits, as a Deployment's pod would be (proxies and dashboard
  // pages reconnect); more than CONTROLLER_RESTARTS in a minute means it cannot run: stop then.
  const restarts: number[] = [];
  supervisor.onUnexpectedExit = (exit) => {
    const now = Date.now();
    while (restarts.length > 0 && (restarts[0] as number) < now - 60_000) restarts.shift();
    if (exit.name === 'controller' && restarts.length < CONTROLLER_RESTARTS && !abandoned()) {
      restarts.push(now);
      say(`! the controller exited (${describeExit(exit)}); restarting it, as Kubernetes would restart its pod …`);
      supervisor.start(controllerSpec(plan, level, identity));
      return;
    }
    void stop(1, `✗ ${exit.name} stopped unexpectedly (${describeExit(exit)}); stopping the rest.`);
  };
  let signals = 0;
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      // npm passes a terminal Ctrl-C on as well, so two may arrive for one key press.
      signals++;
      void stop(0, signals === 1 ? `${signal}: stopping the demo …` : '');
    });
  }
  process.on('exit', () => {
    supervisor.killAll();
    identity.remove();
  });

  const failStart = async (what: string, hint: string): Promise<never> => {
    await stop(1, `✗ ${what} did not become ready. ${hint}`);
    throw new Error('unreachable');
  };

  say(`Starting the Sluice demo (logs at ${level}; --verbose for more) …`);
  supervisor.start(controllerSpec(plan, level, identity));
  if (!(await waitFor(() => tcpConnects(HOST, plan.controller.destinationPort), 30_000, abandoned))) {
    return failStart(`the controller (Destination API on ${plan.controller.destinationPort})`, 'See its log lines above.');
  }
  const publicApiUp = await waitFor(() => tcpConnects(HOST, plan.controller.publicApiPort), 10_000, abandoned);
  if (abandoned()) return;
  if (!publicApiUp) say(`! the controller does not listen on ${addr(plan.controller.publicApiPort)} (public API): the sluice CLI will not work.`);

  for (const app of APPS) supervisor.start(appSpec(plan, app, level));
  for (const app of APPS) supervisor.start(proxySpec(plan, plan.pods[app], options, level, identity));
  const appReady: Record<App, () => Promise<boolean>> = {
    web: async () => (await httpGet(HOST, plan.pods.web.appPort, '/healthz', {}, 1000)).status === 200,
    emoji: () => grpcAnswers('EmojiService', 'ListAll', addr(plan.pods.emoji.appPort)),
    voting: () => grpcAnswers('VotingService', 'Results', addr(plan.pods.voting.appPort)),
  };
  const checks = APPS.flatMap((app) => [
    { what: `the ${app} app`, check: appReady[app] },
    {
      // Ready means it holds its certificate from the controller's Identity service.
      what: `${proxyName(app)} (admin /ready on ${addr(plan.pods[app].adminPort)}: certificate from Identity ${addr(plan.identityPort)})`,
      check: async () => (await httpGet(HOST, plan.pods[app].adminPort, '/ready', {}, 1000)).status === 200,
    },
  ]);
  const results = await Promise.all(checks.map(({ check }) => waitFor(check, 30_000, abandoned)));
  if (abandoned()) return;
  const notReady = checks.filter((_, i) => results[i] !== true).map((c) => c.what);
  if (notReady.length > 0) return failStart(notReady.join(', '), 'See the log lines above.');

  // One request along the whole path: web's proxy inbound → web → web's proxy outbound → (Destination
  // lookup of emoji-svc) → emoji's proxy inbound → emoji.
  const web = plan.pods.web;
  let last = '';
  const meshWorks = await waitFor(
    async () => {
      const answer = await httpGet(HOST, web.inboundPort, '/api/list', { host: serviceAuthority(web) }, 5000).catch((error: Error) => {
        last = error.message;
        return undefined;
      });
      if (answer !== undefined) last = `HTTP ${answer.status} ${answer.body.trim().slice(0, 300)}`;
      return answer?.status === 200;
    },
    20_000,
    abandoned,
    500,
  );
  if (abandoned()) return;
  if (!meshWorks) {
    say(`! web could not reach emoji through the mesh within 20 s; last answer: ${last}`);
    say('  (web → its proxy → emoji-svc resolved by the controller → emoji\'s proxy → emoji). Traffic starts anyway.');
  }

  supervisor.start(trafficSpec(plan, options, level));
  if (!(await waitFor(async () => (await httpGet(HOST, plan.trafficStatsPort, '/stats', {}, 1000)).status === 200, 15_000, abandoned))) {
    if (abandoned()) return;
    return failStart('the traffic generator', 'See its log lines above.');
  }
  say(summary(plan, options));

  if (options.durationS !== undefined) {
    setTimeout(() => void stop(0, `--duration ${options.durationS} s reached: stopping the demo …`), options.durationS * 1000);
  }
}

await main();
