// The Immich stack page's pure logic: the words and tones of a service's state and health, its
// uptime, CPU and memory in human units, and what a person with or without `stack.manage` may do.
// No fetching and no Svelte here (lib/stackLogs.ts holds the log buffer, lib/stackJobs for jobs).

import type { ContainerHealth, ContainerState, ServiceStatus, StackAction, StackService, StackStatus } from './api';
import { formatBytes, formatDuration, type Tone } from './format';

/** The services in the order the page shows them (the order the stack starts them). */
export const SERVICES: readonly StackService[] = ['database', 'redis', 'machine_learning', 'server'];

/** The job kind of an install or repair. */
export const INSTALL_JOB = 'stack.install';
/** The jobs that change the stack, shown live on its page (update and rollback start elsewhere). */
export const STACK_JOB_KINDS: readonly string[] = [INSTALL_JOB, 'stack.update', 'stack.rollback'];

/** For people: what each container is. */
export function serviceLabel(service: StackService): string {
  switch (service) {
    case 'database':
      return 'Database';
    case 'redis':
      return 'Job queue (Valkey)';
    case 'machine_learning':
      return 'Machine learning';
    case 'server':
      return 'Immich server';
  }
}

/** The name inside a sentence ("Stop the machine learning?", "Log of the Immich server"). */
export function serviceName(service: StackService): string {
  return service === 'server' ? 'Immich server' : service === 'redis' ? 'job queue (Valkey)' : serviceLabel(service).toLowerCase();
}

/** A line saying what the service does for the person, under its name. */
export function serviceRole(service: StackService): string {
  switch (service) {
    case 'database':
      return 'PostgreSQL: albums, people, and where every photo is.';
    case 'redis':
      return 'Holds the work Immich has still to do (thumbnails, video, faces).';
    case 'machine_learning':
      return 'Smart search and face recognition.';
    case 'server':
      return 'The Immich app and web page your family uses.';
  }
}

/** Words for the container's state. */
export function stateLabel(state: ContainerState): string {
  switch (state) {
    case 'missing':
      return 'Not there';
    case 'created':
      return 'Not started';
    case 'running':
      return 'Running';
    case 'restarting':
      return 'Restarting';
    case 'paused':
      return 'Paused';
    case 'exited':
      return 'Stopped';
    case 'dead':
      return 'Broken';
    case 'removing':
      return 'Being removed';
  }
}

export function stateTone(state: ContainerState): Tone {
  switch (state) {
    case 'running':
      return 'ok';
    case 'restarting':
    case 'paused':
    case 'created':
    case 'removing':
      return 'warn';
    case 'exited':
    case 'missing':
      return 'neutral';
    case 'dead':
      return 'bad';
  }
}

/** Words for the health check; null when the container has none (or is not running). */
export function healthLabel(health: ContainerHealth | null | undefined): string | null {
  switch (health) {
    case 'healthy':
      return 'Healthy';
    case 'starting':
      return 'Starting up';
    case 'unhealthy':
      return 'Unhealthy';
    default:
      return null;
  }
}

export function healthTone(health: ContainerHealth): Tone {
  return health === 'healthy' ? 'ok' : health === 'starting' ? 'info' : 'bad';
}

/** "Up 3 hours, 4 minutes", or null while it does not run. */
export function formatUptime(secs: number | null | undefined): string | null {
  if (secs == null || !Number.isFinite(secs) || secs < 0) return null;
  return formatDuration(secs);
}

/**
 * CPU as a share of one core: "0.4%", "12%", "150% (1.5 cores)". Null when the engine did not
 * say. Under 10% one decimal (idle containers differ in tenths), above that whole numbers.
 */
export function formatCpu(percent: number | null | undefined): string | null {
  if (percent == null || !Number.isFinite(percent) || percent < 0) return null;
  const n = percent < 10 ? percent.toFixed(1).replace(/\.0$/, '') : String(Math.round(percent));
  if (percent >= 100) return `${n}% (${(percent / 100).toFixed(1)} cores)`;
  return `${n}%`;
}

