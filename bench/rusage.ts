/**
 * Preloaded into a kubestrap process a bench measures (NODE_OPTIONS=--import): at exit it writes
 * its own CPU time and peak resident memory to $KUBESTRAP_BENCH_RUSAGE, so the figures are
 * kubestrap's alone, not the lab hosts' that share the machine.
 */
import { writeFileSync } from 'node:fs';

const out = process.env.KUBESTRAP_BENCH_RUSAGE;
if (out)
  process.on('exit', () => {
    writeFileSync(out, JSON.stringify(process.resourceUsage()));
  });
