/**
 * The one argument parser of every subcommand, on node:util's parseArgs.
 *
 * Stylisation flags are derived from the option table (src/pipeline/options.ts): each option key
 * becomes a kebab-case flag (`contentWeight` → `--content-weight`); lists are comma-separated;
 * booleans are bare flags (`--original-colors`; `--original-colors=false` is refused, not read as
 * true). Each subcommand adds its own flags (`FlagDef`). Values are converted here and validated
 * by the table; unknown flags are errors that name the closest ones; a flag given twice is an error.
 */
import { parseArgs as nodeParseArgs } from 'node:util';
import { flagOf, OPTION_DEFS, OptionDef, OptionError, StylizeOptions, validateOption } from '../src/pipeline/options.js';

export { flagOf };

/** A subcommand's own flag (not a stylisation option). */
export interface FlagDef {
  readonly name: string;
  readonly short?: string;
  /** `int`: an integer ≥ `min` (default 1); `number`: finite and > 0; `string`: any text. */
  readonly kind: 'string' | 'boolean' | 'int' | 'number';
  readonly min?: number;
  /** Placeholder in the help text, e.g. FILE. */
  readonly arg?: string;
  readonly doc: string;
}

/** The flags every subcommand takes. */
export const COMMON_FLAGS: readonly FlagDef[] = [
  { name: 'help', short: 'h', kind: 'boolean', doc: 'show this help' },
];

export interface ParsedArgs {
  positionals: string[];
  /** Stylisation options given (validated one by one; cross-option rules come later). */
  options: Partial<StylizeOptions>;
  /** The subcommand's own flags, converted. */
  flags: Record<string, string | boolean | number>;
}

/** Edit distance, for "did you mean". */
function distance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...new Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0]![j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
  }
  return d[a.length]![b.length]!;
}

/** Up to three known flags closest to `name`. */
export function nearestFlags(name: string, known: readonly string[]): string[] {
  return known
    .map((k) => ({ k, d: k.includes(name) || name.includes(k) ? 1 : distance(name, k) }))
    .filter(({ d }) => d <= Math.max(2, Math.floor(name.length / 3)))
    .sort((a, b) => a.d - b.d)
    .slice(0, 3)
    .map(({ k }) => k);
}

function convertOption(def: OptionDef, raw: string): unknown {
  const flag = `--${flagOf(def.key)}`;
  const num = (s: string) => {
    const v = s.trim() === '' ? NaN : Number(s);
    if (Number.isNaN(v) && s.trim().toLowerCase() !== 'nan') {
      throw new OptionError(`invalid ${flag}: expected a number${def.unit ? ` of ${def.unit}, without the unit (${flag} 4)` : ''}, received '${s}'`);
    }
    return v;
  };
  switch (def.kind) {
    case 'number':
    case 'int':
      return num(raw);
    case 'numbers':
      return raw.split(',').map(num);
    case 'strings':
      return raw.split(',').map((s) => s.trim()).filter(Boolean);
    default:
      return raw;
  }
}

function convertFlag(def: FlagDef, raw: string | boolean): string | boolean | number {
  if (def.kind === 'boolean' || def.kind === 'string') return raw;
  const v = Number(raw);
  const min = def.min ?? (def.kind === 'int' ? 1 : 0);
  const ok = String(raw).trim() !== '' && Number.isFinite(v) && (def.kind === 'int' ? Number.isInteger(v) && v >= min : v > min);
  if (!ok) throw new OptionError(`invalid --${def.name}: expected ${def.kind === 'int' ? `an integer ≥ ${min}` : `a number > ${min}`}, received '${raw}'`);
  return v;
}

/**
 * `--flag -1` → `--flag=-1` for value flags, so that negative numbers reach validation (which
 * says why they are refused) instead of parseArgs's "ambiguous" error.
 */
function joinNegativeValues(argv: readonly string[], config: Record<string, { type: string }>): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const next = argv[i + 1];
    if (a.startsWith('--') && !a.includes('=') && config[a.slice(2)]?.type === 'string' && next !== undefined && /^-[\d.]/.test(next)) {
      out.push(`${a}=${next}`);
      i++;
    } else out.push(a);
  }
  return out;
}

/**
 * Parses argv (without node, script and subcommand).
 * @param flags the subcommand's own flags (COMMON_FLAGS are always added).
 * @param withOptions whether the stylisation options are accepted.
 * @throws OptionError naming the flag, what was expected and what was received.
 */
