// A simulated fleet's remote_write series: dcgm-exporter's labels as Prometheus sends them (its instance and
// job added), nodes × 8 GPUs × 10 metrics. The benchmarks' sender (bench/rw-load.ts) and the tests that size
// mqwriter's series cache (src/remotewrite/decode.test.ts) send it.

const METRICS = [
  'DCGM_FI_DEV_GPU_UTIL',
  'DCGM_FI_DEV_MEM_COPY_UTIL',
  'DCGM_FI_DEV_GPU_TEMP',
  'DCGM_FI_DEV_POWER_USAGE',
  'DCGM_FI_DEV_SM_CLOCK',
  'DCGM_FI_DEV_MEM_CLOCK',
  'DCGM_FI_DEV_FB_FREE',
  'DCGM_FI_DEV_FB_USED',
  'DCGM_FI_DEV_ENC_UTIL',
  'DCGM_FI_DEV_DEC_UTIL',
]

export function fleet(nodes: number): { name: string; value: string }[][] {
  const out: { name: string; value: string }[][] = []
  for (let n = 0; n < nodes; n++) {
    for (let g = 0; g < 8; g++) {
      const uuid = `GPU-${n.toString(16).padStart(8, '0')}-0000-4000-8000-${g.toString(16).padStart(12, '0')}`
      for (const m of METRICS) {
        out.push([
          { name: '__name__', value: m },
          { name: 'DCGM_FI_DRIVER_VERSION', value: '535.129.03' },
          { name: 'Hostname', value: `bench-node-${n}` },
          { name: 'UUID', value: uuid },
          { name: 'device', value: `nvidia${g}` },
          { name: 'gpu', value: String(g) },
          { name: 'instance', value: `10.0.${n >> 8}.${n & 255}:9400` },
          { name: 'job', value: 'dcgm-exporter' },
          { name: 'modelName', value: 'NVIDIA H100 80GB HBM3' },
        ])
      }
    }
  }
  return out
}
