/**
 * A small zip reader and writer, enough for PyTorch checkpoints (`torch.save` since 1.6 writes a
 * zip of stored, 64-byte aligned records).
 *
 * Reading handles stored and deflated entries, ZIP64 archives and entries, and checks every
 * entry's CRC-32. It reads through a {@link ByteSource}, so a multi-gigabyte checkpoint on disk is
 * read entry by entry instead of being held in memory whole.
 *
 * Writing produces stored entries only, aligned like PyTorch's writer (an `FB` padding extra
 * field), with fixed timestamps so the same input gives byte-identical archives, and ZIP64 records
 * where offsets or sizes need them. The archive comes out as a list of chunks that reference the
 * caller's data instead of one concatenated buffer.
 *
 * Memory stays bounded by what the archive declares: a stored entry must declare equal stored and
 * real sizes, a deflated one no more than deflate's maximal ratio (≈ 1032 : 1) of its compressed
 * bytes, and inflating stops at the declared size (a zip bomb is refused there). Duplicate entry
 * names are refused, as torch's reader does.
 *
 * Every problem with an archive is a `DataError` naming the file.
 *
 * @module
 */
import { closeSync, fstatSync, openSync, readSync } from "node:fs";
import { crc32 as zlibCrc32, inflateRawSync } from "node:zlib";
import { DataError } from "../util/errors.ts";

/** Random-access bytes: an in-memory buffer or an open file. */
export interface ByteSource {
  /** Total size in bytes. */
  readonly size: number;
  /** Reads exactly `length` bytes at `offset` into a fresh buffer (throws past the end). */
  read(offset: number, length: number): Uint8Array;
  /** Releases the underlying file, if any. */
  close(): void;
}

/** A {@link ByteSource} over bytes already in memory (reads return copies). */
export function bytesSource(bytes: Uint8Array): ByteSource {
  return {
    size: bytes.length,
    read(offset: number, length: number): Uint8Array {
      if (offset < 0 || length < 0 || offset + length > bytes.length) {
        throw new RangeError(`read of ${length} bytes at ${offset} past the end (${bytes.length})`);
      }
      return bytes.slice(offset, offset + length);
    },
    close(): void {},
  };
}

/** A {@link ByteSource} over a file, read with positioned reads (call `close()` when done). */
export function fileSource(path: string): ByteSource {
  const fd = openSync(path, "r");
  let size: number;
  try {
    size = fstatSync(fd).size;
  } catch (error) {
    closeSync(fd);
    throw error;
  }
  let open = true;
  return {
    size,
    read(offset: number, length: number): Uint8Array {
      if (offset < 0 || length < 0 || offset + length > size) {
        throw new RangeError(`read of ${length} bytes at ${offset} past the end (${size})`);
      }
      const out = new Uint8Array(length);
      let done = 0;
      while (done < length) {
        const n = readSync(fd, out, done, Math.min(length - done, 1 << 30), offset + done);
        if (n <= 0) throw new RangeError(`file ended at ${offset + done} while reading`);
        done += n;
      }
      return out;
    },
    close(): void {
      if (open) closeSync(fd);
      open = false;
    },
  };
}

/** CRC-32 (the zip/gzip polynomial) of `data`, continuing from `previous` for chunked input. */
export function crc32(data: Uint8Array, previous = 0): number {
  return zlibCrc32(data, previous) >>> 0;
}

/** One entry of a zip's central directory. */
export interface ZipEntry {
  /** Path inside the archive (UTF-8 decoded). */
  readonly name: string;
  /** 0 = stored, 8 = deflate. */
  readonly method: number;
  /** Bytes stored in the archive. */
  readonly compressedSize: number;
  /** Bytes after decompression. */
  readonly size: number;
  /** CRC-32 of the decompressed bytes. */
  readonly crc32: number;
  /** Offset of the entry's local header in the archive. */
  readonly localHeaderOffset: number;
}

