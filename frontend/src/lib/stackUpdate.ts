// The Immich update panel's and version history's pure logic: what the panel offers (nothing, a
// blocked update with the way round, or an update), the words of the confirmations, where a running
// update or rollback is among its steps, and its outcome in words. No fetching and no Svelte here
// (the page reads the agent; lib/stackJobs.svelte.ts follows the jobs).

import type { Job, LogLine, StackUpdateCheck, StackVersion } from './api';
import { asSentence, formatAgo, formatWhen, type Tone } from './format';

export const UPDATE_JOB = 'stack.update';
export const ROLLBACK_JOB = 'stack.rollback';
/** What must be typed to go back to an earlier version (the agent checks the same words). */
export const ROLLBACK_PHRASE = 'roll back';

/** What the panel offers after a check. */
export type UpdateOffer =
  | { kind: 'none'; text: string }
  | { kind: 'blocked'; version: string; reason: string; notes: string | null }
  | { kind: 'available'; version: string; notes: string | null };

/** Only http(s) links are followed: a release-notes field is data from a registry, not trusted HTML. */
export function safeLink(url: string | null | undefined): string | null {
  const u = url?.trim();
  if (!u) return null;
  try {
    const parsed = new URL(u);
    return parsed.protocol === 'https:' || parsed.protocol === 'http:' ? parsed.href : null;
  } catch {
    return null;
  }
}

export function updateOffer(c: StackUpdateCheck): UpdateOffer {
  const version = c.available?.trim();
  if (!version) {
    return { kind: 'none', text: c.current ? `Immich ${c.current} is the newest version Keepsake runs.` : 'Immich is not installed yet.' };
  }
  const notes = safeLink(c.release_notes);
  const reason = c.blocked?.trim();
  if (reason) return { kind: 'blocked', version, reason, notes };
  return { kind: 'available', version, notes };
}

/** What the person can do about a blocked update: the agent's reason says the path; this says who. */
export const BLOCKED_ADVICE =
  'Keepsake does not offer this update here. Follow the path above; a later Keepsake release may take the step for you.';

/** The update confirmation, in plain words. */
export function updateConfirmText(from: string | null | undefined, to: string): { title: string; points: string[] } {
  return {
    title: `Update Immich to ${to}?`,
    points: [
      `First Keepsake makes a restore point of the box as it is now${from ? ` (Immich ${from})` : ''}.`,
      'Immich is unavailable for a few minutes while the new version is downloaded and started.',
      'If the new version does not start healthy, Keepsake goes back to the version before by itself, with the database as it was.',
    ],
  };
}

/** The rollback confirmation, in plain words. */
export function rollbackConfirmText(from: string | null | undefined, v: Pick<StackVersion, 'version' | 'restore_point'>): { title: string; points: string[] } {
  return {
    title: `Go back to Immich ${v.version}?`,
    points: [
      `First Keepsake makes a restore point of now${from ? ` (Immich ${from})` : ''}: restoring it later undoes this.`,
      `Then Immich's database goes back to the restore point ${v.restore_point ?? 'made while it ran'}: albums, people, comments and uploads recorded since then are undone.`,
      'Immich is unavailable for a few minutes meanwhile.',
    ],
  };
}

/** The steps of an update as the page lists them. */
export const UPDATE_STEPS: readonly string[] = ['Making a restore point', 'Downloading the new version', 'Starting it', 'Waiting until it is healthy'];
/** The steps of a rollback. */
export const ROLLBACK_STEPS: readonly string[] = ['Making a restore point of now', 'Loading the database of the restore point', 'Starting the earlier version', 'Waiting until it is healthy'];

/**
 * Which step a running update or rollback is at (0-based), from its phase and the log lines the
 * agent wrote so far. The agent names phases in words; this reads the ones it writes in
 * crates/keepsake-agent/src/stack/{update,versions,install}.rs.
 */
export function jobStep(job: Pick<Job, 'kind' | 'progress'>, log: readonly Pick<LogLine, 'message'>[] = []): number {
  const phase = job.progress.phase.toLowerCase();
  const created = log.some((l) => /^creating /i.test(l.message));
  if (phase.startsWith('waiting')) return 3;
  if (job.kind === ROLLBACK_JOB) {
    if (created) return 2;
    if (phase.includes('loading the database')) return 1;
    return 0;
  }
  if (created) return 2;
  if (phase.startsWith('pulling')) return 1;
  return 0;
}

/** The outcome of a finished update or rollback, in words, or null while it runs. */
export function stackJobOutcome(job: Pick<Job, 'kind' | 'state' | 'error' | 'result'>): { tone: Tone; title: string; text: string } | null {
  const r = job.result;
  if (job.state === 'succeeded') {
    if (r?.kind === 'stack.update') {
      const rep = r.report;
      return {
        tone: 'ok',
        title: `Immich ${rep.to} is running`,
        text: `The update from ${rep.from} is done (healthy after ${rep.healthy_after_secs} s). Restore point ${rep.restore_point} holds the box as it was on ${rep.from}.`,
      };
    }
    if (r?.kind === 'stack.rollback') {
      const rep = r.report;
      return {
        tone: 'ok',
        title: `Immich ${rep.to} is running again`,
        text: `Its database is that of restore point ${rep.restored_from}. Restore point ${rep.pre_rollback_point} holds the box as it was on ${rep.from}: restoring it undoes this.`,
      };
    }
    return { tone: 'ok', title: 'Done', text: '' };
  }
  if (job.state === 'failed') {
    const why = job.error?.trim() || 'The agent did not say why.';
    if (job.kind === UPDATE_JOB) {
      // The agent says in its error whether the way back worked; say which version runs first.
      const back = /back on ([^\s,]+)/i.exec(why);
      const title = /failed too/i.test(why)
        ? 'The update failed, and going back failed too'
        : back
          ? `The update failed: Immich is back on ${back[1]}`
          : 'The update failed: nothing was changed';
      return { tone: 'bad', title, text: asSentence(why) };
    }
    return { tone: 'bad', title: 'Going back failed', text: asSentence(why) };
  }
  if (job.state === 'cancelled') return { tone: 'neutral', title: 'Cancelled before anything changed', text: asSentence(job.error?.trim() || '') };
  return null;
}

/** "Running now", or when the box moved away from it ("Left 3 days ago"), with the exact time for a title. */
export function versionLeft(v: Pick<StackVersion, 'until'>, now: Date = new Date()): { text: string; title: string | null } {
  if (!v.until) return { text: 'Running now', title: null };
  return { text: `Left ${formatAgo(v.until, now)}`, title: formatWhen(v.until) };
}
