// The scorers and filters the MCDA policy uses, one list per kind. Everything else derives from
// these lists: default weights, SCHEDULER_WEIGHTS parsing, the MCDA loop and its component scores,
// exclusion labels in 503s and decision logs. A new one is a module in scorers/ or filters/ added
// to its list below, or registered at run time with registerScorer / registerFilter.
import { breakerFilter } from './filters/breaker.ts';
import { liveFilter } from './filters/live.ts';
import { memoryFilter } from './filters/memory.ts';
import { slotsFilter } from './filters/slots.ts';
import { memoryScorer } from './scorers/memory.ts';
import { performanceScorer } from './scorers/performance.ts';
import { prefixScorer } from './scorers/prefix.ts';
import { rttScorer } from './scorers/rtt.ts';
import { slotsScorer } from './scorers/slots.ts';
import type { FilterModule, ScorerModule } from './types.ts';

/** In SCHEDULER_WEIGHTS order (the order of component scores in logs). */
const scorers: ScorerModule[] = [
  memoryScorer,
  slotsScorer,
  rttScorer,
  performanceScorer,
  prefixScorer,
];

/** In order: the cheapest and most telling reasons first (the first that fires is recorded). */
const filters: FilterModule[] = [liveFilter, breakerFilter, memoryFilter, slotsFilter];

/** Names go into "name=weight,…" lists and log fields: a letter, then letters, digits, - or _. */
const NAME = /^[A-Za-z][\w-]*$/;

function register<T extends { readonly name: string }>(list: T[], kind: string, m: T): () => void {
  if (!NAME.test(m.name)) throw new Error(`${kind} name '${m.name}' must match ${NAME}`);
  if (list.some((x) => x.name === m.name)) {
    throw new Error(`a ${kind} named '${m.name}' is already registered`);
  }
  list.push(m);
  return () => {
    const i = list.indexOf(m);
    if (i >= 0) list.splice(i, 1);
  };
}

/**
 * Adds a scorer after the built-in ones; policies created from now on use it (with its default
 * weight unless SCHEDULER_WEIGHTS says otherwise). Returns a function that removes it again.
 */
export function registerScorer(scorer: ScorerModule): () => void {
  if (!Number.isFinite(scorer.defaultWeight) || scorer.defaultWeight < 0) {
    throw new Error(`scorer '${scorer.name}': default weight must be a number ≥ 0`);
  }
  return register(scorers, 'scorer', scorer);
}

/**
 * Adds a filter after the built-in ones; policies created from now on apply it. Returns a
 * function that removes it again.
 */
export function registerFilter(filter: FilterModule): () => void {
  return register(filters, 'filter', filter);
}

export function registeredScorers(): readonly ScorerModule[] {
  return [...scorers];
}

export function registeredFilters(): readonly FilterModule[] {
  return [...filters];
}

export function findScorer(name: string): ScorerModule | undefined {
  return scorers.find((s) => s.name === name);
}

/** The human label of a registered filter ("all slots busy"); the name itself if unknown. */
export function filterLabel(name: string): string {
  return filters.find((f) => f.name === name)?.label ?? name;
}

/** Every registered scorer at its default weight. */
export function defaultWeights(): Record<string, number> {
  return Object.fromEntries(scorers.map((s) => [s.name, s.defaultWeight]));
}

/** "memory (free memory after loading the model), slots (…)": for error messages. */
export function describeScorers(): string {
  return scorers.map((s) => `${s.name} (${s.label})`).join(', ');
}
