// Request bodies for the load generator and the SQL ceilings: telemetry-shaped messages over 247 GPU keys.
const GPU_KEYS = Array.from({ length: 247 }, (_, i) => `GPU-${i.toString(16).padStart(8, '0')}-86f3-7a43-b711-4771313afc50`)

export function message(i: number) {
  return {
    key: GPU_KEYS[i % GPU_KEYS.length]!,
    payload: {
      ts: new Date().toISOString(),
      metric_name: 'DCGM_FI_DEV_GPU_UTIL',
      gpu_id: i % 8,
      device: `nvidia${i % 8}`,
      gpu_uuid: GPU_KEYS[i % GPU_KEYS.length]!,
      model_name: 'NVIDIA H100 80GB HBM3',
      hostname: 'mtv5-dgx1-hgpu-031',
      container: null,
      pod: null,
      namespace: null,
      value: i % 100,
      labels: { DCGM_FI_DRIVER_VERSION: '535.129.03', instance: 'mtv5-dgx1-hgpu-031:9400' },
    },
  }
}

export function bodyFor(mode: string, i: number): string {
  if (mode === 'single' || mode === 'hello') return JSON.stringify(message(i))
  const n = Number(mode.split(':')[1] ?? 100)
  return JSON.stringify(Array.from({ length: n }, (_, k) => message(i * n + k)))
}

