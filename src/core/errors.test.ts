// The failures the proxy answers for itself: one table from kind to HTTP status, gRPC status and message,
// and the mapping from Node's upstream errors to those kinds.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import http2 from 'node:http2';
import net from 'node:net';
import {
  ERROR_RESPONSES,
  GRPC_STATUS,
  PROXY_ERROR_HEADER,
  ProxyError,
  classifyUpstreamError,
  isGrpcContentType,
  type ProxyErrorKind,
} from './errors.ts';

const KINDS = Object.keys(ERROR_RESPONSES) as ProxyErrorKind[];

/** An error shaped like Node's system errors: a message and a `code`. */
function errno(code: string, cause?: unknown): Error {
  const error = new Error(`${code} (test)`, cause === undefined ? undefined : { cause }) as Error & { code: string };
  error.code = code;
  return error;
}

/** A TCP port on 127.0.0.1 that nothing listens on (bound, then released). */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('ERROR_RESPONSES', () => {
  it('names its header sluice-proxy-error (Linkerd: l5d-proxy-error)', () => {
    assert.equal(PROXY_ERROR_HEADER, 'sluice-proxy-error');
  });

  it('gives every kind an HTTP error status, a non-OK gRPC status and a message', () => {
    const grpcCodes = new Set<number>(Object.values(GRPC_STATUS));
    for (const kind of KINDS) {
      const { status, grpc, message } = ERROR_RESPONSES[kind];
      assert.ok(status >= 400 && status <= 599, `${kind}: status ${status}`);
      assert.ok(grpcCodes.has(grpc) && grpc !== GRPC_STATUS.OK, `${kind}: grpc ${grpc}`);
      assert.ok(message.length > 0 && !/[\r\n]/.test(message), `${kind}: message must fit in a header`);
    }
  });

  it('maps each kind to these statuses', () => {
    const table = Object.fromEntries(KINDS.map((k) => [k, [ERROR_RESPONSES[k].status, ERROR_RESPONSES[k].grpc]]));
    assert.deepEqual(table, {
      no_target: [503, GRPC_STATUS.UNAVAILABLE],
      dns_not_found: [503, GRPC_STATUS.UNAVAILABLE],
      connect_refused: [502, GRPC_STATUS.UNAVAILABLE],
      connect_timeout: [504, GRPC_STATUS.UNAVAILABLE],
      connect_error: [502, GRPC_STATUS.UNAVAILABLE],
      response_timeout: [504, GRPC_STATUS.DEADLINE_EXCEEDED],
      upstream_reset: [502, GRPC_STATUS.UNAVAILABLE],
      bad_upstream_response: [502, GRPC_STATUS.INTERNAL],
      loop_detected: [508, GRPC_STATUS.UNAVAILABLE],
      bad_request: [400, GRPC_STATUS.INTERNAL],
      headers_too_large: [431, GRPC_STATUS.INTERNAL],
      header_timeout: [408, GRPC_STATUS.DEADLINE_EXCEEDED],
      no_endpoints: [503, GRPC_STATUS.UNAVAILABLE],
      fail_fast: [503, GRPC_STATUS.UNAVAILABLE],
      overloaded: [503, GRPC_STATUS.RESOURCE_EXHAUSTED],
      tls_wrong_identity: [502, GRPC_STATUS.UNAVAILABLE],
      tls_untrusted: [502, GRPC_STATUS.UNAVAILABLE],
      tls_expired: [502, GRPC_STATUS.UNAVAILABLE],
      tls_handshake: [502, GRPC_STATUS.UNAVAILABLE],
      unauthorized: [403, GRPC_STATUS.PERMISSION_DENIED],
    });
  });

  it('uses the gRPC status numbers of the gRPC spec', () => {
    const spec = ['OK', 'CANCELLED', 'UNKNOWN', 'INVALID_ARGUMENT', 'DEADLINE_EXCEEDED', 'NOT_FOUND', 'ALREADY_EXISTS', 'PERMISSION_DENIED', 'RESOURCE_EXHAUSTED', 'FAILED_PRECONDITION', 'ABORTED', 'OUT_OF_RANGE', 'UNIMPLEMENTED', 'INTERNAL', 'UNAVAILABLE', 'DATA_LOSS', 'UNAUTHENTICATED'];
    assert.deepEqual(GRPC_STATUS, Object.fromEntries(spec.map((name, code) => [name, code])));
  });
});

