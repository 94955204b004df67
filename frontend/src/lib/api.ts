// Types and a small typed client for the Keepsake agent API (HTTP/JSON, same origin; the web
// server proxies /api/ to the agent). The shapes mirror crates/keepsake-api/src/types.rs.

export const API_PREFIX = '/api/v1';

/** RFC 3339 timestamp, e.g. "2026-11-22T02:52:03Z". */
export type Timestamp = string;

export interface Health {
  status: 'ok';
}

export type FacilityKind = 'docker' | 'systemd' | 'zfs' | 'udev' | 'nix' | 'storage';
export type FacilityState = 'ok' | 'degraded' | 'missing';

export interface Facility {
  kind: FacilityKind;
  /** Human name, e.g. "Docker engine". */
  label: string;
  state: FacilityState;
  /** The version found; null when missing. */
  version: string | null;
  /** One sentence on what was found, or what failed and why. */
  detail: string;
  /** What to do about it; null when nothing needs doing. */
  remedy: string | null;
}

export interface Status {
  version: string;
  started_at: Timestamp;
  uptime_seconds: number;
  facilities_checked_at: Timestamp;
  facilities: Facility[];
}

export type JobState = 'queued' | 'running' | 'succeeded' | 'failed' | 'cancelled';

export interface Progress {
  done: number;
  /** null while unknown: show an indeterminate bar. */
  total: number | null;
  /** What done/total count: "checks", "bytes", "files", ... */
  unit: string;
  /** What the job is doing now, in words. */
  phase: string;
}

/** Known job kinds; others may appear as the agent grows. */
export type JobKind = 'host.self_check' | (string & {});

export interface Job {
  id: number;
  kind: JobKind;
  target: string | null;
  state: JobState;
  progress: Progress;
  requested_by: string;
  created_at: Timestamp;
  started_at: Timestamp | null;
  finished_at: Timestamp | null;
  cancel_requested: boolean;
  /** Kind-specific outcome; for host.self_check a SelfCheckReport. */
  result: unknown;
  error: string | null;
}

export interface SelfCheckReport {
  checks: Facility[];
  problems: number;
}

export interface JobList {
  jobs: Job[];
}

export type LogLevel = 'info' | 'warn' | 'error';

export interface LogLine {
  job_id: number;
  seq: number;
  at: Timestamp;
  level: LogLevel;
  message: string;
}

export interface JobLog {
  lines: LogLine[];
}

/** The body of every non-2xx answer. */
export interface ApiErrorBody {
  code: string;
  message: string;
  hint: string | null;
}

export interface JobQuery {
  limit?: number;
  kind?: string;
  state?: JobState;
}

export const TERMINAL_STATES: readonly JobState[] = ['succeeded', 'failed', 'cancelled'];

export function isTerminal(state: JobState): boolean {
  return TERMINAL_STATES.includes(state);
}

/** Narrow a job's `result` to a self-check report, or null if it isn't one. */
export function selfCheckReport(job: Job): SelfCheckReport | null {
  const r = job.result as Partial<SelfCheckReport> | null | undefined;
  if (!r || typeof r !== 'object' || !Array.isArray(r.checks)) return null;
  const problems =
    typeof r.problems === 'number' ? r.problems : r.checks.filter((c) => c.state !== 'ok').length;
  return { checks: r.checks, problems };
}

/** An error from the API, or from failing to reach it at all (code "unreachable"). */
export class ApiError extends Error implements ApiErrorBody {
  readonly code: string;
  readonly hint: string | null;
  /** HTTP status; 0 when the request never got an answer. */
  readonly status: number;

  constructor(status: number, body: ApiErrorBody) {
    super(body.message);
    this.name = 'ApiError';
    this.status = status;
    this.code = body.code;
    this.hint = body.hint;
  }

  /** True when the box (or its agent) did not answer, as opposed to refusing a request. */
  get unreachable(): boolean {
    return this.status === 0 || this.status === 502 || this.status === 503 || this.status === 504;
  }
}

function isErrorBody(v: unknown): v is ApiErrorBody {
  return (
    typeof v === 'object' &&
    v !== null &&
    typeof (v as ApiErrorBody).code === 'string' &&
    typeof (v as ApiErrorBody).message === 'string'
  );
}

