// A service's log on the Immich stack page, as pure logic: the buffer of lines (older pages put in
// front, followed lines appended, duplicates dropped, at most MAX_LINES kept), the local time of a
// line, and the follow stream that reopens itself with a growing delay and asks only for what it
// missed (`since` the last line it holds). Knows nothing of Svelte; the EventSource and the
// timers are passed in so tests drive them.

import type { ContainerLogLine } from './api';

/** Lines kept in memory: enough to read back a while, small enough for a phone. */
export const MAX_LINES = 2000;

/** A line with a key that stays the same when the same line comes twice (page, then follow). */
export interface KeyedLine extends ContainerLogLine {
  key: string;
}

function keyOf(l: ContainerLogLine): string {
  return `${l.time}\u0000${l.stream}\u0000${l.text}`;
}

export function keyed(lines: readonly ContainerLogLine[]): KeyedLine[] {
  // Two identical lines at the same instant are both real: number repeats so keys stay unique.
  const seen = new Map<string, number>();
  return lines.map((l) => {
    const k = keyOf(l);
    const n = seen.get(k) ?? 0;
    seen.set(k, n + 1);
    return { ...l, key: n ? `${k}\u0000${n}` : k };
  });
}

/**
 * A page of older lines in front of what is held. Lines of the page already held (the page
 * overlaps at its edge) are dropped. When over `max`, the newest are dropped: the person asked to
 * read back, so the older lines are what they want to see.
 */
export function prependPage(held: readonly KeyedLine[], page: readonly ContainerLogLine[], max = MAX_LINES): KeyedLine[] {
  const have = new Set(held.map((l) => l.key));
  const older = keyed(page).filter((l) => !have.has(l.key));
  const all = [...older, ...held];
  return all.length > max ? all.slice(0, max) : all;
}

/** A line's time in milliseconds (the wire's RFC 3339 strings vary in their digits of fraction, so
 *  they do not compare as text). */
function ms(l: ContainerLogLine): number {
  const t = Date.parse(l.time);
  return Number.isNaN(t) ? 0 : t;
}

/**
 * New lines after what is held (followed live, or a reconnect's catch-up page). Lines already
 * held are dropped; a catch-up that arrives after newer followed lines is put in time order; when
 * over `max`, the oldest go.
 */
export function appendLines(held: readonly KeyedLine[], lines: readonly ContainerLogLine[], max = MAX_LINES): KeyedLine[] {
  if (lines.length === 0) return held as KeyedLine[];
  const incoming = keyed(lines);
  // Only lines at or after the earliest incoming one can be repeats.
  const from = Math.min(...incoming.map(ms));
  const recent = new Set(held.filter((l) => ms(l) >= from).map((l) => l.key));
  const fresh = incoming.filter((l) => !recent.has(l.key));
  let all = [...held, ...fresh];
  const last = held.length ? ms(held[held.length - 1]) : -Infinity;
  // Array.prototype.sort is stable: lines of the same millisecond keep their arrival order.
  if (fresh.some((l) => ms(l) < last)) all = all.sort((a, b) => ms(a) - ms(b));
  return all.length > max ? all.slice(all.length - max) : all;
}

/** A line's time in the reader's local time, to the second: "14:05:09", with the date when not today. */
export function lineTime(iso: string, now: Date = new Date(), locale?: string): string {
  const t = new Date(iso);
  if (Number.isNaN(t.getTime())) return iso;
  const sameDay = t.toDateString() === now.toDateString();
  const time = new Intl.DateTimeFormat(locale, { hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false }).format(t);
  if (sameDay) return time;
  return `${new Intl.DateTimeFormat(locale, { day: 'numeric', month: 'short' }).format(t)} ${time}`;
}

/** The whole timestamp for a tooltip / screen reader. */
export function lineTimeFull(iso: string, locale?: string): string {
  const t = new Date(iso);
  if (Number.isNaN(t.getTime())) return iso;
  return new Intl.DateTimeFormat(locale, { dateStyle: 'medium', timeStyle: 'medium' }).format(t);
}

/** Whether a scrolled box is at (or within a few pixels of) its bottom: then new lines scroll it. */
export function atBottom(el: { scrollTop: number; scrollHeight: number; clientHeight: number }, slack = 24): boolean {
  return el.scrollHeight - el.scrollTop - el.clientHeight <= slack;
}

// ---- Following

export type FollowState = 'off' | 'connecting' | 'live' | 'reconnecting';

/** The part of EventSource the follower uses. */
export interface FollowSource {
  readonly readyState: number;
  onopen: ((ev: Event) => unknown) | null;
  onerror: ((ev: Event) => unknown) | null;
  addEventListener(type: string, listener: (ev: MessageEvent) => void): void;
  close(): void;
}

