// The `voting` service: one gRPC method per emoji (VoteDoughnut, VoteJoy, …) and Results
// (emojivoto.v1.VotingService). Votes are kept in memory.
//
// VoteDoughnut is broken on purpose, as in emojivoto: every `--fail-every`th call to it (default 4, so
// 25 %) fails with gRPC UNKNOWN. Counting instead of rolling dice keeps the failure rate steady, so the
// mesh's success rate can be checked against it. Each call also takes a few milliseconds, so latency
// percentiles have something to show.
//   node demo/voting.ts --listen 127.0.0.1:22080 [--fail-every 4] [--log info]
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import * as grpc from '@grpc/grpc-js';
import { BROKEN_EMOJI, EMOJIS, Log, loadEmojivoto, onStop, parseLevel, voteMethod } from './common.ts';

const { values } = parseArgs({
  options: {
    listen: { type: 'string', default: '127.0.0.1:8080' },
    'fail-every': { type: 'string', default: '4' },
    log: { type: 'string' },
    'watch-stdin': { type: 'boolean', default: false },
  },
});
const log = new Log('voting', parseLevel(values.log));
const failEvery = Number(values['fail-every']);
if (!Number.isInteger(failEvery) || failEvery < 0) {
  log.error('--fail-every must be a whole number (0: never fail)', { value: values['fail-every'] });
  process.exit(2);
}

const votes = new Map<string, number>();
let brokenCalls = 0;

/** Simulated work: 2–6 ms per vote, a steady spread rather than a constant. */
function workMs(): number {
  return 2 + Math.random() * 4;
}

type Unary = (call: grpc.ServerUnaryCall<object, object>, done: grpc.sendUnaryData<object>) => void;
const handlers: Record<string, Unary> = {
  Results: (_call, done) => {
    const results = [...votes.entries()]
      .map(([shortcode, count]) => ({ shortcode, votes: count }))
      .sort((a, b) => b.votes - a.votes || a.shortcode.localeCompare(b.shortcode));
    done(null, { results });
  },
};
for (const { shortcode } of EMOJIS) {
  handlers[voteMethod(shortcode)] = (_call, done) => {
    void sleep(workMs()).then(() => {
      if (shortcode === BROKEN_EMOJI && failEvery > 0 && ++brokenCalls % failEvery === 0) {
        log.debug('vote failed on purpose', { shortcode });
        done({ code: grpc.status.UNKNOWN, details: `${shortcode} votes fail 1 time in ${failEvery} (on purpose)` });
        return;
      }
      votes.set(shortcode, (votes.get(shortcode) ?? 0) + 1);
      done(null, {});
    });
  };
}

const server = new grpc.Server();
server.addService(loadEmojivoto().VotingService.service, handlers);
server.bindAsync(values.listen, grpc.ServerCredentials.createInsecure(), (error, port) => {
  if (error !== null) {
    log.error('cannot listen', { addr: values.listen, error: error.message });
    process.exit(1);
  }
  log.info('voting service ready', { addr: values.listen, port, failEvery });
});

onStop(log, values['watch-stdin'], () => new Promise<void>((resolve) => server.tryShutdown(() => resolve())));