/** Turn a non-2xx answer into an ApiError, whatever its body looks like. */
export async function errorFromResponse(res: Response): Promise<ApiError> {
  let body: unknown = null;
  try {
    body = await res.json();
  } catch {
    /* not JSON: e.g. a proxy's plain-text error page */
  }
  if (isErrorBody(body)) {
    return new ApiError(res.status, { code: body.code, message: body.message, hint: body.hint ?? null });
  }
  if (res.status === 502 || res.status === 503 || res.status === 504) {
    return new ApiError(res.status, {
      code: 'unreachable',
      message: 'The Keepsake service on this box is not answering.',
      hint: 'It may be starting up. Wait a moment, then try again.',
    });
  }
  return new ApiError(res.status, {
    code: `http_${res.status}`,
    message: `The box answered with an unexpected error (${res.status} ${res.statusText}).`.replace(' )', ')'),
    hint: null,
  });
}

export type FetchLike = (input: string, init?: RequestInit) => Promise<Response>;

export interface ClientOptions {
  /** Prepended to every path; '' for same origin. */
  base?: string;
  fetch?: FetchLike;
}

function query(q: JobQuery): string {
  const p = new URLSearchParams();
  if (q.limit !== undefined) p.set('limit', String(q.limit));
  if (q.kind) p.set('kind', q.kind);
  if (q.state) p.set('state', q.state);
  const s = p.toString();
  return s ? `?${s}` : '';
}

/** A small typed client. Every method throws ApiError on failure. */
export class Client {
  private readonly base: string;
  private readonly fetchFn: FetchLike;

  constructor(opts: ClientOptions = {}) {
    this.base = opts.base ?? '';
    this.fetchFn = opts.fetch ?? ((input, init) => globalThis.fetch(input, init));
  }

  url(path: string): string {
    return `${this.base}${API_PREFIX}${path}`;
  }

  private async request<T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
    const init: RequestInit = {
      method,
      credentials: 'same-origin',
      headers: { Accept: 'application/json' },
    };
    if (method !== 'GET') {
      init.headers = { Accept: 'application/json', 'Content-Type': 'application/json' };
      init.body = JSON.stringify(body ?? {});
    }
    let res: Response;
    try {
      res = await this.fetchFn(this.url(path), init);
    } catch {
      throw new ApiError(0, {
        code: 'unreachable',
        message: "Can't reach your Keepsake box.",
        hint: 'Check that the box is switched on and this device is on the same network, then try again.',
      });
    }
    if (!res.ok) throw await errorFromResponse(res);
    try {
      return (await res.json()) as T;
    } catch {
      throw new ApiError(res.status, {
        code: 'bad_response',
        message: 'The box sent an answer this page could not read.',
        hint: 'Reload the page. If it keeps happening, the box may be in the middle of an update.',
      });
    }
  }

  health(): Promise<Health> {
    return this.request('GET', '/health');
  }

  status(): Promise<Status> {
    return this.request('GET', '/status');
  }

  async jobs(q: JobQuery = {}): Promise<Job[]> {
    const list = await this.request<JobList>('GET', `/jobs${query(q)}`);
    return list.jobs;
  }

  job(id: number): Promise<Job> {
    return this.request('GET', `/jobs/${id}`);
  }

  async jobLog(id: number): Promise<LogLine[]> {
    const log = await this.request<JobLog>('GET', `/jobs/${id}/log`);
    return log.lines;
  }

  cancelJob(id: number): Promise<Job> {
    return this.request('POST', `/jobs/${id}/cancel`, {});
  }

  startSelfCheck(): Promise<Job> {
    return this.request('POST', '/host/self-check', {});
  }

  /** SSE: `event: job` for every change of any job. */
  eventsUrl(): string {
    return this.url('/events');
  }

  /** SSE for one job: `event: job` snapshots and `event: log` lines; ends after the terminal state. */
  jobEventsUrl(id: number): string {
    return this.url(`/jobs/${id}/events`);
  }
}

export const api = new Client();
