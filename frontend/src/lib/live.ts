// Live updates: an EventSource on /api/v1/events that reconnects by itself, and falls back to
// polling when the stream keeps failing (e.g. a proxy that will not pass it through). While
// polling it tries the stream again now and then, and stops polling once the stream is back.

import type { Job } from './api';

export type LiveMode = 'connecting' | 'live' | 'reconnecting' | 'polling' | 'stopped';

/** The part of EventSource this module uses (lets tests pass a fake). */
export interface EventSourceLike {
  readonly readyState: number;
  onopen: ((ev: Event) => unknown) | null;
  onerror: ((ev: Event) => unknown) | null;
  addEventListener(type: string, listener: (ev: MessageEvent) => void): void;
  close(): void;
}

export type EventSourceFactory = (url: string) => EventSourceLike;

export interface Timers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
  setInterval(fn: () => void, ms: number): unknown;
  clearInterval(handle: unknown): void;
}

export interface LiveFeedOptions {
  url: string;
  /** Called with each job snapshot from the stream. */
  onJob(job: Job): void;
  /** Called each time the stream (re)opens: fetch the full state, events may have been missed. */
  onResync(): void;
  /** Called every pollMs while in polling mode. */
  onPoll(): void;
  onMode?(mode: LiveMode): void;
  /** Consecutive failures (without a successful open) before falling back to polling. */
  maxFailures?: number;
  pollMs?: number;
  /** While polling, how often to try the stream again. */
  retryStreamMs?: number;
  /** Delay before reopening a stream the browser gave up on (grows up to 10x). */
  reconnectMs?: number;
  eventSource?: EventSourceFactory;
  timers?: Timers;
}

const CLOSED = 2;

const defaultTimers: Timers = {
  setTimeout: (fn, ms) => globalThis.setTimeout(fn, ms),
  clearTimeout: (h) => globalThis.clearTimeout(h as ReturnType<typeof setTimeout>),
  setInterval: (fn, ms) => globalThis.setInterval(fn, ms),
  clearInterval: (h) => globalThis.clearInterval(h as ReturnType<typeof setInterval>),
};

export class LiveFeed {
  private readonly o: Required<Omit<LiveFeedOptions, 'onMode'>> & Pick<LiveFeedOptions, 'onMode'>;
  private es: EventSourceLike | null = null;
  private failures = 0;
  private pollHandle: unknown = null;
  private retryHandle: unknown = null;
  private reconnectHandle: unknown = null;
  private _mode: LiveMode = 'stopped';

  constructor(opts: LiveFeedOptions) {
    this.o = {
      maxFailures: 3,
      pollMs: 2000,
      retryStreamMs: 30_000,
      reconnectMs: 1000,
      eventSource: (url) => new EventSource(url) as unknown as EventSourceLike,
      timers: defaultTimers,
      ...opts,
    };
  }

  get mode(): LiveMode {
    return this._mode;
  }

  private setMode(m: LiveMode): void {
    if (m === this._mode) return;
    this._mode = m;
    this.o.onMode?.(m);
  }

  start(): void {
    if (this._mode !== 'stopped') return;
    this.failures = 0;
    this.setMode('connecting');
    this.open();
  }

  stop(): void {
    this.closeStream();
    this.stopPolling();
    this.clear('retryHandle', 'timeout');
    this.clear('reconnectHandle', 'timeout');
    this.setMode('stopped');
  }

  private clear(key: 'retryHandle' | 'reconnectHandle' | 'pollHandle', kind: 'timeout' | 'interval'): void {
    const h = this[key];
    if (h !== null) {
      if (kind === 'timeout') this.o.timers.clearTimeout(h);
      else this.o.timers.clearInterval(h);
      this[key] = null;
    }
  }

  private closeStream(): void {
    if (this.es) {
      this.es.onopen = null;
      this.es.onerror = null;
      this.es.close();
      this.es = null;
    }
  }

  private open(): void {
    this.closeStream();
    let es: EventSourceLike;
    try {
      es = this.o.eventSource(this.o.url);
    } catch {
      this.onFailure(null);
      return;
    }
    this.es = es;
    es.onopen = () => {
      if (this.es !== es) return;
      this.failures = 0;
      this.stopPolling();
      this.clear('retryHandle', 'timeout');
      this.setMode('live');
      this.o.onResync();
    };
    es.onerror = () => {
      if (this.es !== es) return;
      this.onFailure(es);
    };
    es.addEventListener('job', (ev: MessageEvent) => {
      if (this.es !== es) return;
      let job: Job;
      try {
        job = JSON.parse(String(ev.data)) as Job;
      } catch {
        return;
      }
      if (job && typeof job.id === 'number') this.o.onJob(job);
    });
  }

  private onFailure(es: EventSourceLike | null): void {
    this.failures += 1;
    if (this.failures >= this.o.maxFailures) {
      // The stream keeps failing: poll instead, and try the stream again later.
      this.closeStream();
      this.startPolling();
      this.clear('retryHandle', 'timeout');
      this.retryHandle = this.o.timers.setTimeout(() => {
        this.retryHandle = null;
        if (this._mode === 'polling') this.open();
      }, this.o.retryStreamMs);
      return;
    }
    if (this._mode !== 'polling') this.setMode('reconnecting');
    if (!es || es.readyState === CLOSED) {
      // The browser gave up on this stream (e.g. an error status); reopen it ourselves.
      this.closeStream();
      const delay = Math.min(this.o.reconnectMs * 2 ** (this.failures - 1), this.o.reconnectMs * 10);
      this.clear('reconnectHandle', 'timeout');
      this.reconnectHandle = this.o.timers.setTimeout(() => {
        this.reconnectHandle = null;
        if (this._mode !== 'stopped') this.open();
      }, delay);
    }
    // Otherwise the browser is already reconnecting by itself.
  }

  private startPolling(): void {
    const wasPolling = this._mode === 'polling';
    this.setMode('polling');
    if (wasPolling && this.pollHandle !== null) return;
    this.o.onPoll();
    this.pollHandle = this.o.timers.setInterval(() => this.o.onPoll(), this.o.pollMs);
  }

  private stopPolling(): void {
    this.clear('pollHandle', 'interval');
  }
}
