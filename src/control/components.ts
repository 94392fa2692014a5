// The controller's components, registered in this order. Each adds its services to the shared servers.
import type { Component } from './context.ts';

export const components: Component[] = [];
components.push((await import('./destination/component.ts')).destinationComponent);
components.push((await import('./policy/component.ts')).inboundPolicyComponent);
components.push((await import('./tap/component.ts')).tapRelayComponent);
components.push((await import('./telemetry/component.ts')).telemetryComponent);
components.push((await import('./public-api/component.ts')).publicApiComponent);
// After the public API: the dashboard reads the mesh through it.
components.push((await import('./dashboard/component.ts')).dashboardComponent);
components.push((await import('./injector/component.ts')).injectorComponent);
components.push((await import('./identity/component.ts')).identityComponent);
