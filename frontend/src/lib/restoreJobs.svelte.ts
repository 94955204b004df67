// The Restore points page's live jobs: making a point, restoring, drills, reset and undo, followed
// over the same event stream as Home (lib/live.ts), with a callback when one of them ends (the
// timeline has changed then).

import { api, isTerminal, toApiError, type ApiError, type Client, type Job } from './api';
import { latestOfKind, mergeJob, mergeJobs } from './jobs';
import { LiveFeed, type LiveMode } from './live';
import { RESTORE_JOB_KINDS } from './restorePoints';

/** Even with a live stream, re-read the jobs now and then in case an event was missed. */
const RESYNC_MS = 60_000;

export class RestoreJobs {
  jobs = $state<Job[]>([]);
  error = $state<ApiError | null>(null);
  live = $state<LiveMode>('stopped');
  /** Ticks every second (JobRow reads it for "started 5 seconds ago"). */
  now = $state(Date.now());

  private feed: LiveFeed | null = null;
  private timers: ReturnType<typeof setInterval>[] = [];
  private readonly client: Client;
  private readonly onEnded: (job: Job) => void;

  /** `onEnded` is called once for each job of these kinds seen to finish while the page is open. */
  constructor(onEnded: (job: Job) => void, client: Client = api) {
    this.onEnded = onEnded;
    this.client = client;
  }

  /** The newest job of a kind, or null. */
  latest(kind: string): Job | null {
    return latestOfKind(this.jobs, kind);
  }

  /** A job by id, once known. */
  byId(id: number | null | undefined): Job | null {
    return id == null ? null : (this.jobs.find((j) => j.id === id) ?? null);
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
      const lists = await Promise.all(RESTORE_JOB_KINDS.map((kind) => this.client.jobs({ kind, limit: 3 })));
      this.merge(lists.flat());
      this.error = null;
    } catch (e) {
      this.error = toApiError(e);
    }
  }

  /** A snapshot from the stream or from a POST's answer. */
  apply(job: Job): void {
    if (!RESTORE_JOB_KINDS.includes(job.kind)) return;
    this.merge([job]);
  }

  private merge(incoming: Job[]): void {
    const before = this.jobs;
    this.jobs = incoming.length === 1 ? mergeJob(before, incoming[0]) : mergeJobs(before, incoming);
    for (const j of this.jobs) {
      if (!isTerminal(j.state)) continue;
      const old = before.find((b) => b.id === j.id);
      if (old && !isTerminal(old.state)) this.onEnded(j);
    }
  }

  /** Ask a job to stop (JobRow's cancel button). The error, if any, is shown beside the job. */
  async cancelJob(id: number): Promise<ApiError | null> {
    try {
      this.apply(await this.client.cancelJob(id));
      return null;
    } catch (e) {
      return toApiError(e);
    }
  }
}
