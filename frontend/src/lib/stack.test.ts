import { describe, expect, it } from 'vitest';
import type { ServiceStatus, StackStatus } from './api';
import {
  actionsFor,
  confirmText,
  driftLabel,
  exitSummary,
  formatCpu,
  formatMemory,
  formatUptime,
  healthLabel,
  needsConfirm,
  ordered,
  restartsLabel,
  serviceLabel,
  stackHeadline,
  stateLabel,
  stateTone,
} from './stack';

function svc(over: Partial<ServiceStatus> = {}): ServiceStatus {
  return {
    service: 'server',
    container: 'immich_server',
    state: 'running',
    health: 'healthy',
    started_at: null,
    uptime_secs: 60,
    restart_count: 0,
    exit_code: null,
    oom_killed: false,
    image: 'x',
    running_image: null,
    version: 'v3.1.0',
    drift: null,
    cpu_percent: null,
    memory_bytes: null,
    ...over,
  };
}

function status(over: Partial<StackStatus> = {}): StackStatus {
  return { installed: true, version: 'v3.1.0', healthy: true, machine_learning: true, engine_error: null, services: [svc()], ...over };
}

describe('service words', () => {
  it('names the services as the issue asks', () => {
    expect(serviceLabel('database')).toBe('Database');
    expect(serviceLabel('redis')).toBe('Job queue (Valkey)');
    expect(serviceLabel('machine_learning')).toBe('Machine learning');
    expect(serviceLabel('server')).toBe('Immich server');
  });
  it('says every state in words, with a tone that is not the only signal', () => {
    expect(stateLabel('running')).toBe('Running');
    expect(stateLabel('exited')).toBe('Stopped');
    expect(stateLabel('missing')).toBe('Not there');
    expect(stateTone('running')).toBe('ok');
    expect(stateTone('dead')).toBe('bad');
    expect(stateTone('restarting')).toBe('warn');
  });
  it('has no health words without a health check', () => {
    expect(healthLabel(null)).toBeNull();
    expect(healthLabel(undefined)).toBeNull();
    expect(healthLabel('starting')).toBe('Starting up');
    expect(healthLabel('unhealthy')).toBe('Unhealthy');
  });
});

describe('figures', () => {
  it('formats uptime, none while stopped', () => {
    expect(formatUptime(null)).toBeNull();
    expect(formatUptime(59)).toBe('59 seconds');
    expect(formatUptime(3 * 3600 + 4 * 60 + 5)).toBe('3 hours, 4 minutes');
    expect(formatUptime(-1)).toBeNull();
  });
  it('formats CPU as a share of one core', () => {
    expect(formatCpu(null)).toBeNull();
    expect(formatCpu(0)).toBe('0%');
    expect(formatCpu(0.42)).toBe('0.4%');
    expect(formatCpu(12.6)).toBe('13%');
    expect(formatCpu(150)).toBe('150% (1.5 cores)');
    expect(formatCpu(Number.NaN)).toBeNull();
  });
  it('formats memory in decimal units', () => {
    expect(formatMemory(undefined)).toBeNull();
    expect(formatMemory(512)).toBe('512 bytes');
    expect(formatMemory(734_003_200)).toBe('734 MB');
    expect(formatMemory(1_500_000_000)).toBe('1.5 GB');
  });
  it('says how a stopped service ended, out of memory first', () => {
    expect(exitSummary(svc())).toBeNull();
    expect(exitSummary(svc({ state: 'exited', exit_code: 0 }))).toBe('Exited normally (code 0)');
    expect(exitSummary(svc({ state: 'exited', exit_code: 1 }))).toBe('Exited with code 1');
    expect(exitSummary(svc({ state: 'exited', exit_code: 137, oom_killed: true }))).toBe('Killed for lack of memory (exit code 137)');
    expect(exitSummary(svc({ state: 'missing', exit_code: 3 }))).toBeNull();
  });
  it('counts restarts in words', () => {
    expect(restartsLabel(0)).toBeNull();
    expect(restartsLabel(1)).toBe('Restarted once by itself');
    expect(restartsLabel(4)).toBe('Restarted 4 times by itself');
  });
  it('says drift as changed by hand', () => {
    expect(driftLabel(null)).toBeNull();
    expect(driftLabel('  ')).toBeNull();
    expect(driftLabel('removed')).toBe('Changed by hand: removed');
  });
});

describe('actions', () => {
  it('offers what fits the state', () => {
    expect(actionsFor('running')).toEqual(['restart', 'stop']);
    expect(actionsFor('exited')).toEqual(['start']);
    expect(actionsFor('created')).toEqual(['start']);
    expect(actionsFor('missing')).toEqual([]);
  });
  it('asks before stop and restart, saying Immich is unavailable meanwhile', () => {
    expect(needsConfirm('start')).toBe(false);
    expect(needsConfirm('stop')).toBe(true);
    expect(needsConfirm('restart')).toBe(true);
    const t = confirmText('database', 'stop');
    expect(t.title).toBe('Stop the database?');
    expect(t.body).toContain('Immich is unavailable');
    expect(confirmText('machine_learning', 'restart').body).toContain('smart search and face recognition are unavailable');
    expect(confirmText('server', 'restart').body).toContain('Immich is unavailable');
  });
});

describe('summary', () => {
  it('puts the engine first, then installed, healthy and what is down', () => {
    expect(stackHeadline(status({ engine_error: 'no socket' })).tone).toBe('bad');
    expect(stackHeadline(status({ installed: false, healthy: false })).label).toBe('Not installed');
    expect(stackHeadline(status()).label).toBe('Healthy');
    expect(stackHeadline(status({ healthy: false, services: [svc({ state: 'exited' }), svc()] })).label).toBe('One service is not running');
    expect(stackHeadline(status({ healthy: false, services: [svc({ health: 'starting' })] })).label).toBe('Not healthy yet');
  });
  it('orders services as the stack starts them', () => {
    const s = ordered([svc({ service: 'server' }), svc({ service: 'redis' }), svc({ service: 'database' }), svc({ service: 'machine_learning' })]);
    expect(s.map((v) => v.service)).toEqual(['database', 'redis', 'machine_learning', 'server']);
  });
});