describe('ProxyError', () => {
  it('carries its kind, and the kind’s message', () => {
    const error = new ProxyError('connect_timeout');
    assert.equal(error.kind, 'connect_timeout');
    assert.equal(error.name, 'ProxyError');
    assert.equal(error.message, 'connect to upstream timed out');
    assert.ok(error instanceof Error);
  });

  it('appends a detail to the message', () => {
    assert.equal(
      new ProxyError('response_timeout', 'no response after 200 ms').message,
      'response timed out: no response after 200 ms',
    );
  });
});

describe('classifyUpstreamError', () => {
  const byCode: Array<[string, ProxyErrorKind]> = [
    ['ECONNREFUSED', 'connect_refused'],
    ['ETIMEDOUT', 'connect_timeout'],
    ['ENOTFOUND', 'dns_not_found'],
    ['EAI_AGAIN', 'dns_not_found'],
    ['EAI_NONAME', 'dns_not_found'],
    ['EHOSTUNREACH', 'connect_error'],
    ['ENETUNREACH', 'connect_error'],
    ['EADDRNOTAVAIL', 'connect_error'],
    ['EACCES', 'connect_error'],
    ['EPERM', 'connect_error'],
    ['HPE_INVALID_CONSTANT', 'bad_upstream_response'],
    ['HPE_INVALID_STATUS', 'bad_upstream_response'],
    ['HPE_INVALID_VERSION', 'bad_upstream_response'],
    ['HPE_UNEXPECTED_SPACE', 'bad_upstream_response'],
    ['HPE_HEADER_OVERFLOW', 'bad_upstream_response'],
    ['HPE_INVALID_CHUNK_SIZE', 'bad_upstream_response'],
    ['ECONNRESET', 'upstream_reset'],
    ['EPIPE', 'upstream_reset'],
    ['ERR_STREAM_PREMATURE_CLOSE', 'upstream_reset'],
    ['ERR_HTTP2_STREAM_ERROR', 'upstream_reset'],
    ['CERT_HAS_EXPIRED', 'tls_expired'],
    ['CERT_NOT_YET_VALID', 'tls_expired'],
    ['UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'tls_untrusted'],
    ['UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'tls_untrusted'],
    ['SELF_SIGNED_CERT_IN_CHAIN', 'tls_untrusted'],
    ['DEPTH_ZERO_SELF_SIGNED_CERT', 'tls_untrusted'],
    ['ERR_TLS_CERT_ALTNAME_INVALID', 'tls_wrong_identity'],
    ['ERR_SSL_WRONG_VERSION_NUMBER', 'tls_handshake'],
    ['ERR_SSL_SSL/TLS_ALERT_HANDSHAKE_FAILURE', 'tls_handshake'],
    ['ERR_TLS_HANDSHAKE_TIMEOUT', 'tls_handshake'],
    ['EPROTO', 'tls_handshake'],
  ];
  for (const [code, kind] of byCode) {
    it(`maps ${code} to ${kind}`, () => assert.equal(classifyUpstreamError(errno(code)), kind));
  }

  it('maps a ProxyError to its own kind', () => {
    for (const kind of KINDS) assert.equal(classifyUpstreamError(new ProxyError(kind)), kind);
  });

  it('maps anything unrecognised to upstream_reset, without throwing', () => {
    for (const odd of [new Error('boom'), undefined, null, 'string', 42, {}, { code: 42 }, Object.create(null)]) {
      assert.equal(classifyUpstreamError(odd), 'upstream_reset');
    }
  });

  it("looks through ERR_HTTP2_STREAM_CANCEL to the connect error in its cause", () => {
    assert.equal(classifyUpstreamError(errno('ERR_HTTP2_STREAM_CANCEL', errno('ECONNREFUSED'))), 'connect_refused');
    assert.equal(classifyUpstreamError(errno('ERR_HTTP2_STREAM_CANCEL', errno('ENOTFOUND'))), 'dns_not_found');
    assert.equal(
      classifyUpstreamError(errno('ERR_HTTP2_STREAM_CANCEL', new ProxyError('connect_timeout'))),
      'connect_timeout',
    );
  });

  it('follows a chain of causes, and stops at the first error it recognises', () => {
    const chain = errno('ERR_A', errno('ERR_B', errno('ETIMEDOUT', errno('ECONNREFUSED'))));
    assert.equal(classifyUpstreamError(chain), 'connect_timeout');
  });

  it('prefers the outer error when it is specific', () => {
    assert.equal(classifyUpstreamError(errno('HPE_INVALID_STATUS', errno('ECONNREFUSED'))), 'bad_upstream_response');
  });

  it('terminates on a circular cause chain', () => {
    const a = errno('ERR_A') as Error & { cause?: unknown };
    const b = errno('ERR_B', a);
    a.cause = b;
    assert.equal(classifyUpstreamError(a), 'upstream_reset');
  });

  it("classifies a refused connect by its code (Node's net, for real)", async () => {
    const port = await closedPort();
    const error = await new Promise<Error>((resolve) => {
      net.connect(port, '127.0.0.1').once('error', resolve);
    });
    assert.equal(classifyUpstreamError(error), 'connect_refused');
  });

  it("classifies Node's real http2 pending-stream cancel after a refused connect as connect_refused", async () => {
    const port = await closedPort();
    const session = http2.connect(`http://127.0.0.1:${port}`);
    session.on('error', () => {});
    const error = await new Promise<NodeJS.ErrnoException>((resolve) => {
      session.request({ ':path': '/' }).once('error', resolve);
    });
    session.destroy();
    assert.equal(error.code, 'ERR_HTTP2_STREAM_CANCEL');
    assert.equal((error.cause as NodeJS.ErrnoException | undefined)?.code, 'ECONNREFUSED');
    assert.equal(classifyUpstreamError(error), 'connect_refused');
  });

  it('classifies a real upstream that answers HTTP/1 with garbage as bad_upstream_response', async () => {
    const server = net.createServer((socket) => {
      socket.once('data', () => socket.end('NOT HTTP AT ALL\r\n\r\n'));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as net.AddressInfo;
    try {
      const error = await new Promise<NodeJS.ErrnoException>((resolve) => {
        http.get({ host: '127.0.0.1', port, path: '/', agent: false }).once('error', resolve);
      });
      assert.match(String(error.code), /^HPE_/);
      assert.equal(classifyUpstreamError(error), 'bad_upstream_response');
    } finally {
      server.close();
    }
  });
});

describe('isGrpcContentType', () => {
  it('recognises application/grpc and its +proto / +json / parameter forms', () => {
    for (const type of ['application/grpc', 'application/grpc+proto', 'application/grpc+json', 'application/grpc; charset=utf-8']) {
      assert.equal(isGrpcContentType(type), true, type);
    }
  });

  it('counts gRPC-Web as gRPC too (the check is a prefix, as in Linkerd)', () => {
    assert.equal(isGrpcContentType('application/grpc-web+proto'), true);
  });

  it('is false for other types and for no content type', () => {
    for (const type of [undefined, '', 'application/json', 'text/plain', 'application/x-grpc']) {
      assert.equal(isGrpcContentType(type), false, String(type));
    }
  });
});
