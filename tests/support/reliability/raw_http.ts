/**
 * HTTP requests written by hand on a TCP connection, for headers that
 * `fetch` will not send as given (a forged or missing `Host`).
 *
 * @module
 */

/** A response as it came over the wire. */
export interface RawResponse {
  status: number;
  /** Header names in lower case. */
  headers: Record<string, string>;
  /** What followed the headers until `until` matched or the server closed. */
  body: string;
}

/**
 * Sends `GET path` (or `method`) to 127.0.0.1:`port` with exactly the
 * header lines given (`Connection: close` added) and reads the answer
 * until the server closes the connection or the body matches `until`.
 */
export async function rawRequest(
  port: number,
  path: string,
  headerLines: string[],
  options: { method?: string; version?: string; until?: RegExp } = {},
): Promise<RawResponse> {
  const connection = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    const head = [
      `${options.method ?? "GET"} ${path} ${options.version ?? "HTTP/1.1"}`,
      ...headerLines,
      "Connection: close",
    ];
    await connection.write(new TextEncoder().encode(head.join("\r\n") + "\r\n\r\n"));
    return parse(await readAnswer(connection, options.until));
  } finally {
    connection.close();
  }
}

/** Reads until the server closes, or until the part after the headers matches `until`. */
async function readAnswer(connection: Deno.Conn, until?: RegExp): Promise<string> {
  const decoder = new TextDecoder();
  const buffer = new Uint8Array(65536);
  let text = "";
  while (true) {
    const read = await connection.read(buffer);
    if (read === null) return text;
    text += decoder.decode(buffer.subarray(0, read), { stream: true });
    const split = text.indexOf("\r\n\r\n");
    if (until && split >= 0 && until.test(text.slice(split + 4))) return text;
  }
}

function parse(text: string): RawResponse {
  const split = text.indexOf("\r\n\r\n");
  const [statusLine, ...lines] = text.slice(0, split).split("\r\n");
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(":");
    headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  return { status: Number(statusLine.split(" ")[1]), headers, body: text.slice(split + 4) };
}
