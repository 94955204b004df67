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

// Identity and access: mirrors crates/keepsake-api/src/identity.rs.

export type SecondFactor = 'totp' | 'recovery_code' | 'passkey' | (string & {});

export interface Me {
  id: number;
  name: string;
  display_name: string;
  role: string;
  groups: string[];
  permissions: string[];
  totp_enabled: boolean;
  passkeys: number;
  recovery_codes_left: number;
  must_enroll_second_factor: boolean;
}

export interface AuthState {
  setup_required: boolean;
  second_factor_pending: boolean;
  second_factors: SecondFactor[];
  user: Me | null;
  passkeys_available: boolean;
}

export interface SetupRequest {
  name: string;
  display_name?: string;
  password: string;
}

export interface LoginResponse {
  complete: boolean;
  second_factors: SecondFactor[];
  user: Me | null;
}

export interface PasskeyChallenge {
  ceremony: string;
  options: unknown;
}

export interface TotpEnrollment {
  secret: string;
  otpauth_url: string;
  qr_png: string;
}

export interface RecoveryCodes {
  codes: string[];
}

export interface PasskeyInfo {
  id: number;
  name: string;
  created_at: Timestamp;
  last_used_at: Timestamp | null;
}

export interface SessionInfo {
  id: number;
  created_at: Timestamp;
  last_seen_at: Timestamp;
  expires_at: Timestamp;
  source: string;
  user_agent: string;
  current: boolean;
}

export type RoleName = 'owner' | 'admin' | 'operator' | 'viewer';
export const ROLES: readonly RoleName[] = ['owner', 'admin', 'operator', 'viewer'];

export interface UserInfo {
  id: number;
  name: string;
  display_name: string;
  role: string;
  disabled: boolean;
  groups: number[];
  totp_enabled: boolean;
  passkeys: number;
  created_at: Timestamp;
}

export interface NewUser {
  name: string;
  display_name?: string;
  password: string;
  role: string;
  groups: number[];
}

export interface UserUpdate {
  display_name?: string;
  role?: string;
  disabled?: boolean;
  groups?: number[];
}

export interface GroupInfo {
  id: number;
  name: string;
  permissions: string[];
}

export interface GroupUpsert {
  name: string;
  permissions: string[];
}

export interface PermissionInfo {
  name: string;
  area: string;
}

export interface RoleInfo {
  name: string;
  permissions: string[];
}

export interface PermissionCatalog {
  permissions: PermissionInfo[];
  roles: RoleInfo[];
}

export interface AuditEntry {
  id: number;
  at: Timestamp;
  actor: string;
  action: string;
  target: string | null;
  outcome: string;
  source: string;
  detail: string;
}

export interface AuditVerification {
  ok: boolean;
  checked: number;
  bad_row: number | null;
  problem: string | null;
}

export interface SecuritySettings {
  require_second_factor_for_admins: boolean;
  audit_retention_days: number;
}

