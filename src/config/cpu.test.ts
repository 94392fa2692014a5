// The default worker count follows the CPU the proxy is given.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MAX_DEFAULT_WORKERS, parseCpuMax, workersForCores } from './cpu.ts';

describe('default worker count', () => {
  it('serves on the main thread under one core, one worker per started core above', () => {
    assert.equal(workersForCores(0.1), 0);
    assert.equal(workersForCores(0.5), 0);
    assert.equal(workersForCores(0.999), 0);
    assert.equal(workersForCores(1), 1);
    assert.equal(workersForCores(1.5), 2);
    assert.equal(workersForCores(2), 2);
    assert.equal(workersForCores(64), MAX_DEFAULT_WORKERS);
    assert.equal(workersForCores(Number.NaN), 0);
  });

  it('reads a cgroup v2 cpu.max', () => {
    assert.equal(parseCpuMax('max 100000\n'), undefined);
    assert.equal(parseCpuMax('150000 100000\n'), 1.5);
    assert.equal(parseCpuMax('50000 100000'), 0.5);
    assert.equal(parseCpuMax(''), undefined);
    assert.equal(parseCpuMax('garbage'), undefined);
  });
});
