// The `emoji` service: the catalogue of emojis people can vote for, over gRPC (emojivoto.v1.EmojiService).
//   node demo/emoji.ts --listen 127.0.0.1:21080 [--log info]
import { parseArgs } from 'node:util';
import * as grpc from '@grpc/grpc-js';
import { EMOJIS, Log, loadEmojivoto, onStop, parseLevel } from './common.ts';

const { values } = parseArgs({
  options: {
    listen: { type: 'string', default: '127.0.0.1:8080' },
    log: { type: 'string' },
    'watch-stdin': { type: 'boolean', default: false },
  },
});
const log = new Log('emoji', parseLevel(values.log));
const byShortcode = new Map(EMOJIS.map((emoji) => [emoji.shortcode, emoji]));

const server = new grpc.Server();
server.addService(loadEmojivoto().EmojiService.service, {
  ListAll: (_call: grpc.ServerUnaryCall<object, object>, done: grpc.sendUnaryData<object>) => {
    done(null, { list: EMOJIS });
  },
  FindByShortcode: (call: grpc.ServerUnaryCall<{ shortcode: string }, object>, done: grpc.sendUnaryData<object>) => {
    const emoji = byShortcode.get(call.request.shortcode);
    log.debug('find', { shortcode: call.request.shortcode, found: emoji !== undefined });
    done(null, emoji === undefined ? {} : { emoji });
  },
});

server.bindAsync(values.listen, grpc.ServerCredentials.createInsecure(), (error, port) => {
  if (error !== null) {
    log.error('cannot listen', { addr: values.listen, error: error.message });
    process.exit(1);
  }
  log.info('emoji service ready', { addr: values.listen, port, emojis: EMOJIS.length });
});

onStop(log, values['watch-stdin'], () => new Promise<void>((resolve) => server.tryShutdown(() => resolve())));
