// Preloaded into a test's proxy with `node --require` (which, unlike --import, also runs in every worker
// thread): SIGUSR2 to the proxy process makes its worker thread 0 die of an uncaught exception, as a bug
// in a worker would. The proxy's own code is untouched; its pool sees a real crash and must replace it.
'use strict';
const { BroadcastChannel, isMainThread, workerData } = require('node:worker_threads');

const channel = new BroadcastChannel('sluice-test-crash-worker');
channel.unref();
if (isMainThread) {
  process.on('SIGUSR2', () => channel.postMessage(0));
} else {
  channel.onmessage = (event) => {
    if (workerData === null || typeof workerData !== 'object' || workerData.index !== event.data) return;
    setImmediate(() => {
      throw new Error(`crash injected by the test into worker ${event.data}`);
    });
  };
}
