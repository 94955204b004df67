// The dashboard's client of the Keepsake agent API (HTTP/JSON, same origin: keepsake-web proxies
// /api/ to the agent). The wire types are generated from docs/openapi.json into openapi.d.ts
// (`npm run gen:api`); this file only names them. Every route path is written here once, and
// openapi-fetch checks each against the document: its method, path parameters, query and body.
// Pages call the methods of `api`; they never build a path themselves.

import createClient, { createFinalURL, createQuerySerializer, defaultPathSerializer, type Client as Http } from 'openapi-fetch';
import { ApiError, badResponseError, errorFromResponse, unreachableError } from './errors';
import type { BackupHistory, BackupSettings, Drive, DriveConfig, DriveFileList, DriveFormat, DriveList, DriveRestoreRequest } from './driveTypes';
import type { components, paths } from './openapi';

export { ApiError, bannerError, Code, explain, fieldError, toApiError, type ErrorCode, type FieldsByCode } from './errors';

type Schemas = components['schemas'];

// The names pages use for the document's schemas.
export type Status = Schemas['Status'];
/** A rule's id, as the document lists them. */
export type RuleId = paths['/api/v1/alerts/rules/{rule}']['patch']['parameters']['path']['rule'];
export type Facility = Schemas['Facility'];
export type FacilityState = Schemas['FacilityState'];
export type Job = Schemas['Job'];
export type JobState = Schemas['JobState'];
export type Progress = Schemas['Progress'];
export type LogLine = Schemas['LogLine'];
export type AuthState = Schemas['AuthState'];
export type SecondFactor = AuthState['second_factors'][number];
export type LoginResponse = Schemas['LoginResponse'];
export type SetupRequest = Schemas['SetupRequest'];
export type PasskeyChallenge = Schemas['PasskeyChallenge'];
export type Me = Schemas['Me'];
export type TotpEnrollment = Schemas['TotpEnrollment'];
export type RecoveryCodes = Schemas['RecoveryCodes'];
export type PasskeyInfo = Schemas['PasskeyInfo'];
export type SessionInfo = Schemas['SessionInfo'];
export type UserInfo = Schemas['UserInfo'];
export type Role = UserInfo['role'];
export type NewUser = Schemas['NewUser'];
export type UserUpdate = Schemas['UserUpdate'];
export type GroupInfo = Schemas['GroupInfo'];
export type GroupUpsert = Schemas['GroupUpsert'];
export type PermissionCatalog = Schemas['PermissionCatalog'];
export type AuditEntry = Schemas['AuditEntry'];
export type AuditVerification = Schemas['AuditVerification'];
export type SecuritySettings = Schemas['SecuritySettings'];
export type SecretInfo = Schemas['SecretInfo'];
export type AuditList = Schemas['AuditList'];
export type Severity = Schemas['Severity'];
export type AlertInfo = Schemas['AlertInfo'];
export type AlertList = Schemas['AlertList'];
export type HistoryEntry = Schemas['HistoryEntry'];
export type HistoryKind = Schemas['HistoryKind'];
export type RuleInfo = Schemas['RuleInfo'];
export type RuleUpdate = Schemas['RuleUpdate'];
export type Threshold = Schemas['Threshold'];
export type ChannelInfo = Schemas['ChannelInfo'];
export type ChannelSettings = Schemas['ChannelSettings'];
export type ChannelKind = ChannelSettings['kind'];
export type ChannelUpsert = Schemas['ChannelUpsert'];
export type ChannelTestResult = Schemas['ChannelTestResult'];
export type NotifyOn = Schemas['NotifyOn'];
export type SmtpSecurity = Schemas['SmtpSecurity'];
export type SummarySettings = Schemas['SummarySettings'];
export type PasswordResetAvailability = Schemas['PasswordResetAvailability'];
export type RestorePoint = Schemas['RestorePoint'];
export type RestorePointList = Schemas['RestorePointList'];
export type RestorePointKind = Schemas['RestorePointKind'];
export type RestorePointSource = Schemas['RestorePointSource'];
export type RestoreScope = Schemas['RestoreScope'];
export type RestorePlan = Schemas['RestorePlan'];
export type RestoreReport = Schemas['RestoreReport'];
export type RestorePointSettings = Schemas['RestorePointSettings'];
export type RetentionSettings = Schemas['RetentionSettings'];
export type DrillStatus = Schemas['DrillStatus'];
export type TableRows = Schemas['TableRows'];
export type UndoReset = Schemas['UndoReset'];
export type RestoreFileList = Schemas['RestoreFileList'];
export type RestoreFileEntry = Schemas['RestoreFileEntry'];
export type StackStatus = Schemas['StackStatus'];
export type ServiceStatus = Schemas['ServiceStatus'];
export type StackService = Schemas['StackService'];
export type StackAction = Schemas['StackAction'];
export type StackInstallRequest = Schemas['StackInstallRequest'];
export type StackReport = Schemas['StackReport'];
export type StackUpdateCheck = Schemas['StackUpdateCheck'];
export type StackUpdateReport = Schemas['StackUpdateReport'];
export type StackVersions = Schemas['StackVersions'];
export type StackVersion = Schemas['StackVersion'];
export type StackRollbackReport = Schemas['StackRollbackReport'];
export type ContainerState = Schemas['ContainerState'];
export type ContainerHealth = Schemas['ContainerHealth'];
export type ContainerLogLine = Schemas['ContainerLogLine'];
export type ContainerLogs = Schemas['ContainerLogs'];
export type LogStreams = NonNullable<StackLogQuery['stream']>;
/** The secrets the box knows (a path parameter the document lists). */
export type SecretName = paths['/api/v1/secrets/{name}']['put']['parameters']['path']['name'];

