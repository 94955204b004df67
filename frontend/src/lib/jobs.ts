// Pure logic for the list of jobs the page knows about: merging snapshots that arrive from the
// event stream, from polling and from POST answers, in whatever order they come.

import { isTerminal, type Job, type JobState } from './api';

/** How many jobs the page keeps in memory. */
export const MAX_KEPT = 100;

function rank(state: JobState): number {
  if (state === 'queued') return 0;
  if (state === 'running') return 1;
  return 2;
}

/**
 * Whether `incoming` should replace `current` (two snapshots of the same job). A job only moves
 * forward (queued -> running -> finished), so an older snapshot that arrives late is ignored.
 */
export function supersedes(current: Job, incoming: Job): boolean {
  const a = rank(current.state);
  const b = rank(incoming.state);
  if (b !== a) return b > a;
  // A finished job does not change any more: both snapshots say the same.
  if (isTerminal(current.state)) return true;
  if (incoming.cancel_requested !== current.cancel_requested) return incoming.cancel_requested;
  // Same state: progress never goes backwards within a phase total.
  if (incoming.progress.total === current.progress.total && incoming.progress.done < current.progress.done) {
    return false;
  }
  return true;
}

/** Newest first (highest id first). */
function byNewest(a: Job, b: Job): number {
  return b.id - a.id;
}

/** Merge one snapshot into a list, returning a new list (newest first, at most MAX_KEPT). */
export function mergeJob(list: readonly Job[], job: Job): Job[] {
  return mergeJobs(list, [job]);
}

/** Merge many snapshots (e.g. a polled list) into a list, returning a new list. */
export function mergeJobs(list: readonly Job[], incoming: readonly Job[]): Job[] {
  const byId = new Map<number, Job>();
  for (const j of list) byId.set(j.id, j);
  for (const j of incoming) {
    const cur = byId.get(j.id);
    if (!cur || supersedes(cur, j)) byId.set(j.id, j);
  }
  return [...byId.values()].sort(byNewest).slice(0, MAX_KEPT);
}

export function isActive(job: Job): boolean {
  return !isTerminal(job.state);
}

/** Jobs still waiting or working, oldest first (the order they will finish in). */
export function activeJobs(list: readonly Job[]): Job[] {
  return list.filter(isActive).sort((a, b) => a.id - b.id);
}

/** The most recently finished jobs, newest first. */
export function recentFinishedJobs(list: readonly Job[], max = 8): Job[] {
  return list
    .filter((j) => isTerminal(j.state))
    .sort((a, b) => {
      const fa = a.finished_at ? Date.parse(a.finished_at) : 0;
      const fb = b.finished_at ? Date.parse(b.finished_at) : 0;
      return fb - fa || b.id - a.id;
    })
    .slice(0, max);
}

/** The newest job of a kind, or null. */
export function latestOfKind(list: readonly Job[], kind: string): Job | null {
  let best: Job | null = null;
  for (const j of list) if (j.kind === kind && (!best || j.id > best.id)) best = j;
  return best;
}

/** Whether a cancel button makes sense for this job. */
export function canCancel(job: Job): boolean {
  return isActive(job) && !job.cancel_requested;
}
