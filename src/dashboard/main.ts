// The dashboard page: a header with the places to go, the connection banner, and the page the URL's
// hash names. Built by scripts/build-dashboard.ts (esbuild) into dist/dashboard/app.js.
import { h, render, type ComponentChild } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import 'uplot/dist/uPlot.min.css';
import './style.css';
import { useLive, type LiveState } from './api.ts';
import { hrefOf, parseRoute, type Route } from './router.ts';
import { NamespacePage } from './views/namespace.ts';
import { NamespacesPage } from './views/namespaces.ts';
import { TopologyPage } from './views/topology.ts';
import { WorkloadPage } from './views/workload.ts';

function Banner(props: { live: LiveState; dismiss: () => void }): ComponentChild {
  const { live } = props;
  if (live.kind === 'down') {
    return h('div', { class: 'banner down', role: 'alert', 'data-testid': 'banner' }, 'Lost the connection to the Sluice controller: reconnecting… (the numbers below are stale)');
  }
  if (live.kind === 'up' && (live.restarted || live.recovered)) {
    return h(
      'div',
      { class: 'banner up', role: 'status', 'data-testid': 'banner' },
      live.restarted ? 'Reconnected: the controller restarted, so recent history starts again.' : 'Reconnected to the controller.',
      h('button', { type: 'button', onClick: props.dismiss }, 'Dismiss'),
    );
  }
  return null;
}

function Page(props: { route: Route; generation: number }): ComponentChild {
  const { route, generation } = props;
  switch (route.page) {
    case 'namespaces':
      return h(NamespacesPage, { generation });
    case 'namespace':
      return h(NamespacePage, { namespace: route.namespace, generation });
    case 'workload':
      return h(WorkloadPage, { namespace: route.namespace, type: route.type, name: route.name, generation });
    case 'topology':
      return h(TopologyPage, { namespace: route.namespace, generation });
    case 'not-found':
      return h('section', null, h('h1', { id: 'page-title' }, 'No such page'), h('p', null, h('a', { href: '#/' }, 'Go to the namespaces')));
  }
}

function App(): ComponentChild {
  const [route, setRoute] = useState(parseRoute(location.hash));
  const { live, generation, dismiss } = useLive();
  useEffect(() => {
    const onHash = (): void => {
      setRoute(parseRoute(location.hash));
      // Move focus to the new page's title, as a page load would for keyboard and screen-reader users.
      requestAnimationFrame(() => {
        const title = document.getElementById('page-title');
        title?.setAttribute('tabindex', '-1');
        title?.focus();
      });
    };
    window.addEventListener('hashchange', onHash);
    return () => window.removeEventListener('hashchange', onHash);
  }, []);
  const version = live.kind === 'up' ? live.hello.version : '';
  return h(
    'div',
    { class: 'app' },
    h('a', { class: 'skip', href: '#main', onClick: (e: Event) => { e.preventDefault(); document.getElementById('main')?.focus(); } }, 'Skip to content'),
    h(
      'header',
      null,
      h('a', { class: 'brand', href: hrefOf({ page: 'namespaces' }) }, 'Sluice'),
      h(
        'nav',
        { 'aria-label': 'Main' },
        h('a', { href: hrefOf({ page: 'namespaces' }), 'aria-current': route.page === 'namespaces' ? 'page' : undefined }, 'Namespaces'),
        h('a', { href: hrefOf({ page: 'topology', namespace: '' }), 'aria-current': route.page === 'topology' ? 'page' : undefined }, 'Topology'),
      ),
      h('span', { class: `conn conn-${live.kind}`, 'data-testid': 'connection' }, live.kind === 'up' ? `connected · v${version}` : live.kind === 'down' ? 'disconnected' : 'connecting…'),
    ),
    h(Banner, { live, dismiss }),
    h('main', { id: 'main', tabIndex: -1 }, h(Page, { route, generation })),
  );
}

render(h(App, null), document.getElementById('app') as HTMLElement);
