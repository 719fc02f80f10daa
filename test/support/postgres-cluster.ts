/** The throwaway cluster is product code (the sandbox uses it too): one copy, in src/sandbox/postgres-cluster.ts. */
export { findPostgresBinaries, freePort, startCluster, stopCluster, type ClusterHandle } from '../../src/sandbox/postgres-cluster.js';
