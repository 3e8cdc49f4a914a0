// Hash routing (works from file:// in Electron and from `tunesmith serve` alike). A route is a
// path plus query: `#/wizard/data`, `#/runs/3`, `#/runs/compare?ids=1,2`.
//   #/                          Home
//   #/wizard/<step>             the wizard (model, data, settings, train, try, export)
//   #/runs                      run history
//   #/runs/<id>                 one run (metrics, config, samples, checkpoints, exports)
//   #/runs/compare?ids=1,2      runs side by side
//   #/exports/<id>              one export with its lineage
import { getContext, setContext } from 'svelte';

export interface Route {
  /** Path segments after `#/`, e.g. ['runs', '3']. */
  segments: string[];
  query: URLSearchParams;
}

export function parseHash(hash: string): Route {
  const raw = hash.replace(/^#\/?/, '');
  const [pathPart = '', queryPart = ''] = raw.split('?', 2);
  return {
    segments: pathPart.split('/').filter(Boolean).map(decodeURIComponent),
    query: new URLSearchParams(queryPart),
  };
}

export class Router {
  route = $state<Route>(parseHash(''));

  constructor() {
    this.route = parseHash(window.location.hash);
    window.addEventListener('hashchange', () => {
      this.route = parseHash(window.location.hash);
    });
  }

  /** Go to `path` (e.g. `/runs/3`); adds a history entry. */
  go(path: string): void {
    const next = `#${path.startsWith('/') ? path : `/${path}`}`;
    if (window.location.hash === next) return;
    window.location.hash = next;
  }
}

const KEY = Symbol('router');
export function setRouter(router: Router): Router {
  setContext(KEY, router);
  return router;
}
export function useRouter(): Router {
  return getContext<Router>(KEY);
}

/** For links: `href={href('/runs/3')}`. */
export function href(path: string): string {
  return `#${path.startsWith('/') ? path : `/${path}`}`;
}
