import { describe, expect, it } from 'vitest';
import { findHelp, helpHref, helpNameForPath, helpPages, pageTitle, renderHelp, slug } from './help';
import { HELP_PAGES, HELP_TITLES } from './kb';

describe('helpNameForPath', () => {
  it('reads the index and the pages', () => {
    expect(helpNameForPath('/help')).toBe('README');
    expect(helpNameForPath('/help/')).toBe('README');
    expect(helpNameForPath('/help/pool-degraded')).toBe('pool-degraded');
    expect(helpNameForPath('/help/pool-degraded.md')).toBe('pool-degraded');
  });
  it('is null outside /help, and empty for a name that does not decode', () => {
    expect(helpNameForPath('/helpful')).toBeNull();
    expect(helpNameForPath('/help/a/b')).toBeNull();
    expect(helpNameForPath('/help/%E0%A4%A')).toBe('');
  });
});

describe('the bundled knowledge base', () => {
  it('has the index and every page alerts link to', () => {
    for (const name of ['README', 'zfs-checksum-errors', 'pool-degraded', 'backup-drive-failed', 'database-wont-start', 'container-crashed', 'disk-space-low', 'certificate-expiring', 'sign-in-attacks']) {
      expect(HELP_PAGES.has(name), name).toBe(true);
    }
    expect(HELP_TITLES.get('sign-in-attacks')).toMatch(/failed sign-ins/i);
  });
  it('finds pages by name and nothing for unknown or odd names', () => {
    expect(findHelp(HELP_PAGES, 'pool-degraded')?.name).toBe('pool-degraded');
    expect(findHelp(HELP_PAGES, 'README')?.title).toMatch(/knowledge base/i);
    expect(findHelp(HELP_PAGES, 'no-such-page')).toBeNull();
    expect(findHelp(HELP_PAGES, '../secrets')).toBeNull();
    expect(findHelp(HELP_PAGES, '')).toBeNull();
    expect(findHelp(HELP_PAGES, null)).toBeNull();
  });
  it('links every page of the index to its dashboard address', () => {
    const html = renderHelp(HELP_PAGES.get('README')!.markdown, HELP_TITLES);
    expect(html).toContain('href="/help/zfs-checksum-errors"');
    expect(html).not.toContain('.md"');
  });
});

describe('helpPages and pageTitle', () => {
  it('names pages by file and titles them by their first heading', () => {
    const pages = helpPages({ '../../../docs/kb/a-page.md': '# A page\n\ntext', '../../../docs/kb/Bad Name.md': '# x' });
    expect([...pages.keys()]).toEqual(['a-page']);
    expect(pages.get('a-page')?.title).toBe('A page');
    expect(pageTitle('no heading', 'fallback')).toBe('fallback');
  });
});

describe('helpHref', () => {
  it('sends page links to /help and keeps safe links', () => {
    expect(helpHref('pool-degraded.md')).toBe('/help/pool-degraded');
    expect(helpHref('./pool-degraded.md#what-to-do')).toBe('/help/pool-degraded#what-to-do');
    expect(helpHref('README.md')).toBe('/help');
    expect(helpHref('#for-the-technically-minded')).toBe('#for-the-technically-minded');
    expect(helpHref('https://openzfs.github.io/openzfs-docs/')).toBe('https://openzfs.github.io/openzfs-docs/');
    expect(helpHref('mailto:someone@example.org')).toBe('mailto:someone@example.org');
  });
  it('drops script, data and other addresses', () => {
    expect(helpHref('javascript:alert(1)')).toBeNull();
    expect(helpHref('JaVaScRiPt:alert(1)')).toBeNull();
    expect(helpHref('data:text/html,<script>alert(1)</script>')).toBeNull();
    expect(helpHref('/api/v1/users')).toBeNull();
    expect(helpHref('../secret.md')).toBeNull();
  });
});

describe('renderHelp', () => {
  it('renders Markdown with anchors on headings', () => {
    const html = renderHelp('# Title\n\n## What to do\n\nRun `zpool status`.');
    expect(html).toContain('<h2 id="what-to-do">What to do</h2>');
    expect(html).toContain('<code>zpool status</code>');
  });
  it('shows raw HTML as text, never as markup', () => {
    const html = renderHelp('Hello <script>alert(1)</script> and <img src=x onerror=alert(1)>\n\n<div onclick="x()">block</div>');
    expect(html).not.toMatch(/<script|<img|<div/i);
    expect(html).toContain('&lt;script&gt;');
  });
  it('keeps the words of an unsafe link but not the link', () => {
    const html = renderHelp('[click](javascript:alert(1)) and ![pic](data:image/png;base64,AAAA)');
    expect(html).not.toContain('javascript:');
    expect(html).not.toContain('data:');
    expect(html).toContain('click');
    expect(html).toContain('pic');
  });
  it('names a page by its title when the link shows only its file name', () => {
    const titles = new Map([['pool-degraded', 'A pool needs attention']]);
    expect(renderHelp('see [pool-degraded.md](pool-degraded.md)', titles)).toContain('<a href="/help/pool-degraded">A pool needs attention</a>');
    expect(renderHelp('see [this page](pool-degraded.md)', titles)).toContain('<a href="/help/pool-degraded">this page</a>');
  });
  it('escapes quotes in link titles, and drops addresses with quotes', () => {
    expect(renderHelp('[x](https://example.org "say \\"hi\\"")')).toContain('title="say &quot;hi&quot;"');
    expect(helpHref('https://example.org/"onmouseover=alert(1)')).toBeNull();
  });
  it('makes GitHub-style anchors', () => {
    expect(slug('For the technically minded')).toBe('for-the-technically-minded');
    expect(slug('What `zpool clear` does')).toBe('what-zpool-clear-does');
  });
});
