/**
 * plan — turns a parsed Dockerfile, build arguments, a target and a platform into a `BuildGraph`:
 * stages with their bases and dependencies (`FROM <stage>`, `COPY --from`, `RUN --mount from=`),
 * pruned to what the target needs, each step with its words expanded under BuildKit's ARG/ENV
 * scoping. Pure: no I/O; a solver runs the graph without re-reading the Dockerfile.
 *
 * planBuild (plan-build.ts) runs passes in BuildKit's order, each in its own file with a shared
 * PlanContext: stage names and target, global ARGs, stage bases with ONBUILD triggers, the stage
 * graph, then each stage's steps — one planner per instruction kind (plan-steps.ts's table).
 */
export * from './build-args.ts';
export type * from './build-graph.ts';
export * from './default-arg-bases.ts';
export * from './expose-ports.ts';
export * from './plan-build.ts';
export * from './run-invocation.ts';
export * from './stop-signal.ts';
