/** Test helper: follows a child process's JSON-lines stdout (`impasto batch --json`). */
import type { ChildProcess } from 'node:child_process';

export interface JsonRun {
  code: number | null;
  lines: Record<string, unknown>[];
  stderr: string;
}

/** Collects each JSON line of `child`'s stdout (calling `onLine` as it comes) until it closes. */
export function jsonLines(child: ChildProcess, onLine?: (line: Record<string, unknown>) => void): Promise<JsonRun> {
  return new Promise((resolve) => {
    const lines: Record<string, unknown>[] = [];
    let out = '';
    let stderr = '';
    child.stdout!.on('data', (d) => {
      out += String(d);
      let i: number;
      while ((i = out.indexOf('\n')) >= 0) {
        const line = JSON.parse(out.slice(0, i)) as Record<string, unknown>;
        out = out.slice(i + 1);
        lines.push(line);
        onLine?.(line);
      }
    });
    child.stderr!.on('data', (d) => { stderr += String(d); });
    child.on('close', (code) => resolve({ code, lines, stderr }));
  });
}
