/**
 * Exit codes, and the error types that carry them. The CLI exits with `exitCode` of the error it
 * caught (1 for anything else: a bug, never a user's mistake); the library's callers can branch
 * on the class or on the code.
 *
 * | code | meaning |
 * |---|---|
 * | 0 | done |
 * | 1 | unexpected failure (a bug: please report it, with IMPASTO_DEBUG=1 for the stack) |
 * | 2 | bad usage: an unknown or invalid option, layer or preset (`OptionError`, `GraphBuildError`) |
 * | 3 | unreadable or invalid input: an image, a video, a weight file, the cache, a failed download, or a checkpoint that is corrupt or from another run (`ImageError`, `VideoError`, `WeightFormatError`, `WeightsCacheError`, `CheckpointError`) |
 * | 4 | the loss became NaN or infinite (`NonFiniteError`; stylising writes the last good image) |
 * | 5 | a program Impasto needs is not installed: ffmpeg for a video file (`MissingToolError`, video/media.ts) |
 * | 130 | interrupted (Ctrl-C, SIGTERM, or an aborted signal; the current image is written) |
 */
export const EXIT_CODES = { ok: 0, unexpected: 1, usage: 2, input: 3, nan: 4, missingTool: 5, interrupted: 130 } as const;

/** A bad or unreadable image: the message says what was expected and what to do. */
export class ImageError extends Error {
  override name = 'ImageError';
  readonly exitCode: number = EXIT_CODES.input;
}

/** An invalid option or argument; the message says what was expected, what was received, what to do. */
export class OptionError extends Error {
  override name = 'OptionError';
  readonly exitCode: number = EXIT_CODES.usage;
}

/** A checkpoint that cannot be resumed: unreadable, corrupt, or written by a run with other options or inputs. */
export class CheckpointError extends Error {
  override name = 'CheckpointError';
  readonly exitCode: number = EXIT_CODES.input;
}

/** A video that cannot be read, or an ffmpeg run that failed on it (video/media.ts). */
export class VideoError extends Error {
  override name = 'VideoError';
  readonly exitCode: number = EXIT_CODES.input;
}

/** A program Impasto needs is not installed (ffmpeg, for a video file); the message says how to install it. */
export class MissingToolError extends Error {
  override name = 'MissingToolError';
  readonly exitCode: number = EXIT_CODES.missingTool;
}

/** A loss, a term or a gradient became NaN or infinite (an overflow: weights too large, or NaN weights). */
export class NonFiniteError extends Error {
  override name = 'NonFiniteError';
  readonly exitCode: number = EXIT_CODES.nan;
}

/** The exit code for an error thrown by Impasto: the error's own, 130 for an abort, else 1. */
export function exitCodeOf(err: unknown): number {
  if (err && typeof err === 'object') {
    const code = (err as { exitCode?: unknown }).exitCode;
    if (typeof code === 'number') return code;
    if ((err as { name?: unknown }).name === 'AbortError') return EXIT_CODES.interrupted;
  }
  return EXIT_CODES.unexpected;
}
