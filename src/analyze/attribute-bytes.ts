import type { Digest, Image } from '../oci/index.ts';
import type { BuildGraph, Stage, Step } from '../plan/index.ts';
import { readLayerContents } from './read-layer.ts';

/** Where a layer's bytes came from. */
export type ByteSource =
  /** The final stage's base image (the layers before the first step). */
  | { readonly kind: 'base-image'; readonly ref: string }
  /** Copied from the build context (COPY, or ADD of local files). */
  | { readonly kind: 'context' }
  /** Downloaded by ADD <url>. */
  | { readonly kind: 'url' }
  /** Copied from another stage (COPY --from=<stage>), or made by a RUN/WORKDIR in a stage. */
  | { readonly kind: 'stage'; readonly stage: number; readonly name: string }
  /** Copied from an image (COPY --from=<image>). */
  | { readonly kind: 'image'; readonly ref: string };

/** One layer of the final image and the step that made it. */
export interface StepBytes {
  readonly layer: number;
  readonly digest: Digest;
  /** The blob as stored and pushed. */
  readonly compressedBytes: number;
  /** The uncompressed tar, when measured ({@link measureAttribution}). */
  readonly uncompressedBytes?: number;
  /** The stage whose step made the layer; undefined for base image layers. */
  readonly stage?: { readonly index: number; readonly name: string };
  /** The step, when the layer came from one: its index in the stage and its Dockerfile line. */
  readonly step?: { readonly index: number; readonly line: number; readonly instruction: string };
  /** The history entry's `created_by`. */
  readonly createdBy?: string;
  readonly source: ByteSource;
}

/** Bytes grouped by where they came from. */
export interface SourceBytes {
  /** `base image alpine:3.20`, `stage build`, `context`, `image busybox:1.36`, `url`. */
  readonly label: string;
  readonly source: ByteSource;
  readonly compressedBytes: number;
  readonly uncompressedBytes?: number;
  readonly layers: number;
}

/** The final image's bytes by step and by source (what `strata build` summarises). */
export interface ByteAttribution {
  readonly compressedBytes: number;
  readonly uncompressedBytes?: number;
  readonly steps: readonly StepBytes[];
  readonly bySource: readonly SourceBytes[];
  /**
   * False when the image's history could not be matched to the build graph's steps (an image not
   * built from this graph); then every layer is attributed to the base image.
   */
  readonly aligned: boolean;
}

/** What {@link attributeBytes} needs of a build: the image it made and the graph it ran. */
export interface AttributableBuild {
  readonly image: Pick<Image, 'layers' | 'config'>;
  readonly graph: BuildGraph;
}

/** The label of a source, as the summary prints it. */
export function sourceLabel(source: ByteSource): string {
  switch (source.kind) {
    case 'base-image':
      return `base image ${source.ref}`;
    case 'context':
      return 'context';
    case 'url':
      return 'url';
    case 'stage':
      return `stage ${source.name}`;
    case 'image':
      return `image ${source.ref}`;
  }
}

/** The target stage and the stages it is built FROM, root first. */
function stageChain(graph: BuildGraph): Stage[] {
  const chain: Stage[] = [];
  let stage: Stage | undefined = graph.stages[graph.target];
  while (stage && !chain.includes(stage)) {
    chain.unshift(stage);
    stage = stage.base.kind === 'stage' ? graph.stages[stage.base.stage] : undefined;
  }
  return chain;
}

