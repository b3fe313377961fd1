import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as zlib from "zlib";
import { describe, expect, it } from "vitest";
import { encodeIdx, IdxError, parseIdx, readIdx } from "../src/data/idx";

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "vae-lab-idx-"));
function write(name: string, bytes: Uint8Array): string {
  const f = path.join(tmp, name);
  fs.writeFileSync(f, bytes);
  return f;
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
    expect(() => readIdx(f, 3)).toThrow(new RegExp(`^${f}: wrong magic number 0x12000803`));
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

  it("rejects trailing bytes", () => {
    const bytes = new Uint8Array([...encodeIdx(dims, data), 1, 2]);
    expect(() => parseIdx(bytes, "long")).toThrow(/long: 2 unexpected bytes after/);
  });

  it("rejects a missing file and corrupt gzip", () => {
    expect(() => readIdx(path.join(tmp, "nope"))).toThrow(/nope: file not found/);
    const f = write("broken.gz", new Uint8Array([0x1f, 0x8b, 8, 0, 1, 2, 3]));
    expect(() => readIdx(f)).toThrow(/broken.gz: corrupt gzip data/);
  });
});
