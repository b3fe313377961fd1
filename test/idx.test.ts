import { spawn, spawnSync } from "child_process";
import * as fs from "fs";
import fsModule from "fs";
import { syncBuiltinESMExports } from "module";
import * as net from "net";
import * as path from "path";
import * as zlib from "zlib";
import { describe, expect, it, vi } from "vitest";
import { errorOf, messageOf } from "./harness/errors";
import { scratchDir } from "./harness/scratch";
import { FileError } from "../src/files/file-error";
import { encodeIdx, IdxError, MAX_IDX_BYTES, parseIdx, parseIdxHeader, readIdx } from "../src/data/idx";

const tmp = scratchDir("vae-lab-idx-");
function write(name: string, bytes: Uint8Array): string {
  const f = path.join(tmp, name);
  fs.writeFileSync(f, bytes);
  return f;
}


/**
 * Run `f` while fs.statSync (also as src/data/idx.ts sees it) reports `fake` on top of the real stats: for a
 * block device, which a test cannot make, and for a size of exactly MAX_IDX_BYTES without reading 1 GiB.
 */
function withStats(fake: Partial<fs.Stats>, f: () => void): void {
  const realStat = fsModule.statSync;
  const spy = vi.spyOn(fsModule, "statSync").mockImplementation(((p: fs.PathLike) => Object.assign(realStat(p), fake)) as typeof fs.statSync);
  syncBuiltinESMExports();
  try {
    f();
  } finally {
    spy.mockRestore();
    syncBuiltinESMExports();
  }
}

