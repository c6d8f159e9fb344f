/**
 * Reading a file given by a user: only a regular file, only up to a stated size, and nothing that
 * can block. A FIFO, a device (`/dev/zero`) or a directory is refused from its fstat before any
 * byte is read; the file is opened with O_NONBLOCK, so opening a FIFO does not wait for a writer.
 */
import { constants } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';

/** What `readRegularFile` found wrong; `make` turns it into the caller's typed error. */
export type ReadProblem = 'missing' | 'unreadable' | 'not-regular' | 'too-large';

/** A name for what a non-regular file is. */
function kindOf(st: { isDirectory(): boolean; isFIFO(): boolean; isCharacterDevice(): boolean; isBlockDevice(): boolean; isSocket(): boolean }): string {
  return st.isDirectory() ? 'a directory' : st.isFIFO() ? 'a FIFO (named pipe)' : st.isCharacterDevice() ? 'a character device'
    : st.isBlockDevice() ? 'a block device' : st.isSocket() ? 'a socket' : 'not a regular file';
}

/**
 * Reads a whole regular file of at most `maxBytes`.
 * @param fail builds the caller's error from the problem and a sentence describing it.
 * @throws whatever `fail` returns.
 */
export async function readRegularFile(
  path: string, maxBytes: number, fail: (problem: ReadProblem, detail: string) => Error,
): Promise<Uint8Array> {
  let fh: FileHandle;
  try {
    fh = await open(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw fail('missing', 'the file does not exist');
    throw fail('unreadable', `it cannot be opened (${code ?? (err as Error).message})`);
  }
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw fail('not-regular', `it is ${kindOf(st)}, not a regular file`);
    if (st.size > maxBytes) throw fail('too-large', `it is ${st.size} bytes, more than the ${maxBytes} this reader accepts`);
    const buf = new Uint8Array(st.size);
    let got = 0;
    while (got < st.size) {
      const { bytesRead } = await fh.read(buf, got, st.size - got, got);
      if (bytesRead === 0) break;
      got += bytesRead;
    }
    if (got !== st.size) throw fail('unreadable', `it shrank while being read (${got} of ${st.size} bytes)`);
    return buf;
  } finally {
    await fh.close();
  }
}
