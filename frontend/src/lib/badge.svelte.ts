// The alerts behind the header's indicator: asked for every 30 seconds and on every change of
// page, by people who may see alerts. The Alerts page shares what it loads, so both agree.

import { api, type AlertList } from './api';
import { badgeState, BADGE_REFRESH_MS, type BadgeState } from './alerts';

class AlertBadge {
  list = $state<AlertList | null>(null);
  state = $derived<BadgeState>(badgeState(this.list));
  private busy = false;

  set(list: AlertList | null): void {
    this.list = list;
  }

  async refresh(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      this.list = await api.alerts();
    } catch {
      // Keep the last answer: the indicator is a courtesy, and the page says what failed.
    } finally {
      this.busy = false;
    }
  }

  /** Asks now and then every `every` ms until the returned function is called. */
  start(every: number = BADGE_REFRESH_MS): () => void {
    void this.refresh();
    const t = setInterval(() => void this.refresh(), every);
    return () => {
      clearInterval(t);
      this.list = null;
    };
  }
}

export const alertBadge = new AlertBadge();
