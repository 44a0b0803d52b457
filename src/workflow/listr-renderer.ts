/**
 * The progress display of a run, drawn by listr2 from the engine's events: a tree that updates
 * in place on a terminal (`default`), or one line per step (`simple`, for logs and pipes). Each
 * stage is a task, each of its hosts a subtask that ends when the engine says the host is done.
 */
import { Listr, PRESET_TIMER, type ListrTask } from 'listr2';
import type { StageInfo, WorkflowEvent, WorkflowListener } from './events.js';

interface Deferred<T> {
  readonly promise: Promise<T>;
  resolve(value: T): void;
}

function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

type HostEnd = { readonly summary: string } | { readonly error: string };
type StageStart = { readonly hosts: readonly string[]; readonly skipped?: string };
type StageEnd = { readonly summary?: string; readonly error?: string };

/** What the engine said about one stage, waited for by its task whenever listr2 gets to it. */
class StageState {
  readonly started = deferred<StageStart>();
  readonly ended = deferred<StageEnd>();
  private readonly hosts = new Map<string, Deferred<HostEnd>>();
  /** The subtask of each running host, where its progress line goes. */
  readonly outputs = new Map<string, { output?: string }>();

  host(name: string): Deferred<HostEnd> {
    let d = this.hosts.get(name);
    if (!d) this.hosts.set(name, (d = deferred()));
    return d;
  }
}

export interface ListrRendering {
  readonly listener: WorkflowListener;
  /** Settles when the display has drawn the run's end. */
  readonly finished: Promise<void>;
}

/** Starts drawing the stages; the returned listener feeds it the engine's events. */
export function listrRenderer(stages: readonly StageInfo[], style: 'default' | 'simple'): ListrRendering {
  const states = new Map(stages.map((s) => [s.name, new StageState()]));
  const tasks: ListrTask[] = stages.map((stage) => ({
    title: stage.title,
    task: async (_ctx, task) => {
      const state = states.get(stage.name)!;
      const start = await state.started.promise;
      if (start.skipped) {
        task.skip(start.skipped);
        return;
      }
      if (stage.kind === 'read') {
        const end = await state.ended.promise;
        if (end.error) throw new Error(end.error);
        if (end.summary) task.title = end.summary;
        return undefined;
      }
      return task.newListr(
        start.hosts.map((host) => ({
          title: host,
          task: async (_c, sub) => {
            state.outputs.set(host, sub);
            const end = await state.host(host).promise;
            state.outputs.delete(host);
            if ('error' in end) throw new Error(`${host}: ${end.error}`);
            sub.title = end.summary;
          },
        })),
        { concurrent: true, exitOnError: false },
      );
    },
  }));
  const list = new Listr(tasks, {
    concurrent: false,
    exitOnError: false,
    renderer: style,
    fallbackRenderer: 'simple',
    rendererOptions: { timer: PRESET_TIMER, collapseSubtasks: false, collapseErrors: false },
    fallbackRendererOptions: { timer: PRESET_TIMER },
  });
  const finished = list.run().then(() => undefined);
  const listener = (event: WorkflowEvent) => {
    const state = 'stage' in event ? states.get(event.stage) : undefined;
    if (!state) return;
    switch (event.type) {
      case 'stage-start':
        state.started.resolve({ hosts: event.hosts, ...(event.skipped ? { skipped: event.skipped } : {}) });
        break;
      case 'host-progress': {
        const out = state.outputs.get(event.host);
        if (out) out.output = event.line;
        break;
      }
      case 'host-done':
        state.host(event.host).resolve({ summary: event.summary });
        break;
      case 'host-failed':
        state.host(event.host).resolve({ error: event.error });
        break;
      case 'stage-done':
        state.ended.resolve({ ...(event.summary ? { summary: event.summary } : {}), ...(event.error ? { error: event.error } : {}) });
        break;
    }
  };
  return { listener, finished };
}
