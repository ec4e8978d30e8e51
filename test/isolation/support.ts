import { randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';

/**
 * A client that asks for `path` and stops reading after its first bytes: the server's answer
 * fills the socket buffers and waits. A server that gives up on it closes the connection, which
 * the client only sees once it reads the bytes buffered before the close (`drain`).
 */
export interface StalledClient {
  socket: Socket;
  /** Starts reading again; resolves with every byte received once the connection has ended. */
  drain(): Promise<Buffer>;
}

/** A chunked answer that ended properly carries the last, empty chunk. */
export const isWholeChunkedAnswer = (bytes: Buffer): boolean => bytes.subarray(-5).toString('latin1') === '0\r\n\r\n';

export async function stallOn(baseUrl: string, path: string): Promise<StalledClient> {
  const { hostname, port } = new URL(baseUrl);
  const socket = connect({ host: hostname, port: Number(port) });
  const received: Buffer[] = [];
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  socket.on('error', () => undefined);
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', () => {
      socket.write(`GET ${path} HTTP/1.1\r\nHost: ${hostname}\r\nConnection: close\r\n\r\n`);
    });
    socket.on('data', (chunk: Buffer) => received.push(chunk));
    socket.once('data', (first: Buffer) => {
      socket.pause();
      const status = /^HTTP\/1\.1 (\d{3})/.exec(first.toString('latin1'))?.[1];
      if (status === '200') resolve();
      else reject(new Error(`GET ${path}: ${first.toString('latin1', 0, 200)}`));
    });
    socket.once('close', () => reject(new Error(`GET ${path}: closed before any byte`)));
  });
  // Let the answer fill the buffers between the two ends, so the export waits on the client.
  await new Promise((resolve) => setTimeout(resolve, 300));
  return {
    socket,
    drain: async () => {
      socket.resume();
      await closed;
      return Buffer.concat(received);
    },
  };
}

/** A random, barely compressible name: an export of such rows outgrows any socket buffer. */
export const bulkyName = (): string => randomBytes(180).toString('base64');

/**
 * A hired_employees CSV of `valid` rows (ids 1..valid, names of ~240 characters, 2020–2023) and
 * `invalid` rows after them whose department is not a number (rejected, with their long lines).
 */
export function bulkyEmployees(valid: number, invalid: number): Buffer {
  const lines: string[] = [];
  for (let id = 1; id <= valid + invalid; id++) {
    const department = id <= valid ? String(1 + (id % 12)) : 'x';
    lines.push(`${id},${bulkyName()},${2020 + (id % 4)}-0${1 + (id % 9)}-15T10:00:00Z,${department},${1 + (id % 100)}`);
  }
  return Buffer.from(lines.join('\n') + '\n');
}

/** An upload whose body is being sent: it holds the table's writer turn until `finish`. */
export interface OpenUpload {
  /** Sends the rest of the body; resolves with the answer's status line and body. */
  finish(rest: string): Promise<{ status: number; body: string }>;
  socket: Socket;
}

/** Starts `POST path` with a chunked text/csv body of which only `first` is sent. */
export async function openUpload(baseUrl: string, path: string, first: string): Promise<OpenUpload> {
  const { hostname, port } = new URL(baseUrl);
  const socket = connect({ host: hostname, port: Number(port) });
  socket.on('error', () => undefined);
  await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
  const chunk = (text: string): string => `${Buffer.byteLength(text).toString(16)}\r\n${text}\r\n`;
  socket.write(
    `POST ${path} HTTP/1.1\r\nHost: ${hostname}\r\nContent-Type: text/csv\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n${chunk(first)}`,
  );
  const received: Buffer[] = [];
  socket.on('data', (data: Buffer) => received.push(data));
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  return {
    socket,
    finish: async (rest) => {
      socket.write(`${rest === '' ? '' : chunk(rest)}0\r\n\r\n`);
      await closed;
      const text = Buffer.concat(received).toString('utf8');
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0);
      return { status, body: text.slice(text.indexOf('\r\n\r\n') + 4) };
    },
  };
}

/** Sends a request on a socket of its own and closes it without waiting for the answer. */
export async function sendAndLeave(baseUrl: string, method: string, path: string, json: unknown): Promise<void> {
  const { hostname, port } = new URL(baseUrl);
  const socket = connect({ host: hostname, port: Number(port) });
  socket.on('error', () => undefined);
  await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
  const body = JSON.stringify(json);
  socket.write(
    `${method} ${path} HTTP/1.1\r\nHost: ${hostname}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
  // Long enough for the server to read the request and queue its write behind the open upload.
  await new Promise((resolve) => setTimeout(resolve, 300));
  socket.destroy();
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
