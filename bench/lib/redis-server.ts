// A real, throwaway redis-server for the tests (test/redis-server.ts) and the benches: a free loopback port,
// no RDB snapshots, no AOF, its own temp dir, killed with the process that started it. `stop()` kills it
// like a crash (all data lost) and `restart()` starts a fresh, empty one on the same port, which is how the
// resilience tests take Redis away from running drivers and give it back; `pid` is for the benches, which
// charge Redis's CPU time to the messages that crossed it.
//
// `startRedisCluster()` starts a real Redis Cluster the same way (one redis-server per node with
// `--cluster-enabled yes`, joined by `redis-cli --cluster create`), with what the failover tests need:
// the live topology, killing or restarting a node, and a manual failover.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sleep } from './phases.js';
import { freePort, stopChild } from './processes.js';

export const REDIS_SERVER = process.env.REDIS_SERVER ?? '/usr/bin/redis-server';
/** Creates clusters and asks nodes how they are (Debian's redis-tools). */
export const REDIS_CLI = process.env.REDIS_CLI ?? '/usr/bin/redis-cli';

export interface RedisServer {
  readonly url: string;
  readonly port: number;
  /** The running server's pid (a new one after `restart()`). */
  readonly pid: number;
  /** Kills the server (SIGKILL) and waits for it to exit. Idempotent. */
  stop(): Promise<void>;
  /** Starts a fresh server (empty) on the same port; stops the running one first. */
  restart(): Promise<void>;
}

// Servers and their dirs still there when the process exits (a test that failed before its cleanup, a
// bench stopped by Ctrl-C) go with it.
const running = new Set<ChildProcess>();
const dirs = new Set<string>();
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

/** One PING over a raw socket: true on +PONG. */
function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    let reply = '';
    const finish = (ok: boolean) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => finish(false), 500);
    socket.on('connect', () => socket.write('PING\r\n'));
    socket.on('data', (chunk: Buffer) => {
      reply += chunk.toString();
      if (reply.includes('\r\n')) finish(reply.startsWith('+PONG'));
    });
    socket.on('error', () => finish(false));
  });
}

/** redis-server on `port`, resolved once it answers PING. */
async function launch(port: number, dir: string, extra: readonly string[] = []): Promise<ChildProcess> {
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, ...extra];
  const child = spawn(REDIS_SERVER, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  running.add(child);
  child.once('exit', () => running.delete(child));
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  // Bounded: 200 x 50 ms. A loaded machine may take a while to fork; a failed start exits early.
  for (let i = 0; i < 200; i++) {
    if (child.exitCode !== null || child.signalCode !== null)
      throw new Error(`redis-server exited on start (port ${port}): ${stderr.trim()}`);
    if (await ping(port)) return child;
    await sleep(50);
  }
  await stopChild(child, 0);
  throw new Error(`redis-server did not answer PING on port ${port}${stderr.trim() === '' ? '' : `: ${stderr.trim().slice(0, 300)}`}`);
}

function freshDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'chatpulse-redis-'));
  dirs.add(dir);
  return dir;
}

function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
  dirs.delete(dir);
}

export async function startRedisServer(): Promise<RedisServer> {
  if (!existsSync(REDIS_SERVER)) throw new Error(`${REDIS_SERVER} not found (set REDIS_SERVER to a redis-server binary)`);
  let dir = freshDir();
  let port = await freePort();
  let child: ChildProcess | null = null;
  // The port can be taken between probing and binding: a few others are tried before giving up.
  for (let attempt = 1; child === null; attempt++) {
    try {
      child = await launch(port, dir);
    } catch (err) {
      if (attempt === 3) {
        removeDir(dir);
        throw err;
      }
      port = await freePort();
    }
  }
  let pid = child.pid ?? 0;

  const kill = async (): Promise<void> => {
    const proc = child;
    child = null;
    if (proc !== null) await stopChild(proc, 0);
  };

  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    get pid() {
      return pid;
    },
    async stop() {
      await kill();
      removeDir(dir);
    },
    async restart() {
      await kill();
      removeDir(dir);
      dir = freshDir();
      child = await launch(port, dir);
      pid = child.pid ?? 0;
    },
  };
}

// ---------------------------------------------------------------------------------------------------------
// Redis Cluster

export interface RedisClusterOptions {
  /** Masters (each serves an equal share of the 16384 slots); 3 is the smallest cluster redis-cli creates. */
  masters?: number;
  /** Replicas per master (failover needs at least 1). */
  replicasPerMaster?: number;
  /** `cluster-node-timeout`: how long a silent master takes to be judged failed (and its replica promoted). */
  nodeTimeoutMs?: number;
}

export interface RedisClusterNode {
  /** `127.0.0.1:<port>`, as clients and `CLUSTER NODES` spell it. */
  readonly address: string;
  readonly id: string;
  readonly role: 'master' | 'replica';
  /** The master a replica follows; null for a master. */
  readonly masterId: string | null;
  /** Slot ranges a master serves, inclusive. */
  readonly slots: ReadonlyArray<readonly [number, number]>;
  /** Flagged `fail` (or `fail?`) by the node that was asked. */
  readonly failing: boolean;
}