function sourceOf(step: Step, stage: Stage, graph: BuildGraph): ByteSource {
  const here: ByteSource = { kind: 'stage', stage: stage.index, name: stage.displayName };
  if (step.kind === 'add')
    return step.sources.some((s) => /^[a-z][a-z0-9+.-]*:\/\//i.test(s))
      ? { kind: 'url' }
      : { kind: 'context' };
  if (step.kind !== 'copy') return here;
  switch (step.from.kind) {
    case 'context':
      return { kind: 'context' };
    case 'stage': {
      const from = graph.stages[step.from.stage];
      return { kind: 'stage', stage: step.from.stage, name: from?.displayName ?? `stage-${step.from.stage}` };
    }
    case 'image':
      return { kind: 'image', ref: step.from.ref.familiar() };
    case 'scratch':
      return here;
  }
}

const LAYER_STEPS = new Set(['run', 'copy', 'add', 'workdir']);

/**
 * Attributes the final image's bytes to the steps that made each layer and to where the bytes
 * came from: the base image, the context, a URL, another stage (`COPY --from=build`) or an image.
 *
 * BuildKit's history text for `COPY --from=build /app /app` does not name `build`, so the
 * history is not enough: every step of the target stage (and of the stages it is built FROM)
 * writes exactly one history entry, in order, after the base image's entries; the non-empty ones
 * map one-to-one onto the layers (OCI config.md, "history"). Pure; sizes are the compressed blob
 * sizes from the manifest. {@link measureAttribution} adds uncompressed sizes.
 */
export function attributeBytes(build: AttributableBuild): ByteAttribution {
  const { image, graph } = build;
  const history = image.config.history ?? [];
  const chain = stageChain(graph);
  // ONBUILD records a trigger without a history entry (BuildKit's dispatchOnbuild); every other
  // step writes exactly one.
  const steps = chain.flatMap((stage) =>
    stage.steps.filter((step) => step.kind !== 'onbuild').map((step) => ({ stage, step })),
  );
  const root = chain[0];
  const baseRef = root?.base.kind === 'image' ? root.base.text : 'scratch';
  const baseCount = history.length - steps.length;
  let aligned = baseCount >= 0;
  const out: StepBytes[] = [];
  let layer = 0;
  for (const [h, entry] of history.entries()) {
    if (entry.empty_layer) continue;
    const l = image.layers[layer];
    if (!l) {
      aligned = false;
      break;
    }
    const at = aligned && h >= baseCount ? steps[h - baseCount] : undefined;
    if (at && !LAYER_STEPS.has(at.step.kind)) aligned = false;
    const createdBy = entry.created_by;
    out.push({
      layer,
      digest: l.descriptor.digest,
      compressedBytes: l.descriptor.size,
      ...(createdBy !== undefined ? { createdBy } : {}),
      ...(at
        ? {
            stage: { index: at.stage.index, name: at.stage.displayName },
            step: {
              index: at.step.index,
              line: at.step.location.line,
              instruction: at.step.instruction.original,
            },
            source: sourceOf(at.step, at.stage, graph),
          }
        : { source: { kind: 'base-image', ref: baseRef } }),
    });
    layer++;
  }
  if (!aligned || layer !== image.layers.length) {
    aligned = false;
    out.length = 0;
    for (const [i, l] of image.layers.entries())
      out.push({
        layer: i,
        digest: l.descriptor.digest,
        compressedBytes: l.descriptor.size,
        source: { kind: 'base-image', ref: baseRef },
      });
  }
  return summarise(out, aligned);
}

function summarise(steps: readonly StepBytes[], aligned: boolean): ByteAttribution {
  const bySource = new Map<
    string,
    { source: ByteSource; compressed: number; uncompressed?: number; layers: number }
  >();
  for (const s of steps) {
    const label = sourceLabel(s.source);
    const entry = bySource.get(label) ?? { source: s.source, compressed: 0, layers: 0 };
    entry.compressed += s.compressedBytes;
    if (s.uncompressedBytes !== undefined)
      entry.uncompressed = (entry.uncompressed ?? 0) + s.uncompressedBytes;
    entry.layers++;
    bySource.set(label, entry);
  }
  const measured = steps.length > 0 && steps.every((s) => s.uncompressedBytes !== undefined);
  return {
    compressedBytes: steps.reduce((n, s) => n + s.compressedBytes, 0),
    ...(measured ? { uncompressedBytes: steps.reduce((n, s) => n + (s.uncompressedBytes ?? 0), 0) } : {}),
    steps,
    bySource: [...bySource.entries()]
      .map(([label, e]) => ({
        label,
        source: e.source,
        compressedBytes: e.compressed,
        ...(e.uncompressed !== undefined ? { uncompressedBytes: e.uncompressed } : {}),
        layers: e.layers,
      }))
      .sort((a, b) => b.compressedBytes - a.compressedBytes),
    aligned,
  };
}

/** {@link attributeBytes} plus each layer's uncompressed size (reads every layer blob once). */
export async function measureAttribution(
  build: AttributableBuild,
  options: { readonly signal?: AbortSignal } = {},
): Promise<ByteAttribution> {
  const base = attributeBytes(build);
  const steps: StepBytes[] = [];
  for (const s of base.steps) {
    const contents = await readLayerContents(build.image.layers[s.layer]!, options.signal);
    steps.push({ ...s, uncompressedBytes: contents.uncompressedSize });
  }
  return summarise(steps, base.aligned);
}
