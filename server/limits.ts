/** The web server's limits on what a request may send or ask for. */
export interface ServerLimits {
  /** Largest upload, per file, in bytes. */
  readonly maxUploadBytes: number;
  /** Largest image accepted, in pixels (from its header, before decoding). */
  readonly maxPixels: number;
  /** Largest output: longest side in px (`size`, `width`, `height`; `area` ≤ its square). */
  readonly maxSize: number;
  /** Style images per job at most. */
  readonly maxStyles: number;
}

export const DEFAULT_LIMITS: ServerLimits = { maxUploadBytes: 25 * 1024 * 1024, maxPixels: 40_000_000, maxSize: 2048, maxStyles: 8 };