const SIG_LOCAL = 0x04034b50;
const SIG_CENTRAL = 0x02014b50;
const SIG_EOCD = 0x06054b50;
const SIG_ZIP64_EOCD = 0x06064b50;
const SIG_ZIP64_LOCATOR = 0x07064b50;
const EOCD_SIZE = 22;
const ZIP64_LOCATOR_SIZE = 20;
const ZIP64_EOCD_SIZE = 56;
const MAX32 = 0xffffffff;
const MAX16 = 0xffff;
/** Deflate's largest possible expansion (258 bytes from one ~2-bit code), about 1032 : 1. */
const MAX_DEFLATE_RATIO = 1032;

/** Reads the central directory of a zip archive and extracts entries on demand. */
export class ZipReader {
  /** The archive's entries in central-directory order. */
  readonly entries: readonly ZipEntry[];
  readonly #byName: Map<string, ZipEntry>;
  readonly #source: ByteSource;
  readonly #file: string;

  private constructor(source: ByteSource, file: string, entries: ZipEntry[]) {
    this.#source = source;
    this.#file = file;
    this.entries = entries;
    this.#byName = new Map(entries.map((e) => [e.name, e]));
  }

  /**
   * Parses the archive's directory. `file` names the archive in error messages.
   * Throws `DataError` when the bytes are not a complete zip archive.
   */
  static open(source: ByteSource, file: string): ZipReader {
    const fail = (what: string): never => {
      throw new DataError(`${file}: ${what}`);
    };
    if (source.size < EOCD_SIZE) fail(`not a zip archive (only ${source.size} bytes)`);
    // The end record sits in the last 22 + 65535 (comment) bytes.
    const tailLength = Math.min(source.size, EOCD_SIZE + MAX16 + ZIP64_LOCATOR_SIZE);
    const tailStart = source.size - tailLength;
    const tail = source.read(tailStart, tailLength);
    const tv = view(tail);
    let eocd = -1;
    for (let i = tail.length - EOCD_SIZE; i >= 0; i--) {
      if (
        tv.getUint32(i, true) === SIG_EOCD &&
        i + EOCD_SIZE + tv.getUint16(i + 20, true) <= tail.length
      ) {
        eocd = i;
        break;
      }
    }
    if (eocd < 0) fail("not a zip archive or truncated (no end-of-central-directory record)");
    let count = tv.getUint16(eocd + 10, true);
    let cdSize = tv.getUint32(eocd + 12, true);
    let cdOffset = tv.getUint32(eocd + 16, true);
    let cdEnd = tailStart + eocd;
    if (count === MAX16 || cdSize === MAX32 || cdOffset === MAX32) {
      const loc = eocd - ZIP64_LOCATOR_SIZE;
      if (loc < 0 || tv.getUint32(loc, true) !== SIG_ZIP64_LOCATOR) {
        fail("ZIP64 archive without a ZIP64 end-of-central-directory locator");
      }
      const recordOffset = readU64(tv, loc + 8, file);
      if (recordOffset + ZIP64_EOCD_SIZE > source.size) fail("truncated ZIP64 end record");
      const rec = view(source.read(recordOffset, ZIP64_EOCD_SIZE));
      if (rec.getUint32(0, true) !== SIG_ZIP64_EOCD) {
        fail("bad ZIP64 end-of-central-directory record");
      }
      count = readU64(rec, 32, file);
      cdSize = readU64(rec, 40, file);
      cdOffset = readU64(rec, 48, file);
      cdEnd = recordOffset;
    }
    if (cdOffset + cdSize > cdEnd) {
      fail(`truncated or corrupt (central directory at ${cdOffset}+${cdSize} runs past ${cdEnd})`);
    }
    const cd = source.read(cdOffset, cdSize);
    const cv = view(cd);
    const decoder = new TextDecoder();
    const entries: ZipEntry[] = [];
    const seen = new Set<string>();
    let p = 0;
    for (let i = 0; i < count; i++) {
      if (p + 46 > cd.length || cv.getUint32(p, true) !== SIG_CENTRAL) {
        fail(`corrupt central directory (entry ${i} of ${count})`);
      }
      const flags = cv.getUint16(p + 8, true);
      const method = cv.getUint16(p + 10, true);
      const crc = cv.getUint32(p + 16, true);
      let compressedSize = cv.getUint32(p + 20, true);
      let size = cv.getUint32(p + 24, true);
      const nameLength = cv.getUint16(p + 28, true);
      const extraLength = cv.getUint16(p + 30, true);
      const commentLength = cv.getUint16(p + 32, true);
      let localHeaderOffset = cv.getUint32(p + 42, true);
      const next = p + 46 + nameLength + extraLength + commentLength;
      if (next > cd.length) fail(`corrupt central directory (entry ${i} of ${count})`);
      const name = decoder.decode(cd.subarray(p + 46, p + 46 + nameLength));
      if (flags & 1) fail(`entry '${name}' is encrypted`);
      // ZIP64 extra field: the 64-bit values appear only for the fields saturated above.
      let e = p + 46 + nameLength;
      const extraEnd = e + extraLength;
      while (e + 4 <= extraEnd) {
        const id = cv.getUint16(e, true);
        const len = cv.getUint16(e + 2, true);
        if (id === 0x0001) {
          let q = e + 4;
          const take = (): number => {
            if (q + 8 > e + 4 + len) fail(`entry '${name}' has a short ZIP64 extra field`);
            const v = readU64(cv, q, file);
            q += 8;
            return v;
          };
          if (size === MAX32) size = take();
          if (compressedSize === MAX32) compressedSize = take();
          if (localHeaderOffset === MAX32) localHeaderOffset = take();
        }
        e += 4 + len;
      }
      if (seen.has(name)) {
        // torch refuses these too: which copy a reader picks is unspecified, so a crafted file
        // could show one tensor to a zip tool and another to the loader.
        fail(`duplicate zip entry '${name}' (a corrupt or crafted archive)`);
      }
      seen.add(name);
      if (method === 0 && compressedSize !== size) {
        fail(`stored entry '${name}' declares ${compressedSize} stored and ${size} real bytes`);
      }
      if (method === 8 && size > compressedSize * MAX_DEFLATE_RATIO + 1024) {
        fail(
          `entry '${name}' declares ${size} bytes from ${compressedSize} compressed, more than ` +
            `deflate can produce (a zip bomb or a corrupt directory)`,
        );
      }
      entries.push({ name, method, compressedSize, size, crc32: crc, localHeaderOffset });
      p = next;
    }
    return new ZipReader(source, file, entries);
  }

