/** `impasto video`'s own flags (here, apart from cli/video.ts, so that the help text loads nothing). */
import type { FlagDef } from './args.js';

export const VIDEO_FLAGS: readonly FlagDef[] = [
  { name: 'output', short: 'o', kind: 'string', arg: 'OUT', doc: 'a video file (.mp4, .mov, .mkv, .m4v; through ffmpeg) or a folder for the frames' },
  { name: 'start', kind: 'int', min: 0, arg: 'N', doc: 'the first frame to stylise, from 0 (default 0)' },
  { name: 'frames', kind: 'int', arg: 'N', doc: 'how many frames (default: to the end)' },
  { name: 'temporal-weight', kind: 'string', arg: 'T', doc: "the temporal loss's weight: of a scale-free term under auto-normalised presets like the default (default 10, measured); Ruder et al.'s own under raw presets, exactly under jcjohnson (default 1000, theirs); 0: off" },
  { name: 'long-term', kind: 'string', arg: 'J,…', doc: 'frame offsets of the temporal terms, closest first (default 1; Ruder et al.\'s long-term: 1,2,4)' },
  { name: 'frame-iterations', kind: 'int', arg: 'N', doc: 'optimiser steps for each frame after the first, which starts from the previous result (default: --iterations)' },
  { name: 'independent', kind: 'boolean', doc: 'stylise each frame on its own: no temporal loss, no warped start (flickers; for comparison)' },
  { name: 'fps', kind: 'number', arg: 'F', doc: 'frames per second of a video made from a folder of frames (default 25; a video input keeps its own)' },
  { name: 'keep-frames', kind: 'boolean', doc: 'keep <out>.work/ (decoded and stylised frames) after writing a video file' },
  { name: 'json', kind: 'boolean', doc: 'one JSON object per line on stdout: video-start, each frame, video-done' },
  { name: 'quiet', short: 'q', kind: 'boolean', doc: 'no progress output' },
];