describe("IDX parsing", () => {
  const dims = [2, 3, 4];
  const data = Array.from({ length: 24 }, (_, i) => i * 10);

  it("round-trips encode → parse", () => {
    const { dims: d, data: out } = parseIdx(encodeIdx(dims, data), "x", 3);
    expect(d).toEqual(dims);
    expect(Array.from(out)).toEqual(data);
  });

  it("writes the MNIST magic numbers", () => {
    expect(Array.from(encodeIdx([5, 28, 28], new Uint8Array(5 * 784)).subarray(0, 4))).toEqual([0, 0, 8, 3]);
    expect(Array.from(encodeIdx([5], new Uint8Array(5)).subarray(0, 4))).toEqual([0, 0, 8, 1]);
  });

  it("reads gzipped and plain files alike", () => {
    const bytes = encodeIdx(dims, data);
    const plain = readIdx(write("a-idx3-ubyte", bytes), 3);
    const gz = readIdx(write("a-idx3-ubyte.gz", zlib.gzipSync(bytes)), 3);
    expect(Array.from(gz.data)).toEqual(Array.from(plain.data));
  });

  it("rejects a wrong magic number, naming the file", () => {
    const bytes = encodeIdx(dims, data);
    bytes[0] = 0x12;
    const f = write("bad-magic", bytes);
    expect(() => readIdx(f, 3)).toThrow(IdxError);
    expect(messageOf(() => readIdx(f, 3))).toBe(`${f}: wrong magic number 0x12000803 (expected 0x00000803): not an IDX file`);
    expect(messageOf(() => readIdx(f, 1))).toBe(`${f}: wrong magic number 0x12000803 (expected 0x00000801): not an IDX file`);
  });

  it("checks each zero byte of the magic and the dimension count; names no expectation when given none", () => {
    const second = encodeIdx(dims, data);
    second[1] = 0x34;
    expect(messageOf(() => parseIdx(second, "b.idx"))).toBe("b.idx: wrong magic number 0x00340803: not an IDX file");
    expect(messageOf(() => parseIdx(new Uint8Array([0, 0, 8, 0]), "z.idx"))).toBe("z.idx: wrong magic number 0x00000800: not an IDX file");
  });

  it("errors are IdxErrors, named so where the stack or String(e) is printed", () => {
    const f = path.join(tmp, "missing");
    const e = errorOf(() => readIdx(f));
    expect(e).toBeInstanceOf(IdxError);
    expect(e).toBeInstanceOf(FileError);
    expect((e as IdxError).file).toBe(f);
    expect(e.name).toBe("IdxError");
    expect(String(e)).toBe(`IdxError: ${f}: file not found`);
    expect(e.stack?.split("\n")[0]).toBe(`IdxError: ${f}: file not found`);
  });

  it("rejects labels where images are expected (dimension count in the magic)", () => {
    const f = write("labels-as-images", encodeIdx([24], data));
    expect(() => readIdx(f, 3)).toThrow(/wrong magic number 0x00000801: 1 dimensions, expected 3/);
  });

  it("rejects a non-byte data type", () => {
    const bytes = encodeIdx(dims, data);
    bytes[2] = 0x0d; // float
    expect(() => parseIdx(bytes, "f.idx")).toThrow(/f.idx: unsupported IDX data type 0xd/);
  });

  it("rejects a truncated file, saying how much is missing", () => {
    const bytes = encodeIdx(dims, data).subarray(0, 4 + 12 + 20);
    const f = write("truncated", bytes);
    expect(() => readIdx(f, 3)).toThrow(new RegExp(`${f}: truncated: header promises 2×3×4 = 24 bytes of data, file has 20`));
    expect(() => parseIdx(new Uint8Array([0, 0]), "tiny")).toThrow(/tiny: truncated/);
    expect(() => parseIdx(new Uint8Array([0, 0, 8, 3, 0, 0]), "hdr")).toThrow(/hdr: truncated: header needs 16 bytes/);
  });

  it("the header's length is checked at its boundaries: 3 and 4 bytes, one short, exact", () => {
    expect(messageOf(() => parseIdx(new Uint8Array([0, 0, 8]), "three"))).toBe("three: truncated: 3 bytes, too short for an IDX header");
    // 4 bytes are enough for the magic number, which says the header needs 8.
    expect(messageOf(() => parseIdx(new Uint8Array([0, 0, 8, 1]), "four"))).toBe("four: truncated: header needs 8 bytes, file has 4");
    expect(messageOf(() => parseIdx(new Uint8Array([0, 0, 8, 1, 0, 0, 0]), "seven"))).toBe("seven: truncated: header needs 8 bytes, file has 7");
    // A header and nothing else is a whole file when it describes no data.
    const empty = parseIdx(encodeIdx([0], []), "empty", 1);
    expect(empty.dims).toEqual([0]);
    expect(empty.data.length).toBe(0);
  });

  it("refuses a header describing more than MAX_IDX_BYTES, and accepts one describing exactly that", () => {
    expect(MAX_IDX_BYTES).toBe(2 ** 30);
    expect(messageOf(() => parseIdxHeader(encodeIdx([32768, 32768], []), "huge"))).toBe(
      "huge: header describes 32768×32768 = 1073741824 bytes of data, more than the 1073741824 bytes an IDX file may have here",
    );
    // 16 header bytes + 2^30 − 16 data bytes = the limit.
    expect(parseIdxHeader(encodeIdx([1, 1, MAX_IDX_BYTES - 16], []), "limit")).toEqual({ dims: [1, 1, MAX_IDX_BYTES - 16], headerLen: 16, size: MAX_IDX_BYTES - 16 });
    expect(messageOf(() => parseIdxHeader(encodeIdx([1, 1, MAX_IDX_BYTES - 15], []), "over"))).toBe(
      "over: header describes 1×1×1073741809 = 1073741809 bytes of data, more than the 1073741824 bytes an IDX file may have here",
    );
  });

  it("rejects trailing bytes", () => {
    const bytes = new Uint8Array([...encodeIdx(dims, data), 1, 2]);
    expect(messageOf(() => parseIdx(bytes, "long"))).toBe("long: 2 unexpected bytes after the 2×3×4 data the header describes");
  });

  it("rejects a missing file and corrupt gzip", () => {
    expect(messageOf(() => readIdx(path.join(tmp, "nope")))).toBe(`${path.join(tmp, "nope")}: file not found`);
    const f = write("broken.gz", new Uint8Array([0x1f, 0x8b, 8, 0, 1, 2, 3]));
    expect(messageOf(() => readIdx(f))).toBe(`${f}: corrupt gzip data (unexpected end of file)`);
  });
});