/** The paths that answer GET. */
type GetPath = { [P in keyof paths]: paths[P] extends { get: object } ? P : never }[keyof paths];

/** The query of a GET route, as the document states it. */
type QueryOf<P extends GetPath> = NonNullable<paths[P]['get']['parameters']['query']>;
export type JobQuery = QueryOf<'/api/v1/jobs'>;
export type AuditQuery = QueryOf<'/api/v1/audit'>;
export type HistoryQuery = QueryOf<'/api/v1/alerts/history'>;
export type StackLogQuery = QueryOf<'/api/v1/stack/services/{service}/logs'>;

/** What a host self-check job leaves in `result`. */
export type SelfCheckReport = Extract<NonNullable<Job['result']>, { kind: 'host.self_check' }>['report'];

export const TERMINAL_STATES: readonly JobState[] = ['succeeded', 'failed', 'cancelled'];

export function isTerminal(state: JobState): boolean {
  return TERMINAL_STATES.includes(state);
}

/** A job's result when it is a self-check report, or null. */
export function selfCheckReport(job: Job): SelfCheckReport | null {
  return job.result?.kind === 'host.self_check' ? job.result.report : null;
}

export type FetchLike = (request: Request) => Promise<Response>;

export interface ClientOptions {
  /** Prepended to every path; '' for same origin. */
  base?: string;
  fetch?: FetchLike;
}

/** A query without the filters left empty (blank text fields), the rest trimmed. */
function compact<Q extends object>(q: Q): Q {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(q)) {
    const t = typeof v === 'string' ? v.trim() : v;
    if (t !== undefined && t !== null && t !== '') out[k] = t;
  }
  return out as Q;
}

const querySerializer = createQuerySerializer();

/** A typed client of the agent API. Every method throws ApiError on failure. */
export class Client {
  private readonly base: string;
  private readonly http: Http<paths>;

  /** Called when the box says the session has ended (401 `auth.unauthenticated`). */
  onUnauthenticated: ((e: ApiError) => void) | null = null;

  constructor(opts: ClientOptions = {}) {
    this.base = opts.base ?? '';
    const fetchFn = opts.fetch ?? ((req: Request) => globalThis.fetch(req));
    // Failures become ApiErrors here, so openapi-fetch only ever sees answers that succeeded.
    const send = async (req: Request): Promise<Response> => {
      let res: Response;
      try {
        res = await fetchFn(req);
      } catch {
        throw unreachableError();
      }
      if (!res.ok) {
        const e = await errorFromResponse(res);
        if (e.sessionEnded) this.onUnauthenticated?.(e);
        throw e;
      }
      return res;
    };
    this.http = createClient<paths>({
      baseUrl: this.base,
      fetch: send,
      // Same origin only: the session cookie is SameSite=Strict and the box checks Origin.
      credentials: 'same-origin',
      headers: { Accept: 'application/json' },
    });
  }

