// The kube layer: everything that talks to the Kubernetes API through @kubernetes/client-node —
// cluster access (kubeconfig → context → namespace), API error helpers and request options, the robust
// watch of one named object, and bounded reads through the pod proxy. Used by the partition-controller,
// mqreader's assignment watch and the CLI's cluster commands (src/cluster/, commands/). Must not import a
// service, the CLI or src/cluster/; user-facing wording (what to run next) lives in the CLI (src/cli/cluster.ts).
export * from './access.js'
export * from './api.js'
export * from './watch.js'
export * from './proxy.js'
