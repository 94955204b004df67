// Who is signed in: the box's auth state, read at start and after every sign-in step.

import { api, toApiError, type ApiError, type AuthState, type Me } from './api';
import { router } from './router.svelte';

export type Phase = 'loading' | 'error' | 'setup' | 'sign-in' | 'app';

class Session {
  state = $state<AuthState | null>(null);
  error = $state<ApiError | null>(null);
  loading = $state(false);
  /** Set when the box ended the session under us (shown on the sign-in page). */
  endedMessage = $state<string | null>(null);

  me = $derived<Me | null>(this.state?.user ?? null);

  phase = $derived.by<Phase>(() => {
    if (!this.state) return this.error ? 'error' : 'loading';
    if (this.state.setup_required) return 'setup';
    if (!this.state.user) return 'sign-in';
    return 'app';
  });

  async refresh(): Promise<void> {
    this.loading = true;
    try {
      this.state = await api.authState();
      this.error = null;
    } catch (e) {
      this.error = toApiError(e);
    } finally {
      this.loading = false;
    }
  }

  /** Re-read the signed-in user (after enrolling a second factor, say). */
  async refreshMe(): Promise<void> {
    try {
      const me = await api.me();
      if (this.state) this.state = { ...this.state, user: me };
    } catch {
      /* a 401 is handled by the client hook */
    }
  }

  /** The box said the session is gone: back to the sign-in page. */
  ended(): void {
    if (this.state?.user) this.endedMessage = 'Your session has ended. Please sign in again.';
    void this.refresh();
  }

  async signOut(): Promise<void> {
    // Leave the dashboard at once, so no page asks the box for anything while signed out.
    if (this.state) this.state = { ...this.state, user: null, second_factor_pending: false, second_factors: [] };
    try {
      await api.logout();
    } catch {
      /* signed out already, or the box is away: either way, show the sign-in page */
    }
    this.endedMessage = null;
    // Whoever signs in next starts at Home, not on this person's last page.
    router.go('/', { replace: true });
    await this.refresh();
  }
}

export const session = new Session();
api.onUnauthenticated = () => session.ended();