  /** The answer's body; an answer that is not the JSON the document promises is an ApiError. */
  private async data<T>(call: Promise<{ data?: T }>): Promise<T> {
    const { data } = await this.answer(call);
    // A success without a body, where the document promises one.
    if (data === undefined) throw badResponseError(200);
    return data;
  }

  /** For routes whose answer carries nothing the dashboard needs. */
  private async done(call: Promise<unknown>): Promise<void> {
    await this.answer(call);
  }

  /** Waits for the answer. Past `send`, only reading the body can fail: it was not JSON. */
  private async answer<R>(call: Promise<R>): Promise<R> {
    try {
      return await call;
    } catch (e) {
      if (e instanceof ApiError) throw e;
      throw badResponseError(200);
    }
  }

  /** An absolute link to a GET route: for EventSource and downloads, which fetch by themselves. */
  link<P extends GetPath>(
    path: P,
    params: Pick<paths[P]['get']['parameters'], 'path' | 'query'>,
  ): string {
    return createFinalURL(path, { baseUrl: this.base, params, querySerializer, pathSerializer: defaultPathSerializer });
  }

  health(): Promise<Schemas['Health']> {
    return this.data(this.http.GET('/api/v1/health'));
  }

  status(): Promise<Status> {
    return this.data(this.http.GET('/api/v1/status'));
  }

  async jobs(q: JobQuery = {}): Promise<Job[]> {
    return (await this.data(this.http.GET('/api/v1/jobs', { params: { query: compact(q) } }))).jobs;
  }

  job(id: number): Promise<Job> {
    return this.data(this.http.GET('/api/v1/jobs/{id}', { params: { path: { id } } }));
  }

  async jobLog(id: number): Promise<LogLine[]> {
    return (await this.data(this.http.GET('/api/v1/jobs/{id}/log', { params: { path: { id } } }))).lines;
  }

  cancelJob(id: number): Promise<Job> {
    return this.data(this.http.POST('/api/v1/jobs/{id}/cancel', { params: { path: { id } }, body: {} }));
  }

  startSelfCheck(): Promise<Job> {
    return this.data(this.http.POST('/api/v1/host/self-check', { body: {} }));
  }

  /** SSE: `event: job` for every change of any job. */
  eventsUrl(): string {
    return this.link('/api/v1/events', {});
  }

  /** SSE for one job: `event: job` snapshots and `event: log` lines; ends after the terminal state. */
  jobEventsUrl(id: number): string {
    return this.link('/api/v1/jobs/{id}/events', { path: { id } });
  }

  // Signing in and out

  authState(): Promise<AuthState> {
    return this.data(this.http.GET('/api/v1/auth/state'));
  }

  setup(body: SetupRequest): Promise<LoginResponse> {
    return this.data(this.http.POST('/api/v1/auth/setup', { body }));
  }

  login(name: string, password: string): Promise<LoginResponse> {
    return this.data(this.http.POST('/api/v1/auth/login', { body: { name, password } }));
  }

  loginTotp(code: string): Promise<LoginResponse> {
    return this.data(this.http.POST('/api/v1/auth/login/totp', { body: { code } }));
  }

  loginRecovery(code: string): Promise<LoginResponse> {
    return this.data(this.http.POST('/api/v1/auth/login/recovery', { body: { code } }));
  }

  passkeyLoginBegin(name: string): Promise<PasskeyChallenge> {
    return this.data(this.http.POST('/api/v1/auth/passkey/begin', { body: { name } }));
  }

  passkeyLoginFinish(ceremony: string, credential: unknown): Promise<LoginResponse> {
    return this.data(this.http.POST('/api/v1/auth/passkey/finish', { body: { ceremony, credential } }));
  }

  logout(): Promise<void> {
    return this.done(this.http.POST('/api/v1/auth/logout', { body: {} }));
  }

  // My account