  /** The entry called `name`, or `undefined`. */
  get(name: string): ZipEntry | undefined {
    return this.#byName.get(name);
  }

  /** Extracts an entry's bytes, inflating deflated entries and checking the CRC-32. */
  read(entry: ZipEntry | string): Uint8Array {
    const fail = (what: string): never => {
      throw new DataError(`${this.#file}: ${what}`);
    };
    const found = typeof entry === "string" ? this.#byName.get(entry) : entry;
    if (found === undefined) return fail(`missing zip entry '${entry as string}'`);
    const e = found;
    if (e.localHeaderOffset + 30 > this.#source.size) fail(`entry '${e.name}' is truncated`);
    const header = view(this.#source.read(e.localHeaderOffset, 30));
    if (header.getUint32(0, true) !== SIG_LOCAL) fail(`entry '${e.name}' has a bad local header`);
    const dataStart = e.localHeaderOffset + 30 + header.getUint16(26, true) +
      header.getUint16(28, true);
    if (dataStart + e.compressedSize > this.#source.size) {
      fail(
        `entry '${e.name}' is truncated (needs ${e.compressedSize} bytes at ${dataStart}, ` +
          `file has ${this.#source.size})`,
      );
    }
    const raw = this.#source.read(dataStart, e.compressedSize);
    let data: Uint8Array;
    if (e.method === 0) {
      data = raw;
    } else if (e.method === 8) {
      try {
        // Never inflate past the size the directory declares (a bomb stops there).
        data = new Uint8Array(inflateRawSync(raw, { maxOutputLength: Math.max(1, e.size) }));
      } catch (error) {
        const message = (error as Error).message;
        if (/larger than|ERR_BUFFER_TOO_LARGE|maxOutputLength/i.test(message)) {
          return fail(
            `entry '${e.name}' inflates to more than the ${e.size} bytes its directory declares ` +
              `(a zip bomb or a corrupt file)`,
          );
        }
        return fail(`entry '${e.name}' does not inflate: ${message}`);
      }
    } else {
      return fail(`entry '${e.name}' uses unsupported compression method ${e.method}`);
    }
    if (data.length !== e.size) {
      fail(`entry '${e.name}' has ${data.length} bytes, the directory says ${e.size}`);
    }
    if (crc32(data) !== e.crc32) fail(`entry '${e.name}' fails its CRC-32 check (corrupt file)`);
    return data;
  }

  /** Closes the underlying source. */
  close(): void {
    this.#source.close();
  }
}

/** One entry to write: a name and its bytes, possibly in several chunks. */
export interface ZipInput {
  readonly name: string;
  /** Contents; chunks are written in order. */
  readonly data: Uint8Array | readonly Uint8Array[];
}

/** Options of {@link buildZip}. */
export interface ZipWriteOptions {
  /** Data start alignment in bytes (PyTorch uses 64). Default 64. */
  align?: number;
  /** Write ZIP64 records for every entry even when not needed (for tests). Default false. */
  forceZip64?: boolean;
}

// 1980-01-01 00:00:00 in DOS format keeps the output independent of the clock.
const DOS_TIME = 0;
const DOS_DATE = (0 << 9) | (1 << 5) | 1;

/**
 * Builds a zip archive of stored entries. Returns the archive as chunks (entry data chunks are the
 * caller's arrays, not copies); concatenated, they are the file.
 */
export function buildZip(inputs: readonly ZipInput[], options: ZipWriteOptions = {}): Uint8Array[] {
  const align = options.align ?? 64;
  const force = options.forceZip64 ?? false;
  const encoder = new TextEncoder();
  const out: Uint8Array[] = [];
  const central: Uint8Array[] = [];
  let offset = 0;
  for (const input of inputs) {
    const chunks = input.data instanceof Uint8Array ? [input.data] : input.data;
    let size = 0;
    let crc = 0;
    for (const c of chunks) {
      size += c.length;
      crc = crc32(c, crc);
    }
    const name = encoder.encode(input.name);
    const zip64 = force || size >= MAX32 || offset >= MAX32;
    // Local ZIP64 extra carries both sizes (the local header has no offset field).
    const local64 = zip64 ? 4 + 16 : 0;
    const start = offset + 30 + name.length + local64 + 4;
    const padding = (align - (start % align)) % align;
    const local = new Uint8Array(30 + name.length + local64 + 4 + padding);
    const lv = view(local);
    lv.setUint32(0, SIG_LOCAL, true);
    lv.setUint16(4, zip64 ? 45 : 20, true);
    lv.setUint16(6, 0x0800, true); // names are UTF-8
    lv.setUint16(8, 0, true);
    lv.setUint16(10, DOS_TIME, true);
    lv.setUint16(12, DOS_DATE, true);
    lv.setUint32(14, crc, true);
    lv.setUint32(18, zip64 ? MAX32 : size, true);
    lv.setUint32(22, zip64 ? MAX32 : size, true);
    lv.setUint16(26, name.length, true);
    lv.setUint16(28, local64 + 4 + padding, true);
    local.set(name, 30);
    let q = 30 + name.length;
    if (zip64) {
      lv.setUint16(q, 0x0001, true);
      lv.setUint16(q + 2, 16, true);
      writeU64(lv, q + 4, size);
      writeU64(lv, q + 12, size);
      q += 20;
    }
    lv.setUint16(q, 0x4246, true); // "FB", PyTorch's padding field
    lv.setUint16(q + 2, padding, true);
    local.fill(0x5a, q + 4); // "Z"
    out.push(local, ...chunks);

    const needOffset64 = force || offset >= MAX32;
    const needSize64 = force || size >= MAX32;
    const c64 = (needSize64 ? 16 : 0) + (needOffset64 ? 8 : 0);
    const cent = new Uint8Array(46 + name.length + (c64 ? 4 + c64 : 0));
    const cv = view(cent);
    cv.setUint32(0, SIG_CENTRAL, true);
    cv.setUint16(4, zip64 ? 45 : 20, true);
    cv.setUint16(6, zip64 ? 45 : 20, true);
    cv.setUint16(8, 0x0800, true);
    cv.setUint16(10, 0, true);
    cv.setUint16(12, DOS_TIME, true);
    cv.setUint16(14, DOS_DATE, true);
    cv.setUint32(16, crc, true);
    cv.setUint32(20, needSize64 ? MAX32 : size, true);
    cv.setUint32(24, needSize64 ? MAX32 : size, true);
    cv.setUint16(28, name.length, true);
    cv.setUint16(30, c64 ? 4 + c64 : 0, true);
    cv.setUint32(42, needOffset64 ? MAX32 : offset, true);
    cent.set(name, 46);
    if (c64) {
      let r = 46 + name.length;
      cv.setUint16(r, 0x0001, true);
      cv.setUint16(r + 2, c64, true);
      r += 4;
      if (needSize64) {
        writeU64(cv, r, size);
        writeU64(cv, r + 8, size);
        r += 16;
      }
      if (needOffset64) writeU64(cv, r, offset);
    }
    central.push(cent);
    offset += local.length + size;
  }
  const cdOffset = offset;
  let cdSize = 0;
  for (const c of central) cdSize += c.length;
  out.push(...central);
  const count = inputs.length;
  const zip64End = force || count >= MAX16 || cdOffset >= MAX32 || cdSize >= MAX32;
  if (zip64End) {
    const rec = new Uint8Array(ZIP64_EOCD_SIZE + ZIP64_LOCATOR_SIZE);
    const rv = view(rec);
    rv.setUint32(0, SIG_ZIP64_EOCD, true);
    writeU64(rv, 4, ZIP64_EOCD_SIZE - 12);
    rv.setUint16(12, 45, true);
    rv.setUint16(14, 45, true);
    writeU64(rv, 24, count);
    writeU64(rv, 32, count);
    writeU64(rv, 40, cdSize);
    writeU64(rv, 48, cdOffset);
    rv.setUint32(56, SIG_ZIP64_LOCATOR, true);
    writeU64(rv, 64, cdOffset + cdSize);
    rv.setUint32(72, 1, true);
    out.push(rec);
  }
  const end = new Uint8Array(EOCD_SIZE);
  const ev = view(end);
  ev.setUint32(0, SIG_EOCD, true);
  ev.setUint16(8, zip64End ? MAX16 : count, true);
  ev.setUint16(10, zip64End ? MAX16 : count, true);
  ev.setUint32(12, zip64End ? MAX32 : cdSize, true);
  ev.setUint32(16, zip64End ? MAX32 : cdOffset, true);
  out.push(end);
  return out;
}

/** Concatenates chunks into one buffer. */
export function concatChunks(chunks: readonly Uint8Array[]): Uint8Array {
  let total = 0;
  for (const c of chunks) total += c.length;
  const out = new Uint8Array(total);
  let p = 0;
  for (const c of chunks) {
    out.set(c, p);
    p += c.length;
  }
  return out;
}

function view(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function readU64(v: DataView, offset: number, file: string): number {
  const value = v.getBigUint64(offset, true);
  if (value > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new DataError(`${file}: ZIP64 value ${value} is out of range (corrupt file)`);
  }
  return Number(value);
}

function writeU64(v: DataView, offset: number, value: number): void {
  v.setBigUint64(offset, BigInt(value), true);
}
