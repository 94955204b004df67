// The forgotten-password flow's pure logic: reading the token from a reset link's fragment, and
// the box's answers that mean "this link no longer works, ask for a new one".
//
// The link is `/reset-password#token=…`: the token rides in the fragment, which browsers never
// send to a server, so it stays out of every log. The page reads it once and then removes it from
// the address bar (history.replaceState), so it is not left in the history or a shared screenshot.

import { Code } from './errors';

/** A token as the box makes them: 43 base64url characters (the API's RESET_TOKEN_PATTERN). */
export const RESET_TOKEN = /^[A-Za-z0-9_-]{43}$/;

/** The token in a location's hash (`#token=…`), or null when there is none or it is malformed. */
export function tokenFromHash(hash: string): string | null {
  const params = new URLSearchParams(hash.replace(/^#/, ''));
  const token = params.get('token')?.trim() ?? '';
  return RESET_TOKEN.test(token) ? token : null;
}

/** The codes that mean the link cannot be used any more: the page offers to ask for a new one. */
export const DEAD_LINK_CODES: readonly string[] = [Code.resetLinkUsed, Code.resetLinkExpired, Code.resetLinkInvalid];

export function isDeadLink(code: string | null | undefined): boolean {
  return !!code && DEAD_LINK_CODES.includes(code);
}

/** The console command that resets a password when no email is set up. */
export function consoleResetCommand(name = 'NAME'): string {
  return `keepsake user reset-password ${name}`;
}