  me(): Promise<Me> {
    return this.data(this.http.GET('/api/v1/me'));
  }

  changePassword(current: string, next: string): Promise<void> {
    return this.done(this.http.POST('/api/v1/me/password', { body: { current, new: next } }));
  }

  totpBegin(): Promise<TotpEnrollment> {
    return this.data(this.http.POST('/api/v1/me/totp/begin', { body: {} }));
  }

  totpConfirm(code: string): Promise<RecoveryCodes> {
    return this.data(this.http.POST('/api/v1/me/totp/confirm', { body: { code } }));
  }

  totpDisable(password: string): Promise<void> {
    return this.done(this.http.POST('/api/v1/me/totp/disable', { body: { password } }));
  }

  newRecoveryCodes(password: string): Promise<RecoveryCodes> {
    return this.data(this.http.POST('/api/v1/me/recovery-codes', { body: { password } }));
  }

  async passkeys(): Promise<PasskeyInfo[]> {
    return (await this.data(this.http.GET('/api/v1/me/passkeys'))).passkeys;
  }

  passkeyAddBegin(name: string): Promise<PasskeyChallenge> {
    return this.data(this.http.POST('/api/v1/me/passkeys/begin', { body: { name } }));
  }

  passkeyAddFinish(ceremony: string, credential: unknown): Promise<PasskeyInfo> {
    return this.data(this.http.POST('/api/v1/me/passkeys/finish', { body: { ceremony, credential } }));
  }

  deletePasskey(id: number): Promise<void> {
    return this.done(this.http.DELETE('/api/v1/me/passkeys/{id}', { params: { path: { id } } }));
  }

  async sessions(): Promise<SessionInfo[]> {
    return (await this.data(this.http.GET('/api/v1/me/sessions'))).sessions;
  }

  endSession(id: number): Promise<void> {
    return this.done(this.http.DELETE('/api/v1/me/sessions/{id}', { params: { path: { id } } }));
  }

  // Users and groups

  async users(): Promise<UserInfo[]> {
    return (await this.data(this.http.GET('/api/v1/users'))).users;
  }

  createUser(body: NewUser): Promise<UserInfo> {
    return this.data(this.http.POST('/api/v1/users', { body }));
  }

  updateUser(id: number, body: UserUpdate): Promise<UserInfo> {
    return this.data(this.http.PATCH('/api/v1/users/{id}', { params: { path: { id } }, body }));
  }

  deleteUser(id: number): Promise<void> {
    return this.done(this.http.DELETE('/api/v1/users/{id}', { params: { path: { id } } }));
  }

  setUserPassword(id: number, password: string): Promise<void> {
    return this.done(this.http.POST('/api/v1/users/{id}/password', { params: { path: { id } }, body: { password } }));
  }

  resetSecondFactor(id: number): Promise<void> {
    return this.done(this.http.POST('/api/v1/users/{id}/reset-second-factor', { params: { path: { id } }, body: {} }));
  }

  async groups(): Promise<GroupInfo[]> {
    return (await this.data(this.http.GET('/api/v1/groups'))).groups;
  }

  createGroup(body: GroupUpsert): Promise<GroupInfo> {
    return this.data(this.http.POST('/api/v1/groups', { body }));
  }

  updateGroup(id: number, body: GroupUpsert): Promise<GroupInfo> {
    return this.data(this.http.PUT('/api/v1/groups/{id}', { params: { path: { id } }, body }));
  }

  deleteGroup(id: number): Promise<void> {
    return this.done(this.http.DELETE('/api/v1/groups/{id}', { params: { path: { id } } }));
  }

  permissionCatalog(): Promise<PermissionCatalog> {
    return this.data(this.http.GET('/api/v1/permissions'));
  }

  // Audit, security settings, secrets

  async audit(q: AuditQuery = {}): Promise<AuditEntry[]> {
    // Without `format=csv` the answer is the JSON list (the document also lists the CSV form).
    const list = (await this.data(this.http.GET('/api/v1/audit', { params: { query: compact(q) } }))) as AuditList;
    return list.entries;
  }

  /** A download link of the same query in `csv` or `json`. */
  auditExportUrl(q: AuditQuery, format: 'csv' | 'json'): string {
    return this.link('/api/v1/audit', { query: compact({ ...q, format }) });
  }

