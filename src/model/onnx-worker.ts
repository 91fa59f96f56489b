/**
 * Entry of the inference worker thread (see session-host.ts): it owns ONNX Runtime sessions
 * created through onnx.ts and answers create/run/release requests. onnxruntime-node runs a
 * session synchronously on the thread that calls it, so running it here keeps the main event
 * loop free for decoding, Kafka heartbeats and HTTP while a batch runs.
 */
import { parentPort } from 'node:worker_threads';
import { ClipnError, toClipnError } from '../errors.js';
import { createSession, createSessionFromBytes, type OnnxSession, type Output } from './onnx.js';
import type { HostReply, HostRequest } from './session-host.js';

const port = parentPort;
if (port === null) throw new ClipnError('INTERNAL', 'onnx-worker is the inference worker thread\'s entry, not a module to import');

const sessions = new Map<number, OnnxSession>();
let nextSession = 1;

async function handle(request: Exclude<HostRequest, { op: 'close' }>): Promise<{ value: unknown; transfer: ArrayBuffer[] }> {
  switch (request.op) {
    case 'create': {
      const { source, name, options } = request;
      const session = typeof source === 'string' ? await createSession(source, options) : await createSessionFromBytes(source, name, options);
      const handle = nextSession++;
      sessions.set(handle, session);
      const { provider, inputNames, outputNames, inputShapes } = session;
      return { value: { handle, provider, inputNames, outputNames, inputShapes }, transfer: [] };
    }
    case 'run': {
      const out = await sessionOf(request.session).run(request.feeds);
      // Copies: ONNX Runtime may own the output memory, and a copy is a plain buffer to transfer.
      const value: Record<string, Output> = {};
      for (const [name, o] of Object.entries(out)) value[name] = { data: new Float32Array(o.data), dims: [...o.dims] };
      return { value, transfer: Object.values(value).map((o) => o.data.buffer as ArrayBuffer) };
    }
    case 'release': {
      const session = sessions.get(request.session);
      sessions.delete(request.session);
      await session?.release();
      return { value: null, transfer: [] };
    }
  }
}

function sessionOf(handle: number): OnnxSession {
  const session = sessions.get(handle);
  if (session === undefined) throw new ClipnError('INFERENCE_FAILED', `no session ${handle} in the inference worker (released?)`);
  return session;
}

// Runs in flight: the worker ends only when none is. Ending it from outside (Worker.terminate)
// while onnxruntime-node is inside a run aborts the whole process when the run returns.
let inFlight = 0;
let closing = false;

function endWhenIdle(): void {
  if (!closing || inFlight > 0) return;
  const open = [...sessions.values()];
  sessions.clear();
  void Promise.allSettled(open.map((s) => s.release())).then(() => port!.close());
}

port.on('message', (request: HostRequest) => {
  if (request.op === 'close') {
    closing = true;
    endWhenIdle();
    return;
  }
  inFlight++;
  handle(request)
    .then(
      ({ value, transfer }) => port.postMessage({ id: request.id, ok: true, value } satisfies HostReply, transfer),
      (error: unknown) => {
        const e = toClipnError(error, 'INFERENCE_FAILED');
        port.postMessage({ id: request.id, ok: false, error: e.toJSON() } satisfies HostReply);
      },
    )
    .finally(() => {
      inFlight--;
      endWhenIdle();
    });
});
