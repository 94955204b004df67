// One user action on a page (save, delete, sign in…): whether it is running and why it last failed.

import { toApiError, type ApiError } from './api';

export class Action {
  busy = $state(false);
  /** Why the last run failed; pages may also set it themselves, e.g. for a check made before running. */
  error = $state<ApiError | null>(null);

  /**
   * Runs `fn`, keeping `busy` set until it settles. Put the steps that follow success inside `fn`,
   * so a failure in them is shown too and the button stays disabled until they are done.
   * Never throws: a failure is kept in `error` and gives `undefined`.
   */
  async run<T>(fn: () => Promise<T>): Promise<T | undefined> {
    this.busy = true;
    this.error = null;
    try {
      return await fn();
    } catch (err) {
      this.error = toApiError(err);
      return undefined;
    } finally {
      this.busy = false;
    }
  }

  reset(): void {
    this.busy = false;
    this.error = null;
  }
}
