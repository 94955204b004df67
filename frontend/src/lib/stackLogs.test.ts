import { describe, expect, it } from 'vitest';
import type { ContainerLogLine } from './api';
import { appendLines, atBottom, keyed, lineTime, LogFollower, parseLine, prependPage, reconnectDelay, type FollowSource, type FollowState } from './stackLogs';

function line(sec: number, text: string, stream: 'stdout' | 'stderr' = 'stdout'): ContainerLogLine {
  return { time: new Date(Date.UTC(2026, 11, 7, 12, 0, sec)).toISOString(), stream, text };
}

describe('log buffer', () => {
  it('puts an older page in front, dropping the lines it already holds', () => {
    const held = keyed([line(10, 'c'), line(11, 'd')]);
    const out = prependPage(held, [line(8, 'a'), line(9, 'b'), line(10, 'c')]);
    expect(out.map((l) => l.text)).toEqual(['a', 'b', 'c', 'd']);
  });
  it('keeps the oldest lines when reading back past the limit', () => {
    const held = keyed([line(10, 'c'), line(11, 'd')]);
    const out = prependPage(held, [line(8, 'a'), line(9, 'b')], 3);
    expect(out.map((l) => l.text)).toEqual(['a', 'b', 'c']);
  });
  it('appends followed lines, drops the ones a catch-up repeats, and trims the oldest', () => {
    let held = keyed([line(1, 'a'), line(2, 'b')]);
    held = appendLines(held, [line(2, 'b'), line(3, 'c')]);
    expect(held.map((l) => l.text)).toEqual(['a', 'b', 'c']);
    held = appendLines(held, [line(4, 'd'), line(5, 'e')], 4);
    expect(held.map((l) => l.text)).toEqual(['b', 'c', 'd', 'e']);
  });
  it('puts a late catch-up page in time order, whatever digits of fraction the times have', () => {
    const a = { time: '2026-12-07T12:00:01.8Z', stream: 'stdout' as const, text: 'live' };
    const b = { time: '2026-12-07T12:00:01.123456789Z', stream: 'stdout' as const, text: 'missed' };
    const held = appendLines(keyed([line(0, 'first')]), [a]);
    const out = appendLines(held, [b, a]);
    expect(out.map((l) => l.text)).toEqual(['first', 'missed', 'live']);
  });
  it('keeps two identical lines written at the same instant, with distinct keys', () => {
    const k = keyed([line(1, 'same'), line(1, 'same')]);
    expect(new Set(k.map((l) => l.key)).size).toBe(2);
    const same = appendLines([], [line(1, 'same'), line(1, 'same')]);
    expect(same).toHaveLength(2);
  });
  it('tells stdout and stderr lines apart even with the same text', () => {
    const out = appendLines(keyed([line(1, 'x', 'stdout')]), [line(1, 'x', 'stderr')]);
    expect(out.map((l) => l.stream)).toEqual(['stdout', 'stderr']);
  });
  it('shows local time, with the date only when not today', () => {
    const iso = line(9, 'x').time;
    const today = new Date(iso);
    expect(lineTime(iso, today, 'en-GB')).toMatch(/^\d\d:\d\d:\d\d$/);
    const later = new Date(today.getTime() + 3 * 86_400_000);
    expect(lineTime(iso, later, 'en-GB')).toMatch(/Dec \d\d:\d\d:\d\d$/);
    expect(lineTime('nonsense')).toBe('nonsense');
  });
  it('knows when the view is at its bottom', () => {
    expect(atBottom({ scrollTop: 600, scrollHeight: 1000, clientHeight: 400 })).toBe(true);
    expect(atBottom({ scrollTop: 100, scrollHeight: 1000, clientHeight: 400 })).toBe(false);
  });
  it('parses only real line events', () => {
    expect(parseLine(JSON.stringify(line(1, 'x')))).toEqual(line(1, 'x'));
    expect(parseLine('{"text":"x"}')).toBeNull();
    expect(parseLine('not json')).toBeNull();
  });
});

