// How the public API's server-streaming calls read over HTTP/JSON: newline-delimited JSON messages, and
// a stream that fails ends with one `{error, code}` message (src/control/public-api/server.ts). One
// reader for both of its clients, the CLI and the dashboard.

/** The stream ended with the public API's `{error, code}` message; `message` is its error. */
export class StreamFailed extends Error {}

/** The messages of a newline-delimited JSON body, in order; throws StreamFailed at an error message. */
export async function* jsonLines(body: AsyncIterable<Uint8Array>): AsyncGenerator<Record<string, unknown>> {
  const decoder = new TextDecoder();
  let pending = '';
  for await (const chunk of body) {
    pending += decoder.decode(chunk, { stream: true });
    let newline: number;
    while ((newline = pending.indexOf('\n')) >= 0) {
      const line = pending.slice(0, newline).trim();
      pending = pending.slice(newline + 1);
      if (line === '') continue;
      const message = JSON.parse(line) as Record<string, unknown>;
      if (typeof message['error'] === 'string' && typeof message['code'] === 'number' && Object.keys(message).length === 2) {
        throw new StreamFailed(message['error']);
      }
      yield message;
    }
  }
}
