// Live tap of a workload: filters (method, path prefix, authority), start/stop, pause (the stream goes
// on, the list holds still), a request's details, and `top` over what was seen. Events arrive as
// Server-Sent Events from the dashboard server (/api/tap), which relays the public API's tap stream.
import { h, type ComponentChild } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import type { TapEventView } from '../../api/dashboard-messages.ts';
import type { Resource } from '../../api/public-messages.ts';
import { formatMicros } from '../format.ts';
import { failed, TapRequests, topRows, type TappedRequest } from '../tap-model.ts';

type TapState = { kind: 'idle' } | { kind: 'running' } | { kind: 'reconnecting' } | { kind: 'stopped'; why: string };

interface Filters {
  method: string;
  path: string;
  authority: string;
}

function tapUrl(resource: Resource, filters: Filters): string {
  const q = new URLSearchParams({ type: resource.type ?? '', namespace: resource.namespace ?? '', name: resource.name ?? '' });
  for (const [key, value] of Object.entries(filters)) if (value.trim() !== '') q.set(key, value.trim());
  return `api/tap?${q.toString()}`;
}

function statusText(r: TappedRequest): string {
  if (r.response === undefined) return '…';
  const grpc = r.end?.grpcStatus;
  return grpc === undefined ? String(r.response.status ?? '') : `${r.response.status} ${grpc}`;
}

function Details(props: { request: TappedRequest; onClose: () => void }): ComponentChild {
  const r = props.request;
  const rows: Array<[string, string]> = [
    ['Direction', r.request?.direction ?? ''],
    ['Source', `${r.request?.sourceResource || '(unmeshed)'} ${r.request?.source ?? ''}`],
    ['Destination', `${r.request?.destinationResource || ''} ${r.request?.destination ?? ''}`],
    ['TLS', r.request?.tls ?? ''],
    ['Method', r.request?.method ?? ''],
    ['Authority', r.request?.authority ?? ''],
    ['Path', r.request?.path ?? ''],
    ['Status', statusText(r)],
    ['Latency (to response)', formatMicros(r.response?.latencyUs)],
    ['Duration (response)', formatMicros(r.end?.durationUs)],
    ['Response bytes', r.end?.responseBytes === undefined ? '' : String(r.end.responseBytes)],
    ...(r.end?.resetCode === undefined ? [] : ([['Reset', String(r.end.resetCode)]] as Array<[string, string]>)),
    ...Object.entries(r.request?.routeLabels ?? {}).map(([k, v]): [string, string] => [`Route ${k}`, v]),
  ];
  const headers = (title: string, list: TapEventView['headers']): ComponentChild =>
    list === undefined || list.length === 0
      ? null
      : h('div', null, h('h4', null, title), h('dl', { class: 'headers' }, list.flatMap((x, i) => [h('dt', { key: `k${i}` }, x.name), h('dd', { key: `v${i}` }, x.value)])));
  return h(
    'aside',
    { class: 'details', 'aria-label': 'Request details', 'data-testid': 'tap-details' },
    h('div', { class: 'details-head' }, h('h3', null, 'Request details'), h('button', { type: 'button', onClick: props.onClose }, 'Close')),
    h('dl', null, rows.flatMap(([k, v]) => [h('dt', { key: `k${k}` }, k), h('dd', { key: `v${k}` }, v)])),
    headers('Request headers', r.request?.headers),
    headers('Response headers', r.response?.headers),
    headers('Trailers', r.end?.headers),
  );
}

function TopTable(props: { requests: readonly TappedRequest[] }): ComponentChild {
  const rows = topRows(props.requests).slice(0, 20);
  return h(
    'table',
    { class: 'stats top', 'data-testid': 'top' },
    h('caption', null, 'Top: the requests seen since the tap started, most frequent first'),
    h('thead', null, h('tr', null, ['Source', 'Destination', 'Method', 'Path', 'Count', 'Best', 'Worst', 'Last', 'Success'].map((c) => h('th', { scope: 'col', key: c }, c)))),
    h(
      'tbody',
      null,
      rows.length === 0
        ? h('tr', null, h('td', { colSpan: 9, class: 'empty' }, 'No finished requests yet.'))
        : rows.map((row) =>
            h(
              'tr',
              { key: [row.source, row.destination, row.method, row.path].join('|') },
              h('td', null, row.source),
              h('td', null, row.destination),
              h('td', null, row.method),
              h('td', { class: 'path' }, row.path),
              h('td', { class: 'num' }, String(row.count)),
              h('td', { class: 'num' }, formatMicros(row.bestUs)),
              h('td', { class: 'num' }, formatMicros(row.worstUs)),
              h('td', { class: 'num' }, formatMicros(row.lastUs)),
              h('td', { class: 'num' }, `${(((row.count - row.failures) / row.count) * 100).toFixed(2)}%`),
            ),
          ),
    ),
  );
}

