// The help pages: the knowledge base in docs/kb/*.md, bundled into the dashboard at build time
// (lib/kb.ts), looked up by name and rendered from Markdown to HTML (pure logic).
//
// The pages are the project's own files, but the HTML is still made safe: raw HTML in the Markdown
// is shown as text, never inserted, and only plain web, mail and in-site links are kept (no
// `javascript:` or `data:` addresses). Links between pages (`pool-degraded.md`) go to the
// dashboard's own `/help/pool-degraded`.

import { Marked, type Tokens } from 'marked';

export interface HelpPage {
  /** The file name without `.md`: the address `/help/<name>` and what alerts link to. */
  name: string;
  /** The first heading. */
  title: string;
  markdown: string;
}

/** The index page (docs/kb/README.md) is `/help` itself. */
export const INDEX = 'README';

/** Page names are the files' names: lowercase words joined by dashes. */
const NAME = /^[a-z0-9][a-z0-9-]{0,63}$/;

/** The help page a path asks for: `/help` → the index, `/help/<name>` → that name, else null. */
export function helpNameForPath(path: string): string | null {
  const m = /^\/help(?:\/([^/]*))?\/?$/.exec(path);
  if (!m) return null;
  if (!m[1]) return INDEX;
  let name: string;
  try {
    name = decodeURIComponent(m[1]);
  } catch {
    return '';
  }
  // `/help/pool-degraded.md` is what someone copying a file name would type.
  return name.replace(/\.md$/i, '');
}

/** The first `# Heading` of a page, or its name when it has none. */
export function pageTitle(markdown: string, name: string): string {
  const m = /^#\s+(.+?)\s*#*\s*$/m.exec(markdown);
  return m ? m[1].trim() : name;
}

/** The pages from a map of file paths (`…/docs/kb/x.md`) to their text. */
export function helpPages(files: Record<string, string>): Map<string, HelpPage> {
  const out = new Map<string, HelpPage>();
  for (const [file, markdown] of Object.entries(files)) {
    const name = file.split('/').pop()!.replace(/\.md$/, '');
    if (name !== INDEX && !NAME.test(name)) continue;
    out.set(name, { name, title: pageTitle(markdown, name), markdown });
  }
  return out;
}

/** A page by name (the index for `README`); null for a name that is not a page. */
export function findHelp(pages: ReadonlyMap<string, HelpPage>, name: string | null): HelpPage | null {
  if (name === null) return null;
  if (name !== INDEX && !NAME.test(name)) return null;
  return pages.get(name) ?? null;
}

/** Where a help page lives on the dashboard. */
export function helpPath(name: string): string {
  return name === INDEX ? '/help' : `/help/${name}`;
}

function escapeHtml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');
}

/**
 * Where a link in a page goes on the dashboard, or null to drop the link (keeping its text).
 * `x.md` and `x.md#part` → `/help/x` (`#part`); `#part` stays; http(s) and mailto stay; anything
 * else (javascript:, data:, paths outside the help) is dropped.
 */
export function helpHref(href: string): string | null {
  const h = href.trim();
  const md = /^(?:\.\/)?([a-z0-9][a-z0-9-]*|README)\.md(#[\w-]*)?$/i.exec(h);
  if (md) return helpPath(md[1].toUpperCase() === INDEX ? INDEX : md[1]) + (md[2] ?? '');
  if (/^#[\w-]*$/.test(h)) return h;
  if (/^(https?:\/\/|mailto:)[^\s"'<>]+$/i.test(h)) return h;
  return null;
}

/** A heading's anchor: lowercase words joined by dashes (as GitHub makes them). */
export function slug(text: string): string {
  return text
    .toLowerCase()
    .replace(/<[^>]*>/g, '')
    .replace(/[^\p{L}\p{N}\s-]/gu, '')
    .trim()
    .replace(/\s+/g, '-');
}

/**
 * Markdown to HTML that is safe to insert: raw HTML becomes text, links are checked (`helpHref`),
 * images become their description, headings get anchors. A link whose words are just a page's
 * file name (`[pool-degraded.md](pool-degraded.md)`) shows that page's title instead.
 */
export function renderHelp(markdown: string, titles: ReadonlyMap<string, string> = new Map()): string {
  const md = new Marked({ gfm: true, async: false });
  md.use({
    renderer: {
      html({ text }: Tokens.HTML | Tokens.Tag): string {
        return escapeHtml(text);
      },
      image({ text }: Tokens.Image): string {
        return escapeHtml(text);
      },
      heading({ tokens, depth, text }: Tokens.Heading): string {
        return `<h${depth} id="${escapeHtml(slug(text))}">${this.parser.parseInline(tokens)}</h${depth}>\n`;
      },
      link({ href, title, tokens, text }: Tokens.Link): string {
        const inner = this.parser.parseInline(tokens);
        const to = helpHref(href);
        if (to === null) return inner;
        const page = /^\/help\/([^#]+)/.exec(to)?.[1];
        const words = page && text.trim() === href.trim() && titles.get(page) ? escapeHtml(titles.get(page)!) : inner;
        const t = title ? ` title="${escapeHtml(title)}"` : '';
        return `<a href="${escapeHtml(to)}"${t}>${words}</a>`;
      },
    },
  });
  return md.parse(markdown) as string;
}
