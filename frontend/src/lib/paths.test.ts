// Route paths exist once: in lib/api.ts, checked against the generated document. A page or
// component that writes an API path itself would bypass that check, so none may.
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

const SRC = join(import.meta.dirname, '..');
const ALLOWED = new Set(['lib/api.ts', 'lib/openapi.d.ts']);

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return sources(p);
    return /\.(ts|svelte)$/.test(e.name) && !e.name.endsWith('.test.ts') ? [p] : [];
  });
}

describe('API paths', () => {
  it('are written only in lib/api.ts', () => {
    const files = sources(SRC);
    expect(files.length).toBeGreaterThan(20);
    const offenders = files
      .filter((f) => !ALLOWED.has(relative(SRC, f)))
      .flatMap((f) =>
        readFileSync(f, 'utf8')
          .split('\n')
          .map((line, i) => ({ line, at: `${relative(SRC, f)}:${i + 1}` }))
          // A string that starts a versioned route: '/api/v1/...', "/api/v1/...", `/api/v1/...`.
          .filter(({ line }) => /['"`]\/api\/v\d+\//.test(line))
          .map(({ at, line }) => `${at}: ${line.trim()}`),
      );
    expect(offenders).toEqual([]);
  });
});
