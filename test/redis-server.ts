// A real, throwaway redis-server for tests: free ephemeral port, no persistence, its own temp dir.
// `stop()` kills it (like a crash: all data is lost) and `restart()` starts a fresh one on the same port,
// which is how the resilience tests take Redis away from running drivers and give it back. The one
// starter the benches use too (bench:cluster reads its CPU time), kept in bench/lib/redis-server.ts.
export {
  REDIS_CLI,
  REDIS_SERVER,
  parseClusterNodes,
  startRedisCluster,
  startRedisServer,
  type RedisCluster,
  type RedisClusterNode,
  type RedisClusterOptions,
  type RedisServer,
} from '../bench/lib/redis-server.js';
