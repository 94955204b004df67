import { describe, expect, it } from 'vitest';
import { ApiError, bannerError, Code, explain, fieldError, parseRetryAfter, toApiError, type ErrorCode, type FieldsByCode } from './errors';

const err = (code: ErrorCode, message = 'the box says no', retryAfter: number | null = null) =>
  new ApiError(400, { code, message, hint: null }, retryAfter);

describe('parseRetryAfter', () => {
  it('reads seconds and HTTP dates, and nothing else', () => {
    expect(parseRetryAfter('30')).toBe(30);
    expect(parseRetryAfter(' 0 ')).toBe(0);
    const now = Date.parse('2026-12-03T10:00:00Z');
    expect(parseRetryAfter('Thu, 03 Dec 2026 10:01:30 GMT', now)).toBe(90);
    expect(parseRetryAfter('Thu, 03 Dec 2026 09:00:00 GMT', now)).toBe(0);
    expect(parseRetryAfter(null)).toBeNull();
    expect(parseRetryAfter('soon')).toBeNull();
    expect(parseRetryAfter('-5')).toBeNull();
  });
});

describe('explain', () => {
  it('says how long to wait after too many sign-in attempts', () => {
    expect(explain(err(Code.tooManyAttempts, 'try again in 30 seconds', 30))).toBe(
      'Too many failed attempts: you can try again in 30 seconds.',
    );
    // Counted down from when the answer came.
    const e = err(Code.tooManyAttempts, 'try again in 30 seconds', 30);
    expect(e.waitLeft(e.at + 29_100)).toBe(1);
    expect(explain(e, e.at + 29_100)).toBe('Too many failed attempts: you can try again in 1 second.');
    expect(explain(e, e.at + 31_000)).toBe('You can try again now.');
    // Without a Retry-After, the box's own words (which name the wait).
    expect(explain(err(Code.tooManyAttempts, 'try again in 30 seconds'))).toBe('try again in 30 seconds');
  });

  it('has its own words for the codes a form shows next to a field', () => {
    for (const code of [Code.lastOwner, Code.ownerOnly, Code.unknownGroup, Code.groupNameTaken]) {
      const words = explain(err(code));
      expect(words, code).not.toBe('the box says no');
      expect(words.length, code).toBeGreaterThan(20);
    }
  });

  it('keeps the box message for any other code', () => {
    expect(explain(err('conflict', 'a self-check is already running'))).toBe('a self-check is already running');
  });
});

describe('fieldError and bannerError', () => {
  const fields: FieldsByCode<'role' | 'groups'> = {
    [Code.lastOwner]: 'role',
    [Code.ownerOnly]: 'role',
    [Code.unknownGroup]: 'groups',
  };

  it('puts an error the form knows next to its field, and not in the banner', () => {
    const e = err(Code.lastOwner);
    expect(fieldError(e, fields, 'role')).toBe(explain(e));
    expect(fieldError(e, fields, 'groups')).toBeNull();
    expect(bannerError(e, fields)).toBeNull();
    expect(fieldError(err(Code.unknownGroup), fields, 'groups')).toMatch(/no longer exists/);
  });

  it('puts any other error in the banner, whatever its HTTP status', () => {
    const e = new ApiError(409, { code: 'conflict', message: 'x', hint: null });
    expect(fieldError(e, fields, 'role')).toBeNull();
    expect(bannerError(e, fields)).toBe(e);
    expect(bannerError(null, fields)).toBeNull();
    expect(fieldError(undefined, fields, 'role')).toBeNull();
  });
});

describe('ApiError', () => {
  it('tells a refusal (any 403) and an ended session (401 auth.unauthenticated) by status and code', () => {
    expect(new ApiError(403, { code: 'auth.permission_missing', message: 'x' }).refused).toBe(true);
    expect(new ApiError(403, { code: Code.ownerOnly, message: 'x' }).refused).toBe(true);
    expect(new ApiError(409, { code: Code.lastOwner, message: 'x' }).refused).toBe(false);
    expect(new ApiError(401, { code: Code.unauthenticated, message: 'x' }).sessionEnded).toBe(true);
    expect(new ApiError(401, { code: Code.badCredentials, message: 'x' }).sessionEnded).toBe(false);
  });
});

describe('toApiError', () => {
  it('keeps an ApiError and wraps anything else as internal', () => {
    const e = err('auth.permission_missing');
    expect(toApiError(e)).toBe(e);
    const wrapped = toApiError(new Error('boom'));
    expect(wrapped.code).toBe('internal');
    expect(wrapped.message).toBe('boom');
    expect(toApiError('what').code).toBe('internal');
  });
});
