/**
 * Decides when an alert fires. Pure: it sees counts, events and the time it is given, never a
 * clock or the network, so tests are exact. A rule fires when its condition *becomes* true (a
 * crossing), not for every record while it stays true; after firing it keeps quiet for its
 * cooldown, and a rate rule re-arms only once the rate has dropped below its threshold again.
 */
import { counted } from '../../domain/counted.js';
import { AlertRuleKind, type ResolvedAlertRule } from './alert-options.js';
import type { EngineEvent } from '../../events/engine-event.js';
import { percent } from '../../policy/percent.js';

/** The run's running totals, sampled by the caller. */
export interface AlertCounts {
  readonly succeeded: number;
  readonly failed: number;
}

/** One alert to send. */
export interface Alert {
  readonly rule: AlertRuleKind;
  /** One sentence, without the job's name (the sender adds it). */
  readonly message: string;
  /** Failed ÷ finished, over the rule's window for a rate rule, over the run otherwise. */
  readonly failureRate: number;
  readonly failed: number;
  readonly finished: number;
  readonly atMs: number;
}

interface RuleState {
  readonly rule: ResolvedAlertRule;
  /** False after firing until the condition has been false again. */
  armed: boolean;
  lastFiredMs: number;
}

/** The event types `event()` can fire on; other events are not given to it. */
export const RULE_EVENT_TYPES: readonly EngineEvent['type'][] = Object.freeze(['breaker:opened', 'run:aborted', 'run:finished']);

/** Samples older than a window are dropped; samples closer than this are merged (bounded memory). */
const SAMPLE_SPACING_MS = 250;

export class AlertRules {
  private readonly states: RuleState[];
  /** Cumulative counts over time, for the rate rules' windows (oldest first). */
  private readonly samples: { atMs: number; counts: AlertCounts }[] = [];
  private readonly longestWindowMs: number;
  private last: AlertCounts = { succeeded: 0, failed: 0 };

  constructor(rules: readonly ResolvedAlertRule[]) {
    this.states = rules.map((rule) => ({ rule, armed: true, lastFiredMs: Number.NEGATIVE_INFINITY }));
    this.longestWindowMs = Math.max(0, ...rules.filter((r) => r.kind === AlertRuleKind.failureRate).map((r) => r.windowMs));
  }

  /** Feeds the run's totals at `nowMs`; returns the count and rate alerts that fire now. */
  sample(counts: AlertCounts, nowMs: number): Alert[] {
    this.last = counts;
    this.remember(counts, nowMs);
    const fired: Alert[] = [];
    for (const state of this.states) {
      const { rule } = state;
      if (rule.kind === AlertRuleKind.failureCount) {
        const finished = counts.succeeded + counts.failed;
        const alert = this.cross(state, counts.failed >= rule.threshold, nowMs, () => ({
          message: `${counted(counts.failed, 'record')} failed in this run (alert at ${rule.threshold})`,
          failureRate: rate(counts.failed, finished),
          failed: counts.failed,
          finished,
        }));
        if (alert) fired.push(alert);
      } else if (rule.kind === AlertRuleKind.failureRate) {
        const base = this.sampleAt(nowMs - rule.windowMs);
        const failed = counts.failed - base.failed;
        const finished = failed + counts.succeeded - base.succeeded;
        const r = rate(failed, finished);
        const alert = this.cross(state, finished >= rule.minRecords && r >= rule.threshold, nowMs, () => ({
          message: `${percent(r)} of the records finished in the last ${seconds(rule.windowMs)} failed (${failed} of ${finished}; alert at ${percent(rule.threshold)})`,
          failureRate: r,
          failed,
          finished,
        }));
        if (alert) fired.push(alert);
      }
    }
    return fired;
  }

  /** Feeds one engine event at `nowMs`; returns the event rules' alerts that fire now. */
  event(event: EngineEvent, nowMs: number): Alert[] {
    const fired: Alert[] = [];
    for (const state of this.states) {
      const { kind } = state.rule;
      let message: string | undefined;
      let counts = this.last;
      if (kind === AlertRuleKind.breakerOpened && event.type === 'breaker:opened') {
        message = `the circuit breaker opened: ${event.description}; intake is paused`;
      } else if (kind === AlertRuleKind.runAborted && event.type === 'run:aborted') {
        message = `the run was aborted: ${event.reason}`;
      } else if (
        kind === AlertRuleKind.thresholdExceeded &&
        event.type === 'run:finished' &&
        event.summary.status === 'threshold-exceeded'
      ) {
        counts = event.summary;
        const finished = counts.succeeded + counts.failed;
        message = `the run finished above its failure threshold: ${counts.failed} of ${finished} records failed (${percent(event.summary.failureRate)})`;
      } else if (kind === AlertRuleKind.runRegressed && event.type === 'run:finished') {
        // The regressions were found once, by the run's end, for its summary: the alert repeats them.
        const regressions = (event.summary.regressions ?? []).filter((r) => state.rule.compare.includes(r.kind));
        if (regressions.length > 0) {
          counts = event.summary.thisRun;
          message = regressions.map((r) => r.message).join('; ');
        }
      }
      if (message === undefined) continue;
      // An event is its own crossing: re-arm so the next one fires, unless within the cooldown.
      state.armed = true;
      const finished = counts.succeeded + counts.failed;
      const text = message;
      const alert = this.cross(state, true, nowMs, () => ({
        message: text,
        failureRate: rate(counts.failed, finished),
        failed: counts.failed,
        finished,
      }));
      if (alert) fired.push(alert);
    }
    return fired;
  }

  private cross(state: RuleState, holds: boolean, nowMs: number, describe: () => Omit<Alert, 'rule' | 'atMs'>): Alert | undefined {
    if (!holds) {
      state.armed = true;
      return undefined;
    }
    if (!state.armed || nowMs - state.lastFiredMs < state.rule.cooldownMs) return undefined;
    state.armed = false;
    state.lastFiredMs = nowMs;
    return { rule: state.rule.kind, atMs: nowMs, ...describe() };
  }

  private remember(counts: AlertCounts, nowMs: number): void {
    if (this.longestWindowMs === 0) return;
    const newest = this.samples.at(-1);
    if (newest && nowMs - newest.atMs < SAMPLE_SPACING_MS && this.samples.length > 1) newest.counts = counts;
    else this.samples.push({ atMs: nowMs, counts });
    // Keep one sample at or before the longest window's start: it is the base of that window.
    while (this.samples.length > 1 && (this.samples[1] as { atMs: number }).atMs <= nowMs - this.longestWindowMs) this.samples.shift();
  }

  /** The counts as they were at `atMs` (the latest sample not after it), or zero before the first. */
  private sampleAt(atMs: number): AlertCounts {
    let base: AlertCounts = { succeeded: 0, failed: 0 };
    for (const s of this.samples) {
      if (s.atMs > atMs) break;
      base = s.counts;
    }
    return base;
  }
}

function rate(failed: number, finished: number): number {
  return finished === 0 ? 0 : failed / finished;
}

function seconds(ms: number): string {
  return ms % 60_000 === 0 ? `${ms / 60_000} min` : `${ms / 1000} s`;
}
