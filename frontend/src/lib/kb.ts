// The knowledge base (docs/kb/*.md), bundled into the dashboard when it is built: the help pages
// must open without signing in and without the box's API (alert emails link to them).

import { helpPages, type HelpPage } from './help';

const files = import.meta.glob('../../../docs/kb/*.md', { query: '?raw', import: 'default', eager: true }) as Record<string, string>;

export const HELP_PAGES: ReadonlyMap<string, HelpPage> = helpPages(files);

/** Each page's title by name, for links that name a page by its file. */
export const HELP_TITLES: ReadonlyMap<string, string> = new Map([...HELP_PAGES].map(([n, p]) => [n, p.title]));
