// A tiny router: the page is chosen from location.pathname; links inside the app are handled here
// without reloading (the web server answers any unknown path with index.html).

import { normalisePath } from './nav';

class Router {
  path = $state(typeof location === 'undefined' ? '/' : normalisePath(location.pathname));

  go(to: string, { replace = false } = {}): void {
    const p = normalisePath(to);
    if (replace) history.replaceState(null, '', to);
    else if (p !== this.path || to !== location.pathname + location.search) history.pushState(null, '', to);
    this.path = p;
    window.scrollTo?.(0, 0);
  }

  start(): () => void {
    const onPop = () => (this.path = normalisePath(location.pathname));
    // Same-origin links to app paths navigate in place; downloads, new tabs and /api/ do not.
    const onClick = (e: MouseEvent) => {
      if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
      const a = (e.target as Element | null)?.closest?.('a');
      if (!a || a.hasAttribute('download') || a.target || !a.href) return;
      const url = new URL(a.href);
      if (url.origin !== location.origin || url.pathname.startsWith('/api/')) return;
      if (url.pathname === location.pathname && url.hash) return;
      e.preventDefault();
      this.go(url.pathname + url.search);
    };
    window.addEventListener('popstate', onPop);
    document.addEventListener('click', onClick);
    return () => {
      window.removeEventListener('popstate', onPop);
      document.removeEventListener('click', onClick);
    };
  }
}

export const router = new Router();
