import http from 'node:http';

export interface RawResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/**
 * A request through node:http that still reports the answer when the server answers early and
 * closes (e.g. 413 before the whole body was sent), which fetch reports as a network error.
 */
export function rawRequest(
  url: string,
  options: {
    method?: string;
    headers?: Record<string, string | number>;
    body?: Buffer;
    chunked?: boolean;
    path?: string;
  },
): Promise<RawResponse> {
  const target = new URL(url);
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: target.hostname,
        port: target.port,
        method: options.method ?? 'POST',
        path: options.path ?? target.pathname + target.search,
        headers: options.headers,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks).toString('utf8'),
          }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', (error) => reject(error));
    if (options.body) {
      if (options.chunked) {
        // Write in 64 KiB chunks without a Content-Length (Transfer-Encoding: chunked).
        const body = options.body;
        let offset = 0;
        const writeMore = () => {
          while (offset < body.length) {
            const chunk = body.subarray(offset, offset + 65536);
            offset += chunk.length;
            if (!req.write(chunk)) {
              req.once('drain', writeMore);
              return;
            }
          }
          req.end();
        };
        req.on('error', () => {});
        writeMore();
        return;
      }
      req.on('error', () => {});
      req.end(options.body);
    } else req.end();
  });
}
