// What can go wrong talking to the box: the ApiError every call throws, the error codes the
// dashboard branches on, and the words it shows for them.
//
// The box answers every failure with `{code, message, hint}` (schema `ApiError` in
// docs/openapi.json). Pages branch on `code`, never on the HTTP status alone: a 409 may be a taken
// name or a running job, a 401 a wrong password or an ended session.

import type { components } from './openapi';

/** The codes the box documents. A plain string until the document lists them as an enum. */
export type ServerErrorCode = components['schemas']['ApiError']['code'];

/** Codes this page makes up itself, for failures that never got an answer from the box. */
export type ClientErrorCode =
  | 'unreachable'
  | 'bad_response'
  | 'internal'
  | 'passkey'
  | 'invalid'
  | 'missing'
  | `http_${number}`;

export type ErrorCode = ServerErrorCode | ClientErrorCode;

/**
 * The box's codes the dashboard treats specially. `satisfies` checks them against the document:
 * once it lists the codes as an enum, a code the box no longer sends fails `npm run check`.
 */
export const Code = {
  /** The session ended (or never was): back to the sign-in page. */
  unauthenticated: 'auth.unauthenticated',
  badCredentials: 'auth.bad_credentials',
  /** The current password, given to confirm a change, is wrong. */
  badPassword: 'auth.bad_password',
  /** Sign-in backoff; the answer's Retry-After says for how long. */
  tooManyAttempts: 'auth.too_many_attempts',
  /** The change would leave the box without an enabled owner. */
  lastOwner: 'auth.last_owner',
  /** Only an owner may change an owner (or make one). */
  ownerOnly: 'auth.owner_only',
  /** A chosen group does not exist (any more). */
  unknownGroup: 'user.unknown_group',
  /** Another group has this name. */
  groupNameTaken: 'group.name_taken',
  groupInvalidName: 'group.invalid_name',
  userNameTaken: 'user.name_taken',
  userInvalidName: 'user.invalid_name',
  passwordTooShort: 'password.too_short',
  passwordIsName: 'password.is_name',
  userInvalidEmail: 'user.invalid_email',
  userEmailTaken: 'user.email_taken',
  /** A password-reset link that was used already, has expired, or was never made. */
  resetLinkUsed: 'auth.reset_link_used',
  resetLinkExpired: 'auth.reset_link_expired',
  resetLinkInvalid: 'auth.reset_link_invalid',
  /** No email channel is set up, so no reset link can be sent. */
  resetNeedsEmail: 'auth.reset_needs_email',
} as const satisfies Record<string, ServerErrorCode>;

/** The body of every non-2xx answer (hint may be left out or null). */
export type ApiErrorBody = components['schemas']['ApiError'];

/** An error from the API, or from failing to reach it at all (code "unreachable"). */
export class ApiError extends Error {
  readonly code: ErrorCode;
  readonly hint: string | null;
  /** HTTP status; 0 when the request never got an answer. */
  readonly status: number;
  /** Seconds the box asked us to wait (Retry-After), when it said. */
  readonly retryAfter: number | null;
  /** When the answer came (ms since the epoch), to count the wait down from. */
  readonly at: number = Date.now();

  constructor(status: number, body: { code: ErrorCode; message: string; hint?: string | null }, retryAfter: number | null = null) {
    super(body.message);
    this.name = 'ApiError';
    this.status = status;
    this.code = body.code;
    this.hint = body.hint ?? null;
    this.retryAfter = retryAfter;
  }

  /** True when the box (or its agent) did not answer, as opposed to refusing a request. */
  get unreachable(): boolean {
    return this.status === 0 || this.status === 502 || this.status === 503 || this.status === 504;
  }

  /** Seconds still to wait at `now`; null when the box did not say. */
  waitLeft(now: number = Date.now()): number | null {
    if (this.retryAfter === null) return null;
    return Math.max(0, Math.ceil(this.retryAfter - (now - this.at) / 1000));
  }