export interface RedisCluster {
  /** Every node started, as `host:port`: the seed nodes for a client (REDIS_CLUSTER_NODES). */
  readonly nodes: readonly string[];
  /** Roles and slots as a running node sees them now. */
  topology(): Promise<RedisClusterNode[]>;
  /** The running server's pid of a node (0 while it is killed). */
  pid(address: string): number;
  /** Kills one node (SIGKILL, like a crash); its cluster config file stays for `restart`. */
  kill(address: string): Promise<void>;
  /** Starts a killed node again on its port with its cluster identity, but empty (no persistence). */
  restart(address: string): Promise<void>;
  /** `CLUSTER FAILOVER [mode]` on a replica; resolves once every running node sees it as a master and the cluster is ok. */
  failover(replica: string, mode?: 'FORCE' | 'TAKEOVER'): Promise<void>;
  /** Resolves once every running node reports `cluster_state:ok`, all slots served, and they agree on who serves them. */
  waitHealthy(timeoutMs?: number): Promise<void>;
  /** FLUSHALL on every running master (as the cluster sees them now, not as a client may still believe). */
  flushAll(): Promise<void>;
  /** Kills every node and removes their directories. Idempotent. */
  stop(): Promise<void>;
}

/** One redis-cli call against `port`; its stdout. */
function cli(port: number, args: readonly string[], timeoutMs = 10_000): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(REDIS_CLI, ['-h', '127.0.0.1', '-p', String(port), ...args], { timeout: timeoutMs }, (err, stdout, stderr) => {
      if (err) reject(new Error(`redis-cli -p ${port} ${args.join(' ')}: ${err.message} ${stderr.trim()}`));
      else resolve(stdout);
    });
  });
}

/** `CLUSTER NODES` output as records. */
export function parseClusterNodes(text: string): RedisClusterNode[] {
  const out: RedisClusterNode[] = [];
  for (const line of text.split('\n')) {
    const f = line.trim().split(' ');
    if (f.length < 8) continue;
    const [id, addr, flags, master] = f as [string, string, string, string];
    const flagSet = new Set(flags.split(','));
    const slots: Array<[number, number]> = [];
    for (const s of f.slice(8)) {
      if (s.startsWith('[')) continue; // a slot being migrated or imported
      const [a, b] = s.split('-');
      slots.push([Number(a), Number(b ?? a)]);
    }
    out.push({
      address: addr.split('@')[0] as string,
      id,
      role: flagSet.has('master') ? 'master' : 'replica',
      masterId: master === '-' ? null : master,
      slots,
      failing: flagSet.has('fail') || flagSet.has('fail?'),
    });
  }
  return out;
}

const infoField = (info: string, field: string): string | undefined =>
  info
    .split(/\r?\n/)
    .find((l) => l.startsWith(`${field}:`))
    ?.slice(field.length + 1)
    .trim();

interface ClusterMember {
  port: number;
  busPort: number;
  dir: string;
  child: ChildProcess | null;
}

