/**
 * A minimal Python unpickler for the binary opcodes that `torch.save` emits (protocol 2, the
 * default of torch.save, and the framing/memo opcodes of protocols 4 and 5), enough to read a
 * PyTorch state_dict. Protocol-0 and 1 text opcodes (INT, STRING, PUT, GET, …) other than GLOBAL are
 * not handled: such a file is refused as an unknown opcode. It executes nothing: globals are resolved through a small table of known
 * constructors (OrderedDict, torch's tensor-rebuild functions, storage classes); any other global
 * becomes an opaque `PyGlobal` value, so an untrusted file cannot run code.
 */
import { WeightFormatError } from './safetensors.js';

/** A reference to a Python global (module.name) that was not constructed. */
export class PyGlobal {
  constructor(readonly module: string, readonly name: string) {}
  get qualified(): string {
    return `${this.module}.${this.name}`;
  }
}

/** The result of calling an unknown global: kept for diagnostics. */
export class PyObject {
  constructor(readonly callee: PyGlobal, readonly args: unknown[]) {}
}

/** A tensor reference inside a torch pickle: storage plus view geometry. */
export interface TorchTensorRef {
  readonly kind: 'tensor';
  readonly storage: TorchStorageRef;
  readonly offset: number;
  readonly size: number[];
  readonly stride: number[];
}

/** A storage reference (persistent id): its dtype class, key and element count. */
export interface TorchStorageRef {
  readonly kind: 'storage';
  readonly type: string;
  readonly key: string;
  readonly numel: number;
}

const MARK = Symbol('mark');

function toNumber(v: unknown): number {
  return typeof v === 'bigint' ? Number(v) : (v as number);
}

/**
 * Unpickles one pickle from `buf` at `offset`.
 * @returns the value and the offset just after its STOP opcode.
 * @throws WeightFormatError on an unknown opcode or a truncated stream.
 */
