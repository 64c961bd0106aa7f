// The lease answer is spliced text for speed; these tests hold it to the one LeaseAnswer definition.
import { Value } from '@sinclair/typebox/value'
import { describe, expect, it } from 'vitest'
import './formats.js'
import { LeaseAnswer, ackRequestSchema, leaseRequestSchema, renderLease, renderMessageHead, type MessageSource } from './lease.js'

const source = (i: number, key: string, payloadJson: string): MessageSource => ({
  msg_uuid: `0190f0e0-0000-7000-8000-${String(i).padStart(12, '0')}`,
  key,
  partition: i % 256,
  payloadJson,
  enqueued_at: '2026-11-30T07:00:00.123456Z',
})

// Payload texts as PostgreSQL returns jsonb::text, and keys a producer may send.
const ODD: [string, string][] = [
  ['GPU-plain', '{"value": 1, "metric_name": "DCGM_FI_DEV_GPU_UTIL"}'],
  ['quote " backslash \\ slash /', '{"s": "quote \\" backslash \\\\ newline \\n tab \\t"}'],
  ['unicode é 日本 🚀', '{"ü": "日本語", "emoji": "🚀", "escaped": "\\u0000\\u001f"}'],
  ['control \u0001\u001f\n', '{}'],
  ['k', '[]'],
  ['k', '"just a string"'],
  ['k', '123456789012345678901234567890'],
  ['k', '-1.5e-300'],
  ['k', 'null'],
  ['k', 'true'],
  ['k', '{"deep": {"a": [1, [2, [3, {"b": null}]]]}}'],
  ['k', `{"big": "${'z'.repeat(100_000)}"}`],
  ['\u2028\u2029 line separators', '{"ls": "\u2028\u2029"}'],
]

describe('lease answer rendering', () => {
  it('renders answers the LeaseAnswer schema accepts, each message equal to its source, for odd keys and payloads', () => {
    const msgs = ODD.map(([key, payload], i) => ({ ...renderMessageHead(source(i, key, payload)), deliveries: 1 + (i % 3) }))
    const text = renderLease({ id: 'd5f1c3a0-0000-4000-8000-000000000001', expiresAt: Date.UTC(2026, 10, 30, 8), msgs })
    const answer = JSON.parse(text.toString()) as unknown
    expect([...Value.Errors(LeaseAnswer, answer)]).toEqual([])
    const parsed = answer as LeaseAnswer
    expect(parsed.expires_at).toBe('2026-11-30T08:00:00.000Z')
    parsed.messages.forEach((m, i) => {
      const [key, payload] = ODD[i]!
      const src = source(i, key, payload)
      expect(m).toEqual({ msg_uuid: src.msg_uuid, key, partition: src.partition, payload: JSON.parse(payload), enqueued_at: src.enqueued_at, delivery_count: 1 + (i % 3) })
      // Field order is the schema's: the renderer appends delivery_count last.
      expect(Object.keys(m)).toEqual(Object.keys(LeaseAnswer.properties.messages.items.properties))
    })
  })

  it('counts the bytes a rendered message takes (UTF-8), the count up to 10 digits included', () => {
    for (const [i, [key, payload]] of ODD.entries()) {
      const { head, bytes } = renderMessageHead(source(i, key, payload))
      const rendered = head.length + 2
      expect(bytes).toBeGreaterThanOrEqual(rendered)
      expect(bytes).toBeLessThanOrEqual(rendered + 9)
    }
  })

  it('the empty answer matches the schema too', () => {
    const empty = JSON.parse(renderLease(null).toString()) as unknown
    expect(Value.Check(LeaseAnswer, empty)).toBe(true)
    expect(empty).toEqual({ lease_id: null, expires_at: null, messages: [] })
  })
})

describe('lease and ack request schemas', () => {
  const lease = leaseRequestSchema({ leaseMax: 100, maxWaitMs: 1000 })
  const ack = ackRequestSchema({ leaseMax: 2 })
  it.each([
    [{ max: 1 }, true],
    [{ max: 100, visibility_timeout_ms: 100, wait_ms: 1000 }, true],
    [{ max: 101 }, false],
    [{ max: 0 }, false],
    [{ max: 1, wait_ms: 1001 }, false],
    [{ max: 1, extra: true }, false],
    [{}, false],
  ])('lease %j → %s', (body, ok) => expect(Value.Check(lease, body)).toBe(ok))
  it.each([
    [{ lease_id: 'x' }, true],
    [{ lease_id: 'x', msg_uuids: ['0190f0e0-0000-7000-8000-000000000001'] }, true],
    [{ lease_id: 'x', msg_uuids: ['not-a-uuid'] }, false],
    [{ lease_id: 'x', msg_uuids: ['0190f0e0-0000-7000-8000-000000000001', '0190f0e0-0000-7000-8000-000000000002', '0190f0e0-0000-7000-8000-000000000003'] }, false],
    [{ lease_id: '' }, false],
    [{}, false],
  ])('ack %j → %s', (body, ok) => expect(Value.Check(ack, body)).toBe(ok))
})
