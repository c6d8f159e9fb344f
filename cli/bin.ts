/** Process entry of the `impasto` command: runs the CLI and exits with its code. */
import { main } from './main.js';

const code = await main(process.argv.slice(2));
process.exit(code);