export interface FollowTimers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export interface FollowOptions {
  /** The stream's address, asking for lines `since` a time (null: from now). */
  url(since: string | null): string;
  onLine(line: ContainerLogLine): void;
  onState(state: FollowState): void;
  /**
   * Called when the stream is back after a break, with the time of the newest line held then:
   * read the lines written meanwhile as a page (`since`), since a live stream only carries what
   * is written from its start.
   */
  onCatchUp?(since: string | null): void;
  /** The time of the newest line held (the catch-up after a reconnect starts there). */
  lastTime(): string | null;
  open?: (url: string) => FollowSource;
  timers?: FollowTimers;
  /** First reconnect delay; doubles on each failure in a row, up to `maxDelayMs`. */
  baseDelayMs?: number;
  maxDelayMs?: number;
}

/** The wait before reconnect number `failures` (1-based): 1 s, 2 s, 4 s … up to the cap. */
export function reconnectDelay(failures: number, base = 1000, max = 30_000): number {
  const n = Math.max(1, Math.floor(failures));
  return Math.min(base * 2 ** (n - 1), max);
}

/** Parses a `line` event's data, or null when it is not a log line. */
export function parseLine(data: unknown): ContainerLogLine | null {
  try {
    const v = JSON.parse(String(data)) as ContainerLogLine;
    if (v && typeof v.text === 'string' && typeof v.time === 'string' && (v.stream === 'stdout' || v.stream === 'stderr')) return v;
  } catch {
    /* not JSON */
  }
  return null;
}

/**
 * Follows one service's log. The browser reconnects an EventSource by itself after a dropped
 * connection, but from the start (no `since`), and gives up after an error status: this closes
 * it on every error and opens it again after a delay, asking for the lines since the newest one
 * held, so nothing is lost or shown twice.
 */
export class LogFollower {
  private readonly o: Required<Omit<FollowOptions, 'open' | 'timers' | 'onCatchUp'>> &
    Pick<FollowOptions, 'onCatchUp'> & { open: (url: string) => FollowSource; timers: FollowTimers };
  private es: FollowSource | null = null;
  private failures = 0;
  private timer: unknown = null;
  private _state: FollowState = 'off';

  constructor(opts: FollowOptions) {
    this.o = {
      baseDelayMs: 1000,
      maxDelayMs: 30_000,
      open: (url) => new EventSource(url) as unknown as FollowSource,
      timers: {
        setTimeout: (fn, ms) => globalThis.setTimeout(fn, ms),
        clearTimeout: (h) => globalThis.clearTimeout(h as ReturnType<typeof setTimeout>),
      },
      ...opts,
    } as LogFollower['o'];
  }

  get state(): FollowState {
    return this._state;
  }

  private set(state: FollowState): void {
    if (state === this._state) return;
    this._state = state;
    this.o.onState(state);
  }

  start(): void {
    if (this._state !== 'off') return;
    this.failures = 0;
    this.set('connecting');
    this.connect(null);
  }

  stop(): void {
    this.close();
    if (this.timer !== null) this.o.timers.clearTimeout(this.timer);
    this.timer = null;
    this.set('off');
  }

  private close(): void {
    if (!this.es) return;
    this.es.onopen = null;
    this.es.onerror = null;
    this.es.close();
    this.es = null;
  }

  private connect(since: string | null): void {
    this.close();
    let es: FollowSource;
    try {
      es = this.o.open(this.o.url(since));
    } catch {
      this.fail();
      return;
    }
    this.es = es;
    es.onopen = () => {
      if (this.es !== es) return;
      const after = this.failures > 0;
      this.failures = 0;
      this.set('live');
      if (after) this.o.onCatchUp?.(since);
    };
    es.onerror = () => {
      if (this.es !== es) return;
      this.fail();
    };
    es.addEventListener('line', (ev: MessageEvent) => {
      if (this.es !== es) return;
      const line = parseLine(ev.data);
      if (line) this.o.onLine(line);
    });
  }

  private fail(): void {
    this.close();
    if (this._state === 'off') return;
    this.failures += 1;
    this.set('reconnecting');
    const delay = reconnectDelay(this.failures, this.o.baseDelayMs, this.o.maxDelayMs);
    if (this.timer !== null) this.o.timers.clearTimeout(this.timer);
    this.timer = this.o.timers.setTimeout(() => {
      this.timer = null;
      if (this._state !== 'off') this.connect(this.o.lastTime());
    }, delay);
  }
}