  verifyAudit(): Promise<AuditVerification> {
    return this.data(this.http.POST('/api/v1/audit/verify', { body: {} }));
  }

  securitySettings(): Promise<SecuritySettings> {
    return this.data(this.http.GET('/api/v1/settings/security'));
  }

  setSecuritySettings(body: SecuritySettings): Promise<SecuritySettings> {
    return this.data(this.http.PUT('/api/v1/settings/security', { body }));
  }

  async secrets(): Promise<SecretInfo[]> {
    return (await this.data(this.http.GET('/api/v1/secrets'))).secrets;
  }

  setSecret(name: SecretName, value: string): Promise<void> {
    return this.done(this.http.PUT('/api/v1/secrets/{name}', { params: { path: { name } }, body: { value } }));
  }

  deleteSecret(name: SecretName): Promise<void> {
    return this.done(this.http.DELETE('/api/v1/secrets/{name}', { params: { path: { name } } }));
  }

  // Alerts: what is wrong now, what was sent, the rules, where messages go, the weekly summary

  alerts(): Promise<AlertList> {
    return this.data(this.http.GET('/api/v1/alerts'));
  }

  /** Holds back an alert's messages for `minutes` (0 ends the snooze). */
  snoozeAlert(id: number, minutes: number): Promise<AlertInfo> {
    return this.data(this.http.POST('/api/v1/alerts/{id}/snooze', { params: { path: { id } }, body: { minutes } }));
  }

  async alertHistory(q: HistoryQuery = {}): Promise<HistoryEntry[]> {
    return (await this.data(this.http.GET('/api/v1/alerts/history', { params: { query: compact(q) } }))).entries;
  }

  async alertRules(): Promise<RuleInfo[]> {
    return (await this.data(this.http.GET('/api/v1/alerts/rules'))).rules;
  }

  /** `rule` is a `RuleInfo.id` from the agent's own list, so one of the ids the document names. */
  updateAlertRule(rule: string, body: RuleUpdate): Promise<RuleInfo> {
    const path = { rule: rule as RuleId };
    return this.data(this.http.PATCH('/api/v1/alerts/rules/{rule}', { params: { path }, body }));
  }

  async channels(): Promise<ChannelInfo[]> {
    return (await this.data(this.http.GET('/api/v1/alerts/channels'))).channels;
  }

  createChannel(body: ChannelUpsert): Promise<ChannelInfo> {
    return this.data(this.http.POST('/api/v1/alerts/channels', { body }));
  }

  updateChannel(id: number, body: ChannelUpsert): Promise<ChannelInfo> {
    return this.data(this.http.PUT('/api/v1/alerts/channels/{id}', { params: { path: { id } }, body }));
  }

  deleteChannel(id: number): Promise<void> {
    return this.done(this.http.DELETE('/api/v1/alerts/channels/{id}', { params: { path: { id } } }));
  }

  testChannel(id: number): Promise<ChannelTestResult> {
    return this.data(this.http.POST('/api/v1/alerts/channels/{id}/test', { params: { path: { id } }, body: {} }));
  }

  summarySettings(): Promise<SummarySettings> {
    return this.data(this.http.GET('/api/v1/alerts/summary'));
  }

  setSummarySettings(body: SummarySettings): Promise<SummarySettings> {
    return this.data(this.http.PUT('/api/v1/alerts/summary', { body }));
  }

  /** Sends the weekly summary now; the answer says so in words. */
  async sendSummary(): Promise<string> {
    return (await this.data(this.http.POST('/api/v1/alerts/summary/send', { body: {} }))).message;
  }

  // Restore points: the timeline, making, pinning and deleting points, restores, drills, reset

  restorePoints(): Promise<RestorePointList> {
    return this.data(this.http.GET('/api/v1/restore-points'));
  }

  /** Makes a point now; the answer is the queued job. */
  createRestorePoint(note: string | null): Promise<Job> {
    return this.data(this.http.POST('/api/v1/restore-points', { body: { note } }));
  }

