/** A request hidden in another one's body, and framings that could be read two ways around it. */
export const SMUGGLE = 'GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n'

/** Requests whose framing can be read two ways, each followed by `hidden`: every one must be refused. */
export function ambiguousFramings (hidden: string = SMUGGLE): string[] {
  return [
    `POST /echo HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n${hidden}`,
    `POST /echo HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n0\r\n\r\n${hidden}`,
    `POST /echo HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\nContent-Length: ${hidden.length}\r\n\r\n${hidden}`,
    `POST /echo HTTP/1.1\r\nHost: h\r\nContent-Length: ${hidden.length}\r\nContent-Length: 0\r\n\r\n${hidden}`,
    `POST /echo HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: xchunked\r\n\r\n${hidden}`,
    `POST /echo HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n${hidden}`,
    `POST /echo HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n\r\n0\r\n\r\n${hidden}`,
    `POST /echo HTTP/1.1\r\nHost: h\r\nTransfer-Encoding:\x0bchunked\r\n\r\n0\r\n\r\n${hidden}`,
    `POST /echo HTTP/1.1\r\nHost: h\r\nContent-Length: +4\r\n\r\n0\r\n\r\n${hidden}`
  ]
}
