import { describe, expect, it } from 'vitest'
import { layout } from '../partitions/index.js'
import { formatAssignmentDoc, parseAssignmentDoc, parsePartitionList, readerAssignment } from './assignment.js'

/** What the reader's file and ConfigMap sources do with a document: this reader's part of it. */
const parseAssignmentFile = (text: string, readerName: string) => readerAssignment(parseAssignmentDoc(text), readerName)

describe('assignment document as a reader reads it', () => {
  const doc = { generation: 3, replicas: 2, assignments: { 'mqreader-0': '0-127', 'mqreader-1': '128-255' } }

  it('finds this reader’s entry in the controller’s JSON', () => {
    expect(parseAssignmentFile(JSON.stringify(doc), 'mqreader-1')).toEqual({
      generation: 3,
      partitions: Array.from({ length: 128 }, (_, i) => 128 + i),
    })
  })

  it('reads YAML too, and arrays of partitions', () => {
    const text = 'generation: 7\nassignments:\n  mqreader-0: [5, 1, 3]\n  mqreader-1: "0"\n'
    expect(parseAssignmentFile(text, 'mqreader-0')).toEqual({ generation: 7, partitions: [1, 3, 5] })
    expect(parseAssignmentFile(text, 'mqreader-1')).toEqual({ generation: 7, partitions: [0] })
  })

  it('says "no entry" (partitions null) when the reader is not listed', () => {
    expect(parseAssignmentFile(JSON.stringify(doc), 'mqreader-9')).toEqual({ generation: 3, partitions: null })
    expect(parseAssignmentFile('{"generation": 0}', 'x')).toEqual({ generation: 0, partitions: null })
  })

  it('an empty range string is an entry with no partitions', () => {
    expect(parseAssignmentFile('{"generation": 1, "assignments": {"a": ""}}', 'a')).toEqual({ generation: 1, partitions: [] })
  })

  it.each([
    ['{broken', /not JSON or YAML/],
    ['[1,2]', /must hold an object/],
    ['{"assignments": {}}', /generation/],
    ['{"generation": -1}', /generation/],
    ['{"generation": 1.5}', /generation/],
    ['{"generation": 1, "assignments": []}', /assignments must be an object/],
    ['{"generation": 1, "assignments": {"a": "0-300"}}', /entry a: bad partition range/],
    ['{"generation": 1, "assignments": {"a": [1, "x"]}}', /entry a: bad partition/],
    ['{"generation": 1, "assignments": {"a": 5}}', /entry a: partitions must be/],
  ])('rejects %s', (text, re) => {
    expect(() => parseAssignmentFile(text, 'a')).toThrow(re)
  })
})

describe('assignment document as the controller writes it', () => {
  it('round-trips through the ConfigMap text and rejects bad documents', () => {
    const d = { generation: 7, replicas: 3, assignments: Object.fromEntries(layout(3).map((r, i) => [`mqreader-${i}`, `${r.start}-${r.end}`])) }
    expect(parseAssignmentDoc(formatAssignmentDoc(d))).toEqual(d)
    expect(() => parseAssignmentDoc('{')).toThrow(/not JSON/)
    expect(() => parseAssignmentDoc('{"generation": -1, "replicas": 1, "assignments": {}}')).toThrow(/generation/)
    expect(() => parseAssignmentDoc('{"generation": 1, "replicas": 1, "assignments": {"mqreader-0": "0-300"}}')).toThrow(/0-255/)
    expect(() => parseAssignmentDoc('{"generation": 1, "replicas": -2}')).toThrow(/replicas/)
  })

  it('a reader gets its own partitions or null', () => {
    const d = { generation: 2, replicas: 2, assignments: { 'mqreader-0': '0-1', 'mqreader-1': '2-255' } }
    expect(readerAssignment(d, 'mqreader-0')).toEqual({ generation: 2, partitions: [0, 1] })
    expect(readerAssignment(d, 'mqreader-5')).toEqual({ generation: 2, partitions: null })
  })

  it('normalises array entries to range strings and counts replicas when left out', () => {
    expect(parseAssignmentDoc('generation: 4\nassignments:\n  a: [3, 1, 2]\n  b: "7"\n')).toEqual({ generation: 4, replicas: 2, assignments: { a: '1-3', b: '7' } })
  })
})

describe('parsePartitionList', () => {
  it('accepts range strings and integer arrays, sorted and de-duplicated', () => {
    expect(parsePartitionList('0-2,5')).toEqual([0, 1, 2, 5])
    expect(parsePartitionList([9, 2, 2, 0])).toEqual([0, 2, 9])
  })
  it('rejects out-of-range and non-integers', () => {
    expect(() => parsePartitionList([256])).toThrow(/0-255/)
    expect(() => parsePartitionList([1.5])).toThrow()
    expect(() => parsePartitionList({})).toThrow()
  })
})
