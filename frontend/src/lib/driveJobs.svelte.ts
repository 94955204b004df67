// The Backups page's live jobs: backups, verifications, restores and formats of drives, followed
// over the same event stream as Home (lib/live.ts). Each running job's progress snapshots feed a
// Throughput meter (speed and time left); a callback fires when a job ends (the drives changed).

import { api, isTerminal, toApiError, type ApiError, type Client, type Job } from './api';
import { DRIVE_JOB_KINDS, Throughput } from './drives';
import { mergeJob, mergeJobs } from './jobs';
import { LiveFeed, type LiveMode } from './live';

/** Even with a live stream, re-read the jobs now and then in case an event was missed. */
const RESYNC_MS = 60_000;

export class DriveJobs {
  jobs = $state<Job[]>([]);
  error = $state<ApiError | null>(null);
  live = $state<LiveMode>('stopped');
  /** Ticks every second (relative times, and speed that drops while nothing arrives). */
  now = $state(Date.now());

  private meters = new Map<number, Throughput>();
  private feed: LiveFeed | null = null;
  private timers: ReturnType<typeof setInterval>[] = [];
  private readonly client: Client;
  private readonly onEnded: (job: Job) => void;

  constructor(onEnded: (job: Job) => void, client: Client = api) {
    this.onEnded = onEnded;
    this.client = client;
  }

  byId(id: number | null | undefined): Job | null {
    return id == null ? null : (this.jobs.find((j) => j.id === id) ?? null);
  }

  /** The speed meter of a running job (bytes), or null. */
  meter(id: number): Throughput | null {
    return this.meters.get(id) ?? null;
  }

  start(): void {
    this.timers.push(
      setInterval(() => (this.now = Date.now()), 1000),
      setInterval(() => {
        if (this.live === 'live') void this.refresh();
      }, RESYNC_MS),
    );
    void this.refresh();
    this.feed = new LiveFeed({
      url: this.client.eventsUrl(),
      onJob: (job) => this.apply(job),
      onResync: () => void this.refresh(),
      onPoll: () => void this.refresh(),
      onMode: (m) => (this.live = m),
    });
    this.feed.start();
  }

  stop(): void {
    this.feed?.stop();
    this.feed = null;
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
  }

  async refresh(): Promise<void> {
    try {
      const lists = await Promise.all(DRIVE_JOB_KINDS.map((kind) => this.client.jobs({ kind, limit: 5 })));
      this.merge(lists.flat());
      this.error = null;
    } catch (e) {
      this.error = toApiError(e);
    }
  }

  /** A snapshot from the stream or from a POST's answer. */
  apply(job: Job): void {
    if (!DRIVE_JOB_KINDS.includes(job.kind)) return;
    this.merge([job]);
  }

  private merge(incoming: Job[]): void {
    const before = this.jobs;
    this.jobs = incoming.length === 1 ? mergeJob(before, incoming[0]) : mergeJobs(before, incoming);
    const at = Date.now();
    for (const j of this.jobs) {
      if (!isTerminal(j.state)) {
        if (j.state === 'running' && j.progress.unit === 'bytes') {
          let m = this.meters.get(j.id);
          if (!m) this.meters.set(j.id, (m = new Throughput()));
          m.add(at, j.progress.done);
        }
        continue;
      }
      this.meters.delete(j.id);
      const old = before.find((b) => b.id === j.id);
      if (old && !isTerminal(old.state)) this.onEnded(j);
    }
  }

  /** Ask a job to stop (JobRow's cancel button). */
  async cancelJob(id: number): Promise<ApiError | null> {
    try {
      this.apply(await this.client.cancelJob(id));
      return null;
    } catch (e) {
      return toApiError(e);
    }
  }
}
