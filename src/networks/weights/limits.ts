/**
 * Size limits of the weight loaders, checked before anything is allocated from a file's own
 * numbers.
 */

/**
 * The largest weight file read, and the largest total a file's entries may inflate to (1.25 GiB):
 * VGG-19 with its fully connected layers is 548 MB in float32 and 1.1 GB in float64.
 */
export const MAX_WEIGHT_FILE_BYTES = 1.25 * 2 ** 30;

/** Deflate's largest expansion ratio (zlib's technical limit is 1032:1). */
export const MAX_DEFLATE_RATIO = 1032;
