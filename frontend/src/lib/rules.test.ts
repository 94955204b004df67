import { describe, expect, it } from 'vitest';
import { checkRuleDraft, ruleChanges } from './rules';

const rule = { threshold: { value: 10, default: 10, min: 1, max: 50, unit: 'failed sign-ins' }, muted: false, min_repeat_minutes: 60 };

describe('rules', () => {
  it('checks the threshold within its bounds and the repeat minutes', () => {
    expect(checkRuleDraft(rule, { threshold: 3, muted: false, min_repeat_minutes: 60 })).toEqual({ threshold: null, min_repeat_minutes: null });
    expect(checkRuleDraft(rule, { threshold: 0, muted: false, min_repeat_minutes: 60 }).threshold).toMatch(/from 1 to 50/);
    expect(checkRuleDraft(rule, { threshold: '2.5', muted: false, min_repeat_minutes: 60 }).threshold).toBeTruthy();
    expect(checkRuleDraft(rule, { threshold: 3, muted: false, min_repeat_minutes: 20000 }).min_repeat_minutes).toBeTruthy();
    expect(checkRuleDraft({ threshold: null }, { threshold: '', muted: false, min_repeat_minutes: 0 }).threshold).toBeNull();
  });
  it('sends only what changed', () => {
    expect(ruleChanges(rule, { threshold: 10, muted: false, min_repeat_minutes: 60 })).toEqual({});
    expect(ruleChanges(rule, { threshold: '3', muted: true, min_repeat_minutes: 60 })).toEqual({ threshold: 3, muted: true });
    expect(ruleChanges({ ...rule, threshold: null }, { threshold: 5, muted: false, min_repeat_minutes: 5 })).toEqual({ min_repeat_minutes: 5 });
  });
});