export async function startRedisCluster(options: RedisClusterOptions = {}): Promise<RedisCluster> {
  const masters = options.masters ?? 3;
  const replicas = options.replicasPerMaster ?? 0;
  const nodeTimeoutMs = options.nodeTimeoutMs ?? 5_000;
  if (masters < 3) throw new Error('redis-cli --cluster create needs at least 3 masters');
  if (!existsSync(REDIS_SERVER)) throw new Error(`${REDIS_SERVER} not found (set REDIS_SERVER to a redis-server binary)`);
  if (!existsSync(REDIS_CLI)) throw new Error(`${REDIS_CLI} not found (install redis-tools, or set REDIS_CLI)`);

  const clusterArgs = (m: ClusterMember) => [
    '--cluster-enabled',
    'yes',
    '--cluster-config-file',
    'nodes.conf',
    // Ephemeral ports are high: the default bus port (port + 10000) may not exist.
    '--cluster-port',
    String(m.busPort),
    '--cluster-node-timeout',
    String(nodeTimeoutMs),
    // A replica may always take over, however long it was out of touch (tests kill masters on purpose).
    '--cluster-replica-validity-factor',
    '0',
  ];

  const members = new Map<string, ClusterMember>();
  const start = async (m: ClusterMember) => {
    m.child = await launch(m.port, m.dir, clusterArgs(m));
  };
  const stopAll = async () => {
    await Promise.all(
      [...members.values()].map(async (m) => {
        const child = m.child;
        m.child = null;
        if (child) await stopChild(child, 0);
        removeDir(m.dir);
      }),
    );
  };

  try {
    for (let i = 0; i < masters * (1 + replicas); i++) {
      for (let attempt = 1; ; attempt++) {
        const m: ClusterMember = { port: await freePort(), busPort: await freePort(), dir: freshDir(), child: null };
        try {
          await start(m);
          members.set(`127.0.0.1:${m.port}`, m);
          break;
        } catch (err) {
          removeDir(m.dir);
          if (attempt === 3) throw err;
        }
      }
    }
    const addresses = [...members.keys()];
    await cli(
      members.values().next().value!.port,
      ['--cluster', 'create', ...addresses, '--cluster-replicas', String(replicas), '--cluster-yes'],
      60_000,
    );
  } catch (err) {
    await stopAll();
    throw err;
  }

  const running = () => [...members.entries()].filter(([, m]) => m.child !== null);
  const member = (address: string): ClusterMember => {
    const m = members.get(address);
    if (!m) throw new Error(`${address} is not a node of this cluster`);
    return m;
  };

  const topology = async (): Promise<RedisClusterNode[]> => {
    let last: unknown;
    for (const [, m] of running()) {
      try {
        return parseClusterNodes(await cli(m.port, ['CLUSTER', 'NODES']));
      } catch (err) {
        last = err;
      }
    }
    throw new Error(`no cluster node answers: ${String(last)}`);
  };

  /** Null when this running node is content, else what it is still waiting for. */
  const notHealthy = async (address: string, m: ClusterMember): Promise<string | null> => {
    const info = await cli(m.port, ['CLUSTER', 'INFO']);
    if (infoField(info, 'cluster_state') !== 'ok') return `${address}: cluster_state ${infoField(info, 'cluster_state')}`;
    if (infoField(info, 'cluster_slots_ok') !== '16384') return `${address}: ${infoField(info, 'cluster_slots_ok')} slots ok`;
    const view = parseClusterNodes(await cli(m.port, ['CLUSTER', 'NODES']));
    const me = view.find((n) => n.address === address);
    // A master that lost its slots (failed over) turns into a replica of the new master a moment later.
    if (me?.role === 'master' && me.slots.length === 0) return `${address}: a master without slots`;
    if (me?.role === 'replica') {
      const master = view.find((n) => n.id === me.masterId);
      if (master && members.get(master.address)?.child) {
        const repl = await cli(m.port, ['INFO', 'replication']);
        if (infoField(repl, 'master_link_status') !== 'up') return `${address}: replica link down`;
      }
    }
    return null;
  };

  /** Who serves which slots, as one node sees it (to compare the views of all nodes). */
  const slotOwners = async (m: ClusterMember): Promise<string> =>
    JSON.stringify(
      parseClusterNodes(await cli(m.port, ['CLUSTER', 'NODES']))
        .filter((n) => n.role === 'master' && n.slots.length > 0)
        .map((n) => `${n.address}=${n.slots.map(([a, b]) => `${a}-${b}`).join(',')}`)
        .sort(),
    );

  const waitHealthy = async (timeoutMs = 30_000): Promise<void> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      let why: string;
      try {
        const live = running();
        const problems = (await Promise.all(live.map(([a, m]) => notHealthy(a, m)))).filter((p) => p !== null);
        const views = new Set(await Promise.all(live.map(([, m]) => slotOwners(m))));
        if (problems.length === 0 && views.size === 1) return;
        why = problems[0] ?? 'nodes disagree on who serves which slots';
      } catch (err) {
        why = err instanceof Error ? err.message : String(err);
      }
      if (Date.now() > deadline) throw new Error(`redis cluster not healthy after ${timeoutMs} ms: ${why}`);
      await sleep(100);
    }
  };

  try {
    await waitHealthy(60_000);
  } catch (err) {
    await stopAll();
    throw err;
  }

  return {
    nodes: [...members.keys()],
    topology,
    pid: (address) => member(address).child?.pid ?? 0,
    async kill(address) {
      const m = member(address);
      const child = m.child;
      m.child = null;
      if (child) await stopChild(child, 0);
    },
    async restart(address) {
      const m = member(address);
      if (m.child) throw new Error(`${address} is running`);
      await start(m);
    },
    async failover(replica, mode) {
      const m = member(replica);
      await cli(m.port, ['CLUSTER', 'FAILOVER', ...(mode ? [mode] : [])]);
      const deadline = Date.now() + 30_000;
      for (;;) {
        const views = await Promise.all(
          running().map(async ([, r]) => parseClusterNodes(await cli(r.port, ['CLUSTER', 'NODES'])).find((n) => n.address === replica)),
        );
        if (views.every((n) => n?.role === 'master')) break;
        if (Date.now() > deadline) throw new Error(`${replica} did not become a master`);
        await sleep(100);
      }
      await waitHealthy();
    },
    waitHealthy,
    async flushAll() {
      const live = (await topology()).filter((n) => n.role === 'master' && !n.failing && members.get(n.address)?.child);
      await Promise.all(live.map((n) => cli(member(n.address).port, ['FLUSHALL'])));
    },
    stop: stopAll,
  };
}
