import { open } from 'node:fs/promises';

/** Write one byte inside a file in place (same inode): what bit rot through a hard link, dd or a bad copy does. */
export async function flipByte(file: string, at: number): Promise<void> {
  const fh = await open(file, 'r+');
  try {
    const b = Buffer.alloc(1);
    await fh.read(b, 0, 1, at);
    b[0] = b[0]! ^ 0xff;
    await fh.write(b, 0, 1, at);
  } finally {
    await fh.close();
  }
}
