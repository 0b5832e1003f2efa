import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { createTcpProxy, type TcpProxy } from './tcp-proxy.js';

/** An echo server as the upstream. */
function echoServer(): Promise<net.Server> {
  return new Promise((resolve) => {
    const server = net.createServer((socket) => {
      socket.on('error', () => {});
      socket.pipe(socket);
    });
    server.listen(0, '127.0.0.1', () => resolve(server));
  });
}

function connect(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ port, host: '127.0.0.1' }, () => resolve(socket));
    socket.once('error', reject);
  });
}

function roundTrip(socket: net.Socket, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    socket.once('data', (chunk: Buffer) => resolve(chunk.toString()));
    socket.once('error', reject);
    socket.write(text);
  });
}

function closedWith(socket: net.Socket): Promise<string> {
  return new Promise((resolve) => {
    socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? 'error'));
    socket.once('close', () => resolve('close'));
  });
}

describe('fault TCP proxy', () => {
  let upstream: net.Server;
  let proxy: TcpProxy;
  before(async () => {
    upstream = await echoServer();
    proxy = await createTcpProxy({
      upstream: { host: '127.0.0.1', port: (upstream.address() as net.AddressInfo).port },
    });
  });
  after(async () => {
    await proxy.close();
    await new Promise((resolve) => upstream.close(resolve));
  });

  it('forwards both ways', async () => {
    const socket = await connect(proxy.port);
    assert.equal(await roundTrip(socket, 'hello'), 'hello');
    socket.destroy();
  });

  it('reset() cuts live connections with a RST', async () => {
    const socket = await connect(proxy.port);
    assert.equal(await roundTrip(socket, 'a'), 'a');
    const closed = closedWith(socket);
    assert.equal(proxy.reset(), 1);
    assert.equal(await closed, 'ECONNRESET');
  });

  it('drop() refuses new connections until heal()', async () => {
    proxy.drop();
    const socket = net.connect({ port: proxy.port, host: '127.0.0.1' });
    assert.equal(await closedWith(socket), 'ECONNRESET');
    proxy.heal();
    const again = await connect(proxy.port);
    assert.equal(await roundTrip(again, 'b'), 'b');
    again.destroy();
  });

  it('delay() adds latency, heal() removes it', async () => {
    const socket = await connect(proxy.port);
    proxy.delay(150);
    let started = Date.now();
    assert.equal(await roundTrip(socket, 'c'), 'c');
    assert.ok(Date.now() - started >= 280, 'both directions are delayed');
    proxy.heal();
    started = Date.now();
    assert.equal(await roundTrip(socket, 'd'), 'd');
    assert.ok(Date.now() - started < 100);
    socket.destroy();
  });
});
