// The Rules page's checks and the changes a rule's form sends (pure logic).

import type { RuleInfo, RuleUpdate } from './api';

/** The most minutes between repeats the box accepts (a week). */
export const MAX_REPEAT_MINUTES = 10_080;

export interface RuleDraft {
  threshold: number | string;
  muted: boolean;
  min_repeat_minutes: number | string;
}

function whole(v: number | string): number | null {
  const s = String(v).trim();
  if (s === '') return null;
  const n = Number(s);
  return Number.isInteger(n) ? n : null;
}

/** Field errors (threshold within the rule's bounds, repeat minutes within 0..a week). */
export function checkRuleDraft(rule: Pick<RuleInfo, 'threshold'>, d: RuleDraft): Record<'threshold' | 'min_repeat_minutes', string | null> {
  let threshold: string | null = null;
  if (rule.threshold) {
    const n = whole(d.threshold);
    const { min, max, unit } = rule.threshold;
    if (n === null || n < min || n > max) threshold = `Enter a whole number from ${min} to ${max} (${unit}).`;
  }
  const m = whole(d.min_repeat_minutes);
  const min_repeat_minutes = m === null || m < 0 || m > MAX_REPEAT_MINUTES ? `Enter a whole number of minutes from 0 to ${MAX_REPEAT_MINUTES} (a week).` : null;
  return { threshold, min_repeat_minutes };
}

/** Only what changed (absent fields stay as they are on the box). */
export function ruleChanges(rule: Pick<RuleInfo, 'threshold' | 'muted' | 'min_repeat_minutes'>, d: RuleDraft): RuleUpdate {
  const out: RuleUpdate = {};
  const t = whole(d.threshold);
  if (rule.threshold && t !== null && t !== rule.threshold.value) out.threshold = t;
  if (d.muted !== rule.muted) out.muted = d.muted;
  const m = whole(d.min_repeat_minutes);
  if (m !== null && m !== rule.min_repeat_minutes) out.min_repeat_minutes = m;
  return out;
}
