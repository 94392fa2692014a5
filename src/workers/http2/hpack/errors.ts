// The two ways an HPACK header block can fail, as classes with stable codes, so the HTTP/2 engine can
// answer each correctly: a broken block desynchronises the connection's compression state (the only
// answer is a connection error COMPRESSION_ERROR, RFC 9113 §4.3), while a block that is merely too big
// was still decoded for its table updates, so the engine can refuse that one request (431) and go on.

/** Why a block was rejected; for logs and tests, the engine only needs `code`. */
export type HpackFailure =
  | 'truncated' // the block ends inside a representation
  | 'integer-overflow' // an integer longer than any sane table size, index or string length
  | 'bad-index' // index 0, or past the end of the static + dynamic table
  | 'huffman' // padding over 7 bits, padding that is not a prefix of EOS, or EOS inside a string
  | 'table-size-update'; // a size update after the first field, above the limit, or missing when due

/** The block cannot be decoded: a connection error of type COMPRESSION_ERROR (RFC 9113 §4.3). */
export class HpackDecodeError extends Error {
  readonly code = 'COMPRESSION_ERROR';
  /** The HTTP/2 error code to send in GOAWAY. */
  readonly http2Code = 0x9;
  readonly failure: HpackFailure;

  constructor(failure: HpackFailure, message: string) {
    super(`HPACK: ${message}`);
    this.name = 'HpackDecodeError';
    this.failure = failure;
  }
}

/**
 * The decoded header list is larger than SETTINGS_MAX_HEADER_LIST_SIZE (names + values + 32 per
 * field, RFC 9113 §6.5.2). The whole block was still processed, so the decoder's dynamic table stays
 * in sync and the connection can go on: answer this stream with 431 (or RST_STREAM) and carry on.
 */
export class HeaderListTooLargeError extends Error {
  readonly code = 'HEADER_LIST_TOO_LARGE';
  /** The size of the whole list as decoded, in octets by the RFC's accounting. */
  readonly listSize: number;
  readonly limit: number;

  constructor(listSize: number, limit: number) {
    super(`HPACK: header list of ${listSize} octets is over the limit of ${limit}`);
    this.name = 'HeaderListTooLargeError';
    this.listSize = listSize;
    this.limit = limit;
  }
}
