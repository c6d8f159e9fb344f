/** Process entry of the `impasto` command: runs the CLI and exits with its code. */
import { main } from './main.js';

// A reader that stops early (`impasto weights list | head -1`) closes the pipe: that is not an
// error of ours, so exit quietly instead of crashing on EPIPE.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(0);
    throw err;
  });
}

const code = await main(process.argv.slice(2));
process.exit(code);
