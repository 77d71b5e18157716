import { readFileSync } from 'node:fs';

/**
 * Just enough of an ELF64 little-endian reader to place a uprobe: a function symbol's file offset
 * (what uprobe_events wants) and the functions a binary imports. Reading the file ourselves keeps
 * binutils' text output out of the path to tracefs.
 */
const SHT_SYMTAB = 2;
const SHT_DYNSYM = 11;
const PT_LOAD = 1;
const STT_FUNC = 2;
const STT_GNU_IFUNC = 10;
const SHN_UNDEF = 0;
const SYMBOL_SIZE = 24;

export interface ElfSymbol {
  name: string;
  /** Virtual address (st_value); 0 for an undefined (imported) symbol. */
  value: number;
  isFunction: boolean;
  defined: boolean;
}

interface LoadSegment {
  offset: number;
  vaddr: number;
  filesz: number;
}

export interface ElfFile {
  path: string;
  symbols: ElfSymbol[];
  segments: LoadSegment[];
}

function header(buf: Buffer, path: string): void {
  if (buf.length < 64 || buf.readUInt32BE(0) !== 0x7f454c46) throw new Error(`${path} is not an ELF file`);
  if (buf[4] !== 2 || buf[5] !== 1) throw new Error(`${path} is not a 64-bit little-endian ELF file`);
}

function cString(buf: Buffer, at: number): string {
  const end = buf.indexOf(0, at);
  return buf.toString('latin1', at, end < 0 ? buf.length : end);
}

function readSymbols(buf: Buffer): ElfSymbol[] {
  const shoff = Number(buf.readBigUInt64LE(0x28));
  const shentsize = buf.readUInt16LE(0x3a);
  const shnum = buf.readUInt16LE(0x3c);
  const section = (i: number) => {
    const at = shoff + i * shentsize;
    return {
      type: buf.readUInt32LE(at + 4),
      offset: Number(buf.readBigUInt64LE(at + 0x18)),
      size: Number(buf.readBigUInt64LE(at + 0x20)),
      link: buf.readUInt32LE(at + 0x28),
    };
  };
  const symbols: ElfSymbol[] = [];
  for (let i = 0; i < shnum; i++) {
    const table = section(i);
    if (table.type !== SHT_SYMTAB && table.type !== SHT_DYNSYM) continue;
    const strtab = section(table.link).offset;
    for (let at = table.offset; at + SYMBOL_SIZE <= table.offset + table.size; at += SYMBOL_SIZE) {
      const type = buf[at + 4]! & 0xf;
      const shndx = buf.readUInt16LE(at + 6);
      symbols.push({
        name: cString(buf, strtab + buf.readUInt32LE(at)),
        value: Number(buf.readBigUInt64LE(at + 8)),
        isFunction: type === STT_FUNC || type === STT_GNU_IFUNC,
        defined: shndx !== SHN_UNDEF,
      });
    }
  }
  return symbols;
}

function readSegments(buf: Buffer): LoadSegment[] {
  const phoff = Number(buf.readBigUInt64LE(0x20));
  const phentsize = buf.readUInt16LE(0x36);
  const phnum = buf.readUInt16LE(0x38);
  const segments: LoadSegment[] = [];
  for (let i = 0; i < phnum; i++) {
    const at = phoff + i * phentsize;
    if (buf.readUInt32LE(at) !== PT_LOAD) continue;
    segments.push({
      offset: Number(buf.readBigUInt64LE(at + 8)),
      vaddr: Number(buf.readBigUInt64LE(at + 0x10)),
      filesz: Number(buf.readBigUInt64LE(at + 0x20)),
    });
  }
  return segments;
}

export function readElf(path: string): ElfFile {
  const buf = readFileSync(path);
  header(buf, path);
  return { path, symbols: readSymbols(buf), segments: readSegments(buf) };
}

/** File offset of a virtual address: where uprobe_events must point. */
function fileOffset(elf: ElfFile, vaddr: number): number {
  const seg = elf.segments.find((s) => vaddr >= s.vaddr && vaddr < s.vaddr + s.filesz);
  if (!seg) throw new Error(`address 0x${vaddr.toString(16)} of ${elf.path} is in no loadable segment`);
  return vaddr - seg.vaddr + seg.offset;
}

/** File offset of a function `name` that the file defines. */
export function functionFileOffset(elf: ElfFile, name: string): number {
  const sym = elf.symbols.find((s) => s.name === name && s.defined && s.isFunction);
  if (!sym) throw new Error(`${elf.path} defines no function ${name}`);
  return fileOffset(elf, sym.value);
}

/** Functions the file imports (undefined dynamic symbols), without version suffixes. */
export function importedFunctions(elf: ElfFile): Set<string> {
  return new Set(elf.symbols.filter((s) => !s.defined && s.isFunction).map((s) => s.name.split('@')[0]!));
}

/** Offsets, in `library`, of the functions `binary` imports from it: aliases (open, open64) share one. */
export function importedOffsets(binary: ElfFile, library: ElfFile): Set<number> {
  const imports = importedFunctions(binary);
  return new Set(library.symbols.filter((s) => s.defined && s.isFunction && imports.has(s.name)).map((s) => fileOffset(library, s.value)));
}
