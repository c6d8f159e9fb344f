/**
 * `impasto plan` as a library call: the plan of the run a request would make (its scales, blocks,
 * predicted peak memory and seconds per evaluation), without running it.
 */
import { memoryBudget } from './memory.js';
import { maxEvaluationsOf } from './stylize.js';
import { planRun, type RunPlan } from './plan.js';
import { checkRequest, type StylizeOptions } from './options.js';
import { prepareSetup, type ProblemRequest, type SetupControl } from './prepare.js';

/** A plan, as `impasto plan --json` prints it. */
export interface PlanReport {
  /** The memory budget, bytes. */
  readonly budget: number;
  /** L-BFGS correction pairs the run would keep (undefined with Adam). */
  readonly history?: number;
  readonly scales: readonly { width: number; height: number; blocks: number; bytes: number; seconds: number; evaluations: number }[];
  /** The largest predicted peak, bytes, and the seconds of every scale's evaluation budget. */
  readonly bytes: number;
  readonly seconds: number;
  readonly notes: readonly string[];
}

/**
 * Plans the run `request` describes: reads the image headers and loads the network; decodes no
 * image and computes no target or graph.
 * @throws OptionError as a run would, e.g. when nothing fits the memory budget.
 */
export async function planRequest(request: ProblemRequest, control: SetupControl = {}): Promise<PlanReport> {
  checkRequest(request, 'planRequest');
  /** Thrown by the hook once the plan is made: nothing is decoded. */
  class Planned extends Error {
    constructor(readonly plan: RunPlan, readonly o: StylizeOptions) {
      super('planned');
    }
  }
  let made: Planned;
  try {
    await prepareSetup(request, {
      ...control,
      beforeDecode: (spec, net, o, given) => {
        throw new Planned(planRun(spec, net, o, given, o.tileable ? net.minSide(net.layers) : 1), o);
      },
    });
    throw new Error('the set-up did not reach its planning stage');
  } catch (err) {
    if (!(err instanceof Planned)) throw err;
    made = err;
  }
  const { plan, o } = made;
  for (const n of plan.notes) control.onNotice?.(n);
  // Adam evaluates once per step plus the start point; L-BFGS may use up to its evaluation budget.
  const evaluations = o.optimizer === 'adam' ? Math.min(o.iterations + 1, maxEvaluationsOf(o)) : maxEvaluationsOf(o);
  const scales = plan.scales.map((s) => ({ width: s.width, height: s.height, blocks: s.tiles?.blocks.length ?? 0, bytes: s.bytes, seconds: s.seconds, evaluations }));
  return {
    budget: memoryBudget(o), history: o.optimizer === 'lbfgs' ? plan.history : undefined, scales,
    bytes: Math.max(...scales.map((s) => s.bytes)), seconds: scales.reduce((a, s) => a + s.seconds * s.evaluations, 0), notes: plan.notes,
  };
}
