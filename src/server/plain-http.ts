// A plain-HTTP request to the HTTPS port gets an HTTP answer that says so, as Go's servers give,
// instead of a TLS error the client shows as an empty reply. The first byte tells them apart: a TLS
// connection starts with a handshake record (0x16), an HTTP request with a method name.
import type { Socket } from 'node:net';
import type { Server as TlsServer } from 'node:tls';

export const PLAIN_HTTP_MESSAGE = 'Client sent an HTTP request to an HTTPS server.\n';
const ANSWER =
  'HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n' +
  `Content-Length: ${Buffer.byteLength(PLAIN_HTTP_MESSAGE)}\r\n\r\n${PLAIN_HTTP_MESSAGE}`;
const FIRST_BYTE_TIMEOUT_MS = 10_000;

type ConnectionListener = (socket: Socket) => void;

/**
 * Puts a first-byte check in front of the TLS server's own connection handling. Returns a function
 * that drops the connections still waiting for their first byte or in the middle of their TLS
 * handshake: the HTTP server does not know of them yet, so closing it would otherwise wait for
 * their timeouts (a stalled handshake's is two minutes).
 */
export function refusePlainHttp(server: TlsServer, onRefused: (socket: Socket) => void): () => void {
  const tlsListeners = server.listeners('connection') as ConnectionListener[];
  // Connections from their first byte to the end of their TLS handshake, by the peer's address and
  // port: the TLS socket that wraps one is not handed out before its handshake ends, and the address
  // and port, the same on both and unique among open connections, tell which one it was.
  const notYetHttp = new Map<string, Socket>();
  server.on('secureConnection', (secure: Socket) => notYetHttp.delete(peerOf(secure)));
  server.removeAllListeners('connection');
  server.on('connection', (socket: Socket) => {
    const dropped = (): void => void socket.destroy();
    const peer = peerOf(socket);
    notYetHttp.set(peer, socket);
    socket.once('close', () => {
      if (notYetHttp.get(peer) === socket) notYetHttp.delete(peer);
    });
    socket.on('error', dropped);
    socket.setTimeout(FIRST_BYTE_TIMEOUT_MS, dropped);
    socket.once('readable', () => {
      const chunk = socket.read() as Buffer | null;
      if (chunk === null) return dropped();
      if (isPlainHttp(chunk[0]!)) {
        notYetHttp.delete(peer);
        onRefused(socket);
        socket.end(ANSWER);
        return;
      }
      socket.off('error', dropped);
      socket.setTimeout(0);
      // TLS reads what the socket has buffered before it takes over the connection.
      socket.unshift(chunk);
      for (const listener of tlsListeners) listener.call(server, socket);
    });
  });
  return () => {
    for (const socket of notYetHttp.values()) socket.destroy();
  };
}

const peerOf = (socket: Socket): string => `${socket.remoteAddress} ${socket.remotePort}`;

/** HTTP methods start with an upper-case letter; a TLS record with 0x16. */
const isPlainHttp = (byte: number): boolean => byte >= 0x41 && byte <= 0x5a;
