// The three drive routes not yet in docs/openapi.json (checking, browsing and restoring from a
// drive), called like `api` calls the rest (lib/api.ts): same origin, every failure an ApiError,
// an ended session signs the page out. Once the document lists them they move into `Client`.

import { api, type Client, type Job } from './api';
import { ApiError, badResponseError, errorFromResponse, unreachableError } from './errors';
import type { DriveFileList, DriveRestoreRequest } from './driveTypes';

export type FetchLike = (input: string, init: RequestInit) => Promise<Response>;

/** `/api/v1/drives/{uuid}/…`, the UUID encoded as one path segment. */
export function drivePath(uuid: string, tail: string): string {
  return `/api/v1/drives/${encodeURIComponent(uuid)}${tail}`;
}

export class DrivesApi {
  private readonly fetchFn: FetchLike;
  private readonly client: Pick<Client, 'onUnauthenticated'>;

  constructor(fetchFn?: FetchLike, client: Pick<Client, 'onUnauthenticated'> = api) {
    this.fetchFn = fetchFn ?? ((input, init) => globalThis.fetch(input, init));
    this.client = client;
  }

  private async call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const headers: Record<string, string> = { Accept: 'application/json' };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    const init: RequestInit = { method, credentials: 'same-origin', headers, body: body === undefined ? undefined : JSON.stringify(body) };
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

  /** Reads a drive's backup back (every file, or the settings' sample); the answer is the job. */
  verify(uuid: string, full: boolean): Promise<Job> {
    return this.call('POST', drivePath(uuid, '/verify'), { full });
  }

  /** One folder of the backup on a plugged-in drive ('' for the top), by the original names. */
  files(uuid: string, path = ''): Promise<DriveFileList> {
    const q = path ? `?path=${encodeURIComponent(path)}` : '';
    return this.call('GET', drivePath(uuid, `/files${q}`));
  }

  /** Restores chosen files or the whole instance; `confirm` is `restore`. The answer is the job. */
  restore(uuid: string, body: DriveRestoreRequest): Promise<Job> {
    return this.call('POST', drivePath(uuid, '/restore'), body);
  }
}

export const drivesApi = new DrivesApi();
