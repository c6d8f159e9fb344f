/**
 * Command-line flags derived from the option table (src/pipeline/options.ts): each option key
 * becomes a kebab-case flag (`contentWeight` → `--content-weight`); lists are comma-separated;
 * booleans are bare flags. Values are converted here and validated by the table.
 */
import { OPTION_DEFS, OptionDef, OptionError, StylizeOptions, validateOption } from '../src/pipeline/options.js';

/** camelCase → kebab-case. */
export function flagOf(key: string): string {
  return key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

/** CLI-only flags (not stylisation options). */
export const CLI_FLAGS: { name: string; short?: string; kind: 'string' | 'boolean' | 'int'; doc: string }[] = [
  { name: 'output', short: 'o', kind: 'string', doc: 'output image (.png, .jpg, .webp, .tif); default out.png' },
  { name: 'json', kind: 'boolean', doc: 'machine-readable output: one JSON object per line on stdout' },
  { name: 'snapshot-every', kind: 'int', doc: 'also write the current image every N iterations, as <output>_<N>.<ext>' },
  { name: 'print-every', kind: 'int', doc: 'print the loss every N iterations (instead of a progress bar)' },
  { name: 'quiet', short: 'q', kind: 'boolean', doc: 'no progress output' },
  { name: 'help', short: 'h', kind: 'boolean', doc: 'show this help' },
];

function convert(def: OptionDef, raw: string): unknown {
  const flag = `--${flagOf(def.key)}`;
  const num = (s: string) => {
    const v = s.trim() === '' ? NaN : Number(s);
    if (Number.isNaN(v) && s.trim().toLowerCase() !== 'nan') throw new OptionError(`invalid ${flag}: expected a number, received '${s}'`);
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

export interface ParsedArgs {
  positionals: string[];
  options: Partial<StylizeOptions>;
  cli: Record<string, string | boolean | number>;
}

/**
 * Parses argv (without node and script). Unknown flags are errors that name the closest flags.
 * @param extra additional command-specific string flags (e.g. `content`, `style` for score).
 * @throws OptionError
 */
export function parseArgs(argv: readonly string[], extra: string[] = []): ParsedArgs {
  const byFlag = new Map<string, OptionDef>(OPTION_DEFS.map((d) => [flagOf(d.key), d]));
  const cliByName = new Map(CLI_FLAGS.map((f) => [f.name, f]));
  const cliByShort = new Map(CLI_FLAGS.filter((f) => f.short).map((f) => [f.short!, f]));
  const out: ParsedArgs = { positionals: [], options: {}, cli: {} };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (!a.startsWith('-') || a === '-') {
      out.positionals.push(a);
      continue;
    }
    if (a === '--') {
      out.positionals.push(...argv.slice(i + 1));
      break;
    }
    let name: string;
    let value: string | undefined;
    if (a.startsWith('--')) {
      const eq = a.indexOf('=');
      name = eq > 0 ? a.slice(2, eq) : a.slice(2);
      value = eq > 0 ? a.slice(eq + 1) : undefined;
    } else {
      const f = cliByShort.get(a.slice(1));
      if (!f) throw new OptionError(`unknown flag '${a}'; run 'impasto --help' for the list`);
      name = f.name;
    }
    const takeValue = () => {
      if (value !== undefined) return value;
      const v = argv[i + 1];
      if (v === undefined || (v.startsWith('--') && v.length > 2)) throw new OptionError(`flag --${name} expects a value, received none`);
      i++;
      return v;
    };
    const def = byFlag.get(name);
    const cli = cliByName.get(name);
    if (def) {
      const v = def.kind === 'boolean' ? (value === undefined ? true : value !== 'false') : convert(def, takeValue());
      (out.options as Record<string, unknown>)[def.key] = validateOption(def, v);
    } else if (cli) {
      if (cli.kind === 'boolean') out.cli[name] = true;
      else if (cli.kind === 'int') {
        const raw = takeValue();
        const v = Number(raw);
        if (!Number.isInteger(v) || v < 1) throw new OptionError(`invalid --${name}: expected an integer ≥ 1, received '${raw}'`);
        out.cli[name] = v;
      } else out.cli[name] = takeValue();
    } else if (extra.includes(name)) {
      out.cli[name] = takeValue();
    } else {
      const all = [...byFlag.keys(), ...cliByName.keys(), ...extra];
      const near = all.filter((f) => f.includes(name) || name.includes(f)).slice(0, 3);
      throw new OptionError(`unknown flag '--${name}'${near.length ? `; did you mean ${near.map((f) => `--${f}`).join(' or ')}?` : ''} Run 'impasto --help' for the list`);
    }
  }
  return out;
}

/** The options section of the help text, generated from the table. */
export function optionsHelp(): string {
  const rows = OPTION_DEFS.map((d) => {
    const arg = d.kind === 'boolean' ? '' : d.choices ? ' NAME' : d.kind === 'numbers' ? ' N,N,…' : d.kind === 'strings' ? ' A,B,…' : d.kind === 'string' ? ' VALUE' : ' N';
    const def = d.defaultText ?? (d.default === undefined ? '' : String(d.default));
    const choices = d.choices ? `; one of ${d.choices.join(', ')}` : '';
    return [`  --${flagOf(d.key)}${arg}`, `${d.doc}${choices}${def && d.kind !== 'boolean' ? ` (default: ${def})` : ''}`];
  });
  for (const f of CLI_FLAGS) rows.push([`  ${f.short ? `-${f.short}, ` : ''}--${f.name}${f.kind === 'boolean' ? '' : ' N'.replace('N', f.kind === 'string' ? 'FILE' : 'N')}`, f.doc]);
  const w = Math.max(...rows.map((r) => r[0]!.length)) + 2;
  return rows.map(([a, b]) => a!.padEnd(w) + b).join('\n');
}
