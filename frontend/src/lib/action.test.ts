import { describe, expect, it } from 'vitest';
import { Action } from './action.svelte';
import { ApiError } from './api';

const denied = () => new ApiError(403, { code: 'forbidden', message: 'Not allowed.', hint: null });

describe('Action', () => {
  it('returns what the function returns and records no error', async () => {
    const a = new Action();
    await expect(a.run(async () => 42)).resolves.toBe(42);
    expect(a.error).toBeNull();
    expect(a.busy).toBe(false);
  });

  it('records the error of a failed run and returns undefined', async () => {
    const a = new Action();
    const err = denied();
    await expect(
      a.run(async () => {
        throw err;
      }),
    ).resolves.toBeUndefined();
    expect(a.error).toBe(err);
    expect(a.busy).toBe(false);
  });

  it('turns anything thrown into an ApiError', async () => {
    const a = new Action();
    await a.run(async () => {
      throw new TypeError('boom');
    });
    expect(a.error).toBeInstanceOf(ApiError);
    expect(a.error?.status).toBe(0);
    expect(a.error?.message).toBe('boom');
  });

  it('is busy while running and not after', async () => {
    const a = new Action();
    let release!: () => void;
    const running = a.run(() => new Promise<void>((resolve) => (release = resolve)));
    expect(a.busy).toBe(true);
    release();
    await running;
    expect(a.busy).toBe(false);
  });

  it('is not busy after a failure either', async () => {
    const a = new Action();
    let fail!: (e: unknown) => void;
    const running = a.run(() => new Promise<void>((_, reject) => (fail = reject)));
    expect(a.busy).toBe(true);
    fail(denied());
    await running;
    expect(a.busy).toBe(false);
  });

  it('clears the last error when the next run starts', async () => {
    const a = new Action();
    await a.run(async () => {
      throw denied();
    });
    expect(a.error).not.toBeNull();
    let release!: () => void;
    const running = a.run(() => new Promise<void>((resolve) => (release = resolve)));
    expect(a.error).toBeNull();
    release();
    await running;
    expect(a.error).toBeNull();
  });

  it('reset clears the error and the busy flag', async () => {
    const a = new Action();
    await a.run(async () => {
      throw denied();
    });
    a.reset();
    expect(a.error).toBeNull();
    expect(a.busy).toBe(false);
  });
});
