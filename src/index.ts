/**
 * Impasto: neural style transfer by the optimisation method of Gatys, Ecker & Bethge (CVPR 2016),
 * on ONNX Runtime. This is the package's only public entry.
 *
 * @example
 * ```ts
 * import { stylize, writeImage } from 'impasto-nst';
 * const result = await stylize({ content: 'photo.jpg', style: 'painting.jpg', size: 384 }, {
 *   onEvent: (e) => { if (e.type === 'iterate') console.log(e.iteration, e.loss); },
 * });
 * await writeImage('out.png', result.image);
 * ```
 */
export { stylize, texture, planSize } from './pipeline/stylize.js';
export type { StylizeEvent, StylizeResult, StylizeRequest, TextureRequest, RunControl, ImageInput } from './pipeline/stylize.js';
export type { ScaleReport } from './pipeline/stylize.js';
export { planRequest } from './pipeline/plan-request.js';
export type { PlanReport } from './pipeline/plan-request.js';
export { readCheckpoint } from './pipeline/checkpoint.js';
export { CheckpointError } from './errors.js';
export { score } from './pipeline/score.js';
export type { ScoreResult, ScoreRequest } from './pipeline/score.js';
export { OPTION_DEFS, OptionError, validateOptions } from './pipeline/options.js';
export type { StylizeOptions, OptionDef } from './pipeline/options.js';
export { PRESETS, getPreset } from './losses/presets.js';
export type { Preset, PresetName } from './losses/presets.js';
export { DEFAULT_STRENGTH, STRENGTH_RANGES, styleWeightOf } from './losses/strength.js';
export { readImage, writeImage, ImageError } from './image/io-node.js';
export type { RgbImage } from './image/io-node.js';
export { loadWeightsFile, WeightFormatError } from './networks/weights/load.js';
export { addWeights } from './networks/weights/add.js';
export type { AddedWeights } from './networks/weights/add.js';
export { cacheDir, WEIGHT_SOURCES, WeightsCacheError } from './networks/weights/cache.js';
export { vggLayers, layerNames, randomVggWeights, CAFFE_PREPROCESS, TORCHVISION_PREPROCESS } from './networks/vgg.js';
export type { Architecture, Pooling, VggWeights, Preprocess } from './networks/vgg.js';
export { GraphBuildError } from './graph/builder.js';
export { resolveEngine, registerEngine, listEngines, EngineError } from './engine/index.js';
export type { Engine, Session, SessionOptions, HostTensor } from './engine/index.js';
export { lbfgs } from './optimizers/lbfgs.js';
export { adam } from './optimizers/adam.js';
export { planBatch, runBatch } from './jobs/batch.js';
export type { BatchJob, BatchSpec, BatchSummary, BatchEvent, BatchControl, JobOutcome } from './jobs/batch.js';
export { LocalQueue } from './jobs/local-queue.js';
export type { LocalQueueOptions } from './jobs/local-queue.js';
export { QueueFullError } from './jobs/jobs.js';
export type { JobQueue, JobInput, JobStatus, JobEvent, JobImage, JobState, EncodedImage } from './jobs/jobs.js';
export { RedisQueue, runWorker } from './jobs/redis-queue.js';
export type { RedisQueueOptions, RunningWorker } from './jobs/redis-queue.js';
export { stylizeVideo } from './video/video.js';
export type { VideoRequest, VideoControl, VideoEvent, VideoResult } from './video/video.js';
export { MissingToolError, VideoError } from './video/media.js';
export { warp, certainty, longTermCertainties, temporalTarget, DEFAULT_TEMPORAL_WEIGHT } from './losses/temporal.js';
export type { Flow, TemporalTarget } from './losses/temporal.js';
export { flowBetween } from './video/flow.js';