/** Memory in use, e.g. "512 MB"; null when the engine did not say. */
export function formatMemory(bytes: number | null | undefined): string | null {
  if (bytes == null || !Number.isFinite(bytes) || bytes < 0) return null;
  return formatBytes(bytes);
}

/**
 * How the service last ended, when it is not running: "Exited with code 137 (out of memory)",
 * "Exited normally". Null while it runs or when nothing is known.
 */
export function exitSummary(s: Pick<ServiceStatus, 'state' | 'exit_code' | 'oom_killed'>): string | null {
  if (s.state === 'running' || s.state === 'missing') return null;
  if (s.oom_killed) return `Killed for lack of memory${s.exit_code != null ? ` (exit code ${s.exit_code})` : ''}`;
  if (s.exit_code == null) return null;
  return s.exit_code === 0 ? 'Exited normally (code 0)' : `Exited with code ${s.exit_code}`;
}

/** "Restarted 3 times by the engine", or null for none. */
export function restartsLabel(count: number): string | null {
  if (!count) return null;
  return `Restarted ${count === 1 ? 'once' : `${count} times`} by itself`;
}

/** What "changed by hand" says about a drifted container, or null when it matches. */
export function driftLabel(drift: string | null | undefined): string | null {
  const d = drift?.trim();
  return d ? `Changed by hand: ${d}` : null;
}

/** The actions that make sense now (Start on a stopped service, Stop and Restart on a running one). */
export function actionsFor(state: ContainerState): StackAction[] {
  switch (state) {
    case 'running':
    case 'restarting':
    case 'paused':
      return ['restart', 'stop'];
    case 'missing':
      // Nothing to start: a Repair makes the container again.
      return [];
    default:
      return ['start'];
  }
}

export function actionLabel(action: StackAction): string {
  return action === 'start' ? 'Start' : action === 'stop' ? 'Stop' : 'Restart';
}

/** Stopping or restarting takes Immich away for a while: those are asked first. */
export function needsConfirm(action: StackAction): boolean {
  return action !== 'start';
}

/** The confirmation's title and text. */
export function confirmText(service: StackService, action: StackAction): { title: string; body: string } {
  const name = serviceName(service);
  // Machine learning alone can stop without taking Immich away: say what goes, not more.
  const what = service === 'machine_learning'
    ? "Immich's smart search and face recognition are unavailable"
    : service === 'server'
      ? 'Immich is unavailable (the app and the web page)'
      : 'Immich is unavailable';
  if (action === 'stop') {
    return {
      title: `Stop the ${name}?`,
      body: `${what} until you start it again here. Keepsake does not start it by itself.`,
    };
  }
  return { title: `Restart the ${name}?`, body: `${what} for a moment while it restarts (usually under a minute).` };
}

/** One sentence summing up the stack for the top of the page. */
export function stackHeadline(s: StackStatus): { tone: Tone; label: string } {
  if (s.engine_error) return { tone: 'bad', label: 'Cannot reach the container engine' };
  if (!s.installed) return { tone: 'neutral', label: 'Not installed' };
  if (s.healthy) return { tone: 'ok', label: 'Healthy' };
  const down = s.services.filter((v) => v.state !== 'running').length;
  if (down > 0) return { tone: 'warn', label: `${down === 1 ? 'One service is' : `${down} services are`} not running` };
  return { tone: 'warn', label: 'Not healthy yet' };
}

/** The services that differ from what Keepsake wants (a Repair converges them). */
export function drifted(s: StackStatus): ServiceStatus[] {
  return s.services.filter((v) => !!v.drift);
}

/** The services in page order (whatever order the agent sent). */
export function ordered(services: readonly ServiceStatus[]): ServiceStatus[] {
  return [...services].sort((a, b) => SERVICES.indexOf(a.service) - SERVICES.indexOf(b.service));
}