  pinRestorePoint(id: string, pinned: boolean): Promise<RestorePoint> {
    return this.data(this.http.PUT('/api/v1/restore-points/{id}/pin', { params: { path: { id } }, body: { pinned } }));
  }

  deleteRestorePoint(id: string): Promise<void> {
    return this.done(this.http.DELETE('/api/v1/restore-points/{id}', { params: { path: { id } } }));
  }

  /** One folder of a point's library snapshot ('' for the top), to choose files to restore. */
  restoreFiles(id: string, path = ''): Promise<RestoreFileList> {
    return this.data(this.http.GET('/api/v1/restore-points/{id}/files', { params: { path: { id }, query: compact({ path }) } }));
  }

  /** What a restore would do, and the phrase to type to confirm it. Changes nothing. */
  planRestore(id: string, scope: RestoreScope, paths: string[] = []): Promise<RestorePlan> {
    const body = { scope, paths, confirm: null };
    return this.data(this.http.POST('/api/v1/restore-points/{id}/plan', { params: { path: { id } }, body }));
  }

  /** Starts the restore; `confirm` is the plan's `confirmation`, as typed. The answer is the job. */
  restore(id: string, scope: RestoreScope, paths: string[], confirm: string): Promise<Job> {
    const body = { scope, paths, confirm };
    return this.data(this.http.POST('/api/v1/restore-points/{id}/restore', { params: { path: { id } }, body }));
  }

  restoreSettings(): Promise<RestorePointSettings> {
    return this.data(this.http.GET('/api/v1/restore-points/settings'));
  }

  setRestoreSettings(body: RestorePointSettings): Promise<RestorePointSettings> {
    return this.data(this.http.PUT('/api/v1/restore-points/settings', { body }));
  }

  startDrill(): Promise<Job> {
    return this.data(this.http.POST('/api/v1/restore-points/drill', { body: {} }));
  }

  /** Owners only: empties Immich after a pre-reset point. `confirm` must be `reset everything`. */
  resetInstance(confirm: string): Promise<Job> {
    return this.data(this.http.POST('/api/v1/instance/reset', { body: { confirm } }));
  }

  /** Owners only: brings back what a reset emptied. `confirm` must be `undo reset`. */
  undoReset(confirm: string): Promise<Job> {
    return this.data(this.http.POST('/api/v1/instance/reset/undo', { body: { confirm } }));
  }

  // Backup drives: the drives and devices, enrolment, formatting, runs, ejecting, history, settings

  drives(): Promise<DriveList> {
    return this.data(this.http.GET('/api/v1/drives'));
  }

  /** Enrolls a plugged-in drive by its filesystem UUID. */
  enrollDrive(uuid: string, config: DriveConfig): Promise<Drive> {
    return this.data(this.http.POST('/api/v1/drives', { body: { uuid, config } }));
  }

  /** Changes an enrolled drive's name, trigger and what it copies. */
  updateDrive(uuid: string, config: DriveConfig): Promise<Drive> {
    return this.data(this.http.PUT('/api/v1/drives/{uuid}', { params: { path: { uuid } }, body: config }));
  }

  /** Stops backing up to a drive (its backup stays on it). */
  forgetDrive(uuid: string): Promise<void> {
    return this.done(this.http.DELETE('/api/v1/drives/{uuid}', { params: { path: { uuid } } }));
  }

  /** Formats a device to exFAT; the answer is the job. */
  formatDrive(body: DriveFormat): Promise<Job> {
    return this.data(this.http.POST('/api/v1/drives/format', { body }));
  }

  /** Backs up to a plugged-in drive now; the answer is the job (the running one if one runs). */
  backUpDrive(uuid: string): Promise<Job> {
    return this.data(this.http.POST('/api/v1/drives/{uuid}/backup', { params: { path: { uuid } }, body: {} }));
  }

  /** Unmounts a drive so it can be pulled out. */
  ejectDrive(uuid: string): Promise<void> {
    return this.done(this.http.POST('/api/v1/drives/{uuid}/eject', { params: { path: { uuid } }, body: {} }));
  }

  driveHistory(uuid: string): Promise<BackupHistory> {
    return this.data(this.http.GET('/api/v1/drives/{uuid}/history', { params: { path: { uuid } } }));
  }

