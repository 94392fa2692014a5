// Readable contrast, checked from the stylesheet itself: every text colour the page uses on every
// background it is drawn on has at least WCAG AA's 4.5:1, in the light and the dark scheme.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';

const CSS = readFileSync(new URL('./style.css', import.meta.url), 'utf8');
const TEXT = ['--fg', '--muted', '--accent', '--good', '--warn', '--bad'];
const BACKGROUNDS = ['--bg', '--panel', '--banner-down', '--banner-up'];

function variables(block: string): Map<string, string> {
  return new Map([...block.matchAll(/(--[a-z-]+):\s*(#[0-9a-f]{6})/gi)].map((m) => [m[1] as string, (m[2] as string).toLowerCase()]));
}

/** WCAG 2 relative luminance and contrast ratio. */
function luminance(hex: string): number {
  const [r, g, b] = [1, 3, 5].map((i) => {
    const c = parseInt(hex.slice(i, i + 2), 16) / 255;
    return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  }) as [number, number, number];
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
}
function contrast(a: string, b: string): number {
  const [hi, lo] = [luminance(a), luminance(b)].sort((x, y) => y - x) as [number, number];
  return (hi + 0.05) / (lo + 0.05);
}

describe('dashboard colours', () => {
  const light = variables(/:root\s*{([^}]*)}/.exec(CSS)?.[1] ?? '');
  const dark = variables(/prefers-color-scheme:\s*dark\)\s*{\s*:root\s*{([^}]*)}/.exec(CSS)?.[1] ?? '');
  for (const [scheme, vars] of [['light', light], ['dark', dark]] as const) {
    it(`${scheme}: every text colour has at least 4.5:1 on every background`, () => {
      for (const name of [...TEXT, ...BACKGROUNDS]) assert.ok(vars.has(name), `${scheme} scheme defines ${name}`);
      for (const text of TEXT) {
        for (const background of BACKGROUNDS) {
          const ratio = contrast(vars.get(text) as string, vars.get(background) as string);
          assert.ok(ratio >= 4.5, `${scheme}: ${text} on ${background} is ${ratio.toFixed(2)}:1`);
        }
      }
      // The primary button writes the background colour on the accent.
      assert.ok(contrast(vars.get('--bg') as string, vars.get('--accent') as string) >= 4.5);
    });
  }
});
