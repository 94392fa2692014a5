// The line under a page's title: when the numbers last arrived, or why they did not.
import { h, type ComponentChild } from 'preact';

export function Status(props: { error: string | undefined; at: number | undefined }): ComponentChild {
  if (props.error !== undefined) return h('p', { class: 'status error', role: 'alert' }, `Not refreshed: ${props.error}`);
  if (props.at === undefined) return h('p', { class: 'status' }, 'Loading…');
  return h('p', { class: 'status', 'aria-live': 'off' }, `Updated ${new Date(props.at).toLocaleTimeString()} · refreshes every 5 s`);
}