  /** Reads a drive's backup back (every file, or the settings' sample); the answer is the job. */
  verifyDrive(uuid: string, full: boolean): Promise<Job> {
    return this.data(this.http.POST('/api/v1/drives/{uuid}/verify', { params: { path: { uuid } }, body: { full } }));
  }

  /** One folder of the backup on a drive ('' for the top), by the original names. */
  driveFiles(uuid: string, path = ''): Promise<DriveFileList> {
    return this.data(this.http.GET('/api/v1/drives/{uuid}/files', { params: { path: { uuid }, query: compact({ path }) } }));
  }

  /** Restores chosen files or the whole instance from a drive; `confirm` is `restore`. The answer is the job. */
  restoreFromDrive(uuid: string, body: DriveRestoreRequest): Promise<Job> {
    return this.data(this.http.POST('/api/v1/drives/{uuid}/restore', { params: { path: { uuid } }, body }));
  }

  backupSettings(): Promise<BackupSettings> {
    return this.data(this.http.GET('/api/v1/drives/settings'));
  }

  setBackupSettings(body: BackupSettings): Promise<BackupSettings> {
    return this.data(this.http.PUT('/api/v1/drives/settings', { body }));
  }

  // The Immich stack: its services, installing or repairing it, starting and stopping, logs

  stack(): Promise<StackStatus> {
    return this.data(this.http.GET('/api/v1/stack'));
  }

  /** Installs the stack, or converges it after hand edits (Repair); the answer is the job. */
  installStack(body: StackInstallRequest = { version: null, machine_learning: null }): Promise<Job> {
    return this.data(this.http.POST('/api/v1/stack/install', { body }));
  }

  stackAction(service: StackService, action: StackAction): Promise<void> {
    return this.done(this.http.POST('/api/v1/stack/services/{service}/action', { params: { path: { service } }, body: { action } }));
  }

  /** Whether a newer Immich is available (from a cache of a few hours unless `refresh`). */
  stackUpdates(refresh = false): Promise<StackUpdateCheck> {
    return this.data(this.http.GET('/api/v1/stack/updates', { params: { query: { refresh } } }));
  }

  /** Updates Immich to `version` (restore point first, back by itself on failure); the answer is the job. */
  updateStack(version: string): Promise<Job> {
    return this.data(this.http.POST('/api/v1/stack/update', { body: { version } }));
  }

  /** The versions this box ran, the running one first, and whether each can be gone back to. */
  stackVersions(): Promise<StackVersions> {
    return this.data(this.http.GET('/api/v1/stack/versions'));
  }

  /** Goes back to an earlier version with its restore point's database; `confirm` as typed. The answer is the job. */
  rollbackStack(version: string, confirm: string): Promise<Job> {
    return this.data(this.http.POST('/api/v1/stack/rollback', { body: { version, confirm } }));
  }

  /** A page of a service's log, oldest first; `oldest` is the `until` of the page before. */
  stackLogs(service: StackService, q: StackLogQuery = {}): Promise<ContainerLogs> {
    return this.data(this.http.GET('/api/v1/stack/services/{service}/logs', { params: { path: { service }, query: compact(q) } }));
  }

  /** SSE: `event: line` with a ContainerLogLine for every line the service writes from now on. */
  stackLogsFollowUrl(service: StackService, q: Pick<StackLogQuery, 'since' | 'stream' | 'filter'> = {}): string {
    return this.link('/api/v1/stack/services/{service}/logs/follow', { path: { service }, query: compact(q) });
  }

  // Forgotten passwords (no session needed)

  passwordResetAvailability(): Promise<PasswordResetAvailability> {
    return this.data(this.http.GET('/api/v1/auth/password-reset'));
  }

  /** Asks for a reset link; the answer is the same whether or not the account exists. */
  async requestPasswordReset(name: string): Promise<string> {
    return (await this.data(this.http.POST('/api/v1/auth/password-reset/request', { body: { name } }))).message;
  }

  async confirmPasswordReset(token: string, password: string): Promise<string> {
    return (await this.data(this.http.POST('/api/v1/auth/password-reset/confirm', { body: { token, password } }))).message;
  }
}

export const api = new Client();
