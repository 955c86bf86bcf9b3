// Public surface of the health module (see README.md). Nothing here knows about DNS wire format or steering.
export type { HealthLogger, ProbeTarget, ProbeResult, ProbeContext, FailureReason, TargetUser } from './types';
export { FAILURE_REASONS, isFailureReason, silentLogger } from './types';

export {
  targetKey,
  targetCarryKey,
  buildTargets,
  makeTarget,
  targetProblems,
  forEachTargetUse,
  effectiveHost,
  effectivePort,
  defaultUserAgent,
  parseExpectedCodes,
} from './targets';
export type { TargetProblem, TargetUse } from './targets';

export { PROBES, probeOnce, probeAttempt, probeHttp, probeTcp, probeSmtp, probeIcmp, probeUdpIcmp } from './probes';
export type { ProbeFn, AttemptResult } from './probes';
export { icmpAvailable, ping } from './probes/icmp';

export { HealthStore, RTT_EWMA_ALPHA } from './store';
export type { TargetStatus, TargetState, Transition, HealthSnapshot, SnapshotEntry, TransitionListener } from './store';

export { evaluatePool, evaluateEndpoint } from './pool-state';
export type { PoolHealth, PoolState, EndpointHealth, MemberHealth, StatusOf } from './pool-state';

export { HealthScheduler } from './scheduler';
export type { SchedulerOptions, SchedulerStats } from './scheduler';

export { HealthEvents } from './events';
export type { HealthEvent, HealthEventOrigin, HealthEventMonitor, HealthEventListener, EventQuery } from './events';

export { WebhookNotifier, shouldNotify } from './notify';
export type { NotifierOptions, WebhookStats } from './notify';

export { loadStateFile, restoreStateFile, writeStateFile, writeStateFileSync, StateFileWriter } from './state-file';
export type { StateFileWriterOptions } from './state-file';

export { HealthService, checkHealthConfig } from './service';
export type { HealthServiceOptions } from './service';
