// What a label string means to a report, worked out once: the scope and transport keys, the response's
// status and end, shared frozen contexts, and a cache that stays bounded.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ipAddress, SeriesShape, SeriesShapes } from './telemetry-series-shape.ts';

const BASE = 'direction="outbound",authority="books:80",target_addr="10.0.0.9:7000",target_ip="10.0.0.9",target_port="7000",tls="true",server_id="books.shop.serviceaccount.identity.sluice.cluster.local",dst_namespace="shop",dst_service="books"';

describe('SeriesShape', () => {
  it('puts the series of one request scope under one key, whatever their response labels', () => {
    const request = new SeriesShape(BASE);
    const response = new SeriesShape(`${BASE},status_code="503",classification="failure",grpc_status="14",error="connect_refused"`);
    const latency = new SeriesShape(`${BASE},status_code="503"`);
    assert.equal(response.scopeKey, request.scopeKey);
    assert.equal(latency.scopeKey, request.scopeKey);
    assert.notEqual(new SeriesShape(BASE.replace('books:80', 'authors:80')).scopeKey, request.scopeKey);
    assert.equal(request.direction, 'outbound');
    assert.deepEqual([response.status, response.grpcStatus, response.classification, response.error], [503, '14', 'failure', 'connect_refused']);
    assert.equal(latency.status, 503);
    assert.equal(request.status, 0);
    assert.notEqual(response.endKey, new SeriesShape(`${BASE},status_code="503",classification="failure",grpc_status="",error=""`).endKey);
  });

  it('keys a transport by all its labels but errno', () => {
    const tcp = 'direction="inbound",peer="src",target_addr="10.0.0.1:80",target_ip="10.0.0.1",target_port="80",tls="disabled"';
    assert.equal(new SeriesShape(`${tcp},errno="ECONNRESET"`).transportKey, new SeriesShape(tcp).transportKey);
    assert.equal(new SeriesShape(tcp).peer, 'src');
    assert.equal(new SeriesShape('peer="dst"').direction, undefined);
  });

  it("builds a scope's RequestCtx once per kind, frozen, as the report carries it", () => {
    const shape = new SeriesShape(`${BASE},rt_route="GET /books",dst="books.shop.svc.cluster.local:80"`);
    const svc = shape.requestCtx('svc');
    assert.equal(shape.requestCtx('svc'), svc);
    assert.ok(Object.isFrozen(svc) && Object.isFrozen(svc.dst_labels) && Object.isFrozen(svc.target_addr?.ip));
    assert.deepEqual(svc, {
      authority: 'books:80',
      dst_labels: { namespace: 'shop', service: 'books' },
      route_scope: false,
      route_labels: { route: 'GET /books' },
      tls: 'true',
      actual: false,
      server_id: 'books.shop.serviceaccount.identity.sluice.cluster.local',
      target_addr: { ip: { ipv4: 0x0a000009 }, port: 7000 },
    });
    const route = shape.requestCtx('route');
    assert.deepEqual([route.authority, route.route_scope, route.actual], ['books.shop.svc.cluster.local:80', true, false]);
    assert.equal(shape.requestCtx('actual').actual, true);
    assert.ok(Object.isFrozen(shape.transportCtx()));
  });
});

describe('SeriesShapes', () => {
  it('parses a label string once and hands out the first instance of it', () => {
    const shapes = new SeriesShapes(10);
    const first = shapes.of(`${BASE}`);
    // The same text as a different string instance, as each worker delta brings it.
    const copy = [...BASE].join('');
    assert.equal(shapes.of(copy), first);
    assert.equal(shapes.of(copy).labels, first.labels);
  });

  it('starts over once it holds its maximum, so it never grows past it', () => {
    const shapes = new SeriesShapes(3);
    const kept = shapes.of('a="1"');
    shapes.of('a="2"');
    shapes.of('a="3"');
    assert.equal(shapes.size, 3);
    shapes.of('a="4"');
    assert.equal(shapes.size, 1);
    assert.notEqual(shapes.of('a="1"'), kept);
  });
});

describe('ipAddress', () => {
  it('writes IPv4 as a number, IPv6 halves as decimal strings, anything else as nothing', () => {
    assert.deepEqual(ipAddress('10.0.0.9'), { ipv4: 0x0a000009 });
    assert.deepEqual(ipAddress('[2001:db8::1]'), { ipv6: { first: (0x20010db8n << 32n).toString(), last: '1' } });
    assert.equal(ipAddress(''), undefined);
  });
});
