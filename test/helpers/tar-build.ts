/** Tar streams built block by block with node-tar's encoders, so they can hold anything at all. */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { gzipSync } from 'node:zlib';
import { Header, Pax, type HeaderData } from 'tar';

export interface TestEntry extends HeaderData {
  path: string;
  body?: Buffer | string;
  /** Write a pax header with these fields before the entry. */
  pax?: HeaderData;
}

export function tarBuffer(entries: TestEntry[], { eof = true } = {}): Buffer {
  const blocks: Buffer[] = [];
  for (const e of entries) {
    const { body: content, pax, ...fields } = e;
    const body = content === undefined ? undefined : Buffer.from(content);
    if (pax) blocks.push(new Pax({ ...pax }).encode());
    const h = new Header({ mode: 0o644, uid: 0, gid: 0, mtime: new Date('2020-01-01T00:00:00Z'), size: body?.length ?? 0, ...fields });
    h.encode();
    assert.ok(h.block);
    blocks.push(h.block);
    if (body) {
      blocks.push(body);
      blocks.push(Buffer.alloc((512 - (body.length % 512)) % 512));
    }
  }
  if (eof) blocks.push(Buffer.alloc(1024));
  return Buffer.concat(blocks);
}

/** The entries as a gzipped tar file at `file`; returns `file`. */
export async function writeTarGz(file: string, entries: TestEntry[]): Promise<string> {
  await writeFile(file, gzipSync(tarBuffer(entries)));
  return file;
}
