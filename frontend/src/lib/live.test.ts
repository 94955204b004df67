import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Job } from './api';
import { LiveFeed, type EventSourceLike, type LiveMode } from './live';

class FakeES implements EventSourceLike {
  static all: FakeES[] = [];
  readyState = 0;
  onopen: ((ev: Event) => unknown) | null = null;
  onerror: ((ev: Event) => unknown) | null = null;
  closed = false;
  listeners = new Map<string, ((ev: MessageEvent) => void)[]>();
  constructor(readonly url: string) {
    FakeES.all.push(this);
  }
  addEventListener(type: string, l: (ev: MessageEvent) => void) {
    this.listeners.set(type, [...(this.listeners.get(type) ?? []), l]);
  }
  close() {
    this.closed = true;
    this.readyState = 2;
  }
  open() {
    this.readyState = 1;
    this.onopen?.(new Event('open'));
  }
  fail(closed: boolean) {
    this.readyState = closed ? 2 : 0;
    this.onerror?.(new Event('error'));
  }
  emit(type: string, data: string) {
    for (const l of this.listeners.get(type) ?? []) l({ data } as MessageEvent);
  }
}

function setup() {
  const jobs: Job[] = [];
  const modes: LiveMode[] = [];
  let resyncs = 0;
  let polls = 0;
  const feed = new LiveFeed({
    url: '/api/v1/events',
    onJob: (j) => jobs.push(j),
    onResync: () => resyncs++,
    onPoll: () => polls++,
    onMode: (m) => modes.push(m),
    maxFailures: 3,
    pollMs: 2000,
    retryStreamMs: 30_000,
    reconnectMs: 1000,
    eventSource: (url) => new FakeES(url),
  });
  return { feed, jobs, modes, resyncs: () => resyncs, polls: () => polls };
}

describe('LiveFeed', () => {
  beforeEach(() => {
    FakeES.all = [];
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('goes live on open, resyncs, and passes job events through', () => {
    const t = setup();
    t.feed.start();
    expect(t.feed.mode).toBe('connecting');
    const es = FakeES.all[0];
    expect(es.url).toBe('/api/v1/events');
    es.open();
    expect(t.feed.mode).toBe('live');
    expect(t.resyncs()).toBe(1);
    es.emit('job', JSON.stringify({ id: 7, state: 'running' }));
    es.emit('job', 'not json');
    expect(t.jobs.map((j) => j.id)).toEqual([7]);
  });

  it('lets the browser reconnect, and resyncs when it is back', () => {
    const t = setup();
    t.feed.start();
    const es = FakeES.all[0];
    es.open();
    es.fail(false);
    expect(t.feed.mode).toBe('reconnecting');
    expect(FakeES.all).toHaveLength(1);
    es.open();
    expect(t.feed.mode).toBe('live');
    expect(t.resyncs()).toBe(2);
  });

  it('reopens a stream the browser closed, with a delay', () => {
    const t = setup();
    t.feed.start();
    FakeES.all[0].fail(true);
    expect(FakeES.all).toHaveLength(1);
    vi.advanceTimersByTime(1000);
    expect(FakeES.all).toHaveLength(2);
    expect(FakeES.all[0].closed).toBe(true);
  });

  it('falls back to polling after repeated failures, then returns to the stream', () => {
    const t = setup();
    t.feed.start();
    FakeES.all[0].fail(false);
    FakeES.all[0].fail(false);
    expect(t.feed.mode).toBe('reconnecting');
    FakeES.all[0].fail(false);
    expect(t.feed.mode).toBe('polling');
    expect(FakeES.all[0].closed).toBe(true);
    expect(t.polls()).toBe(1);
    vi.advanceTimersByTime(6000);
    expect(t.polls()).toBe(4);

    // Later it tries the stream again; a failure keeps it polling.
    vi.advanceTimersByTime(24_000);
    expect(FakeES.all).toHaveLength(2);
    FakeES.all[1].fail(true);
    expect(t.feed.mode).toBe('polling');

    // The next try works: polling stops.
    vi.advanceTimersByTime(30_000);
    expect(FakeES.all).toHaveLength(3);
    FakeES.all[2].open();
    expect(t.feed.mode).toBe('live');
    const polls = t.polls();
    vi.advanceTimersByTime(10_000);
    expect(t.polls()).toBe(polls);
  });

  it('stops everything on stop()', () => {
    const t = setup();
    t.feed.start();
    for (let i = 0; i < 3; i++) FakeES.all[0].fail(false);
    expect(t.feed.mode).toBe('polling');
    t.feed.stop();
    const polls = t.polls();
    vi.advanceTimersByTime(120_000);
    expect(t.polls()).toBe(polls);
    expect(FakeES.all).toHaveLength(1);
    expect(t.feed.mode).toBe('stopped');
  });
});
