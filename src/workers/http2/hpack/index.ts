// HPACK (RFC 7541) for Sluice's HTTP/2 engine: the public face of this folder. One HpackDecoder and
// one HpackEncoder per connection; header lists are flat [name0, value0, name1, value1, …] arrays of
// latin1 strings (one char per octet, like Node's rawHeaders); never-indexed fields travel as field
// numbers (field i = list[2i], list[2i + 1]) from a decoder's `lastNeverIndexed` to an encoder's
// `neverIndexed` argument. The folder imports nothing else from Sluice.
export { HpackDecoder, DEFAULT_TABLE_SIZE, type HpackDecoderOptions } from './decoder.ts';
export { HpackEncoder, type HpackEncoderOptions, type FieldIndexing } from './encoder.ts';
export { HpackDecodeError, HeaderListTooLargeError, type HpackFailure } from './errors.ts';
