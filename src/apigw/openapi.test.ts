// The committed docs/openapi.json is what the code generates (drift check), and it is a structurally
// valid OpenAPI 3 document. Regenerate with: tpipe openapi --out docs/openapi.json
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { Ajv } from 'ajv'
import { describe, expect, it } from 'vitest'
import { ERRORS, errorBody } from '../errors.js'
import { generateOpenApi } from './app.js'

type Obj = Record<string, unknown>
const COMMITTED = join(process.cwd(), 'docs', 'openapi.json')

function refs(node: unknown, out: string[] = []): string[] {
  if (Array.isArray(node)) node.forEach((n) => refs(n, out))
  else if (node && typeof node === 'object') {
    for (const [k, v] of Object.entries(node)) {
      if (k === '$ref' && typeof v === 'string') out.push(v)
      else refs(v, out)
    }
  }
  return out
}

describe('OpenAPI document', () => {
  it('matches the committed docs/openapi.json (run `tpipe openapi --out docs/openapi.json` after changing routes or error codes)', async () => {
    const spec = await generateOpenApi()
    expect(JSON.stringify(spec, null, 2) + '\n').toBe(readFileSync(COMMITTED, 'utf8'))
  })

  it('is a structurally valid OpenAPI 3 document with the error schema on every error answer', async () => {
    const spec = (await generateOpenApi()) as Obj & { paths: Record<string, Record<string, Obj>>; components: { schemas: Record<string, Obj> } }
    expect(spec.openapi).toMatch(/^3\.\d+\.\d+$/)
    expect(spec.info).toMatchObject({ title: expect.any(String), version: expect.any(String) })
    expect(Object.keys(spec.paths).sort()).toEqual(['/api/v1/gpus', '/api/v1/gpus/{id}/telemetry', '/api/v1/telemetry'])

    for (const [path, item] of Object.entries(spec.paths)) {
      const templated = [...path.matchAll(/\{(\w+)\}/g)].map((m) => m[1])
      for (const [method, op] of Object.entries(item)) {
        expect(['get', 'post', 'put', 'patch', 'delete']).toContain(method)
        const params = (op.parameters ?? []) as { name: string; in: string; required?: boolean; schema?: unknown }[]
        for (const p of params) {
          expect(['query', 'path', 'header', 'cookie']).toContain(p.in)
          expect(p.schema).toBeDefined()
        }
        for (const name of templated) expect(params).toContainEqual(expect.objectContaining({ name, in: 'path', required: true }))
        const responses = op.responses as Record<string, { description?: string; content?: Record<string, { schema?: Obj }> }>
        expect(Object.keys(responses).length).toBeGreaterThan(0)
        for (const [status, res] of Object.entries(responses)) {
          expect(status).toMatch(/^[1-5]\d\d$/)
          expect(typeof res.description).toBe('string')
          const schema = res.content?.['application/json']?.schema
          expect(schema).toBeDefined()
          if (Number(status) >= 400) expect(schema).toEqual({ $ref: '#/components/schemas/ErrorBody' })
        }
      }
    }
    // The telemetry operation documents its 400 and 404 answers.
    expect(Object.keys(spec.paths['/api/v1/gpus/{id}/telemetry']!.get!.responses as Obj)).toEqual(expect.arrayContaining(['200', '400', '404', '503']))

    // Every $ref points at a component that exists.
    for (const r of refs(spec)) {
      expect(r).toMatch(/^#\/components\/schemas\//)
      expect(spec.components.schemas[r.split('/').pop()!]).toBeDefined()
    }

    // The component schemas are valid JSON Schema and describe what the API really sends.
    const ajv = new Ajv({ strict: false, logger: false })
    for (const [name, schema] of Object.entries(spec.components.schemas)) ajv.addSchema(schema, `#/components/schemas/${name}`)
    const errorSchema = ajv.getSchema('#/components/schemas/ErrorBody')!
    expect(errorSchema(errorBody('TPIPE_ERR_GPU_NOT_FOUND', 'no telemetry for GPU x'))).toBe(true)
    expect(errorSchema({ error: { code: 'NOPE', message: 'x' } })).toBe(false)
    expect((spec.components.schemas.ErrorBody as { properties: { error: { properties: { code: { enum: string[] } } } } }).properties.error.properties.code.enum).toEqual(Object.keys(ERRORS))
    // Every success answer shows an example, and each example is valid against its own schema.
    for (const [path, item] of Object.entries(spec.paths)) {
      const ok = (item.get!.responses as Record<string, { content: Record<string, { schema: Obj; example?: unknown; examples?: Record<string, { value: unknown }> }> }>)['200']!
      const media = ok.content['application/json']!
      const examples = media.examples ? Object.values(media.examples).map((e) => e.value) : [media.example]
      expect(examples.length, path).toBeGreaterThan(0)
      const validate = ajv.compile({ ...JSON.parse(JSON.stringify(media.schema).replace(/"#\/components\/schemas\/(\w+)"/g, '"#/components/schemas/$1"')) })
      for (const ex of examples) {
        expect(ex, path).toBeDefined()
        expect(validate(ex), `${path}: ${JSON.stringify(validate.errors)}`).toBe(true)
      }
    }
    const row = ajv.getSchema('#/components/schemas/TelemetryRow')!
    expect(row({ ts: '2026-01-01T00:00:00.000000Z', metric_name: 'DCGM_FI_DEV_GPU_UTIL', value: 1, msg_uuid: '0190b5f2-6b1e-7c3a-8d4e-5f6a7b8c9d0e', labels: null })).toBe(true)
  })

  it('names every operation, lists path parameters first, shows examples, and carries the package version', async () => {
    const spec = (await generateOpenApi()) as Obj & { info: { version: string }; paths: Record<string, Record<string, Obj>> }
    expect(spec.info.version).toBe((JSON.parse(readFileSync(join(process.cwd(), 'package.json'), 'utf8')) as { version: string }).version)
    const ids: string[] = []
    for (const [path, item] of Object.entries(spec.paths)) {
      for (const op of Object.values(item)) {
        expect(op.operationId, path).toMatch(/^[a-z][A-Za-z]+$/)
        ids.push(op.operationId as string)
        const params = (op.parameters ?? []) as { in: string; name: string; example?: unknown; schema: { enum?: unknown; type?: string } }[]
        const firstQuery = params.findIndex((p) => p.in !== 'path')
        const lastPath = params.map((p) => p.in).lastIndexOf('path')
        if (lastPath >= 0) expect(lastPath, `${path}: path parameters come first`).toBeLessThan(firstQuery)
        // Free-form text parameters show an example (enums, numbers, booleans and the opaque cursor explain themselves).
        for (const p of params) {
          if (p.schema.type === 'string' && !p.schema.enum && !['cursor', 'start_time', 'end_time'].includes(p.name)) expect(p.example, `${path} ${p.name}`).toBeDefined()
        }
        for (const [status, res] of Object.entries(op.responses as Record<string, { content: Record<string, { example?: unknown }> }>)) {
          if (Number(status) >= 400) expect(res.content['application/json']!.example, `${path} ${status}`).toMatchObject({ error: { code: expect.stringMatching(/^TPIPE_ERR_/) } })
        }
      }
    }
    expect(new Set(ids).size).toBe(ids.length)
    expect(ids.sort()).toEqual(['getFleetTelemetry', 'getGpuTelemetry', 'listGpus'])
  })
})
