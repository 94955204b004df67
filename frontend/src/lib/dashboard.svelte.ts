// The page's live state: agent status, jobs, the connection, and a ticking clock.

import { api, isTerminal, toApiError, type ApiError, type Client, type Job, type Status } from './api';
import { latestOfKind, mergeJob, mergeJobs } from './jobs';
import { LiveFeed, type LiveMode } from './live';

export const SELF_CHECK = 'host.self_check';

/** How often the status card is refreshed (it has no event stream of its own). */
const STATUS_REFRESH_MS = 30_000;
/** Even with a live stream, re-read the job list now and then in case an event was missed. */
const JOBS_RESYNC_MS = 60_000;

export class Dashboard {
  status = $state<Status | null>(null);
  /** Error of the last status fetch; cleared by the next success. */
  statusError = $state<ApiError | null>(null);
  /** performance.now() when `status` arrived, to tick the uptime locally. */
  statusAt = $state(0);
  loadingStatus = $state(false);

  jobs = $state<Job[]>([]);
  jobsError = $state<ApiError | null>(null);
  jobsLoaded = $state(false);

  live = $state<LiveMode>('stopped');

  /** Ticks every second; read it to re-render relative times. */
  now = $state(Date.now());
  nowMono = $state(0);

  startingSelfCheck = $state(false);
  selfCheckError = $state<ApiError | null>(null);

  private feed: LiveFeed | null = null;
  private timers: ReturnType<typeof setInterval>[] = [];
  private readonly client: Client;

  constructor(client: Client = api) {
    this.client = client;
  }

  /** The newest self-check job known, if any. */
  latestSelfCheck = $derived(latestOfKind(this.jobs, SELF_CHECK));

  /** Seconds the agent has been up, ticking between fetches. */
  uptimeSeconds = $derived.by(() => {
    if (!this.status) return 0;
    return this.status.uptime_seconds + Math.max(0, (this.nowMono - this.statusAt) / 1000);
  });

  start(): void {
    this.nowMono = performance.now();
    this.timers.push(
      setInterval(() => {
        this.now = Date.now();
        this.nowMono = performance.now();
      }, 1000),
      setInterval(() => void this.refreshStatus(), STATUS_REFRESH_MS),
      setInterval(() => {
        if (this.live === 'live') void this.refreshJobs();
      }, JOBS_RESYNC_MS),
    );
    void this.refreshStatus();
    void this.refreshJobs();
    this.feed = new LiveFeed({
      url: this.client.eventsUrl(),
      onJob: (job) => this.applyJob(job),
      onResync: () => void this.refreshJobs(),
      onPoll: () => void this.refreshJobs(),
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

  async refreshStatus(): Promise<void> {
    this.loadingStatus = true;
    try {
      const s = await this.client.status();
      this.status = s;
      this.statusAt = performance.now();
      this.nowMono = this.statusAt;
      this.statusError = null;
    } catch (e) {
      this.statusError = toApiError(e);
    } finally {
      this.loadingStatus = false;
    }
  }

  async refreshJobs(): Promise<void> {
    try {
      // The recent list, plus the newest self-check in case it is older than the rest.
      const [recent, checks] = await Promise.all([
        this.client.jobs({ limit: 25 }),
        this.client.jobs({ kind: SELF_CHECK, limit: 1 }),
      ]);
      const before = this.jobs;
      this.jobs = mergeJobs(before, [...recent, ...checks]);
      this.jobsError = null;
      this.jobsLoaded = true;
      this.afterJobsChanged(before);
    } catch (e) {
      this.jobsError = toApiError(e);
    }
  }

  applyJob(job: Job): void {
    const before = this.jobs;
    this.jobs = mergeJob(before, job);
    this.afterJobsChanged(before);
  }

  /** A self-check that just finished re-probed the facilities: re-read the status card. */
  private afterJobsChanged(before: Job[]): void {
    for (const j of this.jobs) {
      if (j.kind !== SELF_CHECK || !isTerminal(j.state)) continue;
      const old = before.find((b) => b.id === j.id);
      if (old && !isTerminal(old.state)) {
        void this.refreshStatus();
        return;
      }
    }
  }

  async startSelfCheck(): Promise<void> {
    this.startingSelfCheck = true;
    this.selfCheckError = null;
    try {
      const job = await this.client.startSelfCheck();
      this.applyJob(job);
    } catch (e) {
      this.selfCheckError = toApiError(e);
    } finally {
      this.startingSelfCheck = false;
    }
  }

  /** Ask a job to stop. Returns the error, if any, for the caller to show next to the job. */
  async cancelJob(id: number): Promise<ApiError | null> {
    try {
      const job = await this.client.cancelJob(id);
      this.applyJob(job);
      return null;
    } catch (e) {
      return toApiError(e);
    }
  }
}
