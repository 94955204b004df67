// The Immich stack page's jobs (install or repair, and an update or rollback started elsewhere), followed live over the same event stream as
// Home (lib/live.ts), with the job's own log lines read while it runs, and a callback when it ends
// (the stack has changed then).

import { api, isTerminal, toApiError, type ApiError, type Client, type Job, type LogLine } from './api';
import { mergeJob, mergeJobs } from './jobs';
import { LiveFeed, type LiveMode } from './live';
import { STACK_JOB_KINDS } from './stack';

/** Even with a live stream, re-read the jobs now and then in case an event was missed. */
const RESYNC_MS = 60_000;
/** How often the running job's log is read again (the event stream carries no log lines). */
const LOG_MS = 2000;

export class StackJobs {
  jobs = $state<Job[]>([]);
  error = $state<ApiError | null>(null);
  live = $state<LiveMode>('stopped');
  now = $state(Date.now());
  /** The log of the newest of these jobs. */
  log = $state<LogLine[]>([]);

  private feed: LiveFeed | null = null;
  private timers: ReturnType<typeof setInterval>[] = [];
  private logOf: number | null = null;
  private readonly client: Client;
  private readonly onEnded: (job: Job) => void;

  constructor(onEnded: (job: Job) => void, client: Client = api) {
    this.onEnded = onEnded;
    this.client = client;
  }

  /** The newest install, repair, update or rollback, or null. */
  get latest(): Job | null {
    let best: Job | null = null;
    for (const j of this.jobs) if (!best || j.id > best.id) best = j;
    return best;
  }

  start(): void {
    this.timers.push(
      setInterval(() => (this.now = Date.now()), 1000),
      setInterval(() => {
        if (this.live === 'live') void this.refresh();
      }, RESYNC_MS),
      setInterval(() => {
        const j = this.latest;
        if (j && !isTerminal(j.state)) void this.readLog(j.id);
      }, LOG_MS),
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
      const lists = await Promise.all(STACK_JOB_KINDS.map((kind) => this.client.jobs({ kind, limit: 3 })));
      this.merge(lists.flat());
      this.error = null;
    } catch (e) {
      this.error = toApiError(e);
    }
  }

  /** A snapshot from the stream or from a POST's answer. */
  apply(job: Job): void {
    if (!STACK_JOB_KINDS.includes(job.kind)) return;
    this.merge([job]);
  }

  private async readLog(id: number): Promise<void> {
    try {
      const lines = await this.client.jobLog(id);
      // A newer job may have started meanwhile: keep only the log of the one shown.
      if (this.latest?.id === id) this.log = lines;
    } catch {
      /* the job's card shows its state; the log comes on the next read */
    }
  }

  private merge(incoming: Job[]): void {
    const before = this.jobs;
    this.jobs = incoming.length === 1 ? mergeJob(before, incoming[0]) : mergeJobs(before, incoming);
    const latest = this.latest;
    if (latest && latest.id !== this.logOf) {
      this.logOf = latest.id;
      this.log = [];
      void this.readLog(latest.id);
    }
    for (const j of this.jobs) {
      if (!isTerminal(j.state)) continue;
      const old = before.find((b) => b.id === j.id);
      if (old && !isTerminal(old.state)) {
        void this.readLog(j.id);
        this.onEnded(j);
      }
    }
  }

  async cancelJob(id: number): Promise<ApiError | null> {
    try {
      this.apply(await this.client.cancelJob(id));
      return null;
    } catch (e) {
      return toApiError(e);
    }
  }
}
