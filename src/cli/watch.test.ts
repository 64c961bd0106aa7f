import { PassThrough } from 'node:stream'
import { describe, expect, it } from 'vitest'
import { cut, frameText, watch } from './watch.js'

describe('watch', () => {
  it('draws each frame from the top, lines cut to the width and cleared, the rest of the screen cleared', () => {
    const f = frameText('head', 'a very long line\nb', 6, 10)
    expect(f).toBe('\x1b[Hhead\x1b[K\n\x1b[K\na very\x1b[K\nb\x1b[K\n\x1b[J')
    expect(frameText('h', '1\n2\n3\n4', 10, 4).split('\n').length).toBe(4) // never scrolls: rows - 1 lines + the clear
  })

  it('does not count colour escapes as width', () => {
    expect(cut('\x1b[36mabcdef\x1b[0m', 3)).toBe('\x1b[36mabc')
  })

  it('renders again every interval, keeps going when a render fails, and prints frames in turn without a terminal', async () => {
    const out = new PassThrough() as unknown as NodeJS.WriteStream
    let text = ''
    ;(out as unknown as PassThrough).on('data', (b: Buffer) => (text += b.toString()))
    let n = 0
    const frames = await watch(
      async () => {
        n++
        if (n === 2) throw new Error('cannot reach apigw')
        return `frame ${n}`
      },
      { intervalMs: 10, out, iterations: 3, now: () => new Date('2026-11-30T08:00:00Z') },
    )
    expect(frames).toBe(3)
    expect(text).toBe(
      'every 0.01 s · 2026-11-30T08:00:00Z\n\nframe 1\n\n' + 'every 0.01 s · 2026-11-30T08:00:00Z\n\ncannot reach apigw\n\nretrying every 0.01 s…\n\n' + 'every 0.01 s · 2026-11-30T08:00:00Z\n\nframe 3\n\n',
    )
  })
})
