/** The naive checkpoint pattern (see naive-checkpoint.mjs), writing the Set every 100 records. */
import { runNaive } from './naive-checkpoint.mjs';

export const run = (context) => runNaive(context, 100);