class FakeSource implements FollowSource {
  readyState = 0;
  onopen: ((ev: Event) => unknown) | null = null;
  onerror: ((ev: Event) => unknown) | null = null;
  closed = false;
  listeners = new Map<string, (ev: MessageEvent) => void>();
  constructor(readonly url: string) {}
  addEventListener(type: string, l: (ev: MessageEvent) => void) {
    this.listeners.set(type, l);
  }
  close() {
    this.closed = true;
    this.readyState = 2;
  }
  open() {
    this.readyState = 1;
    this.onopen?.(new Event('open'));
  }
  send(l: ContainerLogLine) {
    this.listeners.get('line')?.({ data: JSON.stringify(l) } as MessageEvent);
  }
  fail() {
    this.onerror?.(new Event('error'));
  }
}

function harness() {
  const sources: FakeSource[] = [];
  const timers: { fn: () => void; ms: number; h: number }[] = [];
  const states: FollowState[] = [];
  const got: ContainerLogLine[] = [];
  const catchUps: (string | null)[] = [];
  let n = 0;
  const f = new LogFollower({
    url: (since) => `/follow${since ? `?since=${since}` : ''}`,
    onLine: (l) => got.push(l),
    onState: (s) => states.push(s),
    onCatchUp: (since) => catchUps.push(since),
    lastTime: () => (got.length ? got[got.length - 1].time : null),
    open: (url) => {
      const s = new FakeSource(url);
      sources.push(s);
      return s;
    },
    timers: {
      setTimeout: (fn, ms) => {
        timers.push({ fn, ms, h: ++n });
        return n;
      },
      clearTimeout: (h) => {
        const i = timers.findIndex((t) => t.h === h);
        if (i >= 0) timers.splice(i, 1);
      },
    },
  });
  const fire = () => timers.shift()?.fn();
  return { f, sources, timers, states, got, fire, catchUps };
}

describe('following', () => {
  it('doubles the wait between reconnects, up to a cap', () => {
    expect([1, 2, 3, 4].map((n) => reconnectDelay(n))).toEqual([1000, 2000, 4000, 8000]);
    expect(reconnectDelay(20)).toBe(30_000);
    expect(reconnectDelay(0)).toBe(1000);
  });
  it('streams lines, then reconnects after an error asking since the last line', () => {
    const h = harness();
    h.f.start();
    expect(h.sources[0].url).toBe('/follow');
    h.sources[0].open();
    expect(h.f.state).toBe('live');
    expect(h.catchUps, 'no catch-up on the first open').toEqual([]);
    h.sources[0].send(line(5, 'hello'));
    expect(h.got.map((l) => l.text)).toEqual(['hello']);
    h.sources[0].fail();
    expect(h.sources[0].closed).toBe(true);
    expect(h.f.state).toBe('reconnecting');
    expect(h.timers[0].ms).toBe(1000);
    h.fire();
    expect(h.sources[1].url).toBe(`/follow?since=${line(5, 'x').time}`);
    expect(h.catchUps).toEqual([]);
    // Back: the lines written during the break are asked for as a page.
    h.sources[1].open();
    expect(h.catchUps).toEqual([line(5, 'x').time]);
    // Lines of a closed stream are ignored.
    h.sources[0].send(line(6, 'late'));
    expect(h.got).toHaveLength(1);
  });
  it('backs off on failures in a row and starts over after a good connection', () => {
    const h = harness();
    h.f.start();
    h.sources[0].fail();
    expect(h.timers[0].ms).toBe(1000);
    h.fire();
    h.sources[1].fail();
    expect(h.timers[0].ms).toBe(2000);
    h.fire();
    h.sources[2].open();
    h.sources[2].fail();
    expect(h.timers[0].ms).toBe(1000);
  });
  it('stops: closes the stream, cancels a pending reconnect, and says off', () => {
    const h = harness();
    h.f.start();
    h.sources[0].fail();
    expect(h.timers).toHaveLength(1);
    h.f.stop();
    expect(h.timers).toHaveLength(0);
    expect(h.f.state).toBe('off');
    expect(h.states).toEqual(['connecting', 'reconnecting', 'off']);
  });
});