export function unpickle(buf: Uint8Array, offset: number, what: string): { value: unknown; end: number } {
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  let pos = offset;
  const stack: unknown[] = [];
  const memo = new Map<number, unknown>();
  const need = (n: number) => {
    if (pos + n > buf.length) throw new WeightFormatError(`${what}: the pickle stream ends early (at byte ${buf.length}); the file is truncated`);
  };
  const u8 = () => (need(1), buf[pos++]!);
  const u32 = () => (need(4), (pos += 4), dv.getUint32(pos - 4, true));
  const text = (n: number) => (need(n), (pos += n), new TextDecoder().decode(buf.subarray(pos - n, pos)));
  const line = () => {
    const end = buf.indexOf(0x0a, pos);
    if (end < 0) throw new WeightFormatError(`${what}: the pickle stream ends early; the file is truncated`);
    const s = new TextDecoder().decode(buf.subarray(pos, end));
    pos = end + 1;
    return s;
  };
  const popMark = () => {
    const items: unknown[] = [];
    for (;;) {
      if (stack.length === 0) throw new WeightFormatError(`${what}: malformed pickle (MARK expected)`);
      const v = stack.pop();
      if (v === MARK) return items.reverse();
      items.push(v);
    }
  };
  const setItems = (target: unknown, items: unknown[]) => {
    for (let i = 0; i < items.length; i += 2) {
      if (target instanceof Map) target.set(items[i], items[i + 1]);
    }
  };
  const long = (n: number) => {
    need(n);
    let v = 0n;
    for (let i = n - 1; i >= 0; i--) v = (v << 8n) | BigInt(buf[pos + i]!);
    if (n > 0 && buf[pos + n - 1]! & 0x80) v -= 1n << BigInt(8 * n);
    pos += n;
    return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
  };
  const call = (callee: unknown, args: unknown[]): unknown => {
    if (!(callee instanceof PyGlobal)) return new PyObject(new PyGlobal('?', String(callee)), args);
    switch (callee.qualified) {
      case 'collections.OrderedDict':
      case 'builtins.dict':
        return new Map();
      case 'torch._utils._rebuild_tensor':
      case 'torch._utils._rebuild_tensor_v2': {
        const [storage, off, size, stride] = args as [TorchStorageRef, unknown, unknown[], unknown[]];
        const ref: TorchTensorRef = { kind: 'tensor', storage, offset: toNumber(off), size: size.map(toNumber), stride: stride.map(toNumber) };
        return ref;
      }
      default:
        return new PyObject(callee, args);
    }
  };
  for (;;) {
    const op = u8();
    switch (op) {
      case 0x80: u8(); break; // PROTO
      case 0x95: need(8); pos += 8; break; // FRAME
      case 0x2e: return { value: stack.pop(), end: pos }; // STOP
      case 0x28: stack.push(MARK); break; // MARK
      case 0x7d: stack.push(new Map()); break; // EMPTY_DICT
      case 0x5d: stack.push([]); break; // EMPTY_LIST
      case 0x29: stack.push([]); break; // EMPTY_TUPLE
      case 0x74: stack.push(popMark()); break; // TUPLE
      case 0x6c: stack.push(popMark()); break; // LIST
      case 0x64: { const m = new Map(); setItems(m, popMark()); stack.push(m); break; } // DICT
      case 0x85: stack.push([stack.pop()]); break; // TUPLE1
      case 0x86: { const b = stack.pop(); const a = stack.pop(); stack.push([a, b]); break; } // TUPLE2
      case 0x87: { const c = stack.pop(); const b = stack.pop(); const a = stack.pop(); stack.push([a, b, c]); break; } // TUPLE3
      case 0x61: { const v = stack.pop(); (stack.at(-1) as unknown[]).push(v); break; } // APPEND
      case 0x65: { const items = popMark(); (stack.at(-1) as unknown[]).push(...items); break; } // APPENDS
      case 0x73: { const v = stack.pop(); const k = stack.pop(); setItems(stack.at(-1), [k, v]); break; } // SETITEM
      case 0x75: { const items = popMark(); setItems(stack.at(-1), items); break; } // SETITEMS
      case 0x4a: need(4); stack.push(dv.getInt32(pos, true)); pos += 4; break; // BININT
      case 0x4b: stack.push(u8()); break; // BININT1
      case 0x4d: need(2); stack.push(dv.getUint16(pos, true)); pos += 2; break; // BININT2
      case 0x8a: stack.push(long(u8())); break; // LONG1
      case 0x8b: stack.push(long(u32())); break; // LONG4
      case 0x47: need(8); stack.push(dv.getFloat64(pos, false)); pos += 8; break; // BINFLOAT
      case 0x58: stack.push(text(u32())); break; // BINUNICODE
      case 0x8c: stack.push(text(u8())); break; // SHORT_BINUNICODE
      case 0x8d: { need(8); const n = Number(dv.getBigUint64(pos, true)); pos += 8; stack.push(text(n)); break; } // BINUNICODE8
      case 0x54: stack.push(text(u32())); break; // BINSTRING
      case 0x55: stack.push(text(u8())); break; // SHORT_BINSTRING
      case 0x42: { const n = u32(); need(n); stack.push(buf.subarray(pos, pos + n)); pos += n; break; } // BINBYTES
      case 0x43: { const n = u8(); need(n); stack.push(buf.subarray(pos, pos + n)); pos += n; break; } // SHORT_BINBYTES
      case 0x4e: stack.push(null); break; // NONE
      case 0x88: stack.push(true); break; // NEWTRUE
      case 0x89: stack.push(false); break; // NEWFALSE
      case 0x63: { const module = line(); const name = line(); stack.push(new PyGlobal(module, name)); break; } // GLOBAL
      case 0x93: { const name = stack.pop() as string; const module = stack.pop() as string; stack.push(new PyGlobal(module, name)); break; } // STACK_GLOBAL
      case 0x71: memo.set(u8(), stack.at(-1)); break; // BINPUT
      case 0x72: memo.set(u32(), stack.at(-1)); break; // LONG_BINPUT
      case 0x94: memo.set(memo.size, stack.at(-1)); break; // MEMOIZE
      case 0x68: stack.push(memo.get(u8())); break; // BINGET
      case 0x6a: stack.push(memo.get(u32())); break; // LONG_BINGET
      case 0x52: { const args = stack.pop() as unknown[]; const callee = stack.pop(); stack.push(call(callee, args)); break; } // REDUCE
      case 0x81: { const args = stack.pop() as unknown[]; const cls = stack.pop(); stack.push(call(cls, args)); break; } // NEWOBJ
      case 0x62: stack.pop(); break; // BUILD: state of an object (OrderedDict metadata, tensor hooks): ignored
      case 0x51: { // BINPERSID: ('storage', StorageClass, key, location, numel[, view])
        const pid = stack.pop() as unknown[];
        if (!Array.isArray(pid) || pid[0] !== 'storage') throw new WeightFormatError(`${what}: unsupported persistent id in the pickle`);
        const cls = pid[1] instanceof PyGlobal ? pid[1].name : String(pid[1]);
        const ref: TorchStorageRef = { kind: 'storage', type: cls, key: String(pid[2]), numel: toNumber(pid[4]) };
        stack.push(ref);
        break;
      }
      default:
        throw new WeightFormatError(`${what}: unsupported pickle opcode 0x${op.toString(16)} at byte ${pos - 1}; expected a PyTorch state_dict`);
    }
  }
}
