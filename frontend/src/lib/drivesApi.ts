// The Backups page's calls to the agent: drives, enrolment, formatting, runs, verification,
// browsing and restoring, and the shared backup settings. Same origin and same error handling as
// `api` (lib/api.ts): every failure is an ApiError, and an ended session signs the page out.
//
// Written against the keepsake-api wire types (lib/driveTypes.ts) until the drive routes are in
// docs/openapi.json; then these methods move into `Client` with openapi-fetch's checked paths.

import { api, type Client, type Job } from './api';
import { ApiError, badResponseError, errorFromResponse, unreachableError } from './errors';
import type {
  BackupHistory,
  BackupSettings,
  DriveConfig,
  DriveFileList,
  DriveFormat,
  DriveList,
  DriveRestoreRequest,
  Drive,
} from './driveTypes';

export type FetchLike = (input: string, init: RequestInit) => Promise<Response>;

const BASE = '/api/v1/drives';

/** `/api/v1/drives/{uuid}/…`, the UUID encoded as one path segment. */
export function drivePath(uuid: string, tail = ''): string {
  return `${BASE}/${encodeURIComponent(uuid)}${tail}`;
}

export class DrivesApi {
  private readonly fetchFn: FetchLike;
  private readonly client: Pick<Client, 'onUnauthenticated'>;

  constructor(fetchFn?: FetchLike, client: Pick<Client, 'onUnauthenticated'> = api) {
    this.fetchFn = fetchFn ?? ((input, init) => globalThis.fetch(input, init));
    this.client = client;
  }

  private async call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const init: RequestInit = {
      method,
      credentials: 'same-origin',
      headers: body === undefined ? { Accept: 'application/json' } : { Accept: 'application/json', 'Content-Type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    };
    let res: Response;
    try {
      res = await this.fetchFn(path, init);
    } catch {
      throw unreachableError();
    }
    if (!res.ok) {
      const e = await errorFromResponse(res);
      if (e.sessionEnded) this.client.onUnauthenticated?.(e);
      throw e;
    }
    try {
      return (await res.json()) as T;
    } catch (e) {
      if (e instanceof ApiError) throw e;
      throw badResponseError(res.status);
    }
  }

  /** Enrolled drives, every attached device, and problems listing them. */
  list(): Promise<DriveList> {
    return this.call('GET', BASE);
  }

  /** Enrolls a plugged-in drive by its filesystem UUID. */
  enroll(uuid: string, config: DriveConfig): Promise<Drive> {
    return this.call('POST', BASE, { uuid, config });
  }

  /** Changes an enrolled drive's name, trigger and what it holds. */
  update(uuid: string, config: DriveConfig): Promise<Drive> {
    return this.call('PUT', drivePath(uuid), config);
  }

  /** Stops backing up to a drive (its backup stays on it). */
  forget(uuid: string): Promise<unknown> {
    return this.call('DELETE', drivePath(uuid));
  }

  /** Formats a device to exFAT (a job). */
  format(body: DriveFormat): Promise<Job> {
    return this.call('POST', `${BASE}/format`, body);
  }

  backup(uuid: string): Promise<Job> {
    return this.call('POST', drivePath(uuid, '/backup'), {});
  }

  verify(uuid: string, full: boolean): Promise<Job> {
    return this.call('POST', drivePath(uuid, '/verify'), { full });
  }

  /** Unmounts the drive; the answer is the drive, idle and safe to pull out. */
  eject(uuid: string): Promise<Drive> {
    return this.call('POST', drivePath(uuid, '/eject'), {});
  }

  history(uuid: string): Promise<BackupHistory> {
    return this.call('GET', drivePath(uuid, '/history'));
  }

  /** One folder of the backup on a plugged-in drive ('' for the top), by the original names. */
  files(uuid: string, path = ''): Promise<DriveFileList> {
    const q = path ? `?path=${encodeURIComponent(path)}` : '';
    return this.call('GET', drivePath(uuid, `/files${q}`));
  }

  restore(uuid: string, body: DriveRestoreRequest): Promise<Job> {
    return this.call('POST', drivePath(uuid, '/restore'), body);
  }

  settings(): Promise<BackupSettings> {
    return this.call('GET', `${BASE}/settings`);
  }

  setSettings(body: BackupSettings): Promise<BackupSettings> {
    return this.call('PUT', `${BASE}/settings`, body);
  }
}

export const drivesApi = new DrivesApi();
