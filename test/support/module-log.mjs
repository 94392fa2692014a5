// Preloaded into a process under test (`node --import <this file> …`; worker threads inherit it): each
// thread writes the modules it has loaded — Node's built-ins and every ES module URL — to
// `$SLUICE_MODULE_LOG_DIR/<pid>-<thread id>.json`, shortly after its latest load (a worker thread that is
// terminated never runs its exit handlers). Tests read them to check what a process never loads.
import module from 'node:module';
import { writeFileSync } from 'node:fs';
import { threadId } from 'node:worker_threads';

const dir = process.env.SLUICE_MODULE_LOG_DIR;
const urls = [];
let timer;

function write() {
  const builtins = process.moduleLoadList.filter((m) => m.startsWith('NativeModule ')).map((m) => m.slice('NativeModule '.length));
  writeFileSync(`${dir}/${process.pid}-${threadId}.json`, JSON.stringify({ threadId, builtins, urls }));
}

if (dir !== undefined) {
  module.registerHooks({
    load(url, context, nextLoad) {
      urls.push(url);
      clearTimeout(timer);
      timer = setTimeout(write, 200);
      timer.unref();
      return nextLoad(url, context);
    },
  });
  process.on('exit', write);
}
