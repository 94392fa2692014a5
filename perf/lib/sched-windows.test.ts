import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseTimehist, windowShares } from './sched-windows.ts';

const SAMPLE = `           time    cpu  task name                       wait time  sch delay   run time
                        [tid/pid]                          (msec)     (msec)     (msec)
--------------- ------  ------------------------------  ---------  ---------  ---------
   31852.904438 [0000]  perf-exec[27525]                    0.000      0.010      0.344 
   31852.909502 [0000]  V8 DefaultWorke[27506/27505]        0.351      0.250      4.713 
   31852.909795 [0000]  <idle>                              4.730      0.000      0.275 
`;

test('timehist lines become run slices ending at the line time; headers are skipped', () => {
  const slices = parseTimehist(SAMPLE);
  assert.equal(slices.length, 3);
  assert.deepEqual(slices[1], { tid: 27506, comm: 'V8 DefaultWorke', start: 31852.909502 - 0.004713, end: 31852.909502, schedDelayMs: 0.25 });
  assert.equal(slices[2]?.comm, '<idle>');
});

test('a window counts only the part of each slice inside it', () => {
  const slices = parseTimehist(SAMPLE);
  const shares = windowShares(slices, 31852.9070, 31852.9100, (s) => s.comm);
  assert.deepEqual(
    shares.map((s) => [s.who, Math.round(s.ms * 1000) / 1000]),
    [
      ['V8 DefaultWorke', 2.502],
      ['<idle>', 0.275],
    ],
  );
});