export interface SecretInfo {
  name: string;
  description: string;
  set: boolean;
  updated_at: Timestamp | null;
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

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

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

/** The audit log's filters (empty ones are left out of the query). */
export interface AuditQuery {
  actor?: string;
  action?: string;
  outcome?: string;
  since?: string;
  until?: string;
  limit?: number;
  format?: 'csv' | 'json';
}

export function auditQuery(q: AuditQuery): string {
  const p = new URLSearchParams();
  for (const k of ['actor', 'action', 'outcome', 'since', 'until', 'limit', 'format'] as const) {
    const v = q[k];
    if (v !== undefined && v !== null && String(v).trim() !== '') p.set(k, String(v).trim());
  }
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

  /** Called when the box says the session has ended (401 `unauthenticated`). */
  onUnauthenticated: ((e: ApiError) => void) | null = null;

  private async request<T>(method: HttpMethod, path: string, body?: unknown): Promise<T> {
    const init: RequestInit = {
      method,
      credentials: 'same-origin',
      headers: { Accept: 'application/json' },
    };
    if (method !== 'GET' && method !== 'DELETE') {
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
    if (!res.ok) {
      const e = await errorFromResponse(res);
      if (e.status === 401 && e.code === 'auth.unauthenticated') this.onUnauthenticated?.(e);
      throw e;
    }
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

  // Signing in and out

  authState(): Promise<AuthState> {
    return this.request('GET', '/auth/state');
  }

  setup(body: SetupRequest): Promise<LoginResponse> {
    return this.request('POST', '/auth/setup', body);
  }

  login(name: string, password: string): Promise<LoginResponse> {
    return this.request('POST', '/auth/login', { name, password });
  }

  loginTotp(code: string): Promise<LoginResponse> {
    return this.request('POST', '/auth/login/totp', { code });
  }

  loginRecovery(code: string): Promise<LoginResponse> {
    return this.request('POST', '/auth/login/recovery', { code });
  }

  passkeyLoginBegin(name: string): Promise<PasskeyChallenge> {
    return this.request('POST', '/auth/passkey/begin', { name });
  }

  passkeyLoginFinish(ceremony: string, credential: unknown): Promise<LoginResponse> {
    return this.request('POST', '/auth/passkey/finish', { ceremony, credential });
  }

  logout(): Promise<unknown> {
    return this.request('POST', '/auth/logout', {});
  }

  // My account

  me(): Promise<Me> {
    return this.request('GET', '/me');
  }

  changePassword(current: string, next: string): Promise<unknown> {
    return this.request('POST', '/me/password', { current, new: next });
  }

  totpBegin(): Promise<TotpEnrollment> {
    return this.request('POST', '/me/totp/begin', {});
  }

  totpConfirm(code: string): Promise<RecoveryCodes> {
    return this.request('POST', '/me/totp/confirm', { code });
  }

  totpDisable(password: string): Promise<unknown> {
    return this.request('POST', '/me/totp/disable', { password });
  }

  newRecoveryCodes(password: string): Promise<RecoveryCodes> {
    return this.request('POST', '/me/recovery-codes', { password });
  }

  async passkeys(): Promise<PasskeyInfo[]> {
    return (await this.request<{ passkeys: PasskeyInfo[] }>('GET', '/me/passkeys')).passkeys;
  }

  passkeyAddBegin(name: string): Promise<PasskeyChallenge> {
    return this.request('POST', '/me/passkeys/begin', { name });
  }

  passkeyAddFinish(ceremony: string, credential: unknown): Promise<PasskeyInfo> {
    return this.request('POST', '/me/passkeys/finish', { ceremony, credential });
  }

  deletePasskey(id: number): Promise<unknown> {
    return this.request('DELETE', `/me/passkeys/${id}`);
  }

  async sessions(): Promise<SessionInfo[]> {
    return (await this.request<{ sessions: SessionInfo[] }>('GET', '/me/sessions')).sessions;
  }

  endSession(id: number): Promise<unknown> {
    return this.request('DELETE', `/me/sessions/${id}`);
  }

  // Users and groups

  async users(): Promise<UserInfo[]> {
    return (await this.request<{ users: UserInfo[] }>('GET', '/users')).users;
  }

  createUser(body: NewUser): Promise<UserInfo> {
    return this.request('POST', '/users', body);
  }

  updateUser(id: number, body: UserUpdate): Promise<UserInfo> {
    return this.request('PATCH', `/users/${id}`, body);
  }

  deleteUser(id: number): Promise<unknown> {
    return this.request('DELETE', `/users/${id}`);
  }

  setUserPassword(id: number, password: string): Promise<unknown> {
    return this.request('POST', `/users/${id}/password`, { password });
  }

  resetSecondFactor(id: number): Promise<unknown> {
    return this.request('POST', `/users/${id}/reset-second-factor`, {});
  }

  async groups(): Promise<GroupInfo[]> {
    return (await this.request<{ groups: GroupInfo[] }>('GET', '/groups')).groups;
  }

  createGroup(body: GroupUpsert): Promise<GroupInfo> {
    return this.request('POST', '/groups', body);
  }

  updateGroup(id: number, body: GroupUpsert): Promise<GroupInfo> {
    return this.request('PUT', `/groups/${id}`, body);
  }

  deleteGroup(id: number): Promise<unknown> {
    return this.request('DELETE', `/groups/${id}`);
  }

  permissionCatalog(): Promise<PermissionCatalog> {
    return this.request('GET', '/permissions');
  }

  // Audit, security settings, secrets

  async audit(q: AuditQuery = {}): Promise<AuditEntry[]> {
    return (await this.request<{ entries: AuditEntry[] }>('GET', `/audit${auditQuery(q)}`)).entries;
  }

  /** A download link of the same query in `csv` or `json`. */
  auditExportUrl(q: AuditQuery, format: 'csv' | 'json'): string {
    return this.url(`/audit${auditQuery({ ...q, format })}`);
  }

  verifyAudit(): Promise<AuditVerification> {
    return this.request('POST', '/audit/verify', {});
  }

  securitySettings(): Promise<SecuritySettings> {
    return this.request('GET', '/settings/security');
  }

  setSecuritySettings(s: SecuritySettings): Promise<SecuritySettings> {
    return this.request('PUT', '/settings/security', s);
  }

  async secrets(): Promise<SecretInfo[]> {
    return (await this.request<{ secrets: SecretInfo[] }>('GET', '/secrets')).secrets;
  }

  setSecret(name: string, value: string): Promise<unknown> {
    return this.request('PUT', `/secrets/${encodeURIComponent(name)}`, { value });
  }

  deleteSecret(name: string): Promise<unknown> {
    return this.request('DELETE', `/secrets/${encodeURIComponent(name)}`);
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