describe("readIdx reads only regular files of bounded size", () => {
  it("refuses a folder", () => {
    expect(messageOf(() => readIdx(tmp))).toBe(`${tmp}: not a regular file (a folder)`);
  });

  it("refuses a FIFO (reading one would wait for a writer)", () => {
    const p = path.join(tmp, "fifo");
    expect(spawnSync("mkfifo", [p]).status).toBe(0);
    // A writer that gives any reader end-of-file at once, so that code which opens the FIFO fails here instead of hanging.
    const writer = spawn("sh", ["-c", ': > "$0"', p], { stdio: "ignore" });
    try {
      expect(messageOf(() => readIdx(p))).toBe(`${p}: not a regular file (a FIFO)`);
    } finally {
      writer.kill();
    }
  });

  it("refuses a character device such as /dev/null", () => {
    expect(messageOf(() => readIdx("/dev/null"))).toBe("/dev/null: not a regular file (a character device)");
  });

  it("refuses a block device", () => {
    const f = write("block", encodeIdx([1], [1]));
    withStats({ isFile: () => false, isBlockDevice: () => true }, () => {
      expect(messageOf(() => readIdx(f))).toBe(`${f}: not a regular file (a block device)`);
    });
  });

  it("refuses a socket", async () => {
    const p = path.join(tmp, "socket");
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen(p, resolve));
    try {
      expect(messageOf(() => readIdx(p))).toBe(`${p}: not a regular file (a socket)`);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it("refuses a file larger than MAX_IDX_BYTES by its size, before reading it", () => {
    const f = path.join(tmp, "sparse");
    fs.writeFileSync(f, "");
    fs.truncateSync(f, MAX_IDX_BYTES + 1); // sparse: takes no disk space
    try {
      expect(messageOf(() => readIdx(f))).toBe(`${f}: 1073741825 bytes, more than the 1073741824 bytes an IDX file may have here`);
    } finally {
      fs.rmSync(f);
    }
  });

  it("reads a file of exactly MAX_IDX_BYTES (its size as stat reports it)", () => {
    const f = write("at-limit", encodeIdx([2], [7, 9]));
    withStats({ size: MAX_IDX_BYTES }, () => {
      expect(Array.from(readIdx(f, 1).data)).toEqual([7, 9]);
    });
  });

  it("reports other failures to read with their code", () => {
    const f = write("not-a-folder", encodeIdx([1], [1]));
    const p = path.join(f, "inner");
    expect(messageOf(() => readIdx(p))).toBe(`${p}: cannot read (ENOTDIR)`);
  });
});

describe("readIdx and gzip", () => {
  const small = encodeIdx([2], [5, 6]);
  const dims3 = [1, 2, 2];

  it("tells gzip by both magic bytes, 0x1f 0x8b, and nothing less", () => {
    const first = encodeIdx(dims3, new Uint8Array(4));
    first[0] = 0x1f;
    const f1 = write("starts-1f", first);
    expect(messageOf(() => readIdx(f1, 3))).toBe(`${f1}: wrong magic number 0x1f000803 (expected 0x00000803): not an IDX file`);
    const second = encodeIdx(dims3, new Uint8Array(4));
    second[1] = 0x8b;
    const f2 = write("second-8b", second);
    expect(messageOf(() => readIdx(f2, 3))).toBe(`${f2}: wrong magic number 0x008b0803 (expected 0x00000803): not an IDX file`);
    // Two bytes are enough to be taken for gzip.
    const f3 = write("two-bytes", new Uint8Array([0x1f, 0x8b]));
    expect(messageOf(() => readIdx(f3))).toBe(`${f3}: corrupt gzip data (unexpected end of file)`);
  });

  it("reports corrupt gzip data seen while reading the header", () => {
    const bytes = Buffer.from(zlib.gzipSync(small));
    bytes[bytes.length - 8] ^= 0xff; // the CRC
    const f = write("bad-crc.gz", bytes);
    expect(messageOf(() => readIdx(f))).toBe(`${f}: corrupt gzip data (incorrect data check)`);
  });

  it("reports corrupt gzip data seen after the header", () => {
    const whole = zlib.gzipSync(small);
    const f = write("no-trailer.gz", whole.subarray(0, whole.length - 8)); // data intact, CRC and length cut off
    expect(messageOf(() => readIdx(f))).toBe(`${f}: corrupt gzip data (unexpected end of file)`);
  });

  it("refuses gzip data that decompress to more than the header describes, without decompressing them all", () => {
    const f = write("long.gz", zlib.gzipSync(new Uint8Array([...small, ...new Uint8Array(1000)])));
    expect(messageOf(() => readIdx(f))).toBe(`${f}: gzip data decompress to more than the 10 bytes the header describes`);
    // One byte more than described decompresses, and is then reported as a trailing byte.
    const g = write("one-more.gz", zlib.gzipSync(new Uint8Array([...small, 0])));
    expect(messageOf(() => readIdx(g))).toBe(`${g}: 1 unexpected bytes after the 2 data the header describes`);
  });

  it("refuses a stream with no IDX header in its first 64 KiB", () => {
    // 210 empty gzip members (4200 bytes: the header probe gets nothing out of them), then 70 000 zero bytes.
    const empties = Array.from({ length: 210 }, () => zlib.gzipSync(new Uint8Array(0)));
    const f = write("hidden.gz", Buffer.concat([...empties, zlib.gzipSync(new Uint8Array(70000))]));
    expect(messageOf(() => readIdx(f))).toBe(`${f}: corrupt gzip data (no IDX header at the start of the stream)`);
  });
});