export function parseArgs(argv: readonly string[], flags: readonly FlagDef[], withOptions = true): ParsedArgs {
  const own = [...COMMON_FLAGS, ...flags];
  const defs = withOptions ? OPTION_DEFS.filter((d) => d.cli !== false) : [];
  const config: Record<string, { type: 'string' | 'boolean'; short?: string }> = {};
  for (const d of defs) config[flagOf(d.key)] = { type: d.kind === 'boolean' ? 'boolean' : 'string' };
  for (const f of own) config[f.name] = { type: f.kind === 'boolean' ? 'boolean' : 'string', ...(f.short ? { short: f.short } : {}) };
  const known = Object.keys(config);

  let parsed: ReturnType<typeof nodeParseArgs<{ args: string[]; options: typeof config; allowPositionals: true; strict: true; tokens: true }>>;
  try {
    parsed = nodeParseArgs({ args: joinNegativeValues(argv, config), options: config, allowPositionals: true, strict: true, tokens: true });
  } catch (err) {
    const code = (err as { code?: string }).code;
    const message = (err as Error).message;
    const flag = /'(-[^']*)'/.exec(message)?.[1] ?? '';
    if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
      const name = flag.replace(/^-+/, '').split('=')[0]!;
      const near = nearestFlags(name, known);
      throw new OptionError(`unknown flag '${flag}'${near.length ? `; did you mean ${near.map((f) => `--${f}`).join(' or ')}?` : ''} Run 'impasto --help' for the list`);
    }
    if (code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') {
      const name = flag.replace(/^-+/, '').split(/[ =]/)[0]!;
      if (config[name]?.type === 'boolean') {
        const given = argv.find((a) => a.startsWith(`--${name}=`)) ?? flag;
        throw new OptionError(`flag --${name} takes no value (it is on when given, off when left out), received '${given}'`);
      }
      throw new OptionError(`flag --${name} expects a value, received none`);
    }
    throw new OptionError(message);
  }

  const seen = new Set<string>();
  for (const tok of parsed.tokens ?? []) {
    if (tok.kind !== 'option') continue;
    if (seen.has(tok.name)) throw new OptionError(`flag --${tok.name} is given more than once; give it once${config[tok.name]?.type === 'string' ? ' (lists are comma-separated)' : ''}`);
    seen.add(tok.name);
    if (config[tok.name]?.type === 'string' && typeof tok.value === 'string' && tok.value.startsWith('--') && tok.value.length > 2 && !tok.inlineValue) {
      throw new OptionError(`flag --${tok.name} expects a value, received the flag '${tok.value}'`);
    }
  }

  const out: ParsedArgs = { positionals: parsed.positionals, options: {}, flags: {} };
  for (const [name, raw] of Object.entries(parsed.values)) {
    const def = defs.find((d) => flagOf(d.key) === name);
    if (def) {
      const v = def.kind === 'boolean' ? raw : convertOption(def, raw as string);
      (out.options as Record<string, unknown>)[def.key] = validateOption(def, v, `--${name}`);
    } else {
      out.flags[name] = convertFlag(own.find((f) => f.name === name)!, raw as string | boolean);
    }
  }
  return out;
}

/** Help rows for flags: the option table's (when `withOptions`) and the subcommand's own. */
export function flagsHelp(flags: readonly FlagDef[], withOptions = true): string {
  const rows: [string, string][] = [];
  if (withOptions) {
    for (const d of OPTION_DEFS.filter((o) => o.cli !== false)) {
      const arg = d.kind === 'boolean' ? '' : d.choices ? ' NAME' : d.kind === 'numbers' ? ' N,N,…' : d.kind === 'strings' ? ' A,B,…' : d.kind === 'string' ? ' VALUE' : ' N';
      const def = d.defaultText ?? (d.default === undefined ? '' : String(d.default));
      const choices = d.choices ? `; one of ${d.choices.join(', ')}` : '';
      rows.push([`  --${flagOf(d.key)}${arg}`, `${d.doc}${choices}${def && d.kind !== 'boolean' ? ` (default: ${def})` : ''}`]);
    }
  }
  for (const f of [...flags, ...COMMON_FLAGS]) {
    rows.push([`  ${f.short ? `-${f.short}, ` : ''}--${f.name}${f.kind === 'boolean' ? '' : ` ${f.arg ?? 'N'}`}`, f.doc]);
  }
  const w = Math.max(...rows.map((r) => r[0].length)) + 2;
  return rows.map(([a, b]) => a.padEnd(w) + b).join('\n');
}