  /** The box refused this account (a permission it lacks, an owner's account, ...). */
  get refused(): boolean {
    return this.status === 403;
  }

  /** The box ended the session under us (not: a wrong password, which is also a 401). */
  get sessionEnded(): boolean {
    return this.status === 401 && this.code === Code.unauthenticated;
  }
}

export const unreachableError = (): ApiError =>
  new ApiError(0, {
    code: 'unreachable',
    message: "Can't reach your Keepsake box.",
    hint: 'Check that the box is switched on and this device is on the same network, then try again.',
  });

export const badResponseError = (status: number): ApiError =>
  new ApiError(status, {
    code: 'bad_response',
    message: 'The box sent an answer this page could not read.',
    hint: 'Reload the page. If it keeps happening, the box may be in the middle of an update.',
  });

/** Anything thrown, as an ApiError (a bug in this page shows as "internal"). */
export function toApiError(e: unknown): ApiError {
  if (e instanceof ApiError) return e;
  return new ApiError(0, {
    code: 'internal',
    message: e instanceof Error ? e.message : 'Something went wrong on this page.',
    hint: 'Reload the page and try again.',
  });
}

function isErrorBody(v: unknown): v is ApiErrorBody {
  return (
    typeof v === 'object' &&
    v !== null &&
    typeof (v as ApiErrorBody).code === 'string' &&
    typeof (v as ApiErrorBody).message === 'string'
  );
}

/** Retry-After in seconds (RFC 9110: delay-seconds or an HTTP date), or null. */
export function parseRetryAfter(value: string | null, now: number = Date.now()): number | null {
  if (!value) return null;
  const v = value.trim();
  if (/^\d+$/.test(v)) return Number(v);
  // An HTTP date names its day and month; Date.parse alone would take "-5" for a year.
  if (!/[a-z]/i.test(v)) return null;
  const at = Date.parse(v);
  return Number.isNaN(at) ? null : Math.max(0, Math.ceil((at - now) / 1000));
}

/** Turn a non-2xx answer into an ApiError, whatever its body looks like. */
export async function errorFromResponse(res: Response): Promise<ApiError> {
  let body: unknown = null;
  try {
    body = await res.json();
  } catch {
    /* not JSON: e.g. a proxy's plain-text error page */
  }
  const retryAfter = parseRetryAfter(res.headers.get('Retry-After'));
  if (isErrorBody(body)) return new ApiError(res.status, body, retryAfter);
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

function seconds(n: number): string {
  return `${n} second${n === 1 ? '' : 's'}`;
}

/**
 * What the dashboard says for an error at `now`: its own words for the codes it knows, else the
 * box's.
 */
export function explain(e: ApiError, now: number = Date.now()): string {
  switch (e.code) {
    case Code.tooManyAttempts: {
      const left = e.waitLeft(now);
      if (left === null) return e.message;
      return left > 0 ? `Too many failed attempts: you can try again in ${seconds(left)}.` : 'You can try again now.';
    }
    case Code.lastOwner:
      return 'This is the only owner left. Make someone else an owner first.';
    case Code.ownerOnly:
      return 'Only an owner can change an owner’s account or make someone an owner.';
    case Code.unknownGroup:
      return 'One of the chosen groups no longer exists. The list has been reloaded; choose again.';
    case Code.groupNameTaken:
      return 'Another group already has this name. Choose a different one.';
    default:
      return e.message;
  }
}

/** A form's fields, by the codes of the box's objections that belong next to each. */
export type FieldsByCode<F extends string> = Partial<Record<ErrorCode, F>>;

/** The words to show next to `field`, when the error belongs there. */
export function fieldError<F extends string>(e: ApiError | null | undefined, fields: FieldsByCode<F>, field: F): string | null {
  return e && fields[e.code] === field ? explain(e) : null;
}

/** The error when it belongs in the form's banner (no field of the form owns its code). */
export function bannerError(e: ApiError | null | undefined, fields: FieldsByCode<string>): ApiError | null {
  return e && !fields[e.code] ? e : null;
}
