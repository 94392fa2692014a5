// Field tables (protobuf-schema.ts) of io.linkerd.proxy.identity (proto/identity.proto): the Certify call
// the proxy makes for its certificate. Checked against the .proto by protobuf-schema.test.ts.
import { Timestamp } from './common-schema.ts';
import { field, message } from './protobuf-schema.ts';

const P = 'io.linkerd.proxy.identity';

export const CertifyRequest = message(`${P}.CertifyRequest`, [
  field(1, 'identity', 'string'),
  field(2, 'token', 'bytes'),
  field(3, 'certificate_signing_request', 'bytes'),
]);

export const CertifyResponse = message(`${P}.CertifyResponse`, [
  field(1, 'leaf_certificate', 'bytes'),
  field(2, 'intermediate_certificates', 'bytes', { repeated: true }),
  field(3, 'valid_until', 'message', { message: () => Timestamp }),
]);