export function TapSection(props: { resource: Resource }): ComponentChild {
  const [filters, setFilters] = useState<Filters>({ method: '', path: '', authority: '' });
  const [state, setState] = useState<TapState>({ kind: 'idle' });
  const [paused, setPaused] = useState(false);
  const [selected, setSelected] = useState<TappedRequest | undefined>(undefined);
  const [, setVersion] = useState(0);
  const store = useRef(new TapRequests());
  const source = useRef<EventSource | null>(null);
  const pausedRef = useRef(false);
  pausedRef.current = paused;
  const missed = useRef(0);

  const stop = (why: string): void => {
    source.current?.close();
    source.current = null;
    setState(why === '' ? { kind: 'idle' } : { kind: 'stopped', why });
  };
  useEffect(() => () => source.current?.close(), []);

  const start = (): void => {
    source.current?.close();
    store.current.clear();
    missed.current = 0;
    setSelected(undefined);
    setPaused(false);
    const es = new EventSource(tapUrl(props.resource, filters));
    source.current = es;
    setState({ kind: 'running' });
    // Redraw at most a few times a second however fast events come.
    let scheduled = false;
    es.addEventListener('started', () => setState({ kind: 'running' }));
    es.addEventListener('tap', (event) => {
      if (pausedRef.current) {
        missed.current++;
        return;
      }
      store.current.add(JSON.parse((event as MessageEvent<string>).data) as TapEventView);
      if (!scheduled) {
        scheduled = true;
        setTimeout(() => {
          scheduled = false;
          setVersion((v) => v + 1);
        }, 250);
      }
    });
    es.addEventListener('end', (event) => stop((JSON.parse((event as MessageEvent<string>).data) as { reason: string }).reason));
    es.addEventListener('failure', (event) => stop(`tap failed: ${(JSON.parse((event as MessageEvent<string>).data) as { error: string }).error}`));
    es.addEventListener('error', () => {
      // CLOSED: the server refused (a bad filter, too many taps); CONNECTING: EventSource retries by itself.
      if (es.readyState === EventSource.CLOSED) stop('the dashboard refused the tap (see the server log, or fewer taps at once)');
      else setState({ kind: 'reconnecting' });
    });
  };

  const field = (name: keyof Filters, label: string, placeholder: string): ComponentChild =>
    h(
      'label',
      null,
      label,
      h('input', {
        name,
        value: filters[name],
        placeholder,
        onInput: (e: Event) => setFilters({ ...filters, [name]: (e.target as HTMLInputElement).value }),
      }),
    );

  const running = state.kind === 'running' || state.kind === 'reconnecting';
  const requests = store.current.requests;
  return h(
    'section',
    { class: 'tap', 'aria-labelledby': 'tap-title' },
    h('h2', { id: 'tap-title' }, 'Live requests (tap)'),
    h(
      'form',
      {
        class: 'tap-filters',
        onSubmit: (e: Event) => {
          e.preventDefault();
          start();
        },
      },
      field('method', 'Method', 'GET'),
      field('path', 'Path prefix', '/api/'),
      field('authority', 'Authority', 'web-svc.emojivoto.svc.cluster.local:80'),
      h('button', { type: 'submit', class: 'primary' }, running ? 'Restart tap' : 'Start tap'),
      running ? h('button', { type: 'button', onClick: () => stop('') }, 'Stop') : null,
      running ? h('button', { type: 'button', 'aria-pressed': paused, onClick: () => setPaused(!paused) }, paused ? 'Resume' : 'Pause') : null,
    ),
    h(
      'p',
      { class: 'status', role: 'status', 'data-testid': 'tap-state' },
      state.kind === 'idle'
        ? 'Not tapping. Start a tap to see requests as they happen.'
        : state.kind === 'running'
          ? paused
            ? `Paused (${missed.current} events not shown)`
            : `Tapping: ${requests.length} requests shown (newest first)`
          : state.kind === 'reconnecting'
            ? 'Tap interrupted: reconnecting…'
            : `Stopped: ${state.why}`,
    ),
    h(
      'div',
      { class: 'tap-body' },
      h(
        'div',
        { class: 'scroll' },
        h(
          'table',
          { class: 'stats tap-list', 'data-testid': 'tap-list' },
          h('caption', null, 'Requests'),
          h('thead', null, h('tr', null, ['Direction', 'From', 'Method', 'Path', 'Status', 'Latency', ''].map((c, i) => h('th', { scope: 'col', key: i }, c)))),
          h(
            'tbody',
            null,
            requests.slice(0, 100).map((r) =>
              h(
                'tr',
                { key: r.seq, class: failed(r) ? 'failed' : undefined },
                h('td', null, r.request?.direction === 'inbound' ? 'in' : r.request?.direction === 'outbound' ? 'out' : ''),
                h('td', null, r.request?.direction === 'outbound' ? r.request.destinationResource || r.request.authority || '' : r.request?.sourceResource || r.request?.source || ''),
                h('td', null, r.request?.method ?? ''),
                h('td', { class: 'path' }, r.request?.path ?? ''),
                h('td', null, statusText(r)),
                h('td', { class: 'num' }, formatMicros(r.response === undefined ? undefined : (r.response.latencyUs ?? 0) + (r.end?.durationUs ?? 0))),
                h('td', null, h('button', { type: 'button', class: 'link', onClick: () => setSelected(r), 'aria-label': `Details of ${r.request?.method ?? ''} ${r.request?.path ?? ''}` }, 'Details')),
              ),
            ),
          ),
        ),
      ),
      selected === undefined ? null : h(Details, { request: selected, onClose: () => setSelected(undefined) }),
    ),
    h(TopTable, { requests }),
  );
}
